"""PodTopologySpread: ``whenUnsatisfiable: DoNotSchedule`` constraints filter
nodes, ``ScheduleAnyway`` ones score them (upstream
``podtopologyspread/{plugin,common,filtering,scoring}.go``).

A pod without constraints of its own gets the plugin's default constraints:
the system defaults (hostname skew 3, zone skew 5, both ScheduleAnyway) or
the configured list, with a selector merged from the Services, RCs, RSs and
StatefulSets selecting the pod.

Counting takes the pods in the incoming pod's namespace that match the
constraint's selector and are not terminating, on nodes that carry every
constraint's topology key and pass the constraint's nodeAffinityPolicy and
nodeTaintsPolicy. An empty selector counts nothing (the pod still matches
itself), as upstream. PreFilter walks the nodes once, reading each node's
count from the snapshot's ``matching_pods`` index rather than its pods, so
its cost grows with the nodes, not the pods; Filter is a lookup.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import ClassVar, Final

import numpy as np

from py_scheduler.framework.batch import Bools, Int64s, NodeColumns, change_log
from py_scheduler.framework.cycle_state import CycleState, StateKey
from py_scheduler.framework.interface import MAX_NODE_SCORE, Handle, PreFilterExtensions
from py_scheduler.framework.registry import PluginSpec
from py_scheduler.framework.status import SKIP, SUCCESS, Status
from py_scheduler.framework.types import (
    ActionType,
    ClusterEventWithHint,
    PreFilterResult,
    QueueingHint,
    Resource,
    event,
)
from py_scheduler.model import HOSTNAME_LABEL, Node, NodeInfo, NodeName, PodInfo
from py_scheduler.plugins.podtopologyspread.args import PodTopologySpreadArgs, decode_args
from py_scheduler.plugins.podtopologyspread.common import (
    DO_NOT_SCHEDULE,
    IGNORED,
    MISSING_LABEL,
    NAME,
    NO_PODS,
    REJECTED,
    SCHEDULE_ANYWAY,
    SYSTEM_DEFAULT_CONSTRAINTS,
    SYSTEM_DEFAULTING,
    Constraint,
    Inclusion,
    compile_constraint,
    has_all_keys,
    merge_selectors,
)
from py_scheduler.plugins.podtopologyspread.counting import DomainCounter, DomainCounts
from py_scheduler.plugins.podtopologyspread.filtering import FilterState
from py_scheduler.plugins.podtopologyspread.scoring import ScoreState, round_half_up

# PreFilter -> Filter (and the PreFilter extensions): counts per domain.
_PRE_FILTER: Final = StateKey[FilterState](f"{NAME}/counts")
# PreFilter -> Filter's batch form: the kept counts the FilterState came from.
_DOMAINS: Final = StateKey[DomainCounts](f"{NAME}/domains")
# PreScore -> Score's batch form: the kept counts the ScoreState came from.
_SCORE_DOMAINS: Final = StateKey[DomainCounts](f"{NAME}/scoreDomains")
# PreScore -> Score: counts, ignored nodes and weights.
_PRE_SCORE: Final = StateKey[ScoreState](f"{NAME}/scores")


def _with_empty(kept: DomainCounts, i: int) -> Int64s:
    """Counts per value code, the "" value's including nodes missing the key."""
    by_code = kept.by_code[i]
    if kept.empty[i] and "" in kept.values[i]:
        by_code = by_code.copy()
        by_code[kept.values[i].index("")] += kept.empty[i]
    return by_code


