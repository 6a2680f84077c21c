"""The broken-linear shape two plugins score with (upstream's
``plugins/helper/shape_score.go``): NodeResourcesFit's RequestedToCapacityRatio
and VolumeBinding's capacity score map a utilisation through the same function."""

from __future__ import annotations

from collections.abc import Callable, Sequence


def _div_trunc(a: int, b: int) -> int:
    """Integer division rounding toward zero, as Go's ``/`` on int64."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def broken_linear_function(points: Sequence[tuple[int, int]]) -> Callable[[int], int]:
    """Linear between (utilization, score) points, flat before the first and after the last."""

    def f(p: int) -> int:
        for i, (utilization, score) in enumerate(points):
            if p <= utilization:
                if i == 0:
                    return points[0][1]
                prev_utilization, prev_score = points[i - 1]
                return prev_score + _div_trunc(
                    (score - prev_score) * (p - prev_utilization), utilization - prev_utilization
                )
        return points[-1][1]

    return f
