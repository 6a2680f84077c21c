"""CPU per pod of each API operation on the scheduler's path, against the real control plane.

    python -m bench.apicost                       # 2000 pods, 32 requests in flight
    python -m bench.apicost --pods 5000 --in-flight 8 --in-flight 32

One local control plane (as ``python -m bench`` starts it). For each
operation the scheduler performs per pod, this process does it for every
pod, through the scheduler's own client and adapter, with a given number of
requests in flight, and reads its own CPU time (``time.process_time``)
around the batch; the API server's CPU (from /proc) is read over the same
window. Nothing else runs in this process meanwhile, so the CPU seconds per
pod are the operation's client-side cost on this machine:

- ``bind``: ``KubeCluster.bind`` (POST pods/binding);
- ``event``: ``KubeCluster.record_event`` (the Scheduled event);
- ``status``: ``KubeCluster.patch_pod_status`` (PodScheduled=False, as a
  failed attempt writes it);
- ``watch``: one watch from before the binds, read to its end through the
  reflector's path (stream, ``orjson``, ``decode_pod``): the MODIFIED event
  each bind produces;
- ``decode``: the same watch lines decoded again from memory (``orjson``
  and ``decode_pod`` alone), to split the watch's cost into reading and
  decoding.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from bench import load, procstat, templates
from controlplane.launcher import LocalControlPlane, Options
from controlplane.releases import default_bin_dir
from py_scheduler.cluster import PodCondition
from py_scheduler.kube.adapter import KubeCluster
from py_scheduler.kube.client import KubeClient, Settings, load_configuration
from py_scheduler.model import PodInfo, decode_pod

JSON = dict[str, Any]
NODE = "apicost-node"


async def each(
    pods: Sequence[PodInfo], in_flight: int, op: Callable[[PodInfo], Awaitable[None]]
) -> None:
    source = iter(pods)

    async def worker() -> None:
        for pod in source:
            await op(pod)

    async with asyncio.TaskGroup() as group:
        for _ in range(in_flight):
            group.create_task(worker())


class Meter:
    """CPU of this process and of the API server over one operation."""

    def __init__(self, apiserver: int | None) -> None:
        self.apiserver = apiserver

    async def measure(self, count: int, run: Callable[[], Awaitable[None]]) -> dict[str, float]:
        api_before = procstat.cpu_seconds(self.apiserver) if self.apiserver else 0.0
        cpu_before, wall_before = time.process_time(), time.perf_counter()
        await run()
        cpu, wall = time.process_time() - cpu_before, time.perf_counter() - wall_before
        api = (procstat.cpu_seconds(self.apiserver) - api_before) if self.apiserver else 0.0
        return {
            "client_us_per_pod": 1e6 * cpu / count,
            "apiserver_us_per_pod": 1e6 * api / count,
            "per_second": count / wall if wall else 0.0,
        }


async def run_round(
    kube: KubeClient, cluster: KubeCluster, meter: Meter, pods: int, in_flight: int, tag: str
) -> dict[str, dict[str, float]]:
    namespace = f"apicost-{tag}"
    await kube.post("/api/v1/namespaces", {"metadata": {"name": namespace}})
    path = f"/api/v1/namespaces/{namespace}/pods"
    bodies = [templates.pod(f"p{i}", namespace, "default", "nobody") for i in range(pods)]
    await load.create_all(kube, path, bodies)
    listed = await kube.get(path, {"limit": str(pods + 1)})
    decoded = [decode_pod(raw) for raw in listed["items"]]
    start_rv = listed["metadata"]["resourceVersion"]
    out: dict[str, dict[str, float]] = {}

    async def bind(pod: PodInfo) -> None:
        await cluster.bind(pod, NODE)

    async def event(pod: PodInfo) -> None:
        await cluster.record_event(
            pod,
            type="Normal",
            reason="Scheduled",
            action="Binding",
            note=f"Successfully assigned {pod.key} to {NODE}",
            reporting_controller="apicost",
        )

    condition = PodCondition("PodScheduled", "False", "Unschedulable", "0/1 nodes are available")

    async def status(pod: PodInfo) -> None:
        await cluster.patch_pod_status(pod, condition=condition, nominated_node=None)

    # The failure write first: it is only written onto a pod still unassigned.
    out["status"] = await meter.measure(pods, lambda: each(decoded, in_flight, status))
    out["bind"] = await meter.measure(pods, lambda: each(decoded, in_flight, bind))
    out["event"] = await meter.measure(pods, lambda: each(decoded, in_flight, event))

    lines: list[bytes] = []

    async def watch() -> None:
        params = {"watch": "1", "resourceVersion": start_rv, "timeoutSeconds": "600"}
        seen = 0
        # Status patches then binds: two MODIFIED events per pod since start_rv.
        async for line in kube.stream(path, params, idle_timeout=30):
            lines.append(line)
            event = orjson.loads(line)
            decode_pod(event["object"])
            seen += 1
            if seen >= 2 * pods:
                return

    watched = await meter.measure(2 * pods, watch)
    out["watch"] = watched

    async def decode() -> None:
        for line in lines:
            decode_pod(orjson.loads(line)["object"])

    out["decode"] = await meter.measure(len(lines), decode)
    await kube.delete(f"/api/v1/namespaces/{namespace}")
    return out


async def main_async(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="py-scheduler-apicost-"))
    options = Options(with_controller_manager=False, with_kwok=False, unlimited_inflight=True)
    plane = LocalControlPlane(workdir=workdir, bin_dir=default_bin_dir(), options=options)
    plane.start()
    try:
        apiserver = procstat.find_pid(
            plane.bin_dir / "kube-apiserver", f"--secure-port={plane.apiserver_port}"
        )
        configuration = await load_configuration(str(plane.kubeconfig))
        settings = Settings(timeout=120, max_connections=args.max_connections)
        async with KubeClient(configuration, settings) as kube:
            await kube.post("/api/v1/nodes", templates.node(NODE, None))
            cluster = KubeCluster(kube)
            meter = Meter(apiserver)
            print(f"load before: {procstat.loadavg()}", flush=True)
            results: dict[int, list[dict[str, dict[str, float]]]] = {}
            for in_flight in args.in_flight or [32]:
                for rep in range(args.reps):
                    tag = f"{in_flight}-{rep}"
                    results.setdefault(in_flight, []).append(
                        await run_round(kube, cluster, meter, args.pods, in_flight, tag)
                    )
            print(f"load after: {procstat.loadavg()}", flush=True)
            report(results)
    finally:
        plane.stop()


def report(results: dict[int, list[dict[str, dict[str, float]]]]) -> None:
    print("median over repetitions; µs of CPU per pod (client = this process)")
    print(f"{'in flight':>9} {'operation':<8} {'client µs':>10} {'apiserver µs':>13} {'per s':>8}")
    for in_flight, rounds in results.items():
        for op in rounds[0]:
            med = {
                k: statistics.median(r[op][k] for r in rounds)
                for k in ("client_us_per_pod", "apiserver_us_per_pod", "per_second")
            }
            print(
                f"{in_flight:>9} {op:<8} {med['client_us_per_pod']:>10.0f} "
                f"{med['apiserver_us_per_pod']:>13.0f} {med['per_second']:>8.0f}"
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.apicost", description=__doc__)
    parser.add_argument("--pods", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, action="append", help="requests in flight")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--max-connections", type=int, default=Settings().max_connections)
    args = parser.parse_args(argv)
    # asyncio's own loop, as the scheduler runs on.
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
