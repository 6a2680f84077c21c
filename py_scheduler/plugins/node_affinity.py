"""NodeAffinity: ``nodeSelector``, required and preferred node affinity, plus
the scheduler-enforced ``addedAffinity`` from the plugin's arguments.

Matching follows component-helpers' node affinity: terms are ORed and their
requirements ANDed; an empty term selects nothing; ``matchFields`` supports
only ``metadata.name`` with In/NotIn and exactly one value. A required term
the API machinery could not parse (bad label key or value, several field
values, a ``Gt``/``Lt`` value that is not an integer) never matches instead of
failing the pod, which is upstream's "lazy error" behaviour. Invalid preferred
terms fail PreScore with upstream's message (a SchedulerError for the pod,
unless a single node was feasible and scoring never ran), and invalid
``addedAffinity`` fails start-up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Final

from py_scheduler.framework.cycle_state import CycleState, StateKey
from py_scheduler.framework.interface import MAX_NODE_SCORE, Handle, PreFilterExtensions
from py_scheduler.framework.registry import ArgsError, PluginSpec
from py_scheduler.framework.status import SUCCESS, Status
from py_scheduler.framework.types import (
    ActionType,
    ClusterEventWithHint,
    PreFilterResult,
    QueueingHint,
    Resource,
    event,
)
from py_scheduler.model import Node, NodeInfo, PodInfo, names
from py_scheduler.model.pod import WeightedNodeSelectorTerm
from py_scheduler.model.raw import DecodeError, Fields
from py_scheduler.model.selectors import (
    NodeSelector,
    NodeSelectorTerm,
    Requirement,
    decode_node_selector,
    decode_node_selector_term,
)

NAME: Final = "NodeAffinity"
REASON_POD: Final = "node(s) didn't match Pod's node affinity/selector"
REASON_ENFORCED: Final = "node(s) didn't match scheduler-enforced node affinity"
REASON_CONFLICT: Final = "pod affinity terms conflict"

_REJECTED_POD: Final = Status.unresolvable(REASON_POD)
_REJECTED_ENFORCED: Final = Status.unresolvable(REASON_ENFORCED)
_CONFLICT: Final = Status.unresolvable(REASON_CONFLICT)

_REQUIRED: Final = "requiredDuringSchedulingIgnoredDuringExecution"
_PREFERRED: Final = "preferredDuringSchedulingIgnoredDuringExecution"
_NAME_FIELD: Final = "metadata.name"


@dataclass(frozen=True, slots=True)
class NodeAffinityArgs:
    """``addedAffinity``: a core/v1 NodeAffinity every pod must also satisfy
    (required) and is scored by (preferred)."""

    added_required: NodeSelector | None = None
    added_preferred: tuple[WeightedNodeSelectorTerm, ...] = ()


# --- validation, as labels.NewRequirement and the field selector parser do ---


def _expression_problems(req: Requirement, path: str) -> list[str]:
    """labels.NewRequirement's errors, with its field paths and wording."""
    out = []
    if (problem := names.label_key_problem(req.key)) is not None:
        out.append(f'{path}.key: Invalid value: "{req.key}": {problem}')
    values = sorted(req.values)
    if req.operator in ("Gt", "Lt"):
        for i, value in enumerate(values):
            if not names.INTEGER.fullmatch(value) or int(value) not in names.INT64:
                out.append(
                    f'{path}.values[{i}]: Invalid value: "{value}": '
                    "for 'Gt', 'Lt' operators, the value must be an integer"
                )
    for i, value in enumerate(values):
        if (problem := names.label_value_problem(value)) is not None:
            out.append(f'{path}.values[{i}][{req.key}]: Invalid value: "{value}": {problem}')
    return out


def _field_problems(req: Requirement, path: str) -> list[str]:
    if req.operator not in ("In", "NotIn"):
        supported = "supported values: In, NotIn"
        return [f'{path}.operator: Unsupported value: "{req.operator}": {supported}']
    if len(req.values) != 1:
        return [f"{path}.values: Invalid value: {sorted(req.values)}: must have one element"]
    return []


def _term_problems(term: NodeSelectorTerm, path: str) -> list[str]:
    out = []
    for i, req in enumerate(term.expressions):
        out += _expression_problems(req, f"{path}.matchExpressions[{i}]")
    for i, req in enumerate(term.fields):
        out += _field_problems(req, f"{path}.matchFields[{i}]")
    return out


def _is_empty(term: NodeSelectorTerm) -> bool:
    return not term.expressions and not term.fields


