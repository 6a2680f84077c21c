"""Resource amounts: the requests of a pod and the sums kept per node.

CPU is in millicores, everything else in whole units. ``Resources`` is
mutable on purpose: ``NodeInfo`` adds and subtracts pods in place on every
cache event, and the filter compares without allocating.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Final

from py_scheduler.model.quantity import QuantityError, parse_quantity
from py_scheduler.model.raw import DecodeError, Fields

CPU: Final = "cpu"
MEMORY: Final = "memory"
EPHEMERAL_STORAGE: Final = "ephemeral-storage"
PODS: Final = "pods"

# Scoring counts a container without a cpu or memory request as asking for
# these amounts, so empty pods still spread (pkg/scheduler/util).
DEFAULT_MILLI_CPU_REQUEST: Final = 100
DEFAULT_MEMORY_REQUEST: Final = 200 * 1024 * 1024


class Resources:
    """An amount per resource name; absent means zero."""

    __slots__ = ("ephemeral_storage", "memory", "milli_cpu", "scalars")

    def __init__(
        self,
        milli_cpu: int = 0,
        memory: int = 0,
        ephemeral_storage: int = 0,
        scalars: Mapping[str, int] | None = None,
    ) -> None:
        self.milli_cpu = milli_cpu
        self.memory = memory
        self.ephemeral_storage = ephemeral_storage
        self.scalars: dict[str, int] = dict(scalars) if scalars else {}

    @classmethod
    def from_amounts(cls, amounts: Mapping[str, Fraction]) -> Resources:
        res = cls()
        for name, amount in amounts.items():
            if name == CPU:
                res.milli_cpu = math.ceil(amount * 1000)
            elif name == MEMORY:
                res.memory = math.ceil(amount)
            elif name == EPHEMERAL_STORAGE:
                res.ephemeral_storage = math.ceil(amount)
            elif name != PODS:
                res.scalars[name] = math.ceil(amount)
        return res

    def get(self, name: str) -> int:
        if name == CPU:
            return self.milli_cpu
        if name == MEMORY:
            return self.memory
        if name == EPHEMERAL_STORAGE:
            return self.ephemeral_storage
        return self.scalars.get(name, 0)

    def add(self, other: Resources) -> None:
        self.milli_cpu += other.milli_cpu
        self.memory += other.memory
        self.ephemeral_storage += other.ephemeral_storage
        for name, amount in other.scalars.items():
            self.scalars[name] = self.scalars.get(name, 0) + amount

    def subtract(self, other: Resources) -> None:
        self.milli_cpu -= other.milli_cpu
        self.memory -= other.memory
        self.ephemeral_storage -= other.ephemeral_storage
        for name, amount in other.scalars.items():
            left = self.scalars.get(name, 0) - amount
            if left:
                self.scalars[name] = left
            else:
                self.scalars.pop(name, None)

    def copy(self) -> Resources:
        return Resources(self.milli_cpu, self.memory, self.ephemeral_storage, self.scalars)

    def is_zero(self) -> bool:
        return not (
            self.milli_cpu or self.memory or self.ephemeral_storage or any(self.scalars.values())
        )

    def names(self) -> Iterable[str]:
        yield CPU
        yield MEMORY
        yield EPHEMERAL_STORAGE
        yield from self.scalars

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Resources):
            return NotImplemented
        return (
            self.milli_cpu == other.milli_cpu
            and self.memory == other.memory
            and self.ephemeral_storage == other.ephemeral_storage
            and {k: v for k, v in self.scalars.items() if v}
            == {k: v for k, v in other.scalars.items() if v}
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        scalars = f", scalars={self.scalars}" if self.scalars else ""
        return (
            f"Resources(milli_cpu={self.milli_cpu}, memory={self.memory}, "
            f"ephemeral_storage={self.ephemeral_storage}{scalars})"
        )


def decode_amounts(fields: Fields, key: str) -> dict[str, Fraction]:
    """A ``ResourceList`` such as ``resources.requests``, exactly."""
    out: dict[str, Fraction] = {}
    for name, value in fields.raw_map(key).items():
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise DecodeError(f"{fields.path}.{key}.{name}", f"expected a quantity, got {value!r}")
        try:
            amount = parse_quantity(value)
        except QuantityError as exc:
            raise DecodeError(f"{fields.path}.{key}.{name}", str(exc)) from None
        if amount < 0:
            raise DecodeError(f"{fields.path}.{key}.{name}", f"negative quantity {value!r}")
        out[name] = amount
    return out


def _add(total: dict[str, Fraction], amounts: Mapping[str, Fraction]) -> None:
    for name, amount in amounts.items():
        total[name] = total.get(name, Fraction(0)) + amount


def _max(total: dict[str, Fraction], amounts: Mapping[str, Fraction]) -> None:
    for name, amount in amounts.items():
        if amount > total.get(name, Fraction(0)):
            total[name] = amount


def _with_defaults(
    amounts: Mapping[str, Fraction], defaults: Mapping[str, Fraction] | None
) -> Mapping[str, Fraction]:
    if not defaults:
        return amounts
    missing = {name: v for name, v in defaults.items() if name not in amounts}
    return {**amounts, **missing} if missing else amounts


NON_ZERO_DEFAULTS: Final[Mapping[str, Fraction]] = {
    CPU: Fraction(DEFAULT_MILLI_CPU_REQUEST, 1000),
    MEMORY: Fraction(DEFAULT_MEMORY_REQUEST),
}


def pod_requests(
    *,
    containers: Iterable[Mapping[str, Fraction]],
    init_containers: Iterable[tuple[Mapping[str, Fraction], bool]],
    overhead: Mapping[str, Fraction],
    defaults: Mapping[str, Fraction] | None = None,
) -> dict[str, Fraction]:
    """A pod's effective requests, as component-helpers' ``PodRequests``.

    Regular containers add up. Init containers run one at a time, so each
    counts as its own request plus the sidecars (``restartPolicy: Always``)
    started before it; sidecars keep running, so they also add to the
    regular total. The pod needs the larger of the two, plus its overhead.
    ``defaults`` fills a missing cpu/memory request per container (scoring).
    """
    total: dict[str, Fraction] = {}
    for requests in containers:
        _add(total, _with_defaults(requests, defaults))
    sidecars: dict[str, Fraction] = {}
    init_peak: dict[str, Fraction] = {}
    for requests, is_sidecar in init_containers:
        requests = _with_defaults(requests, defaults)
        if is_sidecar:
            _add(total, requests)
            _add(sidecars, requests)
            _max(init_peak, sidecars)
        else:
            candidate = dict(sidecars)
            _add(candidate, requests)
            _max(init_peak, candidate)
    _max(total, init_peak)
    _add(total, overhead)
    return total
