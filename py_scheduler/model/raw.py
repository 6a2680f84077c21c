"""Typed reads from raw Kubernetes JSON, with the field path in every error.

Objects arrive as decoded JSON (dicts and lists). Each accessor checks the
type it promises, so a malformed object fails once, at decode time, with a
message such as ``spec.containers[1].resources.requests.cpu: ...``, instead
of surfacing later inside a plugin.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from py_scheduler.model.durations import parse_duration

RawObject = Mapping[str, object]
EMPTY: Final[RawObject] = {}


BRIEF_LIMIT: Final = 40


def brief(value: object) -> str:
    """``repr(value)``, cut short: an error must not echo a huge input back."""
    text = repr(value)
    if len(text) <= BRIEF_LIMIT:
        return text
    return f"{text[:BRIEF_LIMIT]}... ({len(text)} characters)"


class DecodeError(ValueError):
    """An object that cannot be decoded; ``path`` names the offending field."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class Fields:
    """A JSON object together with its path from the document root."""

    __slots__ = ("path", "raw")

    def __init__(self, raw: object, path: str = "") -> None:
        if not isinstance(raw, Mapping):
            raise DecodeError(path or "<root>", f"expected an object, got {type(raw).__name__}")
        self.raw: RawObject = raw
        self.path = path

    def _at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def obj(self, key: str) -> Fields:
        value = self.raw.get(key)
        return Fields(EMPTY if value is None else value, self._at(key))

    def objects(self, key: str) -> Iterator[Fields]:
        for index, item in enumerate(self.array(key)):
            yield Fields(item, f"{self._at(key)}[{index}]")

    def array(self, key: str) -> list[object]:
        value = self.raw.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise DecodeError(self._at(key), f"expected a list, got {type(value).__name__}")
        return value

    def string(self, key: str, default: str = "") -> str:
        value = self.raw.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise DecodeError(self._at(key), f"expected a string, got {type(value).__name__}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        values = self.array(key)
        for index, value in enumerate(values):
            if not isinstance(value, str):
                raise DecodeError(f"{self._at(key)}[{index}]", "expected a string")
        return tuple(str(v) for v in values)

    def integer(self, key: str, default: int = 0, *, bits: int = 64) -> int:
        """A signed integer of ``bits`` bits, as the Go field it mirrors
        (int64 unless said otherwise): larger values are refused, not wrapped."""
        value = self.raw.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise DecodeError(self._at(key), f"expected an integer, got {brief(value)}")
        if not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
            raise DecodeError(self._at(key), f"expected a {bits}-bit integer, got {brief(value)}")
        return value

    def int32(self, key: str, default: int = 0) -> int:
        return self.integer(key, default, bits=32)

    def opt_integer(self, key: str, *, bits: int = 64) -> int | None:
        return None if self.raw.get(key) is None else self.integer(key, bits=bits)

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self.raw.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise DecodeError(self._at(key), f"expected a boolean, got {brief(value)}")
        return value

    def str_map(self, key: str) -> dict[str, str]:
        value = self.raw.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise DecodeError(self._at(key), "expected a map of strings")
        for name, item in value.items():
            if not isinstance(item, str):
                raise DecodeError(f"{self._at(key)}.{name}", "expected a string")
        return dict(value)

    def raw_map(self, key: str) -> dict[str, object]:
        value = self.raw.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise DecodeError(self._at(key), "expected an object")
        return dict(value)

    def duration(self, key: str, default: float) -> float:
        """A Go duration string ("10s", "1m30s"), in seconds."""
        value = self.raw.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise DecodeError(
                self._at(key), f"expected a duration such as '10s', got {brief(value)}"
            )
        seconds = parse_duration(value)
        if seconds is None:
            raise DecodeError(self._at(key), f"time: invalid duration {brief(value)}")
        return seconds

    def error(self, key: str, problem: str) -> DecodeError:
        return DecodeError(self._at(key), problem)

    def only(self, *allowed: str) -> None:
        """Refuse fields outside ``allowed``: a misspelt key must not fall back to a default."""
        for key in self.raw:
            if key not in allowed:
                raise DecodeError(self._at(str(key)), "unknown field")
