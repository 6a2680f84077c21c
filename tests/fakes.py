"""In-memory stand-ins for the framework's ports, for unit tests of the pure
core. Integration tests use the real control plane instead."""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from typing import Any

from py_scheduler.cluster import PodCondition
from py_scheduler.framework.custom_resources import (
    CustomObjectLister,
    CustomObjects,
    CustomResource,
)
from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.interface import SharedLister
from py_scheduler.framework.pod_counts import PodCounts, TermCounts, TermKind, selected, terms_of
from py_scheduler.framework.pod_groups import NO_POD_GROUPS, PodGroupLister
from py_scheduler.framework.status import Status
from py_scheduler.framework.waiting_pods import ManualTimers, WaitingPod, WaitingPods
from py_scheduler.model import NodeInfo, NodeName, PodInfo
from py_scheduler.model.budgets import DisruptionBudget
from py_scheduler.model.dra.objects import (
    FINALIZER,
    Consumer,
    DeviceClass,
    DeviceID,
    ResourceClaim,
    ResourceSlice,
    decode_resource_claim,
)
from py_scheduler.model.dra.tables import held_devices
from py_scheduler.model.pod import WeightedPodAffinityTerm
from py_scheduler.model.selectors import LabelSelector
from py_scheduler.model.server import OFFLINE, ServerInfo
from py_scheduler.model.volumes import (
    ANN_SELECTED_NODE,
    ClaimRef,
    CSIDriver,
    CSINode,
    CSIStorageCapacity,
    PersistentVolume,
    PersistentVolumeClaim,
    StorageClass,
)


class FakeSnapshot:
    """A SharedLister over a fixed list of NodeInfos; the pod indexes are
    answered by walking every pod, the reference the cache's must equal."""

    def __init__(self, nodes: Sequence[NodeInfo] = ()) -> None:
        self.nodes = list(nodes)

    def node_infos(self) -> Sequence[NodeInfo]:
        return self.nodes

    def get(self, name: str) -> NodeInfo | None:
        return next((n for n in self.nodes if n.name == name), None)

    def with_affinity(self) -> Sequence[NodeInfo]:
        return [n for n in self.nodes if n.pods_with_affinity]

    def with_required_anti_affinity(self) -> Sequence[NodeInfo]:
        return [n for n in self.nodes if n.pods_with_required_anti_affinity]

    def image_nodes(self, image: str) -> int:
        return sum(1 for n in self.nodes if image in n.node.images)

    def matching_pods(
        self, selectors: tuple[LabelSelector, ...], *, terminating: bool
    ) -> PodCounts:
        counts: dict[str, dict[NodeName, int]] = {}
        for node in self.nodes:
            for pod in node.pods.values():
                if selected(pod, selectors, terminating):
                    by_node = counts.setdefault(pod.namespace, {})
                    by_node[node.name] = by_node.get(node.name, 0) + 1
        return counts

    def held_terms(self, kind: TermKind) -> TermCounts:
        counts: dict[WeightedPodAffinityTerm, dict[NodeName, int]] = {}
        for node in self.nodes:
            for pod in node.pods.values():
                for term in terms_of(pod, kind):
                    by_node = counts.setdefault(term, {})
                    by_node[node.name] = by_node.get(node.name, 0) + 1
        return counts


@dataclass
class FakeObjects:
    budgets: list[DisruptionBudget] = field(default_factory=list)
    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)
    owners: list[LabelSelector] = field(default_factory=list)
    claims: list[PersistentVolumeClaim] = field(default_factory=list)
    volumes: list[PersistentVolume] = field(default_factory=list)
    classes: list[StorageClass] = field(default_factory=list)
    csi_nodes: list[CSINode] = field(default_factory=list)
    csi_drivers: list[CSIDriver] = field(default_factory=list)
    capacities: list[CSIStorageCapacity] = field(default_factory=list)
    resource_claims: list[ResourceClaim] = field(default_factory=list)
    device_classes: list[DeviceClass] = field(default_factory=list)
    slices: list[ResourceSlice] = field(default_factory=list)

    def pdbs(self, namespace: str) -> Sequence[DisruptionBudget]:
        return [b for b in self.budgets if b.namespace == namespace]

    def namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        return self.namespaces.get(namespace)

    def owner_selectors(self, pod: PodInfo) -> Sequence[LabelSelector]:
        return [s for s in self.owners if s.matches(pod.labels)]

    def pvc(self, namespace: str, name: str) -> PersistentVolumeClaim | None:
        return next((c for c in self.claims if (c.namespace, c.name) == (namespace, name)), None)

    def pv(self, name: str) -> PersistentVolume | None:
        return next((v for v in self.volumes if v.name == name), None)

    def pvs(self) -> Sequence[PersistentVolume]:
        return self.volumes

    def storage_class(self, name: str) -> StorageClass | None:
        return next((c for c in self.classes if c.name == name), None)

    def csi_node(self, name: str) -> CSINode | None:
        return next((c for c in self.csi_nodes if c.name == name), None)

    def csi_driver(self, name: str) -> CSIDriver | None:
        return next((d for d in self.csi_drivers if d.name == name), None)

    def storage_capacities(self) -> Sequence[CSIStorageCapacity]:
        return self.capacities

    def resource_claim(self, namespace: str, name: str) -> ResourceClaim | None:
        key = f"{namespace}/{name}"
        return next((c for c in self.resource_claims if c.key == key), None)

    def device_class(self, name: str) -> DeviceClass | None:
        return next((c for c in self.device_classes if c.name == name), None)

    def resource_slices(self) -> Sequence[ResourceSlice]:
        return self.slices

    def node_slices(self, node: str) -> Sequence[ResourceSlice]:
        return [s for s in self.slices if s.node_name in ("", node)]

    def allocated_devices(self) -> Set[DeviceID]:
        return {d for c in self.resource_claims for d in held_devices(c)}

    def put_claim(self, claim: ResourceClaim) -> None:
        """Replace (or add) a claim, as the watch would."""
        self.resource_claims = [c for c in self.resource_claims if c.key != claim.key] + [claim]


