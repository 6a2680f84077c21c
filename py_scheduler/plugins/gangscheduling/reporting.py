"""What GangScheduling tells the API: held members and PodGroup status.

kube-scheduler writes nothing for a pod it holds at PreEnqueue or at Permit,
so a gang member can sit pending with no word of why. Here every held member
gets a ``PodScheduled=False`` condition and an event naming its group, how
many members are present, assumed, bound and needed, and since when:

- reason ``SchedulingGated`` while the group is incomplete (too few members
  exist, its object is missing, or the pod names two groups): more nodes
  would not help, and the cluster autoscaler ignores this reason, as it
  should;
- reason ``WaitingForGang`` while the member is assumed on a node and waits
  at Permit for the rest.

A member the scheduling cycle rejects is reported by the scheduler as any
pod (reason ``Unschedulable``, which the autoscaler acts on). Groups also
get their status: a scheduler-plugins PodGroup its ``phase`` and counts (as
its controller computes them, since no controller runs beside this
scheduler), a Workload API PodGroup upstream's ``PodGroupInitiallyScheduled``
condition.

Writes are batched: changes mark a group, and one task writes what changed a
second later (at once when the scheduler drains), so a gang that completes
within the second costs one PodGroup write and no pod writes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import structlog

from py_scheduler.cluster import ClusterError, NotFound, PodCondition
from py_scheduler.framework.interface import Handle
from py_scheduler.framework.pod_groups import GroupMembers
from py_scheduler.model import PodInfo, PodUID
from py_scheduler.model.podgroups import PLUGINS_API, GroupKey, GroupPolicy, PodGroupRef
from py_scheduler.plugins.gangscheduling.messages import GATED, describe

if TYPE_CHECKING:
    from py_scheduler.plugins.gangscheduling.plugin import GangScheduling

log = structlog.get_logger("py_scheduler.plugins.gangscheduling")

HELD: Final = "SchedulingGated"
WAITING: Final = "WaitingForGang"
FLUSH_DELAY: Final = 1.0
# Pods outside any group whose last message is remembered, at most.
MAX_REMEMBERED: Final = 10_000
# upstream's PodGroup condition (scheduling.k8s.io PodGroupStatus).
INITIALLY_SCHEDULED: Final = "PodGroupInitiallyScheduled"

# Group states (py_scheduler_pod_groups{state}).
INCOMPLETE: Final = "incomplete"  # fewer members exist than the gang needs
PENDING: Final = "pending"  # enough members, not yet placed
WAITING_STATE: Final = "waiting"  # members held at Permit
SCHEDULED: Final = "scheduled"  # at least minMember bound
STATES: Final = (INCOMPLETE, PENDING, WAITING_STATE, SCHEDULED)
ROUND_RESULTS: Final = ("allowed", "released")


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def plugins_phase(members: GroupMembers, min_member: int) -> str:
    """scheduler-plugins' PodGroup phase, as its controller computes it."""
    running, succeeded, failed = members.running, members.succeeded, members.failed
    if succeeded >= min_member:
        return "Finished"
    if failed and failed + running + succeeded >= min_member:
        return "Failed"
    if running + succeeded >= min_member:
        return "Running"
    if members.count + succeeded + failed >= min_member:
        return "Scheduling"
    return "Pending"


