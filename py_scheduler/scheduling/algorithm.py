"""Pick a node for one pod: PreFilter, Filter over a sample of nodes, Score,
select. Synchronous and side-effect free apart from the round-robin start.

Sampling follows kube-scheduler: stop after ``numFeasibleNodesToFind``
feasible nodes (all below 100 nodes, else an adaptive percentage), starting
where the previous cycle stopped so that every node gets its turn.

kube-scheduler spreads Filter and Score over 16 goroutines. Here an
evaluator (:mod:`.evaluation`) runs the one per-node loop body: by default
the batch plugins judge every candidate at once over numpy columns and only
the remaining plugins run per node, in the same round-robin order, so the
feasible set, the statuses, the scores and the RNG draws are the ones
node-by-node evaluation gives.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from py_scheduler.framework.batch import Int64s
from py_scheduler.framework.cycle_state import CycleState, StateKey
from py_scheduler.framework.interface import SharedLister
from py_scheduler.framework.recorder import NO_METRICS, MetricsRecorder
from py_scheduler.framework.runtime import Framework
from py_scheduler.framework.status import Code, Status
from py_scheduler.framework.types import (
    NO_NODES_AVAILABLE,
    Diagnosis,
    FitError,
    PreFilterResult,
)
from py_scheduler.model import NodeInfo, NodeName, PodInfo
from py_scheduler.scheduling.evaluation import TRACE_KEY, Evaluator, Outcome
from py_scheduler.scheduling.incremental import Incremental

MIN_FEASIBLE_NODES_TO_FIND: Final = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: Final = 5
# The rejector recorded when there are no nodes at all: any node event helps.
NO_NODES_REJECTOR: Final = "NoNodesAvailable"
# The cycle's diagnosis (rejected nodes and their statuses), kept in the
# cycle state for ``explain`` whether or not a node fits.
DIAGNOSIS_KEY: Final[StateKey[Diagnosis]] = StateKey("algorithm/diagnosis")
# The PreFilter plugins' narrowing of the candidate nodes, when they narrowed it.
PRE_FILTER_RESULT_KEY: Final[StateKey[PreFilterResult]] = StateKey("algorithm/preFilterResult")


class SchedulingError(Exception):
    """A cycle that failed for an internal reason (an Error status)."""

    def __init__(self, status: Status) -> None:
        super().__init__(status.message)
        self.status = status


@dataclass(frozen=True, slots=True)
class ScheduleResult:
    """The algorithm's pick (upstream's ScheduleResult): the node, and how
    many nodes it judged and found feasible. A cycle turns it into a
    ``CycleOutcome`` once the pod is assumed there."""

    node: NodeName
    evaluated: int
    feasible: int


def num_feasible_nodes_to_find(percentage: int, num_nodes: int) -> int:
    if num_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_nodes
    if percentage == 0:
        percentage = max(50 - num_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    found = num_nodes * percentage // 100
    return max(found, MIN_FEASIBLE_NODES_TO_FIND)


class Algorithm:
    def __init__(
        self,
        *,
        percentage_of_nodes_to_score: int,
        rng: random.Random,
        evaluator: Evaluator | None = None,
        recorder: MetricsRecorder = NO_METRICS,
    ) -> None:
        self.recorder = recorder
        self.percentage = percentage_of_nodes_to_score
        self.rng = rng
        self.evaluator: Evaluator = evaluator if evaluator is not None else Incremental()
        self.next_start = 0

    def schedule(
        self, fwk: Framework, state: CycleState, pod: PodInfo, snapshot: SharedLister
    ) -> ScheduleResult:
        """The chosen node; raises FitError (no fit) or SchedulingError."""
        all_nodes = snapshot.node_infos()
        if not all_nodes:
            diagnosis = Diagnosis(pre_filter_msg=NO_NODES_AVAILABLE)
            diagnosis.unschedulable_plugins.add(NO_NODES_REJECTOR)
            raise FitError(pod, 0, diagnosis)
        feasible, rows, diagnosis, evaluated = self._find(fwk, state, pod, snapshot, all_nodes)
        if not feasible:
            raise FitError(pod, len(all_nodes), diagnosis)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, evaluated, 1)
        start = time.perf_counter()
        status = fwk.run_pre_score(state, pod, feasible)
        self._timed("PreScore", status, fwk, start)
        if not status.is_success:
            raise SchedulingError(status)
        start = time.perf_counter()
        totals, status = self.evaluator.score(fwk, state, pod, snapshot, feasible, rows)
        self._timed("Score", status, fwk, start)
        if not status.is_success:
            raise SchedulingError(status)
        return ScheduleResult(self.select_host(feasible, totals), evaluated, len(feasible))

    def find_nodes_that_fit(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        snapshot: SharedLister,
        all_nodes: Sequence[NodeInfo],
    ) -> tuple[list[NodeInfo], Diagnosis]:
        feasible, _, diagnosis, _ = self._find(fwk, state, pod, snapshot, all_nodes, complete=True)
        return feasible, diagnosis

    def _find(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        snapshot: SharedLister,
        all_nodes: Sequence[NodeInfo],
        *,
        complete: bool = False,
    ) -> tuple[list[NodeInfo], Int64s | None, Diagnosis, int]:
        """Feasible nodes, their rows in the framework's columns (when batch
        filters ran), the diagnosis and how many nodes Filter judged. The
        rejections reach the diagnosis when no node is feasible (the
        FailedScheduling message and preemption read them), when ``complete``
        or when the evaluator keeps a trace (explain reads them for a pod
        that fits too); any other cycle that found a node only counts them."""
        diagnosis = Diagnosis()
        state.write(DIAGNOSIS_KEY, diagnosis)
        start = time.perf_counter()
        result, status, rejectors = fwk.run_pre_filter(state, pod, all_nodes)
        self._timed("PreFilter", status, fwk, start)
        diagnosis.unschedulable_plugins |= rejectors
        if not status.is_success:
            if not status.is_rejected:
                raise SchedulingError(status)
            diagnosis.pre_filter_msg = status.message
            diagnosis.node_to_status.absent = status
            diagnosis.unschedulable_plugins |= rejectors
            if status.plugin:
                diagnosis.unschedulable_plugins.add(status.plugin)
            return [], None, diagnosis, 0

        # A pod nominated by an earlier preemption tries its node first.
        if pod.nominated_node:
            nominated = snapshot.get(pod.nominated_node)
            if nominated is not None and (
                result is None or result.node_names is None or nominated.name in result.node_names
            ):
                status = fwk.run_filters_with_nominated(state, pod, nominated)
                if status.is_success:
                    return [nominated], None, diagnosis, 1
                if status.code is Code.ERROR:
                    raise SchedulingError(status)

        nodes: Sequence[NodeInfo] = all_nodes
        if result is not None and result.node_names is not None:
            state.write(PRE_FILTER_RESULT_KEY, result)
            nodes = [n for n in all_nodes if n.name in result.node_names]
            names = " ".join(result.plugins)
            diagnosis.node_to_status.absent = Status.unresolvable(
                f"node(s) didn't satisfy plugin(s) [{names}]"
            )
        start = time.perf_counter()
        out = self._filter(fwk, state, pod, snapshot, nodes, len(all_nodes))
        # A traced cycle (explain, result annotations) reports every rejection.
        if complete or not out.feasible or state.get(TRACE_KEY) is not None:
            diagnosis.node_to_status.statuses.update(zip(out.rejected, out.statuses(), strict=True))
            plugins = {status.plugin for status in out.statuses()}
            plugins.discard("")
            diagnosis.unschedulable_plugins |= plugins
        filtered = Status() if out.feasible else Status(Code.UNSCHEDULABLE)
        self._timed("Filter", filtered, fwk, start)
        if state.plugin_seconds:
            fwk.filter_time(state, pod)
        return out.feasible, out.rows, diagnosis, len(out.feasible) + len(out.rejected)

    def _filter(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        snapshot: SharedLister,
        nodes: Sequence[NodeInfo],
        num_all: int,
    ) -> Outcome:
        count = len(nodes)
        if count == 0:
            return Outcome(0, [], None, [], [])
        start = self.next_start % count
        judged = self.evaluator.filter(
            fwk, state, pod, snapshot, nodes, start=start, want=self.feasible_to_find(fwk, count)
        )
        out = judged.outcome(nodes, start)
        self.next_start = (start + out.judged) % max(num_all, 1)
        if out.error is not None:
            raise SchedulingError(out.error)
        return out

    def _timed(self, point: str, status: Status, fwk: Framework, start: float) -> None:
        self.recorder.extension_point(
            point, status.code.value, fwk.profile_name, time.perf_counter() - start
        )

    def feasible_to_find(self, fwk: Framework, count: int) -> int:
        """How many feasible nodes end the Filter loop over ``count`` candidates."""
        if not fwk.score:
            return 1
        return num_feasible_nodes_to_find(
            fwk.spec.percentage_of_nodes_to_score
            if fwk.spec.percentage_of_nodes_to_score is not None
            else self.percentage,
            count,
        )

    def select_host(self, nodes: Sequence[NodeInfo], totals: Sequence[int]) -> NodeName:
        """The highest total; a uniform random choice among ties.

        Upstream samples a reservoir, one draw per tie met on the way; a
        single draw among all the ties is the same uniform choice, and with
        hundreds of equal nodes it saves as many draws per cycle."""
        scores = np.asarray(totals, dtype=np.int64)
        ties = np.flatnonzero(scores == scores.max())
        chosen = int(ties[self.rng.randrange(len(ties))]) if len(ties) > 1 else int(ties[0])
        return nodes[chosen].name
