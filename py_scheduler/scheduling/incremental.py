"""The incremental evaluator: a pod like the previous ones is judged again
only on the nodes that changed since.

Pods of one workload are usually identical to the node-local plugins
(:mod:`.signatures`): same requests, selectors, tolerations, ports, images.
For each signature (and profile) this evaluator keeps, per node of the
snapshot's list, the node-local filters' verdict with its status and the
node-local scores' raw values. Each cycle it asks the snapshot which
NodeInfos changed since it last looked (``ChangeLog``: the node a pod was
just assumed on, nodes that watch events touched) and forgets only those
rows. Everything else a cycle needs is computed afresh, exactly as the
other evaluators do:

- the filters that read cluster-wide state (spreading, inter-pod affinity,
  volumes, claims, out-of-tree plugins) run on the candidates the kept
  verdicts let through, with their batch forms where they have them;
- nodes with nominated pods run every filter (``Framework.filter_node``);
- PreScore, the scores without a kept form, normalisation and selection run
  on the feasible nodes of this cycle.

The walk over the round-robin order is the sequential loop's: the judged
prefix ends at the ``want``-th feasible node or at the first Error, so the
feasible set, the statuses, the round-robin start, the scores and the
random draws of the selection are the ones ``NodeByNode`` gives (the
equivalence tests hold it to that over generated clusters with churn).
It only skips calls whose answer it already has.

Anything it does not cover goes to the fallback evaluator (``Columnar``):
a snapshot without a change log, candidates narrowed by a PreFilter, or
fewer than ``min_nodes`` candidates.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol, cast, runtime_checkable

import numpy as np
import numpy.typing as npt

from py_scheduler.framework.batch import BatchFilterPlugin, ChangeLog, Int64s, change_log
from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.interface import FilterPlugin, ScorePlugin, SharedLister
from py_scheduler.framework.runtime import Framework
from py_scheduler.framework.status import Code, Status
from py_scheduler.model import NodeInfo, PodInfo
from py_scheduler.scheduling.evaluation import (
    BATCH_MIN_NODES,
    Columnar,
    Evaluator,
    Judged,
    Outcome,
)
from py_scheduler.scheduling.signatures import (
    NODE_LOCAL_FILTERS,
    NODE_LOCAL_SCORES,
    READS_IMAGE_COUNTS,
    signature,
)

# Signatures (per profile) whose verdicts are kept; the least recently used goes first.
KEPT_SIGNATURES: Final = 32

# Per row of a kept entry: not judged yet (or changed since), accepted, rejected.
_UNKNOWN: Final = -1
_REJECTED: Final = 0
_ACCEPTED: Final = 1
# Per position of one cycle's walk: to be judged by every filter (a node with
# nominated pods), or accepted by the kept verdict but not yet by the others.
_NOMINATED: Final = -2
_FRESH: Final = -3

Int8s = npt.NDArray[np.int8]
Bools = npt.NDArray[np.bool_]


@runtime_checkable
class ImageLog(Protocol):
    """A snapshot that says when the image counts last changed."""

    @property
    def images_generation(self) -> int: ...


_CAPABLE: dict[tuple[type, type], bool] = {}


def _has(snapshot: object, protocol: type) -> bool:
    # A Protocol isinstance check walks the class each time: remember per type.
    key = (type(snapshot), protocol)
    capable = _CAPABLE.get(key)
    if capable is None:
        capable = _CAPABLE[key] = isinstance(snapshot, protocol)
    return capable


def _same(a: Sequence[object], b: Sequence[object]) -> bool:
    """Same objects in the same order (kept references make identity safe)."""
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


class _Table:
    """One node list as arrays: its NodeInfos and names, and each name's row."""

    __slots__ = ("names", "nodes", "objects", "rows")

    def __init__(self, nodes: Sequence[NodeInfo]) -> None:
        self.nodes = nodes
        self.objects = np.empty(len(nodes), dtype=object)
        self.objects[:] = nodes
        self.names = np.array([n.name for n in nodes], dtype=object)
        self.rows = {n.name: i for i, n in enumerate(nodes)}


