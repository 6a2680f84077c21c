"""VolumeBindingArgs: ``bindTimeoutSeconds`` and the capacity-scoring ``shape``,
validated as kube-scheduler's ``ValidateVolumeBindingArgs`` does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from py_scheduler.framework.registry import ArgsError
from py_scheduler.model.raw import Fields

DEFAULT_BIND_TIMEOUT_SECONDS: Final = 600
MAX_CUSTOM_PRIORITY_SCORE: Final = 10
_FIELDS: Final = frozenset({"bindTimeoutSeconds", "shape", "apiVersion", "kind"})


@dataclass(frozen=True, slots=True)
class UtilizationShapePoint:
    utilization: int  # percent, 0..100
    score: int  # 0..10


@dataclass(frozen=True, slots=True)
class VolumeBindingArgs:
    bind_timeout_seconds: int = DEFAULT_BIND_TIMEOUT_SECONDS
    # The capacity score's shape (StorageCapacityScoring, see .scorer); empty: the
    # default shape from 1.37, no score before (kube-scheduler's defaults).
    shape: tuple[UtilizationShapePoint, ...] = ()

    def __post_init__(self) -> None:
        problems = []
        if self.bind_timeout_seconds < 0:
            problems.append(
                "args.bindTimeoutSeconds: invalid value, should not be a negative value"
            )
        for index, point in enumerate(self.shape):
            path = f"args.shape[{index}]"
            if not 0 <= point.utilization <= 100:
                problems.append(f"{path}.utilization: not in valid range [0, 100]")
            if not 0 <= point.score <= MAX_CUSTOM_PRIORITY_SCORE:
                problems.append(
                    f"{path}.score: not in valid range [0, {MAX_CUSTOM_PRIORITY_SCORE}]"
                )
            if index and point.utilization <= self.shape[index - 1].utilization:
                problems.append(f"{path}.utilization: values must be sorted in increasing order")
        if problems:
            raise ArgsError("; ".join(problems))


def decode_args(fields: Fields) -> VolumeBindingArgs:
    for key in fields.raw:
        if key not in _FIELDS:
            raise fields.error(key, "unknown field")
    shape = tuple(
        UtilizationShapePoint(point.int32("utilization"), point.int32("score"))
        for point in fields.objects("shape")
    )
    return VolumeBindingArgs(
        bind_timeout_seconds=fields.integer("bindTimeoutSeconds", DEFAULT_BIND_TIMEOUT_SECONDS),
        shape=shape,
    )
