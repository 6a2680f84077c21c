"""schedule_one end to end: the default profile (config.parse({}) over the in-tree
plugins), the real cache, queue and algorithm, and a FakeCluster for the API."""

from __future__ import annotations

from unittest.mock import ANY

import pytest

from py_scheduler.cluster import Conflict, Invalid, NotFound, PodCondition, Unavailable
from py_scheduler.framework.types import ActionType, Resource
from py_scheduler.model import Node, PodInfo, decode_pod
from py_scheduler.scheduling.queue import ACTIVE, BACKOFF, GATED, UNSCHEDULABLE
from py_scheduler.scheduling.scheduler import (
    NOTE_LENGTH_LIMIT,
    NotLeading,
    node_update_action,
    truncate,
)
from tests.builders import make_node, make_pod, make_pvc, raw_pod
from tests.unit.helpers_core import Core, build_core

SMALL = {"cpu": "1", "memory": "1Gi", "pods": "110"}


def small(name: str, **kwargs: object) -> Node:
    return make_node(name, allocatable=SMALL, **kwargs)


def failed_scheduling(pod: str, message: str, reason: str = "Unschedulable") -> list[object]:
    return [
        ("record_event", pod, ("Warning", "FailedScheduling", message)),
        ("patch_pod_status", pod, (PodCondition("PodScheduled", "False", reason, message), None)),
    ]


def with_scheduled_condition(pod: PodInfo, reason: str, message: str) -> PodInfo:
    """The pod as the watch shows it once our PodScheduled condition landed."""
    raw = raw_pod(pod.name, requests={"cpu": str(pod.requests.milli_cpu) + "m"})
    raw["status"]["conditions"] = [
        {"type": "PodScheduled", "status": "False", "reason": reason, "message": message}
    ]
    return decode_pod(raw)


async def schedule(core: Core, pod: PodInfo) -> None:
    core.scheduler.on_pod(pod)
    await core.cycle()


# -- success --------------------------------------------------------------------------------


async def test_a_pod_is_assumed_then_bound() -> None:
    core = build_core([make_node("n1")])
    pod = make_pod("p", requests={"cpu": "1"})
    core.scheduler.on_pod(pod)
    info = await core.queue.pop()
    assert info is not None
    outcome = core.scheduler.schedule_one(info)
    assert outcome is not None
    assert outcome.node == "n1"
    assert core.cache.is_assumed(pod.uid)
    assert core.queue.where(pod.uid) is None
    await core.settle()
    assert core.cluster.calls == [
        ("bind", "default/p", "n1"),
        (
            "record_event",
            "default/p",
            ("Normal", "Scheduled", "Successfully assigned default/p to n1"),
        ),
    ]
    # The watch confirms the binding.
    core.scheduler.on_pod(make_pod("p", requests={"cpu": "1"}, node_name="n1"))
    assert not core.cache.is_assumed(pod.uid)
    node = core.cache.get("n1")
    assert node is not None
    assert node.requested.milli_cpu == 1000
    assert pod.uid not in core.scheduler.pending


async def test_the_assumed_pod_takes_room_before_the_binding_is_confirmed() -> None:
    core = build_core([small("n1"), small("n2")])
    await schedule(core, make_pod("a", requests={"cpu": "600m"}))
    await schedule(core, make_pod("b", requests={"cpu": "600m"}))
    bound = [call[2] for call in core.cluster.calls if call[0] == "bind"]
    assert sorted(bound) == ["n1", "n2"]  # type: ignore[type-var]


async def test_the_least_allocated_node_wins() -> None:
    core = build_core([make_node("big"), small("tiny")])
    await schedule(core, make_pod("p", requests={"cpu": "500m", "memory": "100Mi"}))
    assert core.cluster.calls[0] == ("bind", "default/p", "big")


# -- no fit ---------------------------------------------------------------------------------

NO_FIT = [
    pytest.param(
        [make_node("n1"), make_node("n2")],
        {"cpu": "100"},
        "0/2 nodes are available: 2 Insufficient cpu."
        " preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
        id="both nodes lack cpu",
    ),
    pytest.param(
        [
            make_node("cordoned", unschedulable=True),
            make_node("tainted", taints=[{"key": "k", "effect": "NoSchedule"}]),
            small("small"),
        ],
        {"cpu": "2"},
        "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint(s), "
        "1 node(s) were unschedulable."
        " preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
        id="every node fails for its own reason, sorted",
    ),
    pytest.param(
        [small("s1"), small("s2")],
        {"cpu": "2", "memory": "2Gi"},
        "0/2 nodes are available: 2 Insufficient cpu, 2 Insufficient memory."
        " preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
        id="a node short of two resources counts both",
    ),
]