class Reporter:
    def __init__(self, handle: Handle, plugin: GangScheduling) -> None:
        self._handle = handle
        self._plugin = plugin
        self._refs: dict[GroupKey, PodGroupRef] = {}
        self._dirty: set[GroupKey] = set()
        self._held: dict[PodUID, tuple[PodInfo, str]] = {}
        self._since: dict[GroupKey, float] = {}
        self._pod_since: dict[PodUID, float] = {}
        self._last_failure: dict[GroupKey, str] = {}
        # Per pod, the (reason, message) written last, so a message is written once;
        # forgotten with the pod's group (pods outside groups: past a bound).
        self._written: dict[PodUID, tuple[str, str]] = {}
        self._written_by_group: dict[GroupKey | None, set[PodUID]] = {}
        self._status_written: dict[GroupKey, dict[str, object]] = {}
        self._task: asyncio.Task[None] | None = None
        self._now = asyncio.Event()
        self.rounds: collections.Counter[str] = collections.Counter()
        handle.pod_groups.subscribe(self._member_changed)

    # -- what the plugin tells it ----------------------------------------------------

    def held(self, pod: PodInfo, message: str) -> None:
        """A pod held for a reason of its own (two groups named, its group missing)."""
        if len(self._pod_since) > MAX_REMEMBERED:
            self._pod_since.clear()
        self._pod_since.setdefault(pod.uid, time.time())
        self._held[pod.uid] = (pod, message)
        self._schedule()

    def gated(self, pod: PodInfo) -> None:
        """A member held at PreEnqueue: its group has too few members."""
        key = pod.pod_group.key
        if key is None:
            return
        self._since.setdefault(key, time.time())
        self._refs.setdefault(key, pod.pod_group)
        self._mark(key)

    def waiting(self, members: GroupMembers, policy: GroupPolicy) -> None:
        del policy
        self._since.setdefault(members.key, time.time())
        self._mark(members.key, members)

    def allowed(self, key: GroupKey) -> None:
        self.rounds["allowed"] += 1
        self._since.pop(key, None)
        self._last_failure.pop(key, None)
        self._mark(key)

    def released(self, key: GroupKey, why: str) -> None:
        self.rounds["released"] += 1
        self.failed(key, why)

    def failed(self, key: GroupKey, why: str) -> None:
        """An attempt of the group failed: its Workload API condition says why."""
        self._last_failure[key] = why
        self._mark(key)

    def _member_changed(self, key: GroupKey) -> None:
        if key in self._refs:
            self._mark(key)

    def _mark(self, key: GroupKey, members: GroupMembers | None = None) -> None:
        if key not in self._refs:
            pods = members.pods if members is not None else ()
            ref = next((p.pod_group for p in pods), PodGroupRef(key))
            self._refs[key] = ref
        self._dirty.add(key)
        self._schedule()

    # -- states, for the metrics -------------------------------------------------------

    def states(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        live = set(self._handle.pod_groups.keys())
        for key in [k for k in self._refs if k not in live]:
            self._forget(key)
        for key, ref in self._refs.items():
            policy = self._plugin.groups.find(ref).policy
            if policy is None or not policy.gang:
                continue
            counts[self.state(self._handle.pod_groups.members(key), policy)] += 1
        return counts

    def state(self, members: GroupMembers, policy: GroupPolicy) -> str:
        if len(members.bound) + members.succeeded + members.failed >= policy.min_member:
            return SCHEDULED
        if members.count + members.succeeded + members.failed < policy.min_member:
            return INCOMPLETE
        if members.assumed - members.bound:
            return WAITING_STATE
        return PENDING

    def group_changed(self, key: GroupKey) -> None:
        """The group object changed (its status, say): look at it again."""
        if key in self._refs:
            self._mark(key)

    def _forget(self, key: GroupKey) -> None:
        for uid in self._written_by_group.pop(key, set()):
            self._written.pop(uid, None)
        self._status_written.pop(key, None)
        self._refs.pop(key, None)
        self._since.pop(key, None)
        self._last_failure.pop(key, None)
        self._dirty.discard(key)

    # -- writing -------------------------------------------------------------------------

    def _schedule(self) -> None:
        if self._task is not None and not self._task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no event loop (a plugin driven by hand): written at the next drain
        self._now.clear()
        self._task = loop.create_task(self._flush_soon(), name="gang status writes")

    async def _flush_soon(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._now.wait(), timeout=FLUSH_DELAY)
        while self._dirty or self._held:
            await self.flush()

    async def drain(self) -> None:
        """Write what is pending now, and wait for it."""
        self._now.set()
        if self._task is not None:
            await asyncio.shield(self._task)
        if self._dirty or self._held:
            await self.flush()

    async def flush(self) -> None:
        held, self._held = self._held, {}
        for pod, message in held.values():
            since = self._pod_since.get(pod.uid, time.time())
            await self._report(pod, HELD, f"{message}; held since {_stamp(since)}", warn=True)
        dirty, self._dirty = self._dirty, set()
        for key in sorted(dirty):
            ref = self._refs.get(key)
            if ref is None:
                continue
            found = self._plugin.groups.find(ref)
            policy = found.policy
            if policy is None or not policy.gang:
                continue
            members = self._handle.pod_groups.members(key)
            await self._report_members(members, policy)
            if found.resource is not None:
                path = self._path(found.resource.group, found.resource.version, policy)
                if key.api == PLUGINS_API:
                    await self._plugins_status(path, members, policy)
                else:
                    await self._workload_status(path, members, policy)

    async def _report_members(self, members: GroupMembers, policy: GroupPolicy) -> None:
        since = _stamp(self._since.get(members.key, time.time()))
        detail = describe(members, policy)
        incomplete = members.count < policy.min_member

        def still_incomplete() -> bool:
            # Each write awaits: the group may have completed (and its members been
            # attempted, their failure written) since ``members`` was read.
            return self._handle.pod_groups.count(members.key) < policy.min_member

        stale: list[PodInfo] = []
        for pod in members.pods:
            if pod.uid in members.bound:
                self._written.pop(pod.uid, None)
                continue
            waiting = self._handle.get_waiting_pod(pod.uid)
            if waiting is not None and not waiting.done:
                words = self._plugin.waiting_words
                await self._report(pod, WAITING, f"{words}: {detail}; waiting since {since}")
            elif incomplete and pod.uid not in members.assumed:
                message = f"{GATED}: {detail}; waiting since {since}"
                await self._report(pod, HELD, message, unless_stale=still_incomplete)
            elif (
                self._written.get(pod.uid, ("", ""))[0] == HELD
                and pod.uid not in members.assumed
                and not still_incomplete()
            ):
                stale.append(pod)
        if stale:
            # Said to be gated, yet the group is complete: attempted again, each
            # gets the scheduler's own word on why it waits.
            for pod in stale:
                self._written.pop(pod.uid, None)
            self._handle.activate(stale)

    async def _report(
        self,
        pod: PodInfo,
        reason: str,
        message: str,
        *,
        warn: bool = False,
        unless_stale: Callable[[], bool] | None = None,
    ) -> None:
        """``unless_stale``: asked again right before each write; False drops it."""
        if self._written.get(pod.uid) == (reason, message):
            return
        if unless_stale is not None and not unless_stale():
            return
        if pod.scheduled_condition == ("False", reason, message):
            return
        self._written[pod.uid] = (reason, message)
        mine = self._written_by_group.setdefault(pod.pod_group.key, set())
        mine.add(pod.uid)
        if pod.pod_group.key is None and len(mine) > MAX_REMEMBERED:
            for uid in mine:
                self._written.pop(uid, None)  # at worst, one message written twice
            mine.clear()
        cluster = self._handle.cluster
        try:
            await cluster.record_event(
                pod,
                type="Warning" if warn else "Normal",
                reason="FailedScheduling" if warn else reason,
                action="Scheduling",
                note=message,
                reporting_controller=self._handle.profile_name,
            )
            if unless_stale is not None and not unless_stale():
                self._written.pop(pod.uid, None)
                return
            await cluster.patch_pod_status(
                pod,
                condition=PodCondition("PodScheduled", "False", reason, message),
                nominated_node=None,
            )
        except NotFound:
            pass
        except ClusterError as exc:
            self._written.pop(pod.uid, None)
            log.warning("writing a held member's status failed", pod=pod.key, error=str(exc))

    @staticmethod
    def _path(group: str, version: str, policy: GroupPolicy) -> str:
        key = policy.key
        return f"/apis/{group}/{version}/namespaces/{key.namespace}/podgroups/{key.name}"

    async def _plugins_status(self, path: str, members: GroupMembers, policy: GroupPolicy) -> None:
        old = policy.status
        phase = plugins_phase(members, policy.min_member)
        status: dict[str, object] = {
            "phase": phase,
            "running": members.running,
            "succeeded": members.succeeded,
            "failed": members.failed,
            "scheduled": len(members.bound) + members.succeeded + members.failed,
        }
        # A field the object lacks may be one its CRD prunes ("scheduled" was dropped
        # from scheduler-plugins' schema): compare only what it keeps, and what we
        # wrote last, so a pruned field is not written again and again.
        kept = {k: v for k, v in status.items() if k in old or k != "scheduled"}
        defaults: Mapping[str, object] = {"phase": "", "running": 0, "succeeded": 0, "failed": 0}
        if self._status_written.get(members.key) == status or all(
            old.get(k, defaults.get(k, 0)) == v for k, v in kept.items()
        ):
            return
        self._status_written[members.key] = dict(status)
        if phase != "Pending" and not old.get("scheduleStartTime"):
            status["scheduleStartTime"] = _stamp(time.time())
        await self._patch(path, status, policy)

    async def _workload_status(self, path: str, members: GroupMembers, policy: GroupPolicy) -> None:
        raw = policy.status.get("conditions")
        conditions: list[Any] = list(raw) if isinstance(raw, list) else []
        mine = next(
            (c for c in conditions if isinstance(c, dict) and c.get("type") == INITIALLY_SCHEDULED),
            None,
        )
        if mine is not None and mine.get("status") == "True":
            return  # upstream never takes it back
        bound = len(members.bound) + members.succeeded + members.failed
        if bound >= policy.min_member:
            wanted = ("True", "Scheduled", f"{bound} pods of the gang are bound")
        elif failure := self._last_failure.get(members.key):
            wanted = ("False", "Unschedulable", failure)
        else:
            return
        if mine is not None and (mine.get("status"), mine.get("reason"), mine.get("message")) == (
            wanted
        ):
            return
        condition: dict[str, object] = {
            "type": INITIALLY_SCHEDULED,
            "status": wanted[0],
            "reason": wanted[1],
            "message": wanted[2],
            "lastTransitionTime": _stamp(time.time()),
        }
        if policy.status.get("observedGeneration") is not None:
            condition["observedGeneration"] = policy.status["observedGeneration"]
        others = [c for c in conditions if c is not mine]
        await self._patch(path, {"conditions": [*others, condition]}, policy)

    async def _patch(self, path: str, status: Mapping[str, object], policy: GroupPolicy) -> None:
        try:
            await self._handle.cluster.patch_object_status(
                path=path, status=status, resource_version=policy.resource_version
            )
        except NotFound:
            pass
        except ClusterError as exc:
            # A Conflict means a newer object is on its way: it marks the group again.
            log.info("pod group status not written", path=path, error=str(exc))
