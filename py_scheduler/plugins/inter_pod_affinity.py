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

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Final

from py_scheduler.framework.cycle_state import CycleState, StateKey
from py_scheduler.framework.indexes import TermKind
from py_scheduler.framework.interface import (
    MAX_NODE_SCORE,
    Handle,
    ObjectLister,
    PreFilterExtensions,
    SharedLister,
)
from py_scheduler.framework.registry import ArgsError, PluginSpec
from py_scheduler.framework.status import SKIP, SUCCESS, Status
from py_scheduler.framework.types import (
    ActionType,
    ClusterEventWithHint,
    PreFilterResult,
    QueueingHint,
    Resource,
    event,
)
from py_scheduler.model import Node, NodeInfo, NodeName, PodInfo
from py_scheduler.model.pod import PodAffinityTerm
from py_scheduler.model.raw import DecodeError, Fields
from py_scheduler.model.selectors import LabelSelector

NAME: Final = "InterPodAffinity"
REASON_AFFINITY: Final = "node(s) didn't match pod affinity rules"
REASON_ANTI_AFFINITY: Final = "node(s) didn't match pod anti-affinity rules"
REASON_EXISTING_ANTI_AFFINITY: Final = "node(s) didn't satisfy existing pods anti-affinity rules"

# Affinity needs a matching pod somewhere in the topology; evicting pods
# cannot create one, so preemption is pointless there.
_REJECTED_AFFINITY: Final = Status.unresolvable(REASON_AFFINITY)
_REJECTED_ANTI_AFFINITY: Final = Status.unschedulable(REASON_ANTI_AFFINITY)
_REJECTED_EXISTING: Final = Status.unschedulable(REASON_EXISTING_ANTI_AFFINITY)

DEFAULT_HARD_POD_AFFINITY_WEIGHT: Final = 1
MAX_HARD_POD_AFFINITY_WEIGHT: Final = 100


@dataclass(frozen=True, slots=True)
class InterPodAffinityArgs:
    # Score an existing pod's required affinity term that the incoming pod
    # matches with this weight (0 turns the symmetry off).
    hard_pod_affinity_weight: int = DEFAULT_HARD_POD_AFFINITY_WEIGHT
    # Skip scoring when the incoming pod has no preferred terms of its own.
    ignore_preferred_terms_of_existing_pods: bool = False


_ARGS_FIELDS: Final = frozenset(
    {"apiVersion", "kind", "hardPodAffinityWeight", "ignorePreferredTermsOfExistingPods"}
)


def decode_args(fields: Fields) -> InterPodAffinityArgs:
    prefix = f"{fields.path}." if fields.path else ""
    problems = [f"{prefix}{key}: unknown field" for key in fields.raw if key not in _ARGS_FIELDS]
    try:
        weight = fields.int32("hardPodAffinityWeight", DEFAULT_HARD_POD_AFFINITY_WEIGHT)
        ignore = fields.boolean("ignorePreferredTermsOfExistingPods")
    except DecodeError as exc:
        raise ArgsError(str(exc)) from None
    if not 0 <= weight <= MAX_HARD_POD_AFFINITY_WEIGHT:
        problems.append(
            f"{prefix}hardPodAffinityWeight: Invalid value: {weight}: "
            f"not in valid range [0-{MAX_HARD_POD_AFFINITY_WEIGHT}]"
        )
    if problems:
        raise ArgsError("; ".join(problems))
    return InterPodAffinityArgs(weight, ignore)


# --- parsing, as framework.NewPodInfo does it ---------------------------------------

# The API server rejects these, but upstream re-parses every term and fails
# PreFilter (and PreScore) on a bad one; the messages follow apimachinery's.
_LABEL_VALUE: Final = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_LABEL_VALUE_RULE: Final = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
_NAME_PART: Final = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_NAME_PART_RULE: Final = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_DNS_SUBDOMAIN: Final = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
)
_DNS_SUBDOMAIN_RULE: Final = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*"
    "[a-z0-9])?)*')"
)


def _key_problems(key: str) -> list[str]:
    parts = key.split("/")
    if len(parts) > 2:
        return [f"a qualified name {_NAME_PART_RULE} with an optional DNS subdomain prefix and '/'"]
    out = []
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            out.append("prefix part must be non-empty")
        elif len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix):
            out.append(f"prefix part {_DNS_SUBDOMAIN_RULE}")
    name = parts[-1]
    if not name:
        out.append("name part must be non-empty")
    elif len(name) > 63:
        out.append("name part must be no more than 63 characters")
    if name and not _NAME_PART.fullmatch(name):
        out.append(f"name part {_NAME_PART_RULE}")
    return out