@pytest.mark.parametrize(("nodes", "requests", "message"), NO_FIT)
async def test_a_pod_that_does_not_fit(
    nodes: list[Node], requests: dict[str, str], message: str
) -> None:
    core = build_core(nodes)
    pod = make_pod("p", requests=requests)
    core.scheduler.on_pod(pod)
    info = await core.queue.pop()
    assert info is not None
    outcome = core.scheduler.schedule_one(info)
    assert outcome is not None
    assert (outcome.node, outcome.message, outcome.error) == (None, message, False)
    await core.settle()
    assert core.cluster.calls == failed_scheduling("default/p", message)
    assert core.queue.where(pod.uid) == UNSCHEDULABLE
    assert not core.cache.is_assumed(pod.uid)


NO_ROOM = (
    "0/1 nodes are available: 1 Insufficient cpu."
    " preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
)


async def test_a_failed_event_write_still_patches_the_condition() -> None:
    core = build_core([small("n1")])
    core.cluster.fail["record_event"] = Unavailable("events are down", status=500)
    await schedule(core, make_pod("p", requests={"cpu": "2"}))
    assert core.cluster.calls == failed_scheduling("default/p", NO_ROOM)


@pytest.mark.parametrize(
    ("error", "times", "patches"),
    [
        pytest.param(Unavailable("down", status=503), 1, 2, id="503 once is retried"),
        pytest.param(Unavailable("down", status=500), 2, 3, id="500 twice is retried twice"),
        pytest.param(Conflict("modified", status=409), 1, 2, id="a conflict is retried"),
        pytest.param(Unavailable("down", status=503), 9, 4, id="gives up after four tries"),
        pytest.param(Unavailable("timeout", status=0), 1, 1, id="a timeout is not retried"),
        pytest.param(Invalid("bad patch", status=422), 1, 1, id="an invalid patch is not retried"),
    ],
)
async def test_a_status_patch_is_retried_as_upstream_retries_it(
    error: Exception, times: int, patches: int
) -> None:
    core = build_core([small("n1")])
    core.cluster.fail["patch_pod_status"] = error
    core.cluster.fail_times["patch_pod_status"] = times
    await schedule(core, make_pod("p", requests={"cpu": "2"}))
    event, patch = failed_scheduling("default/p", NO_ROOM)
    assert core.cluster.calls == [event] + [patch] * patches


async def test_an_unchanged_failure_is_not_patched_again() -> None:
    core = build_core([small("n1")])
    message = (
        "0/1 nodes are available: 1 Insufficient cpu."
        " preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
    )
    await schedule(core, make_pod("p", requests={"cpu": "2"}))
    core.cluster.calls.clear()
    core.scheduler.on_pod(
        with_scheduled_condition(make_pod("p", requests={"cpu": "2"}), "Unschedulable", message)
    )
    core.clock.advance(400)
    core.queue.flush_unschedulable_leftover()
    await core.cycle()
    assert core.cluster.calls == [
        ("record_event", "default/p", ("Warning", "FailedScheduling", message))
    ]


async def test_a_node_that_fits_moves_the_unschedulable_pod() -> None:
    core = build_core([small("n1")])
    pod = make_pod("p", requests={"cpu": "2"})
    await schedule(core, pod)
    assert core.queue.where(pod.uid) == UNSCHEDULABLE
    core.clock.advance(2)  # past the first backoff
    core.scheduler.on_node(small("n2"))
    assert core.queue.where(pod.uid) == UNSCHEDULABLE  # another small node does not help
    core.scheduler.on_node(make_node("big"))
    assert core.queue.where(pod.uid) == ACTIVE
    core.cluster.calls.clear()
    await core.cycle()
    assert core.cluster.calls[0] == ("bind", "default/p", "big")


