"""InterPodAffinity's Score state (upstream ``scoring.go``): preferred terms,
the incoming pod's and (symmetrically) the existing pods', summed per topology pair."""

from __future__ import annotations

from collections.abc import Mapping

from py_scheduler.model.pod import PodAffinityTerm

# topology key -> topology value -> summed weights.
TopologyScores = dict[str, dict[str, int]]


def add_score(
    scores: TopologyScores, term: PodAffinityTerm, labels: Mapping[str, str], weight: int
) -> None:
    value = labels.get(term.topology_key)
    if value is None:
        return
    by_value = scores.setdefault(term.topology_key, {})
    by_value[value] = by_value.get(value, 0) + weight
