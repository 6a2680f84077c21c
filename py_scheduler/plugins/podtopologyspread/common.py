"""What PodTopologySpread's halves share (upstream ``common.go``): the names
and constants of the API, and constraints compiled for a pod, with which
nodes count towards them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from py_scheduler.framework.status import Status
from py_scheduler.model import HOSTNAME_LABEL, ZONE_LABEL, Node, NodeName, PodInfo
from py_scheduler.model.pod import SpreadConstraint
from py_scheduler.model.selectors import LabelSelector, Requirement
from py_scheduler.model.taints import NO_EXECUTE, NO_SCHEDULE, tolerated

NAME: Final = "PodTopologySpread"
REASON_CONSTRAINTS_NOT_MATCH: Final = "node(s) didn't match pod topology spread constraints"
REASON_NODE_LABEL_NOT_MATCH: Final = REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"

# A node without the topology key can never join the domain by evicting pods.
MISSING_LABEL: Final = Status.unresolvable(REASON_NODE_LABEL_NOT_MATCH)
REJECTED: Final = Status.unschedulable(REASON_CONSTRAINTS_NOT_MATCH)

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
NO_DOMAIN_MINIMUM: Final = 2**31 - 1
# Score of a node missing a topology key; normalisation turns it into 0.
# Real raw scores are never negative, so it cannot collide with one.
IGNORED: Final = -1
NO_PODS: Final[Mapping[NodeName, int]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Constraint:
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


def compile_constraint(c: SpreadConstraint, selector: LabelSelector | None) -> Constraint:
    return Constraint(
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


def has_all_keys(labels: Mapping[str, str], constraints: Sequence[Constraint]) -> bool:
    return all(c.topology_key in labels for c in constraints)


@dataclass(frozen=True, slots=True)
class Inclusion:
    """How a node fares against the incoming pod's node affinity and taints,
    evaluated once per node and only for the policies some constraint honors."""

    affinity: bool
    taints: bool

    @classmethod
    def of(cls, pod: PodInfo, node: Node, constraints: Sequence[Constraint]) -> Inclusion:
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

    def admits(self, c: Constraint) -> bool:
        return (self.affinity or not c.honor_affinity) and (self.taints or not c.honor_taints)


_ADMITS_ALL: Final = Inclusion(affinity=True, taints=True)


def _matches_required_affinity(pod: PodInfo, node: Node) -> bool:
    """nodeSelector AND required node affinity (component-helpers' RequiredNodeAffinity)."""
    labels = node.labels
    if any(labels.get(key) != value for key, value in pod.node_selector.items()):
        return False
    required = pod.required_node_affinity
    return required is None or required.matches(node.name, labels)