async def test_a_claim_event_moves_only_the_pods_using_that_claim() -> None:
    core = build_core([make_node("n1")])
    pod = make_pod("p", volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}])
    await schedule(core, pod)
    assert core.queue.where(pod.uid) == UNSCHEDULABLE
    core.clock.advance(2)
    other = make_pvc("other", "local")
    core.scheduler.on_object(Resource.PVC, ActionType.ADD, None, other)
    assert core.queue.where(pod.uid) == UNSCHEDULABLE
    core.scheduler.on_object(Resource.CSI_NODE, ActionType.DELETE, other, None)
    assert core.queue.where(pod.uid) == UNSCHEDULABLE  # not an event VolumeBinding registered
    core.scheduler.on_object(Resource.PVC, ActionType.ADD, None, make_pvc("data", "local"))
    assert core.queue.where(pod.uid) == ACTIVE


async def test_a_node_added_during_backoff_moves_the_pod_to_backoff() -> None:
    core = build_core([small("n1")])
    pod = make_pod("p", requests={"cpu": "2"})
    await schedule(core, pod)
    core.scheduler.on_node(make_node("big"))
    assert core.queue.where(pod.uid) == BACKOFF


async def test_deleting_a_bound_pod_moves_the_pods_waiting_for_room() -> None:
    core = build_core([small("n1")])
    core.scheduler.on_pod(make_pod("hog", requests={"cpu": "800m"}, node_name="n1"))
    waiting = make_pod("waiting", requests={"cpu": "500m"})
    await schedule(core, waiting)
    assert core.queue.where(waiting.uid) == UNSCHEDULABLE
    core.clock.advance(2)
    core.scheduler.on_pod_deleted(make_pod("hog", requests={"cpu": "800m"}, node_name="n1"))
    assert core.queue.where(waiting.uid) == ACTIVE


async def test_no_nodes_waits_for_any_node() -> None:
    core = build_core()
    pod = make_pod("p")
    await schedule(core, pod)
    assert core.queue.where(pod.uid) == UNSCHEDULABLE
    core.clock.advance(2)
    core.scheduler.on_node(make_node("n1"))
    assert core.queue.where(pod.uid) == ACTIVE


async def test_no_nodes_message_is_kube_schedulers() -> None:
    core = build_core()
    await schedule(core, make_pod("p"))
    assert core.cluster.calls[0] == (
        "record_event",
        "default/p",
        ("Warning", "FailedScheduling", "no nodes available to schedule pods"),
    )


async def test_a_pod_pinned_to_a_missing_node_waits_for_that_node() -> None:
    core = build_core([make_node("n1")])
    pinned = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchFields": [
                            {"key": "metadata.name", "operator": "In", "values": ["later"]}
                        ]
                    }
                ]
            }
        }
    }
    pod = make_pod("p", affinity=pinned)
    await schedule(core, pod)
    assert core.cluster.calls[0] == (
        "record_event",
        "default/p",
        (
            "Warning",
            "FailedScheduling",
            "0/1 nodes are available: 1 node(s) didn't satisfy plugin(s) [NodeAffinity]."
            " preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
        ),
    )
    assert core.queue.where(pod.uid) == UNSCHEDULABLE


# -- binding failures -------------------------------------------------------------------------

DROPPED = [
    pytest.param(
        Conflict("pod p is already assigned to node n9", status=409), id="the pod is already bound"
    ),
    pytest.param(NotFound("pods p not found", status=404), id="the pod is gone"),
]


@pytest.mark.parametrize("error", DROPPED)
async def test_a_bind_that_cannot_succeed_drops_the_pod(error: Exception) -> None:
    core = build_core([make_node("n1")])
    core.cluster.fail["bind"] = error
    pod = make_pod("p")
    await schedule(core, pod)
    assert core.cluster.calls == [("bind", "default/p", "n1")]
    assert core.queue.where(pod.uid) is None
    assert len(core.queue) == 0


@pytest.mark.parametrize("error", DROPPED)
async def test_a_failed_bind_forgets_the_assumed_pod(error: Exception) -> None:
    core = build_core([make_node("n1")])
    core.cluster.fail["bind"] = error
    pod = make_pod("p")
    await schedule(core, pod)
    assert not core.cache.is_assumed(pod.uid)
    assert core.cache.pod(pod.uid) is None
    node = core.cache.get("n1")
    assert node is not None
    assert node.requested.milli_cpu == 0


