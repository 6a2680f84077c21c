"""SchedulingGates: keep a pod out of the active queue while it carries
``spec.schedulingGates``.

Gates can only be removed after creation, so the one event that can help is
the update that removes the last of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final

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
from py_scheduler.model import PodInfo

NAME: Final = "SchedulingGates"
# Formatted with the gate names as Go prints a []string: "[g1 g2]".
REASON_GATED: Final = "waiting for scheduling gates: [{gates}]"


class SchedulingGates:
    name: ClassVar[str] = NAME

    def __init__(self, args: NoArgs, handle: Handle) -> None:
        del args, handle

    def pre_enqueue(self, pod: PodInfo) -> Status:
        if not pod.scheduling_gates:
            return SUCCESS
        return Status.unresolvable(REASON_GATED.format(gates=" ".join(pod.scheduling_gates)))

    def events_to_register(self) -> Sequence[ClusterEventWithHint]:
        return (
            ClusterEventWithHint(
                event(Resource.POD, ActionType.UPDATE_POD_GATES_ELIMINATED),
                self._after_gates_eliminated,
            ),
        )

    def _after_gates_eliminated(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        if not isinstance(new, PodInfo):
            return QueueingHint.QUEUE
        # Another pod losing its gates says nothing about this one.
        if new.uid != pod.uid:
            return QueueingHint.SKIP
        return QueueingHint.QUEUE


SPEC: Final = PluginSpec(NAME, no_args, SchedulingGates)
