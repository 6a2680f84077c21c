"""Kubernetes resource quantities ("100m", "1.5Gi", "2e3") as exact numbers.

Rounding follows ``resource.Quantity``: CPU is counted in millicores and
memory-like resources in whole units, both rounded up, so a request never
shrinks when it is converted.
"""

from __future__ import annotations

import functools
import math
import re
from fractions import Fraction
from typing import Final

_BINARY: Final = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL: Final = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
_PATTERN: Final = re.compile(
    r"^(?P<sign>[+-]?)(?P<num>\d+(?:\.\d*)?|\.\d+)"
    r"(?:(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE](?P<exp>[+-]?\d+))?$"
)


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity."""


def parse_quantity(value: str | int | float) -> Fraction:
    """Parse a quantity exactly; raise :class:`QuantityError` when malformed."""
    if type(value) is str:
        # Pods of one workload repeat the same few strings ("100m", "500Mi"):
        # every watch event of every pod parses them again.
        return _parse_string(value)
    return _parse(value)


@functools.lru_cache(maxsize=4096)
def _parse_string(value: str) -> Fraction:
    return _parse(value)


def _parse(value: str | int | float) -> Fraction:
    if isinstance(value, bool):
        raise QuantityError(f"quantity must be a string or number, not {value!r}")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise QuantityError(f"quantity {value!r} is not finite")
        return Fraction(str(value))
    match = _PATTERN.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise QuantityError(f"quantity {value!r} is not a valid Kubernetes quantity")
    number = Fraction(match["num"])
    if match["exp"] is not None:
        number *= Fraction(10) ** int(match["exp"])
    else:
        suffix = match["suffix"] or ""
        number *= _BINARY.get(suffix) or _DECIMAL[suffix]
    return -number if match["sign"] == "-" else number


def milli_value(value: str | int | float) -> int:
    """Millicores (or milli-units), rounded up as ``Quantity.MilliValue``."""
    return math.ceil(parse_quantity(value) * 1000)


def int_value(value: str | int | float) -> int:
    """Whole units, rounded up as ``Quantity.Value``."""
    return math.ceil(parse_quantity(value))
