"""A plugin that raises, returns the wrong type or is slow never takes the
scheduler down: each case becomes an Error status naming the plugin (the pod
backs off and is retried), a Score outside 0..100 after normalising is an
Error as upstream, a broken QueueSort falls back to PrioritySort's order, and
other pods keep being scheduled."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import pytest
import structlog

from py_scheduler.framework import ActionType, ClusterEventWithHint, Resource, event
from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.runtime import Framework, FrameworkError
from py_scheduler.framework.status import Code, Status
from py_scheduler.framework.types import NodeToStatus, QueuedPodInfo
from py_scheduler.model import NodeInfo, NodeName, PodInfo
from py_scheduler.scheduling.queue import BACKOFF
from tests.builders import make_pod, node_info
from tests.fakes import FakeSnapshot
from tests.unit.helpers_core import build_core, framework, small

POD = make_pod("p")
NODES = [node_info("n1"), node_info("n2")]
WRONG = "not a status"


class Bad:
    """Every extension point; each answers ``outcome()``: raise, or return it."""

    name: ClassVar[str] = "Bad"

    def __init__(self, outcome: Callable[[], Any]) -> None:
        self.outcome = outcome

    def pre_enqueue(self, pod: PodInfo) -> Any:
        return self.outcome()

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Any:
        return self.outcome()

    def pre_filter_extensions(self) -> None:
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Any:
        return self.outcome()

    def post_filter(self, state: CycleState, pod: PodInfo, statuses: NodeToStatus) -> Any:
        return self.outcome()

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Any:
        return self.outcome()

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Any:
        return self.outcome()

    def reserve(self, state: CycleState, pod: PodInfo, node: NodeName) -> Any:
        return self.outcome()

    def unreserve(self, state: CycleState, pod: PodInfo, node: NodeName) -> None:
        self.outcome()

    async def pre_bind(self, state: CycleState, pod: PodInfo, node: NodeName) -> Any:
        return self.outcome()

    async def bind(self, state: CycleState, pod: PodInfo, node: NodeName) -> Any:
        return self.outcome()


def raising() -> Any:
    raise ValueError("plugin bug")


def wrong() -> Any:
    return WRONG


def run_point(fwk: Framework, point: str) -> Status:
    state = CycleState()
    node = NodeName("n1")
    match point:
        case "PreEnqueue":
            return fwk.run_pre_enqueue(POD)
        case "PreFilter":
            return fwk.run_pre_filter(state, POD, NODES)[1]
        case "Filter":
            return fwk.run_filters(state, POD, NODES[0])
        case "PostFilter":
            return fwk.run_post_filter(state, POD, NodeToStatus())[1]
        case "PreScore":
            return fwk.run_pre_score(state, POD, NODES)
        case "Score":
            return fwk.run_score(state, POD, NODES)[1]
        case "Reserve":
            return fwk.run_reserve(state, POD, node)
        case "PreBind":
            return asyncio.run(fwk.run_pre_bind(state, POD, node))
        case "Bind":
            return asyncio.run(fwk.run_bind(state, POD, node))
    raise AssertionError(point)


RAISES = {
    "PreEnqueue": "PreEnqueue plugin 'Bad' raised ValueError('plugin bug')",
    "PreFilter": "PreFilter plugin 'Bad' raised ValueError('plugin bug')",
    "Filter": "Filter plugin 'Bad' raised ValueError('plugin bug')",
    "PostFilter": "PostFilter plugin 'Bad' raised ValueError('plugin bug')",
    "PreScore": "PreScore plugin 'Bad' raised ValueError('plugin bug')",
    "Score": "Score plugin 'Bad' raised ValueError('plugin bug')",
    "Reserve": "Reserve plugin 'Bad' raised ValueError('plugin bug')",
    "PreBind": "PreBind plugin 'Bad' raised ValueError('plugin bug')",
    "Bind": "Bind plugin 'Bad' raised ValueError('plugin bug')",
}

WRONG_TYPES = {
    "PreEnqueue": "PreEnqueue plugin 'Bad' returned str, not a Status",
    "PreFilter": "PreFilter plugin 'Bad' returned str, not (PreFilterResult | None, Status)",
    "Filter": "Filter plugin 'Bad' returned str, not a Status",
    "PostFilter": "PostFilter plugin 'Bad' returned str, not (PostFilterResult | None, Status)",
    "PreScore": "PreScore plugin 'Bad' returned str, not a Status",
    "Score": "Score plugin 'Bad' returned a score of type str, not an int",
    "Reserve": "Reserve plugin 'Bad' returned str, not a Status",
    "PreBind": "PreBind plugin 'Bad' returned str, not a Status",
    "Bind": "Bind plugin 'Bad' returned str, not a Status",
}


@pytest.mark.parametrize(("point", "message"), RAISES.items(), ids=list(RAISES))
def test_a_raising_plugin_is_an_error_naming_it(point: str, message: str) -> None:
    status = run_point(framework(Bad(raising)), point)
    assert (status.code, status.plugin) == (Code.ERROR, "Bad")
    assert message in status.message


@pytest.mark.parametrize(("point", "message"), WRONG_TYPES.items(), ids=list(WRONG_TYPES))
def test_a_wrong_return_type_is_an_error_naming_the_plugin(point: str, message: str) -> None:
    status = run_point(framework(Bad(wrong)), point)
    assert (status.code, status.plugin) == (Code.ERROR, "Bad")
    assert message in status.message


SCORES = [
    pytest.param(lambda: 50.5, "Score plugin 'Bad' returned a score of type float", id="a float"),
    pytest.param(lambda: None, "Score plugin 'Bad' returned a score of type None", id="None"),
    pytest.param(lambda: True, "Score plugin 'Bad' returned a score of type bool", id="a bool"),
    pytest.param(
        lambda: 101,
        "plugin 'Bad' returns an invalid score 101, it should in the range of [0, 100] "
        "after normalizing",
        id="out of range, as upstream",
    ),
]


@pytest.mark.parametrize(("outcome", "message"), SCORES)
def test_scores_must_be_ints_in_range(outcome: Callable[[], Any], message: str) -> None:
    status = run_point(framework(Bad(outcome)), "Score")
    assert (status.code, status.plugin) == (Code.ERROR, "Bad")
    assert message in status.message


def test_unreserve_that_raises_is_logged_and_the_others_still_run() -> None:
    class Tracking(Bad):
        name: ClassVar[str] = "Tracking"
        undone: ClassVar[list[str]] = []

        def unreserve(self, state: CycleState, pod: PodInfo, node: NodeName) -> None:
            self.undone.append(node)

    fwk = framework(Tracking(lambda: Status()), Bad(raising))
    with structlog.testing.capture_logs() as logs:
        fwk.run_unreserve(CycleState(), POD, NodeName("n1"))
    assert Tracking.undone == ["n1"]
    assert [(e["event"], e["plugin"]) for e in logs] == [("unreserve failed", "Bad")]


class BadSort:
    name: ClassVar[str] = "BadSort"

    def __init__(self, outcome: Callable[[], Any]) -> None:
        self.outcome = outcome

    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> Any:
        return self.outcome()


@pytest.mark.parametrize("outcome", [raising, wrong], ids=["raises", "wrong type"])
def test_a_broken_queue_sort_falls_back_to_priority_order(outcome: Callable[[], Any]) -> None:
    fwk = framework(BadSort(outcome), sort=False)
    high = QueuedPodInfo(make_pod("high", priority=10), timestamp=2.0)
    low = QueuedPodInfo(make_pod("low", priority=1), timestamp=1.0)
    with structlog.testing.capture_logs() as logs:
        assert fwk.less(high, low)
        assert not fwk.less(low, high)
    # Logged once, not on every comparison.
    assert [(e["event"], e["plugin"]) for e in logs] == [
        ("plugin failed; using PrioritySort's order", "BadSort")
    ]


class BadEvents:
    name: ClassVar[str] = "BadEvents"

    def __init__(self, events: Callable[[], Any]) -> None:
        self.events = events

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        return Status()

    def events_to_register(self) -> Sequence[ClusterEventWithHint]:
        return self.events()  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("events", "message"),
    [
        (raising, "events_to_register raised ValueError: plugin bug"),
        (
            lambda: [event(Resource.NODE, ActionType.ADD)],
            "events_to_register gave ClusterEvent, not a ClusterEventWithHint",
        ),
    ],
    ids=["raises", "wrong type"],
)
def test_broken_events_stop_start_up_naming_the_plugin(
    events: Callable[[], Any], message: str
) -> None:
    with pytest.raises(FrameworkError) as caught:
        framework(BadEvents(events))
    assert str(caught.value) == f"profile 'test-profile': plugin 'BadEvents': {message}"


class Slow:
    name: ClassVar[str] = "Slow"

    def __init__(self, clock: list[float]) -> None:
        self.clock = clock

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        self.clock[0] += 0.5  # half a second passes in this call
        return Status()

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        self.clock[0] += 0.06
        return Status()


def test_a_slow_plugin_is_logged_with_its_point_and_pod_at_most_every_ten_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr("py_scheduler.framework.runtime.time.perf_counter", lambda: clock[0])
    monkeypatch.setattr("py_scheduler.framework.runtime.time.monotonic", lambda: clock[0])
    fwk = framework(Slow(clock), snapshot=FakeSnapshot(NODES))
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            assert fwk.run_pre_score(CycleState(), POD, NODES).is_success
        clock[0] += 10.0
        fwk.run_pre_score(CycleState(), POD, NODES)
    slow = [
        (e["plugin"], e["extension_point"], e["seconds"], e["since_last_warning"]) for e in logs
    ]
    assert slow == [("Slow", "PreScore", 0.5, 0), ("Slow", "PreScore", 0.5, 2)]


def test_a_slow_filter_plugin_is_named_in_sampled_cycles(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("py_scheduler.framework.runtime.time.perf_counter", lambda: clock[0])
    monkeypatch.setattr("py_scheduler.framework.runtime.time.monotonic", lambda: clock[0])
    fwk = framework(Slow(clock), snapshot=FakeSnapshot(NODES))
    state = CycleState()
    state.plugin_seconds = {}
    for node in NODES:
        assert fwk.filter_node(state, POD, node).is_success
    assert state.plugin_seconds == pytest.approx({"Slow": 0.12})
    with structlog.testing.capture_logs() as logs:
        fwk.filter_time(state, POD)
    assert [(e["plugin"], e["extension_point"], e["pod"]) for e in logs] == [
        ("Slow", "Filter", "default/p")
    ]


# -- through the whole core ------------------------------------------------------------------


class Explodes:
    """Raises at Filter for pods labelled ``explode``; fine for the others."""

    name: ClassVar[str] = "Explodes"

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if pod.labels.get("explode"):
            raise RuntimeError("boom")
        return Status()


EXPLODES = {
    "apiVersion": "kubescheduler.config.k8s.io/v1",
    "kind": "KubeSchedulerConfiguration",
    "profiles": [{"plugins": {"multiPoint": {"enabled": [{"name": "Explodes"}]}}}],
}


async def test_a_raising_plugin_backs_its_pod_off_and_the_others_are_scheduled() -> None:
    core = build_core([small("n1")], raw_config=EXPLODES, extra=[Explodes()])
    bad = make_pod("bad", requests={"cpu": "100m"}, labels={"explode": "yes"})
    good = make_pod("good", requests={"cpu": "100m"})
    core.scheduler.on_pod(bad)
    await core.cycle()
    core.scheduler.on_pod(good)
    await core.cycle()
    binds = [call[1:] for call in core.cluster.calls if call[0] == "bind"]
    assert binds == [("default/good", "n1")]
    assert core.queue.where(bad.uid) == BACKOFF
    events = [c[2] for c in core.cluster.calls if c[0] == "record_event" and c[1] == "default/bad"]
    assert events == [
        ("Warning", "FailedScheduling", "Filter plugin 'Explodes' raised RuntimeError('boom')")
    ]
    # Retried after its backoff, and failing the same way, without harm.
    core.clock.advance(2)
    core.queue.flush_backoff_completed()
    await core.cycle()
    assert core.queue.where(bad.uid) == BACKOFF
