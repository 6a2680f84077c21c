"""``python -m py_scheduler run``: wire the scheduler to a cluster and run it.

Root tasks (the watches of pods, nodes and the objects plugins consult, the
queue's flushes, the scheduling loop) share one TaskGroup: if one dies, all
stop and the process exits non-zero so that its supervisor restarts it. The
watches retry with backoff forever, so an unreachable API server at start-up
or later only delays readiness. SIGTERM stops taking new pods,
lets in-flight binds finish, and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import ssl
import time
import uuid
from collections.abc import Awaitable, Iterable, Mapping
from typing import Final, TypeVar

import structlog
from aiohttp import web

from py_scheduler import config, logs, metrics
from py_scheduler.app import tls
from py_scheduler.app.collector import Collector
from py_scheduler.app.explain import Explain, ExplainSettings
from py_scheduler.app.server import KEEPALIVE_TIMEOUT, BoundedSite, Health, make_app
from py_scheduler.explain.capacity import ShapeError, parse_shapes
from py_scheduler.framework.pod_groups import PodGroupReporter
from py_scheduler.framework.runtime import FrameworkError
from py_scheduler.kube import custom_resources as kube_custom
from py_scheduler.kube import discovery as server_discovery
from py_scheduler.kube import objects as kube_objects
from py_scheduler.kube import sweep as sweep_mod
from py_scheduler.kube.adapter import KubeCluster
from py_scheduler.kube.client import CredentialsError, KubeClient, Settings, load_configuration
from py_scheduler.kube.delegation import Delegation
from py_scheduler.kube.election import ElectionConfig, LeaderElector
from py_scheduler.kube.sweep import PendingSweep
from py_scheduler.kube.watches import Handlers, Reflector, Watch
from py_scheduler.model import Node, PodInfo, decode_node, decode_pod
from py_scheduler.plugins import discovery as plugin_discovery
from py_scheduler.scheduling.build import build_scheduler
from py_scheduler.scheduling.object_store import ObjectStore
from py_scheduler.scheduling.scheduler import NotLeading, Scheduler

T = TypeVar("T")

log = structlog.get_logger("py_scheduler.app")

SHUTDOWN_GRACE: Final = 20.0


def main(args: argparse.Namespace) -> int:
    """Exit 0 on a clean stop, 1 on a fatal error, 2 on invalid input; every
    fatal error is one structured log line."""
    logs.configure(level=args.log_level, fmt=args.log_format)
    try:
        registry = plugin_discovery.registry()
    except plugin_discovery.DiscoveryError as exc:
        log.error("unusable plugin", error=str(exc))
        return 2
    try:
        cfg = config.load(args.config, registry=registry)
        if args.kubeconfig:
            _readable(args.kubeconfig)
    except config.ConfigError as exc:
        log.error("invalid configuration", error=str(exc))
        return 2
    for warning in cfg.warnings:
        log.warning("configuration accepted with a warning", warning=warning)
    try:
        explain = explain_settings(args)
    except (ShapeError, ValueError) as exc:
        log.error("invalid flag", error=str(exc))
        return 2
    tls_context = None
    if args.plain_http:
        log.warning("serving plain HTTP without authentication or authorization")
    else:
        try:
            tls_context = tls.server_context(
                args.tls_cert_file, args.tls_private_key_file, args.bind_address
            )
        except tls.TlsError as exc:
            log.error("invalid serving certificate", error=str(exc))
            return 2
    try:
        return asyncio.run(
            run(
                cfg,
                kubeconfig=args.kubeconfig,
                address=args.bind_address,
                port=args.port,
                explain=explain,
                sweep_interval=args.pending_sweep_interval,
                api_timeout=args.livez_api_timeout,
                plain_http=args.plain_http,
                tls_context=tls_context,
            )
        )
    except KeyboardInterrupt:
        return 0
    except CredentialsError as exc:
        log.error("cannot load credentials", error=str(exc))
        return 1
    except Exception:
        log.exception("fatal error")
        return 1


def _readable(path: str) -> None:
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise config.ConfigError(
            f"--kubeconfig: cannot read {path}: {exc.strerror or exc}"
        ) from None


def explain_settings(args: argparse.Namespace) -> ExplainSettings:
    if args.diagnoses_max_bytes < 0:
        raise ValueError("--diagnoses-max-bytes must not be negative")
    if args.diagnosis_interval < 0:
        raise ValueError("--diagnosis-interval must not be negative")
    if not 0 < args.diagnosis_budget <= 1:
        raise ValueError("--diagnosis-budget must be in (0, 1]")
    return ExplainSettings(
        annotations=args.explain_annotations,
        diagnoses_max_bytes=args.diagnoses_max_bytes,
        diagnosis_interval=args.diagnosis_interval,
        diagnosis_budget=args.diagnosis_budget,
        shapes=tuple(parse_shapes(args.capacity_shape or ())),
    )


async def run(
    cfg: config.SchedulerConfig,
    *,
    kubeconfig: str | None,
    address: str,
    port: int,
    explain: ExplainSettings | None = None,
    sweep_interval: float = sweep_mod.DEFAULT_INTERVAL,
    api_timeout: float = 120.0,
    plain_http: bool = False,
    tls_context: ssl.SSLContext | None = None,
) -> int:
    configuration = await load_configuration(kubeconfig or cfg.client_connection.kubeconfig or None)
    limits = Settings(qps=cfg.client_connection.qps, burst=cfg.client_connection.burst)
    # The lease gets a client of its own, as kube-scheduler's leader-election client
    # is: a renewal must never queue behind a burst of binds.
    async with (
        KubeClient(configuration, limits) as kube,
        KubeClient(configuration, Settings(user_agent="py-scheduler/leader-election")) as lease,
    ):
        elector = _elector(lease, cfg) if cfg.leader_election.leader_elect else None
        # Filled once discovery has answered. The probes are served from the start: an
        # outage at start-up reads as not ready, and /livez watches the API's silence.
        watched: list[Watch] = []
        health = Health(
            synced=lambda: bool(watched) and all(r.synced.is_set() for r in watched),
            leader_ok=elector.healthy if elector is not None else lambda: True,
            api_silence=lambda: time.monotonic() - max(kube.last_contact, lease.last_contact),
            api_timeout=api_timeout,
        )
        auth = None if plain_http else Delegation(kube)
        # explain's routes are served from the start too; its scheduler comes after build.
        explained = Explain(explain or ExplainSettings(), kube)
        runner = web.AppRunner(
            make_app(health, auth, explained.routes()),
            access_log=None,
            keepalive_timeout=KEEPALIVE_TIMEOUT,
        )
        await runner.setup()
        await BoundedSite(runner, address, port, ssl_context=tls_context).start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            # Read once, before anything depends on an API version: where releases
            # differ, the scheduler follows this server (docs/releases.md).
            server = await _unless_stopped(server_discovery.discover(kube), stop)
            if server is None:
                await runner.cleanup()
                log.info("stopped before the API server answered")
                return 0
            objects = ObjectStore()
            cluster = KubeCluster(kube)
            try:
                scheduler = build_scheduler(
                    cfg,
                    cluster=cluster,
                    objects=objects,
                    recorder=metrics.PrometheusRecorder(),
                    server=server,
                    evaluator=explained.evaluator,
                    observer=explained.observer,
                )
            except FrameworkError as exc:
                await runner.cleanup()
                log.error("invalid profile", error=str(exc))
                return 2
        except BaseException:
            await runner.cleanup()
            raise
        explained.attach(scheduler)
        sweep = PendingSweep(
            kube,
            scheduler,
            leading=elector.leading if elector is not None else (lambda: True),
            interval=sweep_interval,
        )
        pods = Reflector(
            kube,
            "/api/v1/pods",
            _pod_handlers(scheduler, sweep),
            name="pods",
            field_selector="status.phase!=Succeeded,status.phase!=Failed",
        )
        nodes = Reflector(kube, "/api/v1/nodes", _node_handlers(scheduler), name="nodes")
        # Plugins judge by the custom objects they asked for: waited for like the rest.
        watched.extend(
            [
                pods,
                nodes,
                *kube_objects.reflectors(kube, objects, scheduler.on_object),
                *kube_custom.watches(kube, scheduler.custom_objects, scheduler.on_custom_objects),
            ]
        )
        if elector is None:
            metrics.LEADER.set(1)  # a single replica without election always leads
        else:
            scheduler.leading = elector.leading
        metrics.initialise(cfg.scheduler_names)
        metrics.SIZES.queue_sizes = scheduler.queue.lengths
        metrics.SIZES.unschedulable = scheduler.queue.unschedulable_by_plugin
        reporters = [
            plugin
            for fwk in scheduler.profiles.values()
            for plugin in fwk.plugins.values()
            if isinstance(plugin, PodGroupReporter)
        ]
        metrics.SIZES.pod_groups = lambda: _summed(r.pod_group_states() for r in reporters)
        metrics.SIZES.pod_group_rounds = lambda: _summed(r.pod_group_rounds() for r in reporters)
        metrics.INVALID_PODS.set_function(lambda: len(sweep.invalid))
        metrics.SIZES.cache_sizes = lambda: {
            "nodes": len(scheduler.cache),
            "pods": scheduler.cache.pod_count(),
            "assumed_pods": scheduler.cache.assumed_count(),
        }
        log.info(
            "starting",
            profiles=sorted(cfg.scheduler_names),
            address=f"{address}:{port}",
            server=str(server.version),
        )
        lost = False
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(
                    Collector().run([r.synced for r in watched]), name="garbage collection"
                )
                for reflector in watched:
                    group.create_task(reflector.run(), name=f"watch {reflector.name}")
                group.create_task(cluster.events.run(), name="event series")
                group.create_task(scheduler.queue.run_flushes(), name="queue flushes")
                group.create_task(
                    _lead_and_schedule(scheduler, watched, elector, sweep),
                    name="scheduling loop",
                )
                await stop.wait()
                log.info("shutting down: no new pods; finishing in-flight binds")
                health.shutting_down = True
                scheduler.stop()
                await scheduler.drain(SHUTDOWN_GRACE)
                if elector is not None:
                    await elector.release()
                raise _Shutdown
        except* _Shutdown:
            pass
        except* LeaseLost:
            log.error("exiting: the leader lease was lost")
            lost = True
        finally:
            await runner.cleanup()
    log.info("stopped")
    return 1 if lost else 0


async def _unless_stopped(work: Awaitable[T], stop: asyncio.Event) -> T | None:
    """``work``'s result, or None if ``stop`` is set first (``work`` is then cancelled)."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return None


