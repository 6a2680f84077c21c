"""TaintToleration: the hard-taint filter, the soft-taint score and the
queueing hints (upstream ``taint_toleration_test.go``, v1.35 reason)."""

from __future__ import annotations

from typing import Any

import pytest

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.status import SUCCESS, Status
from py_scheduler.framework.types import (
    ActionType,
    HintFn,
    QueueingHint,
    Resource,
    event,
)
from py_scheduler.model import NodeInfo, PodInfo
from py_scheduler.plugins.taint_toleration import SPEC, TaintToleration
from tests.builders import make_node, make_pod, node_info
from tests.fakes import FakeHandle

Raw = dict[str, Any]
REJECTED = Status.unresolvable("node(s) had untolerated taint(s)")


def plugin() -> TaintToleration:
    built = SPEC.build(SPEC.args(None), FakeHandle())
    assert isinstance(built, TaintToleration)
    return built


def taint(key: str, value: str, effect: str) -> Raw:
    return {"key": key, "value": value, "effect": effect}


def tol(key: str, value: str = "", effect: str = "", operator: str = "Equal") -> Raw:
    return {"key": key, "operator": operator, "value": value, "effect": effect}


FILTER: list[tuple[str, list[Raw], list[Raw], Status]] = [
    (
        "a pod with no tolerations does not fit a node with a NoSchedule taint",
        [],
        [taint("dedicated", "user1", "NoSchedule")],
        REJECTED,
    ),
    (
        "a pod tolerating the dedicated taint fits the dedicated node",
        [tol("dedicated", "user1", "NoSchedule")],
        [taint("dedicated", "user1", "NoSchedule")],
        SUCCESS,
    ),
    (
        "a pod tolerating another value does not fit the dedicated node",
        [tol("dedicated", "user2", "NoSchedule")],
        [taint("dedicated", "user1", "NoSchedule")],
        REJECTED,
    ),
    (
        "a pod whose Exists toleration matches the key fits the node",
        [tol("foo", effect="NoSchedule", operator="Exists")],
        [taint("foo", "bar", "NoSchedule")],
        SUCCESS,
    ),
    (
        "a pod tolerating every one of several taints fits the node",
        [
            tol("dedicated", "user2", "NoSchedule"),
            tol("foo", effect="NoSchedule", operator="Exists"),
        ],
        [taint("dedicated", "user2", "NoSchedule"), taint("foo", "bar", "NoSchedule")],
        SUCCESS,
    ),
    (
        "a toleration matching key and value but with another non-empty effect does not help",
        [tol("foo", "bar", "PreferNoSchedule")],
        [taint("foo", "bar", "NoSchedule")],
        REJECTED,
    ),
    (
        "a toleration with an empty effect tolerates a NoSchedule taint",
        [tol("foo", "bar")],
        [taint("foo", "bar", "NoSchedule")],
        SUCCESS,
    ),
    (
        "an untolerated PreferNoSchedule taint does not filter the node",
        [tol("dedicated", "user2", "NoSchedule")],
        [taint("dedicated", "user1", "PreferNoSchedule")],
        SUCCESS,
    ),
    (
        "a pod with no tolerations fits a node with only a PreferNoSchedule taint",
        [],
        [taint("dedicated", "user1", "PreferNoSchedule")],
        SUCCESS,
    ),
    (
        "an untolerated NoExecute taint filters the node",
        [tol("foo", "bar", "NoSchedule")],
        [taint("foo", "bar", "NoSchedule"), taint("evict", "", "NoExecute")],
        REJECTED,
    ),
]


@pytest.mark.parametrize(
    ("name", "tolerations", "taints", "want"), FILTER, ids=[c[0] for c in FILTER]
)
def test_filter(name: str, tolerations: list[Raw], taints: list[Raw], want: Status) -> None:
    pod = make_pod("p", tolerations=tolerations)
    assert plugin().filter(CycleState(), pod, node_info("n", taints=taints)) == want


def soft(key: str, value: str) -> Raw:
    return taint(key, value, "PreferNoSchedule")


SCORE: list[tuple[str, list[Raw], list[list[Raw]], list[int]]] = [
    (
        "a node whose soft taints are tolerated outscores one whose are not",
        [tol("foo", "bar", "PreferNoSchedule")],
        [[soft("foo", "bar")], [soft("foo", "blah")]],
        [100, 0],
    ),
    (
        "nodes whose soft taints are all tolerated score the same however many they have",
        [tol("cpu-type", "arm64", "PreferNoSchedule"), tol("disk-type", "ssd", "PreferNoSchedule")],
        [[], [soft("cpu-type", "arm64")], [soft("cpu-type", "arm64"), soft("disk-type", "ssd")]],
        [100, 100, 100],
    ),
    (
        "the more untolerated soft taints a node has the lower it scores",
        [tol("foo", "bar", "PreferNoSchedule")],
        [[], [soft("cpu-type", "arm64")], [soft("cpu-type", "arm64"), soft("disk-type", "ssd")]],
        [100, 50, 0],
    ),
    (
        "only PreferNoSchedule taints and tolerations with a matching effect count",
        [tol("cpu-type", "arm64", "NoSchedule"), tol("disk-type", "ssd", "NoSchedule")],
        [
            [],
            [taint("cpu-type", "arm64", "NoSchedule")],
            [soft("cpu-type", "arm64"), soft("disk-type", "ssd")],
        ],
        [100, 100, 0],
    ),
    (
        "a pod without tolerations prefers the node without taints",
        [],
        [[], [soft("cpu-type", "arm64")]],
        [100, 0],
    ),
    (
        "a toleration with an empty effect tolerates a soft taint",
        [tol("foo", "bar")],
        [[soft("foo", "bar")], [soft("baz", "qux")]],
        [100, 0],
    ),
    (
        "every node scores the maximum when none has an untolerated soft taint",
        [],
        [[], [taint("foo", "bar", "NoExecute")]],
        [100, 100],
    ),
]


