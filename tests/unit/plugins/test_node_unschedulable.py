"""NodeUnschedulable: the cordon filter and its queueing hints (upstream
``node_unschedulable_test.go``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.status import SUCCESS, Status
from py_scheduler.framework.types import (
    ActionType,
    ClusterEventWithHint,
    HintFn,
    QueueingHint,
    Resource,
    event,
)
from py_scheduler.model import PodInfo
from py_scheduler.plugins.node_unschedulable import SPEC, NodeUnschedulable
from tests.builders import make_node, make_pod, node_info
from tests.fakes import FakeHandle

UNSCHEDULABLE_KEY = "node.kubernetes.io/unschedulable"
REJECTED = Status.unresolvable("node(s) were unschedulable")


def plugin() -> NodeUnschedulable:
    built = SPEC.build(SPEC.args(None), FakeHandle())
    assert isinstance(built, NodeUnschedulable)
    return built


def hint_for(resource: Resource) -> HintFn:
    registered: Sequence[ClusterEventWithHint] = plugin().events_to_register()
    (found,) = [r.hint for r in registered if r.event.resource is resource]
    assert found is not None
    return found


FILTER: list[tuple[str, list[dict[str, Any]], bool, Status]] = [
    ("a pod is not placed on an unschedulable node", [], True, REJECTED),
    ("a pod is placed on a schedulable node", [], False, SUCCESS),
    (
        "a pod tolerating the unschedulable taint is placed on an unschedulable node",
        [{"key": UNSCHEDULABLE_KEY, "effect": "NoSchedule"}],
        True,
        SUCCESS,
    ),
    (
        "a pod tolerating every taint by an empty-key Exists is placed on an unschedulable node",
        [{"operator": "Exists"}],
        True,
        SUCCESS,
    ),
    (
        "a pod tolerating the key only with NoExecute is not placed on an unschedulable node",
        [{"key": UNSCHEDULABLE_KEY, "operator": "Exists", "effect": "NoExecute"}],
        True,
        REJECTED,
    ),
]


@pytest.mark.parametrize(
    ("name", "tolerations", "unschedulable", "want"), FILTER, ids=[c[0] for c in FILTER]
)
def test_filter(
    name: str, tolerations: list[dict[str, Any]], unschedulable: bool, want: Status
) -> None:
    pod = make_pod("p", tolerations=tolerations)
    node = node_info("n", unschedulable=unschedulable)
    assert plugin().filter(CycleState(), pod, node) == want


def test_registers_node_add_and_taint_updates_and_pod_toleration_updates() -> None:
    registered = plugin().events_to_register()
    assert [r.event for r in registered] == [
        event(Resource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT),
        event(Resource.POD, ActionType.UPDATE_POD_TOLERATIONS),
    ]
    assert all(r.hint is not None for r in registered)


NOT_READY = {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}

NODE_HINTS: list[tuple[str, object | None, object | None, QueueingHint]] = [
    ("an event without a node object queues the pod", None, "not-a-node", QueueingHint.QUEUE),
    (
        "an event whose old object is not a node queues the pod",
        "not-a-node",
        make_node("n", unschedulable=True),
        QueueingHint.QUEUE,
    ),
    (
        "an unschedulable node being added does not queue the pod",
        None,
        make_node("n", unschedulable=True),
        QueueingHint.SKIP,
    ),
    ("a schedulable node being added queues the pod", None, make_node("n"), QueueingHint.QUEUE),
    (
        "an unrelated update to a still unschedulable node does not queue the pod",
        make_node("n", unschedulable=True),
        make_node("n", unschedulable=True, taints=[NOT_READY]),
        QueueingHint.SKIP,
    ),
    (
        "an update to a node that stays schedulable does not queue the pod",
        make_node("n"),
        make_node("n", taints=[NOT_READY]),
        QueueingHint.SKIP,
    ),
    (
        "a node turning schedulable queues the pod",
        make_node("n", unschedulable=True),
        make_node("n"),
        QueueingHint.QUEUE,
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "want"), NODE_HINTS, ids=[c[0] for c in NODE_HINTS])
def test_node_change_hint(
    name: str, old: object | None, new: object | None, want: QueueingHint
) -> None:
    assert hint_for(Resource.NODE)(make_pod("p"), old, new) is want


TARGET = make_pod("p", uid="uid")


def pod_with(uid: str, *tolerations: dict[str, Any]) -> PodInfo:
    return make_pod("p", uid=uid, tolerations=tolerations)


def toleration(key: str) -> dict[str, Any]:
    return {"key": key, "operator": "Exists", "effect": "NoSchedule"}


POD_HINTS: list[tuple[str, object | None, object | None, QueueingHint]] = [
    ("an event without a pod object queues the pod", None, "not-a-pod", QueueingHint.QUEUE),
    (
        "another pod gaining the toleration does not queue the pod",
        pod_with("different-uid"),
        pod_with("different-uid", toleration(UNSCHEDULABLE_KEY)),
        QueueingHint.SKIP,
    ),
    (
        "the pod gaining the unschedulable toleration queues it",
        pod_with("uid"),
        pod_with("uid", toleration(UNSCHEDULABLE_KEY)),
        QueueingHint.QUEUE,
    ),
    (
        "the pod gaining an unrelated toleration does not queue it",
        pod_with("uid"),
        pod_with("uid", toleration("unrelated-key")),
        QueueingHint.SKIP,
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "want"), POD_HINTS, ids=[c[0] for c in POD_HINTS])
def test_pod_toleration_change_hint(
    name: str, old: object | None, new: object | None, want: QueueingHint
) -> None:
    assert hint_for(Resource.POD)(TARGET, old, new) is want
