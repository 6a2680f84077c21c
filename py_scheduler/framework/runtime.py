"""``Framework``: one profile's plugins, run extension point by extension point.

It is also the ``Handle`` its plugins receive. Every plugin call goes through
here, so the rules live in one place: which statuses stop a point, how
PreFilter results intersect, that a Filter stops at the first rejection, how
scores are normalised and weighted, and that a raising plugin becomes an
``Error`` status tagged with its name (bugs never look like rejections).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import structlog

from py_scheduler.cluster import Cluster, ClusterError
from py_scheduler.framework.batch import (
    BatchFilterPlugin,
    BatchScorePlugin,
    Bools,
    Int64s,
    NodeColumns,
)
from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.interface import (
    MAX_NODE_SCORE,
    MIN_NODE_SCORE,
    BackgroundWriter,
    BindPlugin,
    EnqueueExtensions,
    FilterPlugin,
    Handle,
    Nominator,
    ObjectLister,
    PermitPlugin,
    Plugin,
    PostBindPlugin,
    PostFilterPlugin,
    PreBindPlugin,
    PreEnqueuePlugin,
    PreFilterPlugin,
    PreScorePlugin,
    QueueSortPlugin,
    ReservePlugin,
    ScoreNormalizer,
    ScorePlugin,
    SharedLister,
)
from py_scheduler.framework.recorder import NO_METRICS, MetricsRecorder
from py_scheduler.framework.registry import Registry
from py_scheduler.framework.status import SUCCESS, Code, Status
from py_scheduler.framework.types import (
    ClusterEventWithHint,
    NodeToStatus,
    PostFilterResult,
    PreFilterResult,
    QueuedPodInfo,
)
from py_scheduler.model import NodeInfo, NodeName, PodInfo

log = structlog.get_logger("py_scheduler.framework")

# Extension points, in the order of the configuration API.
POINTS = (
    "preEnqueue",
    "queueSort",
    "preFilter",
    "filter",
    "postFilter",
    "preScore",
    "score",
    "reserve",
    "permit",
    "preBind",
    "bind",
    "postBind",
)
_PROTOCOLS: Mapping[str, type] = {
    "preEnqueue": PreEnqueuePlugin,
    "queueSort": QueueSortPlugin,
    "preFilter": PreFilterPlugin,
    "filter": FilterPlugin,
    "postFilter": PostFilterPlugin,
    "preScore": PreScorePlugin,
    "score": ScorePlugin,
    "reserve": ReservePlugin,
    "permit": PermitPlugin,
    "preBind": PreBindPlugin,
    "bind": BindPlugin,
    "postBind": PostBindPlugin,
}


class FrameworkError(ValueError):
    """A profile that cannot be built (unknown plugin, wrong extension point)."""


@dataclass(frozen=True, slots=True)
class PluginRef:
    name: str
    weight: int = 0


@dataclass(frozen=True, slots=True)
class PluginSet:
    enabled: tuple[PluginRef, ...] = ()
    disabled: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ProfileSpec:
    """A profile after merging with the defaults, args decoded.

    ``multi_point`` is kept apart from the per-point sets: which extension
    points a multiPoint plugin serves is known only once the plugin exists.
    """

    scheduler_name: str
    multi_point: tuple[PluginRef, ...] = ()
    points: Mapping[str, PluginSet] = field(default_factory=dict)
    args: Mapping[str, object] = field(default_factory=dict)
    percentage_of_nodes_to_score: int | None = None

    def plugin_names(self) -> list[str]:
        names = [ref.name for ref in self.multi_point]
        for plugin_set in self.points.values():
            names.extend(ref.name for ref in plugin_set.enabled)
        return list(dict.fromkeys(names))


@dataclass(frozen=True, slots=True)
class FilterBatch:
    """Batch filters' verdicts over a cycle's candidate nodes.

    ``passes[i]`` is True when every batch filter accepts ``nodes[i]``; such a
    node still goes through ``rest``, the other filters that run this cycle. A node
    with False goes through all filters, so its status is exactly the one
    per-node evaluation reports. ``rows`` locate the nodes in the columns.
    """

    passes: list[bool]
    rest: tuple[FilterPlugin, ...]
    rows: Int64s


def _invalid_score(plugin: str, score: int) -> Status:
    return Status.error(
        f"plugin {plugin!r} returns an invalid score {score}, it should "
        f"in the range of [{MIN_NODE_SCORE}, {MAX_NODE_SCORE}] after normalizing"
    ).with_plugin(plugin)


class Framework(Handle):
    def __init__(
        self,
        spec: ProfileSpec,
        registry: Registry,
        *,
        snapshot: SharedLister,
        objects: ObjectLister,
        cluster: Cluster,
        nominator: Nominator,
        recorder: MetricsRecorder = NO_METRICS,
    ) -> None:
        self.spec = spec
        self._snapshot = snapshot
        self._objects = objects
        self._cluster = cluster
        self._nominator = nominator
        self._recorder = recorder
        self.plugins: dict[str, Plugin] = {}
        for name in spec.plugin_names():
            plugin_spec = registry.get(name)
            if plugin_spec is None:
                raise FrameworkError(f"profile {spec.scheduler_name!r}: unknown plugin {name!r}")
            args = spec.args.get(name)
            if args is None:
                args = plugin_spec.args(None)
            self.plugins[name] = plugin_spec.build(args, self)
        self.refs = {point: self._resolve(point) for point in POINTS}

        def at(point: str) -> list[Plugin]:
            return [self.plugins[ref.name] for ref in self.refs[point]]

        self.pre_enqueue: list[PreEnqueuePlugin] = at("preEnqueue")  # type: ignore[assignment]
        sorts: list[QueueSortPlugin] = at("queueSort")  # type: ignore[assignment]
        if len(sorts) != 1:
            raise FrameworkError(
                f"profile {spec.scheduler_name!r}: exactly one queueSort plugin is required, "
                f"got {len(sorts)}"
            )
        self.queue_sort = sorts[0]
        self.pre_filter: list[PreFilterPlugin] = at("preFilter")  # type: ignore[assignment]
        self.filter: list[FilterPlugin] = at("filter")  # type: ignore[assignment]
        self.post_filter: list[PostFilterPlugin] = at("postFilter")  # type: ignore[assignment]
        self.pre_score: list[PreScorePlugin] = at("preScore")  # type: ignore[assignment]
        self.score: list[ScorePlugin] = at("score")  # type: ignore[assignment]
        # A score plugin with no (or zero) weight counts once, as upstream.
        self.weights = {ref.name: ref.weight or 1 for ref in self.refs["score"]}
        self.reserve: list[ReservePlugin] = at("reserve")  # type: ignore[assignment]
        self.permit: list[PermitPlugin] = at("permit")  # type: ignore[assignment]
        self.pre_bind: list[PreBindPlugin] = at("preBind")  # type: ignore[assignment]
        self.bind: list[BindPlugin] = at("bind")  # type: ignore[assignment]
        self.post_bind: list[PostBindPlugin] = at("postBind")  # type: ignore[assignment]
        self._columns = NodeColumns()
        self._batch_filters = [p for p in self.filter if isinstance(p, BatchFilterPlugin)]
        # A normalised score needs every node's raw score first: per node only,
        # unless the plugin's batch form returns normalised scores itself.
        # A Protocol isinstance check walks the class: once here, not per cycle.
        self._normalizers: dict[str, ScoreNormalizer] = {
            p.name: p for p in self.score if isinstance(p, ScoreNormalizer)
        }
        self._batch_scores = {
            p.name: p
            for p in self.score
            if isinstance(p, BatchScorePlugin)
            and (p.batch_normalizes or p.name not in self._normalizers)
        }

    def _resolve(self, point: str) -> list[PluginRef]:
        """Upstream's order: plugins named both in multiPoint and at this point
        (in this point's order), then multiPoint-only ones, then the rest."""
        own = self.spec.points.get(point, PluginSet())
        protocol = _PROTOCOLS[point]
        for ref in own.enabled:
            if not isinstance(self.plugins[ref.name], protocol):
                raise FrameworkError(
                    f"profile {self.spec.scheduler_name!r}: plugin {ref.name!r} "
                    f"does not extend {point}"
                )
        multi: list[PluginRef] = []
        if "*" not in own.disabled:
            multi = [
                ref
                for ref in self.spec.multi_point
                if isinstance(self.plugins[ref.name], protocol) and ref.name not in own.disabled
            ]
        in_multi = {ref.name for ref in multi}
        explicit = {ref.name for ref in own.enabled}
        overrides = [ref for ref in own.enabled if ref.name in in_multi]
        multi_only = [ref for ref in multi if ref.name not in explicit]
        rest = [ref for ref in own.enabled if ref.name not in in_multi]
        return overrides + multi_only + rest

    # -- Handle ------------------------------------------------------------------

    @property
    def profile_name(self) -> str:
        return self.spec.scheduler_name

    @property
    def snapshot(self) -> SharedLister:
        return self._snapshot

    @property
    def objects(self) -> ObjectLister:
        return self._objects

    @property
    def cluster(self) -> Cluster:
        return self._cluster

    @property
    def nominator(self) -> Nominator:
        return self._nominator

    async def drain(self) -> None:
        """Wait for the API writes plugins run from tasks of their own."""
        for plugin in self.plugins.values():
            if isinstance(plugin, BackgroundWriter):
                await plugin.drain()

    def events_to_register(self) -> dict[str, Sequence[ClusterEventWithHint] | None]:
        """Per plugin, the events that may help a pod it rejected; None: any event."""
        out: dict[str, Sequence[ClusterEventWithHint] | None] = {}
        for name, plugin in self.plugins.items():
            out[name] = (
                plugin.events_to_register() if isinstance(plugin, EnqueueExtensions) else None
            )
        return out

    # -- queue -------------------------------------------------------------------

    def run_pre_enqueue(self, pod: PodInfo) -> Status:
        for plugin in self.pre_enqueue:
            status = self._call(plugin.name, "PreEnqueue", plugin.pre_enqueue, pod)
            if not status.is_success:
                return status
        return SUCCESS

    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        return self.queue_sort.less(a, b)

    # -- scheduling cycle ----------------------------------------------------------

    def run_pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status, set[str]]:
        """Returns the merged node restriction, the status and the rejecting plugins."""
        result: PreFilterResult | None = None
        outcome = SUCCESS
        rejectors: set[str] = set()
        with_nodes: list[str] = []
        skipped: set[str] = set()
        for plugin in self.pre_filter:
            start = time.perf_counter()
            try:
                got, status = plugin.pre_filter(state, pod, nodes)
            except Exception as exc:
                got, status = None, self._crashed(plugin.name, "PreFilter", exc)
            self._observe(state, "PreFilter", plugin.name, status, start)
            if status.is_skip:
                skipped.add(plugin.name)
                continue
            if not status.is_success:
                status = status.with_plugin(plugin.name)
                if status.code is Code.UNRESOLVABLE:
                    return None, status, {plugin.name}
                if status.code is Code.UNSCHEDULABLE:
                    # Later PreFilters may reject too, and preemption may still help.
                    outcome = status
                    rejectors.add(plugin.name)
                    continue
                return (
                    None,
                    Status.error(
                        f"running PreFilter plugin {plugin.name!r}: {status.message}"
                    ).with_plugin(plugin.name),
                    set(),
                )
            if got is not None and got.node_names is not None:
                with_nodes.append(plugin.name)
                got = PreFilterResult(got.node_names, (plugin.name,))
                result = got if result is None else result.merge(got)
                if result.node_names is not None and not result.node_names:
                    if len(with_nodes) == 1:
                        msg = f"node(s) didn't satisfy plugin {with_nodes[0]}"
                    else:
                        names = " ".join(sorted(with_nodes))
                        msg = f"node(s) didn't satisfy plugin(s) [{names}] simultaneously"
                    return result, Status.unresolvable(msg), rejectors | set(with_nodes)
        state.skip_filter = frozenset(skipped)
        # A plugin that narrowed the candidates decides, with its events, when
        # a pod that fits none of them is worth retrying.
        return result, outcome, rejectors | set(with_nodes)

    def run_filters(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        """Filter plugins in order; the first rejection decides the node."""
        skip = state.skip_filter
        for plugin in self.filter:
            if plugin.name in skip:
                continue
            try:
                status = plugin.filter(state, pod, node)
            except Exception as exc:
                return self._crashed(plugin.name, "Filter", exc)
            if status.code is not Code.SUCCESS:
                return self._rejected(plugin.name, status)
        return SUCCESS

    def filter_node(
        self,
        state: CycleState,
        pod: PodInfo,
        node: NodeInfo,
        plugins: Sequence[FilterPlugin] | None = None,
    ) -> Status:
        """The Filter verdict on one candidate node: the loop body of every evaluator.

        ``plugins`` narrows the filters to those still undecided for this node
        (batch filters already accepted it); None runs them all. Pods nominated
        to the node make every filter run, twice (``run_filters_with_nominated``),
        since the batch verdicts did not count them.
        """
        if len(self._nominator) and self.nominated_for(pod, node):
            return self.run_filters_with_nominated(state, pod, node)
        if plugins is None:
            return self.run_filters(state, pod, node)
        for plugin in plugins:
            try:
                status = plugin.filter(state, pod, node)
            except Exception as exc:
                return self._crashed(plugin.name, "Filter", exc)
            if status.code is not Code.SUCCESS:
                return self._rejected(plugin.name, status)
        return SUCCESS

    @staticmethod
    def _rejected(plugin: str, status: Status) -> Status:
        if not status.is_rejected:
            return Status.error(f"running {plugin!r} filter plugin: {status.message}").with_plugin(
                plugin
            )
        return status.with_plugin(plugin)

    def filter_batch(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo], snapshot: SharedLister
    ) -> FilterBatch | None:
        """The batch filters' verdicts on ``nodes`` (candidates drawn from
        ``snapshot``); None when no batch filter runs for this pod."""
        active = [p for p in self._batch_filters if p.name not in state.skip_filter]
        if not active:
            return None
        rows = self.batch_rows(nodes, snapshot)
        if rows is None:
            return None
        passes, covered = self.batch_verdicts(state, pod, active, rows)
        if passes is None:
            return None
        skip = state.skip_filter
        rest = tuple(p for p in self.filter if p.name not in covered and p.name not in skip)
        return FilterBatch(passes.tolist(), rest, rows)

    @property
    def batch_filters(self) -> Sequence[BatchFilterPlugin]:
        """The Filter plugins with a batch form, in Filter order."""
        return self._batch_filters

    def batch_verdicts(
        self,
        state: CycleState,
        pod: PodInfo,
        plugins: Sequence[BatchFilterPlugin],
        rows: Int64s,
    ) -> tuple[Bools | None, frozenset[str]]:
        """Where every one of ``plugins`` that could judge accepts the node at
        that row (columns brought up to date by ``batch_rows``), and which
        plugins judged; (None, {}) when none could."""
        passes: Bools | None = None
        covered: set[str] = set()
        for plugin in plugins:
            try:
                got = plugin.filter_batch(state, pod, self._columns, rows)
            except Exception as exc:
                # The per-node form judges instead, and reports its own failure as upstream.
                log.error("batch filter raised", plugin=plugin.name, pod=pod.key, exc_info=exc)
                got = None
            if got is None:
                continue
            passes = got if passes is None else passes & got
            covered.add(plugin.name)
        return passes, frozenset(covered)

    def batch_rows(self, nodes: Sequence[NodeInfo], snapshot: SharedLister) -> Int64s | None:
        """Where ``nodes`` sit in the columns, brought up to date with
        ``snapshot``; None unless every one is a NodeInfo it lists."""
        self._columns.sync(snapshot.node_infos(), snapshot)
        return self._columns.rows_of(nodes)

    @property
    def has_batch_scores(self) -> bool:
        return bool(self._batch_scores)

    def nominated_for(self, pod: PodInfo, node: NodeInfo) -> list[PodInfo]:
        """Pods nominated to ``node`` that the pod must make room for."""
        return [
            p
            for p in self._nominator.nominated_pods_for(node.name)
            if p.priority >= pod.priority and p.uid != pod.uid
        ]

    def run_filters_with_nominated(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        """Filters with pods nominated to the node, then without them.

        Pods nominated here with priority >= the pod's are added first: they
        make resources and anti-affinity stricter. If that passes, the
        filters run again without them, because affinity to them is not yet
        real. The node fits only if both passes do.
        """
        nominated = self.nominated_for(pod, node)
        if not nominated:
            return self.run_filters(state, pod, node)
        node_with = node.clone()
        state_with = state.clone()
        for other in nominated:
            node_with.add_pod(other)
            status = self.run_pre_filter_add_pod(state_with, pod, other, node_with)
            if not status.is_success:
                return status
        status = self.run_filters(state_with, pod, node_with)
        if not status.is_success:
            return status
        return self.run_filters(state, pod, node)

    def run_pre_filter_add_pod(
        self, state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo
    ) -> Status:
        return self._run_extension("AddPod", state, pod, added, node)

    def run_pre_filter_remove_pod(
        self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo
    ) -> Status:
        return self._run_extension("RemovePod", state, pod, removed, node)

    def _run_extension(
        self, which: str, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo
    ) -> Status:
        """PreFilterExtensions.AddPod/RemovePod of every PreFilter that ran."""
        for plugin in self.pre_filter:
            if plugin.name in state.skip_filter:
                continue
            ext = plugin.pre_filter_extensions()
            if ext is None:
                continue
            call = ext.add_pod if which == "AddPod" else ext.remove_pod
            try:
                status = call(state, pod, other, node)
            except Exception as exc:
                return self._crashed(plugin.name, f"PreFilterExtension{which}", exc)
            if not status.is_success:
                return Status.error(
                    f"running {which} on PreFilter plugin {plugin.name!r}: {status.message}"
                ).with_plugin(plugin.name)
        return SUCCESS

    def run_post_filter(
        self, state: CycleState, pod: PodInfo, statuses: NodeToStatus
    ) -> tuple[PostFilterResult | None, Status]:
        result: PostFilterResult | None = None
        reasons: list[str] = []
        rejector = ""
        for plugin in self.post_filter:
            start = time.perf_counter()
            try:
                got, status = plugin.post_filter(state, pod, statuses)
            except Exception as exc:
                got, status = None, self._crashed(plugin.name, "PostFilter", exc)
            self._observe(state, "PostFilter", plugin.name, status, start)
            if status.is_success or status.code is Code.UNRESOLVABLE:
                return got, status.with_plugin(plugin.name)
            if not status.is_rejected:
                return None, Status.error(status.message).with_plugin(plugin.name)
            if got is not None and got.nominated_node is not None:
                result = got
            reasons.extend(status.reasons)
            rejector = rejector or plugin.name
        return result, Status(Code.UNSCHEDULABLE, tuple(reasons), rejector)

    def run_pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        skipped: set[str] = set()
        for plugin in self.pre_score:
            start = time.perf_counter()
            try:
                status = plugin.pre_score(state, pod, nodes)
            except Exception as exc:
                status = self._crashed(plugin.name, "PreScore", exc)
            self._observe(state, "PreScore", plugin.name, status, start)
            if status.is_skip:
                skipped.add(plugin.name)
            elif not status.is_success:
                return Status.error(
                    f"running PreScore plugin {plugin.name!r}: {status.message}"
                ).with_plugin(plugin.name)
        state.skip_score = frozenset(skipped)
        return SUCCESS

    def run_score(
        self,
        state: CycleState,
        pod: PodInfo,
        nodes: Sequence[NodeInfo],
        rows: Int64s | None = None,
        *,
        each: Callable[[Callable[[NodeInfo], int]], list[int]] | None = None,
        kept: Callable[[ScorePlugin], Int64s | None] | None = None,
    ) -> tuple[list[int], Status]:
        """Weighted total per node (same order as ``nodes``). Given ``rows``
        (``batch_rows``), plugins with a batch form score all nodes at once;
        ``each`` maps a per-node score over ``nodes`` (a parallel map, say);
        ``kept`` gives a plugin's raw scores on ``nodes`` when they are
        already known (None: score them here), before normalisation."""
        totals = np.zeros(len(nodes), dtype=np.int64)
        for plugin in self.score:
            if plugin.name in state.skip_score:
                continue
            start = time.perf_counter()
            normalizer = self._normalizers.get(plugin.name)
            scores: list[int] | None = None
            batch: Int64s | None = None
            try:
                raw = kept(plugin) if kept is not None else None
                if raw is not None:
                    if normalizer is None:
                        batch = raw
                    else:
                        scores = raw.tolist()
                        normalizer.normalize_scores(state, pod, scores)
                else:
                    batch_plugin = self._batch_scores.get(plugin.name)
                    if batch_plugin is not None and rows is not None:
                        batch = self._score_batch(batch_plugin, state, pod, rows)
                    if batch is None:
                        if each is None:
                            scores = [plugin.score(state, pod, node) for node in nodes]
                        else:
                            scores = each(functools.partial(plugin.score, state, pod))
                        if normalizer is not None:
                            normalizer.normalize_scores(state, pod, scores)
            except Exception as exc:
                return totals.tolist(), self._crashed(plugin.name, "Score", exc)
            if batch is None:  # per-node scores, or normalised kept ones
                scores = scores or []
                for score in scores:
                    if not MIN_NODE_SCORE <= score <= MAX_NODE_SCORE:
                        return totals.tolist(), _invalid_score(plugin.name, score)
                batch = np.array(scores, dtype=np.int64)
            elif len(batch) and not MIN_NODE_SCORE <= batch.min() <= batch.max() <= MAX_NODE_SCORE:
                bad = (batch < MIN_NODE_SCORE) | (batch > MAX_NODE_SCORE)
                return totals.tolist(), _invalid_score(plugin.name, int(batch[bad.argmax()]))
            self._observe(state, "Score", plugin.name, SUCCESS, start)
            totals += batch * self.weights[plugin.name]
        return totals.tolist(), SUCCESS

    def raw_batch_scores(
        self, state: CycleState, pod: PodInfo, plugin: ScorePlugin, rows: Int64s
    ) -> Int64s | None:
        """The plugin's scores before normalisation on ``rows`` of the columns,
        from its batch form; None when it has none that gives them."""
        batch = self._batch_scores.get(plugin.name)
        if batch is None or batch.batch_normalizes:
            return None
        return self._score_batch(batch, state, pod, rows)

    def _score_batch(
        self, plugin: BatchScorePlugin, state: CycleState, pod: PodInfo, rows: Int64s
    ) -> Int64s | None:
        try:
            return plugin.score_batch(state, pod, self._columns, rows)
        except Exception as exc:
            # Scored per node instead, which reports its own failure as upstream.
            log.error("batch score raised", plugin=plugin.name, pod=pod.key, exc_info=exc)
            return None

    def run_reserve(self, state: CycleState, pod: PodInfo, node: NodeName) -> Status:
        for plugin in self.reserve:
            status = self._call(plugin.name, "Reserve", plugin.reserve, state, pod, node)
            if not status.is_success:
                if status.is_rejected:
                    return status
                return Status.error(
                    f"running Reserve plugin {plugin.name!r}: {status.message}"
                ).with_plugin(plugin.name)
        return SUCCESS

    def run_unreserve(self, state: CycleState, pod: PodInfo, node: NodeName) -> None:
        """Every Reserve plugin, in reverse order, whether or not it reserved."""
        for plugin in reversed(self.reserve):
            try:
                plugin.unreserve(state, pod, node)
            except Exception:
                log.exception("unreserve failed", plugin=plugin.name, pod=pod.key)

    def run_permit(self, state: CycleState, pod: PodInfo, node: NodeName) -> tuple[Status, float]:
        """Returns Success, a rejection, an Error, or Wait with the longest timeout."""
        wait = 0.0
        for plugin in self.permit:
            try:
                status, timeout = plugin.permit(state, pod, node)
            except Exception as exc:
                return self._crashed(plugin.name, "Permit", exc), 0.0
            if status.code is Code.WAIT:
                wait = max(wait, min(timeout, 15 * 60.0))
            elif not status.is_success:
                if status.is_rejected:
                    return status.with_plugin(plugin.name), 0.0
                return (
                    Status.error(
                        f"running Permit plugin {plugin.name!r}: {status.message}"
                    ).with_plugin(plugin.name),
                    0.0,
                )
        return (Status.wait(), wait) if wait else (SUCCESS, 0.0)

    # -- binding cycle -------------------------------------------------------------

    async def run_pre_bind(self, state: CycleState, pod: PodInfo, node: NodeName) -> Status:
        for plugin in self.pre_bind:
            try:
                status = await plugin.pre_bind(state, pod, node)
            except ClusterError:
                raise  # an API outcome: the binding cycle decides (drop, retry)
            except Exception as exc:
                return self._crashed(plugin.name, "PreBind", exc)
            if status.is_skip:
                continue
            if not status.is_success:
                if status.is_rejected:
                    return status.with_plugin(plugin.name)
                return Status.error(
                    f"running PreBind plugin {plugin.name!r}: {status.message}"
                ).with_plugin(plugin.name)
        return SUCCESS

    async def run_bind(self, state: CycleState, pod: PodInfo, node: NodeName) -> Status:
        for plugin in self.bind:
            try:
                status = await plugin.bind(state, pod, node)
            except ClusterError:
                raise  # an API outcome: the binding cycle decides (drop, retry)
            except Exception as exc:
                return self._crashed(plugin.name, "Bind", exc)
            if status.is_skip:
                continue
            return status.with_plugin(plugin.name)
        return Status.skip()

    def run_post_bind(self, state: CycleState, pod: PodInfo, node: NodeName) -> None:
        for plugin in self.post_bind:
            try:
                plugin.post_bind(state, pod, node)
            except Exception:
                log.exception("post-bind failed", plugin=plugin.name, pod=pod.key)

    # -- helpers -----------------------------------------------------------------

    def _call(self, plugin: str, point: str, fn: Callable[..., Status], *args: object) -> Status:
        try:
            return fn(*args).with_plugin(plugin)
        except Exception as exc:
            return self._crashed(plugin, point, exc)

    def _crashed(self, plugin: str, point: str, exc: Exception) -> Status:
        log.error("plugin raised", plugin=plugin, extension_point=point, exc_info=exc)
        return Status.error(f"{point} plugin {plugin!r} raised {exc!r}").with_plugin(plugin)

    def _observe(
        self, state: CycleState, point: str, plugin: str, status: Status, start: float
    ) -> None:
        if state.record_plugin_metrics:
            self._recorder.plugin_execution(
                plugin, point, status.code.value, time.perf_counter() - start
            )
