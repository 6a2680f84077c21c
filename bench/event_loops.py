"""``python -m bench.event_loops``: what uvloop buys py-scheduler, and what it costs.

Two measurements, each repeated, with the load average printed beside them
(the machine may be shared):

- **CPU per pod in a burst.** One local control plane (no controller manager
  or kwok, API server limits lifted, as the main benchmark), ``--nodes`` nodes,
  then per repetition and loop: ``--pods`` pods created first, py-scheduler
  started on that loop, CPU seconds of the scheduler process until the last
  pod is bound. Runs alternate between loops so drift in the machine's load
  hits both.
- **The cost of scraping** (``--scrapers N``): the same bursts on asyncio,
  without and with N clients fetching ``/metrics`` back to back.
- **Survival of an endpoint that accepts and resets.** ``--requests`` HTTPS
  requests through the project's client, ``--concurrency`` at a time, to a
  listener that accepts every connection and resets it at once (a load
  balancer with no healthy backend); does the process survive?

uvloop is not a dependency of py-scheduler (``pip install -e '.[bench]'``
brings it); :mod:`bench.with_uvloop` starts the scheduler on it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import load, procstat, templates
from bench.contenders import SCHEDULER_NAME
from controlplane.launcher import LocalControlPlane, Options, free_port
from controlplane.releases import default_bin_dir
from py_scheduler.cluster import ClusterError
from py_scheduler.kube.client import KubeClient, load_configuration

LOOPS = ("asyncio", "uvloop")


def _scheduler(
    loop: str, plane: LocalControlPlane, config: Path, log: Path, port: int, extra: list[str]
) -> subprocess.Popen[bytes]:
    entry = ["-m", "bench.with_uvloop"] if loop == "uvloop" else ["-m", "py_scheduler"]
    argv = [sys.executable, *entry, "run", "--config", str(config), "--bind-address=127.0.0.1"]
    argv += [f"--port={port}", "--log-format=json", "--log-level=warning", *extra]
    with log.open("wb") as out:
        return subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "KUBECONFIG": str(plane.kubeconfig)},
        )


async def _scrape(url: str, token: str, stop: asyncio.Event) -> int:
    """GET ``url`` back to back until ``stop``; returns how many answered 200."""
    import ssl

    import aiohttp

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    done = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
        while not stop.is_set():
            try:
                async with session.get(url, headers=headers) as resp:
                    await resp.read()
                    done += resp.status == 200
            except (aiohttp.ClientError, OSError):
                await asyncio.sleep(0.1)
    return done


async def _bound(kube: KubeClient, namespace: str) -> int:
    pods = await kube.get(
        f"/api/v1/namespaces/{namespace}/pods", {"fieldSelector": "spec.nodeName!="}
    )
    return len(pods["items"])


@dataclass(frozen=True)
class Scraping:
    scrapers: int = 0  # tight-loop /metrics clients during the burst
    scheme: str = "http"
    extra_args: tuple[str, ...] = ()


async def burst(
    kube: KubeClient,
    plane: LocalControlPlane,
    workdir: Path,
    loop: str,
    rep: int,
    pods: int,
    scraping: Scraping = Scraping(),
) -> dict[str, Any]:
    namespace = f"loops-{loop}-{scraping.scrapers}-{rep}"
    await kube.post("/api/v1/namespaces", {"metadata": {"name": namespace}})
    path = f"/api/v1/namespaces/{namespace}/pods"
    bodies = (templates.pod(f"p-{i}", namespace, "default", SCHEDULER_NAME) for i in range(pods))
    await load.create_all(kube, path, bodies)
    config = workdir / "config.yaml"
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    port = free_port()
    log = workdir / f"{loop}-{scraping.scrapers}-{rep}.log"
    proc = _scheduler(loop, plane, config, log, port, list(scraping.extra_args))
    stop = asyncio.Event()
    url = f"{scraping.scheme}://127.0.0.1:{port}/metrics"
    scrapers = [
        asyncio.create_task(_scrape(url, plane.token, stop)) for _ in range(scraping.scrapers)
    ]
    try:
        while await _bound(kube, namespace) < pods:
            if proc.poll() is not None:
                raise RuntimeError(f"{loop} scheduler exited with {proc.returncode}")
            await asyncio.sleep(0.2)
        wall = time.monotonic() - started
        cpu = procstat.cpu_seconds(proc.pid)
    finally:
        stop.set()
        scrapes = sum(await asyncio.gather(*scrapers))
        proc.terminate()
        proc.wait(timeout=60)
        await load.delete_pods(kube, namespace)
    return {
        "loop": loop,
        "rep": rep,
        "scrapers": scraping.scrapers,
        "scrapes_per_s": scrapes / wall,
        "cpu_ms_per_pod": 1000 * cpu / pods,
        "pods_per_s": pods / wall,
        "load": load_before,
    }


def _resetting_listener() -> tuple[int, threading.Event]:
    """Accepts every connection and resets it at once (SO_LINGER 0)."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(512)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
        server.close()

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1], stop


