"""Create and delete objects concurrently through the project's KubeClient."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator
from typing import Any

from py_scheduler.cluster import Conflict, TooManyRequests, Unavailable
from py_scheduler.kube.client import KubeClient

JSON = dict[str, Any]
WORKERS = 48


async def _post(kube: KubeClient, path: str, body: JSON) -> None:
    for attempt in range(5):
        try:
            await kube.post(path, body)
            return
        except Conflict:  # already there: an earlier, timed-out attempt landed
            return
        except (Unavailable, TooManyRequests):
            if attempt == 4:
                raise
            await asyncio.sleep(0.2 * (attempt + 1))


async def create_all(
    kube: KubeClient, path: str, bodies: Iterable[JSON], workers: int = WORKERS
) -> None:
    """POST every body to ``path`` with ``workers`` requests in flight."""
    source: Iterator[JSON] = iter(bodies)

    async def worker() -> None:
        for body in source:  # one shared iterator: each body is taken once
            await _post(kube, path, body)

    async with asyncio.TaskGroup() as group:
        for _ in range(workers):
            group.create_task(worker())


async def create_paced(
    kube: KubeClient, path: str, bodies: list[JSON], rate: float, workers: int = WORKERS
) -> float:
    """POST ``bodies`` at ``rate`` per second (uniform arrivals); return the rate achieved."""
    start = time.monotonic()
    queue: asyncio.Queue[JSON | None] = asyncio.Queue()

    async def worker() -> None:
        while (body := await queue.get()) is not None:
            await _post(kube, path, body)

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(worker()) for _ in range(workers)]
        for index, body in enumerate(bodies):
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait(body)
        for _ in tasks:
            queue.put_nowait(None)
    elapsed = time.monotonic() - start
    return len(bodies) / elapsed if elapsed > 0 else 0.0


async def delete_pods(kube: KubeClient, namespace: str, timeout: float = 300) -> None:
    """Delete every pod of ``namespace`` (immediately: grace period 0) and wait."""
    path = f"/api/v1/namespaces/{namespace}/pods"
    await kube.request("DELETE", path, body={"gracePeriodSeconds": 0}, timeout=timeout)
    await _wait_empty(kube, path, {}, timeout)


async def delete_nodes(kube: KubeClient, selector: str, timeout: float = 300) -> None:
    params = {"labelSelector": selector}
    await kube.request("DELETE", "/api/v1/nodes", params=params, timeout=timeout)
    await _wait_empty(kube, "/api/v1/nodes", params, timeout)


async def delete_labelled(kube: KubeClient, path: str, selector: str, timeout: float = 300) -> None:
    params = {"labelSelector": selector}
    await kube.request("DELETE", path, params=params, timeout=timeout)
    await _wait_empty(kube, path, params, timeout)


async def delete_all(kube: KubeClient, path: str, timeout: float = 300) -> None:
    """Delete every object of a namespaced collection and wait. Finalizers are
    dropped first: no controller here would ever remove them."""
    items = (await kube.get(path)).get("items", [])
    held = iter([i for i in items if i["metadata"].get("finalizers")])

    async def worker() -> None:
        for item in held:
            name = item["metadata"]["name"]
            await kube.patch(f"{path}/{name}", {"metadata": {"finalizers": None}})

    async with asyncio.TaskGroup() as group:
        for _ in range(WORKERS):
            group.create_task(worker())
    await kube.request("DELETE", path, timeout=timeout)
    await _wait_empty(kube, path, {}, timeout)


async def _wait_empty(kube: KubeClient, path: str, params: dict[str, str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        listing = await kube.get(path, {**params, "limit": "1"})
        if not listing.get("items"):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} still not empty after {timeout}s")
        await asyncio.sleep(0.5)
