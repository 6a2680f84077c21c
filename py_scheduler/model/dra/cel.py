"""Device selectors: the Kubernetes CEL environment over ``cel-expr-python``.

Every selector sees one variable, ``device``, with ``driver``,
``allowMultipleAllocations``, ``attributes[domain][id]`` and
``capacity[domain][id]`` (unqualified names fall into the driver's domain),
as upstream's ``dynamic-resource-allocation/cel`` declares it. On top of
standard CEL (macros, ``matches``, the strings extension and ``cel.bind``)
the Kubernetes libraries selectors use are provided: ``quantity()``,
``isQuantity()``, ``semver()``, ``isSemver()`` and their member functions
(``compareTo``, ``isGreaterThan``, ``isLessThan``, ``sign``, ``asInteger``,
``asApproximateFloat``, ``isInteger``, ``add``, ``sub``, ``major``, ``minor``,
``patch``), the regex library's ``find`` and ``findAll``, and the lists
library's ``sum``, ``min``, ``max`` and ``isSorted`` (its ``indexOf`` would
clash with the strings extension's).

The library has no opaque values, so quantities and versions travel through
CEL as one-key maps holding a canonical form: equality is then semantic
(``quantity("1Gi") == quantity("1024Mi")``), as Kubernetes defines it.

Compiling costs tens of microseconds, so each expression is compiled once
and kept (:class:`SelectorCache`); so is each device's CEL input. The
runtime cost limit (``CELSelectorExpressionMaxCost``, 1,000,000) is enforced
with a worst-case estimate taken from the checked expression: comprehensions
over list literals count exactly, others count as the largest list or map a
device can hold. An expression over the limit fails when evaluated, with
upstream's runtime error, as it would in kube-scheduler.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

from py_scheduler.model.dra.objects import Device, Semver, SemverError, parse_semver
from py_scheduler.model.quantity import QuantityError, parse_quantity

# The library maps 11 MiB: it is loaded by the first selector compiled, so a
# scheduler whose cluster has no device claims never holds it.
if TYPE_CHECKING:
    import cel_expr_python.cel as cel

MAX_COST: Final = 1_000_000
# The largest map or list a device offers an expression (attributes and
# capacities per device, values per list attribute): the iteration count
# assumed for a comprehension over anything but a literal.
MAX_DEVICE_ELEMENTS: Final = 64
_CACHE_LIMIT: Final = 4096
_QUANTITY: Final = "__quantity__"
_SEMVER: Final = "__semver__"
COST_LIMIT_EXCEEDED: Final = "operation cancelled: actual cost limit exceeded"


class CelError(Exception):
    """A selector that cannot be compiled or evaluated (upstream's wording)."""


# -- quantity and semver values ----------------------------------------------------------

Tagged = dict[str, str]


def _q(value: Fraction) -> Tagged:
    return {_QUANTITY: f"{value.numerator}/{value.denominator}"}


def _qv(tagged: Mapping[str, Any]) -> Fraction:
    if _QUANTITY not in tagged:
        raise TypeError("no such overload: expected a quantity")
    return Fraction(tagged[_QUANTITY])


def _sv(tagged: Mapping[str, Any]) -> Semver:
    if _SEMVER not in tagged:
        raise TypeError("no such overload: expected a semver")
    return _parse_semver_cached(tagged[_SEMVER])


@lru_cache(maxsize=1024)
def _parse_semver_cached(text: str) -> Semver:
    return parse_semver(text)


def _s(value: Semver) -> Tagged:
    # Build metadata takes no part in equality, so the canonical form drops it.
    return {_SEMVER: str(Semver(value.major, value.minor, value.patch, value.pre))}


def quantity_value(value: Fraction) -> Tagged:
    """How a capacity reaches CEL."""
    return _q(value)


def semver_value(value: Semver) -> Tagged:
    return _s(value)


def _quantity(text: str) -> Tagged:
    try:
        return _q(parse_quantity(text))
    except QuantityError:
        raise ValueError(f"quantities must match the regular expression: {text!r}") from None


def _is_quantity(text: str) -> bool:
    try:
        parse_quantity(text)
    except QuantityError:
        return False
    return True


def _semver(text: str, normalize: bool = False) -> Tagged:
    try:
        return _s(parse_semver(text, normalize=normalize))
    except SemverError as exc:
        raise ValueError(f"could not parse semver: {exc}") from None


def _is_semver(text: str, normalize: bool = False) -> bool:
    try:
        parse_semver(text, normalize=normalize)
    except SemverError:
        return False
    return True


def _compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> int:
    if _QUANTITY in a:
        x, y = _qv(a), _qv(b)
        return (x > y) - (x < y)
    left, right = _sv(a), _sv(b)
    return (left > right) - (left < right)


def _greater(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return _compare(a, b) > 0


def _less(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return _compare(a, b) < 0


def _as_integer(a: Mapping[str, Any]) -> int:
    value = _qv(a)
    if value.denominator != 1 or not -(2**63) <= value <= 2**63 - 1:
        raise ValueError("cannot convert value to integer")
    return int(value)


def _add(a: Mapping[str, Any], b: Mapping[str, Any] | int) -> Tagged:
    other = Fraction(b) if isinstance(b, int) else _qv(b)
    return _q(_qv(a) + other)


def _sub(a: Mapping[str, Any], b: Mapping[str, Any] | int) -> Tagged:
    other = Fraction(b) if isinstance(b, int) else _qv(b)
    return _q(_qv(a) - other)


def _find(text: str, pattern: str) -> str:
    found = re.search(pattern, text)
    return found[0] if found else ""


def _find_all(text: str, pattern: str, limit: int = -1) -> list[str]:
    found = [m[0] for m in re.finditer(pattern, text)]
    return found if limit < 0 else found[:limit]


def _is_sorted(items: Sequence[Any]) -> bool:
    return all(items[i] <= items[i + 1] for i in range(len(items) - 1))


def _fn(
    name: str, ret: Any, params: list[Any], impl: Callable[..., Any], *, member: bool = False
) -> cel.FunctionDecl:
    import cel_expr_python.cel as cel

    oid = f"{name}_" + "_".join(str(i) for i in range(len(params))) + ("_m" if member else "")
    return cel.FunctionDecl(name, [cel.Overload(oid, ret, params, is_member=member, impl=impl)])


def _declarations() -> list[cel.FunctionDecl]:
    import cel_expr_python.cel as cel

    t = cel.Type
    tagged = t.Map(t.STRING, t.DYN)
    ints, dyns = t.List(t.INT), t.List(t.DYN)
    decls = [
        _fn("quantity", tagged, [t.STRING], _quantity),
        _fn("isQuantity", t.BOOL, [t.STRING], _is_quantity),
        _fn("compareTo", t.INT, [tagged, tagged], _compare, member=True),
        _fn("isGreaterThan", t.BOOL, [tagged, tagged], _greater, member=True),
        _fn("isLessThan", t.BOOL, [tagged, tagged], _less, member=True),
        _fn("sign", t.INT, [tagged], lambda a: (_qv(a) > 0) - (_qv(a) < 0), member=True),
        _fn("isInteger", t.BOOL, [tagged], lambda a: _qv(a).denominator == 1, member=True),
        _fn("asInteger", t.INT, [tagged], _as_integer, member=True),
        _fn("asApproximateFloat", t.DOUBLE, [tagged], lambda a: float(_qv(a)), member=True),
        _fn("major", t.INT, [tagged], lambda a: _sv(a).major, member=True),
        _fn("minor", t.INT, [tagged], lambda a: _sv(a).minor, member=True),
        _fn("patch", t.INT, [tagged], lambda a: _sv(a).patch, member=True),
        _fn("sum", t.INT, [ints], sum, member=True),
        _fn("min", t.DYN, [dyns], min, member=True),
        _fn("max", t.DYN, [dyns], max, member=True),
        _fn("isSorted", t.BOOL, [dyns], _is_sorted, member=True),
        _fn("find", t.STRING, [t.STRING, t.STRING], _find, member=True),
    ]
    decls += [
        cel.FunctionDecl(
            "semver",
            [
                cel.Overload("semver_string", tagged, [t.STRING], impl=_semver),
                cel.Overload("semver_string_bool", tagged, [t.STRING, t.BOOL], impl=_semver),
            ],
        ),
        cel.FunctionDecl(
            "isSemver",
            [
                cel.Overload("is_semver_string", t.BOOL, [t.STRING], impl=_is_semver),
                cel.Overload("is_semver_string_bool", t.BOOL, [t.STRING, t.BOOL], impl=_is_semver),
            ],
        ),
        cel.FunctionDecl(
            "findAll",
            [
                cel.Overload(
                    "find_all",
                    t.List(t.STRING),
                    [t.STRING, t.STRING],
                    is_member=True,
                    impl=_find_all,
                ),
                cel.Overload(
                    "find_all_n",
                    t.List(t.STRING),
                    [t.STRING, t.STRING, t.INT],
                    is_member=True,
                    impl=_find_all,
                ),
            ],
        ),
        cel.FunctionDecl(
            "add",
            [
                cel.Overload("add_q", tagged, [tagged, tagged], is_member=True, impl=_add),
                cel.Overload("add_int", tagged, [tagged, t.INT], is_member=True, impl=_add),
            ],
        ),
        cel.FunctionDecl(
            "sub",
            [
                cel.Overload("sub_q", tagged, [tagged, tagged], is_member=True, impl=_sub),
                cel.Overload("sub_int", tagged, [tagged, t.INT], is_member=True, impl=_sub),
            ],
        ),
    ]
    return decls


@lru_cache(maxsize=1)
def environment() -> cel.Env:
    import cel_expr_python.cel as cel
    import cel_expr_python.ext.ext_bindings as ext_bindings
    import cel_expr_python.ext.ext_strings as ext_strings

    return cel.NewEnv(
        variables={"device": cel.Type.DYN},
        extensions=[ext_bindings.ExtBindings(), ext_strings.ExtStrings()],
        functions=_declarations(),
    )


# -- the device input ---------------------------------------------------------------------


def device_input(driver: str, device: Device) -> dict[str, object]:
    """``device`` as selectors see it (upstream ``cel.Device``)."""
    attributes: dict[str, dict[str, object]] = {}
    for name, value in device.attributes.items():
        domain, _, ident = name.rpartition("/")
        attributes.setdefault(domain or driver, {})[ident] = (
            semver_value(value) if isinstance(value, Semver) else value
        )
    capacity: dict[str, dict[str, object]] = {}
    for name, amount in device.capacity.items():
        domain, _, ident = name.rpartition("/")
        capacity.setdefault(domain or driver, {})[ident] = quantity_value(amount)
    # Upstream looks up a missing domain as an empty map. Only the driver's own
    # domain can be pre-filled (the library has no default lookup), so its
    # missing attribute fails naming the attribute, as upstream's does.
    attributes.setdefault(driver, {})
    capacity.setdefault(driver, {})
    return {
        "driver": driver,
        "allowMultipleAllocations": device.allow_multiple_allocations,
        "attributes": attributes,
        "capacity": capacity,
    }


# -- compiled selectors -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Selector:
    expression: str
    program: cel.Expression | None
    error: str = ""  # "compilation failed: ..." when it did not compile
    max_cost: int = 0

    def matches(self, data: object) -> bool:
        """Evaluate against a ``device_input`` activation; CelError on a runtime error."""
        if self.program is None:
            raise CelError(self.error)
        if self.max_cost > MAX_COST:
            raise CelError(COST_LIMIT_EXCEEDED)
        try:
            value = self.program.eval(data)  # type: ignore[arg-type]
        except Exception as exc:
            raise CelError(_runtime_message(str(exc))) from None
        result = value.value()
        if isinstance(result, bool):
            return result
        import cel_expr_python.cel as cel

        if value.type() == cel.Type.ERROR:
            raise CelError(_runtime_message(str(result)))
        kind = value.type().name().lower()
        raise CelError(f"CEL result of type {kind} could not be converted to bool")


_NOT_FOUND: Final = re.compile(r'Key not found in map\s*:\s*"?([^"]*)"?')
_STATUS: Final = re.compile(r"^[A-Z_]+: |\s*\[[A-Z_]+\]$")


def _runtime_message(message: str) -> str:
    message = _STATUS.sub("", message.strip())
    missing = _NOT_FOUND.search(message)
    if missing:
        # cel-go's wording, with the hint upstream's EnhanceRuntimeError adds.
        return (
            f"no such key: {missing[1]}. consider using CEL optional chaining "
            "(.? followed by orValue()) or guarding the check with has() for optional fields"
        )
    return message


def compile_selector(expression: str) -> Selector:
    import cel_expr_python.cel as cel

    env = environment()
    try:
        program = env.compile(expression)
    except Exception as exc:
        return Selector(expression, None, f"compilation failed: {_STATUS.sub('', str(exc))}")
    kind = program.return_type()
    if kind != cel.Type.BOOL and kind != cel.Type.DYN:
        name = kind.name().lower()
        return Selector(expression, None, f"must evaluate to bool or the unknown type, not {name}")
    return Selector(expression, program, max_cost=estimate_cost(program))


class SelectorCache:
    """Each expression compiled once; each device's input built once per slice version."""

    def __init__(self, limit: int = _CACHE_LIMIT) -> None:
        self._limit = limit
        self._selectors: dict[str, Selector] = {}
        self._inputs: dict[int, tuple[Device, object]] = {}
        self._results: dict[tuple[str, int], tuple[Device, bool]] = {}

    def matches(self, selector: Selector, driver: str, device: Device) -> bool:
        """``selector.matches`` on the device, remembered per device object."""
        key = (selector.expression, id(device))
        hit = self._results.get(key)
        if hit is not None and hit[0] is device:
            return hit[1]
        result = selector.matches(self.activation(driver, device))
        if len(self._results) >= self._limit * 16:
            self._results.clear()
        self._results[key] = (device, result)
        return result

    def get(self, expression: str) -> Selector:
        selector = self._selectors.get(expression)
        if selector is None:
            if len(self._selectors) >= self._limit:
                self._selectors.pop(next(iter(self._selectors)))
            selector = self._selectors[expression] = compile_selector(expression)
        return selector

    def activation(self, driver: str, device: Device) -> object:
        # Keyed by identity: a slice update decodes new Device objects. The
        # device is kept in the value so its id cannot be reused meanwhile.
        entry = self._inputs.get(id(device))
        if entry is not None and entry[0] is device:
            return entry[1]
        if len(self._inputs) >= self._limit * 16:
            self._inputs.clear()
        data = environment().Activation(data={"device": device_input(driver, device)})
        self._inputs[id(device)] = (device, data)
        return data


# -- cost ------------------------------------------------------------------------------------


def estimate_cost(program: cel.Expression) -> int:
    """Worst-case cost of a checked expression, in CEL cost units (roughly cel-go's)."""
    try:
        checked = _message(_message(program.serialize()).get(2, [b""])[0])
        root = checked.get(4, [b""])[0]
        return _cost(root)
    except (IndexError, ValueError):
        return 0  # an unknown encoding: no estimate rather than a false rejection


def _varint(data: bytes, i: int) -> tuple[int, int]:
    out = shift = 0
    while True:
        byte = data[i]
        i += 1
        out |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return out, i


def _message(data: bytes) -> dict[int, list[bytes]]:
    """Protobuf wire format, length-delimited fields only (the others are skipped)."""
    out: dict[int, list[bytes]] = {}
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, i = _varint(data, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            size, i = _varint(data, i)
            out.setdefault(number, []).append(data[i : i + size])
            i += size
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return out


def _size(expr: dict[int, list[bytes]]) -> int:
    """How many elements a comprehension range yields at most."""
    if 7 in expr:  # a list literal
        return len(_message(expr[7][0]).get(1, []))
    if 8 in expr:  # a map literal
        return len(_message(expr[8][0]).get(2, []))
    return MAX_DEVICE_ELEMENTS


def _cost(data: bytes) -> int:
    expr = _message(data)
    if 4 in expr:  # identifier
        return 1
    if 5 in expr:  # select
        return 1 + _cost(_message(expr[5][0]).get(1, [b""])[0])
    if 6 in expr:  # call
        call = _message(expr[6][0])
        parts = call.get(1, []) + call.get(3, [])
        return 1 + sum(_cost(p) for p in parts)
    if 7 in expr:  # list literal
        return 10 + sum(_cost(e) for e in _message(expr[7][0]).get(1, []))
    if 8 in expr:  # map or message literal
        entries = _message(expr[8][0]).get(2, [])
        return 30 + sum(_cost(v) for e in entries for v in _message(e).get(4, []))
    if 9 in expr:  # comprehension
        comp = _message(expr[9][0])
        (rng,) = comp.get(2, [b""])
        body = sum(_cost(comp.get(k, [b""])[0]) for k in (5, 6))
        rest = sum(_cost(comp.get(k, [b""])[0]) for k in (4, 7))
        count = _size(_message(rng))
        return _cost(rng) + rest + count * max(body, 1)
    return 0  # constants and empty parts
