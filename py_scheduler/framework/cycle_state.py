"""``CycleState``: data plugins share within one scheduling cycle.

Keys are typed (``StateKey[T]``), so reads need no casts at call sites.
Values that PreFilter extensions mutate (nominated pods, preemption dry runs)
implement ``clone()`` so a cloned state can be changed without touching the
original.
"""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar, cast, runtime_checkable

T = TypeVar("T")


@runtime_checkable
class Clonable(Protocol):
    def clone(self) -> Clonable: ...


_CLONABLE: dict[type, bool] = {}


def _clonable(value: object) -> bool:
    # A Protocol isinstance check walks the class each time, and preemption
    # clones the state once per node it tries: remember the answer per type.
    kind = type(value)
    known = _CLONABLE.get(kind)
    if known is None:
        known = _CLONABLE[kind] = isinstance(value, Clonable)
    return known


class StateKey(Generic[T]):
    """A typed key, one per datum, named ``"<Plugin>/<what>"``."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"StateKey({self.name!r})"


class CycleState:
    """One scheduling cycle's scratch space, shared by the plugins: what
    PreFilter computes for Filter, PreScore for Score. Cloned (with values
    that are ``Clonable``) for preemption's dry runs."""

    __slots__ = (
        "_data",
        "plugin_seconds",
        "record_plugin_metrics",
        "skip_filter",
        "skip_score",
    )

    def __init__(self) -> None:
        self._data: dict[StateKey[Any], object] = {}
        # Plugins whose PreFilter/PreScore returned Skip for this cycle.
        self.skip_filter: frozenset[str] = frozenset()
        self.skip_score: frozenset[str] = frozenset()
        self.record_plugin_metrics = False
        # Set (to {}) in sampled cycles: each Filter plugin's time for this pod.
        self.plugin_seconds: dict[str, float] | None = None

    def write(self, key: StateKey[T], value: T) -> None:
        self._data[key] = value

    def read(self, key: StateKey[T]) -> T:
        """Read a datum; a missing key is a bug in plugin ordering (KeyError)."""
        return cast(T, self._data[key])

    def get(self, key: StateKey[T]) -> T | None:
        # A quoted type: ``T | None`` unquoted builds a Union on every call,
        # and plugins call this once per node.
        return cast("T | None", self._data.get(key))

    def clone(self) -> CycleState:
        copy = CycleState()
        copy._data = {
            k: (cast(Clonable, v).clone() if _clonable(v) else v) for k, v in self._data.items()
        }
        copy.skip_filter = self.skip_filter
        copy.skip_score = self.skip_score
        copy.record_plugin_metrics = self.record_plugin_metrics
        copy.plugin_seconds = self.plugin_seconds
        return copy
