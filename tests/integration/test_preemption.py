"""Preemption through the Eviction API on the real control plane, with the
controller manager keeping PodDisruptionBudget status.

We test these aspects:
- a high-priority pod evicts the lowest-priority pods (Preempted events) and
  then runs where they were; higher-priority pods are untouched;
- a budget steers the choice: victims that violate no budget are chosen even
  when the protected ones have lower priority;
- when every option would violate a budget nothing is evicted and the pod
  stays pending with a message saying why;
- concurrent preemptors do not evict more pods than they need;
- no budget is ever violated (no protected pod is evicted).
"""

from __future__ import annotations

import asyncio

from py_scheduler.kube.client import JSON, KubeClient
from tests.integration.kube import create_namespace, create_node, create_pod, eventually, unique

SMALL_NODE = {"cpu": "2", "memory": "8Gi", "pods": "10"}


async def _priority_classes(api: KubeClient, *values: int) -> list[str]:
    names = []
    for value in values:
        name = unique(f"prio-{value}")
        await api.post(
            "/apis/scheduling.k8s.io/v1/priorityclasses",
            {"metadata": {"name": name}, "value": value},
        )
        names.append(name)
    return names


async def _pods(api: KubeClient, ns: str) -> dict[str, JSON]:
    pods = await api.get(f"/api/v1/namespaces/{ns}/pods")
    return {p["metadata"]["name"]: p for p in pods["items"]}


async def _events(api: KubeClient, ns: str, reason: str) -> list[JSON]:
    events = await api.get(f"/apis/events.k8s.io/v1/namespaces/{ns}/events")
    return [e for e in events["items"] if e["reason"] == reason]


