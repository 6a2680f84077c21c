"""NodeName: ``spec.nodeName`` must name the node (upstream ``node_name_test.go``)."""

from __future__ import annotations

import pytest

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.status import SUCCESS, Status
from py_scheduler.framework.types import ActionType, Resource, event
from py_scheduler.plugins.node_name import SPEC, NodeName
from tests.builders import make_pod, node_info
from tests.fakes import FakeHandle

CASES = [
    ("a pod that names no node fits any node", "", "foo", SUCCESS),
    ("a pod that names the node fits it", "foo", "foo", SUCCESS),
    (
        "a pod that names another node does not fit",
        "bar",
        "foo",
        Status.unresolvable("node(s) didn't match the requested node name"),
    ),
]


def plugin() -> NodeName:
    built = SPEC.build(SPEC.args(None), FakeHandle())
    assert isinstance(built, NodeName)
    return built


@pytest.mark.parametrize(("name", "wanted", "node", "want"), CASES, ids=[c[0] for c in CASES])
def test_filter(name: str, wanted: str, node: str, want: Status) -> None:
    pod = make_pod("p", node_name=wanted, phase="Pending")
    assert plugin().filter(CycleState(), pod, node_info(node)) == want


def test_only_a_node_add_without_hint_can_help() -> None:
    (registered,) = plugin().events_to_register()
    assert registered.event == event(Resource.NODE, ActionType.ADD)
    assert registered.hint is None
