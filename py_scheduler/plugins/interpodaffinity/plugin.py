"""InterPodAffinity: required pod affinity and anti-affinity filter nodes;
preferred terms (and existing pods' terms, symmetrically) score them
(upstream ``interpodaffinity/{plugin,filtering,scoring}.go``).

PreFilter counts, per topology pair (key, value), the existing pods that
match the incoming pod's terms and the existing pods whose required
anti-affinity matches the incoming pod; Filter then only looks the node's
labels up in those counts. The counts are kept exact by the PreFilter
extensions, which the nominated-pod pass and preemption's dry runs call on
cloned state. Terminating pods count like any other, as upstream.

No cycle walks the assigned pods: the incoming pod's terms are counted per
node through the snapshot's ``matching_pods`` index, and existing pods'
terms are read from ``held_terms``, each distinct term matched against the
incoming pod once and weighted by how many pods on a node carry it.

An incoming pod's ``namespaceSelector`` is resolved through the namespace's
labels (upstream folds it into the namespace list at PreFilter); an existing
pod's selector is matched against the incoming pod's namespace labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final

import numpy as np

from py_scheduler.framework.batch import Bools, Int64s, NodeColumns, change_log
from py_scheduler.framework.cycle_state import CycleState, StateKey
from py_scheduler.framework.interface import (
    MAX_NODE_SCORE,
    Handle,
    PreFilterExtensions,
)
from py_scheduler.framework.pod_counts import TermKind
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
from py_scheduler.model import Node, NodeInfo, PodInfo
from py_scheduler.plugins.interpodaffinity.args import InterPodAffinityArgs, decode_args
from py_scheduler.plugins.interpodaffinity.counting import (
    AFFINITY,
    ANTI,
    EXISTING_ANTI,
    Counter,
    KeptCounts,
    question,
)
from py_scheduler.plugins.interpodaffinity.filtering import FilterState
from py_scheduler.plugins.interpodaffinity.scoring import TopologyScores, add_score
from py_scheduler.plugins.interpodaffinity.terms import (
    Namespaces,
    matches_all,
    matches_incoming,
    matches_other,
    matching_per_node,
    on_nodes,
    parse_problem,
)

NAME: Final = "InterPodAffinity"
REASON_AFFINITY: Final = "node(s) didn't match pod affinity rules"
REASON_ANTI_AFFINITY: Final = "node(s) didn't match pod anti-affinity rules"
REASON_EXISTING_ANTI_AFFINITY: Final = "node(s) didn't satisfy existing pods anti-affinity rules"

# Affinity needs a matching pod somewhere in the topology; evicting pods
# cannot create one, so preemption is pointless there.
_REJECTED_AFFINITY: Final = Status.unresolvable(REASON_AFFINITY)
_REJECTED_ANTI_AFFINITY: Final = Status.unschedulable(REASON_ANTI_AFFINITY)
_REJECTED_EXISTING: Final = Status.unschedulable(REASON_EXISTING_ANTI_AFFINITY)

# PreFilter -> Filter (and the PreFilter extensions): the topology counts.
_PRE_FILTER: Final = StateKey[FilterState](f"{NAME}/counts")
# PreFilter -> Filter's batch form: the kept counts the FilterState is part of.
_KEPT: Final = StateKey[KeptCounts](f"{NAME}/kept")
# PreScore -> Score: the summed weights per topology pair.
_PRE_SCORE: Final = StateKey[TopologyScores](f"{NAME}/scores")


def _lookup(kept: KeptCounts, which: int, key: str, rows: Int64s) -> tuple[Bools, Int64s]:
    """Whether each row has the topology key, and the count of its pair."""
    codes = kept.codes(key).codes[rows]
    present = codes >= 0
    by_code = kept.counts_by_code(which, key)
    if not len(by_code):
        return present, np.zeros(len(rows), dtype=np.int64)
    found: Int64s = by_code[np.where(present, codes, 0)]
    return present, found


class InterPodAffinity:
    name: ClassVar[str] = NAME

    def __init__(self, args: InterPodAffinityArgs, handle: Handle) -> None:
        self._handle = handle
        self._hard_weight = args.hard_pod_affinity_weight
        self._ignore_preferred = args.ignore_preferred_terms_of_existing_pods
        self._counter = Counter()

    # -- PreFilter -----------------------------------------------------------------

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        problem = parse_problem(pod)
        if problem is not None:
            return None, Status.unresolvable(f"parsing pod: {problem}")
        # Counted from the snapshot's indexes, which cover ``nodes`` (its own list).
        counts = self._count(pod, state, nodes)
        if (
            not counts.existing_anti
            and not pod.required_affinity
            and not pod.required_anti_affinity
        ):
            return None, SKIP
        state.write(_PRE_FILTER, counts)
        return None, SUCCESS

    def pre_filter_extensions(self) -> PreFilterExtensions | None:
        return self

    def add_pod(self, state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo) -> Status:
        self._update(state, pod, added, node, 1)
        return SUCCESS

    def remove_pod(
        self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo
    ) -> Status:
        self._update(state, pod, removed, node, -1)
        return SUCCESS

    def _update(
        self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, delta: int
    ) -> None:
        counts = self._counts_for(state, pod)
        labels = node.node.labels
        counts.count_existing_anti(other, labels, delta)
        counts.count_incoming(other, labels, delta)

    def _counts_for(self, state: CycleState, pod: PodInfo) -> FilterState:
        counts = state.get(_PRE_FILTER)
        if counts is None:
            counts = self._count(pod)
            state.write(_PRE_FILTER, counts)
        return counts

    def _count(
        self,
        pod: PodInfo,
        state: CycleState | None = None,
        nodes: Sequence[NodeInfo] | None = None,
    ) -> FilterState:
        namespaces = Namespaces(self._handle.objects)
        namespace_labels = namespaces.labels(pod.namespace)
        counts = FilterState(pod, namespace_labels, namespaces, {}, {}, {})
        snapshot = self._handle.snapshot
        log = change_log(snapshot)
        if state is not None and log is not None and nodes is snapshot.node_infos():
            key = question(pod, namespace_labels)
            if key is not None:
                # The snapshot's whole list, and it logs its changes: bring
                # the kept counts up to date instead of counting afresh.
                kept = self._counter.counts(key, counts, nodes, snapshot, log)
                state.write(_KEPT, kept)
                return kept.state
        counts.count_held_anti(snapshot)
        counts.count_matching(snapshot)
        return counts

    # -- Filter --------------------------------------------------------------------

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        counts = self._counts_for(state, pod)
        labels = node.node.labels
        if not counts.satisfies_affinity(labels):
            return _REJECTED_AFFINITY
        if not counts.satisfies_anti_affinity(labels):
            return _REJECTED_ANTI_AFFINITY
        if not counts.satisfies_existing_anti_affinity(labels):
            return _REJECTED_EXISTING
        return SUCCESS

    def filter_batch(
        self, state: CycleState, pod: PodInfo, columns: NodeColumns, rows: Int64s
    ) -> Bools | None:
        """``filter`` on many nodes at once from the kept counts per value
        code; None (judge per node) when this cycle counted afresh."""
        kept = state.get(_KEPT)
        counts = state.get(_PRE_FILTER)
        if kept is None or counts is None or kept.state is not counts:
            return None
        if kept.nodes is not columns.nodes:
            return None
        passes = np.ones(len(rows), dtype=np.bool_)
        if pod.required_affinity:
            exist = np.ones(len(rows), dtype=np.bool_)
            for term in pod.required_affinity:
                present, found = _lookup(kept, AFFINITY, term.topology_key, rows)
                passes &= present
                exist &= found > 0
            first = not counts.affinity and matches_all(
                pod.required_affinity, counts.pod, counts.namespaces
            )
            if not first:
                passes &= exist
        if counts.anti:
            for term in pod.required_anti_affinity:
                present, found = _lookup(kept, ANTI, term.topology_key, rows)
                passes &= ~(present & (found > 0))
        if counts.existing_anti:
            for key in list(kept.keys[EXISTING_ANTI]):
                present, found = _lookup(kept, EXISTING_ANTI, key, rows)
                passes &= ~(present & (found > 0))
        return passes

    # -- Score ---------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        if not nodes:
            return SKIP
        if self._skips_scoring(pod):
            return SKIP
        problem = parse_problem(pod)
        if problem is not None:
            raise ValueError(f"failed to parse pod: {problem}")
        scores = self._topology_scores(pod)
        if not scores:
            return SKIP
        state.write(_PRE_SCORE, scores)
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        scores = self._scores_for(state, pod)
        labels = node.node.labels
        total = 0
        for key, by_value in scores.items():
            value = labels.get(key)
            if value is not None:
                total += by_value.get(value, 0)
        return total

    def normalize_scores(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        if not scores or not self._scores_for(state, pod):
            return
        lowest, highest = min(scores), max(scores)
        spread = highest - lowest
        for i, raw in enumerate(scores):
            # Float arithmetic in upstream's order, then truncation, as int64(f).
            scores[i] = int(MAX_NODE_SCORE * ((raw - lowest) / spread)) if spread > 0 else 0

    def _skips_scoring(self, pod: PodInfo) -> bool:
        preferred = pod.preferred_affinity or pod.preferred_anti_affinity
        return self._ignore_preferred and not preferred

    def _scores_for(self, state: CycleState, pod: PodInfo) -> TopologyScores:
        scores = state.get(_PRE_SCORE)
        if scores is None:
            scores = {} if self._skips_scoring(pod) else self._topology_scores(pod)
            state.write(_PRE_SCORE, scores)
        return scores

    def _topology_scores(self, pod: PodInfo) -> TopologyScores:
        snapshot = self._handle.snapshot
        namespaces = Namespaces(self._handle.objects)
        namespace_labels = namespaces.labels(pod.namespace)
        scores: TopologyScores = {}
        # The incoming pod's preferences towards existing pods...
        for sign, terms in ((1, pod.preferred_affinity), (-1, pod.preferred_anti_affinity)):
            for weighted in terms:
                term = weighted.term
                for node_info, found in matching_per_node(snapshot, (term,), namespaces):
                    add_score(scores, term, node_info.node.labels, sign * weighted.weight * found)
        # ...and, symmetrically, existing pods' towards the incoming one.
        held: list[tuple[TermKind, int]] = [
            (TermKind.PREFERRED_AFFINITY, 1),
            (TermKind.PREFERRED_ANTI_AFFINITY, -1),
        ]
        if self._hard_weight > 0:
            held.insert(0, (TermKind.REQUIRED_AFFINITY, 1))
        for kind, sign in held:
            for weighted, per_node in snapshot.held_terms(kind).items():
                term = weighted.term
                if not matches_incoming(term, pod, namespace_labels):
                    continue
                weight = (
                    self._hard_weight if kind is TermKind.REQUIRED_AFFINITY else weighted.weight
                )
                for node_info, found in on_nodes(snapshot, per_node):
                    add_score(scores, term, node_info.node.labels, sign * weight * found)
        return scores

    # -- EnqueueExtensions -----------------------------------------------------------

    def events_to_register(self) -> Sequence[ClusterEventWithHint]:
        return (
            ClusterEventWithHint(
                event(
                    Resource.ASSIGNED_POD,
                    ActionType.ADD | ActionType.UPDATE_POD_LABEL | ActionType.DELETE,
                ),
                self._after_pod_change,
            ),
            ClusterEventWithHint(
                event(
                    Resource.NODE,
                    ActionType.ADD | ActionType.UPDATE_NODE_LABEL | ActionType.UPDATE_NODE_TAINT,
                ),
                self._after_node_change,
            ),
        )

    def _after_pod_change(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        if not isinstance(old, PodInfo | None) or not isinstance(new, PodInfo | None):
            return QueueingHint.QUEUE
        if old is None and new is None:
            return QueueingHint.QUEUE
        if (new is not None and not new.node_name) or (old is not None and not old.node_name):
            return QueueingHint.SKIP
        namespaces = Namespaces(self._handle.objects)
        affinity, anti = pod.required_affinity, pod.required_anti_affinity

        def repelled_by_any(other: PodInfo) -> bool:
            return any(matches_other(t, other, namespaces) for t in anti)

        if old is not None and new is not None:
            if not matches_all(affinity, old, namespaces) and matches_all(
                affinity, new, namespaces
            ):
                return QueueingHint.QUEUE
            # Any single anti-affinity term repels, so a pod that stops matching
            # every term it matched may unblock the pending pod.
            if repelled_by_any(old) and not repelled_by_any(new):
                return QueueingHint.QUEUE
            return QueueingHint.SKIP
        if new is not None:
            return (
                QueueingHint.QUEUE if matches_all(affinity, new, namespaces) else QueueingHint.SKIP
            )
        if old is None:
            return QueueingHint.QUEUE
        if repelled_by_any(old):
            return QueueingHint.QUEUE
        # The deleted pod's own anti-affinity may have been what kept this pod out.
        own_labels = namespaces.labels(pod.namespace)
        if any(matches_incoming(t, pod, own_labels) for t in old.required_anti_affinity):
            return QueueingHint.QUEUE
        # Deleting the last peer can turn on the first-pod rule for self-affinity.
        if matches_all(affinity, old, namespaces) and matches_all(affinity, pod, namespaces):
            return QueueingHint.QUEUE
        return QueueingHint.SKIP

    def _after_node_change(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        if not isinstance(new, Node):
            return QueueingHint.QUEUE
        keys = {t.topology_key for t in pod.required_affinity}
        keys |= {t.topology_key for t in pod.required_anti_affinity}
        return QueueingHint.QUEUE if keys & new.labels.keys() else QueueingHint.SKIP


SPEC: Final = PluginSpec(NAME, decode_args, InterPodAffinity)
