"""Schedule a snapshot one pod at a time, in queue order, with the live code.

``SimulatedCluster`` plays the API server: a bind, an eviction or a status
patch (a nomination) takes effect at once and is fed back as the watch would,
so each result updates the snapshot the next pod sees. It also plays the PV controller and an ideal
provisioner: a pre-bound volume binds its claim at once, and a claim given a
selected node is bound to a new volume of the requested size.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

from py_scheduler.cluster import PodCondition, TooManyRequests
from py_scheduler.config import SchedulerConfig
from py_scheduler.framework.types import ActionType, Resource
from py_scheduler.model import PodInfo
from py_scheduler.model import volumes as vol
from py_scheduler.scheduling.build import build_scheduler
from py_scheduler.scheduling.objects import ObjectStore
from py_scheduler.scheduling.scheduler import Outcome, Scheduler
from py_scheduler.simulation.snapshot import Snapshot


@dataclass
class Result:
    pod: str
    node: str | None
    message: str
    nominated_node: str | None
    victims: list[str]

    def to_json(self) -> dict[str, object]:
        return {
            "pod": self.pod,
            "node": self.node,
            "message": self.message,
            "nominatedNode": self.nominated_node,
            "victims": self.victims,
        }


@dataclass
class SimulatedCluster:
    """Binds and evictions take effect at once; evictions honour PDBs."""

    scheduler: Scheduler | None = None
    objects: ObjectStore | None = None
    bound: dict[str, str] = field(default_factory=dict)
    evicted: list[str] = field(default_factory=list)

    async def bind(self, pod: PodInfo, node: str) -> None:
        self.bound[pod.key] = node
        if self.scheduler is not None:
            self.scheduler.on_pod(replace(pod, node_name=node, phase="Running"))

    async def patch_pod_status(
        self, pod: PodInfo, *, condition: PodCondition | None, nominated_node: str | None
    ) -> None:
        # Fed back as the watch would: a preemptor's nomination must reach its
        # next attempt, which tries the nominated node first (evaluateNominatedNode).
        current = self.scheduler.pending.get(pod.uid) if self.scheduler is not None else None
        if self.scheduler is None or current is None:
            return
        updated = current
        if nominated_node is not None:
            updated = replace(updated, nominated_node=nominated_node)
        if condition is not None:
            scheduled = (condition.status, condition.reason, condition.message)
            updated = replace(updated, scheduled_condition=scheduled)
        self.scheduler.on_pod(updated)

    async def evict(self, pod: PodInfo) -> None:
        if self.objects is not None:
            budgets = [
                b
                for b in self.objects.pdbs(pod.namespace)
                if b.selector is not None
                and not b.selector.is_empty
                and b.selector.matches(pod.labels)
            ]
            if any(b.disruptions_allowed <= 0 for b in budgets):
                raise TooManyRequests(
                    "Cannot evict pod as it would violate the pod's disruption budget."
                )
            for b in budgets:
                key = (b.namespace, b.name)
                self.objects.budgets[key] = replace(
                    b, disruptions_allowed=b.disruptions_allowed - 1
                )
        await self.delete(pod)

    async def delete(self, pod: PodInfo) -> None:
        self.evicted.append(pod.key)
        if self.scheduler is not None:
            self.scheduler.on_pod_deleted(pod)

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

    def _store_volume(self, volume: vol.PersistentVolume) -> None:
        if self.objects is None:
            return
        old = self.objects.volumes.get(volume.name)
        self.objects.volumes[volume.name] = volume
        if self.scheduler is not None:
            action = ActionType.ADD if old is None else ActionType.UPDATE
            self.scheduler.on_object(Resource.PV, action, old, volume)

    def _bind_claim(
        self, claim: vol.PersistentVolumeClaim, volume: str
    ) -> vol.PersistentVolumeClaim:
        bound = replace(
            claim,
            volume_name=volume,
            phase=vol.CLAIM_BOUND,
            annotations={**claim.annotations, vol.ANN_BIND_COMPLETED: "yes"},
        )
        if self.objects is not None:
            old = self.objects.claims.get((claim.namespace, claim.name))
            self.objects.claims[(claim.namespace, claim.name)] = bound
            if self.scheduler is not None:
                self.scheduler.on_object(Resource.PVC, ActionType.UPDATE, old, bound)
        return bound


async def simulate(snapshot: Snapshot, cfg: SchedulerConfig, *, seed: int = 0) -> list[Result]:
    objects = ObjectStore()
    for budget in snapshot.budgets:
        objects.budgets[(budget.namespace, budget.name)] = budget
    objects.claims.update({(c.namespace, c.name): c for c in snapshot.claims})
    objects.volumes.update({v.name: v for v in snapshot.volumes})
    objects.classes.update({c.name: c for c in snapshot.storage_classes})
    objects.csi_nodes.update({c.name: c for c in snapshot.csi_nodes})
    objects.selectors.update(snapshot.owner_selectors)
    cluster = SimulatedCluster(objects=objects)
    scheduler = build_scheduler(
        cfg, cluster=cluster, objects=objects, rng=random.Random(seed), record_metrics=False
    )
    cluster.scheduler = scheduler
    outcomes: dict[str, Outcome] = {}
    order: list[str] = []

    def remember(outcome: Outcome) -> None:
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

    scheduler.on_outcome.append(remember)
    scheduler.replace_nodes(snapshot.nodes)
    scheduler.replace_pods(snapshot.pods)
    while (info := scheduler.queue.pop_nowait()) is not None:
        scheduler.schedule_one(info)
        # Binds and evictions complete before the next pod is considered.
        await scheduler.drain(timeout=30)
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
            )
        )
    return results
