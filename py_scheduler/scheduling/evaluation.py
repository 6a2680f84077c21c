"""How a cycle judges its candidate nodes: one loop body, three evaluators.

The algorithm (:mod:`.algorithm`) hands an evaluator the candidates in their
round-robin order and how many feasible nodes end the search; the loop body
is always ``Framework.filter_node`` on one node, as kube-scheduler hands one
``checkNode`` closure to its parallelizer. What the evaluators change is only
how that body is run, never what it decides: every one returns the statuses
the sequential loop would have produced, up to the node where it stops (the
``want``-th feasible node, or the first error), and the same scores.

- ``NodeByNode``: the reference, one node after another.
- ``Columnar`` (the default): the plugins with a batch form (``framework.batch``)
  first judge every candidate at once over numpy columns; each node then runs
  only the filters that did not already accept it, and scoring uses the batch
  forms where plugins have them. Below ``min_nodes`` candidates numpy's
  per-call overhead outweighs what it saves, so it judges node by node.
- ``Threaded``: kube-scheduler's shape, chunks of nodes on a thread pool. Under
  the GIL it only adds hand-off cost; it is kept as the measured alternative
  (``python -m bench.evaluation``).
- ``Explaining``: what ``explain`` runs. It judges every candidate (no
  sampling: ``want`` is ignored), node by node, and keeps a ``Trace`` in the
  cycle state: every Filter plugin's verdict on each rejected node
  (``Framework.filter_verdicts``) and every Score plugin's raw, normalised and
  weighted scores. The statuses, totals and the node selected are the loop
  body's and ``run_score``'s own.
- ``Recording`` wraps another evaluator and keeps what it decided (sampling
  included) in the trace: the live scheduler's result annotations.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Final, Protocol

import numpy as np

from py_scheduler.framework.batch import Int64s
from py_scheduler.framework.cycle_state import CycleState, StateKey
from py_scheduler.framework.interface import SharedLister
from py_scheduler.framework.runtime import Framework, ScoreRecord
from py_scheduler.framework.status import Code, Status
from py_scheduler.model import NodeInfo, NodeName, PodInfo

# Below this many candidates numpy's per-call overhead outweighs what the
# batch forms save (bench.evaluation: the crossover lies between 10 and 50).
BATCH_MIN_NODES: Final = 40
PARALLELISM: Final = 16  # kube-scheduler's default

# The loop body: the status of the candidate at this position of the round-robin order.
CheckNode = Callable[[int], Status]


@dataclass(slots=True)
class Outcome:
    """What the Filter loop decided: how many candidates it judged (a prefix of
    the round-robin order), the feasible ones in that order with their rows in
    the framework's columns (when known), the rejected ones in that order
    with their statuses, and the Error that ended the loop, if one did.

    The statuses may be given as a function: an evaluator that knows a node
    is rejected (from a batch form) need not find out why until asked, and
    a cycle that found a node never asks."""

    judged: int
    feasible: list[NodeInfo]
    rows: Int64s | None
    rejected: list[NodeName]
    why: list[Status] | Callable[[], list[Status]]
    error: Status | None = None

    def statuses(self) -> list[Status]:
        """The rejected nodes' statuses, in the order of ``rejected``."""
        if callable(self.why):
            self.why = self.why()
        return self.why


class Judged:
    """The statuses of the first ``len(statuses)`` candidates in round-robin
    order; ``rows`` are every candidate's rows in the framework's columns when
    batch filters ran (in candidate order, not round-robin order). An
    evaluator that has the outcome at hand passes it instead (``decided``)."""

    __slots__ = ("decided", "rows", "statuses")

    def __init__(
        self,
        statuses: list[Status],
        rows: Int64s | None = None,
        *,
        decided: Outcome | None = None,
    ) -> None:
        self.statuses = statuses
        self.rows = rows
        self.decided = decided

    def outcome(self, nodes: Sequence[NodeInfo], start: int) -> Outcome:
        if self.decided is not None:
            return self.decided
        count = len(nodes)
        statuses: list[Status] = []
        out = Outcome(len(self.statuses), [], None, [], statuses)
        found_at: list[int] = []
        for i, status in enumerate(self.statuses):
            at = (start + i) % count
            if status.code is Code.SUCCESS:
                out.feasible.append(nodes[at])
                found_at.append(at)
            elif status.code is Code.ERROR:
                out.error = status
            else:
                out.rejected.append(nodes[at].name)
                statuses.append(status)
        out.rows = rows_of(self.rows, found_at)
        return out


class Evaluator(Protocol):
    def filter(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        snapshot: SharedLister,
        nodes: Sequence[NodeInfo],
        *,
        start: int,
        want: int,
    ) -> Judged:
        """Judge ``nodes[(start + i) % len(nodes)]`` for i = 0, 1, ... until
        ``want`` are feasible or one errs."""

    def score(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        snapshot: SharedLister,
        feasible: Sequence[NodeInfo],
        rows: Int64s | None,
    ) -> tuple[list[int], Status]:
        """Weighted totals per feasible node; ``rows`` locate them in the
        columns when the filter pass had them."""


