"""Dynamic resource allocation with the live scheduler and the real
resourceclaim controller (kube-controller-manager), on kwok nodes whose
devices the test publishes as a driver would (ResourceSlices).

We test these aspects:
- pods whose claims come from a ResourceClaimTemplate get devices that match
  the model and memory selectors, never one device for two pods, and the
  claims' ``status.allocation`` and ``status.reservedFor`` are written;
- a pod that cannot be served stays pending with upstream's message, and
  deleting the pod holding the device lets it run;
- a higher-priority pod preempts a lower-priority one for its device;
- bad input waits and recovers: a template the controller cannot expand yet
  (held back before any attempt, as upstream's PreEnqueue does), a claim
  naming a missing DeviceClass (upstream's message).

Each test uses its own namespace, nodes, driver and DeviceClass: the control
plane is shared by the whole session.
"""

from __future__ import annotations

import re
import urllib.request
from typing import Any

from py_scheduler.cluster import NotFound
from py_scheduler.kube.client import JSON, KubeClient
from py_scheduler.model.server import ServerInfo
from tests.builders_dra import raw_class, raw_device, raw_slice
from tests.integration.kube import (
    create_namespace,
    create_node,
    create_pod,
    dra_words,
    eventually,
    for_create,
    read_pod,
    unique,
)

RESOURCE = "/apis/resource.k8s.io/v1"
WITHIN = 60.0


class _Driver:
    """A fake DRA driver: its name, its DeviceClass, the nodes it publishes for."""

    def __init__(self, api: KubeClient, ns: str, group: str) -> None:
        self.api = api
        self.ns = ns
        self.group = group
        self.name = f"{unique('gpu')}.example.com"
        self.cls = unique("gpu-class")

    async def install_class(self) -> None:
        await self.api.post(
            f"{RESOURCE}/deviceclasses", for_create(raw_class(self.cls, driver=self.name))
        )

    async def publish(self, node: str, *devices: tuple[str, str]) -> None:
        """(model, memory) per device."""
        body = raw_slice(
            unique("slice"),
            node=node,
            pool=node,
            driver=self.name,
            devices=[
                raw_device(
                    f"gpu-{i}",
                    attributes={"model": model},
                    capacity={"memory": memory},
                )
                for i, (model, memory) in enumerate(devices)
            ],
        )
        await self.api.post(f"{RESOURCE}/resourceslices", for_create(body))

    def selectors(self, model: str, memory: str) -> list[dict[str, Any]]:
        return [
            {"cel": {"expression": f'device.attributes["{self.name}"].model == "{model}"'}},
            {
                "cel": {
                    "expression": f'device.capacity["{self.name}"].memory'
                    f'.compareTo(quantity("{memory}")) >= 0'
                }
            },
        ]

    async def template(
        self, name: str, model: str, memory: str = "1Gi", cls: str | None = None
    ) -> None:
        await self.api.post(
            f"{RESOURCE}/namespaces/{self.ns}/resourceclaimtemplates",
            {
                "metadata": {"name": name},
                "spec": {
                    "spec": {
                        "devices": {
                            "requests": [
                                {
                                    "name": "gpu",
                                    "exactly": {
                                        "deviceClassName": cls or self.cls,
                                        "selectors": self.selectors(model, memory),
                                    },
                                }
                            ]
                        }
                    }
                },
            },
        )

    async def pod(self, name: str, template: str, **kwargs: Any) -> None:
        await create_pod(
            self.api,
            name,
            self.ns,
            node_selector={"test-group": self.group},
            resource_claims=[{"name": "gpu", "resourceClaimTemplateName": template}],
            **kwargs,
        )


async def _setup(api: KubeClient, nodes: int) -> tuple[_Driver, list[str]]:
    ns, group = unique("dra"), unique("grp")
    await create_namespace(api, ns)
    names = []
    for _ in range(nodes):
        name = unique("node")
        await create_node(api, name, labels={"test-group": group})
        names.append(name)
    driver = _Driver(api, ns, group)
    await driver.install_class()
    return driver, names


async def _pod(api: KubeClient, ns: str, name: str) -> JSON:
    try:
        return await read_pod(api, name, ns)
    except NotFound:
        return {"spec": {}, "status": {}}


async def _bound(api: KubeClient, ns: str, name: str) -> str:
    pod = await eventually(
        lambda: _pod(api, ns, name),
        lambda p: bool(p["spec"].get("nodeName")),
        within=WITHIN,
        what=f"{name} bound",
    )
    return str(pod["spec"]["nodeName"])


