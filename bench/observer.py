"""A light raw-JSON pod watch over one namespace: when each pod was first seen
and when it was first seen bound, on the runner's monotonic clock.

Create-to-bound latency is taken between two receive times on this one
stream (ADDED, then the first event carrying ``spec.nodeName``), because
``creationTimestamp`` has only one-second resolution.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from py_scheduler.cluster import Unavailable
from py_scheduler.kube.client import KubeClient
from py_scheduler.kube.errors import Gone


@dataclass
class PodSeen:
    added_at: float
    bound_at: float | None = None
    node: str | None = None
    deleted_at: float | None = None


@dataclass
class Observer:
    kube: KubeClient
    namespace: str
    pods: dict[str, PodSeen] = field(default_factory=dict)
    # Per name prefix ("m-" measured, "i-" init, ...): counts kept as events
    # arrive, so waiting for "all bound" costs nothing per check.
    added: Counter[str] = field(default_factory=Counter)
    bound: Counter[str] = field(default_factory=Counter)
    deleted: Counter[str] = field(default_factory=Counter)
    _task: asyncio.Task[None] | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"observe-{self.namespace}")
        await asyncio.wait_for(self._ready.wait(), 30)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        path = f"/api/v1/namespaces/{self.namespace}/pods"
        rv = await self._list(path)
        self._ready.set()
        while True:
            # The API server closes watchers that fall behind (its cacher's
            # "unresponsiveness"): resume from the last version seen.
            params = {"watch": "1", "resourceVersion": rv, "timeoutSeconds": "86400"}
            try:
                async for line in self.kube.stream(path, params, idle_timeout=86400):
                    rv = self._apply(orjson.loads(line), time.monotonic()) or rv
            except Gone:
                rv = await self._list(path)
            except Unavailable:
                await asyncio.sleep(0.1)

    async def _list(self, path: str) -> str:
        """(Re)list: pods bound meanwhile count as bound now; return the version."""
        listing = await self.kube.get(path)
        now = time.monotonic()
        present = set()
        for obj in listing["items"]:
            self._apply({"type": "ADDED", "object": obj}, now)
            present.add(obj["metadata"]["name"])
        for name, seen in self.pods.items():
            if name not in present and seen.deleted_at is None:
                seen.deleted_at = now
                self.deleted[name[:2]] += 1
        rv: str = listing["metadata"]["resourceVersion"]
        return rv

    def _apply(self, event: dict[str, Any], now: float) -> str | None:
        obj = event["object"]
        if event["type"] == "ERROR":
            if obj.get("code") == 410:
                raise Gone(str(obj.get("message")))
            raise RuntimeError(f"pod watch failed: {obj}")
        meta = obj["metadata"]
        name = meta["name"]
        prefix = name[:2]
        seen = self.pods.get(name)
        if seen is None:
            seen = self.pods[name] = PodSeen(added_at=now)
            self.added[prefix] += 1
        node = obj["spec"].get("nodeName")
        if node and seen.bound_at is None:
            seen.bound_at, seen.node = now, node
            self.bound[prefix] += 1
        if event["type"] == "DELETED" and seen.deleted_at is None:
            seen.deleted_at = now
            self.deleted[prefix] += 1
        version: str | None = meta.get("resourceVersion")
        return version

    def failed(self) -> BaseException | None:
        if self._task is not None and self._task.done() and not self._task.cancelled():
            return self._task.exception()
        return None

    def placements(self) -> dict[str, str | None]:
        """Where each pod still present is bound (deleted pods, e.g. victims, left out)."""
        return {n: seen.node for n, seen in self.pods.items() if seen.deleted_at is None}

    def of(self, prefix: str) -> dict[str, PodSeen]:
        return {name: seen for name, seen in self.pods.items() if name.startswith(prefix)}
