"""Node taints and pod tolerations (core/v1 ``Toleration.ToleratesTaint``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from py_scheduler.model.raw import Fields

NO_SCHEDULE: Final = "NoSchedule"
PREFER_NO_SCHEDULE: Final = "PreferNoSchedule"
NO_EXECUTE: Final = "NoExecute"
_EFFECTS: Final = frozenset({NO_SCHEDULE, PREFER_NO_SCHEDULE, NO_EXECUTE})


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str
    effect: str


@dataclass(frozen=True, slots=True)
class Toleration:
    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: str = ""

    def tolerates(self, taint: Taint) -> bool:
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        # An empty key with Exists tolerates every taint.
        if self.operator == "Exists":
            return True
        return self.operator == "Equal" and self.value == taint.value


def tolerated(taint: Taint, tolerations: Iterable[Toleration]) -> bool:
    return any(t.tolerates(taint) for t in tolerations)


def decode_taint(fields: Fields) -> Taint:
    effect = fields.string("effect")
    if effect not in _EFFECTS:
        raise fields.error("effect", f"unknown taint effect {effect!r}")
    return Taint(fields.string("key"), fields.string("value"), effect)


def decode_toleration(fields: Fields) -> Toleration:
    operator = fields.string("operator") or "Equal"
    if operator not in ("Equal", "Exists"):
        raise fields.error("operator", f"unknown toleration operator {operator!r}")
    effect = fields.string("effect")
    if effect and effect not in _EFFECTS:
        raise fields.error("effect", f"unknown toleration effect {effect!r}")
    return Toleration(fields.string("key"), operator, fields.string("value"), effect)
