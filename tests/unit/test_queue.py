"""The scheduling queue, after upstream's backend/queue scheduling_queue_test.go
(TestPriorityQueue_Add/Pop, TestBackOffFlow, TestPriorityQueue_MoveAllToActiveOrBackoffQueue,
TestPriorityQueue_flushUnschedulablePodsLeftover, the gated-pod and delete tables).

Time is a fake clock the tests move by hand."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence

import pytest

from py_scheduler.framework.recorder import NO_METRICS, NoMetrics
from py_scheduler.framework.status import SUCCESS, Status
from py_scheduler.framework.types import (
    FORCE_ACTIVATE,
    UNSCHEDULABLE_TIMEOUT,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    QueuedPodInfo,
    QueueingHint,
    Resource,
    event,
)
from py_scheduler.model import PodInfo
from py_scheduler.scheduling.queue import (
    ACTIVE,
    BACKOFF,
    GATED,
    MAX_IN_UNSCHEDULABLE,
    UNSCHEDULABLE,
    SchedulingQueue,
)
from tests.builders import make_pod
from tests.fakes import FakeSnapshot
from tests.unit.helpers_core import FakeClock, default_framework

NODE_ADD = event(Resource.NODE, ActionType.ADD, "NodeAdd")
NODE_DELETE = event(Resource.NODE, ActionType.DELETE, "NodeDelete")
NODE_LABEL = event(Resource.NODE, ActionType.UPDATE_NODE_LABEL, "NodeLabelChange")
POD_DELETE = event(Resource.ASSIGNED_POD, ActionType.DELETE, "AssignedPodDelete")

EventMap = Mapping[str, Sequence[ClusterEventWithHint] | None]


class Recorder(NoMetrics):
    """Counts incoming pods as the queue reports them (queue, event)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def queue_incoming(self, queue: str, event: str) -> None:
        self.seen.append((queue, event))


def new_queue(
    clock: FakeClock,
    *,
    events: EventMap | None = None,
    recorder: Recorder | None = None,
    initial: float = 1.0,
    maximum: float = 10.0,
) -> SchedulingQueue:
    fwk = default_framework(FakeSnapshot())
    return SchedulingQueue(
        less=fwk.less,
        pre_enqueue=fwk.run_pre_enqueue,
        events=fwk.events_to_register() if events is None else events,
        initial_backoff=initial,
        max_backoff=maximum,
        clock=clock.read,
        recorder=recorder or NO_METRICS,
    )


async def pop_now(queue: SchedulingQueue) -> QueuedPodInfo | None:
    """What pop() returns without waiting, or None if it would block."""
    task = asyncio.ensure_future(queue.pop())
    await asyncio.sleep(0)  # one turn of the loop: pop either returned or is waiting
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return None


async def popped(queue: SchedulingQueue) -> QueuedPodInfo:
    queued = await pop_now(queue)
    assert queued is not None, "nothing to pop"
    return queued


async def fail(
    queue: SchedulingQueue, pod: PodInfo, *, rejectors: Sequence[str] = ("Rejector",)
) -> QueuedPodInfo:
    """Add, pop and return the pod as unschedulable (one failed attempt)."""
    queue.add(pod)
    queued = await popped(queue)
    assert queued.pod.uid == pod.uid
    queue.add_unschedulable(queued, rejectors=rejectors)
    return queued


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# -- ordering ---------------------------------------------------------------------------------


async def test_higher_priority_pods_pop_first(clock: FakeClock) -> None:
    queue = new_queue(clock)
    for name, priority in [("low", 0), ("high", 1000), ("mid", 100)]:
        queue.add(make_pod(name, priority=priority))
        clock.advance(1)
    assert [(await popped(queue)).pod.name for _ in range(3)] == ["high", "mid", "low"]


async def test_equal_priorities_pop_in_arrival_order(clock: FakeClock) -> None:
    queue = new_queue(clock)
    for name in ["first", "second", "third"]:
        queue.add(make_pod(name))
        clock.advance(1)
    assert [(await popped(queue)).pod.name for _ in range(3)] == ["first", "second", "third"]


