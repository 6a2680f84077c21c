"""Cluster objects besides pods and nodes, as plugins consult them:
PodDisruptionBudgets (preemption), namespace labels (namespaceSelector), the
selectors of workload owners (default topology spread constraints) and the
storage objects (PersistentVolumeClaims, PersistentVolumes, StorageClasses,
CSINodes) the volume plugins judge.

Kept current by the watches in :mod:`py_scheduler.kube.objects`, or filled
from a snapshot by the simulator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from py_scheduler.framework.interface import DisruptionBudget
from py_scheduler.model import PodInfo
from py_scheduler.model.raw import Fields
from py_scheduler.model.selectors import LabelSelector, decode_optional_selector
from py_scheduler.model.volumes import (
    CSINode,
    PersistentVolume,
    PersistentVolumeClaim,
    StorageClass,
)

# The controllers whose selectors give the system default spreading, as
# upstream's DefaultSelector matches their group/version/kind.
_CONTROLLERS: Final = frozenset(
    {("v1", "ReplicationController"), ("apps/v1", "ReplicaSet"), ("apps/v1", "StatefulSet")}
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
