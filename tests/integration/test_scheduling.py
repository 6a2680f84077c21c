"""The live scheduler on the real control plane.

We test these aspects:
- our pods are bound (with a Scheduled event); other schedulers' pods are not;
- capacity counts pods other schedulers placed;
- an unschedulable pod gets upstream's FailedScheduling event and
  PodScheduled=False condition, and is scheduled once a fitting node appears;
- a gated pod is not attempted until its gates are removed;
- SIGTERM stops the scheduler with exit code 0 (checked by the fixture).

Each test confines its pods to its own nodes with a unique label, because the
control plane is shared by the whole session.
"""

from __future__ import annotations

import asyncio
import re
import urllib.request
from typing import Any

from py_scheduler.kube.client import JSON, KubeClient
from py_scheduler.model.server import ServerInfo
from tests.integration.kube import (
    create_namespace,
    create_node,
    create_pod,
    dra_words,
    eventually,
    read_pod,
    unique,
)


async def _events(api: KubeClient, ns: str, pod: str) -> list[JSON]:
    events = await api.get(f"/apis/events.k8s.io/v1/namespaces/{ns}/events")
    return [e for e in events["items"] if e["regarding"]["name"] == pod]


def _condition(pod: JSON) -> JSON | None:
    for cond in pod.get("status", {}).get("conditions", []):
        if cond["type"] == "PodScheduled":
            return dict(cond)
    return None


async def _setup(api: KubeClient, nodes: int, **node_kwargs: Any) -> tuple[str, str, list[str]]:
    ns, group = unique("sched"), unique("grp")
    await create_namespace(api, ns)
    names = []
    for _ in range(nodes):
        name = unique("node")
        await create_node(api, name, labels={"test-group": group}, **node_kwargs)
        names.append(name)
    return ns, group, names


async def test_our_pods_are_bound_and_other_schedulers_pods_are_not(
    api: KubeClient, scheduler_process: str
) -> None:
    ns, group, nodes = await _setup(api, 2)
    await create_pod(api, "mine", ns, node_selector={"test-group": group})
    await create_pod(
        api, "theirs", ns, node_selector={"test-group": group}, scheduler_name="other-scheduler"
    )
    bound = await eventually(
        lambda: read_pod(api, "mine", ns), lambda p: "nodeName" in p["spec"], what="bound"
    )
    assert bound["spec"]["nodeName"] in nodes
    events = await eventually(
        lambda: _events(api, ns, "mine"), lambda e: len(e) > 0, what="Scheduled event"
    )
    assert events[0]["reason"] == "Scheduled"
    assert events[0]["type"] == "Normal"
    assert events[0]["reportingController"] == "py-scheduler"
    assert events[0]["note"] == f"Successfully assigned {ns}/mine to {bound['spec']['nodeName']}"
    await asyncio.sleep(1.0)
    theirs = await read_pod(api, "theirs", ns)
    assert "nodeName" not in theirs["spec"]
    assert await _events(api, ns, "theirs") == []


async def test_capacity_counts_pods_placed_by_other_schedulers(
    api: KubeClient, scheduler_process: str, server: ServerInfo
) -> None:
    ns, group, (node,) = await _setup(api, 1)
    # Bound directly, as another scheduler would: 3 of the node's 4 CPUs.
    await create_pod(
        api, "big", ns, requests={"cpu": "3"}, node_name=node, scheduler_name="other-scheduler"
    )
    await create_pod(api, "mine", ns, requests={"cpu": "2"}, node_selector={"test-group": group})
    pod = await eventually(
        lambda: read_pod(api, "mine", ns),
        lambda p: (_condition(p) or {}).get("status") == "False",
        what="PodScheduled=False",
    )
    assert "nodeName" not in pod["spec"]
    condition = _condition(pod)
    assert condition is not None
    assert condition["reason"] == "Unschedulable"
    assert re.fullmatch(
        r"0/(\d+) nodes are available: 1 Insufficient cpu, \d+ node\(s\) didn't match "
        rf"Pod's node affinity/selector\. {dra_words(server)}preemption: 0/\1 nodes "
        r"are available: 1 No "
        r"preemption victims found for incoming pod, \d+ Preemption is not helpful for "
        r"scheduling\.",
        condition["message"],
    ), condition["message"]