@dataclass(frozen=True, slots=True)
class _Plan:
    """The filters of one profile that run for one cycle, sorted by whether
    their verdicts can be kept, each with its place in the Filter order."""

    local: tuple[FilterPlugin, ...]
    local_batch: tuple[BatchFilterPlugin, ...]
    fresh: tuple[FilterPlugin, ...]
    fresh_batch: tuple[BatchFilterPlugin, ...]
    order: dict[str, int]
    # The earliest fresh filter's place: a kept rejection by a later filter
    # may be preceded by a fresh one's.
    first_fresh: int


class _Entry:
    """The kept verdicts and raw scores of one signature over one node list."""

    __slots__ = (
        "generation",
        "images_generation",
        "nominated",
        "rejected_by",
        "scores",
        "state",
        "statuses",
    )

    def __init__(self, count: int, generation: int, images_generation: int) -> None:
        self.generation = generation
        self.images_generation = images_generation
        self.state: Int8s = np.full(count, _UNKNOWN, dtype=np.int8)
        self.statuses: list[Status | None] = [None] * count
        self.rejected_by: list[int] = [0] * count
        # Score plugin name -> (raw score per row, whether it is known).
        self.scores: dict[str, tuple[Int64s, Bools]] = {}
        # Row -> (the pods nominated there that the pod makes room for, the
        # verdict with them), kept only when every running filter is node-local.
        self.nominated: dict[int, tuple[tuple[PodInfo, ...], Status]] = {}

    def forget(self, rows: Sequence[int] | Int64s) -> None:
        self.state[rows] = _UNKNOWN
        if self.nominated:
            gone: Sequence[int] = rows.tolist() if isinstance(rows, np.ndarray) else rows
            if len(gone) >= len(self.state):
                self.nominated.clear()
            else:
                for row in gone:
                    self.nominated.pop(row, None)
        for _, known in self.scores.values():
            known[rows] = False


@dataclass(slots=True)
class _Cycle:
    """What ``filter`` leaves for ``score`` in the same cycle."""

    pod: PodInfo
    entry: _Entry
    table: _Table
    feasible: list[NodeInfo]
    rows: Int64s
    columns: bool  # whether the framework's columns follow the node list


