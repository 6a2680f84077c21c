"""Correctness gates checked after every run: a fast wrong answer is no answer.

Each gate returns a list of human-readable failures; empty means it passed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping


def all_bound(placements: Mapping[str, str | None], pods: Iterable[str]) -> list[str]:
    """Every listed pod has a node."""
    missing = sorted(p for p in pods if not placements.get(p))
    if not missing:
        return []
    return [f"{len(missing)} pod(s) never bound, e.g. {', '.join(missing[:3])}"]


def none_bound(placements: Mapping[str, str | None], pods: Iterable[str]) -> list[str]:
    """No listed pod has a node (pods that cannot fit anywhere must stay pending)."""
    bound = sorted(p for p in pods if placements.get(p))
    if not bound:
        return []
    return [f"{len(bound)} unschedulable pod(s) were bound, e.g. {', '.join(bound[:3])}"]


def zone_skew(
    placements: Mapping[str, str | None],
    pods: Iterable[str],
    zone_of: Mapping[str, str],
) -> int:
    """Max minus min count of ``pods`` per zone, counting zones that got none."""
    counts: Counter[str] = Counter(dict.fromkeys(set(zone_of.values()), 0))
    for pod in pods:
        node = placements.get(pod)
        if node and node in zone_of:
            counts[zone_of[node]] += 1
    if not counts:
        return 0
    return max(counts.values()) - min(counts.values())


def skew_within(
    placements: Mapping[str, str | None],
    pods: Iterable[str],
    zone_of: Mapping[str, str],
    max_skew: int,
) -> list[str]:
    skew = zone_skew(placements, pods, zone_of)
    return [] if skew <= max_skew else [f"zone skew {skew} exceeds maxSkew {max_skew}"]


def anti_affinity_conflicts(
    placements: Mapping[str, str | None], pods: Iterable[str]
) -> dict[str, list[str]]:
    """Nodes holding more than one of ``pods`` (all mutually anti-affine)."""
    by_node: dict[str, list[str]] = {}
    for pod in pods:
        node = placements.get(pod)
        if node:
            by_node.setdefault(node, []).append(pod)
    return {node: sorted(names) for node, names in by_node.items() if len(names) > 1}


def anti_affinity_respected(placements: Mapping[str, str | None], pods: Iterable[str]) -> list[str]:
    conflicts = anti_affinity_conflicts(placements, pods)
    if not conflicts:
        return []
    node, names = next(iter(sorted(conflicts.items())))
    return [f"{len(conflicts)} node(s) hold anti-affine pods together, e.g. {node}: {names}"]


def overcommitted(
    placements: Mapping[str, str | None],
    milli_cpu: Mapping[str, int],
    allocatable_milli_cpu: int,
) -> list[str]:
    """Nodes whose bound pods request more CPU than the node has."""
    used: Counter[str] = Counter()
    for pod, node in placements.items():
        if node:
            used[node] += milli_cpu.get(pod, 0)
    over = sorted(node for node, cpu in used.items() if cpu > allocatable_milli_cpu)
    if not over:
        return []
    return [f"{len(over)} node(s) over their CPU, e.g. {over[0]}: {used[over[0]]}m"]


def disruptions_within(evicted: int, budget: int) -> list[str]:
    """No more victims than the budget allows (the stand-in for a PDB)."""
    if evicted <= budget:
        return []
    return [f"{evicted} victims exceed the disruption budget of {budget}"]


def within_capacity(
    placements: Mapping[str, str | None], pods: Iterable[str], capacity: Mapping[str, int]
) -> list[str]:
    """No node holds more of ``pods`` than it has devices (one device per pod)."""
    counts = Counter(placements.get(p) for p in pods if placements.get(p))
    over = sorted(n for n, c in counts.items() if n is not None and c > capacity.get(n, 0))
    return (
        [f"{len(over)} node(s) got more pods than devices, e.g. {', '.join(over[:3])}"]
        if over
        else []
    )


def whole_groups(
    placements: Mapping[str, str | None], groups: Mapping[str, str], size: int
) -> list[str]:
    """Every group has all ``size`` of its pods bound, or none: no partial gang."""
    bound: Counter[str] = Counter()
    for pod, group in groups.items():
        if placements.get(pod):
            bound[group] += 1
    partial = sorted(g for g, n in bound.items() if n != size)
    if not partial:
        return []
    return [f"{len(partial)} gang(s) partly bound, e.g. {', '.join(partial[:3])}"]
