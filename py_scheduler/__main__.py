"""Command line: ``python -m py_scheduler run|simulate|explain|plugins``."""

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
    run.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info")
    run.add_argument("--bind-address", default="0.0.0.0", help="for /metrics and the probes")
    run.add_argument(
        "--port",
        "--secure-port",
        type=int,
        default=10259,
        help="HTTPS port for /metrics and /debug/pods (bearer token, delegated "
        "authorization) and the probes",
    )
    run.add_argument("--tls-cert-file", help="serving certificate (default: self-signed)")
    run.add_argument("--tls-private-key-file", help="its private key")
    run.add_argument(
        "--plain-http",
        action="store_true",
        help="serve plain HTTP without authentication or authorization (development only)",
    )
    run.add_argument(
        "--livez-api-timeout",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="/livez fails once the API server has not answered for this long",
    )
    run.add_argument(
        "--pending-sweep-interval",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how often the leader looks for pending pods of its profiles that no queue holds",
    )
    run.add_argument(
        "--explain-annotations",
        action="store_true",
        help="write kube-scheduler-simulator's result annotations on each pod (a pod patch "
        "per decision that changed)",
    )
    run.add_argument(
        "--diagnoses-max-bytes",
        type=int,
        default=32 * 1024 * 1024,
        help="memory for pending pods' diagnoses served on /debug/pods (0: keep none)",
    )
    run.add_argument(
        "--diagnosis-interval",
        type=float,
        default=10.0,
        help="seconds a pending pod's diagnosis stands while its message is unchanged",
    )
    run.add_argument(
        "--diagnosis-budget",
        type=float,
        default=0.05,
        help="share of the scheduling loop's time diagnoses may take (default 0.05)",
    )
    run.add_argument(
        "--capacity-shape",
        action="append",
        metavar="NAME:RESOURCE=QUANTITY[,...]",
        help="a pod shape for the capacity gauges, e.g. small:cpu=1,memory=2Gi (repeatable)",
    )

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

    explain = sub.add_parser(
        "explain",
        help="why a pod is pending (or where it went), and what would fix it",
        description="Explain one pod: every plugin's verdict on every node, the scores, "
        "preemption, and verified changes that would let it be scheduled.",
    )
    from py_scheduler.explain import cli as explain_cli

    explain_cli.add_arguments(explain)

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
    if args.command == "explain":
        from py_scheduler.explain import cli as explain_cli

        return explain_cli.main(args)
    if args.command == "plugins":
        from py_scheduler.app import plugins_cli

        return plugins_cli.main(args)
    from py_scheduler.app import main as app_main

    return app_main.main(args)


if __name__ == "__main__":
    sys.exit(main())
