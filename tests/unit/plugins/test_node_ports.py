"""NodePorts: host-port conflicts and the pod-deleted hint (upstream
``node_ports_test.go``)."""

from __future__ import annotations

import pytest

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.status import SUCCESS, Status
from py_scheduler.framework.types import ActionType, HintFn, QueueingHint, Resource, event
from py_scheduler.model import PodInfo
from py_scheduler.plugins.node_ports import SPEC, NodePorts
from tests.builders import make_pod, node_info
from tests.fakes import FakeHandle

Port = tuple[str, str, int]
REJECTED = Status.unschedulable("node(s) didn't have free ports for the requested pod ports")


def plugin() -> NodePorts:
    built = SPEC.build(SPEC.args(None), FakeHandle())
    assert isinstance(built, NodePorts)
    return built


def ports(*specs: str) -> list[Port]:
    """``"UDP/127.0.0.1/8080"`` -> ``("127.0.0.1", "UDP", 8080)``, as upstream's newPod."""
    out = []
    for spec in specs:
        protocol, ip, port = spec.split("/")
        out.append((ip, protocol, int(port)))
    return out


FILTER: list[tuple[str, list[Port], list[Port], Status]] = [
    (
        "another port on the same address is free",
        ports("UDP/127.0.0.1/8080"),
        ports("UDP/127.0.0.1/9090"),
        SUCCESS,
    ),
    (
        "the same UDP port is taken",
        ports("UDP/127.0.0.1/8080"),
        ports("UDP/127.0.0.1/8080"),
        REJECTED,
    ),
    (
        "the same TCP port is taken",
        ports("TCP/127.0.0.1/8080"),
        ports("TCP/127.0.0.1/8080"),
        REJECTED,
    ),
    (
        "the same port on another address is free",
        ports("TCP/127.0.0.1/8080"),
        ports("TCP/127.0.0.2/8080"),
        SUCCESS,
    ),
    (
        "the same port with another protocol is free",
        ports("UDP/127.0.0.1/8080"),
        ports("TCP/127.0.0.1/8080"),
        SUCCESS,
    ),
    (
        "a conflict on the second wanted UDP port rejects the node",
        ports("UDP/127.0.0.1/8000", "UDP/127.0.0.1/8080"),
        ports("UDP/127.0.0.1/8080"),
        REJECTED,
    ),
    (
        "a conflict on the first wanted TCP port rejects the node",
        ports("TCP/127.0.0.1/8001", "UDP/127.0.0.1/8080"),
        ports("TCP/127.0.0.1/8001", "UDP/127.0.0.1/8081"),
        REJECTED,
    ),
    (
        "a wanted 0.0.0.0 port conflicts with the same port on a specific address",
        ports("TCP/0.0.0.0/8001"),
        ports("TCP/127.0.0.1/8001"),
        REJECTED,
    ),
    (
        "a wanted 0.0.0.0 port after a free specific one still conflicts",
        ports("TCP/10.0.10.10/8001", "TCP/0.0.0.0/8001"),
        ports("TCP/127.0.0.1/8001"),
        REJECTED,
    ),
    (
        "a wanted specific address conflicts with the same port taken on 0.0.0.0",
        ports("TCP/127.0.0.1/8001"),
        ports("TCP/0.0.0.0/8001"),
        REJECTED,
    ),
    (
        "a port taken on 0.0.0.0 with another protocol is free",
        ports("UDP/127.0.0.1/8001"),
        ports("TCP/0.0.0.0/8001"),
        SUCCESS,
    ),
    (
        "a UDP port taken on 0.0.0.0 conflicts with a wanted specific address",
        ports("UDP/127.0.0.1/8001"),
        ports("TCP/0.0.0.0/8001", "UDP/0.0.0.0/8001"),
        REJECTED,
    ),
    (
        "an unset address and protocol default to 0.0.0.0 and TCP",
        [("", "", 8001)],
        ports("TCP/127.0.0.1/8001"),
        REJECTED,
    ),
]


@pytest.mark.parametrize(("name", "wanted", "used", "want"), FILTER, ids=[c[0] for c in FILTER])
def test_filter(name: str, wanted: list[Port], used: list[Port], want: Status) -> None:
    pod = make_pod("p", host_ports=wanted)
    existing = make_pod("existing", host_ports=used, node_name="m1")
    node = node_info("m1", pods=[existing])
    p = plugin()
    state = CycleState()
    assert p.pre_filter(state, pod, [node]) == (None, SUCCESS)
    assert p.filter(state, pod, node) == want


def test_pre_filter_skips_a_pod_without_host_ports() -> None:
    assert plugin().pre_filter(CycleState(), make_pod("p"), [node_info("m1")]) == (
        None,
        Status.skip(),
    )


def test_filter_without_pre_filter_state_reads_the_pod_ports() -> None:
    existing = make_pod("existing", host_ports=ports("TCP/0.0.0.0/8080"), node_name="m1")
    node = node_info("m1", pods=[existing])
    p = plugin()
    assert (
        p.filter(CycleState(), make_pod("p", host_ports=ports("TCP/10.0.0.1/8080")), node)
        == REJECTED
    )
    assert p.filter(CycleState(), make_pod("q"), node) == SUCCESS


def test_registers_pod_deletes_and_node_adds() -> None:
    registered = plugin().events_to_register()
    assert [r.event for r in registered] == [
        event(Resource.ASSIGNED_POD, ActionType.DELETE),
        event(Resource.POD, ActionType.DELETE),
        event(Resource.NODE, ActionType.ADD),
    ]
    assert [r.hint is None for r in registered] == [False, False, True]


def deleted_hint() -> HintFn:
    hint = plugin().events_to_register()[0].hint
    assert hint is not None
    return hint


WITH_PORT = make_pod("p", host_ports=[("", "", 8080)])


def deleted(name: str, *, node: str = "", nominated: str = "", port: int | None = None) -> PodInfo:
    host_ports = [("", "", port)] if port is not None else []
    return make_pod(name, node_name=node, nominated_node=nominated, host_ports=host_ports)


HINTS: list[tuple[str, object | None, object | None, QueueingHint]] = [
    ("an event without a pod object queues the pod", "not-a-pod", None, QueueingHint.QUEUE),
    (
        "deleting an unscheduled pod does not queue the pod",
        deleted("d", port=8080),
        None,
        QueueingHint.SKIP,
    ),
    (
        "deleting an assigned pod without host ports does not queue the pod",
        deleted("d", node="fake-node"),
        None,
        QueueingHint.SKIP,
    ),
    (
        "deleting an assigned pod holding another host port does not queue the pod",
        deleted("d", node="fake-node", port=8081),
        None,
        QueueingHint.SKIP,
    ),
    (
        "deleting an assigned pod that releases the wanted host port queues the pod",
        deleted("d", node="fake-node", port=8080),
        None,
        QueueingHint.QUEUE,
    ),
    (
        "deleting a nominated pod that held the wanted host port queues the pod",
        deleted("d", nominated="fake-node", port=8080),
        None,
        QueueingHint.QUEUE,
    ),
    (
        "a deleted pod passed as the new object is judged the same way",
        None,
        deleted("d", node="fake-node", port=8080),
        QueueingHint.QUEUE,
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "want"), HINTS, ids=[c[0] for c in HINTS])
def test_pod_deleted_hint(
    name: str, old: object | None, new: object | None, want: QueueingHint
) -> None:
    assert deleted_hint()(WITH_PORT, old, new) is want