class _Shutdown(Exception):
    """Raised inside the TaskGroup to cancel the remaining root tasks."""


class LeaseLost(Exception):
    """The leader lease could not be renewed: stop at once, as kube-scheduler does."""


def _elector(kube: KubeClient, cfg: config.SchedulerConfig) -> LeaderElector:
    le = cfg.leader_election
    namespace = le.resource_namespace or os.environ.get("POD_NAMESPACE") or "default"
    identity = os.environ.get("POD_NAME") or f"{socket.gethostname()}_{uuid.uuid4()}"
    return LeaderElector(
        kube,
        ElectionConfig(
            name=le.resource_name,
            namespace=namespace,
            identity=identity,
            lease_duration=le.lease_duration,
            renew_deadline=le.renew_deadline,
            retry_period=le.retry_period,
        ),
    )


async def _lead_and_schedule(
    scheduler: Scheduler,
    watched: list[Watch],
    elector: LeaderElector | None,
    sweep: PendingSweep,
) -> None:
    """Followers keep their caches warm; only the leader schedules."""
    if elector is None:
        await _schedule_when_synced(scheduler, watched, sweep)
        return
    try:
        led = await elector.lead(lambda: _schedule_when_synced(scheduler, watched, sweep))
    except NotLeading:
        led = False  # the lease went stale before a cycle (the process was paused, say)
    if not led:
        raise LeaseLost


