"""The plugin contract: one Protocol per extension point, plus the ``Handle``
plugins receive when they are built.

Plugins are synchronous and pure except at PreBind and Bind, which are the
only asynchronous points and reach the API through ``Handle.cluster``. A
Filter judges only the ``NodeInfo`` it is given: preemption and the
nominated-pod pass hand it clones with pods added or removed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence, Set
from typing import Any, ClassVar, Protocol, TypeVar, overload, runtime_checkable

from py_scheduler.cluster import Cluster
from py_scheduler.framework.custom_resources import CustomObjectLister, CustomResource
from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.pod_counts import PodCounts, TermCounts, TermKind
from py_scheduler.framework.pod_groups import PodGroupLister
from py_scheduler.framework.status import Status
from py_scheduler.framework.types import (
    ClusterEventWithHint,
    NodeToStatus,
    PostFilterResult,
    PreFilterResult,
    QueuedPodInfo,
)
from py_scheduler.framework.waiting_pods import WaitingPod
from py_scheduler.model import NodeInfo, NodeName, PodInfo
from py_scheduler.model.budgets import DisruptionBudget
from py_scheduler.model.dra.objects import DeviceClass, DeviceID, ResourceClaim, ResourceSlice
from py_scheduler.model.selectors import LabelSelector
from py_scheduler.model.server import ServerInfo
from py_scheduler.model.volumes import (
    CSIDriver,
    CSINode,
    CSIStorageCapacity,
    PersistentVolume,
    PersistentVolumeClaim,
    StorageClass,
)

T = TypeVar("T")

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

    def csi_driver(self, name: str) -> CSIDriver | None: ...

    def storage_capacities(self) -> Sequence[CSIStorageCapacity]:
        """Every CSIStorageCapacity, of every namespace."""

    def resource_claim(self, namespace: str, name: str) -> ResourceClaim | None: ...

    def device_class(self, name: str) -> DeviceClass | None: ...

    def resource_slices(self) -> Sequence[ResourceSlice]: ...

    def node_slices(self, node: str) -> Sequence[ResourceSlice]:
        """Slices published for ``node`` plus those not tied to one node."""

    def allocated_devices(self) -> Set[DeviceID]:
        """Devices the watched claims hold (admin access excluded)."""


class Nominator(Protocol):
    """Pods nominated to nodes by preemption, which a Filter dry run must count."""

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

    @property
    def server(self) -> ServerInfo:
        """The API server's release and served API versions, read once at start-up.
        Where kube-scheduler releases differ, a plugin behaves as this release's."""

    @property
    def pod_groups(self) -> PodGroupLister:
        """The members of every pod group, as the watches show them."""

    def run_filters_with_nominated(
        self, state: CycleState, pod: PodInfo, node: NodeInfo
    ) -> Status: ...

    def filter_signature(self, state: CycleState, pod: PodInfo) -> Hashable | None:
        """A key that two pods (after their PreFilter, in ``state``) share only
        if every Filter running for them reads the same of both and nothing
        beyond the node: the same key, the same Filter verdict on a node whose
        ``NodeInfo.generation`` has not moved, with the same nominated pods.
        None when some running Filter reads more (other pods, cluster-wide
        objects, an out-of-tree plugin), or nothing says which nodes changed.
        A plugin may keep per-node answers under it (DefaultPreemption's dry run)."""

    def run_pre_filter_plugins(self, state: CycleState, pod: PodInfo) -> Status:
        """Run the profile's PreFilter plugins for ``pod`` into ``state`` (a fresh
        one), as its own scheduling cycle would: for a plugin that judges pods
        other than the one it was called for (the rest of a gang)."""

    def run_pre_filter_add_pod(
        self, state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo
    ) -> Status: ...

    def run_pre_filter_remove_pod(
        self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo
    ) -> Status: ...

    def waiting_pods(self) -> Sequence[WaitingPod]:
        """Pods held at Permit now, in every profile (upstream's
        IterateOverWaitingPods); allowing or rejecting them is safe meanwhile."""

    def get_waiting_pod(self, uid: str) -> WaitingPod | None:
        """The pod with this UID if it is held at Permit."""

    def reject_waiting_pod(self, uid: str) -> bool:
        """Reject a held pod with upstream's reason ``removed``; False when it
        is not waiting (any more)."""

    def activate(self, pods: Iterable[PodInfo]) -> None:
        """Move these pods from the unschedulable pool or backoff to the active
        queue now (upstream's Handle.Activate), e.g. the rest of a group one
        pod of which a Permit plugin holds."""

    @overload
    def custom_objects(self, resource: CustomResource) -> CustomObjectLister[Mapping[str, Any]]: ...

    @overload
    def custom_objects(
        self, resource: CustomResource, decode: Callable[[Mapping[str, Any]], T]
    ) -> CustomObjectLister[T]: ...

    def custom_objects(
        self, resource: CustomResource, decode: Callable[[Mapping[str, Any]], Any] | None = None
    ) -> CustomObjectLister[Any]:
        """A lister of ``resource``'s objects, which the scheduler then watches
        (upstream's DynInformerFactory().ForResource). Ask for it when the
        plugin is built; ``decode`` turns each object into the plugin's own
        type once per change (an object it raises ValueError, KeyError or
        TypeError on is left out, with a logged reason)."""


@runtime_checkable
class Plugin(Protocol):
    """Every plugin: a class attribute ``name``, the name configurations use.
    A plugin implements any number of the protocols below; the framework
    calls it at each extension point it implements and is enabled at."""

    name: ClassVar[str]


