"""Schedule a snapshot one pod at a time, in queue order, with the live code.

``SimulatedCluster`` is the simulator's adapter of the ``Cluster`` port: it
plays the API server. A bind, an eviction or a status patch (a nomination)
takes effect at once and is appended to its watch stream (a queue given at
construction), which the loop hands to the scheduler's event handlers as the
live watches would, so each result updates the snapshot the next pod sees. It also plays the PV
controller and an ideal provisioner: a pre-bound volume binds its claim at
once, and a claim given a selected node is bound to a new volume of the
requested size. The Eviction API refuses what a PodDisruptionBudget protects
(``model.budgets.protects``, the rule preemption plans with) and spends one
disruption per eviction, as the disruption controller would record. Through
:mod:`~py_scheduler.simulation.dra` it takes ResourceClaim writes and plays
the resourceclaim controller. The snapshot's objects of kinds plugins
watch (custom resources) are loaded as the live watches would list them.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from py_scheduler.cluster import PodCondition, TooManyRequests
from py_scheduler.config import SchedulerConfig
from py_scheduler.framework.types import ActionType, Resource
from py_scheduler.framework.waiting_pods import ManualTimers
from py_scheduler.model import PodInfo
from py_scheduler.model import volumes as vol
from py_scheduler.model.budgets import protects
from py_scheduler.model.dra.objects import Consumer, ResourceClaim
from py_scheduler.model.server import OFFLINE, ServerInfo
from py_scheduler.scheduling.build import build_scheduler
from py_scheduler.scheduling.eventhandlers import EventHandlers
from py_scheduler.scheduling.object_store import ObjectStore
from py_scheduler.scheduling.schedule_one import CycleOutcome
from py_scheduler.scheduling.scheduler import Scheduler
from py_scheduler.simulation.dra import ClaimController, chosen_devices, expand_templates
from py_scheduler.simulation.snapshot import Snapshot, SnapshotError


@dataclass
class Result:
    """``simulate``'s report for one pod: where it ended up, or why it stays
    pending, folded from its ``CycleOutcome``s (a preemptor that binds after
    its victims left keeps its nomination and victims), as plain names."""

    pod: str
    node: str | None
    message: str
    nominated_node: str | None
    victims: list[str]
    # Per ResourceClaim of the pod: the devices allocated ({driver, pool, device, request}).
    claims: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "pod": self.pod,
            "node": self.node,
            "message": self.message,
            "nominatedNode": self.nominated_node,
            "victims": self.victims,
            "claims": self.claims,
        }


@dataclass(frozen=True, slots=True)
class PodChanged:
    pod: PodInfo


@dataclass(frozen=True, slots=True)
class PodDeleted:
    pod: PodInfo


@dataclass(frozen=True, slots=True)
class ObjectChanged:
    resource: Resource
    action: ActionType
    old: object
    new: object


WatchEvent = PodChanged | PodDeleted | ObjectChanged


def deliver(watch: deque[WatchEvent], handlers: EventHandlers) -> None:
    """Hand every event the simulated API server emitted to the event handlers."""
    while watch:
        match watch.popleft():
            case PodChanged(pod):
                handlers.on_pod(pod)
            case PodDeleted(pod):
                handlers.on_pod_deleted(pod)
            case ObjectChanged(resource, action, old, new):
                handlers.on_object(resource, action, old, new)


@dataclass
class SimulatedCluster:
    """Binds, evictions and claim writes take effect at once; evictions honour PDBs."""

    objects: ObjectStore
    watch: deque[WatchEvent]
    bound: dict[str, str] = field(default_factory=dict)
    evicted: list[str] = field(default_factory=list)
    resource_claims: ClaimController = field(init=False)

    def __post_init__(self) -> None:
        self.resource_claims = ClaimController(self.objects, self._announce)

    def _announce(self, resource: Resource, action: ActionType, old: object, new: object) -> None:
        self.watch.append(ObjectChanged(resource, action, old, new))

    async def bind(self, pod: PodInfo, node: str) -> None:
        self.bound[pod.key] = node
        self.watch.append(PodChanged(replace(pod, node_name=node, phase="Running")))

    async def patch_pod_status(
        self, pod: PodInfo, *, condition: PodCondition | None, nominated_node: str | None
    ) -> None:
        # Fed back as the watch would: a preemptor's nomination must reach its
        # next attempt, which tries the nominated node first (evaluateNominatedNode).
        if pod.key in self.bound or pod.key in self.evicted:
            return  # the watch shows the bind or the deletion instead
        updated = pod
        if nominated_node is not None:
            updated = replace(updated, nominated_node=nominated_node)
        if condition is not None:
            scheduled = (condition.status, condition.reason, condition.message)
            updated = replace(updated, scheduled_condition=scheduled)
        self.watch.append(PodChanged(updated))

    async def evict(self, pod: PodInfo) -> None:
        budgets = [b for b in self.objects.pdbs(pod.namespace) if protects(b, pod)]
        if any(b.disruptions_allowed <= 0 for b in budgets):
            raise TooManyRequests(
                "Cannot evict pod as it would violate the pod's disruption budget."
            )
        for b in budgets:
            self.objects.put_budget(replace(b, disruptions_allowed=b.disruptions_allowed - 1))
        await self.delete(pod)

    async def delete(self, pod: PodInfo) -> None:
        self.evicted.append(pod.key)
        self.watch.append(PodDeleted(pod))
        self.resource_claims.release(pod)

    async def record_event(
        self,
        pod: PodInfo,
        *,
        type: str,
        reason: str,
        action: str,
        note: str,
        reporting_controller: str,
    ) -> None:
        del pod, type, reason, action, note, reporting_controller

    async def bind_volume(
        self, volume: vol.PersistentVolume, claim: vol.PersistentVolumeClaim
    ) -> vol.PersistentVolume:
        bound = replace(
            volume,
            claim_ref=vol.ClaimRef(claim.namespace, claim.name, claim.uid),
            phase=vol.VOLUME_BOUND,
        )
        self._store_volume(bound)
        self._bind_claim(claim, bound.name)
        return bound

    async def select_node(
        self, claim: vol.PersistentVolumeClaim, node: str
    ) -> vol.PersistentVolumeClaim:
        provisioned = vol.PersistentVolume(
            name=f"pvc-{claim.uid or claim.name}",
            uid="",
            capacity=claim.requested_storage,
            access_modes=claim.access_modes,
            storage_class_name=claim.storage_class_name,
            claim_ref=vol.ClaimRef(claim.namespace, claim.name, claim.uid),
            phase=vol.VOLUME_BOUND,
            volume_mode=claim.volume_mode,
        )
        self._store_volume(provisioned)
        annotated = replace(claim, annotations={**claim.annotations, vol.ANN_SELECTED_NODE: node})
        return self._bind_claim(annotated, provisioned.name)

    async def get_resource_claim(self, namespace: str, name: str) -> ResourceClaim:
        return self.resource_claims.get(namespace, name)

    async def add_claim_finalizer(self, claim: ResourceClaim) -> ResourceClaim:
        return self.resource_claims.add_finalizer(claim)

    async def reserve_claim(
        self,
        claim: ResourceClaim,
        *,
        consumer: Consumer,
        allocation: Mapping[str, object] | None,
    ) -> ResourceClaim:
        return self.resource_claims.reserve(claim, consumer, allocation)

    async def unreserve_claim(self, claim: ResourceClaim, pod_uid: str) -> None:
        self.resource_claims.unreserve(claim, pod_uid)

    async def deallocate_claim(self, claim: ResourceClaim) -> ResourceClaim:
        return self.resource_claims.deallocate(claim)

    def _store_volume(self, volume: vol.PersistentVolume) -> None:
        old = self.objects.put_volume(volume)
        action = ActionType.ADD if old is None else ActionType.UPDATE
        self.watch.append(ObjectChanged(Resource.PV, action, old, volume))

    def _bind_claim(
        self, claim: vol.PersistentVolumeClaim, volume: str
    ) -> vol.PersistentVolumeClaim:
        bound = replace(
            claim,
            volume_name=volume,
            phase=vol.CLAIM_BOUND,
            annotations={**claim.annotations, vol.ANN_BIND_COMPLETED: "yes"},
        )
        old = self.objects.put_claim(bound)
        self.watch.append(ObjectChanged(Resource.PVC, ActionType.UPDATE, old, bound))
        return bound


async def _at_once() -> None:
    """Victims are gone the moment they are evicted: nothing to wait for."""


def load_custom_objects(scheduler: Scheduler, snapshot: Snapshot) -> list[str]:
    """Hand the plugins the snapshot's objects of the kinds they watch, as a
    first list would; returns the labels of the documents no plugin watches."""
    store = scheduler.custom_objects
    unused = dict(snapshot.others)
    for resource in store.resources():
        mine = {label: doc for label, doc in unused.items() if resource.describes(doc)}
        for label in mine:
            del unused[label]
        try:
            store.replace(resource, mine.values())
        except ValueError as exc:
            raise SnapshotError(f"{resource.value}: {exc}") from None
        store.set_served(resource, True)
    return list(unused)


async def simulate(
    snapshot: Snapshot,
    cfg: SchedulerConfig,
    *,
    seed: int = 0,
    notes: Callable[[str], None] | None = None,
    server: ServerInfo = OFFLINE,
) -> list[Result]:
    """Schedule the snapshot's pending pods as the kube-scheduler of ``server``'s release
    would: its messages, and its default plugins where ``cfg`` keeps the defaults.
    ``notes`` hears of each snapshot document no one uses."""
    objects = ObjectStore()
    objects.load(snapshot)
    pods, generated = expand_templates(snapshot.pods, snapshot.claim_templates)
    for claim in generated:
        objects.put_resource_claim(claim)
    outcomes: dict[str, CycleOutcome] = {}
    order: list[str] = []

    def remember(outcome: CycleOutcome) -> None:
        key = outcome.pod.key
        earlier = outcomes.get(key)
        if earlier is None:
            order.append(key)
        elif outcome.node and earlier.victims:
            # A preemptor that binds after its victims left: report both.
            outcome = replace(
                outcome, nominated_node=earlier.nominated_node, victims=earlier.victims
            )
        outcomes[key] = outcome

    watch: deque[WatchEvent] = deque()
    # Pods held at Permit wait on a virtual clock: a timeout passes only once
    # no pod is left to try, so the outcome never depends on the machine's speed.
    timers = ManualTimers()
    cluster = SimulatedCluster(objects, watch)
    scheduler = build_scheduler(
        cfg,
        cluster=cluster,
        objects=objects,
        rng=random.Random(seed),
        listeners=(remember,),
        settle=_at_once,
        server=server,
        timers=timers,
    )
    for label in load_custom_objects(scheduler, snapshot):
        if notes is not None:
            notes(f"ignoring {label}")
    scheduler.replace_nodes(snapshot.nodes)
    scheduler.replace_pods(pods)
    # A timeout requeues the pods its rejection may help, which may wait and time
    # out in turn: once every pod could have timed out with no bind in between,
    # the rest of the waits end as timeouts and the run stops.
    stalled, binds = 0, 0
    while True:
        queued = scheduler.queue.pop_nowait()
        if queued is not None:
            scheduler.schedule_one(queued)
        elif stalled > len(pods) or not timers.fire_next():
            break
        else:
            stalled += 1
        # Binds, evictions and claim writes complete, and are seen, before the
        # next pod is considered.
        await scheduler.drain(timeout=30)
        deliver(watch, scheduler)
        if len(cluster.bound) > binds:
            stalled, binds = 0, len(cluster.bound)
    while timers.fire_next():
        await scheduler.drain(timeout=30)
        deliver(watch, scheduler)
    results = []
    for key in order:
        outcome = outcomes[key]
        results.append(
            Result(
                pod=key,
                node=outcome.node,
                message=outcome.message,
                nominated_node=outcome.nominated_node,
                victims=[v.key for v in outcome.victims],
                claims=chosen_devices(outcome.pod, objects) if outcome.node else {},
            )
        )
    return results