def _value_problems(value: str) -> list[str]:
    out = []
    if len(value) > 63:
        out.append("must be no more than 63 characters")
    if not _LABEL_VALUE.fullmatch(value):
        out.append(_LABEL_VALUE_RULE)
    return out


def _selector_problem(selector: LabelSelector | None) -> str | None:
    if selector is None:
        return None
    requirements: list[tuple[str, tuple[str, ...]]] = [
        (key, (value,)) for key, value in selector.match_labels
    ]
    requirements += [(r.key, tuple(sorted(r.values))) for r in selector.expressions]
    for key, values in requirements:
        if problems := _key_problems(key):
            return f'key: Invalid value: "{key}": {"; ".join(problems)}'
        for i, value in enumerate(values):
            if problems := _value_problems(value):
                return f'values[{i}][{key}]: Invalid value: "{value}": {"; ".join(problems)}'
    return None


def _parse_problem(pod: PodInfo) -> str | None:
    """Why upstream could not parse the pod's terms, or None."""
    sections: tuple[tuple[str, Iterable[PodAffinityTerm]], ...] = (
        ("requiredAffinityTerms", pod.required_affinity),
        ("requiredAntiAffinityTerms", pod.required_anti_affinity),
        ("preferredAffinityTerms", (w.term for w in pod.preferred_affinity)),
        ("preferredAntiAffinityTerms", (w.term for w in pod.preferred_anti_affinity)),
    )
    found: list[str] = []
    for section, terms in sections:
        for term in terms:
            problem = _selector_problem(term.selector) or _selector_problem(term.namespace_selector)
            if problem is not None:
                found.append(f"{section}: {problem}")
                break  # the first bad term stops its section, as GetAffinityTerms
    unique = list(dict.fromkeys(found))
    if not unique:
        return None
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


# --- term matching ------------------------------------------------------------------


class _Namespaces:
    """Namespace labels, looked up at most once per namespace per cycle."""

    __slots__ = ("_labels", "_objects")

    def __init__(self, objects: ObjectLister) -> None:
        self._objects = objects
        self._labels: dict[str, Mapping[str, str] | None] = {}

    def labels(self, namespace: str) -> Mapping[str, str] | None:
        try:
            return self._labels[namespace]
        except KeyError:
            found = self._labels[namespace] = self._objects.namespace_labels(namespace)
            return found


def _matches_other(term: PodAffinityTerm, other: PodInfo, namespaces: _Namespaces) -> bool:
    """The incoming pod's term against another pod.

    Upstream lists the namespaces the selector picks, so a namespace that
    does not exist is never picked; an empty selector picks every namespace.
    """
    if term.selector is None or not term.selector.matches(other.labels):
        return False
    return _picks_namespace(term, other.namespace, namespaces)


def _picks_namespace(term: PodAffinityTerm, namespace: str, namespaces: _Namespaces) -> bool:
    if namespace in term.namespaces:
        return True
    selector = term.namespace_selector
    if selector is None:
        return False
    if selector.is_empty:
        return True
    labels = namespaces.labels(namespace)
    return labels is not None and selector.matches(labels)


def _matching_per_node(
    snapshot: SharedLister, terms: Sequence[PodAffinityTerm], namespaces: _Namespaces
) -> Iterable[tuple[NodeInfo, int]]:
    """Nodes holding pods that match every one of ``terms`` (``_matches_all``
    for several terms, ``_matches_other`` for one), with how many."""
    selectors = tuple(t.selector for t in terms)
    if not selectors or any(s is None for s in selectors):
        return
    found = snapshot.matching_pods(tuple(s for s in selectors if s is not None), terminating=True)
    for namespace, per_node in found.items():
        if all(_picks_namespace(t, namespace, namespaces) for t in terms):
            yield from _on_nodes(snapshot, per_node)


def _on_nodes(
    snapshot: SharedLister, per_node: Mapping[NodeName, int]
) -> Iterable[tuple[NodeInfo, int]]:
    for name, found in per_node.items():
        info = snapshot.get(name)
        # Pods still on a deleted node count nowhere.
        if info is not None:
            yield info, found


