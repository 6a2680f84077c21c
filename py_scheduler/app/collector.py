"""The cyclic garbage collector, told what a scheduler's heap looks like.

Nearly everything the scheduler allocates is either short-lived (a cycle's
statuses, a request's headers, a watch event's dicts) or lives as long as
the cluster holds it (the cached nodes and pods, decoded once). CPython's
collector cannot tell: a full collection walks every cached object again,
and while the initial lists fill the caches one comes each time the heap
has grown by a quarter (twenty of them for 5000 nodes and 11,000 pods, up
to 110 ms each: an eighth of the scheduler's CPU in a 10,000-pod burst, and
as many pauses of the loop). So:

- until the caches are synced (at most ``hold`` seconds) the collector is
  off: the lists allocate little garbage, and none of it in cycles;
- then one full collection, and whatever survived is frozen
  (``gc.freeze``: left out of every later collection);
- every ``interval`` after, the young generations are collected and what
  survived them is frozen too;
- every ``thaw_every`` intervals everything is thawed and collected in full
  once, so that garbage cycles caught in a freeze are freed after all;
- full collections come from those thaws only (the oldest generation's
  threshold is out of reach): each automatic one walked everything promoted
  since the last freeze, 15 to 45 ms, which was the p99 of create-to-bound
  at 100 pods/s.

Objects without cycles (nearly all of them) are freed by reference counting
either way.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Sequence
from typing import Final

import structlog

log = structlog.get_logger("py_scheduler.app")

HOLD: Final = 120.0
INTERVAL: Final = 5.0
THAW_EVERY: Final = 120  # intervals: a full collection every 10 minutes
FULL_THRESHOLD: Final = 1_000_000


class Collector:
    def __init__(
        self, *, hold: float = HOLD, interval: float = INTERVAL, thaw_every: int = THAW_EVERY
    ) -> None:
        if hold < 0 or interval <= 0 or thaw_every < 1:
            raise ValueError(
                "the collector needs a non-negative hold, a positive interval and thaw count"
            )
        self.hold = hold
        self.interval = interval
        self.thaw_every = thaw_every
        self.freezes = 0
        self.thaws = 0

    def freeze(self) -> None:
        # The young generations first: their garbage cycles die now, not at the thaw.
        gc.collect(1)
        gc.freeze()
        self.freezes += 1

    def thaw_and_collect(self) -> None:
        started = time.perf_counter()
        gc.unfreeze()
        found = gc.collect()
        gc.freeze()
        self.thaws += 1
        log.debug(
            "full collection",
            unreachable=found,
            seconds=round(time.perf_counter() - started, 3),
        )

    async def run(self, synced: Sequence[asyncio.Event]) -> None:
        """Off until ``synced`` are all set (or ``hold`` passed), then on the interval."""
        gc.disable()
        try:
            async with asyncio.timeout(self.hold):
                for event in synced:
                    await event.wait()
        except TimeoutError:
            log.info("caches not synced yet; the garbage collector is back on")
        finally:
            self.thaw_and_collect()
            gen0, gen1, _ = gc.get_threshold()
            # Full collections come from the thaw only.
            gc.set_threshold(gen0, gen1, FULL_THRESHOLD)
            gc.enable()
        ticks = 0
        while True:
            await asyncio.sleep(self.interval)
            ticks += 1
            if ticks % self.thaw_every == 0:
                self.thaw_and_collect()
            else:
                self.freeze()
