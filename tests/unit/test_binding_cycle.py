"""The binding cycle: a bind that cannot succeed, one that fails, and what is
undone and requeued."""

from __future__ import annotations

from unittest.mock import ANY

import pytest

from py_scheduler.cluster import Conflict, NotFound, PodCondition, Unavailable
from py_scheduler.framework.recorder import NoMetrics
from py_scheduler.scheduling.queue import BACKOFF, MAX_IN_UNSCHEDULABLE
from tests.builders import make_node, make_pod
from tests.unit.helpers_core import build_core, failed_scheduling, schedule, small

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
    queued = await core.queue.pop()
    assert queued is not None
    core.scheduler.schedule_one(queued)
    core.scheduler.on_pod_deleted(pod)
    await core.settle()
    assert core.cluster.calls == [("bind", "default/p", "n1")]
    assert len(core.queue) == 0
    assert core.cache.pod(pod.uid) is None


async def test_a_pod_recreated_while_its_bind_failed_gets_nothing_for_the_old_uid() -> None:
    """kube-scheduler 1.37's handleSchedulingFailure: deleted and recreated under its
    name (a new UID) while the failure is handled, nothing is requeued and nothing
    written about the old pod; the new pod is queued on its own."""
    core = build_core([make_node("n1")])
    core.cluster.fail["bind"] = Unavailable("timeout", status=504)
    old = make_pod("p", uid="old-uid")
    core.scheduler.on_pod(old)
    queued = await core.queue.pop()
    assert queued is not None
    core.scheduler.schedule_one(queued)
    core.scheduler.on_pod_deleted(old)
    new = make_pod("p", uid="new-uid")
    core.scheduler.on_pod(new)
    await core.settle()
    assert core.cluster.calls == [("bind", "default/p", "n1")]
    assert core.queue.where(old.uid) is None
    assert core.queue.where(new.uid) is not None
    assert len(core.queue) == 1


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


# -- leadership -------------------------------------------------------------------------------


async def test_a_bind_is_not_sent_once_the_lease_went_stale() -> None:
    core = build_core([make_node("n1")])
    leading = [True]
    core.scheduler.leading = lambda: leading[0]
    pod = make_pod("p")
    core.scheduler.on_pod(pod)
    queued = await core.queue.pop()
    assert queued is not None
    core.scheduler.schedule_one(queued)  # assumed; the bind is a task not yet run
    leading[0] = False
    await core.settle()
    # Rolled back, and nothing written on a lease that may be lost.
    assert core.cluster.calls == []
    assert not core.cache.is_assumed(pod.uid)
    assert core.queue.where(pod.uid) == BACKOFF


class FlushCounter(NoMetrics):
    def __init__(self) -> None:
        self.after_flush = 0

    def pod_scheduled_after_flush(self) -> None:
        self.after_flush += 1


@pytest.mark.parametrize("flushed", [True, False], ids=["after the flush", "after an event"])
async def test_a_pod_bound_after_the_unschedulable_flush_is_counted(flushed: bool) -> None:
    """scheduler_pod_scheduled_after_flush_total (kube-scheduler 1.36): the pod became
    schedulable without an event telling the queue (the node grew in the cache
    only), so only the five-minute flush brings it back."""
    counter = FlushCounter()
    core = build_core([small("n1")], recorder=counter)
    pod = make_pod("p", requests={"cpu": "2"})
    await schedule(core, pod)
    assert core.queue.where(pod.uid) is not None
    if flushed:
        core.cache.add_node(make_node("n1", allocatable={"cpu": "4", "pods": "110"}))
        core.clock.advance(MAX_IN_UNSCHEDULABLE + 1)
        assert core.queue.flush_unschedulable_leftover() == 1
    else:
        core.scheduler.on_node(make_node("n1", allocatable={"cpu": "4", "pods": "110"}))
    await core.cycle()
    assert core.cache.pod(pod.uid) is not None  # bound
    assert counter.after_flush == int(flushed)