def _matches_incoming(
    term: PodAffinityTerm, incoming: PodInfo, namespace_labels: Mapping[str, str] | None
) -> bool:
    """Another pod's term against the incoming pod; a namespace that cannot be
    found has no labels (upstream's snapshot is then empty, not absent)."""
    if term.selector is None or not term.selector.matches(incoming.labels):
        return False
    if incoming.namespace in term.namespaces:
        return True
    selector = term.namespace_selector
    return selector is not None and selector.matches(namespace_labels or {})


def _matches_all(terms: Sequence[PodAffinityTerm], other: PodInfo, namespaces: _Namespaces) -> bool:
    # No terms match nothing: a pod without affinity is never "the first of its group".
    return bool(terms) and all(_matches_other(t, other, namespaces) for t in terms)


# --- filtering ----------------------------------------------------------------------

Counts = dict[tuple[str, str], int]


def _bump(counts: Counts, key: str, labels: Mapping[str, str], delta: int) -> None:
    value = labels.get(key)
    if value is None:
        return
    pair = (key, value)
    left = counts.get(pair, 0) + delta
    # Zero entries are dropped: "no match anywhere" is an empty map (first-pod rule).
    if left:
        counts[pair] = left
    else:
        counts.pop(pair, None)


@dataclass(slots=True)
class _FilterState:
    pod: PodInfo
    namespace_labels: Mapping[str, str] | None  # the incoming pod's namespace
    namespaces: _Namespaces
    # Existing pods whose required anti-affinity matches the incoming pod.
    existing_anti: Counts
    # Existing pods matching all of the incoming pod's required affinity terms.
    affinity: Counts
    # Existing pods matching the incoming pod's required anti-affinity terms.
    anti: Counts

    def clone(self) -> _FilterState:
        return _FilterState(
            self.pod,
            self.namespace_labels,
            self.namespaces,
            dict(self.existing_anti),
            dict(self.affinity),
            dict(self.anti),
        )

    def count_held_anti(self, snapshot: SharedLister) -> None:
        """Existing pods' required anti-affinity terms that match the incoming pod."""
        held = snapshot.held_terms(TermKind.REQUIRED_ANTI_AFFINITY)
        for weighted, per_node in held.items():
            term = weighted.term
            if _matches_incoming(term, self.pod, self.namespace_labels):
                for info, found in _on_nodes(snapshot, per_node):
                    _bump(self.existing_anti, term.topology_key, info.node.labels, found)

    def count_matching(self, snapshot: SharedLister) -> None:
        """Existing pods matching the incoming pod's required terms."""
        pod = self.pod
        for info, found in _matching_per_node(snapshot, pod.required_affinity, self.namespaces):
            for term in pod.required_affinity:
                _bump(self.affinity, term.topology_key, info.node.labels, found)
        for term in pod.required_anti_affinity:
            for info, found in _matching_per_node(snapshot, (term,), self.namespaces):
                _bump(self.anti, term.topology_key, info.node.labels, found)

    def count_existing_anti(self, other: PodInfo, labels: Mapping[str, str], delta: int) -> None:
        for term in other.required_anti_affinity:
            if _matches_incoming(term, self.pod, self.namespace_labels):
                _bump(self.existing_anti, term.topology_key, labels, delta)

    def count_incoming(self, other: PodInfo, labels: Mapping[str, str], delta: int) -> None:
        pod = self.pod
        if _matches_all(pod.required_affinity, other, self.namespaces):
            for term in pod.required_affinity:
                _bump(self.affinity, term.topology_key, labels, delta)
        for term in pod.required_anti_affinity:
            if _matches_other(term, other, self.namespaces):
                _bump(self.anti, term.topology_key, labels, delta)

    def satisfies_affinity(self, labels: Mapping[str, str]) -> bool:
        pods_exist = True
        for term in self.pod.required_affinity:
            value = labels.get(term.topology_key)
            if value is None:
                return False  # every topology key must be on the node
            if self.affinity.get((term.topology_key, value), 0) <= 0:
                pods_exist = False
        if pods_exist:
            return True
        # The first pod of a group with affinity to itself: no pod matches
        # anywhere yet, so let it in if it matches its own terms.
        return not self.affinity and _matches_all(
            self.pod.required_affinity, self.pod, self.namespaces
        )

    def satisfies_anti_affinity(self, labels: Mapping[str, str]) -> bool:
        if not self.anti:
            return True
        for term in self.pod.required_anti_affinity:
            value = labels.get(term.topology_key)
            if value is not None and self.anti.get((term.topology_key, value), 0) > 0:
                return False
        return True

    def satisfies_existing_anti_affinity(self, labels: Mapping[str, str]) -> bool:
        if not self.existing_anti:
            return True
        return not any(self.existing_anti.get(pair, 0) > 0 for pair in labels.items())


