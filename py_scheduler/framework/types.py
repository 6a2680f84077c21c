"""Values passed between the framework, the queue and the scheduling cycle:
queued pods, PreFilter/PostFilter results, the per-node diagnosis and the
FailedScheduling message built from it (``FitError``)."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from py_scheduler.framework.status import Code, Status
from py_scheduler.model import NodeName, PodInfo

if TYPE_CHECKING:
    from py_scheduler.framework.custom_resources import CustomResource

NO_NODES_AVAILABLE: Final = "no nodes available to schedule pods"


@dataclass(slots=True, eq=False)
class QueuedPodInfo:
    """A pod in the scheduling queue with its retry bookkeeping."""

    pod: PodInfo
    timestamp: float  # last (re)entry to the queue; orders equal priorities
    initial_attempt_timestamp: float | None = None  # first entry: the SLI clock
    attempts: int = 0
    unschedulable_count: int = 0
    consecutive_errors: int = 0
    unschedulable_plugins: frozenset[str] = frozenset()
    pending_plugins: frozenset[str] = frozenset()
    gating_plugin: str = ""
    gating_message: str = ""
    backoff_expiration: float = 0.0
    # Sent back by the unschedulable timeout, not by an event, since its last attempt.
    flushed_from_unschedulable: bool = False


@dataclass(frozen=True, slots=True)
class PreFilterResult:
    """Nodes a PreFilter already knows are the only candidates; None means all."""

    node_names: frozenset[str] | None = None
    plugins: tuple[str, ...] = ()  # which PreFilters restricted the nodes

    def merge(self, other: PreFilterResult | None) -> PreFilterResult:
        if other is None or other.node_names is None:
            return self
        if self.node_names is None:
            return other
        return PreFilterResult(self.node_names & other.node_names, self.plugins + other.plugins)


@dataclass(frozen=True, slots=True)
class PostFilterResult:
    """Where a PostFilter (preemption) nominated the pod, and whom it evicts."""

    nominated_node: NodeName | None
    victims: tuple[PodInfo, ...] = ()
    # "Evict" goes through the Eviction API (PDBs enforced by the API server);
    # "Delete" deletes victims directly, and exists only as an explicit opt-in.
    eviction_mode: str = "Evict"


@dataclass(slots=True)
class NodeToStatus:
    """Per-node rejections, plus the status every node not listed shares."""

    statuses: dict[NodeName, Status] = field(default_factory=dict)
    absent: Status = field(default_factory=lambda: Status(Code.UNRESOLVABLE))

    def get(self, name: NodeName) -> Status:
        return self.statuses.get(name, self.absent)

    def __setitem__(self, name: NodeName, status: Status) -> None:
        self.statuses[name] = status

    def __len__(self) -> int:
        return len(self.statuses)


@dataclass(slots=True)
class Diagnosis:
    node_to_status: NodeToStatus = field(default_factory=NodeToStatus)
    unschedulable_plugins: set[str] = field(default_factory=set)
    pending_plugins: set[str] = field(default_factory=set)
    pre_filter_msg: str = ""
    post_filter_msg: str = ""


@dataclass(slots=True)
class FitError(Exception):
    """No node fits; ``str()`` is upstream's FailedScheduling message."""

    pod: PodInfo
    num_all_nodes: int
    diagnosis: Diagnosis

    def __str__(self) -> str:
        return fit_message(self.num_all_nodes, self.diagnosis)


def reason_histogram(num_all_nodes: int, node_to_status: NodeToStatus) -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in node_to_status.statuses.values():
        for reason in status.reasons:
            counts[reason] = counts.get(reason, 0) + 1
    absent = num_all_nodes - len(node_to_status.statuses)
    if absent > 0:
        for reason in node_to_status.absent.reasons:
            counts[reason] = counts.get(reason, 0) + absent
    return counts


def fit_message(num_all_nodes: int, diagnosis: Diagnosis) -> str:
    """``0/N nodes are available: <sorted reason counts>.`` then PostFilter's words."""
    if num_all_nodes == 0 and diagnosis.pre_filter_msg == NO_NODES_AVAILABLE:
        return NO_NODES_AVAILABLE
    msg = f"0/{num_all_nodes} nodes are available:"
    if diagnosis.pre_filter_msg:
        msg += f" {diagnosis.pre_filter_msg}."
    else:
        hist = reason_histogram(num_all_nodes, diagnosis.node_to_status)
        # A plain string sort, as upstream: "10 x" sorts before "2 y".
        entries = sorted(f"{count} {reason}" for reason, count in hist.items())
        if entries:
            msg += " " + ", ".join(entries) + "."
    if diagnosis.post_filter_msg:
        msg += f" {diagnosis.post_filter_msg}"
    return msg


