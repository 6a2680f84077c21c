"""YAML from users, read within bounds: the configuration file and snapshots.

A small file can still be hostile: aliases that refer to aliases expand
exponentially (a 545-byte "billion laughs" document), deep nesting exhausts
the recursive composer, and bytes that are not UTF-8 fail decoding. Before
anything is built, the document's events are walked once (the parser is
iterative) to bound its nesting and the number of values its aliases would
expand to; the size and encoding are checked before that. Every problem is
a :class:`YamlInputError` with a one-line message.

Parsing and loading use libyaml when PyYAML was built with it (the wheels
are): the pure-Python parser takes over a minute on the 20 MB snapshot of a
5000-node cluster, libyaml seconds.

Neighbours: :mod:`py_scheduler.config` and :mod:`py_scheduler.simulation.snapshot`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import yaml

MAX_BYTES: Final = 1 << 20
MAX_DEPTH: Final = 64
MAX_VALUES: Final = 100_000
# The same safe constructor and resolver either way.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlInputError(ValueError):
    """The input cannot be read; the message is one line and names the source."""


def read_text(path: Path, *, max_bytes: int = MAX_BYTES) -> str:
    try:
        with path.open("rb") as stream:
            data = stream.read(max_bytes + 1)
    except OSError as exc:
        raise YamlInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise YamlInputError(f"{path}: larger than {max_bytes} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlInputError(
            f"{path}: not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start})"
        ) from None


def _one_line(exc: yaml.YAMLError) -> str:
    return " ".join(str(exc).split())


def check_shape(
    text: str, source: str, *, max_depth: int = MAX_DEPTH, max_values: int = MAX_VALUES
) -> None:
    """Refuse nesting deeper than ``max_depth`` and documents whose aliases
    expand to more than ``max_values`` values, without expanding anything."""
    sizes: dict[str, int] = {}  # anchor -> values it stands for
    open_nodes: list[list[Any]] = [[0, None]]  # [values so far, anchor] per open collection
    total = 0  # values of finished documents
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            if isinstance(event, yaml.CollectionStartEvent):
                if len(open_nodes) > max_depth:
                    raise YamlInputError(f"{source}: nested deeper than {max_depth} levels")
                open_nodes.append([1, event.anchor])
                continue
            if isinstance(event, yaml.CollectionEndEvent):
                count, anchor = open_nodes.pop()
                if anchor is not None:
                    sizes[anchor] = count
                open_nodes[-1][0] += count
            elif isinstance(event, yaml.ScalarEvent):
                if event.anchor is not None:
                    sizes[event.anchor] = 1
                open_nodes[-1][0] += 1
            elif isinstance(event, yaml.AliasEvent):
                open_nodes[-1][0] += sizes.get(event.anchor or "", 1)
            elif isinstance(event, yaml.DocumentEndEvent):
                total += open_nodes[0][0]
                open_nodes[0][0] = 0
            if total + sum(count for count, _ in open_nodes) > max_values:
                raise YamlInputError(f"{source}: aliases expand to more than {max_values} values")
    except yaml.YAMLError as exc:
        raise YamlInputError(f"{source}: not valid YAML: {_one_line(exc)}") from None


def load(text: str, source: str) -> Any:
    """One document, checked first (see :func:`check_shape`)."""
    check_shape(text, source)
    try:
        return yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise YamlInputError(f"{source}: not valid YAML: {_one_line(exc)}") from None


def load_all(
    text: str, source: str, *, max_depth: int = MAX_DEPTH, max_values: int = MAX_VALUES
) -> list[Any]:
    """Every document, checked first (see :func:`check_shape`)."""
    check_shape(text, source, max_depth=max_depth, max_values=max_values)
    try:
        return list(yaml.load_all(text, Loader=_LOADER))
    except yaml.YAMLError as exc:
        raise YamlInputError(f"{source}: not valid YAML: {_one_line(exc)}") from None
