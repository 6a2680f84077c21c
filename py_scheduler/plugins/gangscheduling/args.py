"""GangSchedulingArgs: ``permitWaitingTimeSeconds``, how long assumed members
wait at Permit for the rest of their gang when the group does not say
(scheduler-plugins' ``scheduleTimeoutSeconds``). The default is upstream's
five minutes; scheduler-plugins' Coscheduling takes the same argument name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from py_scheduler.framework.registry import ArgsError
from py_scheduler.framework.waiting_pods import MAX_PERMIT_WAIT
from py_scheduler.model.raw import Fields

DEFAULT_PERMIT_WAIT: Final = 300
_FIELDS: Final = frozenset({"permitWaitingTimeSeconds", "apiVersion", "kind"})


@dataclass(frozen=True, slots=True)
class GangSchedulingArgs:
    permit_waiting_time_seconds: int = DEFAULT_PERMIT_WAIT

    def __post_init__(self) -> None:
        wait = self.permit_waiting_time_seconds
        if not 1 <= wait <= MAX_PERMIT_WAIT:
            raise ArgsError(
                f"args.permitWaitingTimeSeconds: must be in 1..{int(MAX_PERMIT_WAIT)}, got {wait}"
            )


def decode_args(fields: Fields) -> GangSchedulingArgs:
    for key in fields.raw:
        if key not in _FIELDS:
            raise fields.error(key, "unknown field")
    return GangSchedulingArgs(
        fields.integer("permitWaitingTimeSeconds", DEFAULT_PERMIT_WAIT),
    )
