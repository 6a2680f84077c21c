"""Storage objects as the volume plugins judge them: PersistentVolumeClaims,
PersistentVolumes, StorageClasses, CSINodes, CSIDrivers and CSIStorageCapacities,
decoded from raw JSON.

Storage classes are resolved as ``storagehelpers`` does (the beta annotation
still wins on a PersistentVolume, and fills in for a claim without
``spec.storageClassName``); sizes are exact bytes. Allowed topologies of a
StorageClass become a :class:`NodeSelector`, so one matcher serves both them
and a volume's node affinity.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from py_scheduler.model.quantity import QuantityError, int_value
from py_scheduler.model.raw import Fields, RawObject
from py_scheduler.model.resources import decode_amounts
from py_scheduler.model.selectors import (
    LabelSelector,
    NodeSelector,
    NodeSelectorTerm,
    Requirement,
    decode_node_selector,
    decode_optional_selector,
)

STORAGE: Final = "storage"
READ_WRITE_ONCE: Final = "ReadWriteOnce"
READ_ONLY_MANY: Final = "ReadOnlyMany"
READ_WRITE_MANY: Final = "ReadWriteMany"
READ_WRITE_ONCE_POD: Final = "ReadWriteOncePod"
ACCESS_MODES: Final = frozenset(
    {READ_WRITE_ONCE, READ_ONLY_MANY, READ_WRITE_MANY, READ_WRITE_ONCE_POD}
)

BINDING_IMMEDIATE: Final = "Immediate"
BINDING_WAIT_FOR_FIRST_CONSUMER: Final = "WaitForFirstConsumer"
NO_PROVISIONER: Final = "kubernetes.io/no-provisioner"

ANN_SELECTED_NODE: Final = "volume.kubernetes.io/selected-node"
ANN_BIND_COMPLETED: Final = "pv.kubernetes.io/bind-completed"
ANN_BOUND_BY_CONTROLLER: Final = "pv.kubernetes.io/bound-by-controller"
ANN_STORAGE_PROVISIONER: Final = "volume.kubernetes.io/storage-provisioner"
ANN_BETA_STORAGE_PROVISIONER: Final = "volume.beta.kubernetes.io/storage-provisioner"
ANN_BETA_STORAGE_CLASS: Final = "volume.beta.kubernetes.io/storage-class"

CLAIM_PENDING: Final = "Pending"
CLAIM_BOUND: Final = "Bound"
CLAIM_LOST: Final = "Lost"
VOLUME_AVAILABLE: Final = "Available"
VOLUME_BOUND: Final = "Bound"
VOLUME_RELEASED: Final = "Released"
VOLUME_FAILED: Final = "Failed"

FILESYSTEM: Final = "Filesystem"
BLOCK: Final = "Block"

ZONE_LABELS: Final = (
    "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region",
)


@dataclass(frozen=True, slots=True)
class ClaimRef:
    """A PersistentVolume's ``spec.claimRef``; ``uid`` is "" before the binder fills it."""

    namespace: str
    name: str
    uid: str = ""


@dataclass(frozen=True, slots=True)
class PersistentVolumeClaim:
    namespace: str
    name: str
    uid: str
    storage_class_name: str  # "" is the empty class; None-ness is folded away (see module doc)
    volume_name: str  # "" while unbound
    access_modes: frozenset[str]
    requested_storage: int  # bytes
    phase: str = CLAIM_PENDING
    annotations: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    selector: LabelSelector | None = None
    volume_mode: str = FILESYSTEM
    deleting: bool = False
    controller_uid: str = ""  # the controlling owner: the pod, for generic ephemeral volumes
    resource_version: str = ""

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def selected_node(self) -> str:
        return self.annotations.get(ANN_SELECTED_NODE, "")

    @property
    def is_bound(self) -> bool:
        """Bound as far as the scheduler cares: the claim names its volume."""
        return bool(self.volume_name)

    @property
    def bind_completed(self) -> bool:
        return ANN_BIND_COMPLETED in self.annotations


@dataclass(frozen=True, slots=True)
class PersistentVolume:
    name: str
    uid: str
    capacity: int  # bytes of ``capacity.storage``
    access_modes: frozenset[str]
    storage_class_name: str
    claim_ref: ClaimRef | None = None
    node_affinity: NodeSelector | None = None  # spec.nodeAffinity.required
    phase: str = VOLUME_AVAILABLE
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    volume_mode: str = FILESYSTEM
    csi_driver: str = ""
    csi_volume_handle: str = ""
    deleting: bool = False
    resource_version: str = ""

    @property
    def zone_labels(self) -> dict[str, str]:
        """The topology labels VolumeZone compares with the node's."""
        return {k: v for k, v in self.labels.items() if k in ZONE_LABELS}

    def fits_node(self, name: str, labels: Mapping[str, str]) -> bool:
        """``spec.nodeAffinity.required`` admits the node (no affinity admits all)."""
        return self.node_affinity is None or self.node_affinity.matches(name, labels)


