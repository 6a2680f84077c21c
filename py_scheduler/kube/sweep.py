"""Every pending pod of ours gets a decision: a node or a reason.

Two ways a pod could be left without one, both closed here:

- The decoder refuses a pod the API server accepted (``on_invalid``, from
  the pod reflector). The pod is then held here, not in the queue, and gets
  ``PodScheduled=False`` with reason ``SchedulerError`` and a
  ``FailedScheduling`` event naming the field (written by the scheduler's
  status writer), once per change of message.
- The scheduler loses track of a pod (a bug). ``run`` lists the unassigned
  pods every ``interval`` seconds while this replica leads; a pod of ours
  that neither the queue nor the binder knows, and still does not after a
  short grace (the watch may be a moment behind the list), is read again and
  handed to the scheduler as a watch event would be. Such pods are counted
  (``py_scheduler_unqueued_pending_pods``), logged, and alerted on.

Neighbours: :mod:`py_scheduler.kube.watches` calls ``on_invalid``;
:mod:`py_scheduler.app.main` runs the sweep beside the scheduling loop; the
scheduler's event handlers (:mod:`py_scheduler.scheduling.eventhandlers`) say
which pods they hold and take the recovered ones as a watch event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import structlog

from py_scheduler import metrics
from py_scheduler.cluster import ClusterError, NotFound
from py_scheduler.kube.client import KubeClient
from py_scheduler.model import DecodeError, PodInfo, PodUID, decode_pod
from py_scheduler.scheduling.scheduler import Scheduler
from py_scheduler.scheduling.status_writer import truncate

log = structlog.get_logger("py_scheduler.sweep")

REASON: Final = "SchedulerError"
DEFAULT_INTERVAL: Final = 60.0
GRACE: Final = 2.0  # the watch delivers within milliseconds; a list may be ahead of it
_UNASSIGNED: Final = "spec.nodeName=,status.phase=Pending"
_PAGE: Final = 500


@dataclass(frozen=True, slots=True)
class _Invalid:
    pod: PodInfo  # identity only (uid, namespace, name, scheduler)
    message: str


def invalid_message(error: DecodeError) -> str:
    return f"invalid pod: {error}"


def _ours_and_pending(raw: Mapping[str, Any], profiles: frozenset[str]) -> bool:
    spec = raw.get("spec") or {}
    meta = raw.get("metadata") or {}
    status = raw.get("status") or {}
    return (
        isinstance(spec, Mapping)
        and spec.get("schedulerName", "default-scheduler") in profiles
        and not spec.get("nodeName")
        and isinstance(meta, Mapping)
        and meta.get("deletionTimestamp") is None
        and isinstance(status, Mapping)
        and status.get("phase", "Pending") == "Pending"
    )


def _identity(raw: Mapping[str, Any]) -> PodInfo | None:
    """Just enough of an undecodable pod to write its status and event."""
    meta, spec = raw.get("metadata"), raw.get("spec")
    if not isinstance(meta, Mapping) or not isinstance(spec, Mapping):
        return None
    uid, name = meta.get("uid"), meta.get("name")
    if not isinstance(uid, str) or not isinstance(name, str) or not uid or not name:
        return None
    namespace = meta.get("namespace")
    generation = meta.get("generation")
    return PodInfo(
        uid=PodUID(uid),
        namespace=namespace if isinstance(namespace, str) and namespace else "default",
        name=name,
        labels={},
        scheduler_name=str(spec.get("schedulerName") or "default-scheduler"),
        generation=generation if isinstance(generation, int) else 0,
    )


def _condition(raw: Mapping[str, Any]) -> tuple[str, str, str] | None:
    status = raw.get("status")
    conditions = status.get("conditions") if isinstance(status, Mapping) else None
    for cond in conditions if isinstance(conditions, list) else []:
        if isinstance(cond, Mapping) and cond.get("type") == "PodScheduled":
            return (str(cond.get("status")), str(cond.get("reason")), str(cond.get("message")))
    return None


class PendingSweep:
    def __init__(
        self,
        kube: KubeClient,
        scheduler: Scheduler,
        *,
        leading: Callable[[], bool],
        interval: float = DEFAULT_INTERVAL,
        grace: float = GRACE,
    ) -> None:
        self.kube = kube
        self.scheduler = scheduler
        self.leading = leading
        self.interval = interval
        self.grace = grace
        self.invalid: dict[PodUID, _Invalid] = {}

    @property
    def profiles(self) -> frozenset[str]:
        return frozenset(self.scheduler.profiles)

    # -- from the pod reflector ---------------------------------------------------------

    def on_invalid(self, raw: Mapping[str, Any], error: DecodeError, deleted: bool) -> None:
        pod = _identity(raw)
        if pod is None:
            return
        if deleted or not _ours_and_pending(raw, self.profiles):
            self.invalid.pop(pod.uid, None)
            return
        entry = _Invalid(pod, truncate(invalid_message(error)))
        self.invalid[pod.uid] = entry
        if self.leading() and _condition(raw) != ("False", REASON, entry.message):
            self._decide(entry)

    def forget(self, uid: PodUID) -> None:
        """The pod decoded after all, or is gone: the scheduler owns it again."""
        self.invalid.pop(uid, None)

    def relisted(self) -> None:
        """A relist follows: the invalid pods it holds are reported again."""
        self.invalid.clear()

    def knows(self, uid: PodUID) -> bool:
        return self.scheduler.holds(uid) or uid in self.invalid

    # -- the sweep -------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            try:
                await self.sweep()
            except ClusterError as exc:
                log.warning("pending-pod sweep failed; retrying", error=str(exc))
            await asyncio.sleep(self.interval)

    async def sweep(self) -> int:
        """One pass; returns how many pods of ours no queue knew."""
        if not self.leading():
            return 0
        listed = await self._listed_unknown()
        candidates = [pod for pod in listed if not self.knows(pod.uid)]
        if candidates:
            await asyncio.sleep(self.grace)
        lost = 0
        for pod in candidates:
            if not self.knows(pod.uid) and await self._recover(pod):
                lost += 1
        metrics.UNQUEUED_PENDING_PODS.set(lost)
        if lost:
            metrics.REQUEUED_BY_SWEEP.inc(lost)
        return lost

    def _unknown(self, raw: Mapping[str, Any]) -> bool:
        pod = _identity(raw)
        return pod is not None and _ours_and_pending(raw, self.profiles) and not self.knows(pod.uid)

    async def _listed_unknown(self) -> list[PodInfo]:
        """The unassigned pending pods of ours that no queue knows, listed page by
        page. Only their identities are kept: the documents of every pending pod
        at once (10 000 of them when a scheduler starts behind a backlog) would
        double the process's memory."""
        unknown: list[PodInfo] = []
        params = {"fieldSelector": _UNASSIGNED, "limit": str(_PAGE)}
        while True:
            page = await self.kube.get("/api/v1/pods", params)
            unknown.extend(self._unknown_on(page.get("items", [])))
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return unknown
            params["continue"] = token

    def _unknown_on(self, items: object) -> list[PodInfo]:
        """One page's unknown pods; invalid pods whose failure was lost are decided again."""
        unknown: list[PodInfo] = []
        for raw in items if isinstance(items, list) else []:
            if not isinstance(raw, Mapping) or (pod := _identity(raw)) is None:
                continue
            entry = self.invalid.get(pod.uid)
            if entry is not None and _condition(raw) != ("False", REASON, entry.message):
                self._decide(entry)  # an earlier write was lost
            if _ours_and_pending(raw, self.profiles) and not self.knows(pod.uid):
                unknown.append(pod)
        return unknown

    async def _recover(self, pod: PodInfo) -> bool:
        """Read the pod again; give it to the scheduler (or decide it here)."""
        try:
            raw = await self.kube.get(f"/api/v1/namespaces/{pod.namespace}/pods/{pod.name}")
        except NotFound:
            return False
        if (raw.get("metadata") or {}).get("uid") != pod.uid or not self._unknown(raw):
            return False
        log.warning(
            "pending pod unknown to the queue; requeued",
            pod=pod.key,
            resource_version=(raw.get("metadata") or {}).get("resourceVersion"),
        )
        try:
            decoded = decode_pod(raw)
        except DecodeError as exc:
            self.on_invalid(raw, exc, deleted=False)
            return True
        self.scheduler.on_pod(decoded)
        return True

    # -- decisions ----------------------------------------------------------------------

    def _decide(self, entry: _Invalid) -> None:
        log.warning(
            "pod cannot be decoded; marked unschedulable", pod=entry.pod.key, reason=entry.message
        )
        # The next sweep finds the condition missing if the write is lost, and decides again.
        self.scheduler.reject_undecodable(entry.pod, entry.message)
