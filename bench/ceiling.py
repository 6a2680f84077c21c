"""A binder that decides nothing: the control plane's own limit on this machine.

It lists the bench nodes, watches pending pods of one schedulerName across
all namespaces, and binds each to the next node round-robin with many
``pods/binding`` POSTs in flight. Whatever rate it reaches is what the API
server and etcd accept here, the bound no scheduler can beat.

``python -m bench.ceiling --kubeconfig K --scheduler-name S`` runs until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import signal
from typing import Final

import orjson

from bench.templates import BENCH_LABEL
from py_scheduler.cluster import ClusterError
from py_scheduler.kube.client import KubeClient, Settings, load_configuration

IN_FLIGHT: Final = 64


async def bind_forever(kube: KubeClient, scheduler_name: str) -> None:
    nodes = await kube.get("/api/v1/nodes", {"labelSelector": BENCH_LABEL})
    names = [item["metadata"]["name"] for item in nodes["items"]]
    if not names:
        raise SystemExit("no bench nodes to bind to")
    next_node = itertools.cycle(names)
    pending: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    selector = f"spec.schedulerName={scheduler_name},spec.nodeName="

    async def binder() -> None:
        while True:
            namespace, name = await pending.get()
            body = {
                "apiVersion": "v1",
                "kind": "Binding",
                "metadata": {"name": name, "namespace": namespace},
                "target": {"apiVersion": "v1", "kind": "Node", "name": next(next_node)},
            }
            # A pod deleted or bound meanwhile answers 404/409: nothing to redo.
            with contextlib.suppress(ClusterError):
                await kube.post(f"/api/v1/namespaces/{namespace}/pods/{name}/binding", body)

    async with asyncio.TaskGroup() as group:
        for _ in range(IN_FLIGHT):
            group.create_task(binder())
        while True:
            listing = await kube.get("/api/v1/pods", {"fieldSelector": selector})
            for item in listing["items"]:
                meta = item["metadata"]
                pending.put_nowait((meta["namespace"], meta["name"]))
            params = {
                "watch": "1",
                "fieldSelector": selector,
                "resourceVersion": listing["metadata"]["resourceVersion"],
                "timeoutSeconds": "3600",
            }
            with contextlib.suppress(ClusterError):
                async for line in kube.stream("/api/v1/pods", params, idle_timeout=3600):
                    event = orjson.loads(line)
                    if event["type"] == "ADDED":
                        meta = event["object"]["metadata"]
                        pending.put_nowait((meta["namespace"], meta["name"]))


async def main(kubeconfig: str, scheduler_name: str) -> None:
    configuration = await load_configuration(kubeconfig)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with KubeClient(configuration, Settings(max_connections=IN_FLIGHT)) as kube:
        work = asyncio.create_task(bind_forever(kube, scheduler_name))
        await stop.wait()
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await work


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.ceiling", description=__doc__)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--scheduler-name", required=True)
    args = parser.parse_args()
    asyncio.run(main(args.kubeconfig, args.scheduler_name))
