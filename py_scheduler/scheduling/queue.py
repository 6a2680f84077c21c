"""The scheduling queue, as kube-scheduler's: activeQ, backoffQ, unschedulable pool.

- **activeQ** is ordered by the QueueSort plugin (priority, then the time the
  pod last entered the queue).
- **backoffQ** holds pods waiting out ``initial * 2^(n-1)`` seconds (capped)
  after their n-th failure; expired pods move to activeQ every second, and
  ``pop`` takes from it when activeQ is empty (SchedulerPopFromBackoffQ).
- **unschedulable** holds rejected pods until a cluster event that one of the
  plugins that rejected them registered for (and whose hint says Queue)
  arrives, or until they have waited five minutes (the leftover flush).
  Gated pods (PreEnqueue said no) also wait here and are never attempted.

Errors (no rejecting plugin) always go to backoffQ. All methods are
synchronous except ``pop``; the owner runs :meth:`run_flushes` as a task.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import structlog

from py_scheduler.framework.recorder import NO_METRICS, MetricsRecorder
from py_scheduler.framework.status import Status
from py_scheduler.framework.types import (
    FORCE_ACTIVATE,
    UNSCHEDULABLE_TIMEOUT,
    ClusterEvent,
    ClusterEventWithHint,
    QueuedPodInfo,
    QueueingHint,
)
from py_scheduler.model import PodInfo, PodUID

log = structlog.get_logger("py_scheduler.queue")

ACTIVE: Final = "active"
BACKOFF: Final = "backoff"
UNSCHEDULABLE: Final = "unschedulable"
GATED: Final = "gated"

MAX_IN_UNSCHEDULABLE: Final = 300.0  # DefaultPodMaxInUnschedulablePodsDuration
LEFTOVER_FLUSH_PERIOD: Final = 30.0
BACKOFF_FLUSH_PERIOD: Final = 1.0

Less = Callable[[QueuedPodInfo, QueuedPodInfo], bool]


class _Active:
    """A heap whose order is the QueueSort plugin's ``less``."""

    __slots__ = ("entry", "less", "token")

    def __init__(self, entry: QueuedPodInfo, less: Less, token: int) -> None:
        self.entry = entry
        self.less = less
        self.token = token

    def __lt__(self, other: _Active) -> bool:
        return self.less(self.entry, other.entry)


@dataclass(slots=True)
class _Where:
    queue: str
    queued: QueuedPodInfo
    unschedulable_since: float = 0.0
    # Matches the heap entry that placed the pod; older entries are stale.
    token: int = -1


