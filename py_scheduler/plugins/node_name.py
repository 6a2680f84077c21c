"""NodeName: a pod that already names its node (``spec.nodeName``) fits only
that node.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.interface import Handle
from py_scheduler.framework.registry import NoArgs, PluginSpec, no_args
from py_scheduler.framework.status import SUCCESS, Status
from py_scheduler.framework.types import ActionType, ClusterEventWithHint, Resource, event
from py_scheduler.model import NodeInfo, PodInfo

NAME: Final = "NodeName"
REASON_MISMATCH: Final = "node(s) didn't match the requested node name"

_REJECTED: Final = Status.unresolvable(REASON_MISMATCH)


class NodeName:
    name: ClassVar[str] = NAME

    def __init__(self, args: NoArgs, handle: Handle) -> None:
        del args, handle

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if not pod.node_name or pod.node_name == node.name:
            return SUCCESS
        return _REJECTED

    def events_to_register(self) -> Sequence[ClusterEventWithHint]:
        # Only a new node can carry the requested name; no hint, as upstream,
        # because a rejected pod is retried (with backoff) on any node add.
        return (ClusterEventWithHint(event(Resource.NODE, ActionType.ADD)),)


SPEC: Final = PluginSpec(NAME, no_args, NodeName)