async def test_a_retried_pod_goes_behind_its_priority_band(clock: FakeClock) -> None:
    queue = new_queue(clock)
    queue.add(make_pod("retried"))
    queued = await popped(queue)
    clock.advance(1)
    queue.add(make_pod("newer"))
    clock.advance(1)
    queue.add_unschedulable(queued, rejectors=["Rejector"])
    clock.advance(5)
    queue.move_all(UNSCHEDULABLE_TIMEOUT)
    assert [(await popped(queue)).pod.name for _ in range(2)] == ["newer", "retried"]
    assert (queued.initial_attempt_timestamp, queued.timestamp) == (1000.0, 1002.0)


async def test_pop_counts_attempts_and_keeps_the_first_timestamp(clock: FakeClock) -> None:
    queue = new_queue(clock)
    queued = await fail(queue, make_pod("p"))
    clock.advance(5)
    queue.move_all(UNSCHEDULABLE_TIMEOUT)
    again = await popped(queue)
    assert again is queued
    assert (again.attempts, again.initial_attempt_timestamp) == (2, 1000.0)


# -- backoff (TestBackOffFlow) ------------------------------------------------------------------

BACKOFF_STEPS = [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]


async def test_backoff_flow(clock: FakeClock) -> None:
    queue = new_queue(clock)
    queue.add(make_pod("test-pod", namespace="test-ns"))
    for step, want in enumerate(BACKOFF_STEPS):
        timestamp = clock.now
        queued = await popped(queue)
        assert queued.attempts == step + 1
        queue.add_unschedulable(queued, rejectors=["Rejector"])
        queue.move_all(UNSCHEDULABLE_TIMEOUT)
        assert queue.where(queued.pod.uid) == BACKOFF, f"step {step}"
        assert queued.backoff_expiration - timestamp == want, f"step {step}"
        clock.advance(0.001)
        queue.flush_backoff_completed()
        assert queue.where(queued.pod.uid) == BACKOFF, f"step {step}: left backoff early"
        clock.advance(want)
        queue.flush_backoff_completed()
        assert queue.where(queued.pod.uid) == ACTIVE, f"step {step}: still backing off"


BACKOFF_DURATIONS = [
    pytest.param(
        1.0,
        10.0,
        [0.0, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0],
        id="the default backoff doubles from one second up to ten",
    ),
    pytest.param(
        2.0,
        5.0,
        [0.0, 2.0, 4.0, 5.0, 5.0],
        id="a custom initial backoff doubles up to a custom maximum",
    ),
    pytest.param(
        3.0, 3.0, [0.0, 3.0, 3.0], id="a maximum equal to the initial backoff never doubles"
    ),
]


@pytest.mark.parametrize(("initial", "maximum", "want"), BACKOFF_DURATIONS)
def test_backoff_duration_by_failure_count(
    clock: FakeClock, initial: float, maximum: float, want: list[float]
) -> None:
    queue = new_queue(clock, initial=initial, maximum=maximum)
    queued = QueuedPodInfo(make_pod("p"), timestamp=0.0)
    got = []
    for count in range(len(want)):
        queued.unschedulable_count = count
        got.append(queue.backoff_duration(queued))
    assert got == want


def test_consecutive_errors_decide_the_backoff_over_unschedulable_attempts(
    clock: FakeClock,
) -> None:
    queue = new_queue(clock)
    queued = QueuedPodInfo(make_pod("p"), timestamp=0.0, unschedulable_count=4)
    assert queue.backoff_duration(queued) == 8.0
    queued.consecutive_errors = 1
    assert queue.backoff_duration(queued) == 1.0


# -- failure paths ------------------------------------------------------------------------------

FAILURES = [
    pytest.param(
        {"rejectors": ["NodeResourcesFit"]}, UNSCHEDULABLE, (1, 0),
        id="a rejection by a plugin parks the pod as unschedulable",
    ),
    pytest.param(
        {"error": True}, BACKOFF, (0, 1), id="an error backs the pod off"
    ),
    pytest.param(
        {"rejectors": ["NodeResourcesFit"], "error": True}, BACKOFF, (0, 1),
        id="an error backs off even with rejectors",
    ),
    pytest.param(
        {}, BACKOFF, (0, 1), id="a failure that names no plugin is treated as an error"
    ),
]  # fmt: skip


@pytest.mark.parametrize(("kwargs", "where", "counts"), FAILURES)
async def test_failure_paths(
    clock: FakeClock, kwargs: dict[str, object], where: str, counts: tuple[int, int]
) -> None:
    queue = new_queue(clock)
    queue.add(make_pod("p"))
    queued = await popped(queue)
    queue.add_unschedulable(queued, **kwargs)  # type: ignore[arg-type]
    assert queue.where(queued.pod.uid) == where
    assert (queued.unschedulable_count, queued.consecutive_errors) == counts