async def _schedule_when_synced(
    scheduler: Scheduler, watched: list[Watch], sweep: PendingSweep
) -> None:
    # As kube-scheduler waits for its informers: scheduling before the caches are
    # full would overcommit nodes or miss budgets, claims and plugins' objects.
    for reflector in watched:
        await reflector.synced.wait()
    log.info(
        "caches synced",
        nodes=len(scheduler.cache),
        pods=scheduler.cache.pod_count(),
        pending=len(scheduler.pending),
    )
    sweeping = asyncio.create_task(sweep.run(), name="pending-pod sweep")
    try:
        await scheduler.run()
    finally:
        sweeping.cancel()
        await asyncio.gather(sweeping, return_exceptions=True)


def _pod_handlers(scheduler: Scheduler, sweep: PendingSweep) -> Handlers[PodInfo]:
    def replace(pods: list[PodInfo]) -> None:
        sweep.relisted()
        scheduler.replace_pods(pods)

    def upsert(pod: PodInfo) -> None:
        sweep.forget(pod.uid)
        scheduler.on_pod(pod)

    def delete(pod: PodInfo) -> None:
        sweep.forget(pod.uid)
        scheduler.on_pod_deleted(pod)

    return Handlers(
        decode=decode_pod,
        on_replace=replace,
        on_upsert=upsert,
        on_delete=delete,
        on_invalid=sweep.on_invalid,
    )


def _node_handlers(scheduler: Scheduler) -> Handlers[Node]:
    return Handlers(
        decode=decode_node,
        on_replace=scheduler.replace_nodes,
        on_upsert=scheduler.on_node,
        on_delete=lambda node: scheduler.on_node_deleted(node.name),
    )


def _summed(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Per-key totals over several plugins' (one per profile) counts."""
    total: dict[str, int] = {}
    for one in counts:
        for key, count in one.items():
            total[key] = total.get(key, 0) + count
    return total
