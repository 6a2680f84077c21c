"""Read a cluster snapshot: multi-document YAML or a ``v1 List`` of Nodes,
Pods, PodDisruptionBudgets, PriorityClasses, Namespaces (their labels),
storage objects (PersistentVolumeClaims, PersistentVolumes, StorageClasses,
CSINodes, CSIDrivers, CSIStorageCapacities), DRA objects (ResourceClaims, ResourceClaimTemplates,
DeviceClasses, ResourceSlices) and the owners whose selectors give the system
default spreading (Services, ReplicationControllers, ReplicaSets,
StatefulSets): what ``kubectl get nodes,pods,pdb,priorityclasses,namespaces,
pvc,pv,storageclasses,csinodes,csidrivers,csistoragecapacities,resourceclaims,resourceclaimtemplates,
deviceclasses,resourceslices,services,rc,rs,sts -A -o yaml`` (or ``-o json``)
prints.

Pod priority is resolved as the Priority admission plugin would: an explicit
``spec.priority``, else the ``priorityClassName``'s value, else the
``globalDefault`` class, else 0. Every error names the document and field.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson

from py_scheduler import yamlinput
from py_scheduler.model import DecodeError, Node, PodInfo, decode_node, decode_pod
from py_scheduler.model.budgets import DisruptionBudget, decode_budget
from py_scheduler.model.dra.objects import (
    DeviceClass,
    ResourceClaim,
    ResourceClaimTemplate,
    ResourceSlice,
    decode_device_class,
    decode_resource_claim,
    decode_resource_claim_template,
    decode_resource_slice,
)
from py_scheduler.model.raw import Fields
from py_scheduler.model.selectors import LabelSelector, decode_owner_selector
from py_scheduler.model.volumes import (
    CSIDriver,
    CSINode,
    CSIStorageCapacity,
    PersistentVolume,
    PersistentVolumeClaim,
    StorageClass,
    decode_csi_driver,
    decode_csi_node,
    decode_csi_storage_capacity,
    decode_pv,
    decode_pvc,
    decode_storage_class,
)
from py_scheduler.simulation import workloads

# Owners whose selectors give pods the system default spreading.
OWNER_KINDS = ("Service", "ReplicationController", "ReplicaSet", "StatefulSet")
KINDS = (
    "Namespace",
    *OWNER_KINDS,
    "Node",
    "Pod",
    "PodDisruptionBudget",
    "PriorityClass",
    "PersistentVolumeClaim",
    "PersistentVolume",
    "StorageClass",
    "CSINode",
    "CSIDriver",
    "CSIStorageCapacity",
    "ResourceClaim",
    "ResourceClaimTemplate",
    "DeviceClass",
    "ResourceSlice",
)


# A whole cluster's objects; aliases still may not expand without bound.
SNAPSHOT_MAX_BYTES: Final = 1 << 30
SNAPSHOT_MAX_VALUES: Final = 50_000_000


class SnapshotError(ValueError):
    """The snapshot cannot be read; the message names the document and field."""


@dataclass
class Snapshot:
    nodes: list[Node] = field(default_factory=list)
    pods: list[PodInfo] = field(default_factory=list)
    budgets: list[DisruptionBudget] = field(default_factory=list)
    priority_classes: dict[str, int] = field(default_factory=dict)
    claims: list[PersistentVolumeClaim] = field(default_factory=list)
    volumes: list[PersistentVolume] = field(default_factory=list)
    storage_classes: list[StorageClass] = field(default_factory=list)
    csi_nodes: list[CSINode] = field(default_factory=list)
    csi_drivers: list[CSIDriver] = field(default_factory=list)
    csi_storage_capacities: list[CSIStorageCapacity] = field(default_factory=list)
    resource_claims: list[ResourceClaim] = field(default_factory=list)
    claim_templates: dict[tuple[str, str], ResourceClaimTemplate] = field(default_factory=dict)
    device_classes: list[DeviceClass] = field(default_factory=list)
    resource_slices: list[ResourceSlice] = field(default_factory=list)
    # (kind, namespace, name) -> selector of Services, ReplicationControllers,
    # ReplicaSets and StatefulSets (and a Deployment's ReplicaSet)
    owner_selectors: dict[tuple[str, str, str], LabelSelector] = field(default_factory=dict)
    # Namespace labels (namespaceSelector).
    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)
    # Each pod's document as decoded (priority resolved), by "namespace/name":
    # what ``explain`` edits to try a change to a pod.
    raw_pods: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    # Documents of other kinds, by label: custom resources if a plugin watches
    # their kind (``simulate`` loads those), else ignored.
    others: dict[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def ignored(self) -> list[str]:
        return list(self.others)


def _load_all(text: str, source: str) -> list[Any]:
    """The documents of ``text``: JSON (which ``kubectl get -o json`` prints and
    which is YAML too, without aliases to expand) at orjson's speed, else YAML
    within :mod:`~py_scheduler.yamlinput`'s bounds."""
    if text.lstrip()[:1] in ("{", "["):
        try:
            return [orjson.loads(text)]
        except orjson.JSONDecodeError:
            pass  # YAML's flow style, say: the YAML reader decides
    return yamlinput.load_all(text, source, max_values=SNAPSHOT_MAX_VALUES)


