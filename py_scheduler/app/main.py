"""``python -m py_scheduler run``: wire the scheduler to a cluster and run it.

Root tasks (the two watches, the queue's flushes, the scheduling loop, the
HTTP server) share one TaskGroup: if one dies, all stop and the process exits
non-zero so that its supervisor restarts it. SIGTERM stops taking new pods,
lets in-flight binds finish, and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
import uuid
from collections.abc import Iterable, Mapping
from typing import Final

import kopf
import structlog
import uvloop
from aiohttp import web
from kubernetes_asyncio import client as k8s_client

from py_scheduler import config, logs, metrics
from py_scheduler.app.server import Health, make_app
from py_scheduler.framework.pod_groups import PodGroupReporter
from py_scheduler.framework.runtime import FrameworkError
from py_scheduler.kube import custom_resources as kube_custom
from py_scheduler.kube import discovery as server_discovery
from py_scheduler.kube import objects as kube_objects
from py_scheduler.kube.adapter import KubeCluster
from py_scheduler.kube.client import KubeClient, Settings, load_configuration
from py_scheduler.kube.election import ElectionConfig, LeaderElector
from py_scheduler.kube.watches import Handlers, Reflector
from py_scheduler.model import Node, PodInfo, decode_node, decode_pod
from py_scheduler.plugins import discovery as plugin_discovery
from py_scheduler.scheduling.build import build_scheduler
from py_scheduler.scheduling.object_store import ObjectStore
from py_scheduler.scheduling.scheduler import Scheduler

log = structlog.get_logger("py_scheduler.app")

SHUTDOWN_GRACE: Final = 20.0


def main(args: argparse.Namespace) -> int:
    try:
        logs.configure(level=args.log_level, fmt=args.log_format)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        registry = plugin_discovery.registry()
    except plugin_discovery.DiscoveryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        cfg = config.load(args.config, registry=registry)
    except config.ConfigError as exc:
        print(f"error: invalid configuration: {exc}", file=sys.stderr)
        return 2
    try:
        return uvloop.run(
            run(cfg, kubeconfig=args.kubeconfig, address=args.bind_address, port=args.port)
        )
    except KeyboardInterrupt:
        return 0


async def run(
    cfg: config.SchedulerConfig, *, kubeconfig: str | None, address: str, port: int
) -> int:
    configuration = await load_configuration(kubeconfig or cfg.client_connection.kubeconfig or None)
    limits = Settings(qps=cfg.client_connection.qps, burst=cfg.client_connection.burst)
    # The lease gets a client of its own, as kube-scheduler's leader-election client
    # is: a renewal must never queue behind a burst of binds.
    async with (
        KubeClient(configuration, limits) as kube,
        KubeClient(configuration, Settings(user_agent="py-scheduler/leader-election")) as lease,
    ):
        # Read once, before anything depends on an API version: where releases differ,
        # the scheduler follows this server (docs/releases.md).
        server = await server_discovery.discover(kube)
        objects = ObjectStore()
        try:
            scheduler = build_scheduler(
                cfg,
                cluster=KubeCluster(kube),
                objects=objects,
                recorder=metrics.PrometheusRecorder(),
                server=server,
            )
        except FrameworkError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        pods = Reflector(
            kube,
            "/api/v1/pods",
            _pod_handlers(scheduler),
            name="pods",
            field_selector="status.phase!=Succeeded,status.phase!=Failed",
        )
        nodes = Reflector(kube, "/api/v1/nodes", _node_handlers(scheduler), name="nodes")
        custom = kube_custom.watches(kube, scheduler.custom_objects, scheduler.on_custom_objects)
        elector = _elector(lease, cfg) if cfg.leader_election.leader_elect else None
        if elector is None:
            metrics.LEADER.set(1)  # a single replica without election always leads
        health = Health(
            synced=lambda: (
                pods.synced.is_set()
                and nodes.synced.is_set()
                and all(w.synced.is_set() for w in custom)
            ),
            leader_ok=elector.healthy if elector is not None else lambda: True,
        )
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
        metrics.SIZES.cache_sizes = lambda: {
            "nodes": len(scheduler.cache),
            "pods": scheduler.cache.pod_count(),
            "assumed_pods": scheduler.cache.assumed_count(),
        }
        runner = web.AppRunner(make_app(health), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, address, port).start()
        stop = asyncio.Event()
        kopf_ready = asyncio.Event()
        loop = asyncio.get_running_loop()
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
                    _kopf_shell(scheduler, objects, configuration, stop, kopf_ready),
                    name="kopf operator",
                )
                # kopf installs its own signal handlers when it starts; ours go
                # on top so that SIGTERM runs our shutdown (which stops kopf too).
                await asyncio.wait_for(kopf_ready.wait(), timeout=30)
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(sig, stop.set)
                group.create_task(nodes.run(), name="watch nodes")
                group.create_task(pods.run(), name="watch pods")
                for watch in custom:
                    group.create_task(watch.run(), name=f"watch {watch.name}")
                group.create_task(scheduler.queue.run_flushes(), name="queue flushes")
                group.create_task(
                    _lead_and_schedule(scheduler, nodes, pods, custom, elector),
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


async def _kopf_shell(
    scheduler: Scheduler,
    objects: ObjectStore,
    configuration: k8s_client.Configuration,
    stop: asyncio.Event,
    ready: asyncio.Event,
) -> None:
    await kopf.operator(
        registry=kube_objects.registry(objects, configuration, scheduler.on_object),
        settings=kube_objects.settings(),
        standalone=True,
        clusterwide=True,
        stop_flag=stop,
        ready_flag=ready,
    )
    stop.set()  # kopf stopped on its own (e.g. a signal it saw first): shut down too


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
    nodes: Reflector[Node],
    pods: Reflector[PodInfo],
    custom: list[kube_custom.CustomResourceWatch],
    elector: LeaderElector | None,
) -> None:
    """Followers keep their caches warm; only the leader schedules."""
    if elector is None:
        await _schedule_when_synced(scheduler, nodes, pods, custom)
        return
    if not await elector.lead(lambda: _schedule_when_synced(scheduler, nodes, pods, custom)):
        raise LeaseLost


async def _schedule_when_synced(
    scheduler: Scheduler,
    nodes: Reflector[Node],
    pods: Reflector[PodInfo],
    custom: list[kube_custom.CustomResourceWatch],
) -> None:
    # Scheduling before the caches are full would overcommit nodes; plugins
    # judge by the custom objects they asked for, so those come first too.
    await nodes.synced.wait()
    await pods.synced.wait()
    for watch in custom:
        await watch.synced.wait()
    log.info(
        "caches synced",
        nodes=len(scheduler.cache),
        pods=scheduler.cache.pod_count(),
        pending=len(scheduler.pending),
    )
    await scheduler.run()


def _pod_handlers(scheduler: Scheduler) -> Handlers[PodInfo]:
    return Handlers(
        decode=decode_pod,
        on_replace=scheduler.replace_pods,
        on_upsert=scheduler.on_pod,
        on_delete=scheduler.on_pod_deleted,
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
