"""The assume cache: claims and volumes as VolumeBinding has decided them,
ahead of the API server.

Reserve records a volume pre-bound to a claim, or a claim given a selected
node, so that the next pod's cycle (the very next one, before any write has
landed) does not choose the same volume. An assumption holds while the
watched object still has the version it was made over; once the watch shows
a newer version (our own write, or anyone's), the watched object wins, as in
kube-scheduler's AssumeCache. Unreserve restores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


class Versioned(Protocol):
    @property
    def resource_version(self) -> str: ...


T = TypeVar("T", bound=Versioned)


@dataclass(frozen=True, slots=True)
class _Assumed(Generic[T]):
    over_version: str
    value: T


class AssumeCache(Generic[T]):
    def __init__(self) -> None:
        self._assumed: dict[str, _Assumed[T]] = {}

    def assume(self, key: str, value: T, watched: T | None) -> None:
        over = watched.resource_version if watched is not None else ""
        self._assumed[key] = _Assumed(over, value)

    def restore(self, key: str) -> None:
        self._assumed.pop(key, None)

    def get(self, key: str, watched: T | None) -> T | None:
        """The assumed object while the watch has not moved past it."""
        entry = self._assumed.get(key)
        if entry is None:
            return watched
        if watched is None or watched.resource_version != entry.over_version:
            del self._assumed[key]
            return watched
        return entry.value

    def __len__(self) -> int:
        return len(self._assumed)
