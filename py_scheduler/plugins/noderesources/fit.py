"""NodeResourcesFit: does the node have room for the pod, and how full would
it be (upstream ``noderesources/fit.go``).

Filter compares the pod's effective requests with the node's allocatable
minus what its pods already request, and lists every resource that does not
fit. A request larger than the whole allocatable makes the status
UnschedulableAndUnresolvable: evicting pods cannot help there.

Score rates the node over the configured resources with one strategy, each in
its own module: LeastAllocated spreads, MostAllocated packs,
RequestedToCapacityRatio follows a user-given shape. cpu and memory are scored
with the non-zero requests (a container without a request counts as 100m /
200Mi), so best-effort pods still spread.

Filter and Score also come in batch form (``filter_batch``, ``score_batch``)
over node columns, next to their per-node forms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar, Final

from py_scheduler.framework.batch import (
    ALLOWED_PODS,
    EXACT_LIMIT,
    POD_COUNT,
    Bools,
    Int64s,
    NodeColumns,
)
from py_scheduler.framework.cycle_state import CycleState, StateKey
from py_scheduler.framework.interface import Handle, PreFilterExtensions
from py_scheduler.framework.registry import ArgsError, PluginSpec
from py_scheduler.framework.status import SUCCESS, Status
from py_scheduler.framework.types import (
    ActionType,
    ClusterEventWithHint,
    PreFilterResult,
    QueueingHint,
    Resource,
    event,
)
from py_scheduler.model import Node, NodeInfo, PodInfo, Resources, names
from py_scheduler.model.raw import Fields
from py_scheduler.model.resources import CPU, EPHEMERAL_STORAGE, MEMORY, PODS
from py_scheduler.plugins.noderesources import (
    least_allocated,
    most_allocated,
    requested_to_capacity_ratio,
)
from py_scheduler.plugins.noderesources.requested_to_capacity_ratio import (
    MAX_CUSTOM_PRIORITY_SCORE,
    MAX_UTILIZATION,
    UtilizationShapePoint,
)
from py_scheduler.plugins.noderesources.resource_allocation import (
    DEFAULT_RESOURCES,
    BatchScorer,
    ResourceSpec,
    Scorer,
    column_plan,
    decode_resources,
    pod_request_list,
    resource_arrays,
    resource_vectors,
    scalar_or_fixed_pair,
)

NAME: Final = "NodeResourcesFit"

REASON_TOO_MANY_PODS: Final = "Too many pods"
REASON_INSUFFICIENT_CPU: Final = "Insufficient cpu"
REASON_INSUFFICIENT_MEMORY: Final = "Insufficient memory"
REASON_INSUFFICIENT_EPHEMERAL_STORAGE: Final = "Insufficient ephemeral-storage"

LEAST_ALLOCATED: Final = "LeastAllocated"
MOST_ALLOCATED: Final = "MostAllocated"
REQUESTED_TO_CAPACITY_RATIO: Final = "RequestedToCapacityRatio"
STRATEGIES: Final = (LEAST_ALLOCATED, MOST_ALLOCATED, REQUESTED_TO_CAPACITY_RATIO)

MAX_RESOURCE_WEIGHT: Final = 100

_PRE_FILTER_KEY: Final[StateKey[Resources]] = StateKey("PreFilterNodeResourcesFit")
_PRE_SCORE_KEY: Final[StateKey[tuple[int, ...]]] = StateKey("PreScoreNodeResourcesFit")


@lru_cache(maxsize=1024)
def insufficient_reason(resource: str) -> str:
    """``Insufficient <resource>``, built once per resource name."""
    return f"Insufficient {resource}"


# -- arguments -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScoringStrategy:
    type: str = LEAST_ALLOCATED
    resources: tuple[ResourceSpec, ...] = DEFAULT_RESOURCES
    # requestedToCapacityRatio.shape: required for RequestedToCapacityRatio, refused otherwise.
    shape: tuple[UtilizationShapePoint, ...] | None = None

    def __post_init__(self) -> None:
        path = "args.scoringStrategy"
        if self.type not in STRATEGIES:
            raise ArgsError(
                f"{path}.type: unsupported value {self.type!r}, "
                f"must be one of {', '.join(STRATEGIES)}"
            )
        if not self.resources:
            raise ArgsError(f"{path}.resources: must not be empty")
        for i, res in enumerate(self.resources):
            if not 0 < res.weight <= MAX_RESOURCE_WEIGHT:
                raise ArgsError(
                    f"{path}.resources[{i}].weight: resource weight of {res.name} not in valid "
                    f"range (0, {MAX_RESOURCE_WEIGHT}], got {res.weight}"
                )
        if self.type != REQUESTED_TO_CAPACITY_RATIO:
            if self.shape is not None:
                # Refused rather than ignored (as kube-scheduler since 1.36): a shape that
                # would never be used is a configuration mistake.
                raise ArgsError(
                    f"{path}.requestedToCapacityRatio: Forbidden: must be nil when type is "
                    f"not {REQUESTED_TO_CAPACITY_RATIO}"
                )
        elif self.shape is None:
            raise ArgsError(
                f"{path}.requestedToCapacityRatio: required when type is "
                f"{REQUESTED_TO_CAPACITY_RATIO}"
            )
        else:
            _validate_shape(self.shape, f"{path}.requestedToCapacityRatio.shape")


def _validate_shape(shape: Sequence[UtilizationShapePoint], path: str) -> None:
    if not shape:
        raise ArgsError(f"{path}: at least one point must be specified")
    for i in range(1, len(shape)):
        if shape[i - 1].utilization >= shape[i].utilization:
            raise ArgsError(
                f"{path}[{i}].utilization: values must be sorted in increasing order, "
                f"got {shape[i].utilization} after {shape[i - 1].utilization}"
            )
    for i, point in enumerate(shape):
        if not 0 <= point.utilization <= MAX_UTILIZATION:
            raise ArgsError(
                f"{path}[{i}].utilization: not in valid range [0, {MAX_UTILIZATION}], "
                f"got {point.utilization}"
            )
        if not 0 <= point.score <= MAX_CUSTOM_PRIORITY_SCORE:
            raise ArgsError(
                f"{path}[{i}].score: not in valid range [0, {MAX_CUSTOM_PRIORITY_SCORE}], "
                f"got {point.score}"
            )


@dataclass(frozen=True, slots=True)
class NodeResourcesFitArgs:
    ignored_resources: tuple[str, ...] = ()
    ignored_resource_groups: tuple[str, ...] = ()
    scoring_strategy: ScoringStrategy = ScoringStrategy()

    def __post_init__(self) -> None:
        for i, res in enumerate(self.ignored_resources):
            if problem := names.qualified_name_problem(res):
                raise ArgsError(f"args.ignoredResources[{i}]: {res!r}: {problem}")
        for i, group in enumerate(self.ignored_resource_groups):
            if "/" in group:
                raise ArgsError(
                    f"args.ignoredResourceGroups[{i}]: {group!r}: "
                    "resource group name can't contain '/'"
                )
            if problem := names.qualified_name_problem(group):
                raise ArgsError(f"args.ignoredResourceGroups[{i}]: {group!r}: {problem}")


def decode_args(fields: Fields) -> NodeResourcesFitArgs:
    fields.only("ignoredResources", "ignoredResourceGroups", "scoringStrategy")
    strategy = ScoringStrategy()
    if fields.raw.get("scoringStrategy") is not None:
        raw_strategy = fields.obj("scoringStrategy")
        raw_strategy.only("type", "resources", "requestedToCapacityRatio")
        shape = None
        if raw_strategy.raw.get("requestedToCapacityRatio") is not None:
            ratio = raw_strategy.obj("requestedToCapacityRatio")
            ratio.only("shape")
            points = list(ratio.objects("shape"))
            for point in points:
                point.only("utilization", "score")
            shape = tuple(
                UtilizationShapePoint(p.int32("utilization"), p.int32("score")) for p in points
            )
        strategy = ScoringStrategy(
            type=raw_strategy.string("type"),
            resources=decode_resources(raw_strategy, "resources") or DEFAULT_RESOURCES,
            shape=shape,
        )
    return NodeResourcesFitArgs(
        ignored_resources=fields.strings("ignoredResources"),
        ignored_resource_groups=fields.strings("ignoredResourceGroups"),
        scoring_strategy=strategy,
    )


# -- filter ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InsufficientResource:
    """One resource that does not fit, with the numbers behind the verdict."""

    resource: str
    reason: str
    requested: int
    used: int
    capacity: int
    # Even an empty node would not fit it, so preemption cannot help.
    unresolvable: bool = False


def fits_request(
    request: Resources,
    node: NodeInfo,
    ignored: frozenset[str] = frozenset(),
    ignored_groups: frozenset[str] = frozenset(),
) -> list[InsufficientResource]:
    """Every resource the node lacks for ``request``, in upstream's order:
    pods, cpu, memory, ephemeral-storage, then scalar resources."""
    out: list[InsufficientResource] = []
    allowed = node.node.allowed_pods
    if len(node.pods) + 1 > allowed:
        out.append(InsufficientResource(PODS, REASON_TOO_MANY_PODS, 1, len(node.pods), allowed))
    if request.is_zero():
        return out

    alloc = node.node.allocatable
    used = node.requested
    if request.milli_cpu > 0 and request.milli_cpu > alloc.milli_cpu - used.milli_cpu:
        out.append(
            InsufficientResource(
                CPU,
                REASON_INSUFFICIENT_CPU,
                request.milli_cpu,
                used.milli_cpu,
                alloc.milli_cpu,
                request.milli_cpu > alloc.milli_cpu,
            )
        )
    if request.memory > 0 and request.memory > alloc.memory - used.memory:
        out.append(
            InsufficientResource(
                MEMORY,
                REASON_INSUFFICIENT_MEMORY,
                request.memory,
                used.memory,
                alloc.memory,
                request.memory > alloc.memory,
            )
        )
    if (
        request.ephemeral_storage > 0
        and request.ephemeral_storage > alloc.ephemeral_storage - used.ephemeral_storage
    ):
        out.append(
            InsufficientResource(
                EPHEMERAL_STORAGE,
                REASON_INSUFFICIENT_EPHEMERAL_STORAGE,
                request.ephemeral_storage,
                used.ephemeral_storage,
                alloc.ephemeral_storage,
                request.ephemeral_storage > alloc.ephemeral_storage,
            )
        )
    for name, quantity in request.scalars.items():
        if not _checked(name, quantity, ignored, ignored_groups):
            continue
        capacity = alloc.scalars.get(name, 0)
        in_use = used.scalars.get(name, 0)
        if quantity > capacity - in_use:
            out.append(
                InsufficientResource(
                    name,
                    insufficient_reason(name),
                    quantity,
                    in_use,
                    capacity,
                    quantity > capacity,
                )
            )
    return out


def _checked(
    name: str, quantity: int, ignored: frozenset[str], ignored_groups: frozenset[str]
) -> bool:
    """Whether the filter compares this scalar request with the node at all."""
    # Upstream's resource vectors hold only scalar names; others never reach here.
    if quantity == 0 or not names.is_scalar_resource_name(name):
        return False
    return not (
        names.is_extended_resource_name(name)
        and (name in ignored or bool(ignored_groups and name.split("/", 1)[0] in ignored_groups))
    )


def request_checks(
    request: Resources, ignored: frozenset[str], ignored_groups: frozenset[str]
) -> list[tuple[str, int]]:
    """The (resource, quantity) pairs ``fits_request`` compares, pods aside."""
    checks = [
        (name, amount)
        for name, amount in (
            (CPU, request.milli_cpu),
            (MEMORY, request.memory),
            (EPHEMERAL_STORAGE, request.ephemeral_storage),
        )
        if amount > 0
    ]
    checks.extend(
        (name, quantity)
        for name, quantity in request.scalars.items()
        if _checked(name, quantity, ignored, ignored_groups)
    )
    return checks


def fits(pod: PodInfo, node: NodeInfo) -> list[InsufficientResource]:
    """What ``node`` lacks for ``pod``, ignoring no resource."""
    return fits_request(pod.requests, node)


def fits_arrays(
    columns: NodeColumns, rows: Int64s, checks: Sequence[tuple[str, int]], *, only_pods: bool
) -> Bools | None:
    """Where the node has room for one more pod and, unless ``only_pods``,
    for each (resource, quantity) of ``checks``; None when not exact."""
    if not columns.exact:
        return None
    ok: Bools = columns.column(POD_COUNT)[rows] + 1 <= columns.column(ALLOWED_PODS)[rows]
    if only_pods:
        return ok
    for name, quantity in checks:
        pair = scalar_or_fixed_pair(columns, rows, name)
        if pair is None or quantity >= EXACT_LIMIT:
            return None
        alloc, used = pair
        ok &= quantity <= alloc - used
    return ok


# -- scoring ---------------------------------------------------------------------------


def build_scorers(strategy: ScoringStrategy) -> tuple[Scorer, BatchScorer]:
    """The strategy's per-node scorer and its twin over node columns."""
    weights = [r.weight for r in strategy.resources]
    if strategy.type == MOST_ALLOCATED:
        return most_allocated.scorer(weights), most_allocated.batch_scorer(weights)
    if strategy.type == REQUESTED_TO_CAPACITY_RATIO:
        if strategy.shape is None:  # unreachable: ScoringStrategy requires it
            raise ArgsError("args.scoringStrategy.requestedToCapacityRatio: required")
        return (
            requested_to_capacity_ratio.scorer(weights, strategy.shape),
            requested_to_capacity_ratio.batch_scorer(weights, strategy.shape),
        )
    return least_allocated.scorer(weights), least_allocated.batch_scorer(weights)


