"""One control plane, then per workload and repetition each scheduler in turn.

Never two schedulers at once: each run gets a fresh namespace, starts its
scheduler, waits for the gate condition, stops the scheduler and deletes the
run's pods before the next one starts. Nodes live for one workload.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import contenders, gates, load, procstat, stats, templates
from bench.observer import Observer
from bench.workloads import Workload
from controlplane.launcher import LocalControlPlane
from py_scheduler.kube.client import KubeClient

JSON = dict[str, Any]
MEASURED, INIT, UNSCHEDULABLE, WARM = "m-", "i-", "u-", "w-"
MAX_SKEW = 5


@dataclass(frozen=True)
class Settings:
    size: str  # "quick" or "full"
    session: str
    workdir: Path
    py_log_level: str = "warning"


@dataclass
class Context:
    plane: LocalControlPlane
    kube: KubeClient
    settings: Settings
    apiserver_pid: int | None
    etcd_pid: int | None


RESOURCE = "/apis/resource.k8s.io/v1"


def node_name(index: int) -> str:
    return f"bench-node-{index:05d}"


def zone_of(workload: Workload) -> dict[str, str]:
    if not workload.zones:
        return {}
    return {node_name(i): f"zone-{i % workload.zones}" for i in range(workload.nodes)}


async def create_nodes(kube: KubeClient, workload: Workload) -> None:
    zones = zone_of(workload)
    bodies = (templates.node(node_name(i), zones.get(node_name(i))) for i in range(workload.nodes))
    await load.create_all(kube, "/api/v1/nodes", bodies)
    if workload.devices_per_node:
        await load.create_all(kube, f"{RESOURCE}/deviceclasses", [templates.device_class()])
        slices = (
            templates.resource_slice(node_name(i), workload.devices_per_node)
            for i in range(workload.nodes)
        )
        await load.create_all(kube, f"{RESOURCE}/resourceslices", slices)


async def delete_nodes(kube: KubeClient) -> None:
    await load.delete_nodes(kube, templates.BENCH_LABEL)
    for kind in ("resourceslices", "deviceclasses"):
        await load.delete_labelled(kube, f"{RESOURCE}/{kind}", templates.DRA_LABEL)


def _init_bodies(workload: Workload, namespace: str) -> list[JSON]:
    bodies = []
    for i in range(workload.init_pods):
        # Filled node by node (preemption victims) or one pod per node in turn.
        index = i // workload.init_per_node if workload.init_per_node else i % workload.nodes
        bodies.append(
            templates.pod(
                f"{INIT}{i}",
                namespace,
                workload.init_kind,
                contenders.SCHEDULER_NAME,
                node_name=node_name(index),
            )
        )
    return bodies


def _pods(
    prefix: str, count: int, namespace: str, kind: str, *, batch: int = 0, gang_size: int = 0
) -> list[JSON]:
    def labels(i: int) -> dict[str, str] | None:
        return {"signature": f"signature-label-{i // batch}"} if batch else None

    return [
        templates.pod(
            f"{prefix}{i}",
            namespace,
            kind,
            contenders.SCHEDULER_NAME,
            None,
            labels(i),
            group=gang_of(i, gang_size) if gang_size else None,
        )
        for i in range(count)
    ]


def gang_of(index: int, gang_size: int) -> str:
    return f"gang-{index // gang_size:04d}"


async def _wait(
    observer: Observer,
    done: Callable[[], bool],
    timeout: float,
    running: contenders.Running | None = None,
) -> bool:
    deadline = time.monotonic() + timeout
    while not done():
        if (failure := observer.failed()) is not None:
            raise RuntimeError("pod watch stopped") from failure
        if running is not None and not running.alive():
            return False
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def _inject_unschedulable(kube: KubeClient, namespace: str, rate: float) -> None:
    path = f"/api/v1/namespaces/{namespace}/pods"
    start, index = time.monotonic(), 0
    while True:
        body = templates.pod(
            f"{UNSCHEDULABLE}{index}", namespace, "large", contenders.SCHEDULER_NAME
        )
        await load.create_all(kube, path, [body], workers=1)
        index += 1
        await asyncio.sleep(max(0.0, start + index / rate - time.monotonic()))


def _py_spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    # --nonblocking samples without pausing the scheduler, so it runs at full speed.
    spy = Path(sys.executable).with_name("py-spy")
    argv = [str(spy), "record", "--pid", str(pid), "--format", "speedscope", "--rate", "200"]
    argv += ["--nonblocking", "--output", str(out)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _cpu(pid: int | None) -> float:
    return procstat.cpu_seconds(pid) if pid else 0.0


async def run_once(
    ctx: Context, workload: Workload, scheduler: str, rep: int, profile_to: Path | None = None
) -> JSON:
    kube, settings = ctx.kube, ctx.settings
    tag = f"{settings.session}-{workload.name.lower()}-{scheduler}-{rep}"
    namespace = f"b{settings.session}-{workload.name.lower()[:12]}-{scheduler[:4]}-{rep}"
    await kube.post("/api/v1/namespaces", {"metadata": {"name": namespace}})
    observer = Observer(kube, namespace)
    await observer.start()
    path = f"/api/v1/namespaces/{namespace}/pods"
    try:
        if workload.devices_per_node:
            claims = (
                templates.claim(f"{MEASURED}{i}", namespace) for i in range(workload.measured)
            )
            await load.create_all(kube, f"{RESOURCE}/namespaces/{namespace}/resourceclaims", claims)
        await load.create_all(kube, path, _init_bodies(workload, namespace))
        if workload.gang_size:
            groups = (
                templates.pod_group(gang_of(i, workload.gang_size), namespace, workload.gang_size)
                for i in range(0, workload.measured, workload.gang_size)
            )
            await load.create_all(
                kube, f"/apis/{templates.POD_GROUP_API}/namespaces/{namespace}/podgroups", groups
            )
        if workload.mode == "drain":
            measured = _pods(
                MEASURED,
                workload.measured,
                namespace,
                workload.measured_kind,
                batch=workload.signature_batch,
                gang_size=workload.gang_size,
            )
            await load.create_all(kube, path, measured)
        expected = workload.init_pods + workload.measured
        await _wait(observer, lambda: sum(observer.added.values()) >= expected, 120)

        record: JSON = {
            "session": settings.session,
            "scheduler_config": workload.scheduler_config,
            "size": settings.size,
            "workload": workload.name,
            "scheduler": scheduler,
            "rep": rep,
            "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "nodes": workload.nodes,
            "init_pods": workload.init_pods,
            "measured_pods": workload.measured,
            "loadavg_before": procstat.loadavg(),
        }
        api_cpu0, etcd_cpu0 = _cpu(ctx.apiserver_pid), _cpu(ctx.etcd_pid)
        t0 = time.monotonic()
        running = contenders.start(
            scheduler,
            ctx.plane,
            settings.workdir,
            tag,
            settings.py_log_level,
            config=workload.scheduler_config,
            gangs=bool(workload.gang_size),
        )
        spy = _py_spy(running.pid, profile_to) if profile_to else None
        try:
            if workload.mode == "latency":
                finished, extra = await _latency_steps(ctx, workload, observer, namespace, running)
            else:
                finished, extra = await _drain(ctx, workload, observer, namespace, running)
            usage = procstat.usage(running.pid)
        finally:
            exit_code = running.stop()
            if spy is not None:
                spy.wait(timeout=120)  # writes the profile once its target exits
        t_end = time.monotonic()
        record.update(extra)
        record["finished"] = finished
        record["scheduler_exit"] = exit_code
        record["loadavg_after"] = procstat.loadavg()
        record["wall_s"] = round(t_end - t0, 2)
        record["apiserver_cpu_s"] = round(_cpu(ctx.apiserver_pid) - api_cpu0, 2)
        record["etcd_cpu_s"] = round(_cpu(ctx.etcd_pid) - etcd_cpu0, 2)
        record["scheduler_cpu_s"] = round(usage.cpu_seconds, 2)
        record["peak_rss_mib"] = round(usage.peak_rss_mib, 1)
        record["log"] = str(running.log)
        _figures(record, workload, observer, t0)
        return record
    finally:
        await observer.stop()
        await load.delete_pods(kube, namespace)
        if workload.devices_per_node:
            await load.delete_all(kube, f"{RESOURCE}/namespaces/{namespace}/resourceclaims")


async def _drain(
    ctx: Context,
    workload: Workload,
    observer: Observer,
    namespace: str,
    running: contenders.Running,
) -> tuple[bool, JSON]:
    injector = None
    if workload.unschedulable_per_second:
        injector = asyncio.create_task(
            _inject_unschedulable(ctx.kube, namespace, workload.unschedulable_per_second)
        )
    try:
        timeout = 120 + workload.measured / 10
        finished = await _wait(
            observer, lambda: observer.bound[MEASURED] >= workload.measured, timeout, running
        )
    finally:
        if injector is not None:
            injector.cancel()
    extra: JSON = {"mode": "drain"}
    if injector is not None:
        extra["unschedulable_created"] = observer.added[UNSCHEDULABLE]
    return finished, extra


async def _latency_steps(
    ctx: Context,
    workload: Workload,
    observer: Observer,
    namespace: str,
    running: contenders.Running,
) -> tuple[bool, JSON]:
    path = f"/api/v1/namespaces/{namespace}/pods"
    # The scheduler is ready once it binds a first pod; arrivals start after.
    await load.create_all(ctx.kube, path, _pods(WARM, 1, namespace, "default"))
    if not await _wait(observer, lambda: observer.bound[WARM] >= 1, 120, running):
        return False, {"mode": "latency", "steps": []}
    steps: list[JSON] = []
    for k, rate in enumerate(workload.rates):
        prefix = f"{k}-"
        count = int(rate * workload.step_seconds)
        achieved = await load.create_paced(
            ctx.kube, path, _pods(prefix, count, namespace, "default"), rate
        )
        done = await _wait(observer, _all_bound(observer, prefix, count), 60, running)
        latencies = [
            (seen.bound_at - seen.added_at) * 1000
            for seen in observer.of(prefix).values()
            if seen.bound_at is not None
        ]
        step: JSON = {
            "rate": rate,
            "achieved_rate": round(achieved, 1),
            "created": count,
            "bound": observer.bound[prefix],
            "p50_ms": round(stats.percentile(latencies, 50), 1),
            "p99_ms": round(stats.percentile(latencies, 99), 1),
            "cdf_ms": [round(v, 1) for v in stats.quantiles(latencies)],
        }
        steps.append(step)
        if not done or step["p99_ms"] > 1000:
            break
    within = [s["rate"] for s in steps if s["p99_ms"] <= 1000 and s["bound"] == s["created"]]
    extra: JSON = {"mode": "latency", "steps": steps, "max_rate_p99_le_1s": max(within, default=0)}
    return True, extra


def _all_bound(observer: Observer, prefix: str, count: int) -> Callable[[], bool]:
    return lambda: observer.bound[prefix] >= count


def _figures(record: JSON, workload: Workload, observer: Observer, t0: float) -> None:
    """Throughput, latency and gates from what the observer saw."""
    if workload.mode == "latency":
        scored = {n: s for n, s in observer.pods.items() if n[:1].isdigit()}
    else:
        scored = observer.of(MEASURED)
    bound_at = [s.bound_at for s in scored.values() if s.bound_at is not None]
    throughput = stats.summarize(stats.throughput_samples(bound_at, t0))
    record["bound"] = len(bound_at)
    record["throughput"] = {k: round(v, 1) for k, v in asdict(throughput).items()}
    record["drain_pods_per_s"] = round(stats.drain_rate(bound_at), 1)
    record["makespan_s"] = round(max(bound_at) - t0, 2) if bound_at else None
    record["per_second"] = stats.per_second(bound_at, t0)
    # Drain: pods wait for the scheduler to start, so latency counts from its start.
    latencies = [
        (s.bound_at - max(s.added_at, t0)) * 1000 for s in scored.values() if s.bound_at is not None
    ]
    record["latency_basis"] = (
        "create-to-bound (watch receive times)"
        if workload.mode == "latency"
        else "scheduler-start-to-bound (drain)"
    )
    record["latency_ms"] = {
        "p50": round(stats.percentile(latencies, 50), 1),
        "p99": round(stats.percentile(latencies, 99), 1),
    }
    record["cdf_ms"] = [round(v, 1) for v in stats.quantiles(latencies)]
    pods = record["bound"] or 1
    record["cpu_s_per_1000_pods"] = round(record["scheduler_cpu_s"] / pods * 1000, 2)
    record["apiserver_cpu_s_per_1000_pods"] = round(record["apiserver_cpu_s"] / pods * 1000, 2)
    if workload.gang_size:
        # A gang is done when its last member is bound: time-to-all-bound per gang.
        done_at: dict[str, float] = {}
        for name, seen in scored.items():
            if seen.bound_at is None:
                continue
            gang = gang_of(int(name.removeprefix(MEASURED)), workload.gang_size)
            done_at[gang] = max(done_at.get(gang, 0.0), seen.bound_at - t0)
        record["gangs_complete"] = len(done_at)
        record["gang_done_s"] = {
            "p50": round(stats.percentile(list(done_at.values()), 50), 2),
            "p99": round(stats.percentile(list(done_at.values()), 99), 2),
            "all": round(max(done_at.values()), 2) if done_at else None,
        }
    record["gates"] = check_gates(workload, observer, record)
    record["passed"] = record["finished"] and not any(record["gates"].values())


def check_gates(workload: Workload, observer: Observer, record: JSON) -> dict[str, list[str]]:
    placements = observer.placements()
    measured = [n for n in observer.pods if n.startswith(MEASURED)]
    checks: dict[str, list[str]] = {}
    if workload.mode == "drain":
        checks["all_measured_bound"] = gates.all_bound(placements, measured)
    if workload.unschedulable_per_second:
        unschedulable = [n for n in observer.pods if n.startswith(UNSCHEDULABLE)]
        checks["unschedulable_pending"] = gates.none_bound(placements, unschedulable)
    if workload.measured_kind == "spread":
        checks["zone_skew"] = gates.skew_within(placements, measured, zone_of(workload), MAX_SKEW)
        record["zone_skew"] = gates.zone_skew(placements, measured, zone_of(workload))
    if workload.measured_kind == "anti":
        anti = [n for n in observer.pods if n.startswith((MEASURED, INIT))]
        checks["anti_affinity"] = gates.anti_affinity_respected(placements, anti)
    if workload.init_kind == "low":
        victims = observer.deleted[INIT]
        record["victims"] = victims
        # The budget: three 900m victims free a 3000m preemptor's room on a full node.
        checks["disruption_budget"] = gates.disruptions_within(victims, 3 * workload.measured)
    if workload.devices_per_node:
        capacity = {node: workload.devices_per_node for node in set(placements.values()) if node}
        checks["devices_per_node"] = gates.within_capacity(placements, measured, capacity)
    if workload.gang_size:
        groups = {n: gang_of(int(n.removeprefix(MEASURED)), workload.gang_size) for n in measured}
        checks["whole_gangs"] = gates.whole_groups(placements, groups, workload.gang_size)
    cpu = {n: templates.milli_cpu(_kind_of(workload, n)) for n in placements}
    checks["no_overcommit"] = gates.overcommitted(placements, cpu, templates.NODE_MILLI_CPU)
    return checks


def _kind_of(workload: Workload, name: str) -> str:
    if name.startswith(INIT):
        return workload.init_kind
    if name.startswith(MEASURED):
        return workload.measured_kind
    if name.startswith(UNSCHEDULABLE):
        return "large"
    return "default"
