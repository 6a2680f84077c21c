"""Array forms of NodeResourcesFit's filter and scorers and of
NodeResourcesBalancedAllocation's score, over ``NodeColumns``.

Each function computes, for many nodes at once, exactly what its per-node
twin in node_resources_fit.py / balanced_allocation.py computes for one: the
same integer divisions (all operands are non-negative, so floor is Go's
truncation) and the same float operations in the same order. Callers pass
resource names already classified by the per-node rules; ``None`` in a plan
means the resource is left out of the score, as ``(0, 0)`` is per node.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

import numpy as np

from py_scheduler.framework.batch import (
    ALLOC_CPU,
    ALLOC_EPHEMERAL,
    ALLOC_MEMORY,
    ALLOWED_PODS,
    EXACT_LIMIT,
    NON_ZERO_CPU,
    NON_ZERO_MEMORY,
    POD_COUNT,
    REQ_CPU,
    REQ_EPHEMERAL,
    REQ_MEMORY,
    Bools,
    Int64s,
    NodeColumns,
)
from py_scheduler.framework.interface import MAX_NODE_SCORE
from py_scheduler.model.resources import CPU, EPHEMERAL_STORAGE, MEMORY

MAX_UTILIZATION: Final = 100

# (allocatable row, requested row) per named resource in the columns.
_FIXED: Final = {
    CPU: (ALLOC_CPU, REQ_CPU),
    MEMORY: (ALLOC_MEMORY, REQ_MEMORY),
    EPHEMERAL_STORAGE: (ALLOC_EPHEMERAL, REQ_EPHEMERAL),
}
# Scoring counts a container without a cpu or memory request at a default.
_NON_ZERO: Final = {CPU: NON_ZERO_CPU, MEMORY: NON_ZERO_MEMORY}


def _pair(
    columns: NodeColumns, rows: Int64s, name: str, *, non_zero: bool = False
) -> tuple[Int64s, Int64s] | None:
    fixed = _FIXED.get(name)
    if fixed is not None:
        used = _NON_ZERO[name] if non_zero and name in _NON_ZERO else fixed[1]
        return columns.column(fixed[0])[rows], columns.column(used)[rows]
    scalar = columns.scalar(name)
    if scalar is None:
        return None
    return scalar[0][rows], scalar[1][rows]


def fits(
    columns: NodeColumns, rows: Int64s, checks: Sequence[tuple[str, int]], *, only_pods: bool
) -> Bools | None:
    """Where the node has room for one more pod and, unless ``only_pods``,
    for each (resource, quantity) of ``checks``; None when not exact."""
    if not columns.exact:
        return None
    ok: Bools = columns.column(POD_COUNT)[rows] + 1 <= columns.column(ALLOWED_PODS)[rows]
    if only_pods:
        return ok
    for name, quantity in checks:
        pair = _pair(columns, rows, name)
        if pair is None or quantity >= EXACT_LIMIT:
            return None
        alloc, used = pair
        ok &= quantity <= alloc - used
    return ok


def resource_arrays(
    columns: NodeColumns,
    rows: Int64s,
    plan: Sequence[str | None],
    pod_requests: Sequence[int],
    *,
    use_requested: bool,
) -> tuple[list[Int64s], list[Int64s]] | None:
    """(allocatable, requested with the pod) per planned resource, both 0
    where the node lacks it, as ``resource_vectors``; None when not exact."""
    if not columns.exact:
        return None
    zeros = np.zeros(len(rows), dtype=np.int64)
    allocatable: list[Int64s] = []
    requested: list[Int64s] = []
    for name, pod_request in zip(plan, pod_requests, strict=True):
        if name is None:
            allocatable.append(zeros)
            requested.append(zeros)
            continue
        pair = _pair(columns, rows, name, non_zero=not use_requested)
        if pair is None or pod_request >= EXACT_LIMIT:
            return None
        alloc, used = pair
        allocatable.append(alloc)
        requested.append(np.where(alloc == 0, 0, used + pod_request))
    return allocatable, requested


# -- NodeResourcesFit scorers ------------------------------------------------------------

BatchScorer = Callable[[Sequence[Int64s], Sequence[Int64s]], Int64s]


def _least(requested: Int64s, capacity: Int64s) -> Int64s:
    out: Int64s = np.where(
        requested > capacity, 0, (capacity - requested) * MAX_NODE_SCORE // capacity
    )
    return out


def _most(requested: Int64s, capacity: Int64s) -> Int64s:
    out: Int64s = np.minimum(requested, capacity) * MAX_NODE_SCORE // capacity
    return out


def _weighted(
    weights: Sequence[int], per_resource: Callable[[Int64s, Int64s], Int64s]
) -> BatchScorer:
    def scorer(requested: Sequence[Int64s], allocatable: Sequence[Int64s]) -> Int64s:
        node_score = np.zeros(len(requested[0]), dtype=np.int64)
        weight_sum = np.zeros_like(node_score)
        for req, alloc, weight in zip(requested, allocatable, weights, strict=True):
            has = alloc != 0
            score = per_resource(req, np.where(has, alloc, 1))
            node_score += np.where(has, score * weight, 0)
            weight_sum += np.where(has, weight, 0)
        out: Int64s = np.where(weight_sum > 0, node_score // np.maximum(weight_sum, 1), 0)
        return out

    return scorer


def least_allocated(weights: Sequence[int]) -> BatchScorer:
    return _weighted(weights, _least)


def most_allocated(weights: Sequence[int]) -> BatchScorer:
    return _weighted(weights, _most)


def requested_to_capacity_ratio(weights: Sequence[int], shape: Callable[[int], int]) -> BatchScorer:
    """``shape`` maps a utilization 0..100 to a score, so a table of 101 holds it."""
    table = np.array([shape(u) for u in range(MAX_UTILIZATION + 1)], dtype=np.int64)

    def scorer(requested: Sequence[Int64s], allocatable: Sequence[Int64s]) -> Int64s:
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

    return scorer


# -- NodeResourcesBalancedAllocation -------------------------------------------------------


def balanced(requested: Sequence[Int64s], allocatable: Sequence[Int64s]) -> Int64s:
    """``balanced_resource_score`` per node, with its float operations in its order."""
    size = len(requested[0])
    count = np.zeros(size, dtype=np.int64)
    total = np.zeros(size)
    first = np.zeros(size)
    second = np.zeros(size)
    fractions: list[np.ndarray] = []
    present: list[Bools] = []
    for req, alloc in zip(requested, allocatable, strict=True):
        has = alloc != 0
        # Operands below 2**52 convert exactly, so this is Python's int / int.
        fraction = np.where(has, np.minimum(req / np.where(has, alloc, 1), 1.0), 0.0)
        first = np.where(has & (count == 0), fraction, first)
        second = np.where(has & (count == 1), fraction, second)
        total = total + fraction  # adding 0.0 for a missing resource changes nothing
        count += has
        fractions.append(fraction)
        present.append(has)
    std = np.where(count == 2, np.fabs((first - second) / 2), 0.0)
    if len(requested) > 2:
        many = count > 2
        mean = total / np.maximum(count, 1)
        squares = np.zeros(size)
        for fraction, has in zip(fractions, present, strict=True):
            squares = squares + np.where(has, (fraction - mean) * (fraction - mean), 0.0)
        std = np.where(many, np.sqrt(squares / np.maximum(count, 1)), std)
    out: Int64s = ((1 - std) * MAX_NODE_SCORE).astype(np.int64)
    return out
