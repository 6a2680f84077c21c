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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar, Final

from py_scheduler.framework.cycle_state import CycleState, StateKey
from py_scheduler.framework.interface import MAX_NODE_SCORE, Handle, PreFilterExtensions
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
from py_scheduler.model import HOSTNAME_LABEL, ZONE_LABEL, Node, NodeInfo, NodeName, PodInfo
from py_scheduler.model.pod import SpreadConstraint
from py_scheduler.model.raw import DecodeError, Fields
from py_scheduler.model.selectors import LabelSelector, Requirement
from py_scheduler.model.taints import NO_EXECUTE, NO_SCHEDULE, tolerated

NAME: Final = "PodTopologySpread"
REASON_CONSTRAINTS_NOT_MATCH: Final = "node(s) didn't match pod topology spread constraints"
REASON_NODE_LABEL_NOT_MATCH: Final = REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"

# A node without the topology key can never join the domain by evicting pods.
_MISSING_LABEL: Final = Status.unresolvable(REASON_NODE_LABEL_NOT_MATCH)
_REJECTED: Final = Status.unschedulable(REASON_CONSTRAINTS_NOT_MATCH)

DO_NOT_SCHEDULE: Final = "DoNotSchedule"
SCHEDULE_ANYWAY: Final = "ScheduleAnyway"
HONOR: Final = "Honor"
IGNORE: Final = "Ignore"
SYSTEM_DEFAULTING: Final = "System"
LIST_DEFAULTING: Final = "List"

SYSTEM_DEFAULT_CONSTRAINTS: Final = (
    SpreadConstraint(3, HOSTNAME_LABEL, SCHEDULE_ANYWAY, None, None, HONOR, IGNORE),
    SpreadConstraint(5, ZONE_LABEL, SCHEDULE_ANYWAY, None, None, HONOR, IGNORE),
)

