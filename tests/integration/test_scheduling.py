"""The live scheduler on the real control plane.

We test these aspects:
- our pods are bound (with a Scheduled event); other schedulers' pods are not;
- capacity counts pods other schedulers placed;
- a pod with pod-level resources (``spec.resources``) keeps its name, is
  bound, and its pod-level requests are what the node holds for it;
- an unschedulable pod gets upstream's FailedScheduling event and
  PodScheduled=False condition, and is scheduled once a fitting node appears;
- node affinity values the API accepts but cannot be parsed (a required Gt
  "many", a preferred Lt "1.5") get kube-scheduler's decision and message;
- repeated FailedScheduling events fold into one Event's series;
- a gated pod is not attempted until its gates are removed;
- (1.36+) a pod needing a node feature is refused with NodeDeclaredFeatures' reason
  until its node declares the feature in ``status.declaredFeatures``;
- SIGTERM stops the scheduler with exit code 0 (checked by the fixture).

Each test confines its pods to its own nodes with a unique label, because the
control plane is shared by the whole session.
"""

from __future__ import annotations

import asyncio
import re
import urllib.request
from typing import Any

import pytest

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


async def _setup(
    api: KubeClient, nodes: int, *, labels_extra: dict[str, str] | None = None, **node_kwargs: Any
) -> tuple[str, str, list[str]]:
    ns, group = unique("sched"), unique("grp")
    await create_namespace(api, ns)
    names = []
    for _ in range(nodes):
        name = unique("node")
        labels = {"test-group": group, **(labels_extra or {})}
        await create_node(api, name, labels=labels, **node_kwargs)
        names.append(name)
    return ns, group, names


async def test_our_pods_are_bound_and_other_schedulers_pods_are_not(
    api: KubeClient, scheduler_process: str
) -> None:
    ns, group, nodes = await _setup(api, 2)
    # Theirs first: the watch delivers in order, so once ours is bound the
    # scheduler has already seen (and left alone) theirs; no wait proves it.
    await create_pod(
        api, "theirs", ns, node_selector={"test-group": group}, scheduler_name="other-scheduler"
    )
    await create_pod(api, "mine", ns, node_selector={"test-group": group})
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


async def test_a_pod_with_pod_level_resources_is_bound_and_judged_by_them(
    api: KubeClient, scheduler_process: str
) -> None:
    ns, group, (node,) = await _setup(api, 1)
    # PodLevelResources is on by default since 1.34: spec.resources is accepted
    # and its requests replace the containers' (1 CPU here, not 100m).
    await create_pod(
        api,
        "web-0",
        ns,
        requests={"cpu": "100m"},
        pod_requests={"cpu": "3", "memory": "1Gi"},
        node_selector={"test-group": group},
    )
    bound = await eventually(
        lambda: read_pod(api, "web-0", ns), lambda p: "nodeName" in p["spec"], what="bound"
    )
    assert bound["spec"]["nodeName"] == node
    # The node's 4 CPUs hold 3 for web-0: a second such pod does not fit.
    await create_pod(
        api,
        "web-1",
        ns,
        requests={"cpu": "100m"},
        pod_requests={"cpu": "3"},
        node_selector={"test-group": group},
    )
    pod = await eventually(
        lambda: read_pod(api, "web-1", ns),
        lambda p: (_condition(p) or {}).get("status") == "False",
        what="PodScheduled=False on web-1",
    )
    condition = _condition(pod)
    assert condition is not None
    assert "Insufficient cpu" in condition["message"]