async def test_an_unschedulable_attempt_resets_consecutive_errors(clock: FakeClock) -> None:
    queue = new_queue(clock)
    queue.add(make_pod("p"))
    queued = await popped(queue)
    queue.add_unschedulable(queued, error=True)
    clock.advance(2)
    queue.flush_backoff_completed()
    queued = await popped(queue)
    queue.add_unschedulable(queued, rejectors=["X"])
    assert (queued.consecutive_errors, queued.unschedulable_count) == (0, 1)


async def test_a_returned_pod_already_back_in_the_queue_is_left_alone(clock: FakeClock) -> None:
    queue = new_queue(clock)
    queue.add(make_pod("p"))
    queued = await popped(queue)
    queue.done(queued.pod.uid)
    queue.add(make_pod("p"))  # the watch saw it again after its cycle ended
    queue.add_unschedulable(queued, rejectors=["X"])
    assert queue.where(queued.pod.uid) == ACTIVE
    assert queued.unschedulable_count == 0


async def test_requeue_after_error_backs_off(clock: FakeClock) -> None:
    queue = new_queue(clock)
    queue.add(make_pod("p"))
    queued = await popped(queue)
    queue.requeue_after_error(queued)
    assert (queue.where(queued.pod.uid), queued.consecutive_errors) == (BACKOFF, 1)
    assert queued.backoff_expiration == 1001.0


async def test_a_pending_pod_waits_for_an_event(clock: FakeClock) -> None:
    queue = new_queue(clock)
    queue.add(make_pod("p"))
    queued = await popped(queue)
    queue.add_unschedulable(queued, pending=["WaitingPlugin"])
    assert queue.where(queued.pod.uid) == UNSCHEDULABLE


# -- popping from backoff ---------------------------------------------------------------------


async def test_pop_takes_a_backing_off_pod_when_nothing_is_active(clock: FakeClock) -> None:
    queue = new_queue(clock)
    queued = await fail(queue, make_pod("p"))
    queue.move_all(UNSCHEDULABLE_TIMEOUT)
    assert queue.where(queued.pod.uid) == BACKOFF
    again = await pop_now(queue)
    assert again is queued
    assert again.attempts == 2


async def test_pop_prefers_active_pods_over_backing_off_ones(clock: FakeClock) -> None:
    queue = new_queue(clock)
    await fail(queue, make_pod("backing-off", priority=1000))
    queue.move_all(UNSCHEDULABLE_TIMEOUT)
    queue.add(make_pod("active", priority=0))
    assert [(await popped(queue)).pod.name for _ in range(2)] == ["active", "backing-off"]


async def test_pop_never_takes_a_pod_backing_off_after_an_error(clock: FakeClock) -> None:
    queue = new_queue(clock)
    queue.add(make_pod("p"))
    queued = await popped(queue)
    queue.add_unschedulable(queued, error=True)
    assert await pop_now(queue) is None
    clock.advance(1)
    assert queue.flush_backoff_completed() == 1
    assert await pop_now(queue) is queued


async def test_pop_waits_for_a_pod_and_returns_none_once_closed(clock: FakeClock) -> None:
    queue = new_queue(clock)
    waiting = asyncio.ensure_future(queue.pop())
    await asyncio.sleep(0)
    assert not waiting.done()
    queue.add(make_pod("p"))
    assert (await waiting) is not None
    closing = asyncio.ensure_future(queue.pop())
    await asyncio.sleep(0)
    queue.close()
    assert await closing is None


# -- cluster events (MoveAllToActiveOrBackoffQueue) -------------------------------------------


def hint(answer: QueueingHint) -> ClusterEventWithHint:
    def decide(pod: PodInfo, old: object | None, new: object | None) -> QueueingHint:
        return answer

    return ClusterEventWithHint(NODE_LABEL, decide)


def broken(pod: PodInfo, old: object | None, new: object | None) -> QueueingHint:
    raise RuntimeError("hint failed")


