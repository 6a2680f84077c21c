"""MostAllocated: the fuller the node, the higher the score (packs pods).
Per node and over node columns."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from py_scheduler.framework.batch import Int64s
from py_scheduler.framework.interface import MAX_NODE_SCORE
from py_scheduler.plugins.noderesources.resource_allocation import (
    BatchScorer,
    Scorer,
    weighted,
    weighted_arrays,
)


def most_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0:
        return 0
    # Non-zero defaults can push requested past capacity.
    return min(requested, capacity) * MAX_NODE_SCORE // capacity


def most_requested_scores(requested: Int64s, capacity: Int64s) -> Int64s:
    """``most_requested_score`` per element; ``capacity`` is never 0 here."""
    out: Int64s = np.minimum(requested, capacity) * MAX_NODE_SCORE // capacity
    return out


def scorer(weights: Sequence[int]) -> Scorer:
    return weighted(weights, most_requested_score)


def batch_scorer(weights: Sequence[int]) -> BatchScorer:
    return weighted_arrays(weights, most_requested_scores)
