"""``python -m controlplane up``: run the local control plane until
interrupted, printing the kubeconfig to use against it."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from controlplane import launcher, releases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m controlplane",
        description="Run a local control plane (etcd, kube-apiserver, "
        "kube-controller-manager, kwok) on 127.0.0.1.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the control plane and keep it running")
    up.add_argument("--workdir", type=Path, help="kubeconfig, certificates and logs go here")
    up.add_argument(
        "--bin-dir", type=Path, help="control-plane binaries (default: the build cache)"
    )
    sub.add_parser("bin-dir", help="print where the control-plane binaries are expected")
    demo = sub.add_parser("demo", help="schedule the example scenarios and show the placements")
    demo.add_argument("examples", type=Path, nargs="?", default=Path("examples"))
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (launcher.ControlPlaneError, releases.ReleaseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:
    if args.command == "bin-dir":
        print(releases.default_bin_dir())
        return 0
    if args.command == "demo":
        from controlplane import demo as demo_module

        return demo_module.main(args.examples)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with launcher.running(args.workdir, bin_dir=args.bin_dir) as plane:
        print(f"control plane {releases.kube_version()} ready at {plane.server}", flush=True)
        print(f"export KUBECONFIG={plane.kubeconfig}", flush=True)
        print(f"component logs: {plane.logs}", flush=True)
        while not stop.wait(1.0):
            plane.check_alive()
    return 0


if __name__ == "__main__":
    sys.exit(main())
