"""Cluster objects besides pods and nodes, as plugins consult them:
PodDisruptionBudgets (preemption), namespace labels (namespaceSelector), the
selectors of workload owners (default topology spread constraints), the
storage objects (PersistentVolumeClaims, PersistentVolumes, StorageClasses,
CSINodes) the volume plugins judge, and the DRA objects (ResourceClaims,
DeviceClasses, ResourceSlices) DynamicResources allocates from.

Kept current by the watches in :mod:`py_scheduler.kube.objects`, or filled
from a snapshot by the simulator.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from typing import Final, Protocol

from py_scheduler.model import PodInfo
from py_scheduler.model.budgets import DisruptionBudget
from py_scheduler.model.dra.objects import DeviceClass, DeviceID, ResourceClaim, ResourceSlice
from py_scheduler.model.dra.tables import ClaimTable, SliceTable
from py_scheduler.model.selectors import LabelSelector
from py_scheduler.model.volumes import (
    CSIDriver,
    CSINode,
    CSIStorageCapacity,
    PersistentVolume,
    PersistentVolumeClaim,
    StorageClass,
)

# The controllers whose selectors give the system default spreading, as
# upstream's DefaultSelector matches their group/version/kind.
_CONTROLLERS: Final = frozenset(
    {("v1", "ReplicationController"), ("apps/v1", "ReplicaSet"), ("apps/v1", "StatefulSet")}
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

    @property
    def csi_drivers(self) -> Iterable[CSIDriver]: ...

    @property
    def csi_storage_capacities(self) -> Iterable[CSIStorageCapacity]: ...

    @property
    def resource_claims(self) -> Iterable[ResourceClaim]: ...

    @property
    def device_classes(self) -> Iterable[DeviceClass]: ...

    @property
    def resource_slices(self) -> Iterable[ResourceSlice]: ...

    @property
    def namespaces(self) -> Mapping[str, Mapping[str, str]]: ...

    @property
    def owner_selectors(self) -> Mapping[tuple[str, str, str], LabelSelector]: ...


class ObjectStore:
    def __init__(self) -> None:
        self.budgets: dict[tuple[str, str], DisruptionBudget] = {}
        self.namespaces: dict[str, dict[str, str]] = {}
        self.selectors: dict[tuple[str, str, str], LabelSelector] = {}  # (kind, ns, name)
        self.claims: dict[tuple[str, str], PersistentVolumeClaim] = {}  # (ns, name)
        self.volumes: dict[str, PersistentVolume] = {}
        self.classes: dict[str, StorageClass] = {}
        self.csi_nodes: dict[str, CSINode] = {}
        self.csi_drivers: dict[str, CSIDriver] = {}
        self.capacities: dict[tuple[str, str], CSIStorageCapacity] = {}  # (ns, name)
        self.resource_claims = ClaimTable()  # "namespace/name"
        self.device_classes: dict[str, DeviceClass] = {}
        self.slices = SliceTable()

    def pdbs(self, namespace: str) -> Sequence[DisruptionBudget]:
        return [b for (ns, _), b in self.budgets.items() if ns == namespace]

    def namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        return self.namespaces.get(namespace)

    def owner_selectors(self, pod: PodInfo) -> Sequence[LabelSelector]:
        """Upstream's DefaultSelector: the Services whose selector matches the
        pod, then its controller (a ReplicationController, ReplicaSet or
        StatefulSet), found by the controller reference, never by labels."""
        out = [
            selector
            for (kind, ns, _), selector in self.selectors.items()
            if kind == "Service" and ns == pod.namespace and selector.matches(pod.labels)
        ]
        controller = next((o for o in pod.owners if o.controller), None)
        if controller is not None and (controller.api_version, controller.kind) in _CONTROLLERS:
            found = self.selectors.get((controller.kind, pod.namespace, controller.name))
            if found is not None:
                out.append(found)
        return out

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

    def csi_driver(self, name: str) -> CSIDriver | None:
        return self.csi_drivers.get(name)

    def storage_capacities(self) -> Sequence[CSIStorageCapacity]:
        return list(self.capacities.values())

    def resource_claim(self, namespace: str, name: str) -> ResourceClaim | None:
        return self.resource_claims.get(f"{namespace}/{name}")

    def device_class(self, name: str) -> DeviceClass | None:
        return self.device_classes.get(name)

    def resource_slices(self) -> Sequence[ResourceSlice]:
        return self.slices.all()

    def node_slices(self, node: str) -> Sequence[ResourceSlice]:
        return self.slices.for_node(node)

    def allocated_devices(self) -> Set[DeviceID]:
        return self.resource_claims.allocated

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
        self.csi_drivers.update({d.name: d for d in snapshot.csi_drivers})
        self.capacities.update({(c.namespace, c.name): c for c in snapshot.csi_storage_capacities})
        self.device_classes.update({c.name: c for c in snapshot.device_classes})
        for resource_slice in snapshot.resource_slices:
            self.slices[resource_slice.name] = resource_slice
        for resource_claim in snapshot.resource_claims:
            self.put_resource_claim(resource_claim)
        self.namespaces.update({name: dict(labels) for name, labels in snapshot.namespaces.items()})
        self.selectors.update(snapshot.owner_selectors)

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

    def put_resource_claim(self, claim: ResourceClaim) -> ResourceClaim | None:
        """Store ``claim``; returns the one it replaces."""
        old = self.resource_claims.get(claim.key)
        self.resource_claims[claim.key] = claim
        return old

    def delete_resource_claim(self, key: str) -> ResourceClaim | None:
        """Forget the claim ``namespace/name``; returns it, if it was held."""
        return self.resource_claims.pop(key, None)
