"""Smoke tests: the local control plane behaves like a real cluster.

We test these aspects:
- kwok turns a created Node Ready, keeping the capacity it was created with;
- a pod for py-scheduler stays Pending until bound through pods/binding,
  then runs on the node it was bound to; a stale UID is refused;
- the controller manager maintains PodDisruptionBudget status;
- pods/eviction removes a pod the budget allows, and answers 429 otherwise.
"""

from __future__ import annotations

import asyncio

import pytest

from py_scheduler.cluster import Conflict, TooManyRequests
from py_scheduler.kube.client import JSON, KubeClient
from tests.integration.kube import (
    create_namespace,
    create_node,
    create_pod,
    eventually,
    node_ready,
    read_pod,
    unique,
)


async def test_a_created_node_becomes_ready(api: KubeClient) -> None:
    name = unique("node")
    await create_node(api, name)
    await eventually(lambda: node_ready(api, name), bool, what=f"node {name} Ready")
    node = await api.get(f"/api/v1/nodes/{name}")
    assert node["status"]["allocatable"]["cpu"] == "4"
    assert node["status"]["allocatable"]["pods"] == "110"


def binding(name: str, namespace: str, uid: str, node: str) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name, "namespace": namespace, "uid": uid},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    }


async def test_a_pod_for_py_scheduler_waits_until_bound_then_runs(api: KubeClient) -> None:
    ns, node = unique("smoke"), unique("node")
    await create_namespace(api, ns)
    await create_node(api, node)
    await eventually(lambda: node_ready(api, node), bool, what="node Ready")
    # py-scheduler may be running in this session: a selector no node matches
    # leaves the placement to this test's own binding (which ignores selectors).
    created = await create_pod(api, "web", ns, node_selector={"smoke": "bind-by-hand"})
    # Time for a running scheduler to try the pod and write its failure before the
    # binding below, so that write cannot land after it.
    await asyncio.sleep(1.0)
    pod = await read_pod(api, "web", ns)
    assert "nodeName" not in pod["spec"]
    assert pod["status"]["phase"] == "Pending"

    path = f"/api/v1/namespaces/{ns}/pods/web/binding"
    with pytest.raises(Conflict, match="Precondition failed: UID in precondition"):
        await api.post(path, binding("web", ns, "not-the-uid", node))
    await api.post(path, binding("web", ns, created["metadata"]["uid"], node))
    running = await eventually(
        lambda: read_pod(api, "web", ns),
        lambda p: p["status"].get("phase") == "Running",
        what="pod Running",
    )
    assert running["spec"]["nodeName"] == node
    scheduled = [c for c in running["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert scheduled[0]["status"] == "True"
    with pytest.raises(Conflict, match="is already assigned to node"):
        await api.post(path, binding("web", ns, created["metadata"]["uid"], node))


async def _pdb_status(api: KubeClient, ns: str, name: str) -> JSON:
    pdb = await api.get(f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/{name}")
    status: JSON = pdb.get("status", {})
    return status


def eviction(name: str) -> JSON:
    return {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}}


async def test_pdb_status_and_eviction_allowed_then_refused(api: KubeClient) -> None:
    ns, node = unique("pdb"), unique("node")
    await create_namespace(api, ns)
    await create_node(api, node)
    for i in range(2):
        await create_pod(api, f"db-{i}", ns, labels={"app": "db"}, node_name=node)
    await api.post(
        f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets",
        {
            "metadata": {"name": "db"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "db"}}},
        },
    )
    status = await eventually(
        lambda: _pdb_status(api, ns, "db"),
        lambda s: s.get("currentHealthy") == 2 and s.get("disruptionsAllowed") == 1,
        what="PDB status from the disruption controller",
    )
    assert status["expectedPods"] == 2

    await api.post(f"/api/v1/namespaces/{ns}/pods/db-0/eviction", eviction("db-0"))
    # kwok finalises the graceful deletion, so the pod object disappears.
    await eventually(
        lambda: api.get(f"/api/v1/namespaces/{ns}/pods"),
        lambda pods: [p["metadata"]["name"] for p in pods["items"]] == ["db-1"],
        what="evicted pod gone",
    )
    await eventually(
        lambda: _pdb_status(api, ns, "db"),
        lambda s: s.get("disruptionsAllowed") == 0,
        what="budget exhausted",
    )
    with pytest.raises(TooManyRequests, match="would violate the pod's disruption budget"):
        await api.post(f"/api/v1/namespaces/{ns}/pods/db-1/eviction", eviction("db-1"))
    pod = await read_pod(api, "db-1", ns)
    assert "deletionTimestamp" not in pod["metadata"]
