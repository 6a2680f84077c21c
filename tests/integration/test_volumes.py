"""Volume binding with the live scheduler, the real PV controller and the real
StatefulSet controller (both in kube-controller-manager).

We test these aspects:
- each StatefulSet replica lands on the node that holds a local volume for
  it, and its claim ends Bound to that volume (the scheduler pre-binds,
  kube-controller-manager's PV binder completes);
- a pod whose claim matches no volume stays pending with upstream's
  FailedScheduling message, and is scheduled once a matching volume appears
  (a PersistentVolume event requeues it);
- a claim of an Immediate class that nobody bound keeps its pod pending with
  upstream's PreFilter message;
- a claim whose CSI driver publishes storage capacity is provisioned only where a
  CSIStorageCapacity has room (the capacity's arrival requeues the pod), and from
  1.37 on the node with the most free capacity.

Each test uses its own nodes, namespace and StorageClass: the control plane
is shared by the whole session.
"""

from __future__ import annotations

import re

from py_scheduler.cluster import NotFound
from py_scheduler.kube.client import JSON, KubeClient
from py_scheduler.model import volumes as vol
from py_scheduler.model.server import ServerInfo
from tests.builders import raw_pv, raw_pvc, raw_storage_class
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

HOSTNAME = "kubernetes.io/hostname"
# Binding goes through two controllers after the scheduler; give them time on a busy machine.
BIND_WITHIN = 90.0


async def _nodes(api: KubeClient, count: int) -> tuple[str, str, list[str]]:
    ns, group = unique("vol"), unique("grp")
    await create_namespace(api, ns)
    names = []
    for _ in range(count):
        name = unique("node")
        await create_node(api, name, labels={"test-group": group})
        names.append(name)
    return ns, group, names


async def _storage_class(api: KubeClient, mode: str = vol.BINDING_WAIT_FOR_FIRST_CONSUMER) -> str:
    name = unique("local")
    await api.post("/apis/storage.k8s.io/v1/storageclasses", raw_storage_class(name, mode=mode))
    return name


async def _local_volume(api: KubeClient, storage_class: str, node: str, capacity: str) -> str:
    name = unique("pv")
    raw = for_create(
        raw_pv(name, storage_class, capacity=capacity, node_affinity={HOSTNAME: [node]})
    )
    raw.pop("status")
    await api.post("/api/v1/persistentvolumes", raw)
    return name


async def _claim(api: KubeClient, ns: str, name: str) -> JSON:
    try:
        return await api.get(f"/api/v1/namespaces/{ns}/persistentvolumeclaims/{name}")
    except NotFound:
        return {}


async def _pod_if_any(api: KubeClient, ns: str, pod: str) -> JSON:
    # A StatefulSet's replicas appear a moment after the set itself.
    try:
        return await read_pod(api, pod, ns)
    except NotFound:
        return {"spec": {}}


async def _bound(api: KubeClient, ns: str, pod: str) -> JSON:
    return await eventually(
        lambda: _pod_if_any(api, ns, pod),
        lambda p: "nodeName" in p["spec"],
        within=BIND_WITHIN,
        what=f"{pod} bound",
    )


async def _claim_bound(api: KubeClient, ns: str, name: str) -> JSON:
    return await eventually(
        lambda: _claim(api, ns, name),
        lambda c: c.get("status", {}).get("phase") == "Bound",
        within=BIND_WITHIN,
        what=f"claim {name} Bound",
    )


async def _volume(api: KubeClient, name: str) -> JSON:
    return await api.get(f"/api/v1/persistentvolumes/{name}")


async def _events(api: KubeClient, ns: str, pod: str) -> list[JSON]:
    events = await api.get(f"/apis/events.k8s.io/v1/namespaces/{ns}/events")
    return [e for e in events["items"] if e["regarding"]["name"] == pod]


