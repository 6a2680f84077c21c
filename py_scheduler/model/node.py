"""``NodeInfo``: a node plus the aggregate of the pods the cache places on it.

Kept current incrementally by the cache (add/remove one pod at a time), so a
filter reads requested resources, used host ports and pod counts in O(1).
Preemption and the nominated-pod pass work on :meth:`NodeInfo.clone`, never
on the cached object.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, NewType

from py_scheduler.model.pod import HostPort, PodInfo, PodUID
from py_scheduler.model.raw import Fields, RawObject
from py_scheduler.model.resources import PODS, Resources, decode_amounts
from py_scheduler.model.taints import Taint, decode_taint

NodeName = NewType("NodeName", str)

HOSTNAME_LABEL: Final = "kubernetes.io/hostname"
ZONE_LABEL: Final = "topology.kubernetes.io/zone"
REGION_LABEL: Final = "topology.kubernetes.io/region"


@dataclass(frozen=True, slots=True)
class Node:
    """The node object itself, as decoded from the API."""

    name: NodeName
    labels: Mapping[str, str]
    taints: tuple[Taint, ...] = ()
    unschedulable: bool = False
    allocatable: Resources = field(default_factory=Resources)
    allowed_pods: int = 0
    images: Mapping[str, int] = field(default_factory=dict)  # image name -> size in bytes
    resource_version: str = ""
    # Kept for plugins (e.g. a price); no in-tree plugin reads them.
    annotations: Mapping[str, str] = field(default_factory=dict)
    # status.declaredFeatures: what the kubelet supports (NodeDeclaredFeatures).
    declared_features: frozenset[str] = frozenset()

    @property
    def zone_key(self) -> str:
        """Region and zone, the unit the node list interleaves over (as nodeTree)."""
        region = self.labels.get(REGION_LABEL, "")
        zone = self.labels.get(ZONE_LABEL, "")
        return f"{region}:\x00:{zone}" if region or zone else ""


def decode_node(raw: RawObject) -> Node:
    """Decode a node; raise :class:`DecodeError` naming the field on bad input."""
    root = Fields(raw)
    meta = root.obj("metadata")
    spec = root.obj("spec")
    status = root.obj("status")
    name = meta.string("name")
    if not name:
        raise meta.error("name", "must be set")
    amounts = decode_amounts(status, "allocatable")
    allowed = math.ceil(amounts[PODS]) if PODS in amounts else 0
    images: dict[str, int] = {}
    for image in status.objects("images"):
        size = image.integer("sizeBytes")
        for image_name in image.strings("names"):
            images[image_name] = size
    return Node(
        name=NodeName(name),
        labels=meta.str_map("labels"),
        taints=tuple(decode_taint(t) for t in spec.objects("taints")),
        unschedulable=spec.boolean("unschedulable"),
        allocatable=Resources.from_amounts(amounts),
        allowed_pods=allowed,
        images=images,
        resource_version=meta.string("resourceVersion"),
        annotations=meta.str_map("annotations"),
        declared_features=frozenset(status.strings("declaredFeatures")),
    )


class NodeInfo:
    """A node and the pods on it (bound, assumed or nominated in a dry run)."""

    __slots__ = (
        "generation",
        "node",
        "non_zero_cpu",
        "non_zero_memory",
        "pods",
        "pods_with_affinity",
        "pods_with_required_anti_affinity",
        "pvc_refs",
        "requested",
        "used_ports",
    )

    def __init__(self, node: Node) -> None:
        self.node = node
        self.pods: dict[PodUID, PodInfo] = {}
        self.requested = Resources()
        self.non_zero_cpu = 0
        self.non_zero_memory = 0
        self.used_ports: dict[HostPort, int] = {}
        self.pods_with_affinity = 0
        self.pods_with_required_anti_affinity = 0
        self.pvc_refs: dict[str, int] = {}  # "<namespace>/<claim>" -> pods using it
        self.generation = 0

    @property
    def name(self) -> NodeName:
        return self.node.name

    def add_pod(self, pod: PodInfo) -> None:
        self.pods[pod.uid] = pod
        self._account(pod, 1)

    def remove_pod(self, pod: PodInfo) -> bool:
        """Remove by UID; the stored copy is what gets subtracted."""
        stored = self.pods.pop(pod.uid, None)
        if stored is None:
            return False
        self._account(stored, -1)
        return True

    def _account(self, pod: PodInfo, sign: int) -> None:
        if sign > 0:
            self.requested.add(pod.requests)
        else:
            self.requested.subtract(pod.requests)
        self.non_zero_cpu += sign * pod.non_zero_cpu
        self.non_zero_memory += sign * pod.non_zero_memory
        for port in pod.host_ports:
            left = self.used_ports.get(port, 0) + sign
            if left > 0:
                self.used_ports[port] = left
            else:
                self.used_ports.pop(port, None)
        if pod.has_affinity:
            self.pods_with_affinity += sign
        if pod.has_required_anti_affinity:
            self.pods_with_required_anti_affinity += sign
        for volume in pod.volumes:
            if volume.claim is not None or volume.ephemeral:
                claim = volume.claim if volume.claim is not None else f"{pod.name}-{volume.name}"
                key = f"{pod.namespace}/{claim}"
                left = self.pvc_refs.get(key, 0) + sign
                if left > 0:
                    self.pvc_refs[key] = left
                else:
                    self.pvc_refs.pop(key, None)

    def clone(self) -> NodeInfo:
        copy = NodeInfo(self.node)
        copy.pods = dict(self.pods)
        copy.requested = self.requested.copy()
        copy.non_zero_cpu = self.non_zero_cpu
        copy.non_zero_memory = self.non_zero_memory
        copy.used_ports = dict(self.used_ports)
        copy.pods_with_affinity = self.pods_with_affinity
        copy.pods_with_required_anti_affinity = self.pods_with_required_anti_affinity
        copy.pvc_refs = dict(self.pvc_refs)
        copy.generation = self.generation
        return copy

    def __repr__(self) -> str:
        return f"NodeInfo({self.node.name}, pods={len(self.pods)}, requested={self.requested})"
