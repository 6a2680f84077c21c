"""Go durations (``time.ParseDuration``), as kube-scheduler's configuration
and plugin arguments spell them: ``15s``, ``1m30s``, ``250ms``, ``1.5h``,
``0``. Read by :mod:`py_scheduler.config` and by plugin arguments (DynamicResources',
and ``Fields.duration`` in :mod:`py_scheduler.model.raw` for out-of-tree plugins)."""

from __future__ import annotations

import re
from typing import Final

_UNITS: Final = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,  # micro sign
    "\u03bcs": 1e-6,  # Greek mu
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION: Final = re.compile(
    r"([-+]?)((?:(?:\d+\.?\d*|\.\d+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+)"
)
_PART: Final = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")


def parse_duration(text: str) -> float | None:
    """Seconds in a Go duration, or None if ``text`` is not one (a bare
    number other than 0 is not: Go wants the unit)."""
    if text in ("0", "+0", "-0"):
        return 0.0
    match = _DURATION.fullmatch(text)
    if match is None:
        return None
    seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(match.group(2)))
    return -seconds if match.group(1) == "-" else seconds