@runtime_checkable
class PreEnqueuePlugin(Plugin, Protocol):
    """The PreEnqueue extension point."""

    def pre_enqueue(self, pod: PodInfo) -> Status:
        """Before a pod enters the active queue: Success lets it in; anything
        else keeps it out (gated) until this plugin's registered events, or
        an update of the pod, let it in. Runs on every queue move: be cheap."""


@runtime_checkable
class QueueSortPlugin(Plugin, Protocol):
    """The QueueSort extension point."""

    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        """Whether ``a`` is tried before ``b``. Exactly one per profile; one
        that raises is replaced by PrioritySort's order (and logged)."""


class PreFilterExtensions(Protocol):
    """Keep what PreFilter wrote in the CycleState right when preemption's
    dry run, or the nominated-pod pass, adds or removes a pod on ``node``
    (in a cloned state: mutate it, it is not the cycle's)."""

    def add_pod(
        self, state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo
    ) -> Status: ...

    def remove_pod(
        self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo
    ) -> Status: ...


@runtime_checkable
class PreFilterPlugin(Plugin, Protocol):
    """The PreFilter extension point."""

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        """Once per cycle, before Filter: compute what Filter needs (write
        it to ``state``) and optionally narrow the candidates
        (``PreFilterResult(node_names)``, intersected across plugins). Skip:
        this plugin's Filter is skipped for the pod. Unschedulable /
        UnschedulableAndUnresolvable: no node fits."""

    def pre_filter_extensions(self) -> PreFilterExtensions | None:
        """None unless the plugin's state depends on the pods on a node."""


@runtime_checkable
class FilterPlugin(Plugin, Protocol):
    """The Filter extension point."""

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        """Whether the pod fits ``node``: Success, Unschedulable (preemption
        may help) or UnschedulableAndUnresolvable (it cannot), with reasons
        that become the FailedScheduling message. Called per node, the hot
        path: see ``BatchFilterPlugin`` for the columnar form."""


@runtime_checkable
class PostFilterPlugin(Plugin, Protocol):
    """The PostFilter extension point."""

    def post_filter(
        self, state: CycleState, pod: PodInfo, statuses: NodeToStatus
    ) -> tuple[PostFilterResult | None, Status]:
        """When no node fits (``statuses``: each node's rejection): make the
        pod schedulable later, e.g. preemption (a ``PostFilterResult``
        nominating a node and naming victims). Success or
        UnschedulableAndUnresolvable stops the other PostFilter plugins."""


@runtime_checkable
class PreScorePlugin(Plugin, Protocol):
    """The PreScore extension point."""

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        """Once per cycle over the feasible ``nodes``, before Score; Skip:
        this plugin's Score is skipped for the pod."""


@runtime_checkable
class ScorePlugin(Plugin, Protocol):
    """The Score extension point."""

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        """A feasible node's score, an int in 0..100 after normalising
        (see ``ScoreNormalizer``), multiplied by the plugin's weight. Scoring
        runs only when more than one node is feasible."""


@runtime_checkable
class ScoreNormalizer(Protocol):
    """Optional on a Score plugin: rescale raw scores in place to 0..100."""

    def normalize_scores(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None: ...


@runtime_checkable
class ReservePlugin(Plugin, Protocol):
    """The Reserve and Unreserve extension point."""

    def reserve(self, state: CycleState, pod: PodInfo, node: NodeName) -> Status:
        """The pod is assumed on ``node``: claim what the plugin tracks.
        Anything but Success undoes the cycle (Unreserve of every plugin)."""

    def unreserve(self, state: CycleState, pod: PodInfo, node: NodeName) -> None:
        """Must be idempotent: it may run without a matching reserve."""


@runtime_checkable
class PermitPlugin(Plugin, Protocol):
    """The Permit extension point."""

    def permit(self, state: CycleState, pod: PodInfo, node: NodeName) -> tuple[Status, float]:
        """Success, a rejection, or ``Status.wait()`` with a timeout in seconds
        (at most 15 minutes; longer is cut to that). A waiting pod stays
        assumed on ``node`` until every plugin that waited calls
        ``WaitingPod.allow`` (see ``Handle.get_waiting_pod``), one rejects it,
        or its timeout passes."""


@runtime_checkable
class PreBindPlugin(Plugin, Protocol):
    """The PreBind extension point."""

    async def pre_bind(self, state: CycleState, pod: PodInfo, node: NodeName) -> Status:
        """In the binding cycle (its own task), before Bind: API writes the
        pod needs first, through ``Handle.cluster``. Skip: nothing to do."""


@runtime_checkable
class BindPlugin(Plugin, Protocol):
    """The Bind extension point."""

    async def bind(self, state: CycleState, pod: PodInfo, node: NodeName) -> Status:
        """Bind the pod; Skip hands it to the next Bind plugin (DefaultBinder
        last). A failure unreserves, forgets and retries the pod."""


@runtime_checkable
class PostBindPlugin(Plugin, Protocol):
    """The PostBind extension point."""

    def post_bind(self, state: CycleState, pod: PodInfo, node: NodeName) -> None:
        """Informational, after a successful bind (clean up, count)."""


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

    def events_to_register(self) -> Sequence[ClusterEventWithHint]:
        """Called once, when the profile is built. A pod this plugin rejected
        (at PreEnqueue, PreFilter, Filter, Reserve or Permit) leaves the
        unschedulable pool on one of these events whose hint says Queue (no
        hint: always). A plugin without this method is retried on any event.
        An event on a ``CustomResource`` makes the scheduler watch that kind."""
