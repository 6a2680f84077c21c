"""Typed reads from raw Kubernetes JSON, with the field path in every error.

Objects arrive as decoded JSON (dicts and lists). Each accessor checks the
type it promises, so a malformed object fails once, at decode time, with a
message such as ``spec.containers[1].resources.requests.cpu: ...``, instead
of surfacing later inside a plugin.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Final

RawObject = Mapping[str, object]
EMPTY: Final[RawObject] = {}


_UNITS: Final = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION: Final = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """A Go ``time.Duration`` string ("10s", "1m30s", "500ms"), in seconds."""
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

    def integer(self, key: str, default: int = 0) -> int:
        value = self.raw.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise DecodeError(self._at(key), f"expected an integer, got {value!r}")
        return value

    def opt_integer(self, key: str) -> int | None:
        return None if self.raw.get(key) is None else self.integer(key)

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self.raw.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise DecodeError(self._at(key), f"expected a boolean, got {value!r}")
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
            raise DecodeError(self._at(key), f"expected a duration such as '10s', got {value!r}")
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise DecodeError(self._at(key), str(exc)) from None

    def error(self, key: str, problem: str) -> DecodeError:
        return DecodeError(self._at(key), problem)

    def only(self, *allowed: str) -> None:
        """Refuse fields outside ``allowed``: a misspelt key must not fall back to a default."""
        for key in self.raw:
            if key not in allowed:
                raise DecodeError(self._at(str(key)), "unknown field")
