"""The volume filters on the real control plane, with real storage objects.

A scheduler of its own runs a profile without UnsupportedFeatures, so pods
with claims and in-line disks reach the volume plugins. We test these aspects:
- NodeVolumeLimits: CSINode attach limits fill up, a claim already attached
  on a node costs nothing more there, and the pod with no room left gets
  upstream's reason;
- VolumeZone: a bound PV's zone label steers its pod, and a PV in no node's
  zone leaves the pod pending;
- VolumeRestrictions: a ReadWriteOncePod claim in use keeps a second pod out,
  and a GCE PD mounted read-write is not shared across pods on a node.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controlplane.launcher import LocalControlPlane
from py_scheduler.kube.client import JSON, KubeClient
from tests.conftest import start_scheduler
from tests.integration.kube import create_namespace, create_node, create_pod, eventually, unique

SCHEDULER = "py-scheduler-volumes"
DRIVER = "csi.example.com"


@pytest.fixture(scope="module")
def volume_scheduler(control_plane: LocalControlPlane, tmp_path_factory: Any) -> Iterator[str]:
    config = Path(tmp_path_factory.mktemp("volumes")) / "config.yaml"
    config.write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\n"
        "kind: KubeSchedulerConfiguration\n"
        "leaderElection:\n"
        "  leaderElect: false\n"
        "podInitialBackoffSeconds: 1\n"
        "podMaxBackoffSeconds: 2\n"
        "profiles:\n"
        f"- schedulerName: {SCHEDULER}\n"
        "  plugins:\n"
        "    multiPoint:\n"
        "      disabled:\n"
        "      - name: UnsupportedFeatures\n"
    )
    running = start_scheduler(control_plane, config, name=SCHEDULER)
    try:
        yield running.base
    finally:
        assert running.stop() == 0, f"see {running.log}"


async def _bound_volume(
    api: KubeClient,
    ns: str,
    claim: str,
    *,
    access_mode: str = "ReadWriteOnce",
    labels: dict[str, str] | None = None,
) -> None:
    """A CSI PV and the claim pre-bound to it (no provisioner needed)."""
    volume = unique("pv")
    await api.post(
        "/api/v1/persistentvolumes",
        {
            "metadata": {"name": volume, "labels": labels or {}},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": [access_mode],
                "storageClassName": "",
                "csi": {"driver": DRIVER, "volumeHandle": volume},
                "claimRef": {"namespace": ns, "name": claim},
            },
        },
    )
    await api.post(
        f"/api/v1/namespaces/{ns}/persistentvolumeclaims",
        {
            "metadata": {"name": claim},
            "spec": {
                "accessModes": [access_mode],
                "resources": {"requests": {"storage": "1Gi"}},
                "storageClassName": "",
                "volumeName": volume,
            },
        },
    )


async def _csi_node(api: KubeClient, node: str, count: int) -> None:
    driver = {"name": DRIVER, "nodeID": node, "allocatable": {"count": count}}
    await api.post(
        "/apis/storage.k8s.io/v1/csinodes",
        {"metadata": {"name": node}, "spec": {"drivers": [driver]}},
    )


async def _pod(api: KubeClient, ns: str, name: str, group: str, *volumes: JSON) -> None:
    await create_pod(
        api,
        name,
        ns,
        scheduler_name=SCHEDULER,
        node_selector={"test-group": group},
        volumes=volumes,
    )


def _claim(name: str) -> JSON:
    return {"name": name, "persistentVolumeClaim": {"claimName": name}}


async def _node_of(api: KubeClient, ns: str, name: str) -> str:
    pod = await eventually(
        lambda: api.get(f"/api/v1/namespaces/{ns}/pods/{name}"),
        lambda p: "nodeName" in p["spec"],
        within=60,
        what=f"{name} bound",
    )
    return str(pod["spec"]["nodeName"])


async def _pending_message(api: KubeClient, ns: str, name: str, reason: str) -> str:
    def message(pod: JSON) -> str:
        for cond in pod.get("status", {}).get("conditions", []):
            if cond["type"] == "PodScheduled" and cond["status"] == "False":
                return str(cond.get("message", ""))
        return ""

    pod = await eventually(
        lambda: api.get(f"/api/v1/namespaces/{ns}/pods/{name}"),
        lambda p: reason in message(p),
        within=60,
        what=f"{name} pending with {reason!r}",
    )
    assert "nodeName" not in pod["spec"]
    return message(pod)


async def test_csi_attach_limits_fill_up_and_shared_claims_cost_nothing(
    api: KubeClient, volume_scheduler: str
) -> None:
    ns, group = unique("limits"), unique("grp")
    await create_namespace(api, ns)
    nodes = [unique("node") for _ in range(2)]
    for node in nodes:
        await create_node(api, node, labels={"test-group": group})
        await _csi_node(api, node, 1)
    for claim in ("data-1", "data-2", "data-3"):
        await _bound_volume(api, ns, claim)

    await _pod(api, ns, "first", group, _claim("data-1"))
    first = await _node_of(api, ns, "first")
    await _pod(api, ns, "second", group, _claim("data-2"))
    second = await _node_of(api, ns, "second")
    assert {first, second} == set(nodes)

    await _pod(api, ns, "third", group, _claim("data-3"))
    message = await _pending_message(api, ns, "third", "exceed max volume count")
    assert "2 node(s) exceed max volume count" in message, message

    # data-1 is attached to the first node already: sharing it needs no new slot.
    await _pod(api, ns, "sharer", group, _claim("data-1"))
    assert await _node_of(api, ns, "sharer") == first


async def test_a_bound_volume_keeps_its_pod_in_the_volume_zone(
    api: KubeClient, volume_scheduler: str
) -> None:
    ns, group = unique("zone"), unique("grp")
    await create_namespace(api, ns)
    zone_of = {}
    for zone in ("zone-a", "zone-b"):
        node = unique("node")
        zone_of[node] = zone
        labels = {"test-group": group, "topology.kubernetes.io/zone": zone}
        await create_node(api, node, labels=labels)
    await _bound_volume(api, ns, "in-b", labels={"topology.kubernetes.io/zone": "zone-b"})
    await _bound_volume(api, ns, "in-c", labels={"topology.kubernetes.io/zone": "zone-c"})

    await _pod(api, ns, "follows-its-volume", group, _claim("in-b"))
    assert zone_of[await _node_of(api, ns, "follows-its-volume")] == "zone-b"

    await _pod(api, ns, "nowhere", group, _claim("in-c"))
    message = await _pending_message(api, ns, "nowhere", "had no available volume zone")
    assert "2 node(s) had no available volume zone" in message, message


async def test_read_write_once_pod_claims_and_in_line_disks_are_not_shared(
    api: KubeClient, volume_scheduler: str
) -> None:
    ns, group = unique("restrict"), unique("grp")
    await create_namespace(api, ns)
    nodes = [unique("node") for _ in range(2)]
    for node in nodes:
        await create_node(api, node, labels={"test-group": group})
    await _bound_volume(api, ns, "solo", access_mode="ReadWriteOncePod")

    await _pod(api, ns, "owner", group, _claim("solo"))
    await _node_of(api, ns, "owner")
    await _pod(api, ns, "intruder", group, _claim("solo"))
    reason = "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod"
    message = await _pending_message(api, ns, "intruder", reason)
    assert message.count("2 node has pod using PersistentVolumeClaim") == 1, message

    disk = {"name": "disk", "gcePersistentDisk": {"pdName": unique("pd")}}
    await _pod(api, ns, "disk-1", group, disk)
    await _pod(api, ns, "disk-2", group, disk)
    placed = {await _node_of(api, ns, "disk-1"), await _node_of(api, ns, "disk-2")}
    assert placed == set(nodes)
    await _pod(api, ns, "disk-3", group, disk)
    message = await _pending_message(api, ns, "disk-3", "had no available disk")
    assert "2 node(s) had no available disk" in message, message
