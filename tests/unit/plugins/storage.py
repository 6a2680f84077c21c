"""Builders for the storage objects and pod volumes the volume plugin tests use.

Like ``tests.builders`` they write API JSON and run it through the real
decoders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from py_scheduler.model.volumes import (
    CSINode,
    PersistentVolume,
    PersistentVolumeClaim,
    StorageClass,
    decode_csi_node,
    decode_pv,
    decode_pvc,
    decode_storage_class,
)

Raw = dict[str, Any]


def pvc(
    name: str,
    namespace: str = "default",
    *,
    volume_name: str = "",
    storage_class: str | None = None,
    access_modes: Iterable[str] = ("ReadWriteOnce",),
    owner_uid: str | None = None,
) -> PersistentVolumeClaim:
    meta: Raw = {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}"}
    if owner_uid is not None:
        owner = {"apiVersion": "v1", "kind": "Pod", "name": "owner", "uid": owner_uid}
        meta["ownerReferences"] = [{**owner, "controller": True}]
    spec: Raw = {"accessModes": list(access_modes)}
    if volume_name:
        spec["volumeName"] = volume_name
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    return decode_pvc({"metadata": meta, "spec": spec})


def pv(
    name: str,
    *,
    labels: Mapping[str, str] | None = None,
    csi: tuple[str, str] | None = None,
) -> PersistentVolume:
    """``csi`` is (driver, volumeHandle); without it the PV is a hostPath one."""
    spec: Raw = {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}
    if csi is not None:
        spec["csi"] = {"driver": csi[0], "volumeHandle": csi[1]}
    else:
        spec["hostPath"] = {"path": f"/data/{name}"}
    return decode_pv({"metadata": {"name": name, "labels": dict(labels or {})}, "spec": spec})


def storage_class(
    name: str, provisioner: str = "example.com/csi", *, binding_mode: str | None = None
) -> StorageClass:
    raw: Raw = {"metadata": {"name": name}, "provisioner": provisioner}
    if binding_mode is not None:
        raw["volumeBindingMode"] = binding_mode
    return decode_storage_class(raw)


def csi_node(name: str, drivers: Mapping[str, int | None]) -> CSINode:
    """``drivers`` maps a driver to its allocatable count (None: no limit)."""
    entries: list[Raw] = []
    for driver, count in drivers.items():
        entry: Raw = {"name": driver, "nodeID": name}
        if count is not None:
            entry["allocatable"] = {"count": count}
        entries.append(entry)
    return decode_csi_node({"metadata": {"name": name}, "spec": {"drivers": entries}})


# -- pod volumes -----------------------------------------------------------------------


def claim_volume(claim: str, name: str | None = None) -> Raw:
    return {"name": name or f"vol-{claim}", "persistentVolumeClaim": {"claimName": claim}}


def ephemeral_volume(name: str) -> Raw:
    template = {"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {}}}}
    return {"name": name, "ephemeral": {"volumeClaimTemplate": template}}


def in_line(kind: str, name: str = "disk", **fields: Any) -> Raw:
    """An in-line volume source, e.g. ``in_line("gcePersistentDisk", pdName="foo")``."""
    return {"name": name, kind: fields}
