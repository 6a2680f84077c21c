"""``Tasks``: the background API work the scheduler owns (binding cycles,
status writes, evictions), tracked so that shutdown and the simulator can
wait for all of it. Used by :mod:`.scheduler`, :mod:`.schedule_one`,
:mod:`.binding_cycle` and :mod:`.status_writer`."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Tasks:
    running: set[asyncio.Task[object]] = field(default_factory=set)

    def spawn(self, coro: Coroutine[Any, Any, object], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.running.add(task)
        task.add_done_callback(self.running.discard)

    async def drain(self, timeout: float) -> None:
        """Wait for the tasks running now (not for those they spawn meanwhile)."""
        if self.running:
            await asyncio.wait(set(self.running), timeout=timeout)