def _documents(text: str, source: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    try:
        docs = _load_all(text, source)
    except yamlinput.YamlInputError as exc:
        raise SnapshotError(str(exc)) from None
    for index, doc in enumerate(docs):
        where = f"{source}: document {index + 1}"
        if doc is None:
            continue
        if not isinstance(doc, Mapping):
            raise SnapshotError(f"{where}: expected a Kubernetes object, got {type(doc).__name__}")
        if doc.get("kind") == "List" or str(doc.get("kind", "")).endswith("List"):
            items = doc.get("items") or []
            if not isinstance(items, list):
                raise SnapshotError(f"{where}: items: expected a list")
            for item_index, item in enumerate(items):
                item_where = f"{where}, items[{item_index}]"
                if not isinstance(item, Mapping):
                    raise SnapshotError(f"{item_where}: expected a Kubernetes object")
                yield item_where, item
        else:
            yield where, doc


def _expanded(
    docs: Iterator[tuple[str, Mapping[str, Any]]],
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """StatefulSets and Deployments become the pods (and claims) their
    controllers would create; the other documents pass through."""
    listed = [(where, dict(doc)) for where, doc in docs]
    plain = [doc for _, doc in listed]
    for where, doc in listed:
        if doc.get("kind") not in workloads.WORKLOAD_KINDS:
            yield where, doc
            continue
        try:
            expanded = workloads.replicas_of(doc, plain)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SnapshotError(f"{where} ({_name(doc)}): cannot expand: {exc!r}") from None
        for replica in expanded:
            yield f"{where}, replica", replica
        yield where, doc  # its selector still counts for default spreading


def _name(doc: Mapping[str, Any]) -> str:
    meta = doc.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{doc.get('kind')} {ns + '/' if ns else ''}{meta.get('name', '?')}"


def parse(text: str, source: str = "snapshot") -> Snapshot:
    return _parse(_expanded(_documents(text, source)))


def from_documents(docs: Iterable[Mapping[str, Any]], source: str = "listing") -> Snapshot:
    """A snapshot of objects as the API lists them (``kind`` set on each):
    workloads are taken as the owners they are, not expanded into pods."""
    return _parse((f"{source}: item {i + 1}", doc) for i, doc in enumerate(docs))


def _parse(docs: Iterable[tuple[str, Mapping[str, Any]]]) -> Snapshot:
    snap = Snapshot()
    raw_pods: list[tuple[str, Mapping[str, Any]]] = []
    global_default: int | None = None
    for where, doc in docs:
        kind = doc.get("kind")
        label = f"{where} ({_name(doc)})"
        try:
            if kind == "Namespace":
                meta = Fields(doc).obj("metadata")
                snap.namespaces[meta.string("name")] = meta.str_map("labels")
            elif kind == "Node":
                snap.nodes.append(decode_node(doc))
            elif kind == "Pod":
                raw_pods.append((label, doc))
            elif kind == "PriorityClass":
                fields = Fields(doc)
                name = fields.obj("metadata").string("name")
                value = fields.integer("value")
                snap.priority_classes[name] = value
                if fields.boolean("globalDefault"):
                    global_default = value
            elif kind == "PodDisruptionBudget":
                snap.budgets.append(decode_budget(doc))
            elif kind == "PersistentVolumeClaim":
                snap.claims.append(decode_pvc(doc))
            elif kind == "PersistentVolume":
                snap.volumes.append(decode_pv(doc))
            elif kind == "StorageClass":
                snap.storage_classes.append(decode_storage_class(doc))
            elif kind == "CSINode":
                snap.csi_nodes.append(decode_csi_node(doc))
            elif kind == "CSIDriver":
                snap.csi_drivers.append(decode_csi_driver(doc))
            elif kind == "CSIStorageCapacity":
                snap.csi_storage_capacities.append(decode_csi_storage_capacity(doc))
            elif kind == "ResourceClaim":
                snap.resource_claims.append(decode_resource_claim(doc))
            elif kind == "ResourceClaimTemplate":
                template = decode_resource_claim_template(doc)
                snap.claim_templates[(template.namespace, template.name)] = template
            elif kind == "DeviceClass":
                snap.device_classes.append(decode_device_class(doc))
            elif kind == "ResourceSlice":
                snap.resource_slices.append(decode_resource_slice(doc))
            elif kind in OWNER_KINDS or kind == "Deployment":
                _owner(snap, doc)
            else:
                snap.others[label] = doc
        except DecodeError as exc:
            raise SnapshotError(f"{label}: {exc}") from None
    for label, doc in raw_pods:
        try:
            resolved = _with_priority(doc, snap.priority_classes, global_default)
            pod = decode_pod(resolved)
        except DecodeError as exc:
            raise SnapshotError(f"{label}: {exc}") from None
        snap.pods.append(pod)
        snap.raw_pods[pod.key] = resolved
    return snap


def _owner(snap: Snapshot, doc: Mapping[str, Any]) -> None:
    """A workload owner's selector, for the system default spreading."""
    meta = Fields(doc).obj("metadata")
    namespace, name = meta.string("namespace") or "default", meta.string("name")
    kind = str(doc["kind"])
    if kind == "Deployment":
        # Its replicas are owned by the ReplicaSet the expansion stands for.
        kind, name = "ReplicaSet", workloads.replica_set_name(dict(doc))
    selector = decode_owner_selector(kind, doc)
    if selector is not None:
        snap.owner_selectors[(kind, namespace, name)] = selector


def _with_priority(
    doc: Mapping[str, Any], classes: Mapping[str, int], global_default: int | None
) -> Mapping[str, Any]:
    spec = doc.get("spec")
    if not isinstance(spec, Mapping) or spec.get("priority") is not None:
        return doc
    class_name = spec.get("priorityClassName")
    if class_name:
        if class_name not in classes:
            raise DecodeError(
                "spec.priorityClassName", f"no PriorityClass {class_name!r} in the snapshot"
            )
        priority = classes[class_name]
    elif global_default is not None:
        priority = global_default
    else:
        return doc
    return {**doc, "spec": {**spec, "priority": priority}}


def load(path: Path) -> Snapshot:
    try:
        text = yamlinput.read_text(path, max_bytes=SNAPSHOT_MAX_BYTES)
    except yamlinput.YamlInputError as exc:
        raise SnapshotError(str(exc)) from None
    return parse(text, str(path))