async def _budget(api: KubeClient, ns: str, labels: dict[str, str], min_available: int) -> None:
    await api.post(
        f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets",
        {
            "metadata": {"name": unique("pdb")},
            "spec": {"minAvailable": min_available, "selector": {"matchLabels": labels}},
        },
    )

    async def observed() -> list[JSON]:
        body = await api.get(f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets")
        return list(body["items"])

    await eventually(
        observed,
        lambda items: all(
            i.get("status", {}).get("observedGeneration") == i["metadata"]["generation"]
            for i in items
        ),
        what="budget status observed by the disruption controller",
    )


async def _setup(api: KubeClient, nodes: int) -> tuple[str, str, list[str]]:
    ns, group = unique("preempt"), unique("grp")
    await create_namespace(api, ns)
    names = []
    for _ in range(nodes):
        name = unique("node")
        await create_node(api, name, labels={"test-group": group}, allocatable=SMALL_NODE)
        names.append(name)
    return ns, group, names


async def _fill(
    api: KubeClient,
    ns: str,
    node: str,
    prefix: str,
    priority_class: str,
    labels: dict[str, str] | None = None,
) -> list[str]:
    names = [f"{prefix}-{i}" for i in range(2)]
    for name in names:
        await create_pod(
            api,
            name,
            ns,
            node_name=node,
            requests={"cpu": "1"},
            scheduler_name="other-scheduler",
            priority_class=priority_class,
            labels=labels,
        )
    # Running pods have a start time, which orders equal-priority victims.
    await eventually(
        lambda: _pods(api, ns),
        lambda pods: all(pods[n].get("status", {}).get("phase") == "Running" for n in names),
        what="filler pods running",
    )
    return names


async def _preemptor(api: KubeClient, ns: str, name: str, group: str, priority_class: str) -> None:
    await create_pod(
        api,
        name,
        ns,
        requests={"cpu": "2"},
        node_selector={"test-group": group},
        priority_class=priority_class,
    )


async def test_a_high_priority_pod_evicts_the_lowest_priority_pods_then_runs(
    api: KubeClient, scheduler_process: str
) -> None:
    ns, group, (node1, node2) = await _setup(api, 2)
    low, mid, high = await _priority_classes(api, 10, 100, 1000)
    low_pods = await _fill(api, ns, node1, "low", low)
    mid_pods = await _fill(api, ns, node2, "mid", mid)
    await _preemptor(api, ns, "vip", group, high)

    pods = await eventually(
        lambda: _pods(api, ns),
        lambda p: p.get("vip", {}).get("spec", {}).get("nodeName") == node1,
        within=60,
        what="the preemptor bound on the node it freed",
    )
    assert not set(low_pods) & set(pods), "the low-priority victims are gone"
    assert set(mid_pods) <= set(pods), "higher-priority pods are untouched"
    preempted = await eventually(
        lambda: _events(api, ns, "Preempted"), lambda e: len(e) == 2, what="Preempted events"
    )
    vip_uid = pods["vip"]["metadata"]["uid"]
    assert {e["regarding"]["name"] for e in preempted} == set(low_pods)
    assert all(e["note"] == f"Preempted by pod {vip_uid} on node {node1}" for e in preempted)


async def test_a_budget_steers_the_choice_of_victims(
    api: KubeClient, scheduler_process: str
) -> None:
    ns, group, (node1, node2) = await _setup(api, 2)
    lowest, low, high = await _priority_classes(api, 10, 20, 1000)
    protected = await _fill(api, ns, node1, "protected", lowest, labels={"app": "db"})
    free = await _fill(api, ns, node2, "free", low)
    await _budget(api, ns, {"app": "db"}, min_available=2)
    await _preemptor(api, ns, "vip", group, high)

    pods = await eventually(
        lambda: _pods(api, ns),
        lambda p: p.get("vip", {}).get("spec", {}).get("nodeName") == node2,
        within=60,
        what="the preemptor bound where no budget is violated",
    )
    assert set(protected) <= set(pods), "a budget was violated"
    assert not set(free) & set(pods)


async def test_when_every_option_violates_a_budget_nothing_is_evicted(
    api: KubeClient, scheduler_process: str
) -> None:
    ns, group, (node1, node2) = await _setup(api, 2)
    low, high = await _priority_classes(api, 10, 1000)
    protected = await _fill(api, ns, node1, "a", low, labels={"app": "db"})
    protected += await _fill(api, ns, node2, "b", low, labels={"app": "db"})
    await _budget(api, ns, {"app": "db"}, min_available=4)
    await _preemptor(api, ns, "vip", group, high)

    failed = await eventually(
        lambda: _events(api, ns, "FailedScheduling"),
        lambda e: any("Preemption would violate a PodDisruptionBudget" in x["note"] for x in e),
        within=30,
        what="a FailedScheduling event naming the budget",
    )
    note = next(x["note"] for x in failed if "PodDisruptionBudget" in x["note"])
    assert (
        note.endswith(
            "preemption: 0/2 nodes are available: 2 Preemption would violate a PodDisruptionBudget."
        )
        or "preemption: 0/" in note
    )
    # Evictions are issued before a cycle's failure is written: once the pod's own
    # condition carries the budget's words, that cycle has evicted all it ever would.
    pods = await eventually(
        lambda: _pods(api, ns),
        lambda p: any(
            c.get("type") == "PodScheduled" and "PodDisruptionBudget" in c.get("message", "")
            for c in p["vip"].get("status", {}).get("conditions", [])
        ),
        within=30,
        what="the preemptor's condition naming the budget",
    )
    assert set(protected) <= set(pods), "a protected pod was evicted"
    assert all("deletionTimestamp" not in pods[n]["metadata"] for n in protected)
    assert "nodeName" not in pods["vip"]["spec"]
    assert await _events(api, ns, "Preempted") == []


async def test_concurrent_preemptors_evict_no_more_than_needed(
    api: KubeClient, scheduler_process: str
) -> None:
    ns, group, nodes = await _setup(api, 3)
    low, high = await _priority_classes(api, 10, 1000)
    fillers: list[str] = []
    for i, node in enumerate(nodes):
        fillers += await _fill(api, ns, node, f"low{i}", low)
    await asyncio.gather(*(_preemptor(api, ns, f"vip-{i}", group, high) for i in range(2)))

    pods = await eventually(
        lambda: _pods(api, ns),
        lambda p: all("nodeName" in p.get(f"vip-{i}", {}).get("spec", {}) for i in range(2)),
        within=60,
        what="both preemptors bound",
    )
    assert pods["vip-0"]["spec"]["nodeName"] != pods["vip-1"]["spec"]["nodeName"]
    evicted = set(fillers) - set(pods)
    assert len(evicted) == 4, f"evicted {sorted(evicted)}: two nodes' worth is enough"