EVENTS: EventMap = {
    "AddOnly": [ClusterEventWithHint(NODE_ADD)],
    "LabelQueue": [hint(QueueingHint.QUEUE)],
    "LabelSkip": [hint(QueueingHint.SKIP)],
    "LabelBroken": [ClusterEventWithHint(NODE_LABEL, broken)],
    "NoExtensions": None,
    "Wildcard": [ClusterEventWithHint(ClusterEvent(Resource.WILDCARD, ActionType.ADD, "*"))],
    "Silent": [],
}

MOVES = [
    pytest.param(["AddOnly"], NODE_ADD, True, id="an event the rejector registered moves the pod"),
    pytest.param(["AddOnly"], NODE_DELETE, False, id="an event nobody registered does not"),
    pytest.param(["LabelQueue"], NODE_LABEL, True, id="a hint that says Queue moves the pod"),
    pytest.param(["LabelSkip"], NODE_LABEL, False, id="a hint that says Skip keeps the pod"),
    pytest.param(
        ["NoExtensions"], POD_DELETE, True,
        id="a plugin without EnqueueExtensions is helped by any event",
    ),
    pytest.param(
        ["Wildcard"], POD_DELETE, True, id="a wildcard registration matches every resource"
    ),
    pytest.param(["Silent"], NODE_ADD, False, id="a plugin that registered nothing never moves"),
    pytest.param(
        ["LabelSkip", "AddOnly"], NODE_LABEL, False,
        id="no rejector is helped when one skips and the other did not register the event",
    ),
    pytest.param(
        ["LabelSkip", "LabelQueue"], NODE_LABEL, True, id="one rejector saying Queue is enough"
    ),
    pytest.param(
        ["Silent"], UNSCHEDULABLE_TIMEOUT, True, id="the unschedulable timeout moves every pod"
    ),
    pytest.param(["Silent"], FORCE_ACTIVATE, True, id="force activation moves every pod"),
]  # fmt: skip


@pytest.mark.parametrize(("rejectors", "cluster_event", "moves"), MOVES)
async def test_move_all(
    clock: FakeClock, rejectors: list[str], cluster_event: ClusterEvent, moves: bool
) -> None:
    queue = new_queue(clock, events=EVENTS)
    queued = await fail(queue, make_pod("p"), rejectors=rejectors)
    clock.advance(5)
    assert queue.move_all(cluster_event) == int(moves)
    assert queue.where(queued.pod.uid) == (ACTIVE if moves else UNSCHEDULABLE)


async def test_a_failing_hint_counts_as_queue(clock: FakeClock) -> None:
    queue = new_queue(clock, events=EVENTS)
    queued = await fail(queue, make_pod("p"), rejectors=["LabelBroken"])
    clock.advance(5)
    assert queue.move_all(NODE_LABEL) == 1
    assert queue.where(queued.pod.uid) == ACTIVE


async def test_a_moved_pod_still_backing_off_goes_to_backoff(clock: FakeClock) -> None:
    recorder = Recorder()
    queue = new_queue(clock, events=EVENTS, recorder=recorder)
    queued = await fail(queue, make_pod("p"), rejectors=["AddOnly"])
    clock.advance(0.5)
    queue.move_all(NODE_ADD)
    assert queue.where(queued.pod.uid) == BACKOFF
    assert recorder.seen == [
        (ACTIVE, "PodAdd"),
        (UNSCHEDULABLE, "ScheduleAttemptFailure"),
        (BACKOFF, "NodeAdd"),
    ]


async def test_hints_see_the_pod_and_the_event_objects(clock: FakeClock) -> None:
    seen: list[tuple[str, object, object]] = []

    def record(pod: PodInfo, old: object | None, new: object | None) -> QueueingHint:
        seen.append((pod.name, old, new))
        return QueueingHint.SKIP

    queue = new_queue(clock, events={"P": [ClusterEventWithHint(NODE_LABEL, record)]})
    await fail(queue, make_pod("p"), rejectors=["P"])
    queue.move_all(NODE_LABEL, "old-node", "new-node")
    assert seen == [("p", "old-node", "new-node")]


async def test_move_all_leaves_active_and_backoff_pods_alone(clock: FakeClock) -> None:
    queue = new_queue(clock, events=EVENTS)
    queue.add(make_pod("active"))
    assert queue.move_all(UNSCHEDULABLE_TIMEOUT) == 0
    assert queue.lengths() == {ACTIVE: 1, BACKOFF: 0, UNSCHEDULABLE: 0, GATED: 0}


