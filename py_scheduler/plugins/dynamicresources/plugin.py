"""DynamicResources: pods with ResourceClaims get devices, as kube-scheduler's
``dynamicresources`` plugin allocates them (structured parameters).

PreEnqueue holds a pod back until its claims exist (a template's claim is
created by the controller manager). PreFilter gathers the pod's claims,
refuses claims in use or still being allocated for another pod, checks every
request's DeviceClass, and builds an :class:`~py_scheduler.model.dra.allocator.
Allocator` over the devices nobody holds. Filter admits a node when the
claims already allocated are available there and the allocator finds
devices there for the rest. Reserve puts the chosen allocation in flight
(:mod:`.tracker`), so the next cycle cannot take the same devices; PreBind
writes ``status.allocation`` and ``status.reservedFor``; Unreserve forgets
what is in flight and takes the pod off claims it reserved. PostFilter, when
no node fits, deallocates one claim that is allocated where the pod cannot
go and is used by no other pod; otherwise it says so, up to Kubernetes 1.36
(1.37 rejects without a word: docs/releases.md). Score prefers nodes
where ``firstAvailable`` requests got an earlier choice.

Beyond upstream, preemption counts devices: a node whose devices are held by
lower-priority pods is Unschedulable (not unresolvable) when freeing them
would let the claims allocate, and the dry run's RemovePod frees the devices
of claims only the victims use.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import ClassVar, Final

from py_scheduler.cluster import ClusterError, Conflict
from py_scheduler.framework.cycle_state import CycleState, StateKey
from py_scheduler.framework.interface import MAX_NODE_SCORE, Handle, PreFilterExtensions
from py_scheduler.framework.registry import PluginSpec
from py_scheduler.framework.status import SKIP, SUCCESS, Status
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
from py_scheduler.model import NodeInfo, NodeName, PodInfo, PodUID
from py_scheduler.model.dra import cel
from py_scheduler.model.dra.allocator import (
    AllocationError,
    AllocationResult,
    Allocator,
    NodeAllocationError,
    PoolCache,
)
from py_scheduler.model.dra.objects import (
    FINALIZER,
    FIRST_AVAILABLE_MAX_SIZE,
    Consumer,
    DeviceID,
    ResourceClaim,
    decode_resource_claim,
)
from py_scheduler.model.dra.podclaims import ClaimLookupError, claim_keys, pod_claims
from py_scheduler.model.dra.tables import held_devices
from py_scheduler.model.selectors import NodeSelector
from py_scheduler.plugins.dynamicresources.args import DynamicResourcesArgs, decode_args
from py_scheduler.plugins.dynamicresources.tracker import ClaimTracker, DeviceUnion
from py_scheduler.plugins.dynamicresources.writes import ClaimWrites

NAME: Final = "DynamicResources"
REASON_CANNOT_ALLOCATE: Final = "cannot allocate all claims"
REASON_NOT_AVAILABLE: Final = "resourceclaim not available on the node"
REASON_IN_USE: Final = "resourceclaim in use"
# PostFilter's words, as kube-scheduler 1.35 and 1.36 print them; 1.37 dropped the first
# two (kubernetes PR 140222), so FailedScheduling messages go from the filter reasons
# straight to preemption's.
NO_NEW_CLAIMS: Final = "no new claims to deallocate"
STILL_NOT_SCHEDULABLE: Final = "still not schedulable"
DEALLOCATED: Final = "deallocation of ResourceClaim completed"
RESERVED_FOR_MAX_SIZE: Final = 256
# retry.DefaultRetry, as upstream's claim update retries on conflicts.
CONFLICT_RETRIES: Final = (0.01, 0.01, 0.01, 0.01)

_KEY: Final[StateKey[_State]] = StateKey(f"PreFilter{NAME}")


@dataclass(slots=True)
class _State:
    claims: list[ResourceClaim] = field(default_factory=list)
    available_on: list[NodeSelector | None] = field(default_factory=list)
    to_allocate: list[int] = field(default_factory=list)  # indices of unallocated claims
    allocating: list[ResourceClaim] = field(default_factory=list)  # those claims
    allocator: Allocator | None = None
    allocated: DeviceUnion | None = None
    unavailable: set[int] = field(default_factory=set)
    by_node: dict[str, list[AllocationResult]] = field(default_factory=dict)
    reserved: dict[int, AllocationResult] = field(default_factory=dict)
    # Preemption's dry run: pods removed from the node, and the devices that frees.
    removed: dict[PodUID, PodInfo] = field(default_factory=dict)
    freed: frozenset[DeviceID] = frozenset()

    def clone(self) -> _State:
        # Spelled out: preemption clones the state once per node it tries, and
        # dataclasses.replace costs several times a plain construction.
        return _State(
            self.claims,
            self.available_on,
            self.to_allocate,
            self.allocating,
            self.allocator,
            self.allocated,
            set(self.unavailable),
            dict(self.by_node),
            dict(self.reserved),
            dict(self.removed),
            self.freed,
        )


class DynamicResources:
    name: ClassVar[str] = NAME

    def __init__(self, args: DynamicResourcesArgs, handle: Handle) -> None:
        self._handle = handle
        self._args = args
        self._post_filter_quiet = handle.server.version.at_least(1, 37)
        self.tracker = ClaimTracker(handle.objects)
        self.writes = ClaimWrites()
        self.selectors = cel.SelectorCache()
        self.pools: PoolCache = {}
        self.rng = random.Random()

    async def drain(self) -> None:
        """Wait for the claim writes Unreserve and PostFilter started."""
        await self.writes.drain()

    # -- PreEnqueue -----------------------------------------------------------------

    def pre_enqueue(self, pod: PodInfo) -> Status:
        """Hold the pod back until every claim it names exists (a template's claim
        is created by the controller manager): a claim event or the pod's own
        update lets it in, without a failed attempt or a backoff."""
        if not pod.resource_claims:
            return SUCCESS
        try:
            pod_claims(pod, self.tracker.get)
        except ClaimLookupError as exc:
            return Status.unresolvable(str(exc))
        return SUCCESS

    # -- PreFilter ------------------------------------------------------------------

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        st = _State()
        state.write(_KEY, st)
        if not pod.resource_claims:
            return None, SKIP
        try:
            claims = pod_claims(pod, self.tracker.get)
        except ClaimLookupError as exc:
            return None, Status.unresolvable(str(exc))
        if not claims:
            return None, SKIP
        for index, claim in enumerate(claims):
            if claim.allocation is not None:
                if len(claim.reserved_for) >= RESERVED_FOR_MAX_SIZE and not claim.reserved_for_pod(
                    pod.uid
                ):
                    return None, Status.unresolvable(REASON_IN_USE)
                st.available_on.append(claim.allocation.node_selector)
                continue
            st.available_on.append(None)
            st.to_allocate.append(index)
            if self.tracker.pending_allocation(claim.uid) is not None:
                return None, Status.unresolvable(
                    f"resource claim {claim.key} is in the process of being allocated"
                )
            problem = self._check_classes(claim)
            if problem is not None:
                return None, problem
        st.claims = claims
        st.allocating = [claims[i] for i in st.to_allocate]
        if st.to_allocate:
            st.allocated = self.tracker.allocated()
            st.allocator = self._allocator(st.allocated)
        return None, SUCCESS

    def _check_classes(self, claim: ResourceClaim) -> Status | None:
        for request in claim.requests:
            if request.exactly is not None:
                wanted = [(request.name, request.exactly.device_class_name)]
            elif request.first_available:
                wanted = [
                    (f"{request.name}/{sub.name}", sub.device_class_name)
                    for sub in request.first_available
                ]
            else:
                return Status.unresolvable(
                    f"resource claim {claim.key}, request {request.name}: unknown request type"
                )
            for name, class_name in wanted:
                if not class_name:
                    return Status.error(f"request {name}: unsupported request type")
                if self._handle.objects.device_class(class_name) is None:
                    return Status.unresolvable(
                        f"request {name}: device class {class_name} does not exist"
                    )
        return None

    def _allocator(self, allocated: DeviceUnion) -> Allocator:
        objects = self._handle.objects
        return Allocator(
            allocated=allocated,
            classes=objects.device_class,
            slices=objects.resource_slices(),
            node_slices=objects.node_slices,
            selectors=self.selectors,
            timeout=self._args.filter_timeout,
            pool_cache=self.pools,
        )

    def pre_filter_extensions(self) -> PreFilterExtensions | None:
        return self

    # -- preemption's dry run (PreFilterExtensions) ------------------------------------

    def add_pod(self, state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo) -> Status:
        st = state.get(_KEY)
        if st is not None and st.removed.pop(added.uid, None) is not None:
            st.freed = self._freed_by(st.removed)
        return SUCCESS

    def remove_pod(
        self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo
    ) -> Status:
        st = state.get(_KEY)
        if st is not None and st.allocator is not None and removed.resource_claims:
            st.removed[removed.uid] = removed
            st.freed = self._freed_by(st.removed)
        return SUCCESS

    def _freed_by(self, pods: dict[PodUID, PodInfo]) -> frozenset[DeviceID]:
        """Devices of claims that only ``pods`` use."""
        freed: set[DeviceID] = set()
        for gone in pods.values():
            for key in claim_keys(gone):
                namespace, _, name = key.partition("/")
                claim = self.tracker.get(namespace, name)
                if claim is None or not claim.reserved_for:
                    continue
                if all(c.uid in pods for c in claim.reserved_for):
                    freed |= held_devices(claim)
        return frozenset(freed)

    # -- Filter ---------------------------------------------------------------------

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        st = state.get(_KEY)
        if st is None or not st.claims:
            return SUCCESS
        unavailable = [
            i
            for i, selector in enumerate(st.available_on)
            if selector is not None and not selector.matches(node.name, node.node.labels)
        ]
        if unavailable:
            st.unavailable.update(unavailable)
            return Status.unresolvable(REASON_NOT_AVAILABLE)
        if st.allocator is None:
            return SUCCESS
        allocator = st.allocator
        if st.freed and st.allocated is not None:
            allocator = self._allocator(st.allocated.without(st.freed))
        claims = st.allocating
        try:
            results = allocator.allocate(node.node, claims)
        except NodeAllocationError as exc:
            return Status.unresolvable(str(exc))
        except TimeoutError:
            return Status.error(f"node {node.name}: timed out trying to allocate devices")
        except AllocationError as exc:
            return Status.error(str(exc))
        if results is None or len(results) != len(claims):
            if not st.freed and self._preemption_may_help(st, pod, node, claims):
                return Status.unschedulable(REASON_CANNOT_ALLOCATE)
            return Status.unresolvable(REASON_CANNOT_ALLOCATE)
        st.by_node[node.name] = results
        return SUCCESS

    def _preemption_may_help(
        self, st: _State, pod: PodInfo, node: NodeInfo, claims: list[ResourceClaim]
    ) -> bool:
        """Whether evicting the node's lower-priority pods would free enough devices."""
        if st.allocated is None:
            return False
        lower = {p.uid: p for p in node.pods.values() if p.priority < pod.priority}
        if not lower:
            return False
        freed = self._freed_by(lower)
        if not freed:
            return False
        try:
            results = self._allocator(st.allocated.without(freed)).allocate(node.node, claims)
        except (AllocationError, NodeAllocationError, TimeoutError):
            return False
        return results is not None

    # -- PostFilter -----------------------------------------------------------------

    def post_filter(
        self, state: CycleState, pod: PodInfo, statuses: NodeToStatus
    ) -> tuple[PostFilterResult | None, Status]:
        st = state.get(_KEY)
        if st is None or not st.claims:
            return None, self._nothing_to_deallocate(NO_NEW_CLAIMS)
        # A random pick, as upstream's map iteration: no claim is a better choice.
        candidates = list(st.unavailable)
        self.rng.shuffle(candidates)
        for index in candidates:
            claim = st.claims[index]
            users = claim.reserved_for
            if not users or (len(users) == 1 and users[0].uid == pod.uid):
                self.writes.spawn(self._deallocate(claim), f"deallocate {claim.key}")
                return None, Status.unschedulable(DEALLOCATED)
        return None, self._nothing_to_deallocate(STILL_NOT_SCHEDULABLE)

    def _nothing_to_deallocate(self, words: str) -> Status:
        return Status.unschedulable() if self._post_filter_quiet else Status.unschedulable(words)

    async def _deallocate(self, claim: ResourceClaim) -> None:
        await self._handle.cluster.deallocate_claim(claim)

    # -- Score ----------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        st = state.get(_KEY)
        if st is None or not any(r.first_available for c in st.claims for r in c.requests):
            return SKIP  # every node would score 0
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        st = state.get(_KEY)
        results = st.by_node.get(node.name) if st is not None else None
        if st is None or results is None:
            return 0
        total = 0
        pending = iter(results)
        for claim in st.claims:
            allocation = claim.allocation
            names = (
                {r.request for r in allocation.results}
                if allocation is not None
                else {d.request for d in next(pending).devices}
            )
            for request in claim.requests:
                for i, sub in enumerate(request.first_available):
                    if f"{request.name}/{sub.name}" in names:
                        total += FIRST_AVAILABLE_MAX_SIZE - i
        return total

    def normalize_scores(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        highest = max(scores, default=0)
        if highest == 0:
            return
        for i, raw in enumerate(scores):
            scores[i] = MAX_NODE_SCORE * raw // highest

    # -- Reserve / Unreserve ----------------------------------------------------------

    def reserve(self, state: CycleState, pod: PodInfo, node: NodeName) -> Status:
        st = state.get(_KEY)
        if st is None or not st.to_allocate:
            return SUCCESS
        results = st.by_node.get(node)
        if results is None or len(results) != len(st.to_allocate):
            return Status.error("claim allocation not found for node")
        for index, result in zip(st.to_allocate, results, strict=True):
            st.reserved[index] = result
            claim = st.claims[index]
            allocated = replace(
                claim,
                allocation=decode_resource_claim(
                    {"metadata": {"name": claim.name}, "status": {"allocation": result.raw}}
                ).allocation,
            )
            self.tracker.signal_pending(allocated)
        return SUCCESS

    def unreserve(self, state: CycleState, pod: PodInfo, node: NodeName) -> None:
        st = state.get(_KEY)
        if st is None:
            return
        for index, claim in enumerate(st.claims):
            if index in st.reserved and self.tracker.maybe_remove_pending(claim.uid):
                self.tracker.restore(claim.key)
            if claim.allocation is not None and claim.reserved_for_pod(pod.uid):
                # Written by our PreBind: take the pod off again, as upstream does.
                self.writes.spawn(
                    self._handle.cluster.unreserve_claim(claim, pod.uid), f"unreserve {claim.key}"
                )
        st.reserved.clear()

    # -- PreBind --------------------------------------------------------------------

    async def pre_bind(self, state: CycleState, pod: PodInfo, node: NodeName) -> Status:
        st = state.get(_KEY)
        if st is None or not st.claims:
            return SUCCESS
        bound: list[str] = []
        for index, claim in enumerate(st.claims):
            if claim.reserved_for_pod(pod.uid):
                continue
            try:
                st.claims[index] = await self._bind_claim(claim, st.reserved.get(index), pod)
            except _BindError as exc:
                return Status.error(str(exc))
            bound.append(claim.uid)
        for uid in bound:
            self.tracker.maybe_remove_pending(uid, force=True)
        return SUCCESS

    async def _bind_claim(
        self, claim: ResourceClaim, result: AllocationResult | None, pod: PodInfo
    ) -> ResourceClaim:
        """Record the allocation (if Reserve chose one) and the pod's reservation."""
        cluster = self._handle.cluster
        consumer = Consumer("pods", pod.name, pod.uid)
        what = "add allocation and reservation to" if result else "add reservation to"
        current = claim
        for attempt, delay in enumerate((*CONFLICT_RETRIES, None)):
            try:
                if attempt:
                    current = await cluster.get_resource_claim(claim.namespace, claim.name)
                if current.deleting:
                    raise _BindError(f"claim {claim.key} got deleted in the meantime")
                if result is not None:
                    if current.allocation is not None:
                        raise _BindError(
                            f"claim {claim.key} got allocated elsewhere in the meantime"
                        )
                    if FINALIZER not in current.finalizers:
                        current = await cluster.add_claim_finalizer(current)
                written = await cluster.reserve_claim(
                    current, consumer=consumer, allocation=result.raw if result else None
                )
            except Conflict:
                if delay is None:
                    raise _BindError(f"{what} claim {claim.key}: conflict") from None
                await asyncio.sleep(delay)
                continue
            except ClusterError as exc:
                raise _BindError(f"{what} claim {claim.key}: {exc}") from None
            self.tracker.assume(written)
            return written
        raise _BindError(f"{what} claim {claim.key}: conflict")

    # -- cluster events -------------------------------------------------------------

    def events_to_register(self) -> Sequence[ClusterEventWithHint]:
        return (
            ClusterEventWithHint(
                event(
                    Resource.NODE,
                    ActionType.ADD
                    | ActionType.UPDATE_NODE_LABEL
                    | ActionType.UPDATE_NODE_ALLOCATABLE,
                )
            ),
            ClusterEventWithHint(
                event(
                    Resource.RESOURCE_CLAIM, ActionType.ADD | ActionType.UPDATE | ActionType.DELETE
                ),
                self._after_claim_change,
            ),
            ClusterEventWithHint(event(Resource.DEVICE_CLASS, ActionType.ADD | ActionType.UPDATE)),
            ClusterEventWithHint(
                event(Resource.RESOURCE_SLICE, ActionType.ADD | ActionType.UPDATE)
            ),
        )

    def _after_claim_change(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        """``isSchedulableAfterClaimChange``."""
        before = old if isinstance(old, ResourceClaim) else None
        after = new if isinstance(new, ResourceClaim) else None
        if after is None:
            # Deleted: only a deallocation frees devices.
            return QueueingHint.QUEUE if before is None or before.allocation else QueueingHint.SKIP
        try:
            uses = any(c.uid == after.uid for c in pod_claims(pod, self.tracker.get))
        except ClaimLookupError:
            return QueueingHint.SKIP
        if before is not None and before.allocation is not None and after.allocation is None:
            return QueueingHint.QUEUE  # devices freed, for anyone
        if not uses:
            return QueueingHint.SKIP
        if before is None:
            return QueueingHint.QUEUE
        if (before.allocation, before.reserved_for) == (after.allocation, after.reserved_for):
            return QueueingHint.SKIP  # e.g. the driver added a finalizer
        return QueueingHint.QUEUE


class _BindError(Exception):
    pass


SPEC: Final = PluginSpec(NAME, decode_args, DynamicResources)
