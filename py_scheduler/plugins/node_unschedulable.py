"""NodeUnschedulable: refuse cordoned nodes (``spec.unschedulable``) unless the
pod tolerates ``node.kubernetes.io/unschedulable:NoSchedule``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.interface import Handle
from py_scheduler.framework.registry import NoArgs, PluginSpec, no_args
from py_scheduler.framework.status import SUCCESS, Status
from py_scheduler.framework.types import (
    ActionType,
    ClusterEventWithHint,
    QueueingHint,
    Resource,
    event,
)
from py_scheduler.model import Node, NodeInfo, PodInfo
from py_scheduler.model.taints import NO_SCHEDULE, Taint, tolerated

NAME: Final = "NodeUnschedulable"
REASON_UNSCHEDULABLE: Final = "node(s) were unschedulable"

UNSCHEDULABLE_TAINT: Final = Taint("node.kubernetes.io/unschedulable", "", NO_SCHEDULE)

_REJECTED: Final = Status.unresolvable(REASON_UNSCHEDULABLE)


class NodeUnschedulable:
    name: ClassVar[str] = NAME

    def __init__(self, args: NoArgs, handle: Handle) -> None:
        del args, handle

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if not node.node.unschedulable:
            return SUCCESS
        # Tolerating the cordon taint means tolerating the cordon itself.
        if tolerated(UNSCHEDULABLE_TAINT, pod.tolerations):
            return SUCCESS
        return _REJECTED

    def events_to_register(self) -> Sequence[ClusterEventWithHint]:
        # A spec.unschedulable change is classified as a taint update (as
        # upstream does), so uncordoning arrives as UPDATE_NODE_TAINT.
        return (
            ClusterEventWithHint(
                event(Resource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT),
                self._after_node_change,
            ),
            ClusterEventWithHint(
                event(Resource.POD, ActionType.UPDATE_POD_TOLERATIONS),
                self._after_toleration_change,
            ),
        )

    def _after_node_change(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        if not isinstance(new, Node) or not isinstance(old, Node | None):
            return QueueingHint.QUEUE
        if new.unschedulable:
            return QueueingHint.SKIP
        # Added schedulable, or uncordoned; any other update cannot help.
        if old is None or old.unschedulable:
            return QueueingHint.QUEUE
        return QueueingHint.SKIP

    def _after_toleration_change(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        if not isinstance(new, PodInfo):
            return QueueingHint.QUEUE
        # Tolerations can only be added, and a pod this plugin rejected did not
        # tolerate the taint before, so the new object alone decides.
        if new.uid == pod.uid and tolerated(UNSCHEDULABLE_TAINT, new.tolerations):
            return QueueingHint.QUEUE
        return QueueingHint.SKIP


SPEC: Final = PluginSpec(NAME, no_args, NodeUnschedulable)
