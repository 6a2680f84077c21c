"""DynamicResourcesArgs: ``filterTimeout`` and ``bindingTimeout`` (Go durations
such as "10s" or "1m30s"), validated as kube-scheduler's
``ValidateDynamicResourcesArgs`` does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from py_scheduler.framework.registry import ArgsError
from py_scheduler.model.durations import parse_duration
from py_scheduler.model.raw import Fields

DEFAULT_FILTER_TIMEOUT: Final = 10.0
DEFAULT_BINDING_TIMEOUT: Final = 600.0
_FIELDS: Final = frozenset({"filterTimeout", "bindingTimeout", "apiVersion", "kind"})


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
    seconds = parse_duration(raw)
    if seconds is None:
        raise fields.error(key, f"time: invalid duration {raw!r}")
    return seconds


def decode_args(fields: Fields) -> DynamicResourcesArgs:
    for key in fields.raw:
        if key not in _FIELDS:
            raise fields.error(key, "unknown field")
    return DynamicResourcesArgs(
        filter_timeout=_duration(fields, "filterTimeout", DEFAULT_FILTER_TIMEOUT),
        binding_timeout=_duration(fields, "bindingTimeout", DEFAULT_BINDING_TIMEOUT),
    )
