"""Watches of the low-rate cluster objects plugins consult, on the event loop.

PodDisruptionBudgets, Namespaces, the Services, ReplicationControllers,
ReplicaSets and StatefulSets whose selectors give the system default
spreading, the storage objects (PersistentVolumeClaims, PersistentVolumes,
StorageClasses, CSINodes, CSIDrivers, CSIStorageCapacities) and the DRA objects
(ResourceClaims, DeviceClasses, ResourceSlices) are listed and watched by the same
:class:`~py_scheduler.kube.watches.Reflector` as pods and nodes, and kept in
the :class:`~py_scheduler.scheduling.object_store.ObjectStore`. Every handler
runs on the scheduler's event loop, between two scheduling cycles, so the
store never changes under a cycle. Budget, storage and DRA changes are
cluster events too: ``on_change`` requeues the pods the volume plugins or DynamicResources
rejected, and a relist reports what it added, changed and removed as such
events.

A kind is one row of :data:`KINDS`: its path, how to decode an object into
a key and a value, and the store table it fills.

A budget seen late or stale here cannot cause a violation: evictions go
through the Eviction API, where the API server enforces every budget.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Final

import structlog

from py_scheduler.framework.types import ActionType, Resource
from py_scheduler.kube.client import KubeClient
from py_scheduler.kube.watches import Handlers, Reflector
from py_scheduler.model import volumes as vol
from py_scheduler.model.budgets import decode_budget
from py_scheduler.model.dra import objects as dra
from py_scheduler.model.raw import Fields
from py_scheduler.model.selectors import decode_owner_selector
from py_scheduler.scheduling.object_store import ObjectStore

log = structlog.get_logger("py_scheduler.objects")

# (resource, action, old, new): the scheduler's ``on_object``.
OnChange = Callable[[Resource, ActionType, object, object], None]
Decoded = tuple[Hashable, object | None]  # key, value (None: keep nothing for it)


def _meta(raw: Mapping[str, Any]) -> tuple[str, str]:
    meta = Fields(raw).obj("metadata")
    return meta.string("namespace"), meta.string("name")


def _namespaced(decode: Callable[[Mapping[str, Any]], object]) -> Callable[..., Decoded]:
    def decoded(raw: Mapping[str, Any]) -> Decoded:
        namespace, name = _meta(raw)
        return (namespace or "default", name), decode(raw)

    return decoded


def _joined(decode: Callable[[Mapping[str, Any]], object]) -> Callable[..., Decoded]:
    """Keyed ``namespace/name``, as the ResourceClaim table is."""

    def decoded(raw: Mapping[str, Any]) -> Decoded:
        namespace, name = _meta(raw)
        return f"{namespace or 'default'}/{name}", decode(raw)

    return decoded


def _cluster_scoped(decode: Callable[[Mapping[str, Any]], object]) -> Callable[..., Decoded]:
    def decoded(raw: Mapping[str, Any]) -> Decoded:
        return _meta(raw)[1], decode(raw)

    return decoded


def _owner(kind: str) -> Callable[[Mapping[str, Any]], Decoded]:
    def decoded(raw: Mapping[str, Any]) -> Decoded:
        namespace, name = _meta(raw)
        return (kind, namespace or "default", name), decode_owner_selector(kind, raw)

    return decoded


def _namespace_labels(raw: Mapping[str, Any]) -> Decoded:
    meta = Fields(raw).obj("metadata")
    return meta.string("name"), meta.str_map("labels")


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    path: str
    decode: Callable[[Mapping[str, Any]], Decoded]
    table: Callable[[ObjectStore], MutableMapping[Any, Any]]
    resource: Resource | None = None  # a cluster event for the queue on each change


KINDS: Final = (
    Kind(
        "poddisruptionbudgets",
        "/apis/policy/v1/poddisruptionbudgets",
        _namespaced(decode_budget),
        lambda s: s.budgets,
        # a budget's change requeues pods (a gang whose preemption a budget stopped)
        Resource.PDB,
    ),
    Kind("namespaces", "/api/v1/namespaces", _namespace_labels, lambda s: s.namespaces),
    Kind("services", "/api/v1/services", _owner("Service"), lambda s: s.selectors),
    Kind(
        "replicationcontrollers",
        "/api/v1/replicationcontrollers",
        _owner("ReplicationController"),
        lambda s: s.selectors,
    ),
    Kind("replicasets", "/apis/apps/v1/replicasets", _owner("ReplicaSet"), lambda s: s.selectors),
    Kind(
        "statefulsets", "/apis/apps/v1/statefulsets", _owner("StatefulSet"), lambda s: s.selectors
    ),
    Kind(
        "persistentvolumeclaims",
        "/api/v1/persistentvolumeclaims",
        _namespaced(vol.decode_pvc),
        lambda s: s.claims,
        Resource.PVC,
    ),
    Kind(
        "persistentvolumes",
        "/api/v1/persistentvolumes",
        _cluster_scoped(vol.decode_pv),
        lambda s: s.volumes,
        Resource.PV,
    ),
    Kind(
        "storageclasses",
        "/apis/storage.k8s.io/v1/storageclasses",
        _cluster_scoped(vol.decode_storage_class),
        lambda s: s.classes,
        Resource.STORAGE_CLASS,
    ),
    Kind(
        "csinodes",
        "/apis/storage.k8s.io/v1/csinodes",
        _cluster_scoped(vol.decode_csi_node),
        lambda s: s.csi_nodes,
        Resource.CSI_NODE,
    ),
    Kind(
        "csidrivers",
        "/apis/storage.k8s.io/v1/csidrivers",
        _cluster_scoped(vol.decode_csi_driver),
        lambda s: s.csi_drivers,
        Resource.CSI_DRIVER,
    ),
    Kind(
        "csistoragecapacities",
        "/apis/storage.k8s.io/v1/csistoragecapacities",
        _namespaced(vol.decode_csi_storage_capacity),
        lambda s: s.capacities,
        Resource.CSI_STORAGE_CAPACITY,
    ),
    Kind(
        "resourceclaims",
        f"/apis/{dra.GROUP}/{dra.VERSION}/resourceclaims",
        _joined(dra.decode_resource_claim),
        lambda s: s.resource_claims,
        Resource.RESOURCE_CLAIM,
    ),
    Kind(
        "deviceclasses",
        f"/apis/{dra.GROUP}/{dra.VERSION}/deviceclasses",
        _cluster_scoped(dra.decode_device_class),
        lambda s: s.device_classes,
        Resource.DEVICE_CLASS,
    ),
    Kind(
        "resourceslices",
        f"/apis/{dra.GROUP}/{dra.VERSION}/resourceslices",
        _cluster_scoped(dra.decode_resource_slice),
        lambda s: s.slices,
        Resource.RESOURCE_SLICE,
    ),
)


class _Table:
    """One kind's handlers: keep its store table, report changes as events.

    Several kinds share the owner-selector table, so a relist replaces only
    the keys this kind wrote."""

    def __init__(self, kind: Kind, store: ObjectStore, on_change: OnChange | None) -> None:
        self.kind = kind
        self.table = kind.table(store)
        self.on_change = on_change if kind.resource is not None else None
        self.mine: set[Hashable] = set()

    def handlers(self) -> Handlers[Decoded]:
        return Handlers(
            decode=self.kind.decode,
            on_replace=self.replace,
            on_upsert=self.upsert,
            on_delete=self.delete,
        )

    def _event(self, action: ActionType, old: object, new: object) -> None:
        if self.on_change is not None and self.kind.resource is not None:
            self.on_change(self.kind.resource, action, old, new)

    def upsert(self, item: Decoded) -> None:
        key, value = item
        if value is None:
            self.delete(item)
            return
        old = self.table.get(key)
        self.table[key] = value
        self.mine.add(key)
        self._event(ActionType.ADD if old is None else ActionType.UPDATE, old, value)

    def delete(self, item: Decoded) -> None:
        key = item[0]
        old = self.table.pop(key, None)
        self.mine.discard(key)
        if old is not None:
            self._event(ActionType.DELETE, old, None)

    def replace(self, items: list[Decoded]) -> None:
        fresh = {key: value for key, value in items if value is not None}
        for key in self.mine - fresh.keys():
            self.delete((key, None))
        for key, value in fresh.items():
            if self.table.get(key) != value:
                self.upsert((key, value))
        self.mine = set(fresh)


def reflectors(
    kube: KubeClient, store: ObjectStore, on_change: OnChange | None = None
) -> list[Reflector[Decoded]]:
    """One reflector per kind; run each as a task (they retry forever)."""
    return [
        Reflector(kube, kind.path, _Table(kind, store, on_change).handlers(), name=kind.name)
        for kind in KINDS
    ]
