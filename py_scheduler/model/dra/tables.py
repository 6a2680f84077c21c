"""The watched DRA objects' tables, with the views a cycle needs kept current.

:class:`ClaimTable` is the watched claims' table (``namespace/name`` →
claim). Every write updates :class:`AllocatedDevices`, so a scheduling cycle
asks "is this device taken?" without walking every claim, as upstream's
``allocatedDevices`` does from its informer events. A device allocated with
admin access is not taken: admin access never blocks others.

:class:`SliceTable` holds ResourceSlices by name and lists them per node,
rebuilt only after a slice changed.

The DynamicResources plugin adds what the watch cannot show yet: claims it
wrote (assumed until the watch catches up) and allocations in flight
between Reserve and PreBind.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping, Set
from typing import Final

from py_scheduler.model.dra.objects import DeviceID, ResourceClaim, ResourceSlice

_EMPTY: Final[frozenset[DeviceID]] = frozenset()


def held_devices(claim: ResourceClaim | None) -> frozenset[DeviceID]:
    """The devices an allocated claim keeps from others."""
    if claim is None or claim.allocation is None:
        return _EMPTY
    return frozenset(r.id for r in claim.allocation.results if not r.admin_access)


class AllocatedDevices(Set[DeviceID]):
    """A set of devices with a reference count per device (several claims may
    name one device while an allocation is being replaced)."""

    def __init__(self) -> None:
        self._count: dict[DeviceID, int] = {}

    def __contains__(self, item: object) -> bool:
        return item in self._count

    def __iter__(self) -> Iterator[DeviceID]:
        return iter(self._count)

    def __len__(self) -> int:
        return len(self._count)

    def change(self, removed: frozenset[DeviceID], added: frozenset[DeviceID]) -> None:
        for device in removed:
            left = self._count.get(device, 0) - 1
            if left > 0:
                self._count[device] = left
            else:
                self._count.pop(device, None)
        for device in added:
            self._count[device] = self._count.get(device, 0) + 1


class ClaimTable(MutableMapping[str, ResourceClaim]):
    """Watched claims by ``namespace/name``, with the devices they hold."""

    def __init__(self) -> None:
        self._claims: dict[str, ResourceClaim] = {}
        self.allocated = AllocatedDevices()

    def __getitem__(self, key: str) -> ResourceClaim:
        return self._claims[key]

    def __setitem__(self, key: str, claim: ResourceClaim) -> None:
        old = self._claims.get(key)
        self._claims[key] = claim
        before, after = held_devices(old), held_devices(claim)
        if before != after:
            self.allocated.change(before, after)

    def __delitem__(self, key: str) -> None:
        old = self._claims.pop(key)
        self.allocated.change(held_devices(old), _EMPTY)

    def __iter__(self) -> Iterator[str]:
        return iter(self._claims)

    def __len__(self) -> int:
        return len(self._claims)


class SliceTable(MutableMapping[str, ResourceSlice]):
    """ResourceSlices by name, listed all at once or per node."""

    def __init__(self) -> None:
        self._slices: dict[str, ResourceSlice] = {}
        self._all: tuple[ResourceSlice, ...] | None = None
        self._by_node: dict[str, list[ResourceSlice]] = {}
        self._shared: list[ResourceSlice] = []

    def __getitem__(self, key: str) -> ResourceSlice:
        return self._slices[key]

    def __setitem__(self, key: str, value: ResourceSlice) -> None:
        self._slices[key] = value
        self._all = None

    def __delitem__(self, key: str) -> None:
        del self._slices[key]
        self._all = None

    def __iter__(self) -> Iterator[str]:
        return iter(self._slices)

    def __len__(self) -> int:
        return len(self._slices)

    def all(self) -> tuple[ResourceSlice, ...]:
        if self._all is None:
            self._all = tuple(self._slices.values())
            self._by_node = {}
            self._shared = []
            for slice_ in self._all:
                if slice_.node_name:
                    self._by_node.setdefault(slice_.node_name, []).append(slice_)
                else:
                    self._shared.append(slice_)
        return self._all

    def for_node(self, node: str) -> list[ResourceSlice]:
        self.all()
        own = self._by_node.get(node)
        return own + self._shared if own else list(self._shared)
