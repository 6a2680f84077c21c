"""DynamicResourcesArgs: ``filterTimeout`` and ``bindingTimeout`` (Go durations
such as "10s" or "1m30s"), validated as kube-scheduler's
``ValidateDynamicResourcesArgs`` does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from py_scheduler.framework.registry import ArgsError
from py_scheduler.model.raw import Fields

DEFAULT_FILTER_TIMEOUT: Final = 10.0
DEFAULT_BINDING_TIMEOUT: Final = 600.0
_FIELDS: Final = frozenset({"filterTimeout", "bindingTimeout", "apiVersion", "kind"})
_UNITS: Final = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION: Final = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """A Go ``time.Duration`` string, in seconds."""
    sign = -1.0 if text.startswith("-") else 1.0
    rest = text.lstrip("+-")
    if rest == "0":
        return 0.0
    total, pos = 0.0, 0
    for match in _DURATION.finditer(rest):
        if match.start() != pos:
            break
        total += float(match[1]) * _UNITS[match[2]]
        pos = match.end()
    if not rest or pos != len(rest):
        raise ValueError(f"time: invalid duration {text!r}")
    return sign * total


@dataclass(frozen=True, slots=True)
class DynamicResourcesArgs:
    # Seconds a node's allocation may take in Filter; 0 means no limit.
    filter_timeout: float = DEFAULT_FILTER_TIMEOUT
    # Accepted for compatibility: devices with binding conditions are never chosen.
    binding_timeout: float = DEFAULT_BINDING_TIMEOUT

    def __post_init__(self) -> None:
        problems = []
        if self.filter_timeout < 0:
            problems.append("args.filterTimeout: Invalid value: must be zero or positive")
        if self.binding_timeout < 1:
            problems.append("args.bindingTimeout: Invalid value: must be at least 1 second")
        if problems:
            raise ArgsError("; ".join(problems))


def _duration(fields: Fields, key: str, default: float) -> float:
    raw = fields.string(key)
    if not raw:
        return default
    try:
        return parse_duration(raw)
    except ValueError as exc:
        raise fields.error(key, str(exc)) from None


def decode_args(fields: Fields) -> DynamicResourcesArgs:
    for key in fields.raw:
        if key not in _FIELDS:
            raise fields.error(key, "unknown field")
    return DynamicResourcesArgs(
        filter_timeout=_duration(fields, "filterTimeout", DEFAULT_FILTER_TIMEOUT),
        binding_timeout=_duration(fields, "bindingTimeout", DEFAULT_BINDING_TIMEOUT),
    )
