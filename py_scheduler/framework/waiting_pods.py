"""Pods held at Permit (upstream's ``waiting_pods_map.go``).

A Permit plugin that answers Wait leaves its pod assumed on the node (the
cache counts it, so nothing else is placed in its room) while the scheduling
loop goes on with other pods. Each waiting plugin has a timer; the pod goes
on to its binding cycle once every one of them has allowed it, or is
rejected by the first ``reject``, ``preempt`` or timeout. Whatever decides
calls the ``on_done`` the scheduling cycle registered, synchronously and
exactly once: the binding cycle then starts as its own task, never inside
the plugin call that decided.

Timers come from a ``Timers``: the event loop's in the live scheduler,
``ManualTimers`` in the simulator and in tests, so a simulated wait ends by
the simulator's choice, not by the wall clock. Used by
:mod:`py_scheduler.framework.runtime` (the ``Handle`` side) and by the
scheduling and binding cycles.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Final, Protocol

from py_scheduler.framework.status import Code, Status
from py_scheduler.model import PodInfo, PodUID

# Upstream's maxTimeout: no plugin may hold a pod longer.
MAX_PERMIT_WAIT: Final = 15 * 60.0
# The reason a waiting pod gets when its pod object is deleted (RejectWaitingPod).
REMOVED: Final = "removed"
# The reason of a waiting pod evicted in memory by preemption.
PREEMPTED: Final = "preempted"

# Called once with the outcome and the seconds the pod waited.
PermitDone = Callable[[Status, float], None]


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Timers(Protocol):
    """Where waiting pods' timeouts run."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle: ...

    def now(self) -> float: ...


class LoopTimers:
    """The running event loop's timers and the monotonic clock."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        return asyncio.get_running_loop().call_later(delay, callback)

    def now(self) -> float:
        return time.monotonic()


class _ManualTimer:
    __slots__ = ("callback", "cancelled", "deadline")

    def __init__(self, deadline: float, callback: Callable[[], None]) -> None:
        self.deadline = deadline
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualTimers:
    """Timers that fire only when asked, in deadline order, on a virtual clock."""

    def __init__(self, now: float = 0.0) -> None:
        self._now = now
        self._seq = itertools.count()
        self._heap: list[tuple[float, int, _ManualTimer]] = []

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        timer = _ManualTimer(self._now + max(delay, 0.0), callback)
        heapq.heappush(self._heap, (timer.deadline, next(self._seq), timer))
        return timer

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> int:
        """Move the clock on, firing every timer due by then; returns how many fired."""
        until = self._now + seconds
        fired = 0
        while (deadline := self._next_deadline()) is not None and deadline <= until:
            fired += self.fire_next()
        self._now = max(self._now, until)
        return fired

    def fire_next(self) -> bool:
        """Jump to the earliest live timer and fire it; False when none is left."""
        if self._next_deadline() is None:
            return False
        deadline, _, timer = heapq.heappop(self._heap)
        self._now = max(self._now, deadline)
        timer.callback()
        return True

    def _next_deadline(self) -> float | None:
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None


def go_duration(seconds: float) -> str:
    """``seconds`` as Go's ``time.Duration.String()`` prints it (``10s``,
    ``1m30s``, ``500ms``, ``1.5s``): upstream's messages embed durations so."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size, digits in (("ms", 1_000_000, 6), ("µs", 1_000, 3), ("ns", 1, 0)):
            if ns >= size or unit == "ns":
                return sign + _with_fraction(ns // size, ns % size, digits) + unit
    whole, frac = divmod(ns, 1_000_000_000)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    out = _with_fraction(secs, frac, 9) + "s"
    if hours or minutes:
        out = f"{minutes}m" + out
    if hours:
        out = f"{hours}h" + out
    return sign + out


def _with_fraction(whole: int, frac: int, digits: int) -> str:
    if not frac or not digits:
        return str(whole)
    return f"{whole}." + f"{frac:0{digits}d}".rstrip("0")


class WaitingPod:
    """One pod held at Permit; what ``Handle.get_waiting_pod`` returns."""

    __slots__ = ("_on_done", "_pending", "_pod", "_started", "_status", "_timers")

    def __init__(
        self,
        pod: PodInfo,
        waits: Mapping[str, float],
        timers: Timers,
        on_done: PermitDone,
    ) -> None:
        self._pod = pod
        self._timers = timers
        self._on_done = on_done
        self._status: Status | None = None
        self._started = timers.now()
        self._pending: dict[str, TimerHandle] = {}
        for plugin, wait in waits.items():
            self._pending[plugin] = timers.call_later(
                wait, functools.partial(self._timed_out, plugin, wait)
            )

    @property
    def pod(self) -> PodInfo:
        """The assumed pod (``node_name`` is the node it waits on)."""
        return self._pod

    @property
    def done(self) -> bool:
        return self._status is not None

    def pending_plugins(self) -> list[str]:
        """The Permit plugins that have not allowed the pod yet."""
        return list(self._pending)

    def allow(self, plugin: str) -> None:
        """``plugin`` lets the pod go; it binds once no plugin is pending."""
        timer = self._pending.pop(plugin, None)
        if timer is not None:
            timer.cancel()
        if not self._pending:
            self._finish(Status())

    def reject(self, plugin: str, message: str) -> bool:
        """The pod is unschedulable: unreserved, forgotten and requeued with
        ``message``. False when it was already allowed or rejected."""
        return self._finish(Status(Code.UNSCHEDULABLE, (message,), plugin))

    def preempt(self, plugin: str, message: str) -> bool:
        """As ``reject``, but the pod goes to backoff as after an error (it lost
        its room to a preemptor, it is not unschedulable)."""
        return self._finish(Status(Code.ERROR, (message,), plugin))

    def _timed_out(self, plugin: str, wait: float) -> None:
        self.reject(
            plugin, f"rejected due to timeout after waiting {go_duration(wait)} at plugin {plugin}"
        )

    def _finish(self, status: Status) -> bool:
        if self._status is not None:
            return False
        self._status = status
        for timer in self._pending.values():
            timer.cancel()
        self._on_done(status, self._timers.now() - self._started)
        return True


class WaitingPods:
    """Every pod waiting at Permit, by UID; one map shared by all profiles."""

    def __init__(self, timers: Timers | None = None) -> None:
        self.timers: Timers = timers if timers is not None else LoopTimers()
        self._pods: dict[PodUID, WaitingPod] = {}

    def add(self, pod: PodInfo, waits: Mapping[str, float], on_done: PermitDone) -> WaitingPod:
        """Hold ``pod``; ``waits`` maps each waiting plugin to its timeout."""

        def done(status: Status, waited: float) -> None:
            self._pods.pop(pod.uid, None)
            on_done(status, waited)

        if not waits:
            raise ValueError(f"pod {pod.key}: a waiting pod needs at least one waiting plugin")
        waiting = WaitingPod(pod, waits, self.timers, done)
        self._pods[pod.uid] = waiting
        return waiting

    def get(self, uid: str) -> WaitingPod | None:
        return self._pods.get(PodUID(uid))

    def __iter__(self) -> Iterator[WaitingPod]:
        # A copy: allowing or rejecting while iterating removes entries.
        return iter(list(self._pods.values()))

    def __len__(self) -> int:
        return len(self._pods)