async def test_an_unavailable_api_requeues_the_pod_with_backoff() -> None:
    core = build_core([make_node("n1")])
    core.cluster.fail["bind"] = Unavailable("apiserver is down", status=503)
    pod = make_pod("p")
    await schedule(core, pod)
    assert [call[0] for call in core.cluster.calls] == [
        "bind",
        "record_event",
        "patch_pod_status",
    ]
    # The message itself is covered by the next test.
    condition = PodCondition("PodScheduled", "False", "SchedulerError", ANY)
    assert core.cluster.calls[2] == ("patch_pod_status", "default/p", (condition, None))
    assert not core.cache.is_assumed(pod.uid)
    assert core.cache.pod(pod.uid) is None
    assert core.queue.where(pod.uid) == BACKOFF
    # The API recovers and the backoff ends: the next attempt binds.
    del core.cluster.fail["bind"]
    core.cluster.calls.clear()
    core.clock.advance(1)
    assert core.queue.flush_backoff_completed() == 1
    await core.cycle()
    assert core.cluster.calls[0] == ("bind", "default/p", "n1")


async def test_an_unavailable_api_is_reported_as_a_rejected_binding() -> None:
    core = build_core([make_node("n1")])
    core.cluster.fail["bind"] = Unavailable("apiserver is down", status=503)
    await schedule(core, make_pod("p"))
    assert core.cluster.calls[1:] == failed_scheduling(
        "default/p", "binding rejected: apiserver is down", reason="SchedulerError"
    )


async def test_a_pod_deleted_while_binding_is_not_requeued() -> None:
    core = build_core([make_node("n1")])
    core.cluster.fail["bind"] = Unavailable("timeout", status=504)
    pod = make_pod("p")
    core.scheduler.on_pod(pod)
    info = await core.queue.pop()
    assert info is not None
    core.scheduler.schedule_one(info)
    core.scheduler.on_pod_deleted(pod)
    await core.settle()
    assert core.cluster.calls == [("bind", "default/p", "n1")]
    assert len(core.queue) == 0
    assert core.cache.pod(pod.uid) is None


async def test_a_relist_keeps_a_pod_whose_bind_the_watch_never_showed() -> None:
    core = build_core([small("n1")])
    await schedule(core, make_pod("p", requests={"cpu": "600m"}))
    # The watch broke before the pod's update arrived; the relist shows it bound.
    bound = make_pod("p", requests={"cpu": "600m"}, node_name="n1")
    core.scheduler.replace_pods([bound])
    assert core.cache.pod(bound.uid) is not None
    assert not core.cache.is_assumed(bound.uid)
    node = core.cache.get("n1")
    assert node is not None
    assert node.requested.milli_cpu == 600
    assert bound.uid not in core.scheduler.pending


# -- pod events -------------------------------------------------------------------------------


async def test_a_deleted_pod_leaves_the_queue() -> None:
    core = build_core([make_node("n1")])
    pod = make_pod("p")
    core.scheduler.on_pod(pod)
    assert core.queue.where(pod.uid) == ACTIVE
    core.scheduler.on_pod_deleted(pod)
    assert core.queue.where(pod.uid) is None
    assert len(core.queue) == 0
    assert core.scheduler.pending == {}


async def test_a_pod_marked_for_deletion_leaves_the_queue() -> None:
    core = build_core([make_node("n1")])
    core.scheduler.on_pod(make_pod("p"))
    core.scheduler.on_pod(make_pod("p", deleting=True))
    assert len(core.queue) == 0


async def test_a_terminal_pod_is_forgotten() -> None:
    core = build_core([make_node("n1")])
    core.scheduler.on_pod(make_pod("p"))
    core.scheduler.on_pod(make_pod("p", phase="Succeeded"))
    assert (len(core.queue), core.scheduler.pending) == (0, {})


async def test_pods_for_other_schedulers_are_ignored() -> None:
    core = build_core([make_node("n1")])
    core.scheduler.on_pod(make_pod("p", scheduler_name="default-scheduler"))
    assert len(core.queue) == 0


async def test_a_gated_pod_is_scheduled_once_its_gates_are_removed() -> None:
    core = build_core([make_node("n1")])
    core.scheduler.on_pod(make_pod("p", gates=["example.com/wait"]))
    assert core.queue.where(make_pod("p").uid) == GATED
    core.scheduler.on_pod(make_pod("p"))
    await core.cycle()
    assert core.cluster.calls[0] == ("bind", "default/p", "n1")


async def test_a_pod_deleted_after_being_popped_is_skipped() -> None:
    core = build_core([make_node("n1")])
    core.scheduler.on_pod(make_pod("p"))
    info = await core.queue.pop()
    assert info is not None
    core.scheduler.pending[info.pod.uid] = make_pod("p", deleting=True)
    assert core.scheduler.schedule_one(info) is None
    await core.settle()
    assert core.cluster.calls == []
    assert not core.cache.is_assumed(info.pod.uid)


