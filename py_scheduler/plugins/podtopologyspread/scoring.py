"""PodTopologySpread's Score state (upstream ``scoring.go``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from py_scheduler.model import NodeName
from py_scheduler.plugins.podtopologyspread.common import Constraint


@dataclass(frozen=True, slots=True)
class ScoreState:
    constraints: tuple[Constraint, ...]
    ignored: frozenset[str] = frozenset()  # filtered nodes missing a topology key
    # Per constraint: topology value -> matching pods. Hostname counts are
    # looked up per node at Score, in ``hosts``.
    counts: tuple[dict[str, int], ...] = ()
    hosts: tuple[Mapping[NodeName, int], ...] = ()
    weights: tuple[float, ...] = ()  # ln(domains + 2) per constraint


def round_half_up(x: float) -> int:
    """Round half away from zero (Go's math.Round) for the non-negative raw score."""
    whole = math.floor(x)
    return whole + 1 if x - whole >= 0.5 else whole