# The minimum over no domain at all (upstream's MaxInt32); Filter never uses
# it as such, since minDomains >= 1 then makes the global minimum 0.
_NO_DOMAIN_MINIMUM: Final = 2**31 - 1
# Score of a node missing a topology key; normalisation turns it into 0.
# Real raw scores are never negative, so it cannot collide with one.
_IGNORED: Final = -1
_NO_PODS: Final[Mapping[NodeName, int]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class PodTopologySpreadArgs:
    defaulting_type: str = SYSTEM_DEFAULTING
    # Only with defaulting_type List; their selectors are deduced per pod.
    default_constraints: tuple[SpreadConstraint, ...] = ()


_ARGS_FIELDS: Final = frozenset({"apiVersion", "kind", "defaultingType", "defaultConstraints"})
_CONSTRAINT_FIELDS: Final = frozenset(
    {
        "maxSkew",
        "topologyKey",
        "whenUnsatisfiable",
        "labelSelector",
        "minDomains",
        "nodeAffinityPolicy",
        "nodeTaintsPolicy",
        "matchLabelKeys",
    }
)


def _decode_default(item: Fields, problems: list[str]) -> SpreadConstraint:
    path = item.path
    problems += [
        f"{path}.{key}: unknown field" for key in item.raw if key not in _CONSTRAINT_FIELDS
    ]
    max_skew = item.int32("maxSkew")
    if max_skew <= 0:
        problems.append(f"{path}.maxSkew: Invalid value: {max_skew}: must be greater than zero")
    key = item.string("topologyKey")
    if not key:
        problems.append(f"{path}.topologyKey: Required value: can not be empty")
    when = item.string("whenUnsatisfiable")
    if when not in (DO_NOT_SCHEDULE, SCHEDULE_ANYWAY):
        problems.append(
            f'{path}.whenUnsatisfiable: Unsupported value: "{when}": '
            f'supported values: "{DO_NOT_SCHEDULE}", "{SCHEDULE_ANYWAY}"'
        )
    if item.raw.get("labelSelector") is not None:
        problems.append(
            f"{path}.labelSelector: Forbidden: constraint must not define a selector, "
            "as they deduced for each pod"
        )
    min_domains = item.opt_integer("minDomains", bits=32)
    if min_domains is not None and min_domains < 1:
        problems.append(f"{path}.minDomains: Invalid value: {min_domains}: must be at least 1")
    policies = []
    for field, default in (("nodeAffinityPolicy", HONOR), ("nodeTaintsPolicy", IGNORE)):
        policy = item.string(field) or default
        if policy not in (HONOR, IGNORE):
            problems.append(
                f'{path}.{field}: Unsupported value: "{policy}": '
                f'supported values: "{HONOR}", "{IGNORE}"'
            )
        policies.append(policy)
    return SpreadConstraint(max_skew, key, when, None, min_domains, policies[0], policies[1])


def decode_args(fields: Fields) -> PodTopologySpreadArgs:
    prefix = f"{fields.path}." if fields.path else ""
    problems = [f"{prefix}{key}: unknown field" for key in fields.raw if key not in _ARGS_FIELDS]
    try:
        defaulting = fields.string("defaultingType") or SYSTEM_DEFAULTING
        constraints: list[SpreadConstraint] = []
        for item in fields.objects("defaultConstraints"):
            constraints.append(_decode_default(item, problems))
    except DecodeError as exc:
        raise ArgsError(str(exc)) from None
    if defaulting not in (SYSTEM_DEFAULTING, LIST_DEFAULTING):
        problems.append(
            f'{prefix}defaultingType: Unsupported value: "{defaulting}": '
            f'supported values: "{LIST_DEFAULTING}", "{SYSTEM_DEFAULTING}"'
        )
    seen: set[tuple[str, str]] = set()
    for i, c in enumerate(constraints):
        pair = (c.topology_key, c.when_unsatisfiable)
        if pair in seen:
            problems.append(
                f"{prefix}defaultConstraints[{i}]: Duplicate value: "
                f'"{{{c.topology_key}, {c.when_unsatisfiable}}}"'
            )
        seen.add(pair)
    if defaulting == SYSTEM_DEFAULTING and constraints:
        problems.append(
            f"{prefix}defaultConstraints: Invalid value: {len(constraints)} constraint(s): "
            'when .defaultingType is "System"'
        )
    if problems:
        raise ArgsError("; ".join(problems))
    return PodTopologySpreadArgs(defaulting, tuple(constraints))


# --- constraints --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Constraint:
    max_skew: int
    topology_key: str
    selector: LabelSelector | None  # None selects nothing
    min_domains: int
    honor_affinity: bool
    honor_taints: bool

    def selects(self, labels: Mapping[str, str]) -> bool:
        return self.selector is not None and self.selector.matches(labels)

    def counts(self, pod: PodInfo, namespace: str) -> bool:
        """Whether ``pod`` counts towards its domain (#87621: not while terminating)."""
        selector = self.selector
        # An empty selector counts nothing, although it selects the pod itself.
        if selector is None or selector.is_empty:
            return False
        return not pod.deleting and pod.namespace == namespace and selector.matches(pod.labels)


def _compile(c: SpreadConstraint, selector: LabelSelector | None) -> _Constraint:
    return _Constraint(
        max_skew=c.max_skew,
        topology_key=c.topology_key,
        selector=selector,
        min_domains=c.min_domains if c.min_domains is not None else 1,
        honor_affinity=c.node_affinity_policy == HONOR,
        honor_taints=c.node_taints_policy == HONOR,
    )


def merge_selectors(selectors: Iterable[LabelSelector]) -> LabelSelector:
    """All requirements of all selectors ANDed (upstream's DefaultSelector)."""
    labels: dict[str, str] = {}
    expressions: list[Requirement] = []
    for selector in selectors:
        labels.update(selector.match_labels)
        expressions.extend(selector.expressions)
    return LabelSelector(tuple(sorted(labels.items())), tuple(dict.fromkeys(expressions)))


def _has_all_keys(labels: Mapping[str, str], constraints: Sequence[_Constraint]) -> bool:
    return all(c.topology_key in labels for c in constraints)


@dataclass(frozen=True, slots=True)
class _Inclusion:
    """How a node fares against the incoming pod's node affinity and taints,
    evaluated once per node and only for the policies some constraint honors."""

    affinity: bool
    taints: bool

    @classmethod
    def of(cls, pod: PodInfo, node: Node, constraints: Sequence[_Constraint]) -> _Inclusion:
        affinity = taints = True
        # The checks are skipped where they cannot fail: PreFilter asks this
        # of every node, and most pods pin nothing and most nodes are untainted.
        pinned = bool(pod.node_selector) or pod.required_node_affinity is not None
        if pinned and any(c.honor_affinity for c in constraints):
            affinity = _matches_required_affinity(pod, node)
        if node.taints and any(c.honor_taints for c in constraints):
            taints = not any(
                t.effect in (NO_SCHEDULE, NO_EXECUTE) and not tolerated(t, pod.tolerations)
                for t in node.taints
            )
        return _ADMITS_ALL if affinity and taints else cls(affinity, taints)

    def admits(self, c: _Constraint) -> bool:
        return (self.affinity or not c.honor_affinity) and (self.taints or not c.honor_taints)


_ADMITS_ALL: Final = _Inclusion(affinity=True, taints=True)


def _matches_required_affinity(pod: PodInfo, node: Node) -> bool:
    """nodeSelector AND required node affinity (component-helpers' RequiredNodeAffinity)."""
    labels = node.labels
    if any(labels.get(key) != value for key, value in pod.node_selector.items()):
        return False
    required = pod.required_node_affinity
    return required is None or required.matches(node.name, labels)


# --- filtering ----------------------------------------------------------------------


@dataclass(slots=True)
class _FilterState:
    constraints: tuple[_Constraint, ...]
    # Per constraint: topology value -> matching pods, for every eligible domain.
    counts: list[dict[str, int]]
    # Per constraint: matching-pod count -> how many domains hold it. Keeps the
    # global minimum exact under the ±1 updates of the PreFilter extensions.
    domains_at: list[dict[int, int]]
    minimum: list[int]

    @classmethod
    def build(
        cls, constraints: tuple[_Constraint, ...], counts: list[dict[str, int]]
    ) -> _FilterState:
        domains_at: list[dict[int, int]] = []
        minimum: list[int] = []
        for by_value in counts:
            histogram: dict[int, int] = {}
            for n in by_value.values():
                histogram[n] = histogram.get(n, 0) + 1
            domains_at.append(histogram)
            minimum.append(min(histogram, default=_NO_DOMAIN_MINIMUM))
        return cls(constraints, counts, domains_at, minimum)

    def clone(self) -> _FilterState:
        return _FilterState(
            self.constraints,
            [dict(c) for c in self.counts],
            [dict(h) for h in self.domains_at],
            list(self.minimum),
        )

    def global_minimum(self, i: int) -> int:
        # Fewer eligible domains than minDomains: the missing ones count as empty.
        if len(self.counts[i]) < self.constraints[i].min_domains:
            return 0
        return self.minimum[i]

    def update(self, i: int, value: str, delta: int) -> None:
        by_value, histogram = self.counts[i], self.domains_at[i]
        old = by_value.get(value)
        new = (old or 0) + delta
        by_value[value] = new
        if old is not None:
            left = histogram[old] - 1
            if left:
                histogram[old] = left
            else:
                del histogram[old]
        histogram[new] = histogram.get(new, 0) + 1
        if new < self.minimum[i]:
            self.minimum[i] = new
        elif old == self.minimum[i] and old not in histogram:
            self.minimum[i] = min(histogram)


# --- scoring ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ScoreState:
    constraints: tuple[_Constraint, ...]
    ignored: frozenset[str] = frozenset()  # filtered nodes missing a topology key
    # Per constraint: topology value -> matching pods. Hostname counts are
    # looked up per node at Score, in ``hosts``.
    counts: tuple[dict[str, int], ...] = ()
    hosts: tuple[Mapping[NodeName, int], ...] = ()
    weights: tuple[float, ...] = ()  # ln(domains + 2) per constraint


def _round(x: float) -> int:
    """Round half away from zero (Go's math.Round) for the non-negative raw score."""
    whole = math.floor(x)
    return whole + 1 if x - whole >= 0.5 else whole


# PreFilter -> Filter (and the PreFilter extensions): counts per domain.
_PRE_FILTER: Final = StateKey[_FilterState](f"{NAME}/counts")
# PreScore -> Score: counts, ignored nodes and weights.
_PRE_SCORE: Final = StateKey[_ScoreState](f"{NAME}/scores")


class PodTopologySpread:
    name: ClassVar[str] = NAME

    def __init__(self, args: PodTopologySpreadArgs, handle: Handle) -> None:
        self._handle = handle
        self._system_defaulted = args.defaulting_type == SYSTEM_DEFAULTING
        self._defaults = (
            SYSTEM_DEFAULT_CONSTRAINTS if self._system_defaulted else args.default_constraints
        )

    def _constraints(self, pod: PodInfo, action: str) -> tuple[_Constraint, ...]:
        if pod.spread_constraints:
            return tuple(
                _compile(c, c.selector)
                for c in pod.spread_constraints
                if c.when_unsatisfiable == action
            )
        chosen = [c for c in self._defaults if c.when_unsatisfiable == action]
        if not chosen:
            return ()
        selector = merge_selectors(self._handle.objects.owner_selectors(pod))
        if selector.is_empty:
            return ()
        return tuple(_compile(c, selector) for c in chosen)

    # -- PreFilter -----------------------------------------------------------------

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        counts = self._count(pod, nodes)
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

    def _counts_for(self, state: CycleState, pod: PodInfo) -> _FilterState:
        counts = state.get(_PRE_FILTER)
        if counts is None:
            counts = self._count(pod, self._handle.snapshot.node_infos())
            state.write(_PRE_FILTER, counts)
        return counts

    def _matching(self, c: _Constraint, namespace: str) -> Mapping[NodeName, int]:
        """Per node, the pods ``c`` counts: ``_Constraint.counts`` as an index lookup."""
        selector = c.selector
        if selector is None or selector.is_empty:
            return _NO_PODS
        found = self._handle.snapshot.matching_pods((selector,), terminating=False)
        return found.get(namespace, _NO_PODS)

    def _count(self, pod: PodInfo, nodes: Sequence[NodeInfo]) -> _FilterState:
        constraints = self._constraints(pod, DO_NOT_SCHEDULE)
        counts: list[dict[str, int]] = [{} for _ in constraints]
        if constraints:
            matching = [self._matching(c, pod.namespace) for c in constraints]
            for info in nodes:
                node = info.node
                labels = node.labels
                if not _has_all_keys(labels, constraints):
                    continue
                inclusion = _Inclusion.of(pod, node, constraints)
                for i, c in enumerate(constraints):
                    if inclusion.admits(c):
                        value = labels[c.topology_key]
                        found = matching[i].get(info.name, 0)
                        counts[i][value] = counts[i].get(value, 0) + found
        return _FilterState.build(constraints, counts)

    def _update(
        self, counts: _FilterState, pod: PodInfo, other: PodInfo, node: Node, delta: int
    ) -> None:
        constraints = counts.constraints
        if not constraints or other.namespace != pod.namespace:
            return
        labels = node.labels
        if not _has_all_keys(labels, constraints):
            return
        inclusion = _Inclusion.of(pod, node, constraints)
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
                return _MISSING_LABEL
            self_match = 1 if c.selects(pod.labels) else 0
            skew = counts.counts[i].get(value, 0) + self_match - counts.global_minimum(i)
            if skew > c.max_skew:
                return _REJECTED
        return SUCCESS

    # -- Score ---------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        all_nodes = self._handle.snapshot.node_infos()
        if not all_nodes:
            return SKIP
        scores = self._score_state(pod, nodes, all_nodes)
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
            return _IGNORED
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
        return _round(total)

    def normalize_scores(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        counted = [s for s in scores if s != _IGNORED]
        lowest = min(counted, default=0)
        highest = max(counted, default=0)
        for i, raw in enumerate(scores):
            if raw == _IGNORED:
                scores[i] = 0
            elif highest == 0:
                scores[i] = MAX_NODE_SCORE
            else:
                # Fewer matching pods score higher.
                scores[i] = MAX_NODE_SCORE * (highest + lowest - raw) // highest

    def _score_state(
        self, pod: PodInfo, filtered: Sequence[NodeInfo], all_nodes: Sequence[NodeInfo]
    ) -> _ScoreState:
        constraints = self._constraints(pod, SCHEDULE_ANYWAY)
        if not constraints:
            return _ScoreState(())
        # System defaults let nodes without a zone still spread by hostname.
        require_all = bool(pod.spread_constraints) or not self._system_defaulted
        ignored: set[str] = set()
        counts: list[dict[str, int]] = [{} for _ in constraints]
        for info in filtered:
            labels = info.node.labels
            if require_all and not _has_all_keys(labels, constraints):
                ignored.add(info.name)
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
        for info in all_nodes:
            node = info.node
            labels = node.labels
            if require_all and not _has_all_keys(labels, constraints):
                continue
            inclusion = _Inclusion.of(pod, node, constraints)
            for i, c in enumerate(constraints):
                value = labels.get(c.topology_key, "")
                # Only domains of candidate nodes are counted; hostname is never here.
                if value in counts[i] and inclusion.admits(c):
                    counts[i][value] += matching[i].get(info.name, 0)
        return _ScoreState(constraints, frozenset(ignored), tuple(counts), matching, tuple(weights))

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
            return other.uid == pod.uid or (
                bool(other.node_name) and other.namespace == pod.namespace
            )

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
        old_fits = old is not None and _has_all_keys(old.labels, constraints)
        new_fits = new is not None and _has_all_keys(new.labels, constraints)
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