# -- helpers ----------------------------------------------------------------------------------

NODE_UPDATES = [
    pytest.param(make_node("n"), ActionType(0), id="an identical node is no update"),
    pytest.param(
        make_node("n", allocatable={"cpu": "8", "memory": "32Gi", "pods": "110"}),
        ActionType.UPDATE_NODE_ALLOCATABLE,
        id="allocatable grows",
    ),
    pytest.param(
        make_node("n", allocatable={"cpu": "4", "memory": "32Gi", "pods": "10"}),
        ActionType.UPDATE_NODE_ALLOCATABLE,
        id="allowed pods change",
    ),
    pytest.param(
        make_node("n", labels={"a": "b"}),
        ActionType.UPDATE_NODE_LABEL,
        id="a label change is a label update",
    ),
    pytest.param(
        make_node("n", taints=[{"key": "k", "effect": "NoSchedule"}]),
        ActionType.UPDATE_NODE_TAINT,
        id="a taint change is a taint update",
    ),
    pytest.param(
        make_node("n", unschedulable=True),
        ActionType.UPDATE_NODE_TAINT,
        id="cordoning is a taint update",
    ),
    pytest.param(
        make_node("n", labels={"a": "b"}, unschedulable=True),
        ActionType.UPDATE_NODE_LABEL | ActionType.UPDATE_NODE_TAINT,
        id="a label change and a cordon are both reported",
    ),
]


@pytest.mark.parametrize(("new", "want"), NODE_UPDATES)
def test_node_update_action(new: Node, want: ActionType) -> None:
    assert node_update_action(make_node("n"), new) == want


TRUNCATES = [
    pytest.param(
        "x" * NOTE_LENGTH_LIMIT, "x" * NOTE_LENGTH_LIMIT, id="a note at the limit is kept"
    ),
    pytest.param(
        "x" * (NOTE_LENGTH_LIMIT + 1),
        "x" * (NOTE_LENGTH_LIMIT - 4) + " ...",
        id="a note over the limit is cut with an ellipsis",
    ),
]


@pytest.mark.parametrize(("note", "want"), TRUNCATES)
def test_truncate(note: str, want: str) -> None:
    assert truncate(note) == want
    assert len(truncate(note)) <= 1024


async def test_a_pod_waiting_for_its_victims_keeps_its_nomination() -> None:
    # schedule_one.go: a PostFilter without a result (the pod is not eligible to
    # preempt while a victim on its nominated node terminates) is ModeNoop, so
    # neither the nominator nor status.nominatedNodeName lose the node.
    core = build_core([small("n1")])
    raw = raw_pod("victim", requests={"cpu": "1"}, node_name="n1", priority=0, deleting=True)
    raw["status"]["conditions"] = [
        {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI"}
    ]
    core.scheduler.on_pod(decode_pod(raw))
    pod = make_pod("p", requests={"cpu": "1"}, priority=100, nominated_node="n1")
    await schedule(core, pod)
    await core.settle()
    assert core.scheduler.nominator.node_of(pod.uid) == "n1"
    patches = [detail for method, _, detail in core.cluster.calls if method == "patch_pod_status"]
    assert len(patches) == 1
    assert patches == [(PodCondition("PodScheduled", "False", "Unschedulable", ANY), None)]


# -- leadership -----------------------------------------------------------------------------


async def test_a_replica_whose_lease_went_stale_runs_no_cycle() -> None:
    core = build_core([make_node("n1")])
    core.scheduler.leading = lambda: False
    pod = make_pod("p")
    core.scheduler.on_pod(pod)
    with pytest.raises(NotLeading):
        await core.scheduler.run()
    await core.settle()
    assert core.cluster.calls == []
    assert not core.cache.is_assumed(pod.uid)
    assert core.queue.where(pod.uid) == BACKOFF  # kept, should this replica lead again


async def test_a_bind_is_not_sent_once_the_lease_went_stale() -> None:
    core = build_core([make_node("n1")])
    leading = [True]
    core.scheduler.leading = lambda: leading[0]
    pod = make_pod("p")
    core.scheduler.on_pod(pod)
    info = await core.queue.pop()
    assert info is not None
    core.scheduler.schedule_one(info)  # assumed; the bind is a task not yet run
    leading[0] = False
    await core.settle()
    assert not any(call[0] == "bind" for call in core.cluster.calls)
    assert not core.cache.is_assumed(pod.uid)
