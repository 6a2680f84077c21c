"""GangSort: the active queue's order, keeping each gang's pods together.

For pods that name no group it is PrioritySort's order exactly: higher
priority first, then the pod that (re)entered the queue earlier. A pod of a
group sorts as its group does: by its priority, then by when the scheduler
first saw a member of the group (a time on the queue's clock that never
changes while the group has members, so an entry never moves in the heap),
then by the group; within a group, by creation and name. So one gang's pods
are popped one after another, not interleaved with another gang's, and the
older gang goes first (scheduler-plugins' Coscheduling order).

The default profile has GangSort where kube-scheduler has PrioritySort; a
configuration that enables a queueSort plugin itself (PrioritySort, say) gets
that plugin instead (see ``py_scheduler.config``).
"""

from __future__ import annotations

from typing import ClassVar, Final

from py_scheduler.framework.interface import Handle
from py_scheduler.framework.registry import NoArgs, PluginSpec, no_args
from py_scheduler.framework.types import QueuedPodInfo

NAME: Final = "GangSort"


class GangSort:
    name: ClassVar[str] = NAME

    def __init__(self, args: NoArgs, handle: Handle) -> None:
        del args
        self._groups = handle.pod_groups

    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        pa, pb = a.pod.priority, b.pod.priority
        if pa != pb:
            return pa > pb
        ka, kb = a.pod.pod_group.key, b.pod.pod_group.key
        ta = self._time(a) if ka is not None else a.timestamp
        tb = self._time(b) if kb is not None else b.timestamp
        if ta != tb:
            return ta < tb
        if ka != kb:
            # Ties between different groups (or pods) broken by name, as Coscheduling.
            na = (ka.api, ka.namespace, ka.name) if ka is not None else ("", *a.pod.key.split("/"))
            nb = (kb.api, kb.namespace, kb.name) if kb is not None else ("", *b.pod.key.split("/"))
            return na < nb
        return (a.pod.created, a.pod.name) < (b.pod.created, b.pod.name)

    def _time(self, queued: QueuedPodInfo) -> float:
        key = queued.pod.pod_group.key
        since = self._groups.since(key) if key is not None else None
        return queued.timestamp if since is None else since


SPEC: Final = PluginSpec(NAME, no_args, GangSort)
