"""SchedulingGates: PreEnqueue verdicts and the gates-eliminated hint
(upstream ``scheduling_gates_test.go``)."""

from __future__ import annotations

import pytest

from py_scheduler.framework.status import SUCCESS, Status
from py_scheduler.framework.types import ActionType, QueueingHint, Resource, event
from py_scheduler.model import PodInfo
from py_scheduler.plugins.scheduling_gates import SPEC, SchedulingGates
from tests.builders import make_pod
from tests.fakes import FakeHandle


def plugin() -> SchedulingGates:
    built = SPEC.build(SPEC.args(None), FakeHandle())
    assert isinstance(built, SchedulingGates)
    return built


PRE_ENQUEUE = [
    ("a pod that carries no scheduling gates is admitted", make_pod("p"), SUCCESS),
    (
        "a pod that carries scheduling gates is held, naming them in order",
        make_pod("p", gates=["foo", "bar"]),
        Status.unresolvable("waiting for scheduling gates: [foo bar]"),
    ),
]


@pytest.mark.parametrize(("name", "pod", "want"), PRE_ENQUEUE, ids=[c[0] for c in PRE_ENQUEUE])
def test_pre_enqueue(name: str, pod: PodInfo, want: Status) -> None:
    assert plugin().pre_enqueue(pod) == want


def test_registers_only_the_update_that_eliminates_gates() -> None:
    (registered,) = plugin().events_to_register()
    assert registered.event == event(Resource.POD, ActionType.UPDATE_POD_GATES_ELIMINATED)
    assert registered.hint is not None


GATED = make_pod("p", gates=["foo"])

HINTS: list[tuple[str, object | None, object | None, QueueingHint]] = [
    ("an event without a pod object queues the pod", None, "not-a-pod", QueueingHint.QUEUE),
    (
        "another pod losing its gates does not queue the pod",
        make_pod("other", gates=["foo"]),
        make_pod("other"),
        QueueingHint.SKIP,
    ),
    ("the pod itself losing its gates queues it", GATED, make_pod("p"), QueueingHint.QUEUE),
]


@pytest.mark.parametrize(("name", "old", "new", "want"), HINTS, ids=[c[0] for c in HINTS])
def test_gates_eliminated_hint(
    name: str, old: object | None, new: object | None, want: QueueingHint
) -> None:
    (registered,) = plugin().events_to_register()
    assert registered.hint is not None
    assert registered.hint(GATED, old, new) is want
