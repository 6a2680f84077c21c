"""Plugin outcomes as values: a ``Code`` and its reasons.

Plugins return ``Status`` for expected outcomes and raise for bugs; the
runtime turns an exception into ``Code.ERROR`` and tags every status with the
plugin that produced it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final, Self


class Code(enum.Enum):
    """A plugin's outcome, as upstream's status codes."""

    SUCCESS = "Success"
    # An internal failure: the cycle aborts and the pod backs off.
    ERROR = "Error"
    # The node does not fit, but removing pods (preemption) might help.
    UNSCHEDULABLE = "Unschedulable"
    # The node does not fit and preemption cannot change that.
    UNRESOLVABLE = "UnschedulableAndUnresolvable"
    # Permit only: hold the pod until allowed, rejected or timed out.
    WAIT = "Wait"
    # The plugin has nothing to do for this pod (PreFilter, PreScore, Bind).
    SKIP = "Skip"
    # Stop this cycle without penalty; the pod is retried without backoff.
    PENDING = "Pending"


_REJECTED: Final = frozenset({Code.UNSCHEDULABLE, Code.UNRESOLVABLE, Code.PENDING})


@dataclass(frozen=True, slots=True)
class Status:
    """An outcome and its reasons (the words of the FailedScheduling message).
    Build one with the class methods: ``Status.unschedulable("...")``."""

    code: Code = Code.SUCCESS
    reasons: tuple[str, ...] = ()
    plugin: str = ""  # filled in by the runtime, never by plugins

    @property
    def is_success(self) -> bool:
        return self.code is Code.SUCCESS

    @property
    def is_skip(self) -> bool:
        return self.code is Code.SKIP

    @property
    def is_rejected(self) -> bool:
        return self.code in _REJECTED

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    def with_plugin(self, plugin: str) -> Status:
        # Called for every rejected node: the constructor is ~5x cheaper than replace().
        return self if self.plugin == plugin else type(self)(self.code, self.reasons, plugin)

    @classmethod
    def unschedulable(cls, *reasons: str) -> Self:
        return cls(Code.UNSCHEDULABLE, reasons)

    @classmethod
    def unresolvable(cls, *reasons: str) -> Self:
        return cls(Code.UNRESOLVABLE, reasons)

    @classmethod
    def error(cls, *reasons: str) -> Self:
        return cls(Code.ERROR, reasons)

    @classmethod
    def skip(cls) -> Self:
        return cls(Code.SKIP)

    @classmethod
    def wait(cls) -> Self:
        return cls(Code.WAIT)

    @classmethod
    def pending(cls, *reasons: str) -> Self:
        return cls(Code.PENDING, reasons)


SUCCESS: Final = Status()
SKIP: Final = Status(Code.SKIP)
