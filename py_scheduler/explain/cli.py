"""``py-scheduler explain NAMESPACE/POD`` and the kubectl plugin ``kubectl explain-pod``.

Three sources, one explanation:

- ``--snapshot FILE``: offline, the YAML ``simulate`` reads;
- the cluster (``--kubeconfig``, ``--context``; in-cluster credentials else):
  read-only, it lists what the scheduler watches and explains offline from
  that listing;
- ``--scheduler-url``: the running scheduler's last diagnosis of the pod
  (``/debug/pods``), with the caller's token; a pod it holds none for (not
  pending there) is explained from a listing instead.

Every failure is one line on stderr and a non-zero exit: 2 for unusable
input (configuration, snapshot, arguments), 1 for a pod that is not there or
a cluster that cannot be reached. A pod of another scheduler is explained as
this configuration would decide, with a warning, and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Final

import orjson

from py_scheduler import config, logs
from py_scheduler.cluster import ClusterError, Forbidden, NotFound
from py_scheduler.explain import text
from py_scheduler.explain.offline import ExplainError, explain_pod
from py_scheduler.explain.report import Explanation
from py_scheduler.explain.suggest import MAX_VERIFIED, suggest
from py_scheduler.kube import discovery, listing
from py_scheduler.kube.client import CredentialsError
from py_scheduler.model.server import (
    NEWEST,
    OFFLINE,
    OLDEST,
    ServerInfo,
    ServerVersion,
    offline,
    parse_release,
    supported,
)
from py_scheduler.simulation import snapshot as snapshots

EXIT_INPUT: Final = 2
EXIT_FAILED: Final = 1


class UsageError(ValueError):
    pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pod", metavar="NAMESPACE/POD", help="the pod (NAME with -n works too)")
    parser.add_argument("-n", "--namespace", help="the pod's namespace (default: default)")
    parser.add_argument("--snapshot", type=Path, help="explain offline from this snapshot")
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, in-cluster)")
    parser.add_argument("--context", help="the kubeconfig context to use")
    parser.add_argument(
        "--scheduler-url",
        help="ask the running scheduler (e.g. https://py-scheduler.py-scheduler:10259)",
    )
    parser.add_argument(
        "--insecure-skip-tls-verify",
        action="store_true",
        help="do not verify the scheduler's serving certificate",
    )
    parser.add_argument("--config", type=Path, help="KubeSchedulerConfiguration file")
    parser.add_argument(
        "--kube-version",
        help="explain as the kube-scheduler of this Kubernetes release (1.35 to 1.37, e.g. 1.36; "
        "default: the cluster's release, or the newest for --snapshot)",
    )
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text")
    parser.add_argument("--seed", type=int, default=0, help="seed for the random tie-break")
    parser.add_argument(
        "--no-suggestions", action="store_true", help="skip the search for changes that help"
    )
    parser.add_argument(
        "--max-verify",
        type=int,
        default=MAX_VERIFIED,
        help="candidate changes to verify by scheduling again (default %(default)s)",
    )


def pod_key(pod: str, namespace: str | None) -> tuple[str, str]:
    if "/" in pod:
        ns, _, name = pod.partition("/")
        if namespace and namespace != ns:
            raise UsageError(f"pod {pod!r} names namespace {ns!r} but -n says {namespace!r}")
    else:
        ns, name = namespace or "default", pod
    if not ns or not name or "/" in name:
        raise UsageError(f"expected NAMESPACE/POD or POD, got {pod!r}")
    return ns, name


def main(args: argparse.Namespace) -> int:
    logs.configure(level="error", fmt="console")
    try:
        namespace, name = pod_key(args.pod, args.namespace)
        cfg = config.load(args.config)
        if args.max_verify < 0:
            raise UsageError("--max-verify must not be negative")
        release = _release(args.kube_version)
    except (UsageError, config.ConfigError) as exc:
        return _fail(str(exc), EXIT_INPUT)
    try:
        explanation = asyncio.run(_explain(args, cfg, namespace, name, release))
    except snapshots.SnapshotError as exc:
        return _fail(str(exc), EXIT_INPUT)
    except ExplainError as exc:
        return _fail(str(exc), EXIT_FAILED)
    except NotFound:
        return _fail(f"pod {namespace}/{name} not found", EXIT_FAILED)
    except Forbidden as exc:
        return _fail(f"not allowed: {exc}", EXIT_FAILED)
    except CredentialsError as exc:
        return _fail(str(exc), EXIT_FAILED)
    except ClusterError as exc:
        return _fail(f"cannot reach the cluster: {exc}", EXIT_FAILED)
    for warning in explanation.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.output == "json":
        body = orjson.dumps(explanation.to_json(), option=orjson.OPT_INDENT_2)
        sys.stdout.write(body.decode() + "\n")
    else:
        sys.stdout.write(text.render(explanation))
    return 0


def _release(text: str | None) -> ServerVersion | None:
    if text is None:
        return None
    try:
        return parse_release(text)
    except ValueError as exc:
        raise UsageError(f"--kube-version: {exc}") from None


def _fail(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


async def _explain(
    args: argparse.Namespace,
    cfg: config.SchedulerConfig,
    namespace: str,
    name: str,
    release: ServerVersion | None,
) -> Explanation:
    key = f"{namespace}/{name}"
    if args.snapshot is not None:
        snap = snapshots.load(args.snapshot)
        if not any(p.key == key for p in snap.pods):
            raise ExplainError(f"pod {key} is not in the snapshot {args.snapshot}")
        return await _offline(
            args, cfg, snap, key, OFFLINE if release is None else offline(release)
        )
    configuration = await listing.configuration(args.kubeconfig, args.context)
    async with listing.client(configuration) as kube:
        if args.scheduler_url:
            served = await listing.fetch_diagnosis(
                kube,
                args.scheduler_url,
                namespace,
                name,
                verify=not args.insecure_skip_tls_verify,
            )
            if served is not None:
                return Explanation.from_json(served)
        pod = await listing.read_pod(kube, namespace, name)  # NotFound: a one-line error
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            raise ExplainError(f"pod {key} has finished (phase {phase}); nothing to schedule")
        # As the live scheduler does, follow the cluster's release unless told otherwise.
        server = await discovery.read(kube) if release is None else offline(release)
        docs, notes = await listing.list_cluster(kube)
    snap = snapshots.from_documents(docs, source="cluster")
    explanation = await _offline(args, cfg, snap, key, server)
    if not supported(server.version):
        explanation.warnings.append(
            f"the cluster runs Kubernetes {server.version}, outside the releases py-scheduler "
            f"follows ({OLDEST.major}.{OLDEST.minor} to {NEWEST.major}.{NEWEST.minor}): "
            "explained as the nearest one"
        )
    if args.scheduler_url:
        explanation.warnings.append(
            "the scheduler holds no diagnosis of this pod (it is not pending there); "
            "explained from a listing of the cluster"
        )
    explanation.warnings.extend(notes)
    return explanation


async def _offline(
    args: argparse.Namespace,
    cfg: config.SchedulerConfig,
    snap: snapshots.Snapshot,
    key: str,
    server: ServerInfo,
) -> Explanation:
    explanation = await explain_pod(snap, cfg, key, seed=args.seed, server=server)
    if not args.no_suggestions:
        explanation.suggestions = await suggest(
            snap,
            cfg,
            explanation,
            key,
            seed=args.seed,
            max_verified=args.max_verify,
            server=server,
        )
    return explanation


def kubectl_main(argv: list[str] | None = None) -> int:
    """``kubectl explain-pod`` (the executable ``kubectl-explain_pod``)."""
    parser = argparse.ArgumentParser(
        prog="kubectl explain-pod",
        description="Why is this pod pending, and what would fix it (py-scheduler).",
    )
    add_arguments(parser)
    return main(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(kubectl_main())
