"""Out-of-tree plugins: the ones installed packages offer next to the in-tree ones.

A package offers a plugin with an entry point in the group
``py_scheduler.plugins`` whose name is the plugin's name and whose object is
its ``PluginSpec``::

    [project.entry-points."py_scheduler.plugins"]
    CheapestNode = "cheapest_node:SPEC"

``registry()`` reads them with ``importlib.metadata`` and returns the in-tree
plugins plus these; a configuration then names them like any other. Anything
that would make a plugin's name ambiguous or its code unusable stops start-up
with a ``DiscoveryError`` whose one line names the package, its version and
the entry point: a module that fails to import, an object that is not a
``PluginSpec``, a spec named other than its entry point, or a name that an
in-tree plugin or another package already uses. Nothing is imported until
``registry()`` is called, and a package is never imported twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Final

from py_scheduler.framework.registry import PluginSpec

GROUP: Final = "py_scheduler.plugins"

Registry = Mapping[str, PluginSpec[Any]]


class DiscoveryError(ValueError):
    """An installed plugin cannot be used; the message is one line naming it."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a plugin comes from: "in-tree", or a package and its entry point."""

    package: str
    version: str
    entry_point: str = ""  # "Name = module:attr"; empty in-tree

    @property
    def in_tree(self) -> bool:
        return not self.entry_point

    def describe(self) -> str:
        return f"entry point {self.entry_point!r} of package {self.package} {self.version}"


def in_tree_origin() -> Origin:
    from py_scheduler import __version__

    return Origin("py-scheduler", __version__)


@dataclass(frozen=True, slots=True)
class Discovered:
    registry: dict[str, PluginSpec[Any]]
    origins: dict[str, Origin]


def discover(
    in_tree: Registry | None = None,
    entry_points: Iterable[metadata.EntryPoint] | None = None,
) -> Discovered:
    """The in-tree plugins plus every installed one, with where each comes from."""
    if in_tree is None:
        from py_scheduler.plugins import IN_TREE

        in_tree = IN_TREE
    if entry_points is None:
        entry_points = metadata.entry_points(group=GROUP)
    builtin = in_tree_origin()
    registry: dict[str, PluginSpec[Any]] = dict(in_tree)
    origins = dict.fromkeys(in_tree, builtin)
    for entry_point in sorted(entry_points, key=_sort_key):
        origin = _origin(entry_point)
        name = entry_point.name
        earlier = origins.get(name)
        if earlier is not None:
            clash = "an in-tree plugin" if earlier.in_tree else f"the {earlier.describe()}"
            raise DiscoveryError(
                f"plugin {name!r} from the {origin.describe()} clashes with {clash}; "
                "rename one or uninstall a package"
            )
        spec = _load(entry_point, origin)
        if spec.name != name:
            raise DiscoveryError(
                f"plugin {name!r} from the {origin.describe()}: its PluginSpec is named "
                f"{spec.name!r}; the entry point's name must be the plugin's name"
            )
        registry[name] = spec
        origins[name] = origin
    return Discovered(registry, origins)


def registry() -> dict[str, PluginSpec[Any]]:
    """The plugins a configuration may name: in-tree and installed."""
    return discover().registry


def _sort_key(entry_point: metadata.EntryPoint) -> tuple[str, str, str]:
    dist = entry_point.dist
    return (dist.name if dist is not None else "", entry_point.name, entry_point.value)


def _origin(entry_point: metadata.EntryPoint) -> Origin:
    dist = entry_point.dist
    package = dist.name if dist is not None else "<unknown package>"
    version = dist.version if dist is not None else "?"
    return Origin(package, version, f"{entry_point.name} = {entry_point.value}")


def _load(entry_point: metadata.EntryPoint, origin: Origin) -> PluginSpec[Any]:
    try:
        loaded = entry_point.load()
    except BaseException as exc:  # SystemExit too: a plugin must not end start-up its own way
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise DiscoveryError(
            f"plugin {origin.describe()} failed to import: {_one_line(exc)}"
        ) from None
    if not isinstance(loaded, PluginSpec):
        raise DiscoveryError(
            f"plugin {origin.describe()} names a {type(loaded).__module__}."
            f"{type(loaded).__qualname__}, not a py_scheduler.framework.PluginSpec"
        )
    return loaded


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return " ".join(text.split())