def _node_affinity(kind: str, operator: str, value: str) -> JSON:
    requirement = {"key": "gen", "operator": operator, "values": [value]}
    if kind == "required":
        terms = {"nodeSelectorTerms": [{"matchExpressions": [requirement]}]}
        return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": terms}}
    preferred = [{"weight": 5, "preference": {"matchExpressions": [requirement]}}]
    return {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": preferred}}


async def test_node_affinity_values_the_api_accepts_but_cannot_parse_get_upstreams_decision(
    api: KubeClient, scheduler_process: str, server: ServerInfo
) -> None:
    # As kube-scheduler v1.35.4 decides them (checked against it): a required
    # Gt "many" matches no node; a preferred Lt "1.5" fails PreScore, which only
    # runs when several nodes are feasible. The PostFilter message joins every
    # PostFilter plugin's reason in profile order: DynamicResources (before
    # DefaultPreemption, as upstream's default profile has it) has no claims to
    # deallocate for a pod without any.
    ns, group, nodes = await _setup(api, 2, labels_extra={"gen": "3"})
    selector = {"test-group": group}
    await create_pod(
        api,
        "gt-many",
        ns,
        node_selector=selector,
        affinity=_node_affinity("required", "Gt", "many"),
    )
    await create_pod(
        api,
        "lt-frac",
        ns,
        node_selector=selector,
        affinity=_node_affinity("preferred", "Lt", "1.5"),
    )
    await create_pod(
        api,
        "lt-frac-one-node",
        ns,
        node_selector={"kubernetes.io/hostname": nodes[0]},
        affinity=_node_affinity("preferred", "Lt", "1.5"),
    )
    pending = await eventually(
        lambda: asyncio.gather(read_pod(api, "gt-many", ns), read_pod(api, "lt-frac", ns)),
        lambda pods: all((_condition(p) or {}).get("status") == "False" for p in pods),
        what="PodScheduled=False on both pods",
    )
    gt, lt = (_condition(p) or {} for p in pending)
    assert gt["reason"] == "Unschedulable"
    assert re.fullmatch(
        r"0/(\d+) nodes are available: \1 node\(s\) didn't match Pod's node affinity/selector\. "
        rf"{dra_words(server)}"
        r"preemption: 0/\1 nodes are available: \1 Preemption is not helpful for scheduling\.",
        gt["message"],
    ), gt["message"]
    assert lt["reason"] == "SchedulerError"
    assert lt["message"] == (
        'running PreScore plugin "NodeAffinity": [0].matchExpressions[0].values[0]: '
        "Invalid value: \"1.5\": for 'Gt', 'Lt' operators, the value must be an integer"
    )
    one = await eventually(
        lambda: read_pod(api, "lt-frac-one-node", ns),
        lambda p: "nodeName" in p["spec"],
        what="the pod with one feasible node bound",
    )
    assert one["spec"]["nodeName"] == nodes[0]
    for name in ("gt-many", "lt-frac"):
        assert any(e["reason"] == "FailedScheduling" for e in await _events(api, ns, name))


async def test_repeated_failed_scheduling_events_fold_into_a_series(
    api: KubeClient, scheduler_process: str
) -> None:
    ns, group, _ = await _setup(api, 1)
    await create_pod(api, "big", ns, requests={"cpu": "64"}, node_selector={"test-group": group})

    async def failed() -> list[JSON]:
        return [e for e in await _events(api, ns, "big") if e["reason"] == "FailedScheduling"]

    await eventually(failed, lambda found: len(found) == 1, what="the first FailedScheduling")
    # A label change is an update of the pod: it is attempted again, failing alike.
    for attempt in range(2):
        await api.patch(
            f"/api/v1/namespaces/{ns}/pods/big", {"metadata": {"labels": {"try": str(attempt)}}}
        )
        await asyncio.sleep(0.5)
    found = await eventually(
        failed,
        lambda found: bool(found) and (found[0].get("series") or {}).get("count", 0) >= 2,
        what="the repeat folded into the event's series",
    )
    assert len(found) == 1, "each attempt created an Event of its own"
    assert found[0]["series"]["lastObservedTime"]


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
    pod = await eventually(
        lambda: read_pod(api, "gated", ns),
        lambda p: (_condition(p) or {}).get("reason") == "SchedulingGated",
        what="PodScheduled=False (SchedulingGated)",
    )
    assert "nodeName" not in pod["spec"]
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


async def test_a_pod_needing_a_node_feature_waits_for_a_node_declaring_it(
    api: KubeClient, server: ServerInfo, scheduler_process: str
) -> None:
    if not server.version.at_least(1, 36):
        pytest.skip("NodeDeclaredFeatures is a default plugin from 1.36")
    ns, group, (name,) = await _setup(api, 1)
    raw: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "restarts", "namespace": ns},
        "spec": {
            "schedulerName": "py-scheduler",
            "nodeSelector": {"test-group": group},
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "main",
                    "image": "busybox",
                    "restartPolicy": "Never",
                    "restartPolicyRules": [
                        {
                            "action": "RestartAllContainers",
                            "exitCodes": {"operator": "In", "values": [42]},
                        }
                    ],
                }
            ],
        },
    }
    await api.post(f"/api/v1/namespaces/{ns}/pods", raw)
    events = await eventually(
        lambda: _events(api, ns, "restarts"),
        lambda e: any(x["reason"] == "FailedScheduling" for x in e),
        what="FailedScheduling event",
    )
    failed = next(x for x in events if x["reason"] == "FailedScheduling")
    assert "1 node(s) didn't match Pod's required features" in failed["note"], failed["note"]
    await api.patch(
        f"/api/v1/nodes/{name}/status",
        {"status": {"declaredFeatures": ["RestartAllContainersOnContainerExits"]}},
    )
    bound = await eventually(
        lambda: read_pod(api, "restarts", ns),
        lambda p: "nodeName" in p["spec"],
        what="scheduled once the node declares the feature",
    )
    assert bound["spec"]["nodeName"] == name