@dataclass
class FakeCluster:
    """Records every call; ``fail`` maps a method name to an exception to raise,
    on every call or only on the next ``fail_times[method]`` calls."""

    calls: list[tuple[str, str, object]] = field(default_factory=list)
    fail: dict[str, Exception] = field(default_factory=dict)
    fail_times: dict[str, int] = field(default_factory=dict)
    claims: dict[str, PersistentVolumeClaim] = field(default_factory=dict)  # by ns/name
    volumes: dict[str, PersistentVolume] = field(default_factory=dict)
    resource_claims: dict[str, ResourceClaim] = field(default_factory=dict)  # by ns/name

    async def _record(self, method: str, pod: PodInfo, detail: object) -> None:
        self.calls.append((method, pod.key, detail))
        if method not in self.fail:
            return
        left = self.fail_times.get(method)
        if left is None:
            raise self.fail[method]
        if left > 0:
            self.fail_times[method] = left - 1
            raise self.fail[method]

    async def bind(self, pod: PodInfo, node: str) -> None:
        await self._record("bind", pod, node)

    async def patch_pod_status(
        self, pod: PodInfo, *, condition: PodCondition | None, nominated_node: str | None
    ) -> None:
        await self._record("patch_pod_status", pod, (condition, nominated_node))

    async def evict(self, pod: PodInfo) -> None:
        await self._record("evict", pod, None)

    async def delete(self, pod: PodInfo) -> None:
        await self._record("delete", pod, None)

    async def record_event(
        self,
        pod: PodInfo,
        *,
        type: str,
        reason: str,
        action: str,
        note: str,
        reporting_controller: str,
    ) -> None:
        await self._record("record_event", pod, (type, reason, note))

    async def patch_object_status(
        self, *, path: str, status: Mapping[str, object], resource_version: str = ""
    ) -> None:
        self.calls.append(("patch_object_status", path, dict(status)))
        if "patch_object_status" in self.fail:
            raise self.fail["patch_object_status"]

    # Volume binding: ``claims`` and ``volumes`` record what the API server would hold.

    async def bind_volume(
        self, volume: PersistentVolume, claim: PersistentVolumeClaim
    ) -> PersistentVolume:
        self.calls.append(("bind_volume", claim.key, volume.name))
        if "bind_volume" in self.fail:
            raise self.fail["bind_volume"]
        bound = replace(
            volume,
            claim_ref=ClaimRef(claim.namespace, claim.name, claim.uid),
            resource_version=_next_version(volume.resource_version),
        )
        self.volumes[volume.name] = bound
        return bound

    async def select_node(self, claim: PersistentVolumeClaim, node: str) -> PersistentVolumeClaim:
        self.calls.append(("select_node", claim.key, node))
        if "select_node" in self.fail:
            raise self.fail["select_node"]
        annotated = replace(
            claim,
            annotations={**claim.annotations, ANN_SELECTED_NODE: node},
            resource_version=_next_version(claim.resource_version),
        )
        self.claims[claim.key] = annotated
        return annotated

    # Dynamic resource allocation: ``resource_claims`` holds the API server's copies.

    async def _claim_call(self, method: str, claim: ResourceClaim, detail: object) -> None:
        self.calls.append((method, claim.key, detail))
        if method not in self.fail:
            return
        left = self.fail_times.get(method)
        if left is None:
            raise self.fail[method]
        if left > 0:
            self.fail_times[method] = left - 1
            raise self.fail[method]

    def _store(self, claim: ResourceClaim, **changes: Any) -> ResourceClaim:
        stored = replace(claim, resource_version=_next_version(claim.resource_version), **changes)
        self.resource_claims[claim.key] = stored
        return stored

    async def get_resource_claim(self, namespace: str, name: str) -> ResourceClaim:
        key = f"{namespace}/{name}"
        self.calls.append(("get_resource_claim", key, None))
        if "get_resource_claim" in self.fail:
            raise self.fail["get_resource_claim"]
        return self.resource_claims[key]

    async def add_claim_finalizer(self, claim: ResourceClaim) -> ResourceClaim:
        await self._claim_call("add_claim_finalizer", claim, None)
        return self._store(claim, finalizers=(*claim.finalizers, FINALIZER))

    async def reserve_claim(
        self,
        claim: ResourceClaim,
        *,
        consumer: Consumer,
        allocation: Mapping[str, object] | None,
    ) -> ResourceClaim:
        await self._claim_call("reserve_claim", claim, (consumer.uid, allocation))
        changes: dict[str, Any] = {"reserved_for": (*claim.reserved_for, consumer)}
        if allocation is not None:
            decoded = decode_resource_claim(
                {"metadata": {"name": claim.name}, "status": {"allocation": dict(allocation)}}
            )
            changes["allocation"] = decoded.allocation
        return self._store(claim, **changes)

    async def unreserve_claim(self, claim: ResourceClaim, pod_uid: str) -> None:
        await self._claim_call("unreserve_claim", claim, pod_uid)
        current = self.resource_claims.get(claim.key, claim)
        kept = tuple(c for c in current.reserved_for if c.uid != pod_uid)
        self._store(current, reserved_for=kept)

    async def deallocate_claim(self, claim: ResourceClaim) -> ResourceClaim:
        await self._claim_call("deallocate_claim", claim, None)
        return self._store(claim, reserved_for=(), allocation=None)


