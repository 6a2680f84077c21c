"""Client-side request rate limiting, as client-go's token bucket does it.

``clientConnection.qps`` and ``burst`` bound the scheduler's request rate
toward the API server: a bucket of ``burst`` tokens refills at ``qps`` per
second and every request takes one. A request that finds the bucket empty
reserves the next token and waits for it, so waiters are served in arrival
order. As in client-go, ``qps`` 0 means the default of 5 and ``burst`` 0 the
default of 10.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Final

DEFAULT_QPS: Final = 5.0
DEFAULT_BURST: Final = 10


class TokenBucket:
    def __init__(
        self, qps: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.qps = qps if qps > 0 else DEFAULT_QPS
        self.burst = burst if burst > 0 else DEFAULT_BURST
        self._clock = clock
        self._tokens = float(self.burst)
        self._last = clock()

    def reserve(self) -> float:
        """Take a token; return how long to wait before using it (0 if one was ready)."""
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    async def acquire(self) -> None:
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)
