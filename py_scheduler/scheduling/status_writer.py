"""``StatusWriter``: the one place that tells the API what became of a pod.

It owns the FailedScheduling and Scheduled events and the pod's
``PodScheduled=False`` condition with its ``nominatedNodeName``: how they are
retried (the status patch as upstream's ``PatchPodStatus``), counted
(``api_write``) and logged. The event and the status are independent, as
upstream's event broadcaster and status patch are: losing one must not cost
the other. Called by :mod:`.schedule_one` (failures) and :mod:`.binding_cycle`
(the Scheduled event, failed binds).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Container
from typing import Final

import structlog

from py_scheduler.cluster import ClusterError, Conflict, NotFound, PodCondition, Unavailable
from py_scheduler.framework.recorder import MetricsRecorder
from py_scheduler.framework.runtime import Framework
from py_scheduler.model import PodInfo, PodUID
from py_scheduler.scheduling.tasks import Tasks

log = structlog.get_logger("py_scheduler.scheduler")

NOTE_LENGTH_LIMIT: Final = 1024
# retry.DefaultBackoff, as upstream's PatchPodStatus uses: 4 tries, 10 ms x5.
STATUS_PATCH_RETRIES: Final = (0.01, 0.05, 0.25)
WRITE_CONCURRENCY: Final = 32


def truncate(note: str) -> str:
    if len(note) <= NOTE_LENGTH_LIMIT:
        return note
    return note[: NOTE_LENGTH_LIMIT - 4] + " ..."


class StatusWriter:
    def __init__(
        self,
        *,
        tasks: Tasks,
        recorder: MetricsRecorder,
        pending: Container[PodUID] | None = None,
    ) -> None:
        self._tasks = tasks
        self._recorder = recorder
        self._slots = asyncio.Semaphore(WRITE_CONCURRENCY)
        # The UIDs of the pending pods the watch shows (None: every pod counts).
        self._pending = pending

    def _gone(self, pod: PodInfo) -> bool:
        return self._pending is not None and pod.uid not in self._pending

    def failure(
        self,
        fwk: Framework,
        pod: PodInfo,
        message: str,
        *,
        reason: str,
        nominated: str | None,
        pending_only: bool = True,
    ) -> None:
        """Report a failed attempt in the background: the event always, the
        condition and nomination only where they changed (an unchanged retry
        costs no patch). ``nominated`` None leaves the nomination alone.

        A pod no longer pending when the write comes up (deleted, maybe recreated
        under its name with a new UID, as kube-scheduler 1.37 checks) gets nothing:
        the event and the patch go by name and would describe the new pod.
        ``pending_only`` False writes for a pod that never was pending (one the
        decoder refused)."""
        if pending_only and self._gone(pod):
            log.debug("pod gone before its failure was written", pod=pod.key, uid=pod.uid)
            return
        condition = PodCondition("PodScheduled", "False", reason, message)
        changed_condition = pod.scheduled_condition != ("False", reason, message)
        changed_nomination = nominated is not None and nominated != pod.nominated_node
        self._tasks.spawn(
            self._write_failure(
                fwk,
                pod,
                still_pending=(lambda: not self._gone(pod)) if pending_only else (lambda: True),
                note=message,
                condition=condition if changed_condition else None,
                nominated=nominated if changed_nomination else None,
            ),
            name=f"failure {pod.key}",
        )

    def nominate(self, fwk: Framework, pod: PodInfo, node: str) -> None:
        """Tell the API where a pod held at Permit will go (``nominatedNodeName``),
        as upstream's NominatedNodeNameForExpectation does, so that the cluster
        autoscaler and people see it; a failure is only counted and logged."""
        self._tasks.spawn(self._write_nomination(fwk, pod, node), name=f"nominate {pod.key}")

    async def _write_nomination(self, fwk: Framework, pod: PodInfo, node: str) -> None:
        async with self._slots:
            try:
                await self._patch_status(fwk, pod, condition=None, nominated=node)
                self._recorder.api_write("pod_status", "ok")
            except NotFound:
                self._recorder.api_write("pod_status", "not_found")
            except ClusterError as exc:
                self._recorder.api_write("pod_status", "error")
                log.warning("writing the nominated node failed", pod=pod.key, error=str(exc))

    async def scheduled(self, fwk: Framework, pod: PodInfo, node: str) -> None:
        """The Normal/Scheduled event of a bound pod."""
        async with self._slots:
            await self._event(
                fwk,
                pod,
                type="Normal",
                reason="Scheduled",
                action="Binding",
                note=f"Successfully assigned {pod.key} to {node}",
                quiet=True,
            )

    async def _write_failure(
        self,
        fwk: Framework,
        pod: PodInfo,
        *,
        still_pending: Callable[[], bool],
        note: str,
        condition: PodCondition | None,
        nominated: str | None,
    ) -> None:
        async with self._slots:
            # The write may have waited for a slot: check again that it is this pod's.
            if not still_pending():
                log.debug("pod gone before its failure was written", pod=pod.key, uid=pod.uid)
                return
            await self._event(
                fwk,
                pod,
                type="Warning",
                reason="FailedScheduling",
                action="Scheduling",
                note=truncate(note),
                quiet=False,
            )
            if condition is None and nominated is None:
                return
            try:
                await self._patch_status(fwk, pod, condition=condition, nominated=nominated)
                self._recorder.api_write("pod_status", "ok")
            except NotFound:
                self._recorder.api_write("pod_status", "not_found")
            except ClusterError as exc:
                self._recorder.api_write("pod_status", "error")
                log.warning(
                    "writing scheduling failure failed",
                    pod=pod.key,
                    write="pod_status",
                    error=str(exc),
                )

    async def _event(
        self,
        fwk: Framework,
        pod: PodInfo,
        *,
        type: str,
        reason: str,
        action: str,
        note: str,
        quiet: bool,
    ) -> None:
        try:
            await fwk.cluster.record_event(
                pod,
                type=type,
                reason=reason,
                action=action,
                note=note,
                reporting_controller=fwk.profile_name,
            )
            self._recorder.api_write("event", "ok")
        except NotFound:
            self._recorder.api_write("event", "not_found")
        except ClusterError as exc:
            self._recorder.api_write("event", "error")
            if quiet:
                log.debug("scheduled event not written", pod=pod.key, error=str(exc))
            else:
                log.warning(
                    "writing scheduling failure failed", pod=pod.key, write="event", error=str(exc)
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
