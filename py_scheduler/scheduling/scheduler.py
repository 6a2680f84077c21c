"""The scheduler: pop a pod, run its scheduling cycle, bind it asynchronously.

``Scheduler`` wires the parts kube-scheduler keeps apart: the cluster-event
handlers it is built on (:mod:`.eventhandlers`), the scheduling cycle
(:mod:`.schedule_one`), the binding cycle (:mod:`.binding_cycle`) and the
status writer (:mod:`.status_writer`), over one cache, queue and nominator.
It runs the loop and owns the background tasks that shutdown drains.
:mod:`.build` constructs it from a configuration.

``leading`` tells whether this replica may still schedule: the leader
elector's renew deadline, checked before every cycle here and before every
PreBind and Bind in the binding cycle, as client-go's elector bounds a
leader's work by its last renewal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from py_scheduler.framework.custom_resources import CustomObjects
from py_scheduler.framework.recorder import NO_METRICS, MetricsRecorder
from py_scheduler.framework.runtime import Framework
from py_scheduler.framework.types import QueuedPodInfo
from py_scheduler.model import PodInfo
from py_scheduler.scheduling.algorithm import Algorithm
from py_scheduler.scheduling.binding_cycle import BindingCycle
from py_scheduler.scheduling.cache import Cache
from py_scheduler.scheduling.eventhandlers import EventHandlers
from py_scheduler.scheduling.nominator import Nominator
from py_scheduler.scheduling.observer import CycleObserver
from py_scheduler.scheduling.pod_groups import PodGroupIndex
from py_scheduler.scheduling.preemption import Preemptor
from py_scheduler.scheduling.queue import SchedulingQueue
from py_scheduler.scheduling.schedule_one import (
    CycleListener,
    CycleOutcome,
    SchedulingCycle,
    Settle,
)
from py_scheduler.scheduling.status_writer import StatusWriter
from py_scheduler.scheduling.tasks import Tasks

SCHEDULER_STOPPING: Final = "the scheduler is stopping"
# How long a preemptor waits, once its victims are evicted, before its next
# attempt: the watch should show them terminating by then.
PREEMPTION_SETTLE: Final = 0.5


async def settle_for_watch() -> None:
    await asyncio.sleep(PREEMPTION_SETTLE)


class NotLeading(Exception):
    """The leader lease is no longer fresh: this replica must stop scheduling."""


class Scheduler(EventHandlers):
    def __init__(
        self,
        *,
        profiles: Mapping[str, Framework],
        cache: Cache,
        queue: SchedulingQueue,
        nominator: Nominator,
        algorithm: Algorithm,
        bind_concurrency: int = 64,
        recorder: MetricsRecorder = NO_METRICS,
        listeners: Sequence[CycleListener] = (),
        settle: Settle = settle_for_watch,
        pod_groups: PodGroupIndex | None = None,
        observer: CycleObserver | None = None,
    ) -> None:
        super().__init__(
            profiles=profiles, cache=cache, queue=queue, nominator=nominator, pod_groups=pod_groups
        )
        self.algorithm = algorithm
        self.tasks = Tasks()
        # Whether this replica may still schedule and bind (the leader lease is
        # fresh); the live scheduler sets it to its elector's.
        self.leading: Callable[[], bool] = lambda: True
        writer = StatusWriter(tasks=self.tasks, recorder=recorder, pending=self.pending)
        self._writer = writer

        def permit_failed(pod: PodInfo, message: str, error: bool) -> None:
            for listener in listeners:
                listener(CycleOutcome(pod, message=message, error=error))

        binding = BindingCycle(
            cache=cache,
            queue=queue,
            pending=self.pending,
            writer=writer,
            recorder=recorder,
            concurrency=bind_concurrency,
            observer=observer,
            on_permit_failed=permit_failed,
            leading=lambda: self.leading(),
        )
        for fwk in profiles.values():
            fwk.set_activator(queue.activate)
        self._cycle = SchedulingCycle(
            profiles=profiles,
            cache=cache,
            queue=queue,
            nominator=nominator,
            algorithm=algorithm,
            pending=self.pending,
            binding=binding,
            writer=writer,
            tasks=self.tasks,
            recorder=recorder,
            listeners=listeners,
            settle=settle,
            observer=observer,
        )
        self._stopping = False

    @property
    def custom_objects(self) -> CustomObjects:
        """The kinds plugins watch and their objects (one store for all profiles)."""
        return next(iter(self.profiles.values())).custom

    @property
    def preemptor(self) -> Preemptor:
        return self._cycle.preemptor

    async def run(self) -> None:
        while not self._stopping:
            queued = await self.queue.pop()
            if queued is None:
                return
            if not self.leading():
                self.queue.requeue_after_error(queued)
                raise NotLeading("the leader lease went stale before a scheduling cycle")
            self.schedule_one(queued)
            # One pod at a time must not starve the watches of the event loop.
            await asyncio.sleep(0)

    def schedule_one(self, queued: QueuedPodInfo) -> CycleOutcome | None:
        return self._cycle.schedule_one(queued)

    def reject_undecodable(self, pod: PodInfo, message: str) -> None:
        """A pod of ours the decoder refuses never reaches the queue; it gets
        PodScheduled=False (SchedulerError) and a FailedScheduling event with
        ``message``, through the one writer of both."""
        fwk = self.profiles.get(pod.scheduler_name)
        if fwk is not None:
            self._writer.failure(
                fwk, pod, message, reason="SchedulerError", nominated=None, pending_only=False
            )

    def stop(self) -> None:
        """Stop taking pods. Pods held at Permit go back to the queue (as after
        an error), so that their reservations are released and the next
        leader schedules them, instead of holding shutdown for their timeouts."""
        self._stopping = True
        self.queue.close()
        released: set[int] = set()
        for fwk in self.profiles.values():
            for waiting in fwk.waiting_pods():
                if id(waiting) not in released:
                    released.add(id(waiting))
                    waiting.preempt("", SCHEDULER_STOPPING)

    async def drain(self, timeout: float) -> None:
        """Wait for in-flight binds, evictions and writes (graceful shutdown),
        then for the API writes plugins run from their own tasks (a binding
        cycle's Unreserve may have started some)."""
        await self.tasks.drain(timeout)
        plugin_writes = {asyncio.ensure_future(fwk.drain()) for fwk in self.profiles.values()}
        # wait, not wait_for: writes still running after the timeout are not cancelled.
        await asyncio.wait(plugin_writes, timeout=timeout)
