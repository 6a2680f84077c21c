"""NodeResourcesBalancedAllocation: prefer nodes whose resources would be used
evenly if the pod landed there (upstream ``noderesources/balanced_allocation.go``).

Each configured resource gives a fraction ``requested / allocatable`` (capped
at 1) using the real requests of the node's pods plus the pod's own; the
balance is ``(1 - std) * 100`` over those fractions. Kubernetes 1.35 scores
that balance; from 1.36 the score is the change the pod makes to it,
``50 + (50 + balance with the pod - balance without it) / 2``, so a pod that
evens a node out scores towards 100 and one that unbalances it towards 50
(the release comes from ``Handle.server``). Best-effort pods are not scored at
all: every node would look equally balanced for them, which piles them onto
the same node (kubernetes/kubernetes#129138).

The score comes per node (``balanced_resource_score``) and over node columns
(``balanced_resource_scores``), with the same float operations in the same order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Final

import numpy as np

from py_scheduler.framework.batch import Bools, Int64s, NodeColumns
from py_scheduler.framework.cycle_state import CycleState, StateKey
from py_scheduler.framework.interface import MAX_NODE_SCORE, Handle
from py_scheduler.framework.registry import ArgsError, PluginSpec
from py_scheduler.framework.status import SKIP, SUCCESS, Status
from py_scheduler.model import NodeInfo, PodInfo
from py_scheduler.model.raw import Fields
from py_scheduler.plugins.noderesources.resource_allocation import (
    DEFAULT_RESOURCES,
    ResourceSpec,
    column_plan,
    decode_resources,
    pod_request_list,
    resource_arrays,
    resource_vectors,
)

NAME: Final = "NodeResourcesBalancedAllocation"

_PRE_SCORE_KEY: Final[StateKey[tuple[int, ...]]] = StateKey(
    "PreScoreNodeResourcesBalancedAllocation"
)


@dataclass(frozen=True, slots=True)
class NodeResourcesBalancedAllocationArgs:
    resources: tuple[ResourceSpec, ...] = DEFAULT_RESOURCES

    def __post_init__(self) -> None:
        if not self.resources:
            raise ArgsError("args.resources: must not be empty")
        seen: set[str] = set()
        for i, res in enumerate(self.resources):
            if res.name in seen:
                raise ArgsError(f"args.resources[{i}].name: duplicate value {res.name!r}")
            seen.add(res.name)
            # The score is an unweighted standard deviation; other weights mean nothing.
            if res.weight != 1:
                raise ArgsError(f"args.resources[{i}].weight: must be 1, got {res.weight}")


def decode_args(fields: Fields) -> NodeResourcesBalancedAllocationArgs:
    fields.only("resources")
    return NodeResourcesBalancedAllocationArgs(
        resources=decode_resources(fields, "resources") or DEFAULT_RESOURCES
    )


def balanced_resource_score(requested: Sequence[int], allocatable: Sequence[int]) -> int:
    """``int((1 - std) * 100)`` over the fractions of the resources the node has.

    The float operations follow upstream's order so scores match to the unit.
    """
    fractions: list[float] = []
    total = 0.0
    for req, alloc in zip(requested, allocatable, strict=True):
        if alloc == 0:
            continue
        fraction = min(req / alloc, 1.0)
        total += fraction
        fractions.append(fraction)
    std = 0.0
    if len(fractions) == 2:
        std = math.fabs((fractions[0] - fractions[1]) / 2)
    elif len(fractions) > 2:
        mean = total / len(fractions)
        squares = 0.0
        for fraction in fractions:
            squares = squares + (fraction - mean) * (fraction - mean)
        std = math.sqrt(squares / len(fractions))
    return int((1 - std) * MAX_NODE_SCORE)


def balance_change_score(with_pod: int, without_pod: int) -> int:
    """1.36's score from the balance with and without the pod, both in [50, 100]; the
    sum is never negative, so floor division is Go's integer division."""
    return MAX_NODE_SCORE // 2 + (MAX_NODE_SCORE // 2 + with_pod - without_pod) // 2


def balanced_resource_scores(requested: Sequence[Int64s], allocatable: Sequence[Int64s]) -> Int64s:
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


class NodeResourcesBalancedAllocation:
    name: ClassVar[str] = NAME
    batch_normalizes: ClassVar[bool] = False  # it does not normalise

    def __init__(self, args: NodeResourcesBalancedAllocationArgs, handle: Handle) -> None:
        self._resources = args.resources
        self._scores_change = handle.server.version.at_least(1, 36)

    def _requests(self, pod: PodInfo) -> tuple[int, ...]:
        return pod_request_list(pod, self._resources, use_requested=True, pod_level=True)

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        requests = self._requests(pod)
        if not any(requests):
            return SKIP
        state.write(_PRE_SCORE_KEY, requests)
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        requests = state.get(_PRE_SCORE_KEY)
        if requests is None:
            requests = self._requests(pod)
            if not any(requests):
                return 0
        allocatable, requested = resource_vectors(
            node, self._resources, requests, use_requested=True
        )
        with_pod = balanced_resource_score(requested, allocatable)
        if not self._scores_change:
            return with_pod
        allocated = [
            req - own if alloc else 0
            for req, own, alloc in zip(requested, requests, allocatable, strict=True)
        ]
        return balance_change_score(with_pod, balanced_resource_score(allocated, allocatable))

    def score_batch(
        self, state: CycleState, pod: PodInfo, columns: NodeColumns, rows: Int64s
    ) -> Int64s | None:
        requests = state.get(_PRE_SCORE_KEY)
        if requests is None:
            requests = self._requests(pod)
            if not any(requests):
                return np.zeros(len(rows), dtype=np.int64)
        arrays = resource_arrays(
            columns, rows, column_plan(self._resources, requests), requests, use_requested=True
        )
        if arrays is None:
            return None
        allocatable, requested = arrays
        with_pod = balanced_resource_scores(requested, allocatable)
        if not self._scores_change:
            return with_pod
        allocated = [
            np.where(alloc == 0, 0, req - own)
            for req, own, alloc in zip(requested, requests, allocatable, strict=True)
        ]
        without_pod = balanced_resource_scores(allocated, allocatable)
        half = MAX_NODE_SCORE // 2
        out: Int64s = half + (half + with_pod - without_pod) // 2
        return out


SPEC: Final = PluginSpec(NAME, decode_args, NodeResourcesBalancedAllocation)
