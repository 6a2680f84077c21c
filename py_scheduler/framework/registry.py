"""Plugin specs: a name, how its ``pluginConfig`` args are decoded and
validated, and how the plugin is built against a ``Handle``.

``py_scheduler.plugins.IN_TREE`` lists every spec; the configuration loader
decodes all args up front so that a bad value stops start-up with a clear
message instead of failing in the first scheduling cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from py_scheduler.framework.interface import Handle, Plugin
from py_scheduler.model.raw import DecodeError, Fields

A = TypeVar("A")


class ArgsError(ValueError):
    """Invalid plugin arguments; the message names the plugin and field."""


@dataclass(frozen=True, slots=True)
class NoArgs:
    """For plugins that take no arguments."""


def no_args(fields: Fields) -> NoArgs:
    """The args decoder of a plugin without args (any given are ignored)."""
    del fields
    return NoArgs()


@dataclass(frozen=True)
class PluginSpec(Generic[A]):
    """A plugin as a registry knows it: its ``name``, how its ``pluginConfig``
    args are decoded and validated (``decode_args``: raise ``ArgsError`` or
    ``DecodeError`` naming the field), and how it is built (``new(args,
    handle)``, usually the class itself). An out-of-tree package's entry
    point names one."""

    name: str
    decode_args: Callable[[Fields], A]
    new: Callable[[A, Handle], Plugin]

    def args(self, raw: Mapping[str, object] | None) -> A:
        """Decode ``pluginConfig[].args``; absent args give the defaults."""
        try:
            return self.decode_args(Fields(raw or {}, "args"))
        except DecodeError as exc:
            raise ArgsError(f"plugin {self.name}: {exc}") from None
        except ArgsError as exc:
            raise ArgsError(f"plugin {self.name}: {exc}") from None

    def build(self, args: object, handle: Handle) -> Plugin:
        return self.new(args, handle)  # type: ignore[arg-type]  # args came from self.args()


Registry = Mapping[str, PluginSpec[Any]]
