"""The plugin contract: one Protocol per extension point, plus the ``Handle``
plugins receive when they are built.

Plugins are synchronous and pure except at PreBind and Bind, which are the
only asynchronous points and reach the API through ``Handle.cluster``. A
Filter judges only the ``NodeInfo`` it is given: preemption and the
nominated-pod pass hand it clones with pods added or removed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence, Set
from typing import ClassVar, Protocol, runtime_checkable

from py_scheduler.cluster import Cluster
from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.pod_counts import PodCounts, TermCounts, TermKind
from py_scheduler.framework.status import Status
from py_scheduler.framework.types import (
    ClusterEventWithHint,
    NodeToStatus,
    PostFilterResult,
    PreFilterResult,
    QueuedPodInfo,
)
from py_scheduler.model import NodeInfo, NodeName, PodInfo
from py_scheduler.model.budgets import DisruptionBudget
from py_scheduler.model.dra.objects import DeviceClass, DeviceID, ResourceClaim, ResourceSlice
from py_scheduler.model.selectors import LabelSelector
from py_scheduler.model.volumes import (
    CSINode,
    PersistentVolume,
    PersistentVolumeClaim,
    StorageClass,
)

MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0


class SharedLister(Protocol):
    """The cluster as this cycle sees it (the cache, read-only during a cycle)."""

    def node_infos(self) -> Sequence[NodeInfo]:
        """All nodes, zones interleaved as kube-scheduler's node tree orders them."""

    def get(self, name: str) -> NodeInfo | None: ...

    def with_affinity(self) -> Sequence[NodeInfo]:
        """Nodes with at least one pod that has (anti-)affinity terms."""

    def with_required_anti_affinity(self) -> Sequence[NodeInfo]: ...

    def image_nodes(self, image: str) -> int:
        """How many nodes report this (normalised) image."""

    def matching_pods(
        self, selectors: tuple[LabelSelector, ...], *, terminating: bool
    ) -> PodCounts:
        """Assigned pods matching every selector, per namespace and node
        (``framework.pod_counts.selected``); read-only, valid for this cycle."""

    def held_terms(self, kind: TermKind) -> TermCounts:
        """Assigned pods' terms of ``kind``, per node; read-only, valid for this cycle."""


class ObjectLister(Protocol):
    """Cluster objects other than nodes and pods that plugins consult."""

    def pdbs(self, namespace: str) -> Sequence[DisruptionBudget]: ...

    def namespace_labels(self, namespace: str) -> Mapping[str, str] | None: ...

    def owner_selectors(self, pod: PodInfo) -> Sequence[LabelSelector]:
        """Selectors of the Services, RCs, RSs and StatefulSets selecting the pod."""

    def pvc(self, namespace: str, name: str) -> PersistentVolumeClaim | None: ...

    def pv(self, name: str) -> PersistentVolume | None: ...

    def pvs(self) -> Sequence[PersistentVolume]: ...

    def storage_class(self, name: str) -> StorageClass | None: ...

    def csi_node(self, name: str) -> CSINode | None: ...

    def resource_claim(self, namespace: str, name: str) -> ResourceClaim | None: ...

    def device_class(self, name: str) -> DeviceClass | None: ...

    def resource_slices(self) -> Sequence[ResourceSlice]: ...

    def node_slices(self, node: str) -> Sequence[ResourceSlice]:
        """Slices published for ``node`` plus those not tied to one node."""

    def allocated_devices(self) -> Set[DeviceID]:
        """Devices the watched claims hold (admin access excluded)."""


class Nominator(Protocol):
    def nominated_pods_for(self, node: NodeName) -> Sequence[PodInfo]: ...

    def nominated_nodes(self) -> Collection[NodeName]:
        """The nodes some pod is nominated to."""

    def __len__(self) -> int:
        """How many pods are nominated anywhere."""


class Handle(Protocol):
    """What a plugin may use besides its arguments."""

    @property
    def profile_name(self) -> str: ...

    @property
    def snapshot(self) -> SharedLister: ...

    @property
    def objects(self) -> ObjectLister: ...

    @property
    def cluster(self) -> Cluster: ...

    @property
    def nominator(self) -> Nominator: ...

    def run_filters_with_nominated(
        self, state: CycleState, pod: PodInfo, node: NodeInfo
    ) -> Status: ...

    def run_pre_filter_add_pod(
        self, state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo
    ) -> Status: ...

    def run_pre_filter_remove_pod(
        self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo
    ) -> Status: ...


@runtime_checkable
class Plugin(Protocol):
    name: ClassVar[str]


@runtime_checkable
class PreEnqueuePlugin(Plugin, Protocol):
    def pre_enqueue(self, pod: PodInfo) -> Status: ...


@runtime_checkable
class QueueSortPlugin(Plugin, Protocol):
    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool: ...


class PreFilterExtensions(Protocol):
    def add_pod(
        self, state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo
    ) -> Status: ...

    def remove_pod(
        self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo
    ) -> Status: ...


@runtime_checkable
class PreFilterPlugin(Plugin, Protocol):
    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]: ...

    def pre_filter_extensions(self) -> PreFilterExtensions | None: ...


@runtime_checkable
class FilterPlugin(Plugin, Protocol):
    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status: ...


@runtime_checkable
class PostFilterPlugin(Plugin, Protocol):
    def post_filter(
        self, state: CycleState, pod: PodInfo, statuses: NodeToStatus
    ) -> tuple[PostFilterResult | None, Status]: ...


@runtime_checkable
class PreScorePlugin(Plugin, Protocol):
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status: ...


@runtime_checkable
class ScorePlugin(Plugin, Protocol):
    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int: ...


@runtime_checkable
class ScoreNormalizer(Protocol):
    """Optional on a Score plugin: rescale raw scores in place to 0..100."""

    def normalize_scores(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None: ...


@runtime_checkable
class ReservePlugin(Plugin, Protocol):
    def reserve(self, state: CycleState, pod: PodInfo, node: NodeName) -> Status: ...

    def unreserve(self, state: CycleState, pod: PodInfo, node: NodeName) -> None:
        """Must be idempotent: it may run without a matching reserve."""


@runtime_checkable
class PermitPlugin(Plugin, Protocol):
    def permit(self, state: CycleState, pod: PodInfo, node: NodeName) -> tuple[Status, float]: ...


@runtime_checkable
class PreBindPlugin(Plugin, Protocol):
    async def pre_bind(self, state: CycleState, pod: PodInfo, node: NodeName) -> Status: ...


@runtime_checkable
class BindPlugin(Plugin, Protocol):
    async def bind(self, state: CycleState, pod: PodInfo, node: NodeName) -> Status: ...


@runtime_checkable
class PostBindPlugin(Plugin, Protocol):
    def post_bind(self, state: CycleState, pod: PodInfo, node: NodeName) -> None: ...


@runtime_checkable
class BackgroundWriter(Plugin, Protocol):
    """A plugin that makes API writes from synchronous extension points
    (Unreserve, PostFilter) as tasks it owns, through ``Handle.cluster``. The
    scheduler's ``drain`` (graceful shutdown, and the simulator before the
    next pod) awaits them after its own binding cycles."""

    async def drain(self) -> None:
        """Wait for the writes running now."""


@runtime_checkable
class EnqueueExtensions(Protocol):
    """Which cluster events may make a pod this plugin rejected schedulable."""

    def events_to_register(self) -> Sequence[ClusterEventWithHint]: ...