def _kept_score_state(
    kept: DomainCounts,
    constraints: tuple[Constraint, ...],
    filtered: Sequence[NodeInfo],
    require_all: bool,
    matching: Sequence[Mapping[NodeName, int]],
) -> ScoreState | None:
    """PreScore's state from kept counts: the candidates' domains and ignored
    nodes, the counts of those domains over every node; None when a
    candidate is not a listed node (then the nodes are walked)."""
    rows = kept.rows
    positions = [rows.get(n.name, -1) for n in filtered]
    if any(p < 0 or kept.nodes[p] is not n for p, n in zip(positions, filtered, strict=True)):
        return None
    at = np.array(positions, dtype=np.int64)
    lacking = np.zeros(len(at), dtype=np.bool_)
    if require_all:
        for codes in kept.codes:
            lacking |= codes[at] < 0
    ignored = frozenset(filtered[i].name for i in np.flatnonzero(lacking).tolist())
    counted = at[~lacking]
    counts: list[dict[str, int]] = []
    weights = []
    for i, c in enumerate(constraints):
        domains: dict[str, int] = {}
        if c.topology_key != HOSTNAME_LABEL:
            codes = kept.codes[i][counted]
            values, by_code = kept.values[i], _with_empty(kept, i)
            for code in np.unique(codes[codes >= 0]).tolist():
                domains[values[code]] = int(by_code[code])
            if (codes < 0).any():
                # A missing key is the "" domain, with any node labelled "".
                labelled = values.index("") if "" in values else -1
                domains[""] = kept.empty[i] + (
                    int(kept.by_code[i][labelled]) if labelled >= 0 else 0
                )
            size = len(domains)
        else:
            size = len(filtered) - len(ignored)
        counts.append(domains)
        weights.append(math.log(size + 2))
    return ScoreState(constraints, ignored, tuple(counts), tuple(matching), tuple(weights))


