"""Pod group members as plugins see them (upstream's ``PodGroupState``).

The scheduler indexes every pod that names a group
(:class:`py_scheduler.model.podgroups.PodGroupRef`) as the watches show it:
unscheduled pods of its profiles and every bound one. A plugin asks its
``Handle.pod_groups`` for one group's ``GroupMembers``: who exists, who is
assumed (held on a node, not bound yet) and who is bound. Kept by
:mod:`py_scheduler.scheduling.pod_groups`; read between and during cycles,
never changed by plugins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

from py_scheduler.model import PodInfo, PodUID
from py_scheduler.model.podgroups import GroupKey


@dataclass(frozen=True, slots=True)
class GroupMembers:
    """One group's pods now. ``pods`` are the live members (neither terminating
    nor finished), in the order they were first seen; ``assumed`` and ``bound``
    are UIDs among them. ``succeeded`` and ``failed`` count finished members.
    ``since`` is when the scheduler first saw a member (the queue's clock)."""

    key: GroupKey
    pods: tuple[PodInfo, ...] = ()
    assumed: frozenset[PodUID] = frozenset()
    bound: frozenset[PodUID] = frozenset()
    succeeded: int = 0
    failed: int = 0
    since: float = 0.0

    @property
    def count(self) -> int:
        return len(self.pods)

    @property
    def scheduled(self) -> int:
        """Assumed or bound: what a gang's quorum counts."""
        return len(self.assumed) + len(self.bound)

    @property
    def running(self) -> int:
        return sum(1 for p in self.pods if p.uid in self.bound and p.phase == "Running")

    def unscheduled(self) -> list[PodInfo]:
        """Members neither assumed nor bound."""
        return [p for p in self.pods if p.uid not in self.assumed and p.uid not in self.bound]


class PodGroupLister(Protocol):
    def members(self, key: GroupKey) -> GroupMembers:
        """The group's members now (none when no pod names it)."""

    def count(self, key: GroupKey) -> int:
        """How many live members the group has (cheaper than ``members``)."""

    def since(self, key: GroupKey) -> float | None:
        """When a member was first seen (the queue's clock); None: no member."""

    def keys(self) -> Iterable[GroupKey]:
        """Every group some pod names now."""

    def subscribe(self, changed: Callable[[GroupKey], None]) -> None:
        """Call ``changed(key)`` whenever a member of ``key`` is added, changes or
        goes (on the event loop, between cycles)."""


@runtime_checkable
class PodGroupReporter(Protocol):
    """A plugin that schedules pod groups and says how they fare (the scheduler
    exports it as ``py_scheduler_pod_groups`` and ``..._rounds_total``)."""

    def pod_group_states(self) -> Mapping[str, int]:
        """How many groups are in each state now."""

    def pod_group_rounds(self) -> Mapping[str, int]:
        """How many admission rounds ended with each result so far."""


class NoPodGroups:
    """A lister with no groups (a Handle built without the scheduler's index)."""

    def members(self, key: GroupKey) -> GroupMembers:
        return GroupMembers(key)

    def count(self, key: GroupKey) -> int:
        del key
        return 0

    def since(self, key: GroupKey) -> float | None:
        del key
        return None

    def keys(self) -> Sequence[GroupKey]:
        return ()

    def subscribe(self, changed: Callable[[GroupKey], None]) -> None:
        del changed


NO_POD_GROUPS: Final = NoPodGroups()
