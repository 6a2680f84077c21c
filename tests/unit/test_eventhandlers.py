"""Cluster events: which waiting pods a node, pod or storage event moves, and
what pod events do to the cache and the queue."""

from __future__ import annotations

import pytest

from py_scheduler.framework.types import ActionType, Resource
from py_scheduler.model import Node
from py_scheduler.scheduling.eventhandlers import node_update_action
from py_scheduler.scheduling.queue import ACTIVE, BACKOFF, GATED, UNSCHEDULABLE
from tests.builders import make_node, make_pod, make_pvc
from tests.unit.helpers_core import build_core, schedule, small


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
    queued = await core.queue.pop()
    assert queued is not None
    core.scheduler.pending[queued.pod.uid] = make_pod("p", deleting=True)
    assert core.scheduler.schedule_one(queued) is None
    await core.settle()
    assert core.cluster.calls == []
    assert not core.cache.is_assumed(queued.pod.uid)


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
    pytest.param(
        make_node("n", annotations={"example.com/price": "0.5"}),
        ActionType.UPDATE_NODE_ANNOTATION,
        id="an annotation change is an annotation update",
    ),
]


@pytest.mark.parametrize(("new", "want"), NODE_UPDATES)
def test_node_update_action(new: Node, want: ActionType) -> None:
    assert node_update_action(make_node("n"), new) == want


async def test_deleting_a_nominated_pod_moves_the_lower_priority_pods_waiting_for_room() -> None:
    core = build_core([small("n1")])
    # Gated, so it keeps the nomination an earlier preemption gave it.
    nom = make_pod(
        "nom", priority=50, requests={"cpu": "800m"}, nominated_node="n1",
        gates=["example.com/hold"],
    )  # fmt: skip
    core.scheduler.on_pod(nom)
    low = make_pod("low", requests={"cpu": "500m"})
    high = make_pod("high", priority=100, requests={"cpu": "2"})
    await schedule(core, low)
    await schedule(core, high)
    assert core.queue.where(low.uid) == UNSCHEDULABLE  # the nomination holds n1's room
    assert core.queue.where(high.uid) == UNSCHEDULABLE
    core.clock.advance(2)  # past the first backoff
    core.scheduler.on_pod_deleted(nom)
    assert core.queue.where(low.uid) == ACTIVE
    # Higher priority pods never counted the nomination.
    assert core.queue.where(high.uid) == UNSCHEDULABLE


async def test_a_nomination_moved_elsewhere_moves_the_pods_waiting_for_its_old_node() -> None:
    core = build_core([small("n1")])
    nom = make_pod(
        "nom", priority=50, requests={"cpu": "800m"}, nominated_node="n1",
        gates=["example.com/hold"],
    )  # fmt: skip
    core.scheduler.on_pod(nom)
    low = make_pod("low", requests={"cpu": "500m"})
    await schedule(core, low)
    assert core.queue.where(low.uid) == UNSCHEDULABLE
    core.clock.advance(2)
    core.scheduler.on_pod(
        make_pod(
            "nom", priority=50, requests={"cpu": "800m"}, nominated_node="n2",
            gates=["example.com/hold"],
        )
    )  # fmt: skip
    assert core.queue.where(low.uid) == ACTIVE
