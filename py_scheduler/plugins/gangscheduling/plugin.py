"""GangScheduling: a pod group's pods are bound all together, or none is.

Upstream's ``gangscheduling`` plugin (kube-scheduler 1.35 to 1.37) for its
Workload API, and scheduler-plugins' Coscheduling for its PodGroup CRD, in
one plugin over both APIs (:mod:`.groups`):

- **PreEnqueue** holds a member until ``minMember`` pods of its group exist,
  with upstream's words ("waiting for minCount pods from a gang to appear in
  scheduling queue"); a missing group or a pod naming two groups is held too.
- **PreFilter** rejects a member at once when the cluster's free capacity
  cannot hold the gang (the members' requests, scheduler-plugins'
  ``minResources``): no node is reserved for a gang that cannot fit.
- **PostFilter** runs before DefaultPreemption: a member that fits nowhere
  either makes room for the whole gang by preemption (:mod:`.preemption`),
  or releases the members already waiting, so two gangs never hold half a
  cluster each.
- **Permit** holds assumed members until ``minMember`` are assumed or bound,
  then allows them all at once; a timeout, a rejection or a deleted group
  releases every waiting member (Unreserve), and they go back to the queue
  together.
- **PreBind** is a barrier: the members allowed together bind only once all
  of them got past the other PreBind plugins; one that fails before binding
  fails them all, so no partial gang is bound.

Its QueueSort is :mod:`.sort` (GangSort); its status writes (pods held,
PodGroup status) are :mod:`.reporting`'s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Final

import structlog

from py_scheduler.framework.custom_resources import CustomResource
from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.interface import Handle, PreFilterExtensions
from py_scheduler.framework.pod_groups import GroupMembers
from py_scheduler.framework.registry import PluginSpec
from py_scheduler.framework.status import SKIP, SUCCESS, Code, Status
from py_scheduler.framework.types import (
    ActionType,
    ClusterEventWithHint,
    NodeToStatus,
    PostFilterResult,
    PreFilterResult,
    QueueingHint,
    Resource,
    event,
)
from py_scheduler.model import NodeInfo, NodeName, PodInfo, PodUID, Resources
from py_scheduler.model.podgroups import GroupKey, GroupPolicy, PodGroupRef
from py_scheduler.plugins.gangscheduling import capacity, messages, preemption
from py_scheduler.plugins.gangscheduling.args import GangSchedulingArgs, decode_args
from py_scheduler.plugins.gangscheduling.groups import Found, GroupDirectory
from py_scheduler.plugins.gangscheduling.messages import (
    BARRIER_FAILED,
    BARRIER_TIMEOUT,
    GATED,
    GROUP_DELETED,
    MEMBER_LEFT,
    MEMBER_UNSCHEDULABLE,
    NO_ROOM,
    NO_ROOM_MIN_RESOURCES,
    PRESENT,
    RELEASED,
    RELEASED_WAITING,
    WAITING,
    WAITING_135,
    describe,
)
from py_scheduler.plugins.gangscheduling.reporting import ROUND_RESULTS, Reporter

log = structlog.get_logger("py_scheduler.plugins.gangscheduling")

NAME: Final = "GangScheduling"
# How long a gang waits for the victims of its preemption before planning again, and
# how long its evictions get to show in the watch before a victim still unmarked
# counts as refused.
VICTIMS_GRACE: Final = 30.0
EVICTION_SETTLE: Final = 5.0


@dataclass(slots=True)
class Round:
    """The members Permit allowed together, meeting at the PreBind barrier."""

    group: GroupKey
    members: set[PodUID]
    arrived: set[PodUID] = field(default_factory=set)
    failure: str = ""
    done: asyncio.Event | None = None

    def finish(self, failure: str = "") -> None:
        if self.failure or self.complete:
            return
        self.failure = failure
        if self.done is not None:
            self.done.set()

    @property
    def complete(self) -> bool:
        return not self.failure and self.arrived >= self.members


class GangScheduling:
    name: ClassVar[str] = NAME

    def __init__(self, args: GangSchedulingArgs, handle: Handle) -> None:
        self.args = args
        self.handle = handle
        self.groups = GroupDirectory(handle)
        self._members = handle.pod_groups
        self.waiting_words = WAITING if handle.server.version.at_least(1, 36) else WAITING_135
        self._rounds: dict[PodUID, Round] = {}
        # Groups whose preemption victims are still leaving: victim UIDs, and since when.
        self._preempting: dict[GroupKey, tuple[set[PodUID], float]] = {}
        self._planning = False
        self.reporter = Reporter(handle, self)
        for lister in self.groups.listers():
            lister.on_change(self._group_changed)
        # Groups with members held at PreEnqueue for too few members: their reference.
        self._incomplete: dict[GroupKey, PodGroupRef] = {}
        handle.pod_groups.subscribe(self._members_changed)

    # -- lookups -------------------------------------------------------------------

    def gang_of(self, pod: PodInfo) -> tuple[GroupPolicy | None, Found]:
        """The pod's gang policy (None: the pod is not in a gang), and the lookup."""
        found = self.groups.find(pod.pod_group)
        policy = found.policy
        if policy is None or not policy.gang:
            return None, found
        return policy, found

    def release(self, key: GroupKey, why: str) -> int:
        """Reject every member of ``key`` held at Permit; how many there were."""
        released = 0
        message = RELEASED.format(group=key, why=why)
        for waiting in self.handle.waiting_pods():
            if waiting.pod.pod_group.key == key and waiting.reject(NAME, message):
                released += 1
        if released:
            log.info("gang released", group=str(key), members=released, reason=why)
            self.reporter.released(key, why)
        return released

    # -- PreEnqueue ----------------------------------------------------------------

    def pre_enqueue(self, pod: PodInfo) -> Status:
        ref = pod.pod_group
        if ref.conflict:
            self.reporter.held(pod, ref.conflict)
            return Status.unresolvable(ref.conflict)
        if ref.key is None:
            return SUCCESS
        policy, found = self.gang_of(pod)
        if found.missing:
            self.reporter.held(pod, found.missing)
            return Status.unresolvable(found.missing)
        if policy is None:
            return SUCCESS
        count = self._members.count(ref.key)
        if count < policy.min_member:
            self._incomplete[ref.key] = ref
            self.reporter.gated(pod)
            return Status.unresolvable(
                GATED, PRESENT.format(group=ref.key, count=count, need=policy.min_member)
            )
        return SUCCESS

    # -- PreFilter -----------------------------------------------------------------

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        del state, nodes
        if self._planning or pod.pod_group.key is None:
            return None, SKIP
        policy, found = self.gang_of(pod)
        if found.missing:
            return None, Status.unresolvable(found.missing)
        if policy is None:
            return None, SKIP
        members = self._members.members(policy.key)
        if members.count < policy.min_member:
            return None, Status.unresolvable(GATED, describe(members, policy))
        if members.scheduled >= policy.min_member or members.assumed:
            # The quorum is met, or this round already passed the check.
            return None, SUCCESS
        short = self._shortfall(pod, members, policy)
        if short:
            # Unschedulable, not unresolvable: evicting lower-priority pods may make room.
            return None, Status.unschedulable(short, describe(members, policy))
        return None, SUCCESS

    def _shortfall(self, pod: PodInfo, members: GroupMembers, policy: GroupPolicy) -> str:
        nodes = self.handle.snapshot.node_infos()
        eligible = capacity.may_host(pod)
        bound = [p for p in members.pods if p.uid in members.bound]
        wanted = capacity.smallest(members.unscheduled(), policy.min_member - len(bound))
        need = capacity.total_requests(wanted)
        short = capacity.shortfall(nodes, need, len(wanted), eligible=eligible)
        if short:
            return NO_ROOM.format(short=", ".join(short))
        if policy.min_resources is not None or policy.min_pods:
            need = policy.min_resources.copy() if policy.min_resources else Resources()
            need.subtract(capacity.total_requests(bound))
            pods = max(policy.min_pods or policy.min_member, policy.min_member) - len(bound)
            short = capacity.shortfall(nodes, need, pods, eligible=eligible)
            if short:
                return NO_ROOM_MIN_RESOURCES.format(short=", ".join(short))
        return ""

    def pre_filter_extensions(self) -> PreFilterExtensions | None:
        return None

    # -- PostFilter ----------------------------------------------------------------

    def post_filter(
        self, state: CycleState, pod: PodInfo, statuses: NodeToStatus
    ) -> tuple[PostFilterResult | None, Status]:
        policy, _ = self.gang_of(pod)
        if policy is None:
            return None, Status(Code.UNSCHEDULABLE)  # not ours: preemption decides
        key = policy.key
        members = self._members.members(key)
        if members.scheduled >= policy.min_member:
            # The gang has its quorum; this extra member may preempt on its own.
            return None, Status(Code.UNSCHEDULABLE)
        pending = self._preempting.get(key)
        if pending is not None:
            victims, since = pending
            age = time.monotonic() - since
            if age < VICTIMS_GRACE and self._victims_leaving(
                victims, settled=age > EVICTION_SETTLE
            ):
                return None, Status.unresolvable(messages.WAITING_FOR_VICTIMS.format(group=key))
            # Gone, an eviction refused, or still there long after: plan anew.
            del self._preempting[key]
        plan, why = self._plan(state, pod, members, policy, statuses)
        if plan is not None:
            self._preempting[key] = ({v.uid for v in plan.victims}, time.monotonic())
            words = messages.FOUND.format(
                group=key, pods=len(plan.placements), count=len(plan.victims)
            )
            return (
                PostFilterResult(plan.node, plan.victims),
                Status(Code.SUCCESS, (words,)),
            )
        released = self.release(key, MEMBER_UNSCHEDULABLE.format(pod=pod.key))
        self.reporter.failed(key, why)
        if released:
            why += RELEASED_WAITING.format(released=released)
        return None, Status.unresolvable(why)

    def _plan(
        self,
        state: CycleState,
        pod: PodInfo,
        members: GroupMembers,
        policy: GroupPolicy,
        statuses: NodeToStatus,
    ) -> tuple[preemption.Plan | None, str]:
        self._planning = True
        try:
            return preemption.plan(self.handle, state, pod, members, policy, statuses=statuses)
        finally:
            self._planning = False

    def _victims_leaving(self, victims: set[PodUID], *, settled: bool) -> bool:
        """Whether the plan's victims are still on their way out. Once the evictions
        had time to show (``settled``), a victim neither terminating nor marked for
        preemption had its eviction refused: the plan is void."""
        left = False
        for node_info in self.handle.snapshot.node_infos():
            for uid, pod in node_info.pods.items():
                if uid not in victims or pod.deleting:
                    continue
                if settled and not pod.preempted_by_scheduler:
                    return False
                left = True
        return left

    # -- Reserve -------------------------------------------------------------------

    def reserve(self, state: CycleState, pod: PodInfo, node: NodeName) -> Status:
        del state, pod, node
        return SUCCESS  # the cache counts assumed members

    def unreserve(self, state: CycleState, pod: PodInfo, node: NodeName) -> None:
        del state, node
        key = pod.pod_group.key
        if key is None:
            return
        current = self._rounds.pop(pod.uid, None)
        if current is not None and not current.complete:
            current.finish(BARRIER_FAILED.format(group=key, pod=pod.key))
        why = MEMBER_LEFT.format(pod=pod.key)
        self.release(key, why)
        self.reporter.failed(key, why)

    # -- Permit --------------------------------------------------------------------

    def permit(self, state: CycleState, pod: PodInfo, node: NodeName) -> tuple[Status, float]:
        del state, node
        if pod.pod_group.key is None:
            return SUCCESS, 0.0
        policy, found = self.gang_of(pod)
        if found.missing:
            return Status.unschedulable(found.missing), 0.0
        if policy is None:
            return SUCCESS, 0.0
        members = self._members.members(policy.key)
        if members.scheduled >= policy.min_member:
            self._allow(policy.key, pod)
            return SUCCESS, 0.0
        if len(members.assumed) <= 1:
            # The first member of a round: bring the others out of backoff now.
            self.handle.activate(members.unscheduled())
        self.reporter.waiting(members, policy)
        timeout = policy.timeout or float(self.args.permit_waiting_time_seconds)
        return Status(Code.WAIT, (self.waiting_words, describe(members, policy))), timeout

    def _allow(self, key: GroupKey, pod: PodInfo) -> None:
        waiting = [w for w in self.handle.waiting_pods() if w.pod.pod_group.key == key]
        together = Round(key, {pod.uid, *(w.pod.uid for w in waiting)})
        if len(together.members) > 1:
            for uid in together.members:
                self._rounds[uid] = together
        for member in waiting:
            member.allow(NAME)
        self.reporter.allowed(key)

    # -- PreBind -------------------------------------------------------------------

    async def pre_bind(self, state: CycleState, pod: PodInfo, node: NodeName) -> Status:
        del state, node
        together = self._rounds.get(pod.uid)
        if together is None:
            return SKIP
        if together.done is None:
            together.done = asyncio.Event()
            if together.failure:
                together.done.set()
        together.arrived.add(pod.uid)
        if together.complete:
            together.done.set()
        else:
            seconds = self.args.permit_waiting_time_seconds
            try:
                await asyncio.wait_for(together.done.wait(), timeout=seconds)
            except TimeoutError:
                together.finish(BARRIER_TIMEOUT.format(group=together.group, seconds=seconds))
        self._rounds.pop(pod.uid, None)
        if together.failure:
            return Status.unschedulable(together.failure)
        return SUCCESS

    # -- events --------------------------------------------------------------------

    def events_to_register(self) -> Sequence[ClusterEventWithHint]:
        kinds: list[CustomResource] = [lister.resource for lister in self.groups.listers()]
        if self.groups.workloads is not None:
            kinds.append(self.groups.workloads.resource)
        group_events = [
            ClusterEventWithHint(
                event(kind, ActionType.ADD | ActionType.UPDATE | ActionType.DELETE),
                self._after_group_change,
            )
            for kind in kinds
        ]
        return (
            # A member bound (by an earlier leader, say) may complete the quorum. A new
            # unbound member that completes the gang activates the rest itself.
            ClusterEventWithHint(
                event(Resource.ASSIGNED_POD, ActionType.ADD), self._after_member_added
            ),
            # Room for a gang that did not fit, or was released.
            ClusterEventWithHint(event(Resource.ASSIGNED_POD, ActionType.DELETE)),
            ClusterEventWithHint(
                event(Resource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_ALLOCATABLE)
            ),
            # A budget that stopped the gang's preemption may let it through now.
            ClusterEventWithHint(
                event(Resource.PDB, ActionType.ADD | ActionType.UPDATE | ActionType.DELETE),
                self._after_budget_change,
            ),
            *group_events,
        )

    def _after_member_added(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        del old
        if not isinstance(new, PodInfo):
            return QueueingHint.QUEUE
        key = pod.pod_group.key
        if key is None or new.pod_group.key != key or new.uid == pod.uid:
            return QueueingHint.SKIP
        policy, found = self.gang_of(pod)
        if found.missing:
            return QueueingHint.SKIP  # the group's own arrival lets it in
        # Only the member that completes the gang lets the others in: requeueing
        # every held member on every arrival would cost a big gang n² checks.
        if policy is not None and self._members.count(key) < policy.min_member:
            return QueueingHint.SKIP
        return QueueingHint.QUEUE

    def _members_changed(self, key: GroupKey) -> None:
        """A member came or went: the one that completes a held gang lets the rest in
        at once (one activation per gang, where a cluster event would make every
        arrival look at every held member: n² for a big gang)."""
        ref = self._incomplete.get(key)
        if ref is None:
            return
        policy = self.groups.find(ref).policy
        count = self._members.count(key)
        if count == 0:
            del self._incomplete[key]
        elif policy is None or count >= policy.min_member:
            del self._incomplete[key]
            self.handle.activate(self._members.members(key).unscheduled())

    def _after_budget_change(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        # Victims may be in any namespace, so any budget may have been the one.
        del old, new
        return QueueingHint.SKIP if pod.pod_group.key is None else QueueingHint.QUEUE

    def _after_group_change(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        key = pod.pod_group.key
        if key is None:
            return QueueingHint.SKIP
        for obj in (old, new):
            if not isinstance(obj, dict):
                continue
            meta = obj.get("metadata")
            if isinstance(meta, dict) and meta.get("namespace", "") == key.namespace:
                name = meta.get("name")
                if name == key.name or name == pod.pod_group.workload:
                    return QueueingHint.QUEUE
        return QueueingHint.SKIP

    def _group_changed(
        self, action: ActionType, old: GroupPolicy | None, new: GroupPolicy | None
    ) -> None:
        del action
        if old is not None and new is None:
            # Held members of a deleted group give their room back at once.
            self.release(old.key, GROUP_DELETED)
        elif new is not None:
            self.reporter.group_changed(new.key)

    # -- for the scheduler's metrics -----------------------------------------------

    def pod_group_states(self) -> dict[str, int]:
        return self.reporter.states()

    def pod_group_rounds(self) -> dict[str, int]:
        return {result: self.reporter.rounds[result] for result in ROUND_RESULTS}

    async def drain(self) -> None:
        await self.reporter.drain()


SPEC: Final = PluginSpec(NAME, decode_args, GangScheduling)