def _preferred_terms(
    terms: Sequence[WeightedNodeSelectorTerm], path: str, *, term_field: str = ".preference"
) -> tuple[WeightedNodeSelectorTerm, ...]:
    """The terms that can score; raises ValueError naming every invalid one.
    A pod's own terms are named as upstream's PreScore names them
    (``[0].matchExpressions[0]...``: ``path`` and ``term_field`` empty)."""
    kept: list[WeightedNodeSelectorTerm] = []
    problems: list[str] = []
    for i, weighted in enumerate(terms):
        # Zero-weight and empty terms are skipped before parsing, as upstream.
        if weighted.weight == 0 or _is_empty(weighted.term):
            continue
        found = _term_problems(weighted.term, f"{path}[{i}]{term_field}")
        if found:
            problems += found
        else:
            kept.append(weighted)
    if problems:
        raise ValueError("; ".join(problems))
    return tuple(kept)


def _pod_preferred_terms(pod: PodInfo) -> tuple[WeightedNodeSelectorTerm, ...]:
    return _preferred_terms(pod.preferred_node_affinity, "", term_field="")


def _preferred_score(terms: Sequence[WeightedNodeSelectorTerm], node: Node) -> int:
    return sum(w.weight for w in terms if w.term.matches(node.name, node.labels))


# --- args ---

_STRICT: Final[Mapping[str, frozenset[str]]] = {
    "args": frozenset({"apiVersion", "kind", "addedAffinity"}),
    "affinity": frozenset({_REQUIRED, _PREFERRED}),
    "selector": frozenset({"nodeSelectorTerms"}),
    "term": frozenset({"matchExpressions", "matchFields"}),
    "requirement": frozenset({"key", "operator", "values"}),
    "preferred": frozenset({"weight", "preference"}),
}


def _unknown(fields: Fields, level: str) -> list[str]:
    allowed = _STRICT[level]
    prefix = f"{fields.path}." if fields.path else ""
    return [f"{prefix}{key}: unknown field" for key in fields.raw if key not in allowed]


def _unknown_in_term(term: Fields) -> list[str]:
    out = _unknown(term, "term")
    for key in ("matchExpressions", "matchFields"):
        for req in term.objects(key):
            out += _unknown(req, "requirement")
    return out


def _decode_added(affinity: Fields) -> NodeAffinityArgs:
    problems = _unknown(affinity, "affinity")
    required = None
    if affinity.raw.get(_REQUIRED) is not None:
        selector = affinity.obj(_REQUIRED)
        problems += _unknown(selector, "selector")
        for term_fields in selector.objects("nodeSelectorTerms"):
            problems += _unknown_in_term(term_fields)
        required = decode_node_selector(selector)
        for i, term in enumerate(required.terms):
            problems += _term_problems(term, f"{selector.path}.nodeSelectorTerms[{i}]")
    preferred: list[WeightedNodeSelectorTerm] = []
    for item in affinity.objects(_PREFERRED):
        problems += _unknown(item, "preferred")
        weight = item.int32("weight")
        if weight < 0:
            # Upstream accepts this and then fails every scoring cycle.
            problems.append(f"{item.path}.weight: Invalid value: {weight}: must not be negative")
        preference = item.obj("preference")
        problems += _unknown_in_term(preference)
        preferred.append(WeightedNodeSelectorTerm(weight, decode_node_selector_term(preference)))
    try:
        kept = _preferred_terms(preferred, f"{affinity.path}.{_PREFERRED}")
    except ValueError as exc:
        problems.append(str(exc))
        kept = ()
    if problems:
        raise ArgsError("; ".join(problems))
    return NodeAffinityArgs(required, kept)


def decode_args(fields: Fields) -> NodeAffinityArgs:
    try:
        problems = _unknown(fields, "args")
        if problems:
            raise ArgsError("; ".join(problems))
        if fields.raw.get("addedAffinity") is None:
            return NodeAffinityArgs()
        return _decode_added(fields.obj("addedAffinity"))
    except DecodeError as exc:
        raise ArgsError(str(exc)) from None


# --- the pod's required affinity ---


@dataclass(frozen=True, slots=True)
class _Required:
    """``nodeSelector`` AND the required terms that can match."""

    node_selector: tuple[tuple[str, str], ...]
    terms: tuple[NodeSelectorTerm, ...] | None  # None: no required node affinity

    def matches(self, node: Node) -> bool:
        labels = node.labels
        # A selector entry needs the label present, even for an empty value.
        if any(labels.get(key) != value for key, value in self.node_selector):
            return False
        if self.terms is None:
            return True
        return any(term.matches(node.name, labels) for term in self.terms)


