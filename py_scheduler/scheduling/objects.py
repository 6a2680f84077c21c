"""Cluster objects besides pods and nodes, as plugins consult them:
PodDisruptionBudgets (preemption), namespace labels (namespaceSelector), the
selectors of workload owners (default topology spread constraints), the
storage objects (PersistentVolumeClaims, PersistentVolumes, StorageClasses,
CSINodes) the volume plugins judge, and the DRA objects (ResourceClaims,
DeviceClasses, ResourceSlices) DynamicResources allocates from.

Kept current by the kopf handlers in :mod:`py_scheduler.kube.objects`, or filled
from a snapshot by the simulator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set

from py_scheduler.framework.interface import DisruptionBudget
from py_scheduler.model import PodInfo
from py_scheduler.model.dra.objects import DeviceClass, DeviceID, ResourceClaim, ResourceSlice
from py_scheduler.model.dra.tables import ClaimTable, SliceTable
from py_scheduler.model.raw import Fields
from py_scheduler.model.selectors import LabelSelector, decode_optional_selector
from py_scheduler.model.volumes import (
    CSINode,
    PersistentVolume,
    PersistentVolumeClaim,
    StorageClass,
)


class ObjectStore:
    def __init__(self) -> None:
        self.budgets: dict[tuple[str, str], DisruptionBudget] = {}
        self.namespaces: dict[str, dict[str, str]] = {}
        self.selectors: dict[tuple[str, str, str], LabelSelector] = {}  # (kind, ns, name)
        self.claims: dict[tuple[str, str], PersistentVolumeClaim] = {}  # (ns, name)
        self.volumes: dict[str, PersistentVolume] = {}
        self.classes: dict[str, StorageClass] = {}
        self.csi_nodes: dict[str, CSINode] = {}
        self.resource_claims = ClaimTable()  # "namespace/name"
        self.device_classes: dict[str, DeviceClass] = {}
        self.slices = SliceTable()

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


def decode_budget(raw: Mapping[str, object]) -> DisruptionBudget:
    """A policy/v1 PodDisruptionBudget as preemption weighs it."""
    fields = Fields(raw)
    meta = fields.obj("metadata")
    spec = fields.obj("spec")
    status = fields.obj("status")
    return DisruptionBudget(
        namespace=meta.string("namespace") or "default",
        name=meta.string("name"),
        selector=decode_optional_selector(spec, "selector"),
        disruptions_allowed=status.integer("disruptionsAllowed"),
        disrupted_pods=frozenset(status.raw_map("disruptedPods")),
    )


def decode_owner_selector(kind: str, raw: Mapping[str, object]) -> LabelSelector | None:
    """The selector of a Service, RC (plain maps) or RS/StatefulSet (LabelSelector)."""
    spec = Fields(raw).obj("spec")
    if kind in ("Service", "ReplicationController"):
        labels = spec.str_map("selector")
        return LabelSelector(tuple(sorted(labels.items()))) if labels else None
    return decode_optional_selector(spec, "selector")