def judge_in_order(count: int, check: CheckNode, want: int) -> list[Status]:
    """The sequential loop: stop after the ``want``-th Success or at an Error."""
    statuses: list[Status] = []
    found = 0
    for i in range(count):
        status = check(i)
        statuses.append(status)
        if status.code is Code.SUCCESS:
            found += 1
            if found >= want:
                break
        elif status.code is Code.ERROR:
            break
    return statuses


def _check_all(
    fwk: Framework, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo], start: int
) -> CheckNode:
    count = len(nodes)
    filter_node = fwk.filter_node

    def check(i: int) -> Status:
        return filter_node(state, pod, nodes[(start + i) % count])

    return check


class NodeByNode:
    def filter(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        snapshot: SharedLister,
        nodes: Sequence[NodeInfo],
        *,
        start: int,
        want: int,
    ) -> Judged:
        return Judged(judge_in_order(len(nodes), _check_all(fwk, state, pod, nodes, start), want))

    def score(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        snapshot: SharedLister,
        feasible: Sequence[NodeInfo],
        rows: Int64s | None,
    ) -> tuple[list[int], Status]:
        return fwk.run_score(state, pod, feasible)


class Columnar:
    def __init__(self, min_nodes: int = BATCH_MIN_NODES) -> None:
        self.min_nodes = min_nodes

    def filter(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        snapshot: SharedLister,
        nodes: Sequence[NodeInfo],
        *,
        start: int,
        want: int,
    ) -> Judged:
        count = len(nodes)
        batch = fwk.filter_batch(state, pod, nodes, snapshot) if count >= self.min_nodes else None
        if batch is None:
            return Judged(judge_in_order(count, _check_all(fwk, state, pod, nodes, start), want))
        passes, rest = batch.passes, batch.rest
        filter_node = fwk.filter_node

        def check(i: int) -> Status:
            at = (start + i) % count
            # Accepted by every batch filter: only the others can still reject.
            # Rejected: all filters in order, for exactly the per-node status.
            return filter_node(state, pod, nodes[at], rest if passes[at] else None)

        return Judged(judge_in_order(count, check, want), batch.rows)

    def score(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        snapshot: SharedLister,
        feasible: Sequence[NodeInfo],
        rows: Int64s | None,
    ) -> tuple[list[int], Status]:
        if rows is None and len(feasible) >= self.min_nodes and fwk.has_batch_scores:
            rows = fwk.batch_rows(feasible, snapshot)  # no batch filter ran for this pod
        return fwk.run_score(state, pod, feasible, rows)