# -- queueing hints --------------------------------------------------------------------

_POD_EVENTS: Final = ActionType.DELETE | ActionType.UPDATE_POD_SCALE_DOWN
ASSIGNED_POD_EVENT: Final = event(Resource.ASSIGNED_POD, _POD_EVENTS)
# Upstream registers one Pod event for all pods: a nominated pod's deletion and
# the pending pod's own scale-down arrive as unscheduled-pod events here.
UNSCHEDULED_POD_EVENT: Final = event(Resource.POD, _POD_EVENTS)
NODE_EVENT: Final = event(Resource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_ALLOCATABLE)


def _as_node(obj: object) -> Node | None:
    if isinstance(obj, NodeInfo):
        return obj.node
    return obj if isinstance(obj, Node) else None


def _scaled_down_for(target: PodInfo, original: PodInfo, modified: PodInfo) -> bool:
    if modified.uid == target.uid:
        return True
    if not modified.node_name:
        return False
    wanted = target.requests
    for name in wanted.names():
        if wanted.get(name) == 0:
            continue
        if name not in (CPU, MEMORY, EPHEMERAL_STORAGE) and not names.is_scalar_resource_name(name):
            continue
        if original.requests.get(name) > modified.requests.get(name):
            return True
    return False


def _requested_resources_increased(request: Resources, original: Node, modified: Node) -> bool:
    if modified.allowed_pods > original.allowed_pods:
        return True
    if request.is_zero():
        return False
    before, after = original.allocatable, modified.allocatable
    if (
        (request.milli_cpu > 0 and after.milli_cpu > before.milli_cpu)
        or (request.memory > 0 and after.memory > before.memory)
        or (request.ephemeral_storage > 0 and after.ephemeral_storage > before.ephemeral_storage)
    ):
        return True
    return any(
        quantity > 0 and after.scalars.get(name, 0) > before.scalars.get(name, 0)
        for name, quantity in request.scalars.items()
    )


