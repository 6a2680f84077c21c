"""Figures computed from what the observer saw: throughput samples and percentiles.

Throughput follows scheduler_perf's collector: every second, the pods newly
bound since the last sample, divided by the time since that sample; a second
with no new pod is folded into the next one, and the first sample (scheduler
start-up, informer sync) is dropped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    average: float
    p50: float
    p90: float
    p99: float
    samples: int


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (the value at rank ceil(pct/100 * n)); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summarize(values: Sequence[float]) -> Summary:
    if not values:
        return Summary(0.0, 0.0, 0.0, 0.0, 0)
    return Summary(
        average=sum(values) / len(values),
        p50=percentile(values, 50),
        p90=percentile(values, 90),
        p99=percentile(values, 99),
        samples=len(values),
    )


def throughput_samples(
    bound_at: Sequence[float], start: float, interval: float = 1.0
) -> list[float]:
    """Pods/s per sample of ``interval`` seconds from ``start``, first sample dropped.

    ``bound_at`` holds the moments pods were seen bound (same clock as
    ``start``); a tick fires every ``interval`` until one falls after the last
    bind, as a ticker that stops once every pod is scheduled.
    """
    if not bound_at:
        return []
    times = sorted(t for t in bound_at if t >= start)
    if not times:
        return []
    samples: list[float] = []
    index = 0
    last_sample = start
    tick = start
    while index < len(times):
        tick += interval
        new = 0
        while index < len(times) and times[index] <= tick:
            new += 1
            index += 1
        if new == 0:
            continue  # folded into the next sample, as upstream does
        samples.append(new / (tick - last_sample))
        last_sample = tick
    return samples[1:]


def drain_rate(bound_at: Sequence[float]) -> float:
    """Pods/s between the first and the last bind: steadier than 1 s samples on short runs."""
    if len(bound_at) < 2:
        return 0.0
    span = max(bound_at) - min(bound_at)
    return (len(bound_at) - 1) / span if span > 0 else 0.0


def per_second(bound_at: Sequence[float], start: float) -> list[int]:
    """Binds in each whole second after ``start``: the series the plots draw."""
    counts: list[int] = []
    for t in bound_at:
        if t < start:
            continue
        slot = int(t - start)
        if slot >= len(counts):
            counts.extend([0] * (slot + 1 - len(counts)))
        counts[slot] += 1
    return counts


def quantiles(values: Sequence[float], points: int = 101) -> list[float]:
    """``points`` evenly spaced percentiles (0..100): a compact latency CDF."""
    if not values:
        return []
    ordered = sorted(values)
    n = len(ordered)
    return [ordered[min(n - 1, round(i / (points - 1) * (n - 1)))] for i in range(points)]
