"""Builders for DRA objects in tests: raw ``resource.k8s.io/v1`` JSON, decoded
by the real decoders (as ``tests.builders`` does for pods and nodes)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from py_scheduler.model.dra.objects import (
    DeviceClass,
    ResourceClaim,
    ResourceSlice,
    decode_device_class,
    decode_resource_claim,
    decode_resource_slice,
)

Raw = dict[str, Any]
DRIVER = "driver-a"


def raw_device(
    name: str,
    *,
    attributes: Mapping[str, object] | None = None,
    capacity: Mapping[str, str] | None = None,
    taints: Iterable[Raw] = (),
    consumes: Iterable[tuple[str, Mapping[str, str]]] = (),
    node_name: str = "",
    **extra: Any,
) -> Raw:
    """A device; attribute values pick their kind from the Python type
    (a string starting with "v:" is a version)."""
    attrs: Raw = {}
    for key, value in (attributes or {}).items():
        if isinstance(value, bool):
            attrs[key] = {"bool": value}
        elif isinstance(value, int):
            attrs[key] = {"int": value}
        elif isinstance(value, str) and value.startswith("v:"):
            attrs[key] = {"version": value[2:]}
        else:
            attrs[key] = {"string": value}
    out: Raw = {"name": name, **extra}
    if attrs:
        out["attributes"] = attrs
    if capacity:
        out["capacity"] = {k: {"value": v} for k, v in capacity.items()}
    if taints:
        out["taints"] = list(taints)
    if consumes:
        out["consumesCounters"] = [
            {"counterSet": cs, "counters": {k: {"value": v} for k, v in counters.items()}}
            for cs, counters in consumes
        ]
    if node_name:
        out["nodeName"] = node_name
    return out


def raw_slice(
    name: str,
    *,
    node: str = "",
    pool: str = "pool-1",
    driver: str = DRIVER,
    devices: Iterable[Raw] = (),
    count: int = 1,
    generation: int = 1,
    node_selector: Raw | None = None,
    all_nodes: bool = False,
    per_device: bool = False,
    shared_counters: Mapping[str, Mapping[str, str]] | None = None,
) -> Raw:
    spec: Raw = {
        "driver": driver,
        "pool": {"name": pool, "generation": generation, "resourceSliceCount": count},
        "devices": list(devices),
    }
    if node:
        spec["nodeName"] = node
    if node_selector is not None:
        spec["nodeSelector"] = node_selector
    if all_nodes:
        spec["allNodes"] = True
    if per_device:
        spec["perDeviceNodeSelection"] = True
    if shared_counters:
        spec["sharedCounters"] = [
            {"name": cs, "counters": {k: {"value": v} for k, v in counters.items()}}
            for cs, counters in shared_counters.items()
        ]
    return {"metadata": {"name": name, "resourceVersion": "1"}, "spec": spec}


def make_slice(name: str, **kwargs: Any) -> ResourceSlice:
    return decode_resource_slice(raw_slice(name, **kwargs))


def node_slice(node: str, *device_names: str, pool: str = "", **kwargs: Any) -> ResourceSlice:
    """One slice on ``node`` (its pool named after it) with plain devices."""
    return make_slice(
        f"{node}-slice",
        node=node,
        pool=pool or node,
        devices=[raw_device(d) for d in device_names],
        **kwargs,
    )


def raw_class(
    name: str,
    *,
    driver: str | None = DRIVER,
    selectors: Iterable[str] = (),
    config: Iterable[Raw] = (),
) -> Raw:
    exprs = ([f'device.driver == "{driver}"'] if driver else []) + list(selectors)
    spec: Raw = {"selectors": [{"cel": {"expression": e}} for e in exprs]}
    if config:
        spec["config"] = list(config)
    return {"metadata": {"name": name, "resourceVersion": "1"}, "spec": spec}


def make_class(name: str = "class-a", **kwargs: Any) -> DeviceClass:
    return decode_device_class(raw_class(name, **kwargs))


def exactly(
    name: str,
    cls: str = "class-a",
    count: int = 1,
    *,
    selectors: Iterable[str] = (),
    all_devices: bool = False,
    admin: bool | None = None,
    tolerations: Iterable[Raw] = (),
) -> Raw:
    body: Raw = {"deviceClassName": cls}
    if all_devices:
        body["allocationMode"] = "All"
    else:
        body["allocationMode"] = "ExactCount"
        body["count"] = count
    if selectors:
        body["selectors"] = [{"cel": {"expression": e}} for e in selectors]
    if admin is not None:
        body["adminAccess"] = admin
    if tolerations:
        body["tolerations"] = list(tolerations)
    return {"name": name, "exactly": body}


def first_available(name: str, *subs: Raw) -> Raw:
    """``subs`` are ``exactly()`` bodies; their names become subrequest names."""
    return {"name": name, "firstAvailable": [{"name": s["name"], **s["exactly"]} for s in subs]}


def raw_claim(
    name: str = "claim-0",
    *,
    namespace: str = "default",
    uid: str | None = None,
    requests: Iterable[Raw] = (),
    constraints: Iterable[Raw] = (),
    config: Iterable[Raw] = (),
    allocation: Raw | None = None,
    reserved_for: Iterable[str] = (),
    owner_pod: str = "",
    deleting: bool = False,
    finalizers: Iterable[str] = (),
) -> Raw:
    devices: Raw = {"requests": list(requests) or [exactly("req-0")]}
    if constraints:
        devices["constraints"] = list(constraints)
    if config:
        devices["config"] = list(config)
    meta: Raw = {
        "name": name,
        "namespace": namespace,
        "uid": uid or f"uid-claim-{name}",
        "resourceVersion": "1",
    }
    if owner_pod:
        meta["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": owner_pod, "controller": True}
        ]
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:01Z"
    if finalizers:
        meta["finalizers"] = list(finalizers)
    status: Raw = {}
    if allocation is not None:
        status["allocation"] = allocation
    if reserved_for:
        status["reservedFor"] = [
            {"resource": "pods", "name": f"pod-{u}", "uid": u} for u in reserved_for
        ]
    return {"metadata": meta, "spec": {"devices": devices}, "status": status}


def make_claim(name: str = "claim-0", **kwargs: Any) -> ResourceClaim:
    return decode_resource_claim(raw_claim(name, **kwargs))


def allocation(
    *devices: tuple[str, str, str, str], node: str | None = None, admin: bool = False
) -> Raw:
    """(request, driver, pool, device) results, local to ``node`` if given."""
    out: Raw = {
        "devices": {
            "results": [
                {
                    "request": r,
                    "driver": d,
                    "pool": p,
                    "device": x,
                    **({"adminAccess": True} if admin else {}),
                }
                for r, d, p, x in devices
            ]
        }
    }
    if node:
        out["nodeSelector"] = local_selector(node)
    return out


def local_selector(node: str) -> Raw:
    return {
        "nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
        ]
    }
