"""The scheduling cycle (upstream's ``schedulingCycle`` in ``schedule_one.go``):
pop to assume, synchronously, so that no watch event lands mid-cycle and the
cache is the cycle's snapshot.

Filter and Score pick a node (:mod:`.algorithm`); the pod is assumed there,
reserved and permitted, then handed to the binding cycle as a task. A pod
that fits nowhere goes through PostFilter (preemption, carried out by
:mod:`.preemption`) and back to the queue; every failure is reported by the
status writer and to the listeners.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import structlog

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.recorder import MetricsRecorder
from py_scheduler.framework.runtime import Framework
from py_scheduler.framework.status import SUCCESS, Code, Status
from py_scheduler.framework.types import Diagnosis, FitError, PostFilterResult, QueuedPodInfo
from py_scheduler.model import NodeName, PodInfo, PodUID
from py_scheduler.scheduling.algorithm import Algorithm, SchedulingError
from py_scheduler.scheduling.binding_cycle import BindingCycle
from py_scheduler.scheduling.cache import Cache
from py_scheduler.scheduling.nominator import Nominator
from py_scheduler.scheduling.observer import CycleObserver
from py_scheduler.scheduling.preemption import Preemptor
from py_scheduler.scheduling.queue import SchedulingQueue
from py_scheduler.scheduling.status_writer import StatusWriter
from py_scheduler.scheduling.tasks import Tasks

log = structlog.get_logger("py_scheduler.scheduler")

# The rejector recorded for a preemptor held back while its evictions run;
# no event moves it, only the activation when they are done.
PREEMPTION_IN_FLIGHT: Final = "PreemptionInFlight"
PLUGIN_METRICS_EVERY: Final = 10


@dataclass
class CycleOutcome:
    """What one scheduling cycle decided for one pod, handed to the listeners:
    the node it was assumed on, or why it stays pending and whom preemption
    nominated and evicts for it. A pod has one per attempt."""

    pod: PodInfo
    node: str | None = None
    message: str = ""
    nominated_node: str | None = None
    victims: tuple[PodInfo, ...] = ()
    error: bool = False


CycleListener = Callable[[CycleOutcome], None]
# Awaited once a preemptor's evictions are done, before it is activated: time
# for the watch to show the victims terminating (live), or nothing (simulated).
Settle = Callable[[], Awaitable[None]]


class SchedulingCycle:
    def __init__(
        self,
        *,
        profiles: Mapping[str, Framework],
        cache: Cache,
        queue: SchedulingQueue,
        nominator: Nominator,
        algorithm: Algorithm,
        pending: Mapping[PodUID, PodInfo],
        binding: BindingCycle,
        writer: StatusWriter,
        tasks: Tasks,
        recorder: MetricsRecorder,
        listeners: Sequence[CycleListener],
        settle: Settle,
        observer: CycleObserver | None = None,
    ) -> None:
        self._profiles = profiles
        self._cache = cache
        self._queue = queue
        self._nominator = nominator
        self._algorithm = algorithm
        self._pending = pending
        self._binding = binding
        self._writer = writer
        self._tasks = tasks
        self._recorder = recorder
        self._listeners = tuple(listeners)
        self._settle = settle
        self._observer = observer
        self.preemptor = Preemptor(
            nominator=nominator,
            recorder=recorder,
            on_refused=self._preemption_refused,
            on_nomination_cleared=lambda pod: queue.activate([pod]),
        )
        self._cycles = 0

    def schedule_one(self, queued: QueuedPodInfo) -> CycleOutcome | None:
        pod = self._pending.get(queued.pod.uid, queued.pod)
        queued.pod = pod
        fwk = self._profiles.get(pod.scheduler_name)
        if fwk is None or pod.deleting or pod.node_name or self._cache.is_assumed(pod.uid):
            self._queue.done(pod.uid)
            return None
        if pod.uid in self.preemptor.preempting:
            # Its evictions are still being issued; it is activated once they are.
            self._queue.add_unschedulable(queued, rejectors=(PREEMPTION_IN_FLIGHT,))
            return None
        start = time.perf_counter()
        log.debug("attempting to schedule pod", pod=pod.key, attempt=queued.attempts)
        state = CycleState()
        # Every tenth cycle, starting with the first: upstream's 10% sample rate,
        # without leaving a quiet scheduler with no samples at all.
        self._cycles += 1
        state.record_plugin_metrics = self._cycles % PLUGIN_METRICS_EVERY == 1
        if state.record_plugin_metrics:
            state.plugin_seconds = {}
        try:
            result = self._algorithm.schedule(fwk, state, pod, self._cache)
        except FitError as fit:
            return self._unschedulable(fwk, state, queued, fit, start)
        except SchedulingError as exc:
            return self._failed(fwk, queued, exc.status, start)
        self._recorder.algorithm_duration(time.perf_counter() - start)

        node = result.node
        assumed = self._cache.assume(pod, node)
        self._nominator.remove(pod)
        waits: dict[str, float] = {}
        status = fwk.run_reserve(state, assumed, node)
        if status.is_success:
            began = time.perf_counter()
            status, waits = fwk.run_permit(state, assumed, node)
            self._recorder.extension_point(
                "Permit", status.code.value, fwk.profile_name, time.perf_counter() - began
            )
        if not status.is_success and status.code is not Code.WAIT:
            fwk.run_unreserve(state, assumed, node)
            self._cache.forget(assumed)
            if status.is_rejected:
                diagnosis = Diagnosis()
                diagnosis.node_to_status[node] = status
                diagnosis.unschedulable_plugins.add(status.plugin)
                return self._unschedulable(fwk, state, queued, FitError(pod, 1, diagnosis), start)
            return self._failed(fwk, queued, status, start)
        self._queue.done(pod.uid)

        def bind(permit: Status = SUCCESS) -> None:
            self._tasks.spawn(
                self._binding.run(fwk, state, queued, assumed, node, start, permit=permit),
                name=f"bind {pod.key}",
            )

        if status.code is Code.WAIT:
            log.debug("pod waiting on permit", pod=pod.key, node=node, plugins=sorted(waits))

            def permitted(permit: Status, waited: float) -> None:
                self._recorder.permit_wait(permit.code.value, waited)
                bind(permit)

            fwk.add_waiting_pod(assumed, waits, permitted)
            if pod.nominated_node != node:
                self._writer.nominate(fwk, pod, node)
        else:
            bind()
        return self._emit(CycleOutcome(pod, node=node))

    # -- failures -------------------------------------------------------------------

    def _unschedulable(
        self,
        fwk: Framework,
        state: CycleState,
        queued: QueuedPodInfo,
        fit: FitError,
        start: float,
    ) -> CycleOutcome:
        pod = queued.pod
        result: PostFilterResult | None = None
        preempting = ""
        if fwk.post_filter:
            self._recorder.preemption_attempt()
            began = time.perf_counter()
            result, status = fwk.run_post_filter(state, pod, fit.diagnosis.node_to_status)
            self._recorder.extension_point(
                "PostFilter", status.code.value, fwk.profile_name, time.perf_counter() - began
            )
            preempting = status.plugin
            if status.code is Code.ERROR:
                log.error("post-filter failed", pod=pod.key, error=status.message)
            elif status.message:
                # A nomination is silent up to Kubernetes 1.36; from 1.37 DefaultPreemption
                # says where, and that ends the message as a rejection's words do.
                fit.diagnosis.post_filter_msg = status.message
        message = str(fit)
        if self._observer is not None:
            self._observe(fwk, state, pod, fit, result)
        nominated = result.nominated_node if result is not None else None
        rejectors = fit.diagnosis.unschedulable_plugins
        self._queue.add_unschedulable(
            queued, rejectors=rejectors, pending=fit.diagnosis.pending_plugins
        )
        if result is None:
            # Upstream's ModeNoop: a PostFilter that gave no result (e.g. the pod is not
            # eligible while victims on its nominated node terminate) leaves the
            # nomination as it stands, in the nominator and in the pod's status.
            if pod.nominated_node and self._nominator.node_of(pod.uid) is None:
                self._nominator.add(pod, pod.nominated_node)
        elif nominated:
            self._nominator.add(pod, nominated)
        else:
            self._nominator.remove(pod)
        if result is not None and nominated and result.victims:
            self._tasks.spawn(
                self._preempt(fwk, pod, nominated, result, preempting),
                name=f"preempt for {pod.key}",
            )
        self._recorder.schedule_attempt(
            "unschedulable", fwk.profile_name, time.perf_counter() - start
        )
        log.info(
            "pod unschedulable",
            pod=pod.key,
            profile=fwk.profile_name,
            attempt=queued.attempts,
            reason=message,
            nominated_node=nominated,
            duration_ms=round((time.perf_counter() - start) * 1000, 3),
        )
        self._writer.failure(
            fwk,
            pod,
            message,
            reason="Unschedulable",
            nominated=None if result is None else (nominated or ""),
        )
        return self._emit(
            CycleOutcome(
                pod,
                message=message,
                nominated_node=nominated,
                victims=result.victims if result is not None else (),
            )
        )

    def _observe(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        fit: FitError,
        result: PostFilterResult | None,
    ) -> None:
        assert self._observer is not None
        try:
            self._observer.unschedulable(fwk, state, pod, fit, result)
        except Exception:
            # A diagnosis is a report: losing one must not cost the pod its retry.
            log.exception("cycle observer failed", pod=pod.key)

    async def _preempt(
        self,
        fwk: Framework,
        pod: PodInfo,
        node: NodeName,
        result: PostFilterResult,
        plugin: str,
    ) -> None:
        if await self.preemptor.execute(
            fwk, pod, node, result.victims, mode=result.eviction_mode, plugin=plugin
        ):
            # Let the victims be seen terminating, so the next attempt waits
            # for them rather than planning anew.
            await self._settle()
            self._queue.activate([pod])

    def _preemption_refused(self, pod: PodInfo, victim: PodInfo, reason: str) -> None:
        """An eviction was refused: drop the nomination, back off, plan again later."""
        self._nominator.remove(pod)
        current = self._pending.get(pod.uid)
        fwk = self._profiles.get(pod.scheduler_name)
        if fwk is None or current is None:
            # Deleted (or recreated under its name) while its evictions were issued:
            # nothing to back off, and nothing to write about the old pod.
            return
        self._queue.back_off(pod.uid)
        message = f"preemption: eviction of {victim.key} refused: {reason}"
        self._writer.failure(fwk, current, message, reason="Unschedulable", nominated="")

    def _failed(
        self, fwk: Framework, queued: QueuedPodInfo, status: Status, start: float
    ) -> CycleOutcome:
        pod = queued.pod
        self._queue.add_unschedulable(queued, error=True)
        self._recorder.schedule_attempt("error", fwk.profile_name, time.perf_counter() - start)
        log.error("scheduling error", pod=pod.key, profile=fwk.profile_name, error=status.message)
        self._writer.failure(fwk, pod, status.message, reason="SchedulerError", nominated=None)
        return self._emit(CycleOutcome(pod, message=status.message, error=True))

    def _emit(self, outcome: CycleOutcome) -> CycleOutcome:
        for listener in self._listeners:
            listener(outcome)
        return outcome