async def test_activate_moves_unschedulable_and_backoff_pods(clock: FakeClock) -> None:
    queue = new_queue(clock)
    parked = await fail(queue, make_pod("parked"))
    queue.add(make_pod("errored"))
    errored = await popped(queue)
    queue.add_unschedulable(errored, error=True)
    queue.activate([parked.pod, errored.pod, make_pod("unknown")])
    assert (queue.where(parked.pod.uid), queue.where(errored.pod.uid)) == (ACTIVE, ACTIVE)
    assert len(queue) == 2


async def test_a_pod_activated_out_of_backoff_keeps_its_next_backoff(clock: FakeClock) -> None:
    queue = new_queue(clock)
    queued = await fail(queue, make_pod("p"))
    queue.move_all(UNSCHEDULABLE_TIMEOUT)
    assert queued.backoff_expiration == 1001.0
    queue.activate([queued.pod])
    again = await popped(queue)
    queue.add_unschedulable(again, rejectors=["X"])
    queue.move_all(UNSCHEDULABLE_TIMEOUT)
    assert queued.backoff_expiration == 1002.0
    clock.advance(1)
    assert queue.flush_backoff_completed() == 0
    assert queue.where(queued.pod.uid) == BACKOFF


async def test_back_off_moves_only_unschedulable_pods(clock: FakeClock) -> None:
    queue = new_queue(clock)
    parked = await fail(queue, make_pod("parked"))
    queue.add(make_pod("active"))
    queue.back_off(parked.pod.uid)
    queue.back_off(make_pod("active").uid)
    assert queue.where(parked.pod.uid) == BACKOFF
    assert parked.backoff_expiration == 1001.0
    assert queue.where(make_pod("active").uid) == ACTIVE


async def test_unschedulable_pods_are_counted_by_plugin_and_profile(clock: FakeClock) -> None:
    queue = new_queue(clock)
    await fail(queue, make_pod("a"), rejectors=["NodeResourcesFit", "TaintToleration"])
    await fail(queue, make_pod("b"), rejectors=["NodeResourcesFit"])
    assert queue.unschedulable_by_plugin() == {
        ("NodeResourcesFit", "py-scheduler"): 2,
        ("TaintToleration", "py-scheduler"): 1,
    }


# -- the leftover flush --------------------------------------------------------------------------

LEFTOVERS = [
    pytest.param(
        MAX_IN_UNSCHEDULABLE - 1, UNSCHEDULABLE, id="a pod waiting under five minutes stays"
    ),
    pytest.param(
        MAX_IN_UNSCHEDULABLE, UNSCHEDULABLE, id="a pod waiting exactly five minutes stays"
    ),
    pytest.param(
        MAX_IN_UNSCHEDULABLE + 0.5, ACTIVE, id="a pod waiting over five minutes is flushed"
    ),
]


@pytest.mark.parametrize(("waited", "where"), LEFTOVERS)
async def test_flush_unschedulable_leftover(clock: FakeClock, waited: float, where: str) -> None:
    queue = new_queue(clock, events=EVENTS)
    queued = await fail(queue, make_pod("p"), rejectors=["Silent"])
    clock.advance(waited)
    assert queue.flush_unschedulable_leftover() == int(where == ACTIVE)
    assert queue.where(queued.pod.uid) == where


async def test_a_flushed_pod_is_marked_until_its_next_attempt(clock: FakeClock) -> None:
    queue = new_queue(clock, events=EVENTS)
    queued = await fail(queue, make_pod("p"), rejectors=["Silent"])
    assert not queued.flushed_from_unschedulable
    clock.advance(MAX_IN_UNSCHEDULABLE + 1)
    assert queue.flush_unschedulable_leftover() == 1
    popped = await queue.pop()
    assert popped is queued
    assert popped.flushed_from_unschedulable
    # Back after a failed attempt: the mark is gone.
    queue.add_unschedulable(popped, rejectors=["Silent"])
    assert not popped.flushed_from_unschedulable


def test_the_leftover_limit_is_five_minutes() -> None:
    assert MAX_IN_UNSCHEDULABLE == 300.0


# -- gated pods ---------------------------------------------------------------------------------


