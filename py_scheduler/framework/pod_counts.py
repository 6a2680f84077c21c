"""What the snapshot's pod indexes count, so that PodTopologySpread and
InterPodAffinity never walk every assigned pod in a cycle.

Two questions, answered per node (assumed pods included):

- ``matching_pods(selectors, terminating=...)``: how many pods match every
  one of the selectors, per namespace. Namespaces stay apart because the
  callers pick them (one namespace for a spread constraint; a term's
  namespace list or selector for pod affinity).
- ``held_terms(kind)``: the distinct (anti-)affinity terms assigned pods
  carry, each with how many pods carry it; the incoming pod is matched
  against each distinct term once instead of against every pod.

Both the cache (incrementally) and test fakes (by walking) implement them
with the rules below, which are the single definition of "counted".
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TypeAlias

from py_scheduler.model import NodeName, PodInfo
from py_scheduler.model.pod import PodAffinityTerm, WeightedPodAffinityTerm
from py_scheduler.model.selectors import LabelSelector

# namespace -> node -> pods
PodCounts: TypeAlias = Mapping[str, Mapping[NodeName, int]]
# term (weight 0 when required) -> node -> pods carrying it
TermCounts: TypeAlias = Mapping[WeightedPodAffinityTerm, Mapping[NodeName, int]]


class TermKind(Enum):
    REQUIRED_AFFINITY = "requiredAffinity"
    REQUIRED_ANTI_AFFINITY = "requiredAntiAffinity"
    PREFERRED_AFFINITY = "preferredAffinity"
    PREFERRED_ANTI_AFFINITY = "preferredAntiAffinity"


def selected(pod: PodInfo, selectors: tuple[LabelSelector, ...], terminating: bool) -> bool:
    """Whether ``pod`` is counted under ``selectors`` (all of them must match)."""
    if pod.deleting and not terminating:
        return False
    labels = pod.labels
    return all(s.matches(labels) for s in selectors)


def _required(term: PodAffinityTerm) -> WeightedPodAffinityTerm:
    return WeightedPodAffinityTerm(0, term)


def terms_of(pod: PodInfo, kind: TermKind) -> tuple[WeightedPodAffinityTerm, ...]:
    """The pod's terms of one kind; a term listed twice counts twice."""
    if kind is TermKind.REQUIRED_AFFINITY:
        return tuple(_required(t) for t in pod.required_affinity)
    if kind is TermKind.REQUIRED_ANTI_AFFINITY:
        return tuple(_required(t) for t in pod.required_anti_affinity)
    if kind is TermKind.PREFERRED_AFFINITY:
        return pod.preferred_affinity
    return pod.preferred_anti_affinity