class SchedulingQueue:
    def __init__(
        self,
        *,
        less: Less,
        pre_enqueue: Callable[[PodInfo], Status],
        events: Mapping[str, Sequence[ClusterEventWithHint] | None],
        initial_backoff: float = 1.0,
        max_backoff: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        recorder: MetricsRecorder = NO_METRICS,
    ) -> None:
        self._less = less
        self._pre_enqueue = pre_enqueue
        self._events = events
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self._clock = clock
        self._count = recorder.queue_incoming
        self._active: list[_Active] = []
        self._backoff: list[tuple[float, int, QueuedPodInfo]] = []
        # Pods that failed with an error: never popped before their backoff ends.
        self._error_backoff: list[tuple[float, int, QueuedPodInfo]] = []
        self._seq = itertools.count()
        self._where: dict[PodUID, _Where] = {}
        # The unschedulable pool alone: cluster events and the leftover flush
        # scan only it, not every queued pod (each bind confirmation is an event).
        self._unschedulable: dict[PodUID, _Where] = {}
        # Pods a PreEnqueue plugin other than SchedulingGates holds back: an event
        # that plugin registered may let them in (their own updates always do).
        self._gated_by_event: dict[PodUID, _Where] = {}
        self._in_flight: dict[PodUID, QueuedPodInfo] = {}
        self._wakeup = asyncio.Event()
        self._closed = False

    # -- sizes (metrics, tests) ------------------------------------------------------

    def lengths(self) -> dict[str, int]:
        counts = {ACTIVE: 0, BACKOFF: 0, UNSCHEDULABLE: 0, GATED: 0}
        for where in self._where.values():
            counts[where.queue] += 1
        return counts

    def unschedulable_by_plugin(self) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        for where in self._unschedulable.values():
            for plugin in where.queued.unschedulable_plugins:
                key = (plugin, where.queued.pod.scheduler_name)
                counts[key] = counts.get(key, 0) + 1
        return counts

    def where(self, uid: PodUID) -> str | None:
        found = self._where.get(uid)
        return found.queue if found else None

    def __len__(self) -> int:
        return len(self._where)

    # -- pods from the watch -----------------------------------------------------------

    def add(self, pod: PodInfo, *, event: str = "PodAdd") -> None:
        if pod.uid in self._where or pod.uid in self._in_flight:
            self.update(pod)
            return
        now = self._clock()
        queued = QueuedPodInfo(pod=pod, timestamp=now, initial_attempt_timestamp=now)
        self._enqueue_ready(queued, event)

    def update(self, pod: PodInfo) -> None:
        if pod.uid in self._in_flight:
            self._in_flight[pod.uid].pod = pod
            return
        where = self._where.get(pod.uid)
        if where is None:
            self.add(pod, event="PodUpdate")
            return
        old = where.queued.pod
        where.queued.pod = pod
        if where.queue == GATED:
            status = self._pre_enqueue(pod)
            if status.is_success:
                self._drop(pod.uid)
                where.queued.gating_plugin = ""
                self._push_active(where.queued, "UpdatePodSchedulingGatesEliminated")
        elif where.queue == UNSCHEDULABLE and _spec_changed(old, pod):
            # Legacy rule (no hint for own-pod updates): anything but status moves it.
            self._drop(pod.uid)
            self._requeue(where.queued, "UnscheduledPodUpdate")

    def delete(self, pod: PodInfo) -> None:
        self._drop(pod.uid)  # heaps drop stale entries lazily
        self._in_flight.pop(pod.uid, None)

    # -- the scheduling loop's side ---------------------------------------------------------

    async def pop(self) -> QueuedPodInfo | None:
        """The next pod to schedule; None once the queue is closed."""
        while not self._closed:
            queued = self._pop_now()
            if queued is not None:
                return queued
            self._wakeup.clear()
            await self._wakeup.wait()
        return None

    def pop_nowait(self) -> QueuedPodInfo | None:
        """The next pod if one is ready now (the simulator's loop)."""
        return self._pop_now()

    def _pop_now(self) -> QueuedPodInfo | None:
        while self._active:
            item = heapq.heappop(self._active)
            if self._take(item.entry, ACTIVE, item.token):
                return item.entry
        # Nothing active: a pod still in backoff is better than idling.
        while self._backoff:
            _, token, entry = heapq.heappop(self._backoff)
            if self._take(entry, BACKOFF, token):
                return entry
        return None

    def _current(self, entry: QueuedPodInfo, queue: str, token: int) -> bool:
        where = self._where.get(entry.pod.uid)
        return where is not None and where.queue == queue and where.token == token

    def _take(self, entry: QueuedPodInfo, queue: str, token: int) -> bool:
        if not self._current(entry, queue, token):
            return False  # stale heap entry
        self._drop(entry.pod.uid)
        entry.attempts += 1
        self._in_flight[entry.pod.uid] = entry
        return True

    def done(self, uid: PodUID) -> None:
        """The pod's scheduling cycle is over (assumed, or handed back)."""
        self._in_flight.pop(uid, None)

    def add_unschedulable(
        self,
        queued: QueuedPodInfo,
        *,
        rejectors: Iterable[str] = (),
        pending: Iterable[str] = (),
        error: bool = False,
    ) -> None:
        """Return a pod after a failed attempt (AddUnschedulableIfNotPresent)."""
        self._in_flight.pop(queued.pod.uid, None)
        if queued.pod.uid in self._where:
            return
        queued.timestamp = self._clock()
        queued.flushed_from_unschedulable = False  # back after an attempt
        queued.unschedulable_plugins = frozenset(rejectors)
        queued.pending_plugins = frozenset(pending)
        if error or not (queued.unschedulable_plugins or queued.pending_plugins):
            queued.consecutive_errors += 1
            self._push_backoff(queued, "ScheduleAttemptFailure")
            return
        queued.unschedulable_count += 1
        queued.consecutive_errors = 0
        self._place(queued.pod.uid, _Where(UNSCHEDULABLE, queued, queued.timestamp))
        self._count(UNSCHEDULABLE, "ScheduleAttemptFailure")

    def requeue_after_error(self, queued: QueuedPodInfo) -> None:
        """A binding failure: back off and retry (never 'unschedulable')."""
        self.add_unschedulable(queued, error=True)

    # -- cluster events ---------------------------------------------------------------------

    def move_all(
        self,
        event: ClusterEvent,
        old: object = None,
        new: object = None,
        *,
        only: Callable[[PodInfo], bool] | None = None,
    ) -> int:
        """Move unschedulable pods that this event may help (and ``only`` accepts);
        returns how many moved."""
        moved = 0
        for uid, where in list(self._unschedulable.items()):
            if only is not None and not only(where.queued.pod):
                continue
            if self._helps(where.queued, event, old, new):
                self._drop(uid)
                self._requeue(where.queued, event.label)
                moved += 1
        for uid, where in list(self._gated_by_event.items()):
            if only is not None and not only(where.queued.pod):
                continue
            if self._helps_gated(where.queued, event, old, new):
                # PreEnqueue runs again; a pod still held back stays gated.
                self._drop(uid)
                self._push_active(where.queued, event.label)
                moved += self.where(uid) == ACTIVE
        return moved

    def _helps_gated(
        self, queued: QueuedPodInfo, event: ClusterEvent, old: object, new: object
    ) -> bool:
        if event is UNSCHEDULABLE_TIMEOUT or event is FORCE_ACTIVATE:
            return False  # a gate opens on a real change only
        gating = queued.gating_plugin
        for entry in self._events.get(gating) or ():
            if not event.matches(entry.event):
                continue
            if entry.hint is None:
                return True
            try:
                if entry.hint(queued.pod, old, new) is QueueingHint.QUEUE:
                    return True
            except Exception:
                log.exception("queueing hint failed", plugin=gating, cluster_event=event.label)
                return True
        return False

    def _helps(self, queued: QueuedPodInfo, event: ClusterEvent, old: object, new: object) -> bool:
        if event is UNSCHEDULABLE_TIMEOUT or event is FORCE_ACTIVATE:
            return True
        for plugin in queued.unschedulable_plugins | queued.pending_plugins:
            registered = self._events.get(plugin)
            if registered is None:
                return True  # no EnqueueExtensions: any event may help
            for entry in registered:
                if not event.matches(entry.event):
                    continue
                if entry.hint is None:
                    return True
                try:
                    if entry.hint(queued.pod, old, new) is QueueingHint.QUEUE:
                        return True
                except Exception:
                    log.exception("queueing hint failed", plugin=plugin, cluster_event=event.label)
                    return True  # an erroring hint counts as Queue, as upstream
        return False

    def back_off(self, uid: PodUID) -> None:
        """Move an unschedulable pod to backoffQ (its plan failed; retry later)."""
        where = self._where.get(uid)
        if where is not None and where.queue == UNSCHEDULABLE:
            self._drop(uid)
            self._push_backoff(where.queued, "PreemptionRefused")

    def activate(self, pods: Iterable[PodInfo]) -> None:
        """Move these pods to activeQ now (upstream's Activate). A gated pod runs
        PreEnqueue again on the way, as upstream's does, and stays gated if held."""
        for pod in pods:
            where = self._where.get(pod.uid)
            if where is not None and where.queue in (UNSCHEDULABLE, BACKOFF, GATED):
                self._drop(pod.uid)
                self._push_active(where.queued, FORCE_ACTIVATE.label)

    # -- periodic flushes -------------------------------------------------------------------

    def flush_backoff_completed(self) -> int:
        now = self._clock()
        moved = 0
        for heap in (self._backoff, self._error_backoff):
            while heap and heap[0][0] <= now:
                _, token, entry = heapq.heappop(heap)
                if not self._current(entry, BACKOFF, token):
                    continue
                self._drop(entry.pod.uid)
                self._push_active(entry, "BackoffComplete")
                moved += 1
        return moved

    def flush_unschedulable_leftover(self) -> int:
        now = self._clock()
        moved = 0
        for uid, where in list(self._unschedulable.items()):
            if now - where.unschedulable_since > MAX_IN_UNSCHEDULABLE:
                self._drop(uid)
                where.queued.flushed_from_unschedulable = True
                self._requeue(where.queued, UNSCHEDULABLE_TIMEOUT.label)
                moved += 1
        return moved

    async def run_flushes(self) -> None:
        last_leftover = self._clock()
        while not self._closed:
            await asyncio.sleep(BACKOFF_FLUSH_PERIOD)
            self.flush_backoff_completed()
            if self._clock() - last_leftover >= LEFTOVER_FLUSH_PERIOD:
                last_leftover = self._clock()
                self.flush_unschedulable_leftover()

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    # -- internals ------------------------------------------------------------------------

    def _place(self, uid: PodUID, where: _Where) -> None:
        self._where[uid] = where
        if where.queue == UNSCHEDULABLE:
            self._unschedulable[uid] = where
        else:
            self._unschedulable.pop(uid, None)
        if where.queue == GATED and self._events.get(where.queued.gating_plugin):
            self._gated_by_event[uid] = where
        else:
            self._gated_by_event.pop(uid, None)

    def _drop(self, uid: PodUID) -> None:
        self._where.pop(uid, None)
        self._unschedulable.pop(uid, None)
        self._gated_by_event.pop(uid, None)

    def backoff_duration(self, queued: QueuedPodInfo) -> float:
        count = queued.consecutive_errors or queued.unschedulable_count
        if count <= 0:
            return 0.0
        return float(min(self.initial_backoff * (1 << (count - 1)), self.max_backoff))

    def _backing_off(self, queued: QueuedPodInfo) -> bool:
        return queued.timestamp + self.backoff_duration(queued) > self._clock()

    def _requeue(self, queued: QueuedPodInfo, event: str) -> None:
        if self._backing_off(queued):
            self._push_backoff(queued, event)
        else:
            self._push_active(queued, event)

    def _enqueue_ready(self, queued: QueuedPodInfo, event: str) -> None:
        self._push_active(queued, event)

    def _push_active(self, queued: QueuedPodInfo, event: str) -> None:
        status = self._pre_enqueue(queued.pod)
        if not status.is_success:
            # A gated pod makes no attempt: the flush must not count for a later one.
            queued.flushed_from_unschedulable = False
            queued.gating_plugin = status.plugin
            queued.gating_message = status.message
            self._place(queued.pod.uid, _Where(GATED, queued, self._clock()))
            self._count(GATED, event)
            return
        token = next(self._seq)
        self._place(queued.pod.uid, _Where(ACTIVE, queued, token=token))
        heapq.heappush(self._active, _Active(queued, self._less, token))
        self._count(ACTIVE, event)
        self._wakeup.set()

    def _push_backoff(self, queued: QueuedPodInfo, event: str) -> None:
        expiry = queued.timestamp + self.backoff_duration(queued)
        queued.backoff_expiration = expiry
        token = next(self._seq)
        self._place(queued.pod.uid, _Where(BACKOFF, queued, token=token))
        if queued.consecutive_errors:
            heapq.heappush(self._error_backoff, (expiry, token, queued))
        else:
            heapq.heappush(self._backoff, (expiry, token, queued))
            # pop() may take from backoffQ when activeQ is empty.
            self._wakeup.set()
        self._count(BACKOFF, event)


def _spec_changed(old: PodInfo, new: PodInfo) -> bool:
    return (
        old.labels != new.labels
        or old.requests != new.requests
        or old.tolerations != new.tolerations
        or old.node_selector != new.node_selector
        or old.scheduling_gates != new.scheduling_gates
        or old.required_node_affinity != new.required_node_affinity
        # The resourceclaim controller named a template's claim (upstream's
        # UpdatePodGeneratedResourceClaim): DynamicResources may accept it now.
        or old.claim_statuses != new.claim_statuses
    )