async def test_a_gated_pod_waits_and_is_never_popped(clock: FakeClock) -> None:
    recorder = Recorder()
    queue = new_queue(clock, recorder=recorder)
    pod = make_pod("p", gates=["example.com/gate"])
    queue.add(pod)
    assert queue.where(pod.uid) == GATED
    assert await pop_now(queue) is None
    clock.advance(MAX_IN_UNSCHEDULABLE * 2)
    assert queue.flush_unschedulable_leftover() == 0
    assert queue.move_all(UNSCHEDULABLE_TIMEOUT) == 0
    assert queue.where(pod.uid) == GATED
    assert recorder.seen == [(GATED, "PodAdd")]


async def test_removing_the_last_gate_activates_the_pod(clock: FakeClock) -> None:
    recorder = Recorder()
    queue = new_queue(clock, recorder=recorder)
    queue.add(make_pod("p", gates=["a", "b"]))
    queue.update(make_pod("p", gates=["b"]))
    assert queue.where(make_pod("p").uid) == GATED
    queue.update(make_pod("p"))
    queued = await popped(queue)
    assert (queued.pod.scheduling_gates, queued.gating_plugin) == ((), "")
    assert recorder.seen[-1] == (ACTIVE, "UpdatePodSchedulingGatesEliminated")


async def test_activating_a_gated_pod_runs_pre_enqueue_again(clock: FakeClock) -> None:
    held = {"p"}

    def pre_enqueue(pod: PodInfo) -> Status:
        if pod.name in held:
            return Status.unresolvable("held").with_plugin("Holder")
        return Status()

    fwk = default_framework(FakeSnapshot())
    queue = SchedulingQueue(less=fwk.less, pre_enqueue=pre_enqueue, events={}, clock=clock.read)
    queue.add(make_pod("p"))
    assert queue.where(make_pod("p").uid) == GATED
    queue.activate([make_pod("p")])
    assert queue.where(make_pod("p").uid) == GATED  # still held: PreEnqueue is not skipped
    held.clear()
    queue.activate([make_pod("p")])
    queued = await popped(queue)
    assert queued.pod.name == "p"


def test_a_requeued_pod_that_is_gated_records_the_gate(clock: FakeClock) -> None:
    queue = new_queue(clock)
    queued = QueuedPodInfo(make_pod("p", gates=["x", "y"]), timestamp=clock.now)
    queue.add_unschedulable(queued, rejectors=["X"])
    clock.advance(5)
    queue.move_all(UNSCHEDULABLE_TIMEOUT)
    assert queue.where(queued.pod.uid) == GATED
    assert (queued.gating_plugin, queued.gating_message) == (
        "SchedulingGates",
        "waiting for scheduling gates: [x y]",
    )


# -- updates and deletes ----------------------------------------------------------------------

UPDATES = [
    pytest.param({"labels": {"app": "web"}}, ACTIVE, id="a label change moves the pod"),
    pytest.param({"requests": {"cpu": "50m"}}, ACTIVE, id="a smaller request moves the pod"),
    pytest.param(
        {"tolerations": [{"key": "k", "operator": "Exists"}]}, ACTIVE,
        id="a new toleration moves the pod",
    ),
    pytest.param(
        {"node_selector": {"disk": "ssd"}}, ACTIVE, id="a node selector change moves the pod"
    ),
    pytest.param({}, UNSCHEDULABLE, id="an update without a spec change keeps it parked"),
    pytest.param(
        {"nominated_node": "n1"}, UNSCHEDULABLE, id="a status-only change keeps it parked"
    ),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "where"), UPDATES)
async def test_an_update_of_an_unschedulable_pod(
    clock: FakeClock, changes: dict[str, object], where: str
) -> None:
    recorder = Recorder()
    queue = new_queue(clock, recorder=recorder)
    await fail(queue, make_pod("p", requests={"cpu": "1"}))
    clock.advance(5)
    updated = make_pod("p", **({"requests": {"cpu": "1"}} | changes))
    queue.update(updated)
    assert queue.where(updated.uid) == where
    if where == ACTIVE:
        assert recorder.seen[-1] == (ACTIVE, "UnscheduledPodUpdate")
        assert (await popped(queue)).pod is updated


async def test_an_update_while_in_flight_reaches_the_popped_entry(clock: FakeClock) -> None:
    queue = new_queue(clock)
    queue.add(make_pod("p"))
    queued = await popped(queue)
    newer = make_pod("p", labels={"v": "2"})
    queue.update(newer)
    assert queued.pod is newer
    assert queue.where(newer.uid) is None


