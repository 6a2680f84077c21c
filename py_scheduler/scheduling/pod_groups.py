"""``PodGroupIndex``: the pods of every pod group, kept as the watches show them.

Fed by the event handlers (:mod:`.eventhandlers`) with every pod that names a
group: unscheduled pods of the scheduler's profiles and every bound pod. A
member stays until it is deleted or starts terminating; a finished one is
only counted (a PodGroup's ``succeeded`` and ``failed``). Whether a member is
assumed is the cache's to say, so the index never disagrees with it.
Plugins read it through ``Handle.pod_groups``
(:class:`py_scheduler.framework.pod_groups.PodGroupLister`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import structlog

from py_scheduler.framework.pod_groups import GroupMembers
from py_scheduler.model import PodInfo, PodUID
from py_scheduler.model.podgroups import GroupKey
from py_scheduler.scheduling.cache import Cache

log = structlog.get_logger("py_scheduler.pod_groups")


@dataclass(slots=True)
class _Group:
    since: float
    live: dict[PodUID, PodInfo] = field(default_factory=dict)
    succeeded: set[PodUID] = field(default_factory=set)
    failed: set[PodUID] = field(default_factory=set)

    def empty(self) -> bool:
        return not (self.live or self.succeeded or self.failed)


class PodGroupIndex:
    def __init__(self, cache: Cache, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._cache = cache
        self._clock = clock
        self._groups: dict[GroupKey, _Group] = {}
        self._of: dict[PodUID, GroupKey] = {}
        self._subscribers: list[Callable[[GroupKey], None]] = []

    def subscribe(self, changed: Callable[[GroupKey], None]) -> None:
        self._subscribers.append(changed)

    def _changed(self, key: GroupKey) -> None:
        for changed in self._subscribers:
            try:
                changed(key)
            except Exception:
                log.exception("pod group subscriber failed", group=str(key))

    def upsert(self, pod: PodInfo) -> None:
        """A pod was added or changed (its labels may have moved it)."""
        key = pod.pod_group.key
        old = self._of.get(pod.uid)
        if old is not None and old != key:
            self.remove(pod)
        if key is None:
            return
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(self._clock())
        self._of[pod.uid] = key
        group.live.pop(pod.uid, None)
        group.succeeded.discard(pod.uid)
        group.failed.discard(pod.uid)
        if pod.phase == "Succeeded":
            group.succeeded.add(pod.uid)
        elif pod.phase == "Failed":
            group.failed.add(pod.uid)
        elif not pod.deleting:
            group.live[pod.uid] = pod
        self._changed(key)

    def remove(self, pod: PodInfo) -> None:
        key = self._of.pop(pod.uid, None)
        if key is None:
            return
        group = self._groups[key]
        group.live.pop(pod.uid, None)
        group.succeeded.discard(pod.uid)
        group.failed.discard(pod.uid)
        if group.empty():
            del self._groups[key]
        self._changed(key)

    def replace(self, pods: Iterable[PodInfo]) -> None:
        """A full relist: exactly these pods, group times kept for groups still named."""
        since = {key: group.since for key, group in self._groups.items()}
        self._groups.clear()
        self._of.clear()
        for pod in pods:
            self.upsert(pod)
        for key, group in self._groups.items():
            group.since = since.get(key, group.since)

    # -- PodGroupLister ---------------------------------------------------------------

    def members(self, key: GroupKey) -> GroupMembers:
        group = self._groups.get(key)
        if group is None:
            return GroupMembers(key)
        pods = tuple(group.live.values())
        is_assumed = self._cache.is_assumed
        return GroupMembers(
            key=key,
            pods=pods,
            assumed=frozenset(p.uid for p in pods if is_assumed(p.uid)),
            bound=frozenset(p.uid for p in pods if p.node_name),
            succeeded=len(group.succeeded),
            failed=len(group.failed),
            since=group.since,
        )

    def count(self, key: GroupKey) -> int:
        group = self._groups.get(key)
        return len(group.live) if group is not None else 0

    def since(self, key: GroupKey) -> float | None:
        group = self._groups.get(key)
        return group.since if group is not None else None

    def keys(self) -> list[GroupKey]:
        return list(self._groups)

    def __len__(self) -> int:
        return len(self._groups)

    def __contains__(self, uid: object) -> bool:
        """Whether the pod with this UID is indexed (live or finished)."""
        return uid in self._of