async def test_unschedulable_pod_gets_event_and_condition_then_lands_on_a_new_node(
    api: KubeClient, scheduler_process: str
) -> None:
    ns, group, _ = await _setup(api, 1, allocatable={"cpu": "1", "memory": "4Gi", "pods": "10"})
    await create_pod(api, "wide", ns, requests={"cpu": "2"}, node_selector={"test-group": group})
    events = await eventually(
        lambda: _events(api, ns, "wide"),
        lambda e: any(x["reason"] == "FailedScheduling" for x in e),
        what="FailedScheduling event",
    )
    failed = next(x for x in events if x["reason"] == "FailedScheduling")
    assert failed["type"] == "Warning"
    assert failed["action"] == "Scheduling"
    assert "1 Insufficient cpu" in failed["note"]
    pod = await eventually(
        lambda: read_pod(api, "wide", ns),
        lambda p: _condition(p) is not None,
        what="PodScheduled condition",
    )
    condition = _condition(pod)
    assert condition is not None
    assert (condition["status"], condition["reason"]) == ("False", "Unschedulable")
    assert condition["message"] == failed["note"]

    big = unique("node")
    await create_node(api, big, labels={"test-group": group})
    bound = await eventually(
        lambda: read_pod(api, "wide", ns),
        lambda p: "nodeName" in p["spec"],
        what="scheduled after the node appeared",
    )
    assert bound["spec"]["nodeName"] == big


async def test_a_gated_pod_waits_until_its_gates_are_removed(
    api: KubeClient, scheduler_process: str
) -> None:
    ns, group, nodes = await _setup(api, 1)
    await create_pod(
        api, "gated", ns, gates=["example.com/wait"], node_selector={"test-group": group}
    )
    await asyncio.sleep(1.5)
    pod = await read_pod(api, "gated", ns)
    assert "nodeName" not in pod["spec"]
    condition = _condition(pod)
    assert condition is not None
    assert condition["reason"] == "SchedulingGated"
    assert await _events(api, ns, "gated") == []
    await api.patch(f"/api/v1/namespaces/{ns}/pods/gated", {"spec": {"schedulingGates": None}})
    bound = await eventually(
        lambda: read_pod(api, "gated", ns), lambda p: "nodeName" in p["spec"], what="bound"
    )
    assert bound["spec"]["nodeName"] == nodes[0]


async def test_metrics_carry_upstream_names_labels_and_buckets(
    api: KubeClient, scheduler_process: str
) -> None:
    ns, group, _ = await _setup(api, 1)
    await create_pod(api, "counted", ns, node_selector={"test-group": group})
    await eventually(
        lambda: read_pod(api, "counted", ns), lambda p: "nodeName" in p["spec"], what="bound"
    )

    def scrape() -> str:
        with urllib.request.urlopen(f"{scheduler_process}/metrics", timeout=5) as resp:
            return str(resp.read().decode())

    text = await asyncio.to_thread(scrape)
    scheduled = re.search(
        r'^scheduler_schedule_attempts_total\{profile="py-scheduler",result="scheduled"\} (\S+)$',
        text,
        re.M,
    )
    assert scheduled is not None
    assert float(scheduled.group(1)) >= 1
    for line in (
        "# TYPE scheduler_scheduling_attempt_duration_seconds histogram",
        "# TYPE scheduler_pod_scheduling_sli_duration_seconds histogram",
        "# TYPE scheduler_pending_pods gauge",
        "# TYPE scheduler_cache_size gauge",
        "# TYPE scheduler_queue_incoming_pods_total counter",
        "# TYPE scheduler_framework_extension_point_duration_seconds histogram",
        "# TYPE process_cpu_seconds_total counter",
    ):
        assert line in text, line
    # Upstream's buckets: exp(0.001, 2, 15) for attempt durations.
    assert re.search(
        r'scheduler_scheduling_attempt_duration_seconds_bucket\{le="0\.001",'
        r'profile="py-scheduler",result="scheduled"\}',
        text,
    )
    assert 'le="16.384"' in text
    assert re.search(r'^scheduler_pending_pods\{queue="active"\} \d', text, re.M)
    assert re.search(r'^scheduler_cache_size\{type="nodes"\} [1-9]', text, re.M)
    assert re.search(
        r'scheduler_framework_extension_point_duration_seconds_count\{extension_point="Filter",'
        r'profile="py-scheduler",status="Success"\} [1-9]',
        text,
    )
    assert re.search(r'scheduler_queue_incoming_pods_total\{event="PodAdd",queue="active"\}', text)
