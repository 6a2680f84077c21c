"""PrioritySort: the active queue's order (upstream ``priority_sort_test.go``)."""

from __future__ import annotations

import pytest

from py_scheduler.framework.types import QueuedPodInfo
from py_scheduler.plugins.priority_sort import SPEC, PrioritySort
from tests.builders import make_pod
from tests.fakes import FakeHandle

LOW, HIGH = 10, 100
T1, T2 = 1000.0, 1001.0

CASES = [
    ("a lower-priority pod sorts after a higher-priority one", (LOW, T1), (HIGH, T1), False),
    ("a higher-priority pod sorts before a lower-priority one", (HIGH, T1), (LOW, T1), True),
    ("a higher-priority pod sorts first even if it was queued later", (HIGH, T2), (LOW, T1), True),
    ("with equal priority the pod queued earlier sorts first", (HIGH, T1), (HIGH, T2), True),
    ("with equal priority the pod queued later sorts after", (HIGH, T2), (HIGH, T1), False),
    ("with equal priority and timestamp neither pod is less", (HIGH, T1), (HIGH, T1), False),
]


def queued(name: str, priority: int, timestamp: float) -> QueuedPodInfo:
    return QueuedPodInfo(make_pod(name, priority=priority), timestamp)


@pytest.mark.parametrize(("name", "p1", "p2", "want"), CASES, ids=[c[0] for c in CASES])
def test_less(name: str, p1: tuple[int, float], p2: tuple[int, float], want: bool) -> None:
    plugin = SPEC.build(SPEC.args(None), FakeHandle())
    assert isinstance(plugin, PrioritySort)
    assert plugin.less(queued("p1", *p1), queued("p2", *p2)) is want


def test_a_pod_without_priority_counts_as_zero() -> None:
    plugin = PrioritySort(SPEC.args(None), FakeHandle())
    unset = QueuedPodInfo(make_pod("unset"), T1)
    negative = QueuedPodInfo(make_pod("negative", priority=-1), T1)
    assert plugin.less(unset, negative) is True
    assert plugin.less(negative, unset) is False
