"""Inter-pod constraints on the real control plane, with real Deployments.

We test these aspects:
- a Deployment with required hostname anti-affinity spreads its replicas over
  distinct nodes, and the replica with no node left gets upstream's message;
- a zone-spread Deployment keeps the skew within maxSkew as it scales;
- a StatefulSet's replicas spread by the system default constraints, which
  follow their controller reference; bare pods its selector matches do not.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from py_scheduler.kube.client import JSON, KubeClient
from tests.integration.kube import (
    create_namespace,
    create_node,
    create_pod,
    eventually,
    read_pod,
    unique,
)


def _deployment(name: str, replicas: int, group: str, **spec: Any) -> JSON:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "schedulerName": "py-scheduler",
                    "nodeSelector": {"test-group": group},
                    "containers": [{"name": "app", "image": "nginx"}],
                    **spec,
                },
            },
        },
    }


async def _pods(api: KubeClient, ns: str) -> list[JSON]:
    return list((await api.get(f"/api/v1/namespaces/{ns}/pods"))["items"])


async def test_required_anti_affinity_puts_replicas_on_distinct_nodes(
    api: KubeClient, scheduler_process: str
) -> None:
    ns, group = unique("anti"), unique("grp")
    await create_namespace(api, ns)
    nodes = [unique("node") for _ in range(3)]
    for node in nodes:
        await create_node(api, node, labels={"test-group": group})
    anti = {
        "affinity": {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "labelSelector": {"matchLabels": {"app": "web"}},
                        "topologyKey": "kubernetes.io/hostname",
                    }
                ]
            }
        }
    }
    await api.post(
        f"/apis/apps/v1/namespaces/{ns}/deployments", _deployment("web", 4, group, **anti)
    )

    def settled(pods: list[JSON]) -> bool:
        bound = [p for p in pods if "nodeName" in p["spec"]]
        waiting = [
            p
            for p in pods
            if any(
                c["type"] == "PodScheduled" and c["status"] == "False"
                for c in p.get("status", {}).get("conditions", [])
            )
        ]
        return len(pods) == 4 and len(bound) == 3 and len(waiting) == 1

    pods = await eventually(lambda: _pods(api, ns), settled, within=60, what="3 bound, 1 waiting")
    placed = Counter(p["spec"]["nodeName"] for p in pods if "nodeName" in p["spec"])
    assert sorted(placed) == sorted(nodes)
    assert set(placed.values()) == {1}
    waiting = next(p for p in pods if "nodeName" not in p["spec"])
    message = next(
        c["message"] for c in waiting["status"]["conditions"] if c["type"] == "PodScheduled"
    )
    # Other tests' nodes (if any) fail the selector; ours fail anti-affinity.
    assert "3 node(s) didn't match pod anti-affinity rules" in message, message
    assert message.startswith("0/"), message


async def test_zone_spread_keeps_skew_within_max_skew_while_scaling(
    api: KubeClient, scheduler_process: str
) -> None:
    ns, group = unique("spread"), unique("grp")
    await create_namespace(api, ns)
    zones = ["zone-a", "zone-b", "zone-c"]
    for zone in zones:
        for _ in range(2):
            await create_node(
                api,
                unique("node"),
                labels={"test-group": group, "topology.kubernetes.io/zone": zone},
            )
    spread = {
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": "api"}},
            }
        ]
    }
    path = f"/apis/apps/v1/namespaces/{ns}/deployments"
    await api.post(path, _deployment("api", 4, group, **spread))
    node_zone = {
        n["metadata"]["name"]: n["metadata"]["labels"].get("topology.kubernetes.io/zone")
        for n in (await api.get("/api/v1/nodes"))["items"]
    }
    for replicas in (4, 7, 11):
        if replicas != 4:
            await api.patch(f"{path}/api", {"spec": {"replicas": replicas}})

        def all_bound(items: list[JSON], want: int = replicas) -> bool:
            return len(items) == want and all("nodeName" in p["spec"] for p in items)

        pods = await eventually(
            lambda: _pods(api, ns), all_bound, within=60, what=f"{replicas} replicas bound"
        )
        per_zone = Counter(node_zone[p["spec"]["nodeName"]] for p in pods)
        counts = [per_zone.get(z, 0) for z in zones]
        assert max(counts) - min(counts) <= 1, (replicas, per_zone)


async def _big_and_small_nodes(api: KubeClient, group: str) -> tuple[str, list[str]]:
    big = unique("big")
    await create_node(
        api,
        big,
        labels={"test-group": group},
        allocatable={"cpu": "64", "memory": "256Gi", "pods": "110"},
    )
    small = [unique("small") for _ in range(2)]
    for node in small:
        await create_node(
            api,
            node,
            labels={"test-group": group},
            allocatable={"cpu": "4", "memory": "16Gi", "pods": "110"},
        )
    return big, small


def _statefulset(name: str, replicas: int, group: str) -> JSON:
    sts = _deployment(name, replicas, group)
    sts["kind"] = "StatefulSet"
    sts["spec"]["serviceName"] = name
    sts["spec"]["podManagementPolicy"] = "Parallel"
    sts["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "100m"}}
    return sts


async def test_a_statefulsets_replicas_get_the_system_default_spreading(
    api: KubeClient, scheduler_process: str
) -> None:
    # The StatefulSet controller sets the controller reference the default
    # spreading follows. Without it every replica would go to the big node.
    ns, group = unique("sts"), unique("grp")
    await create_namespace(api, ns)
    big, small = await _big_and_small_nodes(api, group)
    await api.post(f"/apis/apps/v1/namespaces/{ns}/statefulsets", _statefulset("db", 3, group))
    pods = await eventually(
        lambda: _pods(api, ns),
        lambda items: len(items) == 3 and all(p["spec"].get("nodeName") for p in items),
        within=60,
        what="three StatefulSet replicas bound",
    )
    assert sorted(p["spec"]["nodeName"] for p in pods) == sorted([big, *small])


async def test_pods_a_statefulset_selects_but_does_not_control_do_not_spread_by_it(
    api: KubeClient, scheduler_process: str
) -> None:
    # As upstream's DefaultSelector: the controller reference, not the labels.
    ns, group = unique("bare"), unique("grp")
    await create_namespace(api, ns)
    big, _ = await _big_and_small_nodes(api, group)
    await api.post(f"/apis/apps/v1/namespaces/{ns}/statefulsets", _statefulset("db", 0, group))
    for i in range(3):
        await create_pod(
            api,
            f"bare-{i}",
            ns,
            labels={"app": "db"},
            requests={"cpu": "100m"},
            node_selector={"test-group": group},
        )
        await eventually(
            lambda i=i: read_pod(api, f"bare-{i}", ns),  # type: ignore[misc]
            lambda p: bool(p["spec"].get("nodeName")),
            what=f"bare-{i} bound",
        )
    pods = await _pods(api, ns)
    assert [p["spec"]["nodeName"] for p in pods] == [big, big, big]
