"""Helpers for integration tests: create objects, wait for conditions.

Waits poll with a deadline and fail with what was last seen, so a failing
test says what state the cluster was in.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from py_scheduler.kube.client import JSON, KubeClient
from py_scheduler.model.server import ServerInfo
from tests.builders import raw_node, raw_pod

T = TypeVar("T")


def dra_words(server: ServerInfo, words: str = "no new claims to deallocate") -> str:
    """What DynamicResources' PostFilter puts between the filter reasons and preemption's
    words in a FailedScheduling message on ``server``'s release: ``words, `` up to 1.36,
    nothing from 1.37 (kubernetes PR 140222)."""
    return "" if server.version.at_least(1, 37) else f"{words}, "


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def eventually(
    probe: Callable[[], Awaitable[T]],
    ok: Callable[[T], bool],
    *,
    within: float = 30.0,
    what: str = "condition",
) -> T:
    deadline = time.monotonic() + within
    while True:
        last = await probe()
        if ok(last):
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}; last: {last!r}")
        await asyncio.sleep(0.2)


def for_create(raw: dict[str, Any]) -> dict[str, Any]:
    """Drop what only the API server may set (builders fill it for unit tests)."""
    meta = {
        k: v
        for k, v in raw["metadata"].items()
        if k not in ("resourceVersion", "uid", "creationTimestamp", "deletionTimestamp")
    }
    return {**raw, "metadata": meta}


async def create_namespace(api: KubeClient, name: str) -> None:
    await api.post("/api/v1/namespaces", {"metadata": {"name": name}})


async def create_node(api: KubeClient, name: str, **kwargs: Any) -> JSON:
    return await api.post("/api/v1/nodes", for_create(raw_node(name, **kwargs)))


async def create_pod(api: KubeClient, name: str, namespace: str, **kwargs: Any) -> JSON:
    raw = for_create(raw_pod(name, namespace=namespace, **kwargs))
    raw.pop("status", None)
    return await api.post(f"/api/v1/namespaces/{namespace}/pods", raw)


async def read_pod(api: KubeClient, name: str, namespace: str) -> JSON:
    return await api.get(f"/api/v1/namespaces/{namespace}/pods/{name}")


async def node_ready(api: KubeClient, name: str) -> bool:
    node = await api.get(f"/api/v1/nodes/{name}")
    conditions = node.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
