"""``MaintenanceWindow``: a Permit plugin that holds a namespace's pods while
one of its ``MaintenanceWindow`` objects (``maintenance.example.com/v1``) is
not open, and lets them go the moment they all are.

A held pod waits at Permit, assumed on the node it was given (that room stays
taken), for at most ``maxWait``. The plugin watches the windows through its
Handle: when the last closed window of a namespace opens (or is deleted),
every pod of that namespace it holds is allowed and binds. A pod whose wait
times out is rejected with upstream's message and waits in the unschedulable
queue; the queueing hint on MaintenanceWindow events brings it back as soon
as its namespace's windows are open.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from maintenance_window.args import MaintenanceWindowArgs, decode_args
from py_scheduler.framework import (
    SUCCESS,
    ActionType,
    ClusterEventWithHint,
    Code,
    CustomObjectLister,
    CustomResource,
    CycleState,
    Handle,
    PluginSpec,
    PodInfo,
    QueueingHint,
    Status,
    event,
)

NAME: Final = "MaintenanceWindow"
WINDOWS: Final = CustomResource(
    "maintenance.example.com", "v1", "maintenancewindows", kind="MaintenanceWindow"
)


@dataclass(frozen=True, slots=True)
class Window:
    namespace: str
    name: str
    open: bool
    reason: str


def decode_window(raw: Mapping[str, Any]) -> Window:
    """A MaintenanceWindow; raises ValueError on one the CRD should have refused."""
    meta = raw["metadata"]
    spec = raw.get("spec")
    if not isinstance(spec, Mapping) or not isinstance(spec.get("open"), bool):
        raise ValueError("spec.open: must be a boolean")
    reason = spec.get("reason", "")
    return Window(meta.get("namespace", ""), meta["name"], spec["open"], str(reason))


class MaintenanceWindow:
    name: ClassVar[str] = NAME

    def __init__(self, args: MaintenanceWindowArgs, handle: Handle) -> None:
        self.args = args
        self.handle = handle
        self.windows: CustomObjectLister[Window] = handle.custom_objects(WINDOWS, decode_window)
        self.windows.on_change(self._changed)

    def closed(self, namespace: str) -> list[Window]:
        return [w for w in self.windows.list(namespace) if not w.open]

    def permit(self, state: CycleState, pod: PodInfo, node: str) -> tuple[Status, float]:
        closed = self.closed(pod.namespace)
        if not closed:
            return SUCCESS, 0.0
        first = closed[0]
        why = f": {first.reason}" if first.reason else ""
        message = f"maintenance window {first.namespace}/{first.name} is closed{why}"
        return Status(Code.WAIT, (message,)), self.args.max_wait

    def _changed(self, action: ActionType, old: Window | None, new: Window | None) -> None:
        window = new or old
        if window is None or self.closed(window.namespace):
            return
        for waiting in self.handle.waiting_pods():
            if waiting.pod.namespace == window.namespace and NAME in waiting.pending_plugins():
                waiting.allow(NAME)

    # -- pods whose wait timed out ------------------------------------------------

    def events_to_register(self) -> Sequence[ClusterEventWithHint]:
        return (
            ClusterEventWithHint(
                event(WINDOWS, ActionType.ADD | ActionType.UPDATE | ActionType.DELETE),
                self._opened,
            ),
        )

    def _opened(self, pod: PodInfo, old: object, new: object) -> QueueingHint:
        changed = new if isinstance(new, Mapping) else old
        if not isinstance(changed, Mapping):
            return QueueingHint.SKIP
        namespace = changed.get("metadata", {}).get("namespace")
        if namespace == pod.namespace and not self.closed(pod.namespace):
            return QueueingHint.QUEUE
        return QueueingHint.SKIP


SPEC: Final = PluginSpec(NAME, decode_args, MaintenanceWindow)