async def test_an_update_of_an_unknown_pod_adds_it(clock: FakeClock) -> None:
    recorder = Recorder()
    queue = new_queue(clock, recorder=recorder)
    queue.update(make_pod("p"))
    assert queue.where(make_pod("p").uid) == ACTIVE
    assert recorder.seen == [(ACTIVE, "PodUpdate")]


DELETES = [
    pytest.param("active", id="delete an active pod"),
    pytest.param("backoff", id="delete a backing-off pod"),
    pytest.param("unschedulable", id="delete an unschedulable pod"),
    pytest.param("gated", id="delete a gated pod"),
]


@pytest.mark.parametrize("state", DELETES)
async def test_delete(clock: FakeClock, state: str) -> None:
    queue = new_queue(clock)
    pod = make_pod("p", gates=["g"] if state == "gated" else ())
    if state in ("active", "gated"):
        queue.add(pod)
    else:
        await fail(queue, pod)
        if state == "backoff":
            queue.move_all(UNSCHEDULABLE_TIMEOUT)
    assert queue.where(pod.uid) == state
    queue.add(make_pod("other", priority=-1))
    queue.delete(pod)
    assert queue.where(pod.uid) is None
    assert len(queue) == 1
    # The stale heap entry is skipped: the next pop is the other pod, then nothing.
    assert (await popped(queue)).pod.name == "other"
    assert await pop_now(queue) is None
    queue.flush_backoff_completed()
    assert await pop_now(queue) is None


async def test_a_pod_deleted_while_in_flight_is_no_longer_tracked(clock: FakeClock) -> None:
    queue = new_queue(clock)
    queue.add(make_pod("p"))
    queued = await popped(queue)
    queue.delete(queued.pod)
    assert len(queue) == 0
    assert await pop_now(queue) is None


def test_lengths_and_where(clock: FakeClock) -> None:
    queue = new_queue(clock)
    queue.add(make_pod("a"))
    queue.add(make_pod("b", gates=["g"]))
    assert queue.lengths() == {ACTIVE: 1, BACKOFF: 0, UNSCHEDULABLE: 0, GATED: 1}
    assert queue.where(make_pod("missing").uid) is None
    assert len(queue) == 2


def test_pre_enqueue_is_consulted_with_the_pod(clock: FakeClock) -> None:
    asked: list[str] = []

    def pre_enqueue(pod: PodInfo) -> Status:
        asked.append(pod.name)
        return SUCCESS if pod.name != "held" else Status.unresolvable("held").with_plugin("Hold")

    queue = SchedulingQueue(
        less=default_framework(FakeSnapshot()).less,
        pre_enqueue=pre_enqueue,
        events={},
        clock=clock.read,
    )
    queue.add(make_pod("free"))
    queue.add(make_pod("held"))
    assert asked == ["free", "held"]
    assert (queue.where(make_pod("free").uid), queue.where(make_pod("held").uid)) == (
        ACTIVE,
        GATED,
    )


CLAIM_ADD = event(Resource.RESOURCE_CLAIM, ActionType.ADD, "ResourceClaimAdd")


async def test_a_pod_gated_by_a_plugin_is_let_in_by_that_plugins_event(clock: FakeClock) -> None:
    """As DynamicResources' PreEnqueue: the claim's arrival opens the gate."""
    claim_exists = False

    def pre_enqueue(pod: PodInfo) -> Status:
        if claim_exists:
            return SUCCESS
        return Status.unresolvable("ResourceClaim not created yet").with_plugin("Claims")

    queue = SchedulingQueue(
        less=default_framework(FakeSnapshot()).less,
        pre_enqueue=pre_enqueue,
        events={"Claims": [ClusterEventWithHint(CLAIM_ADD)]},
        clock=clock.read,
    )
    pod = make_pod("p")
    queue.add(pod)
    assert queue.where(pod.uid) == GATED
    assert queue.move_all(NODE_ADD) == 0, "an event the plugin did not register"
    assert queue.move_all(CLAIM_ADD) == 0, "the gate is still closed"
    assert queue.where(pod.uid) == GATED
    assert queue.move_all(UNSCHEDULABLE_TIMEOUT) == 0
    claim_exists = True
    assert queue.move_all(CLAIM_ADD) == 1
    info = await popped(queue)
    assert info.pod.uid == pod.uid