async def _failed_scheduling(api: KubeClient, ns: str, pod: str, pattern: str) -> str:
    """The first FailedScheduling note matching ``pattern``. An earlier attempt may
    have been refused with `persistentvolumeclaim "..." not found`: the claim's watch
    can lag the pod's, and the claim's arrival requeues the pod."""

    def matching(events: list[JSON]) -> list[str]:
        notes = [str(x["note"]) for x in events if x["reason"] == "FailedScheduling"]
        return [note for note in notes if re.fullmatch(pattern, note)]

    events = await eventually(
        lambda: _events(api, ns, pod),
        lambda e: bool(matching(e)),
        what=f"FailedScheduling for {pod} matching {pattern!r}",
    )
    return matching(events)[0]


def _claim_volume(name: str, claim: str) -> dict[str, object]:
    return {"name": name, "persistentVolumeClaim": {"claimName": claim}}


async def test_statefulset_replicas_land_where_their_local_volumes_are(
    api: KubeClient, scheduler_process: str
) -> None:
    ns, group, nodes = await _nodes(api, 3)
    sc = await _storage_class(api)
    # Volumes on two of the three nodes; the third has none.
    volumes = {
        nodes[0]: await _local_volume(api, sc, nodes[0], "1Gi"),
        nodes[1]: await _local_volume(api, sc, nodes[1], "1Gi"),
    }
    await api.post(
        f"/apis/apps/v1/namespaces/{ns}/statefulsets",
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db"},
            "spec": {
                "replicas": 2,
                "serviceName": "db",
                "podManagementPolicy": "Parallel",
                "selector": {"matchLabels": {"app": "db"}},
                "template": {
                    "metadata": {"labels": {"app": "db"}},
                    "spec": {
                        "schedulerName": "py-scheduler",
                        "nodeSelector": {"test-group": group},
                        "containers": [
                            {
                                "name": "db",
                                "image": "db",
                                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                            }
                        ],
                    },
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "storageClassName": sc,
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}},
                        },
                    }
                ],
            },
        },
    )
    placed: dict[str, str] = {}
    for replica in ("db-0", "db-1"):
        node = (await _bound(api, ns, replica))["spec"]["nodeName"]
        claim = await _claim_bound(api, ns, f"data-{replica}")
        # The claim is bound to the very volume that lives on the pod's node.
        assert claim["spec"]["volumeName"] == volumes[node]
        assert vol.ANN_SELECTED_NODE not in claim["metadata"].get("annotations", {})
        pv = await _volume(api, volumes[node])
        assert pv["spec"]["claimRef"]["name"] == f"data-{replica}"
        assert pv["status"]["phase"] == "Bound"
        placed[replica] = node
    assert sorted(placed.values()) == sorted(volumes)


async def test_a_claim_without_a_matching_volume_waits_until_one_appears(
    api: KubeClient, scheduler_process: str, server: ServerInfo
) -> None:
    ns, group, nodes = await _nodes(api, 2)
    sc = await _storage_class(api)
    await _local_volume(api, sc, nodes[0], "1Gi")  # too small for the claim
    raw = for_create(raw_pvc("big", sc, namespace=ns, request="5Gi"))
    raw.pop("status")
    await api.post(f"/api/v1/namespaces/{ns}/persistentvolumeclaims", raw)
    await create_pod(
        api,
        "app",
        ns,
        node_selector={"test-group": group},
        volumes=[_claim_volume("data", "big")],
    )
    await _failed_scheduling(
        api,
        ns,
        "app",
        r"0/\d+ nodes are available: (.*, )?"
        r"2 node\(s\) didn't find available persistent volumes to bind(, .*)?\."
        rf"( {dra_words(server)}preemption: .*)?",
    )
    pod = await read_pod(api, "app", ns)
    assert "nodeName" not in pod["spec"]

    # A volume that fits, on the second node: the PersistentVolume event requeues the pod.
    fitting = await _local_volume(api, sc, nodes[1], "10Gi")
    bound = await _bound(api, ns, "app")
    assert bound["spec"]["nodeName"] == nodes[1]
    claim = await _claim_bound(api, ns, "big")
    assert claim["spec"]["volumeName"] == fitting


