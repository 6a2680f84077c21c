"""GangSort: PrioritySort's order for pods outside groups (upstream's
``priority_sort_test.go`` cases, run against both plugins), and each group's
members kept together in the heap (scheduler-plugins' Coscheduling ``Less``)."""

from __future__ import annotations

import heapq
import itertools
import random

import pytest

from py_scheduler.framework.types import QueuedPodInfo
from py_scheduler.model.podgroups import POD_GROUP_LABEL
from py_scheduler.plugins.gangscheduling import SORT_SPEC, GangSort
from py_scheduler.plugins.priority_sort import SPEC as PRIORITY_SPEC
from py_scheduler.plugins.priority_sort import PrioritySort
from py_scheduler.scheduling.cache import Cache
from py_scheduler.scheduling.pod_groups import PodGroupIndex
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
]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def read(self) -> float:
        return self.now


def sorts(clock: Clock | None = None) -> tuple[GangSort, PrioritySort, PodGroupIndex]:
    index = PodGroupIndex(Cache(), clock=(clock or Clock()).read)
    handle = FakeHandle(pod_groups=index)
    gang = SORT_SPEC.build(SORT_SPEC.args(None), handle)
    priority = PRIORITY_SPEC.build(PRIORITY_SPEC.args(None), handle)
    assert isinstance(gang, GangSort)
    assert isinstance(priority, PrioritySort)
    return gang, priority, index


def queued(name: str, priority: int, timestamp: float, group: str = "") -> QueuedPodInfo:
    labels = {POD_GROUP_LABEL: group} if group else {}
    return QueuedPodInfo(make_pod(name, priority=priority, labels=labels), timestamp)


@pytest.mark.parametrize(("name", "p1", "p2", "want"), CASES, ids=[c[0] for c in CASES])
def test_pods_outside_groups_sort_as_priority_sort_sorts_them(
    name: str, p1: tuple[int, float], p2: tuple[int, float], want: bool
) -> None:
    gang, priority, _ = sorts()
    a, b = queued("p1", *p1), queued("p2", *p2)
    assert gang.less(a, b) is want
    assert priority.less(a, b) is want


def test_on_random_queues_gang_sort_agrees_with_priority_sort_outside_groups() -> None:
    gang, priority, _ = sorts()
    rng = random.Random(7)
    pods = [
        queued(f"p{i}", rng.choice((0, 10, 100)), float(rng.randrange(1000))) for i in range(60)
    ]
    for a, b in itertools.permutations(pods, 2):
        if a.timestamp != b.timestamp or a.pod.priority != b.pod.priority:
            assert gang.less(a, b) is priority.less(a, b), (a.pod.name, b.pod.name)


def test_one_gangs_pods_leave_the_heap_together_not_interleaved_with_anothers() -> None:
    clock = Clock()
    gang, _, index = sorts(clock)
    entries = []
    # Members arrive interleaved: a0 b0 a1 b1 ...; a is seen first, so a goes first.
    for i in range(4):
        for group in ("a", "b"):
            entry = queued(f"{group}{i}", 0, clock.now, group=group)
            index.upsert(entry.pod)
            entries.append(entry)
            clock.now += 1
    # A pod outside any group, queued between the two groups' first members.
    loner = queued("loner", 0, 0.5)
    entries.append(loner)

    class Item:
        def __init__(self, entry: QueuedPodInfo) -> None:
            self.entry = entry

        def __lt__(self, other: Item) -> bool:
            return gang.less(self.entry, other.entry)

    heap = [Item(e) for e in entries]
    heapq.heapify(heap)
    order = [heapq.heappop(heap).entry.pod.name for _ in range(len(entries))]
    # Group a was first seen at 0, the loner queued at 0.5, group b first seen at 1.
    assert order == ["a0", "a1", "a2", "a3", "loner", "b0", "b1", "b2", "b3"]


def test_a_higher_priority_gang_goes_before_an_older_one() -> None:
    gang, _, index = sorts()
    old = queued("old", 0, 0.0, group="old")
    index.upsert(old.pod)
    vip = queued("vip", 100, 5.0, group="vip")
    index.upsert(vip.pod)
    assert gang.less(vip, old)
    assert not gang.less(old, vip)
