"""What the noderesources scorers share (upstream's ``resource_allocation.go``):
the configured resources, the pod's request per resource, the node's
allocatable and requested amounts per resource (per node, and as arrays over
node columns) and the weighted average both strategies of weights use.

``(0, 0)`` per node, or ``None`` in an array plan, leaves a resource out of
the score: a scalar resource the pod does not request, or one the node lacks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from py_scheduler.framework.batch import (
    ALLOC_CPU,
    ALLOC_EPHEMERAL,
    ALLOC_MEMORY,
    EXACT_LIMIT,
    NON_ZERO_CPU,
    NON_ZERO_MEMORY,
    REQ_CPU,
    REQ_EPHEMERAL,
    REQ_MEMORY,
    Int64s,
    NodeColumns,
)
from py_scheduler.model import NodeInfo, PodInfo, names
from py_scheduler.model.raw import Fields
from py_scheduler.model.resources import CPU, EPHEMERAL_STORAGE, MEMORY


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    name: str
    weight: int = 1


DEFAULT_RESOURCES: Final = (ResourceSpec(CPU, 1), ResourceSpec(MEMORY, 1))

# (requested, allocatable) per configured resource -> the node's score.
Scorer = Callable[[Sequence[int], Sequence[int]], int]
BatchScorer = Callable[[Sequence[Int64s], Sequence[Int64s]], Int64s]


def decode_resources(fields: Fields, key: str) -> tuple[ResourceSpec, ...] | None:
    """A ``[{name, weight}]`` list; None when absent or empty (use the defaults).

    A weight that is missing or 0 becomes 1, as the v1 API's defaulting does.
    """
    out = []
    for item in fields.objects(key):
        item.only("name", "weight")
        name = item.string("name")
        if not name:
            raise item.error("name", "must be set")
        out.append(ResourceSpec(name, item.integer("weight") or 1))
    return tuple(out) or None


# -- per node ------------------------------------------------------------------------


def pod_request_list(
    pod: PodInfo, resources: Sequence[ResourceSpec], *, use_requested: bool, pod_level: bool
) -> tuple[int, ...]:
    """The pod's request per configured resource; cpu and memory use the
    non-zero requests unless ``use_requested``. Without ``pod_level`` the
    container requests count even when ``spec.resources`` sets pod-level
    ones, as upstream's NodeResourcesFit scorer does."""
    requests, non_zero_cpu, non_zero_memory = pod.requests, pod.non_zero_cpu, pod.non_zero_memory
    if not pod_level and pod.container_requests is not None:
        requests = pod.container_requests
        non_zero_cpu = pod.container_non_zero_cpu or 0
        non_zero_memory = pod.container_non_zero_memory or 0
    out = []
    for res in resources:
        if res.name == CPU:
            out.append(requests.milli_cpu if use_requested else non_zero_cpu)
        elif res.name == MEMORY:
            out.append(requests.memory if use_requested else non_zero_memory)
        else:
            out.append(requests.get(res.name))
    return tuple(out)


def allocatable_and_requested(
    node: NodeInfo, name: str, pod_request: int, *, use_requested: bool
) -> tuple[int, int]:
    """The node's allocatable amount and its requested amount with the pod.

    (0, 0) means the resource is left out of the score: a scalar resource the
    pod does not request, or one the node does not have.
    """
    if pod_request == 0 and names.is_scalar_resource_name(name):
        return 0, 0
    alloc = node.node.allocatable
    if name == CPU:
        used = node.requested.milli_cpu if use_requested else node.non_zero_cpu
        return alloc.milli_cpu, used + pod_request
    if name == MEMORY:
        used = node.requested.memory if use_requested else node.non_zero_memory
        return alloc.memory, used + pod_request
    if name == EPHEMERAL_STORAGE:
        return alloc.ephemeral_storage, node.requested.ephemeral_storage + pod_request
    if names.is_scalar_resource_name(name) and name in alloc.scalars:
        return alloc.scalars[name], node.requested.scalars.get(name, 0) + pod_request
    return 0, 0


def column_plan(resources: Sequence[ResourceSpec], pod_requests: Sequence[int]) -> list[str | None]:
    """Per configured resource, the column ``allocatable_and_requested``
    would read, or None where it returns (0, 0) for every node."""
    plan: list[str | None] = []
    for res, pod_request in zip(resources, pod_requests, strict=True):
        name = res.name
        scalar = names.is_scalar_resource_name(name)
        if (pod_request == 0 and scalar) or (
            not scalar and name not in (CPU, MEMORY, EPHEMERAL_STORAGE)
        ):
            plan.append(None)
        else:
            plan.append(name)
    return plan


def resource_vectors(
    node: NodeInfo,
    resources: Sequence[ResourceSpec],
    pod_requests: Sequence[int],
    *,
    use_requested: bool,
) -> tuple[list[int], list[int]]:
    """(allocatable, requested) per configured resource; both 0 where skipped."""
    allocatable = [0] * len(resources)
    requested = [0] * len(resources)
    for i, res in enumerate(resources):
        alloc, req = allocatable_and_requested(
            node, res.name, pod_requests[i], use_requested=use_requested
        )
        if alloc == 0:
            continue
        allocatable[i] = alloc
        requested[i] = req
    return allocatable, requested


# -- over node columns ----------------------------------------------------------------

# (allocatable row, requested row) per named resource in the columns.
_FIXED: Final = {
    CPU: (ALLOC_CPU, REQ_CPU),
    MEMORY: (ALLOC_MEMORY, REQ_MEMORY),
    EPHEMERAL_STORAGE: (ALLOC_EPHEMERAL, REQ_EPHEMERAL),
}
# Scoring counts a container without a cpu or memory request at a default.
_NON_ZERO: Final = {CPU: NON_ZERO_CPU, MEMORY: NON_ZERO_MEMORY}


def scalar_or_fixed_pair(
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
        pair = scalar_or_fixed_pair(columns, rows, name, non_zero=not use_requested)
        if pair is None or pod_request >= EXACT_LIMIT:
            return None
        alloc, used = pair
        allocatable.append(alloc)
        requested.append(np.where(alloc == 0, 0, used + pod_request))
    return allocatable, requested


# -- the weighted average -------------------------------------------------------------


def weighted(weights: Sequence[int], per_resource: Callable[[int, int], int]) -> Scorer:
    """The weighted average of ``per_resource(requested, allocatable)`` over the
    resources the node has."""

    def scorer(requested: Sequence[int], allocatable: Sequence[int]) -> int:
        node_score = weight_sum = 0
        for req, alloc, weight in zip(requested, allocatable, weights, strict=True):
            if alloc == 0:
                continue
            node_score += per_resource(req, alloc) * weight
            weight_sum += weight
        return node_score // weight_sum if weight_sum else 0

    return scorer


def weighted_arrays(
    weights: Sequence[int], per_resource: Callable[[Int64s, Int64s], Int64s]
) -> BatchScorer:
    """``weighted`` over node columns; ``per_resource`` never sees a zero capacity."""

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
