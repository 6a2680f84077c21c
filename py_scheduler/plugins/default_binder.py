"""DefaultBinder: bind through ``pods/binding`` with the pod's UID.

The only plugin that does I/O, through ``Handle.cluster``. Conflict (already
bound) and NotFound (deleted) propagate as exceptions: the binding cycle
drops such pods instead of retrying them.
"""

from __future__ import annotations

from typing import ClassVar, Final

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.interface import Handle
from py_scheduler.framework.registry import NoArgs, PluginSpec, no_args
from py_scheduler.framework.status import SUCCESS, Status
from py_scheduler.model import NodeName, PodInfo

NAME: Final = "DefaultBinder"


class DefaultBinder:
    name: ClassVar[str] = NAME

    def __init__(self, args: NoArgs, handle: Handle) -> None:
        del args
        self.handle = handle

    async def bind(self, state: CycleState, pod: PodInfo, node: NodeName) -> Status:
        await self.handle.cluster.bind(pod, node)
        return SUCCESS


SPEC: Final = PluginSpec(NAME, no_args, DefaultBinder)
