"""How many more pods of a shape fit now, and how much free room no shape can use.

A shape is a set of requests (``1 cpu / 2Gi``, ``1 nvidia.com/gpu``). For
each shape, ``fits`` sums over the schedulable nodes (not cordoned, no
NoSchedule or NoExecute taint: a shape tolerates none) how many copies fit
in what is left: the smallest of free / request over its resources, and
the free pod slots. Shapes come from the configuration (``run
--capacity-shape``) and from the pending pods (the most common shapes among
them). ``stranded`` is the free room, per resource, on schedulable nodes
where no listed shape fits at all: fragmentation. The listed shapes are the
configured ones, or the pending pods' when none is configured.

This is resource arithmetic, not a scheduling cycle: affinity, spreading,
ports and volumes are not weighed, so it is an upper bound per shape. It is
computed over the scheduler's node columns (``framework.batch.NodeColumns``,
kept current from the cache's change log), at most once per
``min_interval`` however often it is scraped.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from py_scheduler.explain.report import quantity
from py_scheduler.framework.batch import (
    ALLOC_CPU,
    ALLOC_EPHEMERAL,
    ALLOC_MEMORY,
    ALLOWED_PODS,
    POD_COUNT,
    REQ_CPU,
    REQ_EPHEMERAL,
    REQ_MEMORY,
    Int64s,
    NodeColumns,
)
from py_scheduler.model import NodeInfo, PodInfo, names
from py_scheduler.model.quantity import QuantityError, parse_quantity
from py_scheduler.model.resources import CPU, EPHEMERAL_STORAGE, MEMORY, PODS
from py_scheduler.model.taints import NO_EXECUTE, NO_SCHEDULE
from py_scheduler.scheduling.cache import Cache

PENDING_SHAPES: Final = 10
DEFAULT_MIN_INTERVAL: Final = 10.0
_SHAPE_NAME: Final = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_COLUMNS: Final = {
    CPU: (ALLOC_CPU, REQ_CPU),
    MEMORY: (ALLOC_MEMORY, REQ_MEMORY),
    EPHEMERAL_STORAGE: (ALLOC_EPHEMERAL, REQ_EPHEMERAL),
}
_HARD: Final = frozenset({NO_SCHEDULE, NO_EXECUTE})


class ShapeError(ValueError):
    """A ``--capacity-shape`` that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class Shape:
    name: str
    # Resource name -> amount (millicores for cpu, whole units otherwise).
    requests: tuple[tuple[str, int], ...]

    @property
    def label(self) -> str:
        return ",".join(f"{r}={quantity(r, a)}" for r, a in self.requests)


def parse_shape(text: str) -> Shape:
    """``NAME:RESOURCE=QUANTITY[,RESOURCE=QUANTITY...]``, e.g. ``small:cpu=1,memory=2Gi``."""
    name, sep, spec = text.partition(":")
    if not sep:
        raise ShapeError(f"{text!r}: expected NAME:RESOURCE=QUANTITY[,...]")
    if not _SHAPE_NAME.match(name):
        raise ShapeError(f"{text!r}: the name {name!r} must be a DNS label (a-z, 0-9, '-')")
    requests: dict[str, int] = {}
    for part in spec.split(","):
        resource, eq, amount = part.strip().partition("=")
        if not eq or not resource:
            raise ShapeError(f"{text!r}: expected RESOURCE=QUANTITY, got {part!r}")
        if resource == PODS:
            raise ShapeError(f"{text!r}: 'pods' is not a request (every shape takes one slot)")
        if problem := names.qualified_name_problem(resource):
            raise ShapeError(f"{text!r}: resource {resource!r}: {problem}")
        if resource in requests:
            raise ShapeError(f"{text!r}: resource {resource!r} given twice")
        try:
            value = parse_quantity(amount)
        except QuantityError as exc:
            raise ShapeError(f"{text!r}: {exc}") from None
        units = math.ceil(value * 1000) if resource == CPU else math.ceil(value)
        if units <= 0:
            raise ShapeError(f"{text!r}: {resource} must be more than zero, got {amount!r}")
        requests[resource] = units
    return Shape(name, _ordered(requests))


def parse_shapes(texts: Iterable[str]) -> list[Shape]:
    shapes = [parse_shape(t) for t in texts]
    seen: set[str] = set()
    for shape in shapes:
        if shape.name in seen:
            raise ShapeError(f"capacity shape {shape.name!r} given twice")
        seen.add(shape.name)
    return shapes


