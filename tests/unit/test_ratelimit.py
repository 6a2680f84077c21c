"""The client-side token bucket (client-go's semantics), on a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from py_scheduler.kube.ratelimit import DEFAULT_BURST, DEFAULT_QPS, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_requests_are_paced_at_qps() -> None:
    clock = Clock()
    bucket = TokenBucket(10, 3, clock=clock)
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    # Waiters reserve in arrival order: the 4th waits one interval, the 5th two.
    assert bucket.reserve() == pytest.approx(0.1)
    assert bucket.reserve() == pytest.approx(0.2)


def test_tokens_refill_with_time_up_to_the_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(10, 3, clock=clock)
    for _ in range(3):
        bucket.reserve()
    clock.now += 0.25  # 2.5 tokens back
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == pytest.approx(0.05)
    clock.now += 60  # a long idle time refills only up to the burst
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.reserve() > 0


def test_zero_means_client_go_defaults() -> None:
    bucket = TokenBucket(0, 0, clock=Clock())
    assert (bucket.qps, bucket.burst) == (DEFAULT_QPS, DEFAULT_BURST)


async def test_acquire_sleeps_for_the_reserved_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    bucket = TokenBucket(4, 1, clock=Clock())
    await bucket.acquire()
    await bucket.acquire()
    assert slept == [pytest.approx(0.25)]
