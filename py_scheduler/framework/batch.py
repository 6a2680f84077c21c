"""Node numbers as numpy columns, for plugins that judge every candidate at once.

A cycle filters and scores hundreds to thousands of nodes, and Python pays
per call. Plugins whose verdict is arithmetic on a node's numbers
(NodeResourcesFit, NodeResourcesBalancedAllocation, TaintToleration's score)
therefore also offer a batch form over these columns; the runtime uses it when present and the
per-node form everywhere else. A batch method must agree with its per-node
twin on every node, or say ``None`` (judge per node) when it cannot be exact.

Threads over node chunks, as kube-scheduler's Parallelizer does, lose here:
under the GIL they only add hand-off cost (``scheduling.evaluation.Threaded``,
measured by ``python -m bench.evaluation``).

The columns follow the snapshot's node list row by row. A snapshot that logs
which NodeInfos it touched (the cache, see ``ChangeLog``) costs one row per
assumed pod between cycles; any other snapshot is re-read in full each cycle.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from typing import ClassVar, Final, Protocol, cast, runtime_checkable

import numpy as np
import numpy.typing as npt

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.model import NodeInfo, NodeName, PodInfo
from py_scheduler.model.taints import PREFER_NO_SCHEDULE

Int64s = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

# Below this every sum, difference, product by 100 stays inside int64, and a
# conversion to float64 is exact, so array results equal Python's int results.
EXACT_LIMIT: Final = 2**52

# Row layout of ``NodeColumns.data`` (one row per quantity, one column per node).
ALLOC_CPU: Final = 0
ALLOC_MEMORY: Final = 1
ALLOC_EPHEMERAL: Final = 2
ALLOWED_PODS: Final = 3
REQ_CPU: Final = 4
REQ_MEMORY: Final = 5
REQ_EPHEMERAL: Final = 6
NON_ZERO_CPU: Final = 7
NON_ZERO_MEMORY: Final = 8
POD_COUNT: Final = 9
SOFT_TAINTS: Final = 10  # PreferNoSchedule taints
_ROWS: Final = 11


class Column(enum.IntEnum):
    """The built-in columns (``NodeColumns.column``): per node, allocatable
    and requested milli-CPU, memory and ephemeral storage bytes, allowed
    and current pod counts, requests counted as kube-scheduler's non-zero
    defaults, and PreferNoSchedule taints."""

    ALLOC_CPU = ALLOC_CPU
    ALLOC_MEMORY = ALLOC_MEMORY
    ALLOC_EPHEMERAL = ALLOC_EPHEMERAL
    ALLOWED_PODS = ALLOWED_PODS
    REQ_CPU = REQ_CPU
    REQ_MEMORY = REQ_MEMORY
    REQ_EPHEMERAL = REQ_EPHEMERAL
    NON_ZERO_CPU = NON_ZERO_CPU
    NON_ZERO_MEMORY = NON_ZERO_MEMORY
    POD_COUNT = POD_COUNT
    SOFT_TAINTS = SOFT_TAINTS


@runtime_checkable
class ChangeLog(Protocol):
    """A snapshot that can say which NodeInfos changed since a generation."""

    @property
    def generation(self) -> int: ...

    def changed_since(self, generation: int) -> Sequence[NodeInfo] | None:
        """NodeInfos touched after ``generation``; None when the log no longer reaches back."""


_KEEPS_LOG: dict[type, bool] = {}


def change_log(snapshot: object) -> ChangeLog | None:
    """The snapshot as a ChangeLog, if it keeps one."""
    # A Protocol isinstance check walks the class each time: remember per type.
    kind = type(snapshot)
    keeps = _KEEPS_LOG.get(kind)
    if keeps is None:
        keeps = _KEEPS_LOG[kind] = isinstance(snapshot, ChangeLog)
    return cast(ChangeLog, snapshot) if keeps else None


def _numbers(node_info: NodeInfo) -> tuple[int, ...]:
    alloc = node_info.node.allocatable
    used = node_info.requested
    return (
        alloc.milli_cpu,
        alloc.memory,
        alloc.ephemeral_storage,
        node_info.node.allowed_pods,
        used.milli_cpu,
        used.memory,
        used.ephemeral_storage,
        node_info.non_zero_cpu,
        node_info.non_zero_memory,
        len(node_info.pods),
        sum(1 for taint in node_info.node.taints if taint.effect == PREFER_NO_SCHEDULE),
    )


class NodeColumns:
    """The per-node numbers of one node list, kept current row by row."""

    __slots__ = ("_derived", "_generation", "_largest", "_scalars", "data", "nodes", "rows")

    def __init__(self) -> None:
        self.nodes: Sequence[NodeInfo] = ()
        self.rows: dict[NodeName, int] = {}
        self.data: Int64s = np.zeros((_ROWS, 0), dtype=np.int64)
        # Scalar resource name -> (allocatable, requested), built on first use.
        self._scalars: dict[str, tuple[Int64s, Int64s]] = {}
        # A plugin's own columns: key -> (how a node's value is computed, the column).
        self._derived: dict[str, tuple[Callable[[NodeInfo], int], Int64s]] = {}
        self._generation = -1
        # The largest number seen since the last rebuild; only grows, so a
        # value that once left the exact range keeps batch forms off until then.
        self._largest = 0

    def sync(self, nodes: Sequence[NodeInfo], snapshot: object) -> None:
        """Match ``nodes``, the list ``snapshot`` gives now."""
        log = change_log(snapshot)
        if nodes is self.nodes and log is not None:
            changed = log.changed_since(self._generation)
            if changed is not None:
                self._refresh(changed)
                self._generation = log.generation
                return
        self._rebuild(nodes)
        self._generation = log.generation if log is not None else -1

    def _rebuild(self, nodes: Sequence[NodeInfo]) -> None:
        self.nodes = nodes
        self.rows = {node_info.name: i for i, node_info in enumerate(nodes)}
        table = [_numbers(node_info) for node_info in nodes]
        self._largest = max((max(numbers) for numbers in table), default=0)
        if self._largest < EXACT_LIMIT:
            self.data = np.array(table, dtype=np.int64).reshape(-1, _ROWS).T.copy()
        else:
            self.data = np.zeros((_ROWS, len(nodes)), dtype=np.int64)
        self._scalars = {}
        self._derived = {}

    def _refresh(self, changed: Iterable[NodeInfo]) -> None:
        rows, nodes, data = self.rows, self.nodes, self.data
        for node_info in changed:
            row = rows.get(node_info.name)
            if row is None or nodes[row] is not node_info:
                continue  # a node already gone from the list
            numbers = _numbers(node_info)
            self._largest = max(self._largest, *numbers)
            if self._largest < EXACT_LIMIT:
                data[:, row] = numbers
            for name, (alloc, used) in list(self._scalars.items()):
                pair = self._scalar_pair(node_info, name)
                if max(pair) >= EXACT_LIMIT:
                    del self._scalars[name]  # rebuilt, and refused, on next use
                else:
                    alloc[row], used[row] = pair
            for key, (value, derived) in list(self._derived.items()):
                try:
                    number = value(node_info)
                    exact = abs(number) < EXACT_LIMIT
                except Exception:
                    exact = False  # raised again, inside its plugin's call, on next use
                if exact:
                    derived[row] = number
                else:
                    del self._derived[key]  # rebuilt on next use

    @property
    def exact(self) -> bool:
        """Whether every number fits the exact range (else judge per node)."""
        return self._largest < EXACT_LIMIT

    def column(self, index: int) -> Int64s:
        column: Int64s = self.data[index]
        return column

    @staticmethod
    def _scalar_pair(node_info: NodeInfo, name: str) -> tuple[int, int]:
        return node_info.node.allocatable.scalars.get(name, 0), node_info.requested.scalars.get(
            name, 0
        )

    def scalar(self, name: str) -> tuple[Int64s, Int64s] | None:
        """(allocatable, requested) of a scalar resource; None when out of exact range."""
        pair = self._scalars.get(name)
        if pair is None:
            values = [self._scalar_pair(node_info, name) for node_info in self.nodes]
            if any(max(both) >= EXACT_LIMIT for both in values):
                return None
            table = np.array(values, dtype=np.int64).reshape(-1, 2).T.copy()
            pair = self._scalars[name] = (table[0], table[1])
        return pair

    def derived(self, key: str, value: Callable[[NodeInfo], int]) -> Int64s | None:
        """A column of the caller's own making: ``value(node_info)`` for every
        listed node, computed once and then only for the rows whose NodeInfo
        changed, as the built-in columns are. ``value`` must depend on the
        NodeInfo alone (its node's labels, annotations, pods...), and one
        ``key`` must always come with the same ``value``. None when a value
        is outside the exact range (then judge per node). A value that
        raises propagates: a batch form that calls this falls back to its
        per-node form."""
        found = self._derived.get(key)
        if found is not None:
            return found[1]
        numbers = [value(node_info) for node_info in self.nodes]
        if any(abs(n) >= EXACT_LIMIT for n in numbers):
            return None
        column = np.array(numbers, dtype=np.int64)
        self._derived[key] = (value, column)
        return column

    def rows_of(self, nodes: Sequence[NodeInfo]) -> Int64s | None:
        """Row per node of ``nodes``; None if one is not the listed NodeInfo
        (a clone with pods added or removed, or a node from another list)."""
        if nodes is self.nodes:
            return np.arange(len(nodes), dtype=np.int64)
        rows, listed = self.rows, self.nodes
        out = np.empty(len(nodes), dtype=np.int64)
        for i, node_info in enumerate(nodes):
            row = rows.get(node_info.name)
            if row is None or listed[row] is not node_info:
                return None
            out[i] = row
        return out


@runtime_checkable
class BatchFilterPlugin(Protocol):
    """Optional on a Filter plugin: its verdict on many nodes at once."""

    name: ClassVar[str]

    def filter_batch(
        self, state: CycleState, pod: PodInfo, columns: NodeColumns, rows: Int64s
    ) -> Bools | None:
        """True where ``filter`` would return Success for the node at that row;
        None: the runtime asks ``filter`` per node."""


@runtime_checkable
class BatchScorePlugin(Protocol):
    """Optional on a Score plugin: its scores for many nodes at once."""

    name: ClassVar[str]
    # True: ``score_batch`` returns the scores after ``normalize_scores``, so a
    # ScoreNormalizer can be batched. False: raw scores, batched only for a
    # plugin that does not normalise.
    batch_normalizes: ClassVar[bool]

    def score_batch(
        self, state: CycleState, pod: PodInfo, columns: NodeColumns, rows: Int64s
    ) -> Int64s | None:
        """What ``score`` returns for the node at each row (normalised if
        ``batch_normalizes``); None: score per node."""
