"""What autoscalers read from py-scheduler's pods, on the real control plane.

We test these aspects (the predicates mirror cluster-autoscaler's and
Karpenter's, see tests/integration/autoscalers.py):
- a pod that needs capacity: PodScheduled=False with reason exactly
  Unschedulable and no nomination; both would add a node;
- a gated pod: reason SchedulingGated; neither would;
- a preemptor waiting for its victims: Unschedulable with nominatedNodeName
  set (every version the watch shows while it waits); neither would;
- a preemption every budget forbids: Unschedulable, nomination cleared; both
  would add a node, as the pod does need room.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from py_scheduler.kube.client import JSON, KubeClient
from tests.integration.autoscalers import cluster_autoscaler_scales_up_for, karpenter_provisions_for
from tests.integration.kube import (
    create_namespace,
    create_node,
    create_pod,
    eventually,
    read_pod,
    unique,
)

NODE = {"cpu": "2", "memory": "8Gi", "pods": "10"}


async def _setup(api: KubeClient) -> tuple[str, str, str]:
    ns, group, node = unique("scale"), unique("grp"), unique("node")
    await create_namespace(api, ns)
    await create_node(api, node, labels={"test-group": group}, allocatable=NODE)
    return ns, group, node


async def _node_names(api: KubeClient) -> set[str]:
    body = await api.get("/api/v1/nodes")
    return {n["metadata"]["name"] for n in body["items"]}


def _reason(pod: JSON) -> str | None:
    for condition in pod.get("status", {}).get("conditions", []):
        if condition["type"] == "PodScheduled":
            return str(condition.get("reason"))
    return None


async def _priority_class(api: KubeClient, value: int) -> str:
    name = unique(f"prio-{value}")
    await api.post(
        "/apis/scheduling.k8s.io/v1/priorityclasses", {"metadata": {"name": name}, "value": value}
    )
    return name


async def test_a_pod_that_needs_capacity_asks_autoscalers_for_a_node(
    api: KubeClient, scheduler_process: str
) -> None:
    ns, group, _ = await _setup(api)
    await create_pod(api, "big", ns, requests={"cpu": "3"}, node_selector={"test-group": group})
    pod = await eventually(
        lambda: read_pod(api, "big", ns), lambda p: _reason(p) is not None, what="condition"
    )
    assert _reason(pod) == "Unschedulable"
    assert not pod["status"].get("nominatedNodeName")
    assert cluster_autoscaler_scales_up_for(pod, await _node_names(api))
    assert karpenter_provisions_for(pod)


async def test_a_gated_pod_asks_for_nothing(api: KubeClient, scheduler_process: str) -> None:
    ns, group, _ = await _setup(api)
    await create_pod(
        api, "gated", ns, gates=["example.com/hold"], node_selector={"test-group": group}
    )
    pod = await eventually(
        lambda: read_pod(api, "gated", ns), lambda p: _reason(p) is not None, what="condition"
    )
    assert _reason(pod) == "SchedulingGated"
    assert not cluster_autoscaler_scales_up_for(pod, await _node_names(api))
    assert not karpenter_provisions_for(pod)


async def _watch_pod(api: KubeClient, ns: str, name: str, versions: list[JSON]) -> None:
    """Every version of the pod, until it is bound."""
    params = {"watch": "1", "fieldSelector": f"metadata.name={name}"}
    async for line in api.stream(f"/api/v1/namespaces/{ns}/pods", params, idle_timeout=60):
        event: dict[str, Any] = orjson.loads(line)
        pod = event["object"]
        versions.append(pod)
        if pod.get("spec", {}).get("nodeName"):
            return


async def test_a_preemptor_waiting_for_its_victims_asks_for_no_node(
    api: KubeClient, scheduler_process: str
) -> None:
    ns, group, node = await _setup(api)
    low, high = await _priority_class(api, 10), await _priority_class(api, 1000)
    await create_pod(
        api,
        "victim",
        ns,
        requests={"cpu": "2"},
        priority_class=low,
        node_selector={"test-group": group},
    )
    await eventually(
        lambda: read_pod(api, "victim", ns), lambda p: "nodeName" in p["spec"], what="victim bound"
    )
    versions: list[JSON] = []
    watching = asyncio.create_task(_watch_pod(api, ns, "preemptor", versions))
    await asyncio.sleep(0)
    await create_pod(
        api,
        "preemptor",
        ns,
        requests={"cpu": "2"},
        priority_class=high,
        node_selector={"test-group": group},
    )
    await asyncio.wait_for(watching, timeout=60)
    waiting = [v for v in versions if v.get("status", {}).get("nominatedNodeName")]
    assert waiting, "the preemptor was never seen nominated"
    nodes = await _node_names(api)
    for version in waiting:
        if version["spec"].get("nodeName"):
            continue
        assert version["status"]["nominatedNodeName"] == node
        assert _reason(version) == "Unschedulable"
        assert not cluster_autoscaler_scales_up_for(version, nodes)
        assert not karpenter_provisions_for(version)
    assert versions[-1]["spec"]["nodeName"] == node


async def test_a_preemption_budgets_forbid_asks_for_a_node(
    api: KubeClient, scheduler_process: str
) -> None:
    ns, group, _ = await _setup(api)
    low, high = await _priority_class(api, 10), await _priority_class(api, 1000)
    await create_pod(
        api,
        "protected",
        ns,
        labels={"app": "db"},
        requests={"cpu": "2"},
        priority_class=low,
        node_selector={"test-group": group},
    )
    await eventually(
        lambda: read_pod(api, "protected", ns), lambda p: "nodeName" in p["spec"], what="bound"
    )
    await api.post(
        f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets",
        {
            "metadata": {"name": "db"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "db"}}},
        },
    )
    await eventually(
        lambda: api.get(f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/db"),
        lambda b: b.get("status", {}).get("observedGeneration") == b["metadata"]["generation"],
        what="budget observed",
    )
    await create_pod(
        api,
        "blocked",
        ns,
        requests={"cpu": "2"},
        priority_class=high,
        node_selector={"test-group": group},
    )
    pod = await eventually(
        lambda: read_pod(api, "blocked", ns),
        lambda p: (
            "Preemption would violate a PodDisruptionBudget"
            in str(p.get("status", {}).get("conditions", ""))
        ),
        what="condition naming the budget",
    )
    assert _reason(pod) == "Unschedulable"
    assert not pod["status"].get("nominatedNodeName")
    assert cluster_autoscaler_scales_up_for(pod, await _node_names(api))
    assert karpenter_provisions_for(pod)
    victim = await read_pod(api, "protected", ns)
    assert not victim["metadata"].get("deletionTimestamp")
