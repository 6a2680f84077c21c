"""The scheduler: pop a pod, run its scheduling cycle, bind it asynchronously.

``schedule_one`` is synchronous from pop to assume: no watch event can land
mid-cycle, so the cache is the cycle's snapshot. Binding then runs as its own
task (bounded concurrency) and undoes everything on failure, in reverse
order: unreserve, forget the assumed pod, requeue with backoff. A pod that is
already bound (409) or gone (404) is dropped, never retried.

The ``on_*`` methods are the cluster events (from the watches, or from the
simulator); they keep the cache, queue and nominator current and requeue
pods that an event may help.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import structlog

from py_scheduler import metrics
from py_scheduler.cluster import ClusterError, Conflict, NotFound, PodCondition, Unavailable
from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.runtime import Framework
from py_scheduler.framework.status import Code, Status
from py_scheduler.framework.types import (
    ActionType,
    Diagnosis,
    FitError,
    PostFilterResult,
    QueuedPodInfo,
    Resource,
    event,
)
from py_scheduler.model import Node, NodeName, PodInfo, PodUID
from py_scheduler.scheduling.algorithm import Algorithm, SchedulingError
from py_scheduler.scheduling.cache import Cache
from py_scheduler.scheduling.nominator import Nominator
from py_scheduler.scheduling.preemption import Preemptor
from py_scheduler.scheduling.queue import SchedulingQueue

log = structlog.get_logger("py_scheduler.scheduler")

NOTE_LENGTH_LIMIT: Final = 1024
PREEMPTION_SETTLE: Final = 0.5
# The rejector recorded for a preemptor held back while its evictions run;
# no event moves it, only the activation when they are done.
PREEMPTION_IN_FLIGHT: Final = "PreemptionInFlight"
PLUGIN_METRICS_EVERY: Final = 10
# retry.DefaultBackoff, as upstream's PatchPodStatus uses: 4 tries, 10 ms x5.
STATUS_PATCH_RETRIES: Final = (0.01, 0.05, 0.25)

_NOT_LEADING: Final = Status.error("not bound: this replica no longer leads")

NODE_ADD: Final = event(Resource.NODE, ActionType.ADD, "NodeAdd")
NODE_DELETE: Final = event(Resource.NODE, ActionType.DELETE, "NodeDelete")
ASSIGNED_POD_ADD: Final = event(Resource.ASSIGNED_POD, ActionType.ADD, "AssignedPodAdd")
ASSIGNED_POD_DELETE: Final = event(Resource.ASSIGNED_POD, ActionType.DELETE, "AssignedPodDelete")
# Event labels as upstream's ClusterEvent.Label(): resource, then action.
_VERBS: Final = {ActionType.ADD: "Add", ActionType.UPDATE: "Update", ActionType.DELETE: "Delete"}


class NotLeading(Exception):
    """The leader lease is no longer fresh: this replica must stop scheduling."""


@dataclass
class Outcome:
    """What a cycle decided, for logs and the simulator."""

    pod: PodInfo
    node: str | None = None
    message: str = ""
    nominated_node: str | None = None
    victims: tuple[PodInfo, ...] = ()
    error: bool = False


@dataclass
class Tasks:
    """Background API work the scheduler owns; drained on shutdown."""

    running: set[asyncio.Task[object]] = field(default_factory=set)

    def spawn(self, coro: Coroutine[Any, Any, object], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.running.add(task)
        task.add_done_callback(self.running.discard)

    async def drain(self, timeout: float) -> None:
        if self.running:
            await asyncio.wait(set(self.running), timeout=timeout)


class Scheduler:
    def __init__(
        self,
        *,
        profiles: Mapping[str, Framework],
        cache: Cache,
        queue: SchedulingQueue,
        nominator: Nominator,
        algorithm: Algorithm,
        bind_concurrency: int = 64,
    ) -> None:
        self.profiles = profiles
        self.cache = cache
        self.queue = queue
        self.nominator = nominator
        self.algorithm = algorithm
        self.tasks = Tasks()
        self._bind_slots = asyncio.Semaphore(bind_concurrency)
        self._write_slots = asyncio.Semaphore(32)
        # Unassigned pods of ours as the watch last showed them (None: deleted).
        self.pending: dict[PodUID, PodInfo] = {}
        self.on_outcome: list[Any] = []  # callables(Outcome); the simulator listens here
        self.preemptor = Preemptor(
            nominator=nominator,
            on_refused=self._preemption_refused,
            on_nomination_cleared=lambda pod: self.queue.activate([pod]),
        )
        self._stopping = False
        self._cycles = 0
        # Whether this replica may still schedule and bind (the leader lease is
        # fresh); checked before every cycle and every bind.
        self.leading: Callable[[], bool] = lambda: True

    # -- the loop -------------------------------------------------------------------

    async def run(self) -> None:
        while not self._stopping:
            info = await self.queue.pop()
            if info is None:
                return
            if not self.leading():
                self.queue.requeue_after_error(info)
                raise NotLeading("the leader lease went stale before a scheduling cycle")
            self.schedule_one(info)
            # One pod at a time must not starve the watches of the event loop.
            await asyncio.sleep(0)

    def stop(self) -> None:
        self._stopping = True
        self.queue.close()

    def schedule_one(self, info: QueuedPodInfo) -> Outcome | None:
        pod = self.pending.get(info.pod.uid, info.pod)
        info.pod = pod
        fwk = self.profiles.get(pod.scheduler_name)
        if fwk is None or pod.deleting or pod.node_name or self.cache.is_assumed(pod.uid):
            self.queue.done(pod.uid)
            return None
        if pod.uid in self.preemptor.preempting:
            # Its evictions are still being issued; it is activated once they are.
            self.queue.add_unschedulable(info, rejectors=(PREEMPTION_IN_FLIGHT,))
            return None
        start = time.perf_counter()
        log.debug("attempting to schedule pod", pod=pod.key, attempt=info.attempts)
        state = CycleState()
        # Every tenth cycle, starting with the first: upstream's 10% sample rate,
        # without leaving a quiet scheduler with no samples at all.
        self._cycles += 1
        state.record_plugin_metrics = self._cycles % PLUGIN_METRICS_EVERY == 1
        try:
            result = self.algorithm.schedule(fwk, state, pod, self.cache)
        except FitError as fit:
            return self._unschedulable(fwk, state, info, fit, start)
        except SchedulingError as exc:
            return self._failed(fwk, info, exc.status, start)
        metrics.SCHEDULING_ALGORITHM_DURATION.observe(time.perf_counter() - start)

        node = result.node
        assumed = self.cache.assume(pod, node)
        self.nominator.remove(pod)
        status = fwk.run_reserve(state, assumed, node)
        if status.is_success:
            status, _wait = fwk.run_permit(state, assumed, node)
            if status.code is Code.WAIT:
                status = Status.error("Permit plugins that wait are not supported")
        if not status.is_success:
            fwk.run_unreserve(state, assumed, node)
            self.cache.forget(assumed)
            if status.is_rejected:
                diagnosis = Diagnosis()
                diagnosis.node_to_status[node] = status
                diagnosis.unschedulable_plugins.add(status.plugin)
                return self._unschedulable(fwk, state, info, FitError(pod, 1, diagnosis), start)
            return self._failed(fwk, info, status, start)
        self.queue.done(pod.uid)
        self.tasks.spawn(
            self._binding_cycle(fwk, state, info, assumed, node, start), name=f"bind {pod.key}"
        )
        outcome = Outcome(pod, node=node)
        self._emit(outcome)
        return outcome

    # -- failures -------------------------------------------------------------------

    def _unschedulable(
        self, fwk: Framework, state: CycleState, info: QueuedPodInfo, fit: FitError, start: float
    ) -> Outcome:
        pod = info.pod
        result: PostFilterResult | None = None
        if fwk.post_filter:
            metrics.PREEMPTION_ATTEMPTS.inc()
            began = time.perf_counter()
            result, status = fwk.run_post_filter(state, pod, fit.diagnosis.node_to_status)
            metrics.observe_point(
                "PostFilter", status.code.value, fwk.profile_name, time.perf_counter() - began
            )
            if status.code is Code.ERROR:
                log.error("post-filter failed", pod=pod.key, error=status.message)
            elif not status.is_success and status.message:
                fit.diagnosis.post_filter_msg = status.message
        message = str(fit)
        nominated = result.nominated_node if result is not None else None
        rejectors = fit.diagnosis.unschedulable_plugins
        self.queue.add_unschedulable(
            info, rejectors=rejectors, pending=fit.diagnosis.pending_plugins
        )
        if result is None:
            # Upstream's ModeNoop: a PostFilter that gave no result (e.g. the pod is not
            # eligible while victims on its nominated node terminate) leaves the
            # nomination as it stands, in the nominator and in the pod's status.
            if pod.nominated_node and self.nominator.node_of(pod.uid) is None:
                self.nominator.add(pod, pod.nominated_node)
        elif nominated:
            self.nominator.add(pod, nominated)
        else:
            self.nominator.remove(pod)
        if result is not None and nominated and result.victims:
            self.tasks.spawn(
                self._preempt(fwk, pod, nominated, result), name=f"preempt for {pod.key}"
            )
        self._record_attempt(fwk, "unschedulable", start)
        log.info(
            "pod unschedulable",
            pod=pod.key,
            profile=fwk.profile_name,
            attempt=info.attempts,
            reason=message,
            nominated_node=nominated,
            duration_ms=round((time.perf_counter() - start) * 1000, 3),
        )
        self._write_failure(
            fwk,
            pod,
            message,
            reason="Unschedulable",
            nominated=None if result is None else (nominated or ""),
        )
        outcome = Outcome(
            pod,
            message=message,
            nominated_node=nominated,
            victims=result.victims if result is not None else (),
        )
        self._emit(outcome)
        return outcome

    async def _preempt(
        self, fwk: Framework, pod: PodInfo, node: NodeName, result: PostFilterResult
    ) -> None:
        if await self.preemptor.execute(fwk, pod, node, result.victims, mode=result.eviction_mode):
            # Give the watch a moment to show the victims terminating, so the
            # next attempt waits for them rather than planning anew.
            asyncio.get_running_loop().call_later(PREEMPTION_SETTLE, self.queue.activate, [pod])

    def _preemption_refused(self, pod: PodInfo, victim: PodInfo, reason: str) -> None:
        """An eviction was refused: drop the nomination, back off, plan again later."""
        self.nominator.remove(pod)
        self.queue.back_off(pod.uid)
        fwk = self.profiles.get(pod.scheduler_name)
        if fwk is None:
            return
        current = self.pending.get(pod.uid, pod)
        message = f"preemption: eviction of {victim.key} refused: {reason}"
        self._write_failure(fwk, current, message, reason="Unschedulable", nominated="")

    def _failed(self, fwk: Framework, info: QueuedPodInfo, status: Status, start: float) -> Outcome:
        pod = info.pod
        self.queue.add_unschedulable(info, error=True)
        self._record_attempt(fwk, "error", start)
        log.error("scheduling error", pod=pod.key, profile=fwk.profile_name, error=status.message)
        self._write_failure(fwk, pod, status.message, reason="SchedulerError", nominated=None)
        outcome = Outcome(pod, message=status.message, error=True)
        self._emit(outcome)
        return outcome

    def _write_failure(
        self, fwk: Framework, pod: PodInfo, message: str, *, reason: str, nominated: str | None
    ) -> None:
        condition = PodCondition("PodScheduled", "False", reason, message)
        # Only write what changed: retries of an unchanged failure cost no patch.
        changed_condition = pod.scheduled_condition != ("False", reason, message)
        changed_nomination = nominated is not None and nominated != pod.nominated_node
        self.tasks.spawn(
            self._write(
                fwk,
                pod,
                note=message,
                condition=condition if changed_condition else None,
                nominated=nominated if changed_nomination else None,
            ),
            name=f"failure {pod.key}",
        )

    async def _write(
        self,
        fwk: Framework,
        pod: PodInfo,
        *,
        note: str,
        condition: PodCondition | None,
        nominated: str | None,
    ) -> None:
        # The event and the status are independent, as upstream's event
        # broadcaster and status patch are: losing one must not cost the other.
        async with self._write_slots:
            try:
                await fwk.cluster.record_event(
                    pod,
                    type="Warning",
                    reason="FailedScheduling",
                    action="Scheduling",
                    note=truncate(note),
                    reporting_controller=fwk.profile_name,
                )
                metrics.API_WRITES.labels("event", "ok").inc()
            except NotFound:
                metrics.API_WRITES.labels("event", "not_found").inc()
            except ClusterError as exc:
                metrics.API_WRITES.labels("event", "error").inc()
                log.warning(
                    "writing scheduling failure failed", pod=pod.key, write="event", error=str(exc)
                )
            if condition is None and nominated is None:
                return
            try:
                await self._patch_status(fwk, pod, condition=condition, nominated=nominated)
                metrics.API_WRITES.labels("pod_status", "ok").inc()
            except NotFound:
                metrics.API_WRITES.labels("pod_status", "not_found").inc()
            except ClusterError as exc:
                metrics.API_WRITES.labels("pod_status", "error").inc()
                log.warning(
                    "writing scheduling failure failed",
                    pod=pod.key,
                    write="pod_status",
                    error=str(exc),
                )

    async def _patch_status(
        self,
        fwk: Framework,
        pod: PodInfo,
        *,
        condition: PodCondition | None,
        nominated: str | None,
    ) -> None:
        """Patch, retrying what upstream's PatchPodStatus retries: a lost
        condition would otherwise wait for the pod's next attempt."""
        for delay in (*STATUS_PATCH_RETRIES, None):
            try:
                await fwk.cluster.patch_pod_status(
                    pod, condition=condition, nominated_node=nominated
                )
                return
            except (Conflict, Unavailable) as exc:
                retriable = isinstance(exc, Conflict) or exc.status in (500, 503)
                if delay is None or not retriable:
                    raise
                await asyncio.sleep(delay)

    def _record_attempt(self, fwk: Framework, result: str, start: float) -> None:
        elapsed = time.perf_counter() - start
        metrics.SCHEDULE_ATTEMPTS.labels(result, fwk.profile_name).inc()
        metrics.SCHEDULING_ATTEMPT_DURATION.labels(result, fwk.profile_name).observe(elapsed)

    def _emit(self, outcome: Outcome) -> None:
        for listener in self.on_outcome:
            listener(outcome)

    # -- binding cycle -----------------------------------------------------------------

    async def _binding_cycle(
        self,
        fwk: Framework,
        state: CycleState,
        info: QueuedPodInfo,
        assumed: PodInfo,
        node: NodeName,
        start: float,
    ) -> None:
        metrics.GOROUTINES.labels("binding").inc()
        try:
            async with self._bind_slots:
                status = _NOT_LEADING
                if self.leading():
                    began = time.perf_counter()
                    status = await fwk.run_pre_bind(state, assumed, node)
                    metrics.observe_point(
                        "PreBind", status.code.value, fwk.profile_name, time.perf_counter() - began
                    )
                if status.is_success and not self.leading():
                    status = _NOT_LEADING
                if status.is_success:
                    began = time.perf_counter()
                    status = await fwk.run_bind(state, assumed, node)
                    metrics.observe_point(
                        "Bind", status.code.value, fwk.profile_name, time.perf_counter() - began
                    )
        except (Conflict, NotFound) as exc:
            # Already bound elsewhere, or deleted: the watch tells the truth.
            metrics.BIND_FAILURES.labels(type(exc).__name__).inc()
            fwk.run_unreserve(state, assumed, node)
            self.cache.forget(assumed)
            log.info("pod not bound: already bound or gone", pod=assumed.key, error=str(exc))
            return
        except ClusterError as exc:
            status = Status.error(f"binding rejected: {exc}")
        finally:
            metrics.GOROUTINES.labels("binding").dec()
        if not status.is_success:
            await self._binding_failed(fwk, state, info, assumed, node, status, start)
            return
        self._record_attempt(fwk, "scheduled", start)
        metrics.POD_SCHEDULING_ATTEMPTS.observe(info.attempts)
        if info.initial_attempt_timestamp is not None:
            attempts = str(info.attempts) if info.attempts < 15 else "15+"
            metrics.POD_SCHEDULING_SLI_DURATION.labels(attempts).observe(
                time.monotonic() - info.initial_attempt_timestamp
            )
        log.info(
            "pod bound",
            pod=assumed.key,
            node=node,
            profile=fwk.profile_name,
            attempt=info.attempts,
            duration_ms=round((time.perf_counter() - start) * 1000, 3),
        )
        fwk.run_post_bind(state, assumed, node)
        async with self._write_slots:
            try:
                await fwk.cluster.record_event(
                    assumed,
                    type="Normal",
                    reason="Scheduled",
                    action="Binding",
                    note=f"Successfully assigned {assumed.key} to {node}",
                    reporting_controller=fwk.profile_name,
                )
                metrics.API_WRITES.labels("event", "ok").inc()
            except ClusterError as exc:
                metrics.API_WRITES.labels("event", "error").inc()
                log.debug("scheduled event not written", pod=assumed.key, error=str(exc))

    async def _binding_failed(
        self,
        fwk: Framework,
        state: CycleState,
        info: QueuedPodInfo,
        assumed: PodInfo,
        node: NodeName,
        status: Status,
        start: float,
    ) -> None:
        metrics.BIND_FAILURES.labels(status.code.value).inc()
        fwk.run_unreserve(state, assumed, node)
        self.cache.forget(assumed)
        # Freed resources may help pods waiting for exactly this node.
        self.queue.move_all(ASSIGNED_POD_DELETE, assumed, None)
        current = self.pending.get(info.pod.uid)
        if current is None:
            return  # deleted or bound meanwhile: nothing to retry
        info.pod = current
        self._record_attempt(fwk, "error", start)
        log.warning("binding failed", pod=assumed.key, node=node, error=status.message)
        self.queue.requeue_after_error(info)
        reason = "Unschedulable" if status.is_rejected else "SchedulerError"
        self._write_failure(fwk, current, status.message, reason=reason, nominated="")

    # -- cluster events -----------------------------------------------------------------

    def on_pod(self, pod: PodInfo) -> None:
        """A pod was added or changed."""
        if pod.node_name:
            self._on_assigned_pod(pod)
            return
        if pod.scheduler_name not in self.profiles:
            return
        if pod.is_terminal:
            self.on_pod_deleted(pod)
            return
        self.pending[pod.uid] = pod
        self.nominator.update(pod)
        if self.cache.is_assumed(pod.uid):
            return  # binding in flight; the watch will show where it went
        if pod.deleting:
            self.queue.delete(pod)
            return
        if self.queue.where(pod.uid) is None:
            self.queue.add(pod)
        else:
            self.queue.update(pod)

    def _on_assigned_pod(self, pod: PodInfo) -> None:
        if self.pending.pop(pod.uid, None) is not None:
            self.queue.delete(pod)
        self.nominator.remove(pod)
        if pod.is_terminal:
            self._remove_assigned(pod)
            return
        old = self.cache.pod(pod.uid)
        if old is None or self.cache.is_assumed(pod.uid):
            self.cache.add_pod(pod)
            if old is None:
                self.queue.move_all(ASSIGNED_POD_ADD, None, pod)
            return
        self.cache.update_pod(pod)
        action = ActionType(0)
        if old.labels != pod.labels:
            action |= ActionType.UPDATE_POD_LABEL
        if (
            pod.requests.milli_cpu < old.requests.milli_cpu
            or pod.requests.memory < old.requests.memory
        ):
            action |= ActionType.UPDATE_POD_SCALE_DOWN
        if action:
            self.queue.move_all(event(Resource.ASSIGNED_POD, action), old, pod)

    def on_pod_deleted(self, pod: PodInfo) -> None:
        self.pending.pop(pod.uid, None)
        self.queue.delete(pod)
        self.nominator.remove(pod)
        if self.cache.pod(pod.uid) is not None:
            self._remove_assigned(pod)

    def _remove_assigned(self, pod: PodInfo) -> None:
        cached = self.cache.pod(pod.uid)
        if cached is None:
            return
        self.cache.remove_pod(cached)
        self.queue.move_all(ASSIGNED_POD_DELETE, cached, None)

    def replace_pods(self, pods: list[PodInfo]) -> None:
        """A full relist: rebuild without losing assumed pods or double-counting."""
        assigned = [p for p in pods if p.node_name and not p.is_terminal]
        self.cache.replace_pods(assigned)
        fresh = {
            p.uid: p
            for p in pods
            if not p.node_name and not p.is_terminal and p.scheduler_name in self.profiles
        }
        bound = {p.uid for p in assigned}
        for uid, old in list(self.pending.items()):
            # A pod bound while the watch was down is in the list, not gone.
            if uid not in fresh and uid not in bound:
                self.on_pod_deleted(old)
        for pod in assigned:
            if self.pending.pop(pod.uid, None) is not None:
                self.queue.delete(pod)
            self.nominator.remove(pod)
        for pod in fresh.values():
            self.on_pod(pod)

    def replace_nodes(self, nodes: list[Node]) -> None:
        self.cache.replace_nodes(nodes)
        self.queue.move_all(NODE_ADD)

    def on_node(self, node: Node) -> None:
        old_info = self.cache.get(node.name)
        old = old_info.node if old_info is not None else None
        self.cache.add_node(node)
        if old is None:
            self.queue.move_all(NODE_ADD, None, node)
            return
        action = node_update_action(old, node)
        if action:
            self.queue.move_all(event(Resource.NODE, action), old, node)

    def on_node_deleted(self, name: str) -> None:
        info = self.cache.get(name)
        self.cache.remove_node(name)
        if info is not None:
            # Fewer domains can change topology spread skew.
            self.queue.move_all(NODE_DELETE, info.node, None)

    def on_object(self, resource: Resource, action: ActionType, old: object, new: object) -> None:
        """A low-rate object (a storage object, say) changed: requeue pods it may help."""
        verb = _VERBS.get(action, "Update")
        self.queue.move_all(event(resource, action, f"{resource.value}{verb}"), old, new)

    # -- shutdown -------------------------------------------------------------------

    async def drain(self, timeout: float) -> None:
        """Wait for in-flight binds and writes (graceful shutdown)."""
        await self.tasks.drain(timeout)


def node_update_action(old: Node, new: Node) -> ActionType:
    action = ActionType(0)
    if old.allocatable != new.allocatable or old.allowed_pods != new.allowed_pods:
        action |= ActionType.UPDATE_NODE_ALLOCATABLE
    if old.labels != new.labels:
        action |= ActionType.UPDATE_NODE_LABEL
    if old.taints != new.taints or old.unschedulable != new.unschedulable:
        action |= ActionType.UPDATE_NODE_TAINT
    return action


def truncate(note: str) -> str:
    if len(note) <= NOTE_LENGTH_LIMIT:
        return note
    return note[: NOTE_LENGTH_LIMIT - 4] + " ..."