# --- scoring ------------------------------------------------------------------------

# topology key -> topology value -> summed weights.
TopologyScores = dict[str, dict[str, int]]


def _add_score(
    scores: TopologyScores, term: PodAffinityTerm, labels: Mapping[str, str], weight: int
) -> None:
    value = labels.get(term.topology_key)
    if value is None:
        return
    by_value = scores.setdefault(term.topology_key, {})
    by_value[value] = by_value.get(value, 0) + weight


# PreFilter -> Filter (and the PreFilter extensions): the topology counts.
_PRE_FILTER: Final = StateKey[_FilterState](f"{NAME}/counts")
# PreScore -> Score: the summed weights per topology pair.
_PRE_SCORE: Final = StateKey[TopologyScores](f"{NAME}/scores")


class InterPodAffinity:
    name: ClassVar[str] = NAME

    def __init__(self, args: InterPodAffinityArgs, handle: Handle) -> None:
        self._handle = handle
        self._hard_weight = args.hard_pod_affinity_weight
        self._ignore_preferred = args.ignore_preferred_terms_of_existing_pods

    # -- PreFilter -----------------------------------------------------------------

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        problem = _parse_problem(pod)
        if problem is not None:
            return None, Status.unresolvable(f"parsing pod: {problem}")
        # Counted from the snapshot's indexes, which cover ``nodes`` (its own list).
        counts = self._count(pod)
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

    def _counts_for(self, state: CycleState, pod: PodInfo) -> _FilterState:
        counts = state.get(_PRE_FILTER)
        if counts is None:
            counts = self._count(pod)
            state.write(_PRE_FILTER, counts)
        return counts

    def _count(self, pod: PodInfo) -> _FilterState:
        namespaces = _Namespaces(self._handle.objects)
        counts = _FilterState(pod, namespaces.labels(pod.namespace), namespaces, {}, {}, {})
        snapshot = self._handle.snapshot
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

    # -- Score ---------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        if not nodes:
            return SKIP
        if self._skips_scoring(pod):
            return SKIP
        problem = _parse_problem(pod)
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
        namespaces = _Namespaces(self._handle.objects)
        namespace_labels = namespaces.labels(pod.namespace)
        scores: TopologyScores = {}
        # The incoming pod's preferences towards existing pods...
        for sign, terms in ((1, pod.preferred_affinity), (-1, pod.preferred_anti_affinity)):
            for weighted in terms:
                term = weighted.term
                for info, found in _matching_per_node(snapshot, (term,), namespaces):
                    _add_score(scores, term, info.node.labels, sign * weighted.weight * found)
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
                if not _matches_incoming(term, pod, namespace_labels):
                    continue
                weight = (
                    self._hard_weight if kind is TermKind.REQUIRED_AFFINITY else weighted.weight
                )
                for info, found in _on_nodes(snapshot, per_node):
                    _add_score(scores, term, info.node.labels, sign * weight * found)
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
        namespaces = _Namespaces(self._handle.objects)
        affinity, anti = pod.required_affinity, pod.required_anti_affinity

        def repelled_by_any(other: PodInfo) -> bool:
            return any(_matches_other(t, other, namespaces) for t in anti)

        if old is not None and new is not None:
            if not _matches_all(affinity, old, namespaces) and _matches_all(
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
                QueueingHint.QUEUE if _matches_all(affinity, new, namespaces) else QueueingHint.SKIP
            )
        if old is None:
            return QueueingHint.QUEUE
        if repelled_by_any(old):
            return QueueingHint.QUEUE
        # The deleted pod's own anti-affinity may have been what kept this pod out.
        own_labels = namespaces.labels(pod.namespace)
        if any(_matches_incoming(t, pod, own_labels) for t in old.required_anti_affinity):
            return QueueingHint.QUEUE
        # Deleting the last peer can turn on the first-pod rule for self-affinity.
        if _matches_all(affinity, old, namespaces) and _matches_all(affinity, pod, namespaces):
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