async def test_an_unbound_immediate_claim_keeps_its_pod_pending(
    api: KubeClient, scheduler_process: str, server: ServerInfo
) -> None:
    ns, group, _ = await _nodes(api, 1)
    sc = await _storage_class(api, mode=vol.BINDING_IMMEDIATE)
    raw = for_create(raw_pvc("now", sc, namespace=ns))
    raw.pop("status")
    await api.post(f"/api/v1/namespaces/{ns}/persistentvolumeclaims", raw)
    await create_pod(
        api, "app", ns, node_selector={"test-group": group}, volumes=[_claim_volume("d", "now")]
    )
    await _failed_scheduling(
        api,
        ns,
        "app",
        r"0/\d+ nodes are available: pod has unbound immediate PersistentVolumeClaims\."
        rf"( {dra_words(server)}preemption: .*)?",
    )


async def test_provisioning_follows_published_storage_capacity(
    api: KubeClient, scheduler_process: str, server: ServerInfo
) -> None:
    ns, group = unique("vol"), unique("grp")
    await create_namespace(api, ns)
    nodes = [unique("node") for _ in range(3)]
    for name in nodes:
        await create_node(api, name, labels={"test-group": group, "test-capacity": name})
    driver = f"{unique('capacity')}.example.com"
    await api.post(
        "/apis/storage.k8s.io/v1/csidrivers",
        {"metadata": {"name": driver}, "spec": {"storageCapacity": True}},
    )
    sc = unique("capacity")
    await api.post(
        "/apis/storage.k8s.io/v1/storageclasses",
        raw_storage_class(sc, provisioner=driver, mode=vol.BINDING_WAIT_FOR_FIRST_CONSUMER),
    )

    async def capacity(name: str, amount: str, *, update: bool = False) -> None:
        body = {
            "metadata": {"name": f"cap-{name}"},
            "storageClassName": sc,
            "nodeTopology": {"matchLabels": {"test-capacity": name}},
            "capacity": amount,
        }
        path = f"/apis/storage.k8s.io/v1/namespaces/{ns}/csistoragecapacities"
        if update:
            await api.patch(f"{path}/cap-{name}", {"capacity": amount})
        else:
            await api.post(path, body)

    async def pod_with_claim(pod: str, request: str) -> None:
        raw = for_create(raw_pvc(pod, sc, namespace=ns, request=request))
        raw.pop("status")
        await api.post(f"/api/v1/namespaces/{ns}/persistentvolumeclaims", raw)
        await create_pod(
            api, pod, ns, node_selector={"test-group": group}, volumes=[_claim_volume("d", pod)]
        )

    async def selected_node(claim_name: str) -> str:
        claim = await eventually(
            lambda: _claim(api, ns, claim_name),
            lambda c: vol.ANN_SELECTED_NODE in c.get("metadata", {}).get("annotations", {}),
            what=f"the selected node of claim {claim_name}",
        )
        return str(claim["metadata"]["annotations"][vol.ANN_SELECTED_NODE])

    # No room anywhere for 200Gi: nodes[0] publishes nothing, the others 20Gi and 100Gi.
    await capacity(nodes[1], "20Gi")
    await capacity(nodes[2], "100Gi")
    await pod_with_claim("big", "200Gi")
    await _failed_scheduling(
        api,
        ns,
        "big",
        r"0/\d+ nodes are available: (.*, )?"
        r"3 node\(s\) did not have enough free storage(, .*)?\."
        rf"( {dra_words(server)}preemption: .*)?",
    )
    # More room on nodes[2]: the capacity's update requeues the pod, which goes there.
    await capacity(nodes[2], "500Gi", update=True)
    assert await selected_node("big") == nodes[2]

    # 10Gi fits both nodes with capacity; from 1.37 the score prefers the roomier one
    # (10Gi of 500Gi scores 98, of 20Gi 50).
    await pod_with_claim("small", "10Gi")
    selected = await selected_node("small")
    if server.version.at_least(1, 37):
        assert selected == nodes[2]
    else:
        assert selected in nodes[1:]
    for pod in ("big", "small"):
        await api.delete(f"/api/v1/namespaces/{ns}/pods/{pod}")
