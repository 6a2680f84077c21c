"""Permit plugins that wait, through the whole core (scheduling cycle, binding
cycle, event handlers, preemption), after upstream's integration tests
(TestPermitPlugin*, TestCoSchedulingWithPermitPlugin, TestPreemptWithPermitPlugin)
and schedule_one.go's handling of a WaitOnPermit failure. Timeouts run on
manual timers, so nothing here waits for a clock."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from py_scheduler.cluster import PodCondition
from py_scheduler.framework import (
    ActionType,
    ClusterEventWithHint,
    CycleState,
    PodInfo,
    Resource,
    Status,
    event,
)
from py_scheduler.framework.recorder import NoMetrics
from py_scheduler.framework.runtime import Framework
from py_scheduler.framework.types import FitError, PostFilterResult
from py_scheduler.model import NodeName
from py_scheduler.scheduling.queue import BACKOFF, UNSCHEDULABLE
from py_scheduler.scheduling.schedule_one import CycleOutcome
from tests.builders import make_pod
from tests.unit.helpers_core import Core, build_core, small


def nominated(pod: str, node: str = "n1") -> tuple[str, str, object]:
    """The nomination a pod held at Permit gets (NominatedNodeNameForExpectation)."""
    return ("patch_pod_status", pod, (None, node))


def rejected(pod: str, message: str, reason: str = "Unschedulable") -> list[object]:
    """FailedScheduling after a wait: the event, and the condition with the nomination cleared."""
    return [
        ("record_event", pod, ("Warning", "FailedScheduling", message)),
        ("patch_pod_status", pod, (PodCondition("PodScheduled", "False", reason, message), "")),
    ]


HOLD = "Hold"


class Hold:
    """Holds every pod labelled ``hold=yes`` for ``timeout`` seconds, and
    records its Reserve and Unreserve calls."""

    name: ClassVar[str] = HOLD

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self.calls: list[str] = []

    def reserve(self, state: CycleState, pod: PodInfo, node: NodeName) -> Status:
        self.calls.append(f"reserve {pod.name} {node}")
        return Status()

    def unreserve(self, state: CycleState, pod: PodInfo, node: NodeName) -> None:
        self.calls.append(f"unreserve {pod.name} {node}")

    def permit(self, state: CycleState, pod: PodInfo, node: NodeName) -> tuple[Status, float]:
        if pod.labels.get("hold") == "yes":
            return Status.wait(), self.timeout
        return Status(), 0.0

    def events_to_register(self) -> Sequence[ClusterEventWithHint]:
        return (ClusterEventWithHint(event(Resource.NODE, ActionType.ADD)),)


class Waits(NoMetrics):
    def __init__(self) -> None:
        self.waits: list[tuple[str, float]] = []

    def permit_wait(self, result: str, seconds: float) -> None:
        self.waits.append((result, seconds))


CONFIG = {
    "apiVersion": "kubescheduler.config.k8s.io/v1",
    "kind": "KubeSchedulerConfiguration",
    "profiles": [
        {"schedulerName": "py-scheduler", "plugins": {"multiPoint": {"enabled": [{"name": HOLD}]}}}
    ],
}


def held(name: str, cpu: str = "1", **kwargs: object) -> PodInfo:
    return make_pod(name, requests={"cpu": cpu}, labels={"hold": "yes"}, **kwargs)


def core_with(hold: Hold, *nodes_: str, **kwargs: object) -> Core:
    return build_core([small(n) for n in nodes_], raw_config=CONFIG, extra=[hold], **kwargs)  # type: ignore[arg-type]


def binds(core: Core) -> list[tuple[str, object]]:
    return [(call[1], call[2]) for call in core.cluster.calls if call[0] == "bind"]


async def test_a_waiting_pod_stays_assumed_and_binds_once_allowed() -> None:
    hold = Hold()
    core = core_with(hold, "n1")
    pod = held("a")
    await _schedule(core, pod)
    fwk = core.frameworks["py-scheduler"]
    waiting = fwk.get_waiting_pod(pod.uid)
    assert waiting is not None
    assert waiting.pending_plugins() == [HOLD]
    assert waiting.pod.node_name == "n1"
    assert core.cache.is_assumed(pod.uid)
    assert binds(core) == []
    assert [w.pod.name for w in fwk.waiting_pods()] == ["a"]
    waiting.allow(HOLD)
    await core.settle()
    assert binds(core) == [("default/a", "n1")]
    assert core.cluster.calls[0] == nominated("default/a")
    assert fwk.get_waiting_pod(pod.uid) is None
    assert hold.calls == ["reserve a n1"]


async def test_the_nomination_of_a_waiting_pod_does_not_count_it_twice() -> None:
    core = core_with(Hold(), "n1")
    pod = held("a", cpu="600m")
    await _schedule(core, pod)
    # The watch shows the nomination written while it waits.
    core.scheduler.on_pod(held("a", cpu="600m", nominated_node="n1"))
    assert core.scheduler.nominator.node_of(pod.uid) is None
    outcome = await _schedule(core, make_pod("b", requests={"cpu": "400m"}))
    assert outcome is not None
    assert outcome.node == "n1"


async def test_the_loop_keeps_scheduling_while_a_pod_waits() -> None:
    core = core_with(Hold(), "n1", "n2")
    await _schedule(core, held("a"))
    # Both nodes tie for a: the random draw picks its node, b gets the other.
    (waiting,) = core.frameworks["py-scheduler"].waiting_pods()
    other = "n2" if waiting.pod.node_name == "n1" else "n1"
    await _schedule(core, make_pod("b", requests={"cpu": "500m"}))
    assert binds(core) == [("default/b", other)]


async def test_a_waiting_pod_holds_its_room() -> None:
    # The assumed pod counts on its node: nothing is double-booked on it.
    core = core_with(Hold(), "n1")
    await _schedule(core, held("a"))
    outcome = await _schedule(core, make_pod("b", requests={"cpu": "1"}))
    assert outcome is not None
    assert outcome.node is None
    assert outcome.message.startswith("0/1 nodes are available: 1 Insufficient cpu.")


async def test_a_timeout_unreserves_forgets_and_requeues_with_upstreams_message() -> None:
    hold = Hold(timeout=10.0)
    recorder = Waits()
    outcomes: list[CycleOutcome] = []
    core = core_with(hold, "n1", recorder=recorder, listeners=[outcomes.append])
    pod = held("a")
    await _schedule(core, pod)
    assert core.timers.advance(9.0) == 0
    assert core.timers.advance(1.0) == 1
    await core.settle()
    message = "0/1 nodes are available: 1 rejected due to timeout after waiting 10s at plugin Hold."
    assert binds(core) == []
    assert core.cluster.calls == [nominated("default/a"), *rejected("default/a", message)]
    assert hold.calls == ["reserve a n1", "unreserve a n1"]
    assert not core.cache.is_assumed(pod.uid)
    node = core.cache.get("n1")
    assert node is not None
    assert node.requested.milli_cpu == 0
    assert core.queue.where(pod.uid) == UNSCHEDULABLE
    assert recorder.waits == [("Unschedulable", 10.0)]
    assert (outcomes[-1].pod.name, outcomes[-1].node, outcomes[-1].message) == ("a", None, message)
    # Rejected by Hold: an event Hold registered brings it back.
    core.scheduler.on_node(small("n2"))
    assert core.queue.where(pod.uid) != UNSCHEDULABLE


class Heard:
    """A cycle observer (explain's diagnoses and annotations hear the same)."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, str, str]] = []

    def unschedulable(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        fit: FitError,
        result: PostFilterResult | None,
    ) -> None:
        self.heard.append(("unschedulable", pod.name, str(fit)))

    def bound(self, fwk: Framework, state: CycleState, pod: PodInfo, node: NodeName) -> None:
        self.heard.append(("bound", pod.name, node))


async def test_the_observer_hears_a_rejection_after_a_wait_as_the_event_tells_it() -> None:
    heard = Heard()
    core = core_with(Hold(timeout=10.0), "n1", observer=heard)
    await _schedule(core, held("a"))
    assert heard.heard == []  # held, neither bound nor pending yet
    assert core.timers.advance(10.0) == 1
    await core.settle()
    message = "0/1 nodes are available: 1 rejected due to timeout after waiting 10s at plugin Hold."
    assert core.cluster.calls == [nominated("default/a"), *rejected("default/a", message)]
    assert heard.heard == [("unschedulable", "a", message)]
    await _schedule(core, held("b", cpu="500m"))
    waiting = core.frameworks["py-scheduler"].get_waiting_pod(held("b").uid)
    assert waiting is not None
    waiting.allow(HOLD)
    await core.settle()
    assert heard.heard[1:] == [("bound", "b", "n1")]


async def test_a_plugin_rejects_a_waiting_pod_through_the_handle() -> None:
    # upstream's TestPermitPlugin "waitAndRejectPermit": another pod's Permit rejects it.
    core = core_with(Hold(), "n1", "n2")
    pod = held("a")
    await _schedule(core, pod)
    fwk = core.frameworks["py-scheduler"]
    (waiting,) = fwk.waiting_pods()
    node = str(waiting.pod.node_name)  # both nodes tie: the random draw picks one
    assert waiting.reject(HOLD, f"reject pod {waiting.pod.name}")
    await core.settle()
    message = "0/1 nodes are available: 1 reject pod a."
    assert core.cluster.calls == [nominated("default/a", node), *rejected("default/a", message)]
    assert core.queue.where(pod.uid) == UNSCHEDULABLE


async def test_a_pod_deleted_while_waiting_is_rejected_as_removed_and_forgotten() -> None:
    hold = Hold()
    core = core_with(hold, "n1")
    pod = held("a")
    await _schedule(core, pod)
    core.scheduler.on_pod_deleted(pod)
    await core.settle()
    assert core.frameworks["py-scheduler"].get_waiting_pod(pod.uid) is None
    assert hold.calls == ["reserve a n1", "unreserve a n1"]
    assert core.cache.pod(pod.uid) is None
    assert core.queue.where(pod.uid) is None
    # Nothing more to tell about a pod that is gone.
    assert core.cluster.calls == [nominated("default/a")]
    node = core.cache.get("n1")
    assert node is not None
    assert node.requested.milli_cpu == 0


async def test_reject_waiting_pod_by_uid() -> None:
    core = core_with(Hold(), "n1")
    pod = held("a")
    await _schedule(core, pod)
    fwk = core.frameworks["py-scheduler"]
    assert fwk.reject_waiting_pod(pod.uid)
    assert not fwk.reject_waiting_pod(pod.uid)
    await core.settle()
    assert core.cluster.calls == [
        nominated("default/a"),
        *rejected("default/a", "0/1 nodes are available: 1 removed."),
    ]


async def test_a_waiting_victim_is_preempted_in_memory_not_evicted() -> None:
    # upstream's TestPreemptWithPermitPlugin: the victim waits at Permit.
    hold = Hold()
    core = core_with(hold, "n1")
    victim = held("low", priority=0)
    await _schedule(core, victim)
    preemptor = make_pod("high", requests={"cpu": "1"}, priority=100)
    await _schedule(core, preemptor)
    assert [c for c in core.cluster.calls if c[0] in ("evict", "delete")] == []
    assert core.frameworks["py-scheduler"].get_waiting_pod(victim.uid) is None
    assert hold.calls == ["reserve low n1", "unreserve low n1"]
    assert core.queue.where(victim.uid) == BACKOFF
    assert (
        "record_event",
        "default/low",
        ("Warning", "FailedScheduling", "waiting on permit for pod: preempted"),
    ) in core.cluster.calls
    # The preemptor was activated once its victim was gone, and fits now.
    await core.cycle()
    assert binds(core) == [("default/high", "n1")]


async def test_stopping_releases_waiting_pods() -> None:
    hold = Hold()
    core = core_with(hold, "n1")
    pod = held("a")
    await _schedule(core, pod)
    core.scheduler.stop()
    await core.settle()
    assert hold.calls == ["reserve a n1", "unreserve a n1"]
    assert not core.cache.is_assumed(pod.uid)
    assert binds(core) == []


# -- leadership -------------------------------------------------------------------------------


async def test_a_pod_allowed_after_the_lease_went_stale_is_rolled_back_unbound() -> None:
    hold = Hold()
    core = core_with(hold, "n1")
    leading = [True]
    core.scheduler.leading = lambda: leading[0]
    pod = held("a")
    await _schedule(core, pod)
    leading[0] = False
    waiting = core.frameworks["py-scheduler"].get_waiting_pod(pod.uid)
    assert waiting is not None
    waiting.allow(HOLD)
    await core.settle()
    # Only the nomination, written while this replica led.
    assert core.cluster.calls == [nominated("default/a")]
    assert hold.calls == ["reserve a n1", "unreserve a n1"]
    assert not core.cache.is_assumed(pod.uid)
    assert core.queue.where(pod.uid) == BACKOFF


async def test_a_wait_that_times_out_after_the_lease_went_stale_writes_nothing() -> None:
    hold = Hold(timeout=10.0)
    outcomes: list[CycleOutcome] = []
    core = core_with(hold, "n1", listeners=[outcomes.append])
    leading = [True]
    core.scheduler.leading = lambda: leading[0]
    pod = held("a")
    await _schedule(core, pod)
    leading[0] = False
    assert core.timers.advance(10.0) == 1
    await core.settle()
    assert core.cluster.calls == [nominated("default/a")]
    assert hold.calls == ["reserve a n1", "unreserve a n1"]
    assert not core.cache.is_assumed(pod.uid)
    assert core.queue.where(pod.uid) == UNSCHEDULABLE
    assert (outcomes[-1].pod.name, outcomes[-1].node) == ("a", None)


async def test_activate_moves_unschedulable_pods_through_the_handle() -> None:
    core = core_with(Hold(), "n1")
    await _schedule(core, make_pod("big", requests={"cpu": "2"}))
    big = make_pod("big", requests={"cpu": "2"})
    assert core.queue.where(big.uid) == UNSCHEDULABLE
    core.frameworks["py-scheduler"].activate([big])
    assert core.queue.where(big.uid) == "active"


async def _schedule(core: Core, pod: PodInfo) -> CycleOutcome | None:
    core.scheduler.on_pod(pod)
    queued = await core.queue.pop()
    assert queued is not None
    outcome = core.scheduler.schedule_one(queued)
    await core.settle()
    return outcome