async def _hammer(port: int, requests: int, concurrency: int) -> int:
    configuration = await load_configuration(None) if os.environ.get("KUBECONFIG") else None
    if configuration is None:
        from kubernetes_asyncio import client as k8s_client

        configuration = k8s_client.Configuration()
    configuration.host = f"https://127.0.0.1:{port}"
    configuration.verify_ssl = True
    failed = 0
    slots = asyncio.Semaphore(concurrency)
    async with KubeClient(configuration) as kube:

        async def one() -> None:
            nonlocal failed
            async with slots:
                try:
                    await kube.get("/api/v1/nodes")
                except ClusterError:
                    failed += 1

        await asyncio.gather(*(one() for _ in range(requests)))
    return failed


def resets_child(loop: str, requests: int, concurrency: int) -> int:
    port, stop = _resetting_listener()
    try:
        if loop == "uvloop":
            import uvloop

            failed = uvloop.run(_hammer(port, requests, concurrency))
        else:
            failed = asyncio.run(_hammer(port, requests, concurrency))
    finally:
        stop.set()
    print(f"{failed} of {requests} failed cleanly")
    return 0


def resets(loop: str, requests: int, concurrency: int) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.event_loops", "--resets-child", loop]
    argv += ["--requests", str(requests), "--concurrency", str(concurrency)]
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    proc = subprocess.run(argv, capture_output=True, timeout=600, check=False, env=env)
    return {"loop": loop, "exit": proc.returncode, "out": proc.stdout.decode().strip()}


async def bursts(args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    options = Options(with_controller_manager=False, with_kwok=False, unlimited_inflight=True)
    plane = LocalControlPlane(workdir=workdir / "plane", bin_dir=default_bin_dir(), options=options)
    plane.start()
    try:
        (workdir / "config.yaml").write_text(
            "apiVersion: kubescheduler.config.k8s.io/v1\n"
            "kind: KubeSchedulerConfiguration\n"
            "clientConnection: {qps: 5000, burst: 5000}\n"
            "leaderElection: {leaderElect: false}\n"
            f"profiles: [{{schedulerName: {SCHEDULER_NAME}}}]\n"
        )
        async with KubeClient(await load_configuration(str(plane.kubeconfig))) as kube:
            nodes = (templates.node(f"node-{i:04d}", None) for i in range(args.nodes))
            await load.create_all(kube, "/api/v1/nodes", nodes)
            variants = [(loop, Scraping()) for loop in LOOPS]
            if args.scrapers:
                # Scraping cost instead: asyncio without and with tight-loop scrapers.
                scraped = Scraping(args.scrapers, args.scrape_scheme, tuple(args.scheduler_arg))
                quiet = Scraping(0, args.scrape_scheme, tuple(args.scheduler_arg))
                variants = [("asyncio", quiet), ("asyncio", scraped)]
            runs = []
            for rep in range(args.reps):
                for loop, scraping in variants if rep % 2 == 0 else reversed(variants):
                    run = await burst(kube, plane, workdir, loop, rep, args.pods, scraping)
                    print(
                        f"burst {loop:8} scrapers {scraping.scrapers} rep {rep}: "
                        f"{run['cpu_ms_per_pod']:.2f} CPU-ms/pod, {run['pods_per_s']:.0f} pods/s, "
                        f"{run['scrapes_per_s']:.0f} scrapes/s, load {run['load']:.2f}",
                        flush=True,
                    )
                    runs.append(run)
            return runs
    finally:
        plane.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.event_loops", description=__doc__)
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--reset-runs", type=int, default=5)
    parser.add_argument("--workdir", default="/tmp/py-scheduler-event-loops")
    parser.add_argument("--skip-bursts", action="store_true")
    parser.add_argument("--skip-resets", action="store_true")
    parser.add_argument(
        "--scrapers", type=int, default=0, help="measure bursts without and with N scrapers"
    )
    parser.add_argument("--scrape-scheme", choices=("http", "https"), default="http")
    parser.add_argument(
        "--scheduler-arg", action="append", default=[], help="extra py-scheduler argument"
    )
    parser.add_argument("--resets-child", choices=LOOPS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.resets_child:
        return resets_child(args.resets_child, args.requests, args.concurrency)
    for loop in () if args.skip_resets else LOOPS:
        outcomes = [resets(loop, args.requests, args.concurrency) for _ in range(args.reset_runs)]
        survived = sum(o["exit"] == 0 for o in outcomes)
        codes = sorted({o["exit"] for o in outcomes})
        print(
            f"resets {loop:8}: survived {survived}/{len(outcomes)} runs of {args.requests} "
            f"requests, {args.concurrency} at a time (exit codes {codes})",
            flush=True,
        )
    if args.skip_bursts:
        return 0
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    runs = asyncio.run(bursts(args, workdir))
    for key in sorted({(r["loop"], r["scrapers"]) for r in runs}):
        mine = [r for r in runs if (r["loop"], r["scrapers"]) == key]
        print(
            f"burst {key[0]:8} scrapers {key[1]}: median "
            f"{statistics.median(r['cpu_ms_per_pod'] for r in mine):.2f} CPU-ms/pod, "
            f"{statistics.median(r['pods_per_s'] for r in mine):.0f} pods/s, "
            f"{statistics.median(r['scrapes_per_s'] for r in mine):.0f} scrapes/s over "
            f"{len(mine)} runs; load {min(r['load'] for r in mine):.2f}-"
            f"{max(r['load'] for r in mine):.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