def _next_version(version: str) -> str:
    return str(int(version or "0") + 1)


@dataclass
class FakeNominator:
    nominated: dict[str, list[PodInfo]] = field(default_factory=dict)

    def nominated_pods_for(self, node: NodeName) -> Sequence[PodInfo]:
        return self.nominated.get(node, [])

    def nominated_nodes(self) -> Collection[NodeName]:
        return [NodeName(node) for node, pods in self.nominated.items() if pods]

    def __len__(self) -> int:
        return sum(len(pods) for pods in self.nominated.values())


class FakeHandle:
    """A Handle for building one plugin in a unit test; ``snapshot`` (say, a
    real cache) replaces the FakeSnapshot over ``nodes``."""

    def __init__(
        self,
        nodes: Sequence[NodeInfo] = (),
        *,
        snapshot: SharedLister | None = None,
        objects: FakeObjects | None = None,
        cluster: FakeCluster | None = None,
        nominator: FakeNominator | None = None,
        server: ServerInfo = OFFLINE,
        pod_groups: PodGroupLister = NO_POD_GROUPS,
    ) -> None:
        self._snapshot = snapshot if snapshot is not None else FakeSnapshot(nodes)
        self._server = server
        self._pod_groups = pod_groups
        self._objects = objects or FakeObjects()
        self._cluster = cluster or FakeCluster()
        self._nominator = nominator or FakeNominator()
        self.waiting = WaitingPods(ManualTimers())
        self.custom = CustomObjects()
        self.activated: list[PodInfo] = []

    @property
    def profile_name(self) -> str:
        return "py-scheduler"

    def waiting_pods(self) -> Sequence[WaitingPod]:
        return list(self.waiting)

    def get_waiting_pod(self, uid: str) -> WaitingPod | None:
        return self.waiting.get(uid)

    def reject_waiting_pod(self, uid: str) -> bool:
        waiting = self.waiting.get(uid)
        return waiting is not None and waiting.reject("", "removed")

    def activate(self, pods: Iterable[PodInfo]) -> None:
        self.activated.extend(pods)

    def custom_objects(
        self, resource: CustomResource, decode: Callable[[Mapping[str, Any]], Any] | None = None
    ) -> CustomObjectLister[Any]:
        return self.custom.lister(resource, decode) if decode else self.custom.lister(resource)

    @property
    def snapshot(self) -> SharedLister:
        return self._snapshot

    @property
    def objects(self) -> FakeObjects:
        return self._objects

    @property
    def cluster(self) -> FakeCluster:
        return self._cluster

    @property
    def nominator(self) -> FakeNominator:
        return self._nominator

    @property
    def server(self) -> ServerInfo:
        return self._server

    @property
    def pod_groups(self) -> PodGroupLister:
        return self._pod_groups

    def run_pre_filter_plugins(self, state: CycleState, pod: PodInfo) -> Status:
        raise NotImplementedError("use a real Framework for preemption tests")

    def run_filters_with_nominated(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        raise NotImplementedError("use a real Framework for preemption tests")

    def filter_signature(self, state: CycleState, pod: PodInfo) -> Hashable | None:
        return None  # nothing says which nodes changed

    def run_pre_filter_add_pod(
        self, state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo
    ) -> Status:
        raise NotImplementedError("use a real Framework for preemption tests")

    def run_pre_filter_remove_pod(
        self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo
    ) -> Status:
        raise NotImplementedError("use a real Framework for preemption tests")