def scores(plugin: TaintToleration, pod: PodInfo, nodes: list[NodeInfo], *, pre: bool) -> list[int]:
    state = CycleState()
    if pre:
        assert plugin.pre_score(state, pod, nodes) == SUCCESS
    got = [plugin.score(state, pod, node) for node in nodes]
    plugin.normalize_scores(state, pod, got)
    return got


@pytest.mark.parametrize(
    ("name", "tolerations", "taints", "want"), SCORE, ids=[c[0] for c in SCORE]
)
def test_score(name: str, tolerations: list[Raw], taints: list[list[Raw]], want: list[int]) -> None:
    pod = make_pod("p", tolerations=tolerations)
    nodes = [node_info(f"node{i}", taints=t) for i, t in enumerate(taints)]
    assert scores(plugin(), pod, nodes, pre=True) == want


def test_score_without_pre_score_state_computes_the_same_scores() -> None:
    pod = make_pod("p", tolerations=[tol("foo", "bar", "PreferNoSchedule")])
    nodes = [
        node_info("a"),
        node_info("b", taints=[soft("cpu-type", "arm64")]),
        node_info("c", taints=[soft("cpu-type", "arm64"), soft("disk-type", "ssd")]),
    ]
    assert scores(plugin(), pod, nodes, pre=False) == [100, 50, 0]


def test_registers_node_add_and_taint_updates_and_pod_toleration_updates() -> None:
    registered = plugin().events_to_register()
    assert [r.event for r in registered] == [
        event(Resource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT),
        event(Resource.POD, ActionType.UPDATE_POD_TOLERATIONS),
    ]
    assert all(r.hint is not None for r in registered)


def hint_for(resource: Resource) -> HintFn:
    (found,) = [r.hint for r in plugin().events_to_register() if r.event.resource is resource]
    assert found is not None
    return found


POD = make_pod("p", tolerations=[tol("dedicated", "user2", "NoSchedule")])
USER1 = taint("dedicated", "user1", "NoSchedule")
USER2 = taint("dedicated", "user2", "NoSchedule")
USER3 = taint("dedicated", "user3", "NoSchedule")

NODE_HINTS: list[tuple[str, object | None, object | None, QueueingHint]] = [
    ("an event without a node object queues the pod", None, "not-a-node", QueueingHint.QUEUE),
    (
        "an event whose old object is not a node queues the pod",
        "not-a-node",
        make_node("a", taints=[USER1]),
        QueueingHint.QUEUE,
    ),
    (
        "a node added with an untolerated taint does not queue the pod",
        None,
        make_node("a", taints=[USER1]),
        QueueingHint.SKIP,
    ),
    (
        "a node added with only tolerated taints queues the pod",
        None,
        make_node("a", taints=[USER2]),
        QueueingHint.QUEUE,
    ),
    (
        "a taint update that leaves a node untolerated does not queue the pod",
        make_node("a", taints=[USER1]),
        make_node("a", taints=[USER1, USER3]),
        QueueingHint.SKIP,
    ),
    (
        "a taint update that makes a node tolerated queues the pod",
        make_node("a", taints=[USER1]),
        make_node("a", taints=[USER2]),
        QueueingHint.QUEUE,
    ),
    (
        "a taint update on a node that was already tolerated does not queue the pod",
        make_node("a", taints=[USER2]),
        make_node("a"),
        QueueingHint.SKIP,
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "want"), NODE_HINTS, ids=[c[0] for c in NODE_HINTS])
def test_node_change_hint(
    name: str, old: object | None, new: object | None, want: QueueingHint
) -> None:
    assert hint_for(Resource.NODE)(POD, old, new) is want


TARGET = make_pod("pod-1", namespace="ns-1", uid="uid0")

POD_HINTS: list[tuple[str, object | None, object | None, QueueingHint]] = [
    ("an event without a pod object queues the pod", None, "not-a-pod", QueueingHint.QUEUE),
    (
        "another pod's toleration update does not queue the pod",
        make_pod("pod-2", namespace="ns-1", uid="uid1"),
        make_pod("pod-2", namespace="ns-1", uid="uid1", tolerations=[tol("foo", "", "NoSchedule")]),
        QueueingHint.SKIP,
    ),
    (
        "the pod's own toleration update queues it",
        TARGET,
        make_pod("pod-1", namespace="ns-1", uid="uid0", tolerations=[tol("foo", "", "NoSchedule")]),
        QueueingHint.QUEUE,
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "want"), POD_HINTS, ids=[c[0] for c in POD_HINTS])
def test_pod_toleration_change_hint(
    name: str, old: object | None, new: object | None, want: QueueingHint
) -> None:
    assert hint_for(Resource.POD)(TARGET, old, new) is want
