"""ClaimTracker: ResourceClaims as DynamicResources has decided them, ahead of
the watch (upstream's claim assume cache plus ``inFlightAllocations``).

Between Reserve and the end of PreBind an allocation is *in flight*: it lives
only here, and its devices count as allocated, so the next pod's cycle
(which may start before PreBind has written anything) never picks them. A
claim PreBind has written is *assumed*: the API server's answer stands in for
the watched copy until the watch shows that version or a newer one. Devices
are taken when the watched claims, the assumed ones or the in-flight ones
hold them::

    Reserve ──► in flight ──PreBind writes──► assumed ──watch catches up──► watched
       ▲            │
       └─Unreserve──┘  (the last sharer gone: forgotten)
"""

from __future__ import annotations

from collections.abc import Iterator, Set
from dataclasses import dataclass

from py_scheduler.framework.interface import ObjectLister
from py_scheduler.model.dra.objects import DeviceID, ResourceClaim
from py_scheduler.model.dra.tables import held_devices


@dataclass(slots=True)
class _InFlight:
    claim: ResourceClaim  # with the allocation Reserve chose
    sharers: int


@dataclass(frozen=True, slots=True)
class _Assumed:
    over_version: str
    claim: ResourceClaim


class DeviceUnion(Set[DeviceID]):
    """``base`` plus ``extra`` minus ``freed``, without copying ``base``."""

    def __init__(
        self,
        base: Set[DeviceID],
        extra: Set[DeviceID] = frozenset(),
        freed: Set[DeviceID] = frozenset(),
    ) -> None:
        self.base = base
        self.extra = extra
        self.freed = freed

    def __contains__(self, item: object) -> bool:
        return item not in self.freed and (item in self.extra or item in self.base)

    def __iter__(self) -> Iterator[DeviceID]:
        for device in self.base:
            if device not in self.freed:
                yield device
        for device in self.extra:
            if device not in self.base and device not in self.freed:
                yield device

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def without(self, freed: Set[DeviceID]) -> DeviceUnion:
        return DeviceUnion(self.base, self.extra, frozenset(freed) | frozenset(self.freed))


class ClaimTracker:
    def __init__(self, objects: ObjectLister) -> None:
        self._objects = objects
        self._assumed: dict[str, _Assumed] = {}
        self._in_flight: dict[str, _InFlight] = {}  # by claim UID

    # -- reading --------------------------------------------------------------------

    def get(self, namespace: str, name: str) -> ResourceClaim | None:
        """The claim as this scheduler knows it: assumed, else watched."""
        key = f"{namespace}/{name}"
        watched = self._objects.resource_claim(namespace, name)
        entry = self._assumed.get(key)
        if entry is None:
            return watched
        if watched is None or watched.resource_version != entry.over_version:
            # The watch moved on (our write, or anyone's): it is the truth again.
            del self._assumed[key]
            return watched
        return entry.claim

    def pending_allocation(self, uid: str) -> ResourceClaim | None:
        entry = self._in_flight.get(uid)
        return entry.claim if entry is not None else None

    def allocated(self) -> DeviceUnion:
        """Every device held by a watched, assumed or in-flight claim."""
        extra: set[DeviceID] = set()
        for key in list(self._assumed):
            namespace, _, name = key.partition("/")
            claim = self.get(namespace, name)
            extra |= held_devices(claim)
        for entry in self._in_flight.values():
            extra |= held_devices(entry.claim)
        return DeviceUnion(self._objects.allocated_devices(), extra)

    # -- Reserve / Unreserve / PreBind ----------------------------------------------

    def signal_pending(self, claim: ResourceClaim) -> None:
        entry = self._in_flight.get(claim.uid)
        if entry is not None:
            entry.sharers += 1
            return
        self._in_flight[claim.uid] = _InFlight(claim, 1)

    def maybe_remove_pending(self, uid: str, *, force: bool = False) -> bool:
        """Drop one sharer (all with ``force``); True when the allocation is gone."""
        entry = self._in_flight.get(uid)
        if entry is None:
            return False
        if force or entry.sharers <= 1:
            del self._in_flight[uid]
            return True
        entry.sharers -= 1
        return False

    def assume(self, written: ResourceClaim) -> None:
        """Stand in for the watched claim until the watch shows a newer version."""
        watched = self._objects.resource_claim(written.namespace, written.name)
        version = watched.resource_version if watched is not None else ""
        self._assumed[written.key] = _Assumed(version, written)

    def restore(self, key: str) -> None:
        self._assumed.pop(key, None)

    def __len__(self) -> int:
        return len(self._assumed) + len(self._in_flight)