class Incremental:
    def __init__(self, fallback: Evaluator | None = None, min_nodes: int = BATCH_MIN_NODES) -> None:
        self.fallback: Evaluator = fallback if fallback is not None else Columnar()
        self.min_nodes = min_nodes
        self._tables: dict[int, _Table] = {}
        self._plans: dict[tuple[Framework, frozenset[str]], _Plan] = {}
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._cycle: _Cycle | None = None
        # Candidates the node-local filters judged, cycles that kept verdicts
        # served, and verdicts on nodes with nominated pods given again.
        self.judged = 0
        self.cycles = 0
        self.nominated_kept = 0

    # -- Filter ------------------------------------------------------------------------

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
        self._cycle = None
        log = change_log(snapshot)
        if log is None or len(nodes) < self.min_nodes or nodes is not snapshot.node_infos():
            return self.fallback.filter(fwk, state, pod, snapshot, nodes, start=start, want=want)
        table = self._table(nodes)
        plan = self._plan(fwk, state)
        entry = self._entry(fwk, plan, pod, table, log, snapshot)
        columns = fwk.batch_rows(nodes, snapshot)  # brings the columns up to date
        walk = _Walk(fwk, state, pod, table, plan, entry, start, columns is not None)
        out = walk.run(want)
        self.judged += walk.judged
        self.nominated_kept += walk.nominated_kept
        self.cycles += 1
        if out.rows is not None and columns is None:
            out.rows = None
        self._cycle = _Cycle(
            pod, entry, table, out.feasible, walk.feasible_rows, columns is not None
        )
        return Judged([], decided=out)

    def _table(self, nodes: Sequence[NodeInfo]) -> _Table:
        table = self._tables.get(id(nodes))
        if table is None or table.nodes is not nodes:
            # A new list means the node set changed: every kept row is void.
            self._tables = {id(nodes): _Table(nodes)}
            self._entries.clear()
            table = self._tables[id(nodes)]
        return table

    def _plan(self, fwk: Framework, state: CycleState) -> _Plan:
        key = (fwk, state.skip_filter)
        plan = self._plans.get(key)
        if plan is None:
            active = [p for p in fwk.filter if p.name not in state.skip_filter]
            local = tuple(p for p in active if type(p) in NODE_LOCAL_FILTERS)
            fresh = tuple(p for p in active if type(p) not in NODE_LOCAL_FILTERS)
            batch = {p.name: p for p in fwk.batch_filters}
            order = {p.name: i for i, p in enumerate(active)}
            plan = self._plans[key] = _Plan(
                local=local,
                local_batch=tuple(batch[p.name] for p in local if p.name in batch),
                fresh=fresh,
                fresh_batch=tuple(batch[p.name] for p in fresh if p.name in batch),
                order=order,
                first_fresh=min((order[p.name] for p in fresh), default=len(active)),
            )
        return plan

    def _entry(
        self,
        fwk: Framework,
        plan: _Plan,
        pod: PodInfo,
        table: _Table,
        log: ChangeLog,
        snapshot: SharedLister,
    ) -> _Entry:
        key = (fwk, plan.local, signature(pod))
        images = cast(ImageLog, snapshot).images_generation if _has(snapshot, ImageLog) else -1
        entry = self._entries.get(key)
        if entry is None:
            entry = _Entry(len(table.nodes), log.generation, images)
            self._entries[key] = entry
            if len(self._entries) > KEPT_SIGNATURES:
                self._entries.popitem(last=False)
            return entry
        self._entries.move_to_end(key)
        changed = log.changed_since(entry.generation)
        if changed is None:
            entry.forget(np.arange(len(table.nodes)))
        elif changed:
            rows, nodes = table.rows, table.nodes
            touched = [
                row
                for node_info in changed
                if (row := rows.get(node_info.name)) is not None and nodes[row] is node_info
            ]
            entry.forget(touched)
        entry.generation = log.generation
        if images != entry.images_generation or images < 0:
            for plugin in fwk.score:
                if type(plugin) in READS_IMAGE_COUNTS and plugin.name in entry.scores:
                    entry.scores[plugin.name][1][:] = False
            entry.images_generation = images
        return entry

    # -- Score -------------------------------------------------------------------------

    def score(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        snapshot: SharedLister,
        feasible: Sequence[NodeInfo],
        rows: Int64s | None,
    ) -> tuple[list[int], Status]:
        cycle = self._cycle
        self._cycle = None
        if cycle is None or cycle.pod is not pod or cycle.feasible is not feasible:
            return self.fallback.score(fwk, state, pod, snapshot, feasible, rows)
        return fwk.run_score(state, pod, feasible, rows, kept=self._kept(fwk, cycle, state, pod))

    @staticmethod
    def _kept(
        fwk: Framework, cycle: _Cycle, state: CycleState, pod: PodInfo
    ) -> Callable[[ScorePlugin], Int64s | None]:
        entry, objects, rows = cycle.entry, cycle.table.objects, cycle.rows
        count = len(objects)

        def kept(plugin: ScorePlugin) -> Int64s | None:
            if type(plugin) not in NODE_LOCAL_SCORES:
                return None
            pair = entry.scores.get(plugin.name)
            if pair is None:
                pair = entry.scores[plugin.name] = (
                    np.zeros(count, dtype=np.int64),
                    np.zeros(count, dtype=np.bool_),
                )
            values, known = pair
            missing = rows[~known[rows]]
            if len(missing):
                # Raw scores only: a batch form may return them normalised.
                raw = None
                if cycle.columns and len(missing) >= BATCH_MIN_NODES:
                    raw = fwk.raw_batch_scores(state, pod, plugin, missing)
                if raw is None:
                    score = plugin.score
                    raw = np.array(
                        [score(state, pod, node) for node in objects[missing]], dtype=np.int64
                    )
                values[missing] = raw
                known[missing] = True
            result: Int64s = values[rows]
            return result

        return kept


