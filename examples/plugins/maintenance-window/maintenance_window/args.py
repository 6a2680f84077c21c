"""MaintenanceWindow's ``pluginConfig`` args::

- name: MaintenanceWindow
  args:
    maxWait: 15m   # how long a pod is held before it is rejected (at most 15m)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from py_scheduler.framework import MAX_PERMIT_WAIT, ArgsError, Fields

DEFAULT_MAX_WAIT: Final = MAX_PERMIT_WAIT


@dataclass(frozen=True, slots=True)
class MaintenanceWindowArgs:
    max_wait: float = DEFAULT_MAX_WAIT  # seconds


def decode_args(fields: Fields) -> MaintenanceWindowArgs:
    fields.only("maxWait", "apiVersion", "kind")
    max_wait = fields.duration("maxWait", DEFAULT_MAX_WAIT)
    if not 0 < max_wait <= MAX_PERMIT_WAIT:
        raise ArgsError(f"args.maxWait: must be more than 0s and at most 15m, got {max_wait:g}s")
    return MaintenanceWindowArgs(max_wait)
