"""The garbage collector policy: off until the caches are synced, then young
collections and freezes on the interval, and a full thawed collection now
and then."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from py_scheduler.app.collector import FULL_THRESHOLD, Collector


@pytest.fixture(autouse=True)
def restore_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    gc.enable()


async def test_off_until_synced_then_on_with_what_survived_frozen() -> None:
    synced = [asyncio.Event(), asyncio.Event()]
    collector = Collector(hold=30.0, interval=0.01, thaw_every=3)
    task = asyncio.create_task(collector.run(synced))
    await asyncio.sleep(0.05)
    assert not gc.isenabled()
    assert collector.thaws == 0
    synced[0].set()
    await asyncio.sleep(0.02)
    assert not gc.isenabled()
    synced[1].set()
    # Each full collection walks this test process's whole heap, which after a
    # full test run takes a while: wait for the second thaw, within bounds.
    for _ in range(3000):  # at most 30 s
        if collector.thaws >= 2:
            break
        await asyncio.sleep(0.01)
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0
    # Full collections come from the thaws only.
    assert gc.get_threshold()[2] == FULL_THRESHOLD
    # One full collection at sync, then one every third interval; freezes between.
    assert collector.thaws >= 2
    assert collector.freezes >= 2 * (collector.thaws - 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_back_on_after_the_hold_even_without_a_sync() -> None:
    collector = Collector(hold=0.05, interval=10.0)
    task = asyncio.create_task(collector.run([asyncio.Event()]))
    await asyncio.sleep(0.01)
    assert not gc.isenabled()
    await asyncio.sleep(0.1)
    assert gc.isenabled()
    assert collector.thaws == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_cancelled_while_held_turns_the_collector_back_on() -> None:
    task = asyncio.create_task(Collector(hold=30.0).run([asyncio.Event()]))
    await asyncio.sleep(0.01)
    assert not gc.isenabled()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gc.isenabled()


def test_a_cycle_frozen_by_mistake_is_freed_at_the_thaw() -> None:
    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a
    gc.collect()
    gc.freeze()
    gone = weakref.ref(a)
    del a, b
    gc.collect()
    assert gone() is not None  # frozen: no collection sees it
    Collector().thaw_and_collect()
    assert gone() is None


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="positive interval"):
        Collector(interval=0)
