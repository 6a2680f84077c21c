"""The binding cycle (upstream's ``bindingCycle`` in ``schedule_one.go``):
PreBind, Bind, PostBind for a pod the scheduling cycle assumed, as its own
task; Bind calls have bounded concurrency. A pod held at Permit starts it only once it
is allowed or rejected (:mod:`py_scheduler.framework.waiting_pods`), so a
waiting pod holds no binding slot; a rejection ends here, as upstream's
``WaitOnPermit`` failure does: the pod is unschedulable with the rejecting
plugin's reason.

On failure everything the scheduling cycle did is undone in reverse order:
unreserve, forget the assumed pod, requeue with backoff. A pod that is already
bound (409) or gone (404) is dropped, never retried: the watch tells the truth.
The Cluster adapter raises Conflict or NotFound on a bind only once it found
the pod bound or gone (an API server whose storage is down also answers 409);
otherwise the failure is Unavailable, and retried here like any error.
PreBind and Bind run only while ``leading`` holds: a replica whose lease went
stale rolls the pod back rather than writing on a lease it may have lost; a
wait at Permit that ends then is rolled back without a status write too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Final

import structlog

from py_scheduler.cluster import ClusterError, Conflict, NotFound
from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.recorder import MetricsRecorder
from py_scheduler.framework.runtime import Framework
from py_scheduler.framework.status import SUCCESS, Status
from py_scheduler.framework.types import (
    ActionType,
    Diagnosis,
    FitError,
    QueuedPodInfo,
    Resource,
    event,
)
from py_scheduler.model import NodeName, PodInfo, PodUID
from py_scheduler.scheduling.cache import Cache
from py_scheduler.scheduling.observer import CycleObserver
from py_scheduler.scheduling.queue import SchedulingQueue
from py_scheduler.scheduling.status_writer import StatusWriter

log = structlog.get_logger("py_scheduler.scheduler")

ASSIGNED_POD_DELETE: Final = event(Resource.ASSIGNED_POD, ActionType.DELETE, "AssignedPodDelete")
_NOT_LEADING: Final = Status.error("not bound: this replica no longer leads")

# Told when a pod's binding cycle ends its attempt without a bind (a Permit
# rejection): the pod, the FailedScheduling message, and whether it was an error.
PermitFailed = Callable[[PodInfo, str, bool], None]


class BindingCycle:
    def __init__(
        self,
        *,
        cache: Cache,
        queue: SchedulingQueue,
        pending: Mapping[PodUID, PodInfo],
        writer: StatusWriter,
        recorder: MetricsRecorder,
        concurrency: int,
        observer: CycleObserver | None = None,
        on_permit_failed: PermitFailed = lambda pod, message, error: None,
        leading: Callable[[], bool] = lambda: True,
    ) -> None:
        self._cache = cache
        self._queue = queue
        self._pending = pending
        self._writer = writer
        self._recorder = recorder
        self._slots = asyncio.Semaphore(concurrency)
        self._observer = observer
        self._on_permit_failed = on_permit_failed
        self._leading = leading

    async def run(
        self,
        fwk: Framework,
        state: CycleState,
        queued: QueuedPodInfo,
        assumed: PodInfo,
        node: NodeName,
        start: float,
        *,
        permit: Status = SUCCESS,
    ) -> None:
        """Bind ``assumed``; ``permit`` is how its wait at Permit ended (Success
        when it did not wait)."""
        if not permit.is_success:
            self._permit_failed(fwk, state, queued, assumed, node, permit, start)
            return
        recorder = self._recorder
        recorder.binding_tasks(+1)
        try:
            # PreBind runs before the pod takes a binding slot: a plugin may wait
            # there (a volume being provisioned, the rest of a gang), and a pod
            # that waits must not keep the pods it waits for from their slots.
            status = _NOT_LEADING
            if self._leading():
                began = time.perf_counter()
                status = await fwk.run_pre_bind(state, assumed, node)
                recorder.extension_point(
                    "PreBind", status.code.value, fwk.profile_name, time.perf_counter() - began
                )
            if status.is_success:
                async with self._slots:
                    # PreBind and the wait for a slot may have outlasted the lease.
                    if not self._leading():
                        status = _NOT_LEADING
                    else:
                        began = time.perf_counter()
                        status = await fwk.run_bind(state, assumed, node)
                        recorder.extension_point(
                            "Bind",
                            status.code.value,
                            fwk.profile_name,
                            time.perf_counter() - began,
                        )
        except (Conflict, NotFound) as exc:
            # Already bound elsewhere, or deleted: the watch tells the truth.
            recorder.bind_failure(type(exc).__name__)
            fwk.run_unreserve(state, assumed, node)
            self._cache.forget(assumed)
            log.info("pod not bound: already bound or gone", pod=assumed.key, error=str(exc))
            return
        except ClusterError as exc:
            status = Status.error(f"binding rejected: {exc}")
        finally:
            recorder.binding_tasks(-1)
        if not status.is_success:
            self._failed(fwk, state, queued, assumed, node, status, start)
            return
        recorder.schedule_attempt("scheduled", fwk.profile_name, time.perf_counter() - start)
        since_first = (
            time.monotonic() - queued.initial_attempt_timestamp
            if queued.initial_attempt_timestamp is not None
            else None
        )
        recorder.pod_scheduled(queued.attempts, since_first)
        if queued.flushed_from_unschedulable:
            log.debug(
                "pod scheduled after flush from unschedulable",
                pod=assumed.key,
                unschedulable_plugins=sorted(queued.unschedulable_plugins),
                pending_plugins=sorted(queued.pending_plugins),
            )
            recorder.pod_scheduled_after_flush()
        log.info(
            "pod bound",
            pod=assumed.key,
            node=node,
            profile=fwk.profile_name,
            attempt=queued.attempts,
            duration_ms=round((time.perf_counter() - start) * 1000, 3),
        )
        fwk.run_post_bind(state, assumed, node)
        if self._observer is not None:
            try:
                self._observer.bound(fwk, state, assumed, node)
            except Exception:
                log.exception("cycle observer failed", pod=assumed.key)
        await self._writer.scheduled(fwk, assumed, node)

    def _permit_failed(
        self,
        fwk: Framework,
        state: CycleState,
        queued: QueuedPodInfo,
        assumed: PodInfo,
        node: NodeName,
        status: Status,
        start: float,
    ) -> None:
        fwk.run_unreserve(state, assumed, node)
        self._cache.forget(assumed)
        # The room it held may fit others; the pod itself is not queued yet, so
        # this cannot move it (upstream excludes it explicitly).
        self._queue.move_all(ASSIGNED_POD_DELETE, assumed, None)
        current = self._pending.get(queued.pod.uid)
        if current is None:
            return  # deleted (the "removed" rejection) or bound meanwhile
        queued.pod = current
        # It was nominated to the node while it waited; the watch may not show
        # that yet, and the nomination must go either way.
        written = replace(current, nominated_node=node)
        if status.is_rejected:
            diagnosis = Diagnosis()
            diagnosis.node_to_status[node] = status
            if status.plugin:
                diagnosis.unschedulable_plugins.add(status.plugin)
            fit = FitError(current, 1, diagnosis)
            message = str(fit)
            if self._observer is not None:
                try:
                    # As for a rejection at Permit without a wait (schedule_one).
                    self._observer.unschedulable(fwk, state, current, fit, None)
                except Exception:
                    log.exception("cycle observer failed", pod=current.key)
            self._queue.add_unschedulable(queued, rejectors=diagnosis.unschedulable_plugins)
            result, reason = "unschedulable", "Unschedulable"
            log.info("pod rejected while waiting on permit", pod=current.key, reason=message)
        else:
            message = f"waiting on permit for pod: {status.message}"
            self._queue.requeue_after_error(queued)
            result, reason = "error", "SchedulerError"
            log.warning("waiting on permit failed", pod=current.key, error=message)
        self._recorder.schedule_attempt(result, fwk.profile_name, time.perf_counter() - start)
        # No API write on a lease that may be lost: the next leader decides.
        if self._leading():
            self._writer.failure(fwk, written, message, reason=reason, nominated="")
        self._on_permit_failed(current, message, not status.is_rejected)

    def _failed(
        self,
        fwk: Framework,
        state: CycleState,
        queued: QueuedPodInfo,
        assumed: PodInfo,
        node: NodeName,
        status: Status,
        start: float,
    ) -> None:
        self._recorder.bind_failure(status.code.value)
        fwk.run_unreserve(state, assumed, node)
        self._cache.forget(assumed)
        # Freed resources may help pods waiting for exactly this node.
        self._queue.move_all(ASSIGNED_POD_DELETE, assumed, None)
        current = self._pending.get(queued.pod.uid)
        if current is None:
            return  # deleted or bound meanwhile: nothing to retry
        queued.pod = current
        self._recorder.schedule_attempt("error", fwk.profile_name, time.perf_counter() - start)
        log.warning("binding failed", pod=assumed.key, node=node, error=status.message)
        self._queue.requeue_after_error(queued)
        if status is _NOT_LEADING:
            return  # no API write on a lease that may be lost: the next leader decides
        reason = "Unschedulable" if status.is_rejected else "SchedulerError"
        self._writer.failure(fwk, current, status.message, reason=reason, nominated="")
