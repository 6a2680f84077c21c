"""``python -m py_scheduler simulate``: print where each pending pod would go."""

from __future__ import annotations

import argparse
import asyncio
import sys

import orjson

from py_scheduler import config, logs
from py_scheduler.framework.runtime import FrameworkError
from py_scheduler.model.server import OFFLINE, offline, parse_release
from py_scheduler.plugins import discovery
from py_scheduler.simulation import snapshot as snapshots
from py_scheduler.simulation.run import Result, simulate


def main(args: argparse.Namespace) -> int:
    logs.configure(level="warning", fmt="console")
    try:
        server = OFFLINE if args.kube_version is None else offline(parse_release(args.kube_version))
    except ValueError as exc:
        print(f"error: --kube-version: {exc}", file=sys.stderr)
        return 2
    try:
        cfg = config.load(args.config, release=server.version, registry=discovery.registry())
        snap = snapshots.load(args.snapshot)
    except (discovery.DiscoveryError, config.ConfigError, snapshots.SnapshotError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        results = asyncio.run(
            simulate(
                snap,
                cfg,
                seed=args.seed,
                notes=lambda note: print(f"note: {note}", file=sys.stderr),
                server=server,
            )
        )
    except (snapshots.SnapshotError, FrameworkError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.output == "json":
        sys.stdout.write(
            orjson.dumps(
                {"results": [r.to_json() for r in results]}, option=orjson.OPT_INDENT_2
            ).decode()
            + "\n"
        )
    else:
        sys.stdout.write(table(results))
    return 0


def table(results: list[Result]) -> str:
    rows = [("POD", "NODE", "NOMINATED", "VICTIMS", "MESSAGE")]
    for r in results:
        rows.append(
            (
                r.pod,
                r.node or "<pending>",
                r.nominated_node or "-",
                ",".join(r.victims) or "-",
                r.message or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4]
        for row in rows
    ]
    return "\n".join(lines) + "\n"