async def _claim_of(api: KubeClient, ns: str, pod: str) -> JSON:
    """The pod's generated claim, once the controller named it."""
    current = await eventually(
        lambda: _pod(api, ns, pod),
        lambda p: bool(p["status"].get("resourceClaimStatuses")),
        within=WITHIN,
        what=f"{pod}'s claim generated",
    )
    name = current["status"]["resourceClaimStatuses"][0]["resourceClaimName"]
    return await api.get(f"{RESOURCE}/namespaces/{ns}/resourceclaims/{name}")


async def _failed_scheduling(api: KubeClient, ns: str, pod: str, pattern: str) -> str:
    async def notes() -> list[str]:
        events = await api.get(f"/apis/events.k8s.io/v1/namespaces/{ns}/events")
        return [
            str(e["note"])
            for e in events["items"]
            if e["regarding"]["name"] == pod and e["reason"] == "FailedScheduling"
        ]

    found = await eventually(
        notes,
        lambda got: any(re.fullmatch(pattern, n) for n in got),
        within=WITHIN,
        what=f"FailedScheduling for {pod} matching {pattern!r}",
    )
    return next(n for n in found if re.fullmatch(pattern, n))


def _not_fitting(count: int, server: ServerInfo) -> str:
    # Other tests' nodes fail the node selector; ours fail for DRA.
    return (
        # Reasons sort as strings: "14 node(s)..." comes before "2 cannot...".
        r"0/\d+ nodes are available: (\d+ node\(s\) didn't match Pod's node affinity/selector, )?"
        rf"{count} cannot allocate all claims"
        r"(, \d+ node\(s\) didn't match Pod's node affinity/selector)?\. "
        rf"{dra_words(server, 'still not schedulable')}preemption: 0/\d+ nodes are available: "
        r"\d+ Preemption is not helpful for scheduling\."
    )


async def test_pods_get_matching_devices_and_their_claims_are_written(
    api: KubeClient, scheduler_process: str, server: ServerInfo
) -> None:
    driver, (n1, n2) = await _setup(api, 2)
    # n1: a small a100 and a t4; n2: a big a100 and a t4. Only the big a100s fit.
    await driver.publish(n1, ("a100", "20Gi"), ("t4", "16Gi"))
    await driver.publish(n2, ("t4", "16Gi"), ("a100", "80Gi"), ("a100", "80Gi"))
    await driver.template("big-a100", "a100", "40Gi")
    for name in ("a", "b"):
        await driver.pod(name, "big-a100")
    chosen = []
    for name in ("a", "b"):
        node = await _bound(api, driver.ns, name)
        assert node == n2
        claim = await _claim_of(api, driver.ns, name)
        status = claim["status"]
        (result,) = status["allocation"]["devices"]["results"]
        assert (result["driver"], result["pool"], result["request"]) == (driver.name, n2, "gpu")
        assert result["device"] in ("gpu-1", "gpu-2")
        assert status["allocation"]["nodeSelector"]["nodeSelectorTerms"][0]["matchFields"] == [
            {"key": "metadata.name", "operator": "In", "values": [n2]}
        ]
        pod = await read_pod(api, name, driver.ns)
        assert status["reservedFor"] == [
            {"resource": "pods", "name": name, "uid": pod["metadata"]["uid"]}
        ]
        assert "resource.kubernetes.io/delete-protection" in claim["metadata"]["finalizers"]
        chosen.append(result["device"])
    assert sorted(chosen) == ["gpu-1", "gpu-2"], "two pods never share a device"
    # A third pod finds no big a100 left.
    await driver.pod("c", "big-a100")
    await _failed_scheduling(api, driver.ns, "c", _not_fitting(2, server))


async def test_deleting_a_pod_frees_its_device_for_the_next(
    api: KubeClient, scheduler_process: str, server: ServerInfo
) -> None:
    driver, (node,) = await _setup(api, 1)
    await driver.publish(node, ("a100", "80Gi"))
    await driver.template("a100", "a100")
    await driver.pod("first", "a100")
    assert await _bound(api, driver.ns, "first") == node
    await driver.pod("second", "a100")
    await _failed_scheduling(api, driver.ns, "second", _not_fitting(1, server))
    await api.delete(f"/api/v1/namespaces/{driver.ns}/pods/first", {"gracePeriodSeconds": 0})
    assert await _bound(api, driver.ns, "second") == node


