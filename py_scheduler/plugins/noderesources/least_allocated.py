"""LeastAllocated: the emptier the node, the higher the score (spreads pods).
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


def least_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def least_requested_scores(requested: Int64s, capacity: Int64s) -> Int64s:
    """``least_requested_score`` per element; ``capacity`` is never 0 here."""
    out: Int64s = np.where(
        requested > capacity, 0, (capacity - requested) * MAX_NODE_SCORE // capacity
    )
    return out


def scorer(weights: Sequence[int]) -> Scorer:
    return weighted(weights, least_requested_score)


def batch_scorer(weights: Sequence[int]) -> BatchScorer:
    return weighted_arrays(weights, least_requested_scores)
