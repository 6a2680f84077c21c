"""VolumeBinding's capacity score (upstream ``volumebinding/scorer.go``): per storage
class, the utilisation the pod's claims make of the storage they would get on a node,
mapped through the configured shape and averaged over the classes.

Static bindings weigh the claims' requests against the chosen volumes' capacity;
dynamic provisions against the CSIStorageCapacity reported for the node.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from py_scheduler.framework.interface import MAX_NODE_SCORE
from py_scheduler.plugins.shape_score import broken_linear_function
from py_scheduler.plugins.volumebinding.args import (
    MAX_CUSTOM_PRIORITY_SCORE,
    UtilizationShapePoint,
)

MAX_UTILIZATION: Final = 100
# StorageCapacityScoring's default: the more free capacity, the better.
DEFAULT_SHAPE: Final = (
    UtilizationShapePoint(0, MAX_CUSTOM_PRIORITY_SCORE),
    UtilizationShapePoint(MAX_UTILIZATION, 0),
)


@dataclass(slots=True)
class StorageResource:
    requested: int = 0  # bytes
    capacity: int = 0  # bytes


ClassResources = Mapping[str, StorageResource]
VolumeScorer = Callable[[ClassResources], int]


def build_scorer(shape: Sequence[UtilizationShapePoint]) -> VolumeScorer:
    scale = MAX_NODE_SCORE // MAX_CUSTOM_PRIORITY_SCORE
    raw = broken_linear_function([(p.utilization, p.score * scale) for p in shape])

    def class_score(requested: int, capacity: int) -> int:
        if capacity == 0 or requested > capacity:
            return raw(MAX_UTILIZATION)
        return raw(requested * MAX_UTILIZATION // capacity)

    def score(classes: ClassResources) -> int:
        if not classes:
            return 0
        total = sum(class_score(r.requested, r.capacity) for r in classes.values())
        # Every class weighs the same; Go's math.Round (halves away from zero).
        return (2 * total + len(classes)) // (2 * len(classes))

    return score