def _required(pod: PodInfo) -> _Required:
    terms = None
    if pod.required_node_affinity is not None:
        terms = tuple(
            term
            for term in pod.required_node_affinity.terms
            if not _is_empty(term) and not _term_problems(term, "")
        )
    return _Required(tuple(pod.node_selector.items()), terms)


def _has_broken_required_term(pod: PodInfo) -> bool:
    if pod.required_node_affinity is None:
        return False
    return any(
        not _is_empty(term) and _term_problems(term, "")
        for term in pod.required_node_affinity.terms
    )


def _pinned_node_names(terms: Sequence[NodeSelectorTerm]) -> frozenset[str] | None:
    """The only nodes the terms can match when every term pins
    ``metadata.name In``; None when some term leaves all nodes possible."""
    names: frozenset[str] = frozenset()
    for term in terms:
        pinned: frozenset[str] | None = None
        for req in term.fields:
            if req.key == _NAME_FIELD and req.operator == "In":
                # Requirements are ANDed: intersect within the term.
                pinned = req.values if pinned is None else pinned & req.values
        if pinned is None:
            return None
        # Terms are ORed: unite across terms.
        names |= pinned
    return names


# PreFilter -> Filter: the pod's compiled nodeSelector and required affinity.
_PRE_FILTER: Final = StateKey[_Required](f"{NAME}/required")
# PreScore -> Score: the pod's valid preferred terms.
_PRE_SCORE: Final = StateKey[tuple[WeightedNodeSelectorTerm, ...]](f"{NAME}/preferred")


class NodeAffinity:
    name: ClassVar[str] = NAME

    def __init__(self, args: NodeAffinityArgs, handle: Handle) -> None:
        del handle
        self._added_required = args.added_required
        self._added_preferred = args.added_preferred

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        affinity = pod.required_node_affinity
        if affinity is None and self._added_required is None and not pod.node_selector:
            return None, Status.skip()
        state.write(_PRE_FILTER, _required(pod))
        if affinity is None or not affinity.terms:
            return None, SUCCESS
        names = _pinned_node_names(affinity.terms)
        if names is None:
            return None, SUCCESS
        if not names:
            return None, _CONFLICT
        return PreFilterResult(names), SUCCESS

    def pre_filter_extensions(self) -> PreFilterExtensions | None:
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        added = self._added_required
        if added is not None and not added.matches(node.name, node.node.labels):
            return _REJECTED_ENFORCED
        required = state.get(_PRE_FILTER)
        if required is None:
            required = _required(pod)
        return SUCCESS if required.matches(node.node) else _REJECTED_POD

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        try:
            preferred = _pod_preferred_terms(pod)
        except ValueError as exc:
            # As upstream: the cycle fails (SchedulerError) unless only one
            # node was feasible, in which case scoring never runs.
            return Status.error(str(exc))
        if not pod.preferred_node_affinity and not self._added_preferred:
            return Status.skip()
        state.write(_PRE_SCORE, preferred)
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        preferred = state.get(_PRE_SCORE)
        if preferred is None:
            preferred = _pod_preferred_terms(pod)
        return _preferred_score(self._added_preferred, node.node) + _preferred_score(
            preferred, node.node
        )

    def normalize_scores(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        highest = max(scores, default=0)
        if highest == 0:
            return
        for i, raw in enumerate(scores):
            scores[i] = MAX_NODE_SCORE * raw // highest

    def events_to_register(self) -> Sequence[ClusterEventWithHint]:
        return (
            ClusterEventWithHint(
                event(Resource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL),
                self._after_node_change,
            ),
        )

    def _after_node_change(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        if not isinstance(new, Node) or not isinstance(old, Node | None):
            return QueueingHint.QUEUE
        added = self._added_required
        if added is not None and not added.matches(new.name, new.labels):
            return QueueingHint.SKIP
        required = _required(pod)
        if not required.matches(new):
            # Upstream's Match reports the parse errors of a term that could not
            # match, and its hint queues on an error.
            return QueueingHint.QUEUE if _has_broken_required_term(pod) else QueueingHint.SKIP
        # Added and matching, or an update that turned a mismatch into a match.
        if old is None or not required.matches(old):
            return QueueingHint.QUEUE
        return QueueingHint.SKIP


SPEC: Final = PluginSpec(NAME, decode_args, NodeAffinity)