async def test_a_higher_priority_pod_preempts_for_a_device(
    api: KubeClient, scheduler_process: str
) -> None:
    driver, (node,) = await _setup(api, 1)
    await driver.publish(node, ("a100", "80Gi"))
    await driver.template("a100", "a100")
    low, high = unique("low"), unique("high")
    for name, value in ((low, 10), (high, 1000)):
        await api.post(
            "/apis/scheduling.k8s.io/v1/priorityclasses",
            {"metadata": {"name": name}, "value": value},
        )
    await driver.pod("victim", "a100", priority_class=low)
    assert await _bound(api, driver.ns, "victim") == node
    await driver.pod("preemptor", "a100", priority_class=high)
    assert await _bound(api, driver.ns, "preemptor") == node
    events = await api.get(f"/apis/events.k8s.io/v1/namespaces/{driver.ns}/events")
    preempted = [e for e in events["items"] if e["reason"] == "Preempted"]
    assert [e["regarding"]["name"] for e in preempted] == ["victim"]
    claim = await _claim_of(api, driver.ns, "preemptor")
    assert claim["status"]["allocation"]["devices"]["results"][0]["device"] == "gpu-0"


def _gated(base: str) -> float:
    with urllib.request.urlopen(f"{base}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    found = re.search(r'^scheduler_pending_pods\{queue="gated"\} (\S+)$', text, re.M)
    assert found, "scheduler_pending_pods{queue=gated} is exported"
    return float(found[1])


async def test_a_template_created_late_lets_its_pod_run(
    api: KubeClient, scheduler_process: str
) -> None:
    driver, (node,) = await _setup(api, 1)
    await driver.publish(node, ("a100", "80Gi"))
    before = _gated(scheduler_process)
    # The pod comes first: the controller cannot create its claim yet, so
    # PreEnqueue holds it back, as kube-scheduler does (no attempt, no event).
    await driver.pod("early", "later")

    async def gated() -> float:
        return _gated(scheduler_process)

    await eventually(gated, lambda n: n > before, what="the pod held back by PreEnqueue")
    pod = await read_pod(api, "early", driver.ns)
    assert "nodeName" not in pod["spec"]
    await driver.template("later", "a100")
    assert await _bound(api, driver.ns, "early") == node


async def test_a_missing_device_class_waits_for_the_class(
    api: KubeClient, scheduler_process: str, server: ServerInfo
) -> None:
    driver, (node,) = await _setup(api, 1)
    await driver.publish(node, ("a100", "80Gi"))
    missing = unique("missing-class")
    await driver.template("a100", "a100", cls=missing)
    await driver.pod("waiting", "a100")
    await _failed_scheduling(
        api,
        driver.ns,
        "waiting",
        rf"0/\d+ nodes are available: request gpu: device class {missing} does not exist\. "
        rf"{dra_words(server)}preemption: .*",
    )
    await api.post(f"{RESOURCE}/deviceclasses", for_create(raw_class(missing, driver=driver.name)))
    assert await _bound(api, driver.ns, "waiting") == node


async def test_a_claim_allocated_to_a_node_that_is_gone_is_reallocated(
    api: KubeClient, scheduler_process: str
) -> None:
    driver, (node,) = await _setup(api, 1)
    await driver.publish(node, ("a100", "80Gi"))
    gone = unique("gone-node")
    claims = f"{RESOURCE}/namespaces/{driver.ns}/resourceclaims"
    created = await api.post(
        claims,
        {
            "metadata": {"name": "stale"},
            "spec": {
                "devices": {
                    "requests": [
                        {
                            "name": "gpu",
                            "exactly": {
                                "deviceClassName": driver.cls,
                                "selectors": driver.selectors("a100", "1Gi"),
                            },
                        }
                    ]
                }
            },
        },
    )
    # As if a pod had run on a node that has since been deleted.
    created["status"] = {
        "allocation": {
            "devices": {
                "results": [
                    {"request": "gpu", "driver": driver.name, "pool": gone, "device": "gpu-0"}
                ]
            },
            "nodeSelector": {
                "nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [gone]}]}
                ]
            },
        }
    }
    await api.put(f"{claims}/stale/status", created)
    await create_pod(
        api,
        "reuser",
        driver.ns,
        node_selector={"test-group": driver.group},
        resource_claims=[{"name": "gpu", "resourceClaimName": "stale"}],
    )
    # PostFilter deallocates the claim; the next attempt allocates it on the live node.
    assert await _bound(api, driver.ns, "reuser") == node
    claim = await api.get(f"{claims}/stale")
    (result,) = claim["status"]["allocation"]["devices"]["results"]
    assert (result["pool"], result["device"]) == (node, "gpu-0")