class _Walk:
    """One cycle's walk over the round-robin order of one node list."""

    def __init__(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        table: _Table,
        plan: _Plan,
        entry: _Entry,
        start: int,
        batch: bool,
    ) -> None:
        self.fwk = fwk
        self.state = state
        self.pod = pod
        self.table = table
        self.plan = plan
        self.entry = entry
        self.start = start
        self.batch = batch
        self.count = len(table.nodes)
        # Statuses decided for this cycle only (fresh filters, nominated nodes), by row.
        self.fresh_statuses: dict[int, Status] = {}
        # Rows a batch form rejected whose status is worked out only when asked.
        self.unexplained: set[int] = set()
        self.error_at = self.count  # position of the first Error, if any
        self.error: Status | None = None
        self.feasible_rows: Int64s = np.zeros(0, dtype=np.int64)
        self.judged = 0
        self.nominated_kept = 0

    def run(self, want: int) -> Outcome:
        count, start, entry = self.count, self.start, self.entry
        # The kept verdicts in round-robin order: position p is row (start + p) % count.
        walk = np.concatenate((entry.state[start:], entry.state[:start]))
        nominator = self.fwk.nominator
        if len(nominator):
            rows = self.table.rows
            for name in nominator.nominated_nodes():
                row = rows.get(name)
                if row is not None:
                    walk[(row - start) % count] = _NOMINATED
        if self.plan.fresh:
            walk[walk == _ACCEPTED] = _FRESH
        end = count
        # How far to judge ahead: the shortest prefix that may hold ``want``
        # feasible nodes grows only as fast as rejections show up, so judge
        # as far as the acceptance seen so far says it will take.
        ahead = 0
        while True:
            # Array methods, not np.* functions: those add a Python wrapper per call.
            cum = (walk != _REJECTED).cumsum()
            end = int(cum.searchsorted(want)) + 1 if int(cum[-1]) >= want else count
            end = min(end, self.error_at + 1)
            span = min(max(end, ahead), self.error_at + 1)
            pending = np.flatnonzero(walk[:span] < 0)
            if not len(pending):
                break
            self._decide(walk, pending)
            accepted = int(np.count_nonzero(walk[:span] == _ACCEPTED))
            if accepted < want:
                ahead = min(count, span * want // max(accepted, 1) + 16)
        judged = end
        if self.error is not None:
            end = self.error_at  # the erring node is judged, but neither feasible nor rejected
        positions = np.arange(end, dtype=np.int64)
        rows_judged = (positions + start) % count if start else positions
        verdicts = walk[:end]
        feasible_rows = rows_judged[verdicts == _ACCEPTED]
        rejected_rows = rows_judged[verdicts == _REJECTED]
        self.feasible_rows = feasible_rows
        return Outcome(
            judged=judged,
            feasible=self.table.objects[feasible_rows].tolist(),
            rows=feasible_rows,
            rejected=self.table.names[rejected_rows].tolist(),
            why=lambda: self._statuses(rejected_rows),
            error=self.error,
        )

    def _statuses(self, rows: Int64s) -> list[Status]:
        kept, fresh, plan = self.entry.statuses, self.fresh_statuses, self.plan
        out: list[Status] = []
        unexplained = self.unexplained
        for row in rows.tolist():
            status = fresh.get(row)
            if status is None and row in unexplained:
                # Rejected by a batch form: every fresh filter in order names the reason.
                node = self.table.objects[row]
                status = self.fwk.filter_node(self.state, self.pod, node, plan.fresh)
            if status is None:
                status = kept[row]
                assert status is not None
                if self.entry.rejected_by[row] > plan.first_fresh:
                    status = self._earlier_fresh(row, status)
            out.append(status)
        return out

    def _earlier_fresh(self, row: int, status: Status) -> Status:
        """A kept rejection, unless a fresh filter earlier in the order rejects first."""
        plan = self.plan
        before = [p for p in plan.fresh if plan.order[p.name] < self.entry.rejected_by[row]]
        node = self.table.objects[row]
        earlier = self.fwk.filter_node(self.state, self.pod, node, before)
        return status if earlier.is_success else earlier

    def _decide(self, walk: Int8s, pending: Int64s) -> None:
        """Judge the pending positions: kept verdicts first, then fresh filters."""
        count, start = self.count, self.start
        codes = walk[pending]
        rows = (pending + start) % count
        unknown = codes == _UNKNOWN
        if unknown.any():
            self._judge_local(rows[unknown], pending[unknown], walk)
        nominated = codes == _NOMINATED
        if nominated.any():
            self._judge_nominated(rows[nominated], pending[nominated], walk)
        fresh = np.flatnonzero(walk[pending] == _FRESH)
        if len(fresh):
            self._judge_fresh(rows[fresh], pending[fresh], walk)

    def _settle(self, walk: Int8s, position: int, row: int, status: Status) -> None:
        if status.code is Code.SUCCESS:
            walk[position] = _ACCEPTED
            return
        walk[position] = _REJECTED
        if status.code is Code.ERROR:
            if position < self.error_at:
                self.error_at, self.error = position, status
        else:
            self.fresh_statuses[row] = status

    def _judge_nominated(self, rows: Int64s, positions: Int64s, walk: Int8s) -> None:
        """Every filter, with the pods nominated there, on nodes that have some.

        When only node-local filters run, the verdict is a function of the
        node and of those pods: it is kept until either changes."""
        fwk, state, pod, objects = self.fwk, self.state, self.pod, self.table.objects
        kept = None if self.plan.fresh else self.entry.nominated
        for row, position in zip(rows.tolist(), positions.tolist(), strict=True):
            node = objects[row]
            if kept is None:
                status = fwk.filter_node(state, pod, node)
            else:
                others = tuple(fwk.nominated_for(pod, node))
                hit = kept.get(row)
                if hit is not None and _same(hit[0], others):
                    status = hit[1]
                    self.nominated_kept += 1
                else:
                    status = fwk.filter_node(state, pod, node)
                    if status.code is not Code.ERROR:
                        kept[row] = (others, status)
            self._settle(walk, position, row, status)

    def _judge_local(self, rows: Int64s, positions: Int64s, walk: Int8s) -> None:
        """The node-local filters on rows not judged yet; their verdicts are kept."""
        fwk, state, pod, plan, entry = self.fwk, self.state, self.pod, self.plan, self.entry
        objects, order = self.table.objects, plan.order
        passes: Bools | None = None
        rest: Sequence[FilterPlugin] = plan.local
        if self.batch and plan.local_batch and len(rows) >= BATCH_MIN_NODES:
            passes, covered = fwk.batch_verdicts(state, pod, plan.local_batch, rows)
            rest = tuple(p for p in plan.local if p.name not in covered)
        accepted = _FRESH if plan.fresh else _ACCEPTED
        self.judged += len(rows)
        passed = passes.tolist() if passes is not None else None
        for i, (row, position) in enumerate(zip(rows.tolist(), positions.tolist(), strict=True)):
            plugins = rest if passed is not None and passed[i] else plan.local
            status = fwk.filter_node(state, pod, objects[row], plugins)
            if status.code is Code.SUCCESS:
                entry.state[row] = _ACCEPTED
                walk[position] = accepted
            elif status.code is Code.ERROR:
                # Never kept: the next cycle asks again.
                self._settle(walk, position, row, status)
            else:
                entry.state[row] = _REJECTED
                entry.statuses[row] = status
                entry.rejected_by[row] = order[status.plugin]
                walk[position] = _REJECTED

    def _judge_fresh(self, rows: Int64s, positions: Int64s, walk: Int8s) -> None:
        """The other filters, afresh, on rows the kept verdicts accept."""
        fwk, state, pod, plan = self.fwk, self.state, self.pod, self.plan
        objects = self.table.objects
        passes: Bools | None = None
        rest: Sequence[FilterPlugin] = plan.fresh
        if self.batch and plan.fresh_batch and len(rows) >= BATCH_MIN_NODES:
            passes, covered = fwk.batch_verdicts(state, pod, plan.fresh_batch, rows)
            rest = tuple(p for p in plan.fresh if p.name not in covered)
        if passes is not None and not rest:
            # The batch forms judged every fresh filter: no per-node call at
            # all; why a node was rejected is asked only if the cycle fails.
            walk[positions] = np.where(passes, _ACCEPTED, _REJECTED)
            self.unexplained.update(rows[~passes].tolist())
            return
        passed = passes.tolist() if passes is not None else None
        for i, (row, position) in enumerate(zip(rows.tolist(), positions.tolist(), strict=True)):
            # Accepted by the batch forms: only the others can still reject;
            # rejected: every fresh filter in order, for the exact status.
            plugins = rest if passed is not None and passed[i] else plan.fresh
            status = fwk.filter_node(state, pod, objects[row], plugins)
            self._settle(walk, position, row, status)
