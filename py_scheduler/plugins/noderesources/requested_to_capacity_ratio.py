"""RequestedToCapacityRatio: the score follows a user-given shape over the
node's utilization (0..100%), averaged over the resources that score.
Per node and over node columns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from py_scheduler.framework.batch import Int64s
from py_scheduler.framework.interface import MAX_NODE_SCORE
from py_scheduler.plugins.noderesources.resource_allocation import BatchScorer, Scorer
from py_scheduler.plugins.shape_score import broken_linear_function

MAX_UTILIZATION: Final = 100
# Shape scores are given on 0..10 and scaled to the node score range.
MAX_CUSTOM_PRIORITY_SCORE: Final = 10


@dataclass(frozen=True, slots=True)
class UtilizationShapePoint:
    utilization: int  # 0..100
    score: int  # 0..10


def _shape(shape: Sequence[UtilizationShapePoint]) -> Callable[[int], int]:
    scale = MAX_NODE_SCORE // MAX_CUSTOM_PRIORITY_SCORE
    return broken_linear_function([(p.utilization, p.score * scale) for p in shape])


def scorer(weights: Sequence[int], shape: Sequence[UtilizationShapePoint]) -> Scorer:
    raw = _shape(shape)

    def score(requested: Sequence[int], allocatable: Sequence[int]) -> int:
        node_score = weight_sum = 0
        for req, alloc, weight in zip(requested, allocatable, weights, strict=True):
            if alloc == 0:
                continue
            utilization = MAX_UTILIZATION if req > alloc else req * MAX_UTILIZATION // alloc
            resource_score = raw(utilization)
            # Only resources that score count, so a zero does not drag the average.
            if resource_score > 0:
                node_score += resource_score * weight
                weight_sum += weight
        if weight_sum == 0:
            return 0
        # Go's math.Round: halves away from zero (scores are never negative).
        return (2 * node_score + weight_sum) // (2 * weight_sum)

    return score


def batch_scorer(weights: Sequence[int], shape: Sequence[UtilizationShapePoint]) -> BatchScorer:
    """``scorer`` over node columns; the shape maps a utilization 0..100 to a
    score, so a table of 101 holds it."""
    raw = _shape(shape)
    table = np.array([raw(u) for u in range(MAX_UTILIZATION + 1)], dtype=np.int64)

    def score(requested: Sequence[Int64s], allocatable: Sequence[Int64s]) -> Int64s:
        node_score = np.zeros(len(requested[0]), dtype=np.int64)
        weight_sum = np.zeros_like(node_score)
        for req, alloc, weight in zip(requested, allocatable, weights, strict=True):
            has = alloc != 0
            utilization = np.where(
                req > alloc, MAX_UTILIZATION, req * MAX_UTILIZATION // np.where(has, alloc, 1)
            )
            score = table[utilization]
            # Only resources that score count, so a zero does not drag the average.
            counts = has & (score > 0)
            node_score += np.where(counts, score * weight, 0)
            weight_sum += np.where(counts, weight, 0)
        # Go's math.Round: halves away from zero (scores are never negative).
        out: Int64s = np.where(
            weight_sum == 0, 0, (2 * node_score + weight_sum) // np.maximum(2 * weight_sum, 1)
        )
        return out

    return score