def chunk_size(count: int, parallelism: int) -> int:
    """kube-scheduler's chunkSizeFor: about sqrt(n), at most n/parallelism + 1."""
    return max(1, min(int(math.sqrt(count)), count // parallelism + 1))


class Threaded:
    """Chunks of the round-robin order on a thread pool, a wave of
    ``parallelism`` chunks at a time, each wave sized to the feasible nodes
    still wanted; the result is cut to the prefix the sequential loop judges."""

    def __init__(self, pool: Executor, parallelism: int = PARALLELISM) -> None:
        self.pool = pool
        self.parallelism = parallelism

    def filter(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        snapshot: SharedLister,
        nodes: Sequence[NodeInfo],
        *,
        start: int,
        want: int,
    ) -> Judged:
        count = len(nodes)
        check = _check_all(fwk, state, pod, nodes, start)
        size = chunk_size(count, self.parallelism)
        statuses: list[Status] = []
        found = 0
        begin = 0
        while begin < count:
            need = max(want - found, self.parallelism)
            step = min(size, math.ceil(need / self.parallelism))
            end = min(begin + step * self.parallelism, count)
            chunks = [range(i, min(i + step, end)) for i in range(begin, end, step)]
            begin = end
            for part in self.pool.map(lambda chunk: [check(i) for i in chunk], chunks):
                for status in part:
                    statuses.append(status)
                    if status.code is Code.SUCCESS:
                        found += 1
                        if found >= want:
                            return Judged(statuses)
                    elif status.code is Code.ERROR:
                        return Judged(statuses)
        return Judged(statuses)

    def score(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        snapshot: SharedLister,
        feasible: Sequence[NodeInfo],
        rows: Int64s | None,
    ) -> tuple[list[int], Status]:
        size = chunk_size(len(feasible), self.parallelism)
        chunks = [feasible[i : i + size] for i in range(0, len(feasible), size)]

        def each(score: Callable[[NodeInfo], int]) -> list[int]:
            parts = self.pool.map(lambda chunk: [score(node) for node in chunk], chunks)
            return [s for part in parts for s in part]

        return fwk.run_score(state, pod, feasible, each=each)


def rows_of(rows: Int64s | None, positions: Sequence[int]) -> Int64s | None:
    return rows[np.array(positions, dtype=np.int64)] if rows is not None else None


TRACE_KEY: Final[StateKey[Trace]] = StateKey("explain/trace")


class PluginScores:
    """One Score plugin's results over the scored nodes, in their order."""

    __slots__ = ("normalized", "raw", "weight")

    def __init__(self, raw: Sequence[int], normalized: Sequence[int], weight: int) -> None:
        self.raw = list(raw)
        self.normalized = list(normalized)
        self.weight = weight


class Trace:
    """What an ``Explaining`` evaluator saw in one cycle. ``candidates`` stays
    None when Filter never ran over the node list (a PreFilter rejected the
    pod, or its nominated node fit at once)."""

    __slots__ = ("candidates", "scored", "scores", "totals", "verdicts")

    def __init__(self) -> None:
        self.candidates: list[NodeName] | None = None
        self.verdicts: dict[NodeName, list[Status]] = {}
        self.scored: list[NodeName] = []
        self.scores: dict[str, PluginScores] = {}
        self.totals: list[int] = []

    def recorder(self, nodes: Sequence[NodeInfo]) -> ScoreRecord:
        self.scored = [node.name for node in nodes]

        def record(plugin: str, raw: Sequence[int], normalized: Sequence[int], weight: int) -> None:
            self.scores[plugin] = PluginScores(raw, normalized, weight)

        return record


def trace_of(state: CycleState) -> Trace:
    """The cycle's trace, started on first use."""
    trace = state.get(TRACE_KEY)
    if trace is None:
        trace = Trace()
        state.write(TRACE_KEY, trace)
    return trace


class Explaining:
    """Every candidate, every plugin, recorded in the cycle state's ``Trace``."""

    def filter(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        snapshot: SharedLister,
        nodes: Sequence[NodeInfo],
        *,
        start: int,
        want: int,
    ) -> Judged:
        count = len(nodes)
        trace = trace_of(state)
        trace.candidates = []
        statuses: list[Status] = []
        for i in range(count):
            node = nodes[(start + i) % count]
            status = fwk.filter_node(state, pod, node)
            statuses.append(status)
            trace.candidates.append(node.name)
            if status.code is Code.ERROR:
                break
            if status.code is not Code.SUCCESS:
                later = fwk.filter_verdicts(state, pod, node, after=status.plugin)
                trace.verdicts[node.name] = [
                    status,
                    *(v for v in later if v.plugin != status.plugin),
                ]
        return Judged(statuses)

    def score(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        snapshot: SharedLister,
        feasible: Sequence[NodeInfo],
        rows: Int64s | None,
    ) -> tuple[list[int], Status]:
        return _recorded_score(fwk, state, pod, feasible)


class Recording:
    """Another evaluator's decisions, with its scores recorded per plugin in
    the cycle state's ``Trace``: what the result annotations show. Filter is
    the inner evaluator's, sampling and kept verdicts included; the trace
    gets the decisive status of each node it judged. Scores are taken per node (where raw and
    normalised scores are both known), which the batch forms agree with."""

    def __init__(self, inner: Evaluator) -> None:
        self.inner = inner

    def filter(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        snapshot: SharedLister,
        nodes: Sequence[NodeInfo],
        *,
        start: int,
        want: int,
    ) -> Judged:
        judged = self.inner.filter(fwk, state, pod, snapshot, nodes, start=start, want=want)
        # The inner evaluator may hand over its outcome rather than statuses
        # (the incremental one does); the algorithm reads the same object.
        out = judged.outcome(nodes, start)
        judged.decided = out
        trace = trace_of(state)
        count = len(nodes)
        trace.candidates = [nodes[(start + i) % count].name for i in range(out.judged)]
        for name, status in zip(out.rejected, out.statuses(), strict=True):
            trace.verdicts[name] = [status]
        if out.error is not None and trace.candidates:
            # The loop stops at the node whose Filter erred: the last one judged.
            trace.verdicts[trace.candidates[-1]] = [out.error]
        return judged

    def score(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        snapshot: SharedLister,
        feasible: Sequence[NodeInfo],
        rows: Int64s | None,
    ) -> tuple[list[int], Status]:
        return _recorded_score(fwk, state, pod, feasible)


def _recorded_score(
    fwk: Framework, state: CycleState, pod: PodInfo, feasible: Sequence[NodeInfo]
) -> tuple[list[int], Status]:
    trace = trace_of(state)
    totals, status = fwk.run_score(state, pod, feasible, record=trace.recorder(feasible))
    trace.totals = list(totals)
    return totals, status