class PodTopologySpread:
    name: ClassVar[str] = NAME
    batch_normalizes: ClassVar[bool] = True  # score_batch returns normalised scores

    def __init__(self, args: PodTopologySpreadArgs, handle: Handle) -> None:
        self._handle = handle
        self._system_defaulted = args.defaulting_type == SYSTEM_DEFAULTING
        self._defaults = (
            SYSTEM_DEFAULT_CONSTRAINTS if self._system_defaulted else args.default_constraints
        )
        self._counter = DomainCounter()

    def _constraints(self, pod: PodInfo, action: str) -> tuple[Constraint, ...]:
        if pod.spread_constraints:
            return tuple(
                compile_constraint(c, c.selector)
                for c in pod.spread_constraints
                if c.when_unsatisfiable == action
            )
        chosen = [c for c in self._defaults if c.when_unsatisfiable == action]
        if not chosen:
            return ()
        selector = merge_selectors(self._handle.objects.owner_selectors(pod))
        if selector.is_empty:
            return ()
        return tuple(compile_constraint(c, selector) for c in chosen)

    # -- PreFilter -----------------------------------------------------------------

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        counts = self._count(pod, nodes, state)
        if not counts.constraints:
            return None, SKIP
        state.write(_PRE_FILTER, counts)
        return None, SUCCESS

    def pre_filter_extensions(self) -> PreFilterExtensions | None:
        return self

    def add_pod(self, state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo) -> Status:
        self._update(self._counts_for(state, pod), pod, added, node.node, 1)
        return SUCCESS

    def remove_pod(
        self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo
    ) -> Status:
        self._update(self._counts_for(state, pod), pod, removed, node.node, -1)
        return SUCCESS

    def _counts_for(self, state: CycleState, pod: PodInfo) -> FilterState:
        counts = state.get(_PRE_FILTER)
        if counts is None:
            counts = self._count(pod, self._handle.snapshot.node_infos())
            state.write(_PRE_FILTER, counts)
        return counts

    def _matching(self, c: Constraint, namespace: str) -> Mapping[NodeName, int]:
        """Per node, the pods ``c`` counts: ``Constraint.counts`` as an index lookup."""
        selector = c.selector
        if selector is None or selector.is_empty:
            return NO_PODS
        found = self._handle.snapshot.matching_pods((selector,), terminating=False)
        return found.get(namespace, NO_PODS)

    def _count(
        self, pod: PodInfo, nodes: Sequence[NodeInfo], state: CycleState | None = None
    ) -> FilterState:
        constraints = self._constraints(pod, DO_NOT_SCHEDULE)
        counts: list[dict[str, int]] = [{} for _ in constraints]
        if constraints:
            matching = [self._matching(c, pod.namespace) for c in constraints]
            snapshot = self._handle.snapshot
            log = change_log(snapshot)
            if state is not None and log is not None and nodes is snapshot.node_infos():
                # The whole node list of a snapshot that logs its changes:
                # bring the kept counts up to date instead of walking it.
                kept = self._counter.counts(pod, constraints, nodes, matching, log)
                if kept.state is not None:
                    state.write(_DOMAINS, kept)
                    return kept.state
            for node_info in nodes:
                node = node_info.node
                labels = node.labels
                if not has_all_keys(labels, constraints):
                    continue
                inclusion = Inclusion.of(pod, node, constraints)
                for i, c in enumerate(constraints):
                    if inclusion.admits(c):
                        value = labels[c.topology_key]
                        found = matching[i].get(node_info.name, 0)
                        counts[i][value] = counts[i].get(value, 0) + found
        return FilterState.build(constraints, counts)

    def _update(
        self, counts: FilterState, pod: PodInfo, other: PodInfo, node: Node, delta: int
    ) -> None:
        constraints = counts.constraints
        if not constraints or other.namespace != pod.namespace:
            return
        labels = node.labels
        if not has_all_keys(labels, constraints):
            return
        inclusion = Inclusion.of(pod, node, constraints)
        for i, c in enumerate(constraints):
            # The same rule as PreFilter's count, so adding then removing a pod
            # is exactly a no-op.
            if c.counts(other, pod.namespace) and inclusion.admits(c):
                counts.update(i, labels[c.topology_key], delta)

    # -- Filter --------------------------------------------------------------------

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        counts = self._counts_for(state, pod)
        labels = node.node.labels
        for i, c in enumerate(counts.constraints):
            value = labels.get(c.topology_key)
            if value is None:
                return MISSING_LABEL
            self_match = 1 if c.selects(pod.labels) else 0
            skew = counts.counts[i].get(value, 0) + self_match - counts.global_minimum(i)
            if skew > c.max_skew:
                return REJECTED
        return SUCCESS

    def filter_batch(
        self, state: CycleState, pod: PodInfo, columns: NodeColumns, rows: Int64s
    ) -> Bools | None:
        """``filter`` on many nodes at once, from the kept domain codes and
        counts; None (judge per node) when this cycle's counts were walked."""
        kept = state.get(_DOMAINS)
        counts = state.get(_PRE_FILTER)
        if kept is None or counts is None or kept.state is not counts:
            return None
        if kept.nodes is not columns.nodes:
            return None
        passes = np.ones(len(rows), dtype=np.bool_)
        for i, c in enumerate(counts.constraints):
            codes = kept.codes[i][rows]
            present = codes >= 0
            if not len(kept.values[i]):
                return np.zeros(len(rows), dtype=np.bool_)
            found = kept.by_code[i][np.where(present, codes, 0)]
            self_match = 1 if c.selects(pod.labels) else 0
            limit = c.max_skew - self_match + counts.global_minimum(i)
            passes &= present & (found <= limit)
        return passes

    # -- Score ---------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        all_nodes = self._handle.snapshot.node_infos()
        if not all_nodes:
            return SKIP
        scores = self._score_state(pod, nodes, all_nodes, state)
        if not scores.constraints:
            return SKIP
        state.write(_PRE_SCORE, scores)
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        scores = state.get(_PRE_SCORE)
        if scores is None:
            # Without PreScore the filtered nodes are unknown; all nodes stand in.
            all_nodes = self._handle.snapshot.node_infos()
            scores = self._score_state(pod, all_nodes, all_nodes)
            state.write(_PRE_SCORE, scores)
        if node.name in scores.ignored:
            return IGNORED
        labels = node.node.labels
        total = 0.0
        for i, c in enumerate(scores.constraints):
            value = labels.get(c.topology_key)
            if value is None:
                continue  # only system defaults let such a node through
            if c.topology_key == HOSTNAME_LABEL:
                found = scores.hosts[i].get(node.name, 0)
            else:
                found = scores.counts[i].get(value, 0)
            # maxSkew-1 waters down differences the pod can tolerate anyway.
            total += found * scores.weights[i] + (c.max_skew - 1)
        return round_half_up(total)

    def score_batch(
        self, state: CycleState, pod: PodInfo, columns: NodeColumns, rows: Int64s
    ) -> Int64s | None:
        """``score`` then ``normalize_scores`` on many nodes at once, from the
        kept counts; None (score per node) when PreScore walked the nodes."""
        scores = state.get(_PRE_SCORE)
        kept = state.get(_SCORE_DOMAINS)
        if scores is None or kept is None or kept.nodes is not columns.nodes:
            return None
        total = np.zeros(len(rows), dtype=np.float64)
        for i, c in enumerate(scores.constraints):
            codes = kept.codes[i][rows]
            present = codes >= 0
            if c.topology_key == HOSTNAME_LABEL:
                found = kept.matched[i][rows]
            elif len(kept.values[i]):
                # A candidate's own domain is always one PreScore counted.
                found = _with_empty(kept, i)[np.where(present, codes, 0)]
            else:
                found = np.zeros(len(rows), dtype=np.int64)
            # The per-node sum's operations, in its order, per element.
            term = found * scores.weights[i] + (c.max_skew - 1)
            total = np.where(present, total + term, total)
        whole = np.floor(total)
        raw = (whole + (total - whole >= 0.5)).astype(np.int64)
        if scores.ignored:
            ignored = np.array(
                [columns.nodes[row].name in scores.ignored for row in rows.tolist()],
                dtype=np.bool_,
            )
            raw[ignored] = IGNORED
        counted = raw != IGNORED
        out = np.zeros(len(rows), dtype=np.int64)
        if not counted.any():
            return out
        lowest, highest = int(raw[counted].min()), int(raw[counted].max())
        if highest == 0:
            out[counted] = MAX_NODE_SCORE
        else:
            out[counted] = MAX_NODE_SCORE * (highest + lowest - raw[counted]) // highest
        return out

    def normalize_scores(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        counted = [s for s in scores if s != IGNORED]
        lowest = min(counted, default=0)
        highest = max(counted, default=0)
        for i, raw in enumerate(scores):
            if raw == IGNORED:
                scores[i] = 0
            elif highest == 0:
                scores[i] = MAX_NODE_SCORE
            else:
                # Fewer matching pods score higher.
                scores[i] = MAX_NODE_SCORE * (highest + lowest - raw) // highest

    def _score_state(
        self,
        pod: PodInfo,
        filtered: Sequence[NodeInfo],
        all_nodes: Sequence[NodeInfo],
        state: CycleState | None = None,
    ) -> ScoreState:
        constraints = self._constraints(pod, SCHEDULE_ANYWAY)
        if not constraints:
            return ScoreState(())
        # System defaults let nodes without a zone still spread by hostname.
        require_all = bool(pod.spread_constraints) or not self._system_defaulted
        snapshot = self._handle.snapshot
        log = change_log(snapshot)
        if state is not None and log is not None and all_nodes is snapshot.node_infos():
            listed = [self._matching(c, pod.namespace) for c in constraints]
            kept = self._counter.counts(
                pod, constraints, all_nodes, listed, log, require_all=require_all
            )
            scores = _kept_score_state(kept, constraints, filtered, require_all, listed)
            if scores is not None:
                state.write(_SCORE_DOMAINS, kept)
                return scores
        ignored: set[str] = set()
        counts: list[dict[str, int]] = [{} for _ in constraints]
        for node_info in filtered:
            labels = node_info.node.labels
            if require_all and not has_all_keys(labels, constraints):
                ignored.add(node_info.name)
                continue
            for i, c in enumerate(constraints):
                if c.topology_key != HOSTNAME_LABEL:
                    # A missing key is the "" domain (system defaults only).
                    counts[i].setdefault(labels.get(c.topology_key, ""), 0)
        weights = []
        for i, c in enumerate(constraints):
            size = len(counts[i])
            if c.topology_key == HOSTNAME_LABEL:
                size = len(filtered) - len(ignored)
            weights.append(math.log(size + 2))
        matching = tuple(self._matching(c, pod.namespace) for c in constraints)
        for node_info in all_nodes:
            node = node_info.node
            labels = node.labels
            if require_all and not has_all_keys(labels, constraints):
                continue
            inclusion = Inclusion.of(pod, node, constraints)
            for i, c in enumerate(constraints):
                value = labels.get(c.topology_key, "")
                # Only domains of candidate nodes are counted; hostname is never here.
                if value in counts[i] and inclusion.admits(c):
                    counts[i][value] += matching[i].get(node_info.name, 0)
        return ScoreState(constraints, frozenset(ignored), tuple(counts), matching, tuple(weights))

    # -- EnqueueExtensions -----------------------------------------------------------

    def events_to_register(self) -> Sequence[ClusterEventWithHint]:
        pod_actions = ActionType.ADD | ActionType.UPDATE_POD_LABEL | ActionType.DELETE
        node_actions = (
            ActionType.ADD
            | ActionType.DELETE
            | ActionType.UPDATE_NODE_LABEL
            | ActionType.UPDATE_NODE_TAINT
        )
        return (
            ClusterEventWithHint(event(Resource.ASSIGNED_POD, pod_actions), self._after_pod_change),
            # The rejected pod's own new tolerations matter under nodeTaintsPolicy: Honor.
            ClusterEventWithHint(
                event(Resource.POD, ActionType.UPDATE_POD_TOLERATIONS), self._after_pod_change
            ),
            ClusterEventWithHint(event(Resource.NODE, node_actions), self._after_node_change),
        )

    def _after_pod_change(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        if not isinstance(old, PodInfo | None) or not isinstance(new, PodInfo | None):
            return QueueingHint.QUEUE

        def involved(other: PodInfo) -> bool:
            # Nominated pods count too (1.37): lower-priority pods see them as placed.
            placed = bool(other.node_name or other.nominated_node)
            return other.uid == pod.uid or (placed and other.namespace == pod.namespace)

        if (new is not None and not involved(new)) or (old is not None and not involved(old)):
            return QueueingHint.SKIP
        constraints = self._constraints(pod, DO_NOT_SCHEDULE)
        if old is not None and new is not None:
            if (
                new.uid == pod.uid
                and new.tolerations != old.tolerations
                and any(c.honor_taints for c in constraints)
            ):
                return QueueingHint.QUEUE
            if new.labels == old.labels:
                return QueueingHint.SKIP
            changed = any(c.selects(old.labels) != c.selects(new.labels) for c in constraints)
            return QueueingHint.QUEUE if changed else QueueingHint.SKIP
        changed_pod = new if new is not None else old
        if changed_pod is None:
            return QueueingHint.QUEUE
        matches = any(c.selects(changed_pod.labels) for c in constraints)
        return QueueingHint.QUEUE if matches else QueueingHint.SKIP

    def _after_node_change(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        if not isinstance(old, Node | None) or not isinstance(new, Node | None):
            return QueueingHint.QUEUE
        if old is None and new is None:
            return QueueingHint.QUEUE
        constraints = self._constraints(pod, DO_NOT_SCHEDULE)
        old_fits = old is not None and has_all_keys(old.labels, constraints)
        new_fits = new is not None and has_all_keys(new.labels, constraints)
        if old is not None and new is not None:
            if old_fits != new_fits:
                return QueueingHint.QUEUE
            moved = any(
                old.labels.get(c.topology_key) != new.labels.get(c.topology_key)
                for c in constraints
            )
            if new_fits and (moved or old.taints != new.taints):
                return QueueingHint.QUEUE
            return QueueingHint.SKIP
        # Added or deleted: it matters only if it carries every topology key.
        return QueueingHint.QUEUE if old_fits or new_fits else QueueingHint.SKIP


SPEC: Final = PluginSpec(NAME, decode_args, PodTopologySpread)
