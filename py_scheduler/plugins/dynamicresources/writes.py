"""Claim writes that upstream makes from synchronous extension points.

kube-scheduler's DynamicResources calls the API from Unreserve (taking a pod
off ``reservedFor``) and PostFilter (deallocating a claim). Here those points
are synchronous, so the write runs as a task this object owns: started at
once, its failure logged (as upstream logs it; the pod's next attempt tries
again), and awaited by ``drain``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import structlog

from py_scheduler.cluster import ClusterError

log = structlog.get_logger("py_scheduler.plugins.dynamicresources")


class ClaimWrites:
    def __init__(self) -> None:
        self._running: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            coro.close()
            log.warning("claim write skipped: no event loop", write=what)
            return
        task = loop.create_task(self._guarded(coro, what), name=what)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    @staticmethod
    async def _guarded(coro: Coroutine[Any, Any, None], what: str) -> None:
        try:
            await coro
        except ClusterError as exc:
            log.warning("claim write failed", write=what, error=str(exc))

    async def drain(self) -> None:
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    def __len__(self) -> int:
        return len(self._running)