@dataclass(frozen=True, slots=True)
class StorageClass:
    name: str
    provisioner: str
    volume_binding_mode: str = BINDING_IMMEDIATE
    # Terms ORed, as a node selector; None: no restriction.
    allowed_topologies: NodeSelector | None = None

    @property
    def waits_for_first_consumer(self) -> bool:
        return self.volume_binding_mode == BINDING_WAIT_FOR_FIRST_CONSUMER


@dataclass(frozen=True, slots=True)
class CSINodeDriver:
    name: str
    node_id: str = ""
    allocatable_count: int | None = None  # None: the driver reports no limit
    topology_keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CSINode:
    name: str  # the node's name
    drivers: Mapping[str, CSINodeDriver] = field(default_factory=dict)

    def volume_limit(self, driver: str) -> int | None:
        found = self.drivers.get(driver)
        return found.allocatable_count if found is not None else None


@dataclass(frozen=True, slots=True)
class CSIDriver:
    name: str
    # spec.storageCapacity: the driver publishes CSIStorageCapacity objects, and
    # provisioning is limited to nodes one of them reports enough for.
    storage_capacity: bool = False


@dataclass(frozen=True, slots=True)
class CSIStorageCapacity:
    """Free storage of one class in one topology segment (storage.k8s.io/v1)."""

    namespace: str
    name: str
    storage_class_name: str
    node_topology: LabelSelector | None  # None: no node has access
    capacity: int | None = None  # bytes
    maximum_volume_size: int | None = None  # bytes

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def volume_limit(self) -> int | None:
        """The largest volume it allows: maximumVolumeSize, more precise, else capacity."""
        return self.maximum_volume_size if self.maximum_volume_size is not None else self.capacity

    def reaches(self, node_labels: Mapping[str, str]) -> bool:
        return self.node_topology is not None and self.node_topology.matches(node_labels)


# -- decoding ------------------------------------------------------------------------


def _access_modes(fields: Fields) -> frozenset[str]:
    modes = fields.strings("accessModes")
    for index, mode in enumerate(modes):
        if mode not in ACCESS_MODES:
            raise fields.error(f"accessModes[{index}]", f"unknown access mode {mode!r}")
    return frozenset(modes)


def _storage(fields: Fields, key: str) -> int:
    amounts = decode_amounts(fields, key)
    return math.ceil(amounts.get(STORAGE, 0))


def _named(meta: Fields) -> str:
    name = meta.string("name")
    if not name:
        raise meta.error("name", "must be set")
    return name


def decode_pvc(raw: RawObject) -> PersistentVolumeClaim:
    """Decode a core/v1 PersistentVolumeClaim; raise DecodeError naming the field."""
    root = Fields(raw)
    meta = root.obj("metadata")
    spec = root.obj("spec")
    annotations = meta.str_map("annotations")
    storage_class = spec.raw.get("storageClassName")
    if storage_class is None:
        class_name = annotations.get(ANN_BETA_STORAGE_CLASS, "")
    else:
        class_name = spec.string("storageClassName")
    controller = next(
        (o.string("uid") for o in meta.objects("ownerReferences") if o.boolean("controller")), ""
    )
    namespace, name = meta.string("namespace") or "default", _named(meta)
    return PersistentVolumeClaim(
        namespace=namespace,
        name=name,
        # Snapshots written by hand carry no UIDs; a claimRef needs one (as pods do).
        uid=meta.string("uid") or f"{namespace}/{name}",
        storage_class_name=class_name,
        volume_name=spec.string("volumeName"),
        access_modes=_access_modes(spec),
        requested_storage=_storage(spec.obj("resources"), "requests"),
        phase=root.obj("status").string("phase") or CLAIM_PENDING,
        annotations=annotations,
        labels=meta.str_map("labels"),
        selector=decode_optional_selector(spec, "selector"),
        volume_mode=spec.string("volumeMode") or FILESYSTEM,
        deleting=meta.raw.get("deletionTimestamp") is not None,
        controller_uid=controller,
        resource_version=meta.string("resourceVersion"),
    )