# -- plugin ----------------------------------------------------------------------------


class NodeResourcesFit:
    name: ClassVar[str] = NAME
    batch_normalizes: ClassVar[bool] = False  # it does not normalise

    def __init__(self, args: NodeResourcesFitArgs, handle: Handle) -> None:
        del handle  # reads only the NodeInfo it is given
        self._ignored = frozenset(args.ignored_resources)
        self._ignored_groups = frozenset(args.ignored_resource_groups)
        self._resources = args.scoring_strategy.resources
        self._scorer, self._batch_scorer = build_scorers(args.scoring_strategy)

    # -- PreFilter / Filter ------------------------------------------------------------

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        # The decoder already folded containers, init containers, sidecars and
        # overhead into one vector; pin it for this cycle's filters.
        state.write(_PRE_FILTER_KEY, pod.requests)
        return None, SUCCESS

    def pre_filter_extensions(self) -> PreFilterExtensions | None:
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        request = state.get(_PRE_FILTER_KEY)
        if request is None:
            request = pod.requests
        missing = fits_request(request, node, self._ignored, self._ignored_groups)
        if not missing:
            return SUCCESS
        reasons = tuple(m.reason for m in missing)
        if any(m.unresolvable for m in missing):
            return Status.unresolvable(*reasons)
        return Status.unschedulable(*reasons)

    def filter_batch(
        self, state: CycleState, pod: PodInfo, columns: NodeColumns, rows: Int64s
    ) -> Bools | None:
        request = state.get(_PRE_FILTER_KEY)
        if request is None:
            request = pod.requests
        checks = request_checks(request, self._ignored, self._ignored_groups)
        return fits_arrays(columns, rows, checks, only_pods=request.is_zero())

    # -- PreScore / Score --------------------------------------------------------------

    def _score_requests(self, pod: PodInfo) -> tuple[int, ...]:
        # Upstream builds this scorer without pod-level resources (v1.35, v1.37),
        # unlike Filter and BalancedAllocation.
        return pod_request_list(pod, self._resources, use_requested=False, pod_level=False)

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        state.write(_PRE_SCORE_KEY, self._score_requests(pod))
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        requests = state.get(_PRE_SCORE_KEY)
        if requests is None:
            requests = self._score_requests(pod)
        allocatable, requested = resource_vectors(
            node, self._resources, requests, use_requested=False
        )
        return self._scorer(requested, allocatable)

    def score_batch(
        self, state: CycleState, pod: PodInfo, columns: NodeColumns, rows: Int64s
    ) -> Int64s | None:
        requests = state.get(_PRE_SCORE_KEY)
        if requests is None:
            requests = self._score_requests(pod)
        arrays = resource_arrays(
            columns, rows, column_plan(self._resources, requests), requests, use_requested=False
        )
        if arrays is None:
            return None
        allocatable, requested = arrays
        return self._batch_scorer(requested, allocatable)

    # -- EnqueueExtensions -------------------------------------------------------------

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(ASSIGNED_POD_EVENT, self.hint_after_pod_event),
            ClusterEventWithHint(UNSCHEDULED_POD_EVENT, self.hint_after_pod_event),
            ClusterEventWithHint(NODE_EVENT, self.hint_after_node_change),
        ]

    def hint_after_pod_event(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        """A deleted pod frees room only if it was bound or nominated; a
        scale-down helps if it shrinks something the pending pod requests."""
        if not isinstance(old, PodInfo) or (new is not None and not isinstance(new, PodInfo)):
            return QueueingHint.QUEUE
        if new is None:
            if not old.node_name and not old.nominated_node:
                return QueueingHint.SKIP
            return QueueingHint.QUEUE
        return QueueingHint.QUEUE if _scaled_down_for(pod, old, new) else QueueingHint.SKIP

    def hint_after_node_change(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        """Queue when a node that could hold the pod appears, or grows in a
        resource the pod requests."""
        modified = _as_node(new)
        original = _as_node(old)
        if modified is None or (old is not None and original is None):
            return QueueingHint.QUEUE
        empty = NodeInfo(modified)
        if fits_request(pod.requests, empty, self._ignored, self._ignored_groups):
            return QueueingHint.SKIP
        if original is None:
            return QueueingHint.QUEUE
        if not _requested_resources_increased(pod.requests, original, modified):
            return QueueingHint.SKIP
        return QueueingHint.QUEUE


SPEC: Final = PluginSpec(NAME, decode_args, NodeResourcesFit)
