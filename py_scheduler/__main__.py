"""Command line: ``python -m py_scheduler run|simulate|plugins``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from py_scheduler import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m py_scheduler",
        description="py-scheduler: a Kubernetes scheduler with kube-scheduler's semantics, "
        "whose preemption evicts through the Eviction API so PodDisruptionBudgets hold.",
    )
    parser.add_argument("--version", action="version", version=f"py-scheduler {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="schedule pods in a cluster")
    run.add_argument(
        "--config",
        type=Path,
        help="a KubeSchedulerConfiguration (v1) file",
    )
    run.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, then in-cluster)")
    run.add_argument("--log-format", choices=("json", "console", "auto"), default="auto")
    run.add_argument("--log-level", default="info", help="debug, info, warning or error")
    run.add_argument("--bind-address", default="0.0.0.0", help="for /metrics and the probes")
    run.add_argument("--port", type=int, default=10259, help="for /metrics and the probes")

    sim = sub.add_parser(
        "simulate", help="schedule a snapshot of a cluster offline, with the same code"
    )
    sim.add_argument(
        "--snapshot",
        type=Path,
        required=True,
        help="YAML of Nodes, Pods, PodDisruptionBudgets and PriorityClasses "
        "(multi-document or a v1 List, as `kubectl get ... -o yaml` prints)",
    )
    sim.add_argument("--config", type=Path, help="KubeSchedulerConfiguration file")
    sim.add_argument("--output", choices=("json", "table"), default="table")
    sim.add_argument("--seed", type=int, default=0, help="seed for the random tie-break")
    sim.add_argument(
        "--kube-version",
        help="schedule as the kube-scheduler of this Kubernetes release does (1.35 to 1.37, "
        "e.g. 1.36 or v1.36.3; default: the newest)",
    )

    listed = sub.add_parser(
        "plugins",
        help="list the plugins a configuration may name: in-tree and installed packages'",
    )
    listed.add_argument("--output", choices=("json", "text"), default="text")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "simulate":
        from py_scheduler.simulation import cli as simulate_cli

        return simulate_cli.main(args)
    if args.command == "plugins":
        from py_scheduler.app import plugins_cli

        return plugins_cli.main(args)
    from py_scheduler.app import main as app_main

    return app_main.main(args)


if __name__ == "__main__":
    sys.exit(main())
