"""NodePorts: a node fits only if none of the pod's host ports is taken.

A wanted port on 0.0.0.0 conflicts with the same protocol and port on any
address; a wanted port on a specific address conflicts with that address or
with 0.0.0.0. The model fills in the API defaults (0.0.0.0, TCP) at decode.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar, Final

from py_scheduler.framework.cycle_state import CycleState, StateKey
from py_scheduler.framework.interface import Handle, PreFilterExtensions
from py_scheduler.framework.registry import NoArgs, PluginSpec, no_args
from py_scheduler.framework.status import SUCCESS, Status
from py_scheduler.framework.types import (
    ActionType,
    ClusterEventWithHint,
    PreFilterResult,
    QueueingHint,
    Resource,
    event,
)
from py_scheduler.model import NodeInfo, PodInfo
from py_scheduler.model.pod import HostPort

NAME: Final = "NodePorts"
REASON_PORTS_TAKEN: Final = "node(s) didn't have free ports for the requested pod ports"

ANY_ADDRESS: Final = "0.0.0.0"

# Unschedulable, not unresolvable: evicting the pods holding the ports helps.
_REJECTED: Final = Status.unschedulable(REASON_PORTS_TAKEN)

# PreFilter -> Filter: the host ports the pod wants.
_WANTED: Final = StateKey[tuple[HostPort, ...]](f"{NAME}/wanted")


def conflicts(want: HostPort, used: Mapping[HostPort, int]) -> bool:
    """Whether ``want`` collides with a port in ``used``."""
    if want.ip == ANY_ADDRESS:
        return any(u.protocol == want.protocol and u.port == want.port for u in used)
    return (
        HostPort(ANY_ADDRESS, want.protocol, want.port) in used
        or HostPort(want.ip, want.protocol, want.port) in used
    )


def fits(wanted: Iterable[HostPort], used: Mapping[HostPort, int]) -> bool:
    return not any(conflicts(w, used) for w in wanted)


class NodePorts:
    name: ClassVar[str] = NAME

    def __init__(self, args: NoArgs, handle: Handle) -> None:
        del args, handle

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        if not pod.host_ports:
            return None, Status.skip()
        state.write(_WANTED, pod.host_ports)
        return None, SUCCESS

    def pre_filter_extensions(self) -> PreFilterExtensions | None:
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        wanted = state.get(_WANTED)
        if wanted is None:
            wanted = pod.host_ports
        return SUCCESS if fits(wanted, node.used_ports) else _REJECTED

    def events_to_register(self) -> Sequence[ClusterEventWithHint]:
        # Upstream registers "Pod Delete", which matches assigned and
        # unscheduled pods alike: a deleted nominated pod frees the ports the
        # nominated-pod pass reserved. Ports are immutable, so updates never help.
        deleted = ActionType.DELETE
        return (
            ClusterEventWithHint(event(Resource.ASSIGNED_POD, deleted), self._after_pod_deleted),
            ClusterEventWithHint(event(Resource.POD, deleted), self._after_pod_deleted),
            ClusterEventWithHint(event(Resource.NODE, ActionType.ADD)),
        )

    def _after_pod_deleted(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        # A delete carries the last known object; accept it on either side.
        deleted = old if old is not None else new
        if not isinstance(deleted, PodInfo):
            return QueueingHint.QUEUE
        if not deleted.node_name and not deleted.nominated_node:
            return QueueingHint.SKIP
        if not deleted.host_ports:
            return QueueingHint.SKIP
        freed = dict.fromkeys(deleted.host_ports, 1)
        return QueueingHint.SKIP if fits(pod.host_ports, freed) else QueueingHint.QUEUE


SPEC: Final = PluginSpec(NAME, no_args, NodePorts)
