"""Tiny builders for pods, nodes and storage objects in tests.

They build raw API JSON and run it through the real decoders, so every test
also exercises decoding. Keyword names follow the API fields they set.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from py_scheduler.model import Node, NodeInfo, PodInfo, decode_node, decode_pod
from py_scheduler.model import volumes as vol

Raw = dict[str, Any]


def raw_pod(
    name: str = "p",
    *,
    namespace: str = "default",
    uid: str | None = None,
    labels: Mapping[str, str] | None = None,
    requests: Mapping[str, str] | None = None,
    containers: Iterable[Mapping[str, str]] | None = None,
    init_containers: Iterable[tuple[Mapping[str, str], bool]] = (),
    overhead: Mapping[str, str] | None = None,
    pod_requests: Mapping[str, str] | None = None,
    node_name: str = "",
    scheduler_name: str = "py-scheduler",
    priority: int | None = None,
    host_ports: Iterable[tuple[str, str, int]] = (),
    node_selector: Mapping[str, str] | None = None,
    affinity: Raw | None = None,
    tolerations: Iterable[Raw] = (),
    spread: Iterable[Raw] = (),
    gates: Iterable[str] = (),
    images: Iterable[str] = (),
    volumes: Iterable[Raw] = (),
    owners: Iterable[Raw] = (),
    created: str = "2026-01-01T00:00:00Z",
    start_time: str | None = None,
    nominated_node: str = "",
    deleting: bool = False,
    preemption_policy: str | None = None,
    phase: str | None = None,
    priority_class: str | None = None,
    resource_claims: Iterable[Raw] = (),
    claim_statuses: Iterable[Raw] = (),
) -> Raw:
    """A pod as the API returns it. ``requests`` is one container's requests;
    ``containers`` gives several; ``pod_requests`` are pod-level
    (``spec.resources.requests``); ``host_ports`` are (ip, protocol, port)."""
    container_requests = list(containers) if containers is not None else [requests or {}]
    image_list = list(images) or ["pause"] * len(container_requests)
    spec_containers: list[Raw] = []
    for i, reqs in enumerate(container_requests):
        c: Raw = {"name": f"c{i}", "image": image_list[i] if i < len(image_list) else "pause"}
        if reqs:
            c["resources"] = {"requests": dict(reqs)}
        spec_containers.append(c)
    ports = [
        {"containerPort": port, "hostPort": port, "hostIP": ip, "protocol": proto}
        for ip, proto, port in host_ports
    ]
    if ports:
        spec_containers[0]["ports"] = ports
    spec: Raw = {"containers": spec_containers, "schedulerName": scheduler_name}
    if init_containers:
        spec["initContainers"] = [
            {
                "name": f"i{i}",
                "image": "init",
                "resources": {"requests": dict(reqs)},
                **({"restartPolicy": "Always"} if sidecar else {}),
            }
            for i, (reqs, sidecar) in enumerate(init_containers)
        ]
    if overhead:
        spec["overhead"] = dict(overhead)
    if pod_requests is not None:
        spec["resources"] = {"requests": dict(pod_requests)}
    if node_name:
        spec["nodeName"] = node_name
    if priority is not None:
        spec["priority"] = priority
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)
    if affinity:
        spec["affinity"] = affinity
    if tolerations:
        spec["tolerations"] = list(tolerations)
    if spread:
        spec["topologySpreadConstraints"] = list(spread)
    if gates:
        spec["schedulingGates"] = [{"name": g} for g in gates]
    if volumes:
        spec["volumes"] = list(volumes)
    if preemption_policy:
        spec["preemptionPolicy"] = preemption_policy
    if priority_class:
        spec["priorityClassName"] = priority_class
    if resource_claims:
        spec["resourceClaims"] = list(resource_claims)
    meta: Raw = {
        "name": name,
        "namespace": namespace,
        "uid": uid or f"uid-{namespace}-{name}",
        "creationTimestamp": created,
        "resourceVersion": "1",
    }
    if labels:
        meta["labels"] = dict(labels)
    if owners:
        meta["ownerReferences"] = list(owners)
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:01Z"
    status: Raw = {"phase": phase or ("Running" if node_name else "Pending")}
    if start_time:
        status["startTime"] = start_time
    if nominated_node:
        status["nominatedNodeName"] = nominated_node
    if claim_statuses:
        status["resourceClaimStatuses"] = list(claim_statuses)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def make_pod(name: str = "p", **kwargs: Any) -> PodInfo:
    return decode_pod(raw_pod(name, **kwargs))


def raw_node(
    name: str = "n",
    *,
    labels: Mapping[str, str] | None = None,
    allocatable: Mapping[str, str] | None = None,
    taints: Iterable[Raw] = (),
    unschedulable: bool = False,
    images: Iterable[tuple[Iterable[str], int]] = (),
    annotations: Mapping[str, str] | None = None,
) -> Raw:
    """A node; ``allocatable`` defaults to 4 CPU, 32Gi, 110 pods (scheduler_perf)."""
    alloc = (
        dict(allocatable)
        if allocatable is not None
        else {
            "cpu": "4",
            "memory": "32Gi",
            "pods": "110",
        }
    )
    spec: Raw = {}
    if taints:
        spec["taints"] = list(taints)
    if unschedulable:
        spec["unschedulable"] = True
    status: Raw = {"allocatable": alloc, "capacity": alloc}
    if images:
        status["images"] = [{"names": list(names), "sizeBytes": size} for names, size in images]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/hostname": name, **(labels or {})},
            "resourceVersion": "1",
            **({"annotations": dict(annotations)} if annotations else {}),
        },
        "spec": spec,
        "status": status,
    }


def make_node(name: str = "n", **kwargs: Any) -> Node:
    return decode_node(raw_node(name, **kwargs))


def node_info(name: str = "n", *, pods: Iterable[PodInfo] = (), **kwargs: Any) -> NodeInfo:
    """A NodeInfo with the given pods placed on it."""
    node_info = NodeInfo(make_node(name, **kwargs))
    for pod in pods:
        node_info.add_pod(pod)
    return node_info


def raw_pvc(
    name: str,
    storage_class: str | None = None,
    *,
    namespace: str = "default",
    request: str = "1Gi",
    access_modes: Iterable[str] = ("ReadWriteOnce",),
    bound_to: str = "",
    volume_name: str = "",
    phase: str | None = None,
    annotations: Mapping[str, str] | None = None,
    owner_uid: str = "",
    deleting: bool = False,
    resource_version: str = "1",
) -> Raw:
    """A claim; ``bound_to`` binds it fully (volumeName and bind-completed),
    ``volume_name`` only names a volume, as a claim's author may."""
    spec: Raw = {
        "accessModes": list(access_modes),
        "resources": {"requests": {"storage": request}},
    }
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    meta: Raw = {
        "name": name,
        "namespace": namespace,
        "uid": f"uid-pvc-{namespace}-{name}",
        "resourceVersion": resource_version,
        "annotations": dict(annotations or {}),
    }
    if volume_name:
        spec["volumeName"] = volume_name
    if bound_to:
        spec["volumeName"] = bound_to
        meta["annotations"][vol.ANN_BIND_COMPLETED] = "yes"
    if owner_uid:
        meta["ownerReferences"] = [
            {"kind": "Pod", "name": "owner", "uid": owner_uid, "controller": True}
        ]
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:01Z"
    status: Raw = {"phase": phase or ("Bound" if bound_to else "Pending")}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": meta,
        "spec": spec,
        "status": status,
    }