def _ordered(requests: dict[str, int]) -> tuple[tuple[str, int], ...]:
    fixed = [(r, requests[r]) for r in (CPU, MEMORY, EPHEMERAL_STORAGE) if requests.get(r)]
    scalars = sorted((r, a) for r, a in requests.items() if r not in _COLUMNS and a)
    return (*fixed, *scalars)


def shape_of(pod: PodInfo) -> Shape | None:
    requests = {CPU: pod.requests.milli_cpu, MEMORY: pod.requests.memory}
    requests[EPHEMERAL_STORAGE] = pod.requests.ephemeral_storage
    requests.update(pod.requests.scalars)
    ordered = _ordered(requests)
    if not ordered:
        return None  # no requests: bounded by pod slots only, not a shape
    shape = Shape("", ordered)
    return Shape(shape.label, ordered)


@dataclass
class Report:
    # (shape, source "configured" | "pending", requests, pods that fit); a
    # configured shape goes by its name, a pending one by its requests.
    fits: list[tuple[str, str, str, int]] = field(default_factory=list)
    free: dict[str, float] = field(default_factory=dict)  # in cores / bytes / units
    stranded: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


class Capacity:
    """Computes a ``Report`` from the cache, at most once per ``min_interval``."""

    def __init__(
        self,
        cache: Cache,
        configured: Sequence[Shape],
        pending: Callable[[], Iterable[PodInfo]],
        *,
        min_interval: float = DEFAULT_MIN_INTERVAL,
        clock: Callable[[], float] = time.monotonic,  # replaced in tests
    ) -> None:
        self.cache = cache
        self.configured = list(configured)
        self.pending = pending
        self.min_interval = min_interval
        self.clock = clock
        self._columns = NodeColumns()
        self._last: Report | None = None
        self._at = 0.0

    def report(self) -> Report:
        now = self.clock()
        if self._last is None or now - self._at >= self.min_interval:
            self._last = self.compute()
            self._at = now
        return self._last

    def shapes(self) -> list[tuple[Shape, str]]:
        counts = Counter(shape for pod in self.pending() if (shape := shape_of(pod)) is not None)
        common = [shape for shape, _ in counts.most_common(PENDING_SHAPES)]
        return [(s, "configured") for s in self.configured] + [(s, "pending") for s in common]

    def compute(self) -> Report:
        began = time.perf_counter()
        nodes = self.cache.node_infos()
        columns = self._columns
        columns.sync(nodes, self.cache)
        out = Report()
        usable = np.fromiter((_schedulable(n) for n in nodes), dtype=np.bool_, count=len(nodes))
        slots = np.maximum(columns.column(ALLOWED_PODS) - columns.column(POD_COUNT), 0)
        shapes = self.shapes()
        # Fragmentation is judged against the configured shapes, else the pending ones.
        listed = "configured" if self.configured else "pending"
        fits_any = np.zeros(len(nodes), dtype=np.bool_)
        free_of: dict[str, Int64s] = {}
        for shape, source in shapes:
            per_node = np.where(usable, slots, 0)
            for resource, amount in shape.requests:
                free = free_of.get(resource)
                if free is None:
                    free = free_of[resource] = self._free(resource, len(nodes))
                per_node = np.minimum(per_node, free // amount)
            if source == listed:
                fits_any |= per_node > 0
            out.fits.append((shape.name, source, shape.label, int(per_node.sum())))
        for resource in (CPU, MEMORY, *sorted({r for s, _ in shapes for r, _ in s.requests})):
            free = free_of.get(resource)
            if free is None:
                free = free_of[resource] = self._free(resource, len(nodes))
            scale = 1000 if resource == CPU else 1
            out.free[resource] = float(free[usable].sum()) / scale
            judged = any(source == listed for _, source in shapes)
            lost = usable & ~fits_any if judged else np.zeros_like(usable)
            out.stranded[resource] = float(free[lost].sum()) / scale
        out.seconds = time.perf_counter() - began
        return out

    def _free(self, resource: str, count: int) -> Int64s:
        columns = self._columns
        rows = _COLUMNS.get(resource)
        if rows is not None:
            free: Int64s = columns.column(rows[0]) - columns.column(rows[1])
        else:
            pair = columns.scalar(resource)
            if pair is None:
                return np.zeros(count, dtype=np.int64)
            free = pair[0] - pair[1]
        return np.maximum(free, 0)


def _schedulable(node: NodeInfo) -> bool:
    return not node.node.unschedulable and not any(t.effect in _HARD for t in node.node.taints)
