"""Pods held at Permit (``framework/waiting_pods.py``), after upstream's
waiting_pods_map_test.go, plus the timers and Go's duration format that its
timeout message uses."""

from __future__ import annotations

import asyncio

import pytest

from py_scheduler.framework.status import Code, Status
from py_scheduler.framework.waiting_pods import (
    LoopTimers,
    ManualTimers,
    WaitingPods,
    go_duration,
)
from tests.builders import make_pod

POD = make_pod("p")


class Outcomes:
    def __init__(self) -> None:
        self.seen: list[tuple[Status, float]] = []

    def __call__(self, status: Status, waited: float) -> None:
        self.seen.append((status, waited))


def held(waits: dict[str, float]) -> tuple[WaitingPods, ManualTimers, Outcomes]:
    timers = ManualTimers()
    pods = WaitingPods(timers)
    outcomes = Outcomes()
    pods.add(POD, waits, outcomes)
    return pods, timers, outcomes


GO_DURATIONS = [
    (0.0, "0s"),
    (1.0, "1s"),
    (10.0, "10s"),
    (1.5, "1.5s"),
    (0.5, "500ms"),
    (0.0015, "1.5ms"),
    (0.000002, "2µs"),
    (60.0, "1m0s"),
    (90.0, "1m30s"),
    (900.0, "15m0s"),
    (3600.0, "1h0m0s"),
    (3661.25, "1h1m1.25s"),
]


@pytest.mark.parametrize(("seconds", "text"), GO_DURATIONS)
def test_durations_read_as_go_prints_them(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_the_pod_goes_on_once_every_waiting_plugin_allowed_it() -> None:
    pods, _, outcomes = held({"A": 10.0, "B": 10.0})
    waiting = pods.get(POD.uid)
    assert waiting is not None
    assert sorted(waiting.pending_plugins()) == ["A", "B"]
    waiting.allow("A")
    assert outcomes.seen == []
    assert waiting.pending_plugins() == ["B"]
    waiting.allow("B")
    assert outcomes.seen == [(Status(), 0.0)]
    assert pods.get(POD.uid) is None
    assert len(pods) == 0


def test_allowing_a_plugin_that_is_not_pending_changes_nothing() -> None:
    pods, _, outcomes = held({"A": 10.0})
    waiting = pods.get(POD.uid)
    assert waiting is not None
    waiting.allow("Other")
    assert outcomes.seen == []
    assert waiting.pending_plugins() == ["A"]


def test_a_rejection_ends_the_wait_at_once_with_the_plugin_and_message() -> None:
    pods, timers, outcomes = held({"A": 10.0, "B": 10.0})
    waiting = pods.get(POD.uid)
    assert waiting is not None
    waiting.allow("A")
    timers.advance(2.0)
    assert waiting.reject("B", "rejected")
    assert outcomes.seen == [(Status(Code.UNSCHEDULABLE, ("rejected",), "B"), 2.0)]
    # The other timers were stopped: the clock passing the timeout fires nothing.
    assert timers.advance(60.0) == 0
    assert len(outcomes.seen) == 1


def test_preemption_ends_the_wait_with_an_error() -> None:
    pods, _, outcomes = held({"A": 10.0})
    waiting = pods.get(POD.uid)
    assert waiting is not None
    assert waiting.preempt("DefaultPreemption", "preempted")
    assert outcomes.seen == [(Status(Code.ERROR, ("preempted",), "DefaultPreemption"), 0.0)]


@pytest.mark.parametrize("action", ["reject", "preempt"])
def test_reject_and_preempt_return_false_on_an_allowed_pod(action: str) -> None:
    # upstream's TestWaitingPodReturnFalseOnAllowed
    pods, _, outcomes = held({"plugin1": 10.0})
    waiting = pods.get(POD.uid)
    assert waiting is not None
    waiting.allow("plugin1")
    stop = waiting.reject if action == "reject" else waiting.preempt
    assert not stop("plugin2", "too late")
    assert outcomes.seen == [(Status(), 0.0)]


def test_only_the_first_outcome_counts() -> None:
    # upstream's TestWaitingPodMultipleActions
    pods, _, outcomes = held({"plugin1": 10.0})
    waiting = pods.get(POD.uid)
    assert waiting is not None
    assert waiting.reject("plugin1", "first")
    assert not waiting.reject("plugin2", "second")
    assert not waiting.preempt("preemption-plugin", "preempted")
    waiting.allow("plugin1")
    assert [s.message for s, _ in outcomes.seen] == ["first"]


def test_the_first_timeout_rejects_with_upstreams_message() -> None:
    pods, timers, outcomes = held({"Short": 3.0, "Long": 900.0})
    assert timers.advance(2.9) == 0
    assert outcomes.seen == []
    assert timers.advance(0.2) == 1
    assert outcomes.seen == [
        (
            Status(
                Code.UNSCHEDULABLE,
                ("rejected due to timeout after waiting 3s at plugin Short",),
                "Short",
            ),
            3.0,
        )
    ]
    assert pods.get(POD.uid) is None
    assert timers.advance(1000.0) == 0


def test_a_plugin_that_allowed_no_longer_times_out() -> None:
    pods, timers, outcomes = held({"A": 3.0, "B": 5.0})
    waiting = pods.get(POD.uid)
    assert waiting is not None
    waiting.allow("A")
    assert timers.advance(4.0) == 0
    assert timers.advance(2.0) == 1
    assert [(s.plugin, s.message) for s, _ in outcomes.seen] == [
        ("B", "rejected due to timeout after waiting 5s at plugin B")
    ]


def test_iterating_is_safe_while_allowing() -> None:
    timers = ManualTimers()
    pods = WaitingPods(timers)
    outcomes = Outcomes()
    for name in ("a", "b", "c"):
        pods.add(make_pod(name), {"P": 10.0}, outcomes)
    for waiting in pods:
        waiting.allow("P")
    assert len(pods) == 0
    assert len(outcomes.seen) == 3


def test_a_waiting_pod_needs_a_waiting_plugin() -> None:
    with pytest.raises(ValueError, match="at least one waiting plugin"):
        WaitingPods(ManualTimers()).add(POD, {}, Outcomes())


def test_manual_timers_fire_in_deadline_order_and_skip_cancelled_ones() -> None:
    timers = ManualTimers()
    fired: list[str] = []
    timers.call_later(5.0, lambda: fired.append("late"))
    cancelled = timers.call_later(1.0, lambda: fired.append("cancelled"))
    timers.call_later(2.0, lambda: fired.append("early"))
    cancelled.cancel()
    assert timers.fire_next()
    assert (fired, timers.now()) == (["early"], 2.0)
    assert timers.fire_next()
    assert not timers.fire_next()
    assert fired == ["early", "late"]


async def test_loop_timers_fire_on_the_event_loop() -> None:
    timers = LoopTimers()
    pods = WaitingPods(timers)
    done = asyncio.Event()
    seen: list[Status] = []

    def on_done(status: Status, waited: float) -> None:
        seen.append(status)
        done.set()

    pods.add(POD, {"Quick": 0.01}, on_done)
    await asyncio.wait_for(done.wait(), 5)
    assert seen[0].reasons == ("rejected due to timeout after waiting 10ms at plugin Quick",)
