"""Cluster objects besides pods and nodes, as plugins consult them:
PodDisruptionBudgets (preemption), namespace labels (namespaceSelector), the
selectors of workload owners (default topology spread constraints) and the
storage objects (PersistentVolumeClaims, PersistentVolumes, StorageClasses,
CSINodes) the volume plugins judge.

Kept current by the kopf handlers in :mod:`py_scheduler.kube.objects`, or filled
from a snapshot by the simulator.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from py_scheduler.model import PodInfo
from py_scheduler.model.budgets import DisruptionBudget
from py_scheduler.model.selectors import LabelSelector
from py_scheduler.model.volumes import (
    CSINode,
    PersistentVolume,
    PersistentVolumeClaim,
    StorageClass,
)


class StoredObjects(Protocol):
    """What a snapshot of the cluster holds besides nodes and pods."""

    @property
    def budgets(self) -> Iterable[DisruptionBudget]: ...

    @property
    def claims(self) -> Iterable[PersistentVolumeClaim]: ...

    @property
    def volumes(self) -> Iterable[PersistentVolume]: ...

    @property
    def storage_classes(self) -> Iterable[StorageClass]: ...

    @property
    def csi_nodes(self) -> Iterable[CSINode]: ...


class ObjectStore:
    def __init__(self) -> None:
        self.budgets: dict[tuple[str, str], DisruptionBudget] = {}
        self.namespaces: dict[str, dict[str, str]] = {}
        self.selectors: dict[tuple[str, str, str], LabelSelector] = {}  # (kind, ns, name)
        self.claims: dict[tuple[str, str], PersistentVolumeClaim] = {}  # (ns, name)
        self.volumes: dict[str, PersistentVolume] = {}
        self.classes: dict[str, StorageClass] = {}
        self.csi_nodes: dict[str, CSINode] = {}

    def pdbs(self, namespace: str) -> Sequence[DisruptionBudget]:
        return [b for (ns, _), b in self.budgets.items() if ns == namespace]

    def namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        return self.namespaces.get(namespace)

    def owner_selectors(self, pod: PodInfo) -> Sequence[LabelSelector]:
        return [
            selector
            for (_, ns, _), selector in self.selectors.items()
            if ns == pod.namespace and selector.matches(pod.labels)
        ]

    def pvc(self, namespace: str, name: str) -> PersistentVolumeClaim | None:
        return self.claims.get((namespace, name))

    def pv(self, name: str) -> PersistentVolume | None:
        return self.volumes.get(name)

    def pvs(self) -> Sequence[PersistentVolume]:
        return list(self.volumes.values())

    def storage_class(self, name: str) -> StorageClass | None:
        return self.classes.get(name)

    def csi_node(self, name: str) -> CSINode | None:
        return self.csi_nodes.get(name)

    # -- writes (a snapshot, the simulated API server) --------------------------------

    def load(self, snapshot: StoredObjects) -> None:
        """Hold every object of ``snapshot``, as a full relist would."""
        for budget in snapshot.budgets:
            self.put_budget(budget)
        for claim in snapshot.claims:
            self.put_claim(claim)
        for volume in snapshot.volumes:
            self.put_volume(volume)
        self.classes.update({c.name: c for c in snapshot.storage_classes})
        self.csi_nodes.update({c.name: c for c in snapshot.csi_nodes})

    def put_budget(self, budget: DisruptionBudget) -> None:
        self.budgets[(budget.namespace, budget.name)] = budget

    def put_claim(self, claim: PersistentVolumeClaim) -> PersistentVolumeClaim | None:
        """Store ``claim``; returns the one it replaces."""
        key = (claim.namespace, claim.name)
        old = self.claims.get(key)
        self.claims[key] = claim
        return old

    def put_volume(self, volume: PersistentVolume) -> PersistentVolume | None:
        """Store ``volume``; returns the one it replaces."""
        old = self.volumes.get(volume.name)
        self.volumes[volume.name] = volume
        return old
