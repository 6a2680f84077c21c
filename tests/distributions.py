"""Throw-away installed packages for discovery tests: a ``*.dist-info``
directory with METADATA and entry_points.txt is all ``importlib.metadata``
needs, plus the modules the entry points name, on a directory that a test
puts on ``sys.path`` (or ``PYTHONPATH`` for a subprocess)."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

from py_scheduler.plugins.discovery import GROUP


def make_distribution(
    root: Path,
    package: str,
    *,
    version: str = "1.0",
    entry_points: Mapping[str, str],
    modules: Mapping[str, str] | None = None,
) -> Path:
    """Install ``package`` under ``root``: its entry points in the plugin
    group, and ``modules`` (dotted name -> source) beside it."""
    info = root / f"{package.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")
    lines = [f"[{GROUP}]"] + [f"{name} = {target}" for name, target in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for dotted, source in (modules or {}).items():
        path = root.joinpath(*dotted.split(".")).with_suffix(".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.parents:
            if parent == root:
                break
            (parent / "__init__.py").touch()
        path.write_text(textwrap.dedent(source))
    return root


# A plugin module that is fine: one Filter plugin named ``name``.
def filter_module(name: str) -> str:
    return f'''
    from typing import ClassVar

    from py_scheduler.framework import CycleState, NodeInfo, PluginSpec, PodInfo, Status, no_args


    class Plugin:
        name: ClassVar[str] = "{name}"

        def __init__(self, args: object, handle: object) -> None:
            pass

        def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
            return Status()


    SPEC = PluginSpec("{name}", no_args, Plugin)
    '''