def make_pvc(
    name: str, storage_class: str | None = None, **kwargs: Any
) -> vol.PersistentVolumeClaim:
    return vol.decode_pvc(raw_pvc(name, storage_class, **kwargs))


def raw_pv(
    name: str,
    storage_class: str = "",
    *,
    capacity: str = "1Gi",
    access_modes: Iterable[str] = ("ReadWriteOnce",),
    node_affinity: Mapping[str, Iterable[str]] | None = None,
    claim: tuple[str, str] | None = None,
    phase: str = "Available",
    labels: Mapping[str, str] | None = None,
    resource_version: str = "1",
) -> Raw:
    """A volume; ``node_affinity`` maps label keys to allowed values (one term)."""
    spec: Raw = {
        "capacity": {"storage": capacity},
        "accessModes": list(access_modes),
        "storageClassName": storage_class,
        "local": {"path": f"/mnt/{name}"},
    }
    if node_affinity is not None:
        exprs = [
            {"key": key, "operator": "In", "values": list(values)}
            for key, values in node_affinity.items()
        ]
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": exprs}]}}
    if claim is not None:
        namespace, claim_name = claim
        spec["claimRef"] = {
            "kind": "PersistentVolumeClaim",
            "namespace": namespace,
            "name": claim_name,
            "uid": f"uid-pvc-{namespace}-{claim_name}",
        }
    meta: Raw = {"name": name, "uid": f"uid-pv-{name}", "resourceVersion": resource_version}
    if labels:
        meta["labels"] = dict(labels)
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": meta,
        "spec": spec,
        "status": {"phase": phase},
    }


def make_pv(name: str, storage_class: str = "", **kwargs: Any) -> vol.PersistentVolume:
    return vol.decode_pv(raw_pv(name, storage_class, **kwargs))


def raw_storage_class(
    name: str,
    *,
    provisioner: str = vol.NO_PROVISIONER,
    mode: str = vol.BINDING_WAIT_FOR_FIRST_CONSUMER,
    allowed_topologies: Mapping[str, Iterable[str]] | None = None,
) -> Raw:
    raw: Raw = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name},
        "provisioner": provisioner,
        "volumeBindingMode": mode,
    }
    if allowed_topologies is not None:
        raw["allowedTopologies"] = [
            {
                "matchLabelExpressions": [
                    {"key": key, "values": list(values)}
                    for key, values in allowed_topologies.items()
                ]
            }
        ]
    return raw


def make_storage_class(name: str, **kwargs: Any) -> vol.StorageClass:
    return vol.decode_storage_class(raw_storage_class(name, **kwargs))