def decode_pv(raw: RawObject) -> PersistentVolume:
    """Decode a core/v1 PersistentVolume; raise DecodeError naming the field."""
    root = Fields(raw)
    meta = root.obj("metadata")
    spec = root.obj("spec")
    annotations = meta.str_map("annotations")
    class_name = annotations.get(ANN_BETA_STORAGE_CLASS) or spec.string("storageClassName")
    claim_ref = None
    if spec.raw.get("claimRef") is not None:
        ref = spec.obj("claimRef")
        claim_ref = ClaimRef(
            namespace=ref.string("namespace"), name=ref.string("name"), uid=ref.string("uid")
        )
    affinity = None
    required = spec.obj("nodeAffinity").raw.get("required")
    if required is not None:
        affinity = decode_node_selector(spec.obj("nodeAffinity").obj("required"))
    csi = spec.obj("csi")
    return PersistentVolume(
        name=_named(meta),
        uid=meta.string("uid"),
        capacity=_storage(spec, "capacity"),
        access_modes=_access_modes(spec),
        storage_class_name=class_name,
        claim_ref=claim_ref,
        node_affinity=affinity,
        phase=root.obj("status").string("phase") or VOLUME_AVAILABLE,
        labels=meta.str_map("labels"),
        annotations=annotations,
        volume_mode=spec.string("volumeMode") or FILESYSTEM,
        csi_driver=csi.string("driver"),
        csi_volume_handle=csi.string("volumeHandle"),
        deleting=meta.raw.get("deletionTimestamp") is not None,
        resource_version=meta.string("resourceVersion"),
    )


def _topology_term(fields: Fields) -> NodeSelectorTerm:
    # A TopologySelectorTerm is a list of (key, values) that all must hold.
    reqs = []
    for expr in fields.objects("matchLabelExpressions"):
        values = frozenset(expr.strings("values"))
        if not values:
            raise expr.error("values", "must be non-empty")
        reqs.append(Requirement(expr.string("key"), "In", values))
    return NodeSelectorTerm(tuple(reqs), ())


def decode_storage_class(raw: RawObject) -> StorageClass:
    """Decode a storage.k8s.io/v1 StorageClass; raise DecodeError naming the field."""
    root = Fields(raw)
    mode = root.string("volumeBindingMode") or BINDING_IMMEDIATE
    if mode not in (BINDING_IMMEDIATE, BINDING_WAIT_FOR_FIRST_CONSUMER):
        raise root.error("volumeBindingMode", f"unknown binding mode {mode!r}")
    terms = tuple(_topology_term(t) for t in root.objects("allowedTopologies"))
    return StorageClass(
        name=_named(root.obj("metadata")),
        provisioner=root.string("provisioner"),
        volume_binding_mode=mode,
        allowed_topologies=NodeSelector(terms) if terms else None,
    )


def decode_csi_node(raw: RawObject) -> CSINode:
    """Decode a storage.k8s.io/v1 CSINode; raise DecodeError naming the field."""
    root = Fields(raw)
    drivers = {}
    for driver in root.obj("spec").objects("drivers"):
        name = driver.string("name")
        if not name:
            raise driver.error("name", "must be set")
        drivers[name] = CSINodeDriver(
            name=name,
            node_id=driver.string("nodeID"),
            allocatable_count=driver.obj("allocatable").opt_integer("count"),
            topology_keys=driver.strings("topologyKeys"),
        )
    return CSINode(name=_named(root.obj("metadata")), drivers=drivers)


def decode_csi_driver(raw: RawObject) -> CSIDriver:
    """Decode a storage.k8s.io/v1 CSIDriver; raise DecodeError naming the field."""
    root = Fields(raw)
    return CSIDriver(
        name=_named(root.obj("metadata")),
        storage_capacity=root.obj("spec").boolean("storageCapacity"),
    )


def _bytes(fields: Fields, key: str) -> int | None:
    value = fields.raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str | int | float):
        raise fields.error(key, "expected a quantity")
    try:
        return int_value(value)
    except QuantityError as exc:
        raise fields.error(key, str(exc)) from None


def decode_csi_storage_capacity(raw: RawObject) -> CSIStorageCapacity:
    """Decode a storage.k8s.io/v1 CSIStorageCapacity; raise DecodeError naming the field."""
    root = Fields(raw)
    meta = root.obj("metadata")
    return CSIStorageCapacity(
        namespace=meta.string("namespace") or "default",
        name=_named(meta),
        storage_class_name=root.string("storageClassName"),
        node_topology=decode_optional_selector(root, "nodeTopology"),
        capacity=_bytes(root, "capacity"),
        maximum_volume_size=_bytes(root, "maximumVolumeSize"),
    )