class ActionType(enum.Flag):
    """What happened to a resource; flags combine (``ADD | UPDATE``)."""

    ADD = enum.auto()
    DELETE = enum.auto()
    UPDATE_NODE_ALLOCATABLE = enum.auto()
    UPDATE_NODE_LABEL = enum.auto()
    UPDATE_NODE_TAINT = enum.auto()
    UPDATE_NODE_CONDITION = enum.auto()
    UPDATE_NODE_ANNOTATION = enum.auto()
    UPDATE_NODE_DECLARED_FEATURE = enum.auto()
    UPDATE_POD_LABEL = enum.auto()
    UPDATE_POD_SCALE_DOWN = enum.auto()
    UPDATE_POD_TOLERATIONS = enum.auto()
    UPDATE_POD_GATES_ELIMINATED = enum.auto()
    UPDATE = enum.auto()  # any other update

    @classmethod
    def any_update(cls) -> ActionType:
        return (
            cls.UPDATE_NODE_ALLOCATABLE
            | cls.UPDATE_NODE_LABEL
            | cls.UPDATE_NODE_TAINT
            | cls.UPDATE_NODE_CONDITION
            | cls.UPDATE_NODE_ANNOTATION
            | cls.UPDATE_NODE_DECLARED_FEATURE
            | cls.UPDATE_POD_LABEL
            | cls.UPDATE_POD_SCALE_DOWN
            | cls.UPDATE_POD_TOLERATIONS
            | cls.UPDATE_POD_GATES_ELIMINATED
            | cls.UPDATE
        )

    @classmethod
    def all(cls) -> ActionType:
        return cls.ADD | cls.DELETE | cls.any_update()


class Resource(enum.Enum):
    """The kinds the scheduler itself watches (custom ones: ``CustomResource``)."""

    POD = "Pod"  # an unscheduled pod (the one being retried, or its peers)
    ASSIGNED_POD = "AssignedPod"
    NODE = "Node"
    PVC = "PersistentVolumeClaim"
    PV = "PersistentVolume"
    STORAGE_CLASS = "StorageClass"
    CSI_NODE = "CSINode"
    CSI_DRIVER = "CSIDriver"
    CSI_STORAGE_CAPACITY = "CSIStorageCapacity"
    NAMESPACE = "Namespace"
    PDB = "PodDisruptionBudget"
    RESOURCE_CLAIM = "ResourceClaim"
    RESOURCE_SLICE = "ResourceSlice"
    DEVICE_CLASS = "DeviceClass"
    WILDCARD = "*"


@dataclass(frozen=True, slots=True)
class ClusterEvent:
    """A change to one resource: a kind the scheduler knows (``Resource``) or
    one a plugin had it watch (``CustomResource``)."""

    resource: Resource | CustomResource
    action: ActionType
    label: str

    def matches(self, registered: ClusterEvent) -> bool:
        if registered.resource is Resource.WILDCARD:
            return True
        return registered.resource == self.resource and bool(registered.action & self.action)


class QueueingHint(enum.Enum):
    """A hint's answer: whether the event may make the rejected pod schedulable."""

    QUEUE = "Queue"
    SKIP = "QueueSkip"


# (rejected pod, old object, new object) -> Queue or Skip. The objects are the
# scheduler's own types (Node, PodInfo, a volume...), or a custom resource's raw
# dict; old is None for an ADD, new None for a DELETE. One that raises counts as Queue.
HintFn = Callable[[PodInfo, object | None, object | None], QueueingHint]


@dataclass(frozen=True, slots=True)
class ClusterEventWithHint:
    """An event a plugin registers, and the hint that says, per rejected pod,
    whether this occurrence may help it."""

    event: ClusterEvent
    hint: HintFn | None = None  # None: always queue


def event(resource: Resource | CustomResource, action: ActionType, label: str = "") -> ClusterEvent:
    """A ClusterEvent, labelled as upstream's (``NodeAdd``...) unless ``label`` says."""
    return ClusterEvent(resource, action, label or f"{resource.value}{action.name or ''}")


# Events the queue fires itself.
UNSCHEDULABLE_TIMEOUT: Final = ClusterEvent(
    Resource.WILDCARD, ActionType.all(), "UnschedulableTimeout"
)
FORCE_ACTIVATE: Final = ClusterEvent(Resource.WILDCARD, ActionType.all(), "ForceActivate")

NodeScores = Mapping[NodeName, int]
