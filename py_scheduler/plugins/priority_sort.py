"""PrioritySort: the active queue's order.

Higher ``spec.priority`` first; within a priority, the pod that (re)entered
the queue earlier. The timestamp is refreshed on every requeue, so a retried
pod goes to the back of its priority band.

It rejects nothing, so it registers no events (as upstream).
"""

from __future__ import annotations

from typing import ClassVar, Final

from py_scheduler.framework.interface import Handle
from py_scheduler.framework.registry import NoArgs, PluginSpec, no_args
from py_scheduler.framework.types import QueuedPodInfo

NAME: Final = "PrioritySort"


class PrioritySort:
    name: ClassVar[str] = NAME

    def __init__(self, args: NoArgs, handle: Handle) -> None:
        del args, handle

    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        pa, pb = a.pod.priority, b.pod.priority
        return pa > pb or (pa == pb and a.timestamp < b.timestamp)


SPEC: Final = PluginSpec(NAME, no_args, PrioritySort)
