"""``py-scheduler plugins``: every plugin a configuration may name, in-tree
and installed, with its extension points, package and version.

Extension points are read off a plugin built with its default arguments
against an offline Handle (the simulator's cluster, an empty cache), as the
framework sees it; a plugin that cannot be built without arguments is read
off its class instead.
"""

from __future__ import annotations

import argparse
import sys
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson

from py_scheduler import config, logs
from py_scheduler.framework.interface import Handle
from py_scheduler.framework.registry import ArgsError, PluginSpec
from py_scheduler.framework.runtime import POINTS, FrameworkError
from py_scheduler.plugins import discovery
from py_scheduler.scheduling.build import build_scheduler
from py_scheduler.scheduling.object_store import ObjectStore
from py_scheduler.simulation.run import SimulatedCluster

# The method that makes a plugin serve each extension point.
METHODS: Final = {
    "preEnqueue": "pre_enqueue",
    "queueSort": "less",
    "preFilter": "pre_filter",
    "filter": "filter",
    "postFilter": "post_filter",
    "preScore": "pre_score",
    "score": "score",
    "reserve": "reserve",
    "permit": "permit",
    "preBind": "pre_bind",
    "bind": "bind",
    "postBind": "post_bind",
}
COLUMNAR: Final = {"filter": "filter_batch", "score": "score_batch"}


def describe(spec: PluginSpec[Any], handle: Handle) -> dict[str, object]:
    """Extension points, columnar forms and queueing hints of one plugin."""
    note = ""
    subject: object
    try:
        subject = spec.build(spec.args(None), handle)
    except (ArgsError, Exception) as exc:
        subject = spec.new
        note = f"not built with default arguments ({type(exc).__name__}: {exc})"
    points = [p for p in POINTS if callable(getattr(subject, METHODS[p], None))]
    return {
        "extensionPoints": points,
        "columnar": [
            p for p, method in COLUMNAR.items() if callable(getattr(subject, method, None))
        ],
        "queueingHints": callable(getattr(subject, "events_to_register", None)),
        **({"note": note} if note else {}),
    }


def listing(found: discovery.Discovered) -> list[dict[str, object]]:
    offline = ObjectStore()
    scheduler = build_scheduler(
        config.parse({}, registry=found.registry),
        cluster=SimulatedCluster(offline, deque()),
        objects=offline,
    )
    handle = next(iter(scheduler.profiles.values()))
    rows = []
    for name in sorted(found.registry, key=lambda n: (not found.origins[n].in_tree, n)):
        origin = found.origins[name]
        rows.append(
            {
                "name": name,
                **describe(found.registry[name], handle),
                "package": origin.package,
                "version": origin.version,
                "inTree": origin.in_tree,
                "entryPoint": origin.entry_point,
            }
        )
    return rows


def table(rows: Sequence[Mapping[str, object]]) -> str:
    def points(row: Mapping[str, object]) -> str:
        text = ",".join(row["extensionPoints"])  # type: ignore[arg-type]
        if row["columnar"]:
            text += " (columnar: " + ",".join(row["columnar"]) + ")"  # type: ignore[arg-type]
        return text

    lines = [("NAME", "EXTENSION POINTS", "PACKAGE", "VERSION")]
    for row in rows:
        origin = " (in-tree)" if row["inTree"] else ""
        lines.append(
            (str(row["name"]), points(row), str(row["package"]), f"{row['version']}{origin}")
        )
    widths = [max(len(line[i]) for line in lines) for i in range(3)]
    return "".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line[:3])) + "  " + line[3] + "\n"
        for line in lines
    )


def main(args: argparse.Namespace) -> int:
    logs.configure(level="error", fmt="console")
    try:
        found = discovery.discover()
        rows = listing(found)
    except (discovery.DiscoveryError, FrameworkError, config.ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.output == "json":
        sys.stdout.write(
            orjson.dumps({"plugins": rows}, option=orjson.OPT_INDENT_2).decode() + "\n"
        )
    else:
        sys.stdout.write(table(rows))
    return 0
