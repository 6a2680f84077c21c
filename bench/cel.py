"""CEL libraries for device selectors, measured side by side (not a test).

``python -m bench.cel`` compiles and evaluates typical DRA selectors with
each library that is installed (``cel-expr-python``, the project's choice;
``common-expression-language`` and ``cel-python`` when present, e.g. in a
scratch venv) and checks each against a suite taken from upstream's
``dynamic-resource-allocation/cel`` tests: quantities, semantic versions,
``cel.bind``, macros, a runtime error and a compile error.

It prints, per library: compile time per selector, evaluation time per
device (the device's input built once, as the scheduler caches it), and how
many suite cases give Kubernetes' answer.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from py_scheduler.model.dra import cel
from py_scheduler.model.dra.objects import Device, parse_semver
from py_scheduler.model.quantity import parse_quantity

DRIVER = "gpu.example.com"
TYPICAL = (
    'device.driver == "gpu.example.com"',
    'device.attributes["gpu.example.com"].model == "a100"',
    'device.attributes["gpu.example.com"].model == "a100" && '
    'device.capacity["gpu.example.com"].memory.compareTo(quantity("40Gi")) >= 0',
    'device.attributes["gpu.example.com"].driverVersion.isGreaterThan(semver("1.0.0"))',
)
DEVICE = Device(
    "gpu-0",
    {"model": "a100", "index": 3, "driverVersion": parse_semver("1.2.3")},
    {"memory": parse_quantity("80Gi")},
)
# (expression, expected result, or None when Kubernetes reports an error)
SUITE: tuple[tuple[str, bool | None], ...] = (
    *((e, True) for e in TYPICAL),
    ('device.capacity["gpu.example.com"].memory == quantity("81920Mi")', True),
    ('device.attributes["gpu.example.com"].driverVersion == semver("1.2.3")', True),
    ('cel.bind(g, device.attributes["gpu.example.com"], g.index < 4)', True),
    ('"other.example.com" in device.attributes', False),
    ('device.attributes["gpu.example.com"].model.matches("^a1")', True),
    ('device.attributes["gpu.example.com"].missing', None),
    ("device.nosuchfield ==", None),
)


@dataclass
class Library:
    name: str
    compile: Callable[[str], Any]
    activation: Callable[[], Any]
    evaluate: Callable[[Any, Any], Any]


def _ours() -> Library:
    data = cel.device_input(DRIVER, DEVICE)

    def compile_(expression: str) -> Any:
        selector = cel.compile_selector(expression)
        if selector.program is None:
            raise ValueError(selector.error)
        return selector

    return Library(
        "cel-expr-python",
        compile_,
        lambda: cel.environment().Activation(data={"device": data}),
        lambda selector, act: selector.matches(act),
    )


def _tagged_input() -> dict[str, Any]:
    return cel.device_input(DRIVER, DEVICE)


def _compare(a: Any, b: Any) -> int:
    key = "__quantity__" if "__quantity__" in a else "__semver__"
    if key == "__quantity__":
        x, y = cel._qv(a), cel._qv(b)
    else:
        x, y = cel._sv(a), cel._sv(b)  # type: ignore[assignment]
    return (x > y) - (x < y)


def _rust() -> Library | None:
    try:
        import cel as rust_cel  # type: ignore[import-not-found]
    except ImportError:
        return None
    functions = {
        "quantity": lambda s: cel.quantity_value(parse_quantity(s)),
        "semver": lambda s: cel.semver_value(parse_semver(s)),
        "compareTo": _compare,
        "isGreaterThan": lambda a, b: _compare(a, b) > 0,
    }
    return Library(
        "common-expression-language",
        rust_cel.compile,
        lambda: rust_cel.Context(variables={"device": _tagged_input()}, functions=functions),
        lambda program, ctx: program.execute(ctx),
    )


def _celpy() -> Library | None:
    try:
        import celpy  # type: ignore[import-not-found]
    except ImportError:
        return None
    env = celpy.Environment()
    functions = {
        "quantity": lambda s: celpy.json_to_cel(cel.quantity_value(parse_quantity(str(s)))),
        "semver": lambda s: celpy.json_to_cel(cel.semver_value(parse_semver(str(s)))),
        "compareTo": lambda a, b: celpy.celtypes.IntType(_compare(a, b)),
        "isGreaterThan": lambda a, b: celpy.celtypes.BoolType(_compare(a, b) > 0),
    }
    return Library(
        "cel-python",
        lambda e: env.program(env.compile(e), functions=functions),
        lambda: {"device": celpy.json_to_cel(_tagged_input())},
        lambda program, act: program.evaluate(act),
    )


def _timed(fn: Callable[[], Any], repeat: int) -> float:
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        samples.append((time.perf_counter() - start) / repeat)
    return statistics.median(samples)


def measure(lib: Library, repeat: int) -> tuple[float, float, int]:
    compile_us = statistics.mean(
        _timed(functools.partial(lib.compile, e), max(repeat // 20, 5)) for e in TYPICAL
    )
    act = lib.activation()
    programs = [lib.compile(e) for e in TYPICAL]
    eval_us = statistics.mean(
        _timed(functools.partial(lib.evaluate, p, act), repeat) for p in programs
    )
    correct = 0
    for expression, want in SUITE:
        try:
            got = lib.evaluate(lib.compile(expression), act)
            ok = want is not None and got == want and type(got).__name__.lower().startswith("bool")
        except Exception:
            ok = want is None
        correct += ok
    return compile_us * 1e6, eval_us * 1e6, correct


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()
    print(f"{'library':<28} {'compile µs':>11} {'eval µs':>9} {'suite':>7}")
    for make in (_ours, _rust, _celpy):
        lib = make()
        if lib is None:
            continue
        compile_us, eval_us, correct = measure(lib, args.repeat)
        print(f"{lib.name:<28} {compile_us:>11.1f} {eval_us:>9.2f} {correct:>3}/{len(SUITE)}")


if __name__ == "__main__":
    main()
