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
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, cast

import numpy as np
import structlog

from py_scheduler.cluster import Cluster, ClusterError
from py_scheduler.framework.batch import (
    BatchFilterPlugin,
    BatchScorePlugin,
    Bools,
    Int64s,
    NodeColumns,
    change_log,
)
from py_scheduler.framework.custom_resources import (
    CustomObjectLister,
    CustomObjects,
    CustomResource,
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
from py_scheduler.framework.pod_groups import NO_POD_GROUPS, PodGroupLister
from py_scheduler.framework.recorder import NO_METRICS, MetricsRecorder
from py_scheduler.framework.registry import PluginSpec, Registry
from py_scheduler.framework.status import SUCCESS, Code, Status
from py_scheduler.framework.types import (
    ClusterEventWithHint,
    NodeToStatus,
    PostFilterResult,
    PreFilterResult,
    QueuedPodInfo,
)
from py_scheduler.framework.waiting_pods import (
    MAX_PERMIT_WAIT,
    REMOVED,
    PermitDone,
    WaitingPod,
    WaitingPods,
)
from py_scheduler.model import NodeInfo, NodeName, PodInfo
from py_scheduler.model.server import OFFLINE, ServerInfo

log = structlog.get_logger("py_scheduler.framework")

# A plugin call (or, in a sampled cycle, one Filter plugin's calls for one pod)
# that takes longer is logged: a synchronous plugin cannot be interrupted, and
# the loop serves no other pod meanwhile.
SLOW_PLUGIN: Final = 0.1
SLOW_LOG_EVERY: Final = 10.0  # seconds between two warnings about one plugin at one point
_UNSET: Final = object()


class PluginContractError(TypeError):
    """A plugin returned something its extension point does not allow."""


def _kind(value: object) -> str:
    return "None" if value is None else type(value).__qualname__


def _array(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of {len(value)} {value.dtype}" if value.ndim == 1 else "an array"
    return _kind(value)


def _expect_status(value: object) -> Status:
    if isinstance(value, Status):
        return value
    raise PluginContractError(f"returned {_kind(value)}, not a Status")


def _expect_pair(value: object, first: type, what: str) -> tuple[Any, Status]:
    if (
        isinstance(value, tuple)
        and len(value) == 2
        and (value[0] is None or isinstance(value[0], first))
        and isinstance(value[1], Status)
    ):
        return value[0], value[1]
    if isinstance(value, tuple):
        shown = "(" + ", ".join(_kind(v) for v in value) + ")"
    else:
        shown = _kind(value)
    raise PluginContractError(f"returned {shown}, not ({what} | None, Status)")


def _expect_scores(plugin: str, scores: object, count: int) -> Int64s | Status:
    """The scores as int64, or the Error naming the plugin (wrong type, count
    or range, with upstream's message for the range)."""
    values = np.asarray(scores)
    if values.dtype.kind not in "iu" or values.shape != (count,):
        if isinstance(scores, Sequence) and len(scores) == count:
            bad = next(
                (v for v in scores if isinstance(v, bool) or not isinstance(v, int | np.integer)),
                scores[0] if count else None,
            )
            shown = f"a score of type {_kind(bad)}"
        else:
            shown = f"{_kind(scores)} for {count} nodes"
        return Status.error(f"Score plugin {plugin!r} returned {shown}, not an int").with_plugin(
            plugin
        )
    if count and not MIN_NODE_SCORE <= values.min() <= values.max() <= MAX_NODE_SCORE:
        wrong = (values < MIN_NODE_SCORE) | (values > MAX_NODE_SCORE)
        return _invalid_score(plugin, int(values[wrong.argmax()]))
    return values.astype(np.int64, copy=False)


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


# Hears one Score plugin's results: (plugin, raw scores, normalised scores, weight),
# the score lists in the order of the nodes scored.
ScoreRecord = Callable[[str, Sequence[int], Sequence[int], int], None]


def _invalid_score(plugin: str, score: int) -> Status:
    return Status.error(
        f"plugin {plugin!r} returns an invalid score {score}, it should "
        f"in the range of [{MIN_NODE_SCORE}, {MAX_NODE_SCORE}] after normalizing"
    ).with_plugin(plugin)


# Which pods a cycle's Filters cannot tell apart: a key from the Filters that
# run and the pod, or None when one of them reads beyond the node and the pod.
FilterSigner = Callable[[Sequence[FilterPlugin], PodInfo], Hashable | None]


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
        server: ServerInfo = OFFLINE,
        waiting_pods: WaitingPods | None = None,
        custom_objects: CustomObjects | None = None,
        pod_groups: PodGroupLister = NO_POD_GROUPS,
        filter_signer: FilterSigner | None = None,
    ) -> None:
        self.spec = spec
        self._filter_signer = filter_signer
        self._server = server
        self._pod_groups = pod_groups
        self._snapshot = snapshot
        self._objects = objects
        self._cluster = cluster
        self._nominator = nominator
        self._recorder = recorder
        # Shared by every profile, as upstream's: a plugin sees all held pods.
        self._waiting = waiting_pods if waiting_pods is not None else WaitingPods()
        self._activate: Callable[[Iterable[PodInfo]], None] = lambda pods: None
        self._warned: dict[tuple[str, str, bool], tuple[float, int]] = {}
        # Shared too: each watched kind is watched once, whoever asked for it.
        self._custom = custom_objects if custom_objects is not None else CustomObjects()
        self.plugins: dict[str, Plugin] = {}
        for name in spec.plugin_names():
            plugin_spec = registry.get(name)
            if plugin_spec is None:
                raise FrameworkError(f"profile {spec.scheduler_name!r}: unknown plugin {name!r}")
            args = spec.args.get(name)
            if args is None:
                args = plugin_spec.args(None)
            self.plugins[name] = self._build(plugin_spec, args)
        self.refs = {point: self._resolve(point) for point in POINTS}
        self._events = self._registered_events()
        # upstream builds a dynamic informer for every custom resource an event names.
        for events in self._events.values():
            for registered in events or ():
                if isinstance(registered.event.resource, CustomResource):
                    self._custom.register(registered.event.resource)

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
        self._filter_index = {p.name: i for i, p in enumerate(self.filter)}
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

    def _build(self, plugin_spec: PluginSpec[Any], args: object) -> Plugin:
        name = plugin_spec.name
        where = f"profile {self.spec.scheduler_name!r}: plugin {name!r}"
        try:
            plugin = plugin_spec.build(args, self)
        except Exception as exc:
            raise FrameworkError(f"{where} failed to build: {type(exc).__name__}: {exc}") from exc
        got = getattr(plugin, "name", None)
        if got != name:
            raise FrameworkError(
                f"{where}: its factory returned {type(plugin).__qualname__} named {got!r}"
            )
        return plugin

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

    @property
    def server(self) -> ServerInfo:
        return self._server

    @property
    def pod_groups(self) -> PodGroupLister:
        return self._pod_groups

    def waiting_pods(self) -> Sequence[WaitingPod]:
        return list(self._waiting)

    def get_waiting_pod(self, uid: str) -> WaitingPod | None:
        return self._waiting.get(uid)

    def reject_waiting_pod(self, uid: str) -> bool:
        waiting = self._waiting.get(uid)
        return waiting is not None and waiting.reject("", REMOVED)

    def activate(self, pods: Iterable[PodInfo]) -> None:
        self._activate(pods)

    def custom_objects(
        self, resource: CustomResource, decode: Callable[[Mapping[str, Any]], Any] | None = None
    ) -> CustomObjectLister[Any]:
        return self._custom.lister(resource, decode) if decode else self._custom.lister(resource)

    @property
    def custom(self) -> CustomObjects:
        """The store of every watched kind (for the watches and the simulator)."""
        return self._custom

    def set_activator(self, activate: Callable[[Iterable[PodInfo]], None]) -> None:
        """What ``activate`` calls: the scheduling queue, once it exists."""
        self._activate = activate

    async def drain(self) -> None:
        """Wait for the API writes plugins run from tasks of their own."""
        for plugin in self.plugins.values():
            if isinstance(plugin, BackgroundWriter):
                await plugin.drain()

    def events_to_register(self) -> dict[str, Sequence[ClusterEventWithHint] | None]:
        """Per plugin, the events that may help a pod it rejected; None: any event."""
        return dict(self._events)

    def _registered_events(self) -> dict[str, Sequence[ClusterEventWithHint] | None]:
        out: dict[str, Sequence[ClusterEventWithHint] | None] = {}
        for name, plugin in self.plugins.items():
            if not isinstance(plugin, EnqueueExtensions):
                out[name] = None
                continue
            where = f"profile {self.spec.scheduler_name!r}: plugin {name!r}: events_to_register"
            try:
                events = tuple(plugin.events_to_register())
            except Exception as exc:
                raise FrameworkError(f"{where} raised {type(exc).__name__}: {exc}") from exc
            for item in events:
                if not isinstance(item, ClusterEventWithHint):
                    raise FrameworkError(f"{where} gave {_kind(item)}, not a ClusterEventWithHint")
            out[name] = events
        return out

    # -- queue -------------------------------------------------------------------

    def run_pre_enqueue(self, pod: PodInfo) -> Status:
        for plugin in self.pre_enqueue:
            status = self._call(plugin.name, "PreEnqueue", plugin.pre_enqueue, pod, pod)
            if not status.is_success:
                return status
        return SUCCESS

    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        """The QueueSort plugin's order; should it raise or not answer a bool,
        PrioritySort's order instead, so that the queue keeps working."""
        try:
            earlier = self.queue_sort.less(a, b)
            if isinstance(earlier, bool):
                return earlier
            raise PluginContractError(f"returned {_kind(earlier)}, not a bool")
        except Exception as exc:
            self._slow_or_broken("QueueSort", self.queue_sort.name, exc=exc)
            pa, pb = a.pod.priority, b.pod.priority
            return pa > pb or (pa == pb and a.timestamp < b.timestamp)

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
                got, status = _expect_pair(
                    plugin.pre_filter(state, pod, nodes), PreFilterResult, "PreFilterResult"
                )
            except Exception as exc:
                got, status = None, self._crashed(plugin.name, "PreFilter", exc)
            self._observe(state, "PreFilter", plugin.name, status, start, pod)
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
        if state.plugin_seconds is not None:
            return self._filters_timed(state, pod, node, self.filter, skip)
        # The loop is inlined here and in filter_node: it runs per node and plugin.
        for plugin in self.filter:
            if plugin.name in skip:
                continue
            try:
                status = plugin.filter(state, pod, node)
            except Exception as exc:
                return self._crashed(plugin.name, "Filter", exc)
            try:
                if status.code is Code.SUCCESS:
                    continue
            except AttributeError as exc:
                return self._crashed(plugin.name, "Filter", exc, status)
            return self._rejected(plugin.name, status)
        return SUCCESS

    def _filters_timed(
        self,
        state: CycleState,
        pod: PodInfo,
        node: NodeInfo,
        plugins: Sequence[FilterPlugin],
        skip: frozenset[str],
    ) -> Status:
        """As ``run_filters``, adding each plugin's time to ``state.plugin_seconds``
        (sampled cycles), so that a slow Filter plugin is named."""
        seconds = cast(dict[str, float], state.plugin_seconds)
        for plugin in plugins:
            if plugin.name in skip:
                continue
            start = time.perf_counter()
            try:
                status = plugin.filter(state, pod, node)
            except Exception as exc:
                return self._crashed(plugin.name, "Filter", exc)
            finally:
                seconds[plugin.name] = seconds.get(plugin.name, 0.0) + (time.perf_counter() - start)
            try:
                if status.code is Code.SUCCESS:
                    continue
            except AttributeError as exc:
                return self._crashed(plugin.name, "Filter", exc, status)
            return self._rejected(plugin.name, status)
        return SUCCESS

    def filter_time(self, state: CycleState, pod: PodInfo) -> None:
        """After a sampled cycle's Filter phase: warn about a plugin whose
        calls for this pod took longer than ``SLOW_PLUGIN`` in total."""
        for plugin, seconds in (state.plugin_seconds or {}).items():
            if seconds >= SLOW_PLUGIN:
                self._slow_or_broken("Filter", plugin, seconds=seconds, pod=pod)

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
        if state.plugin_seconds is not None:
            return self._filters_timed(state, pod, node, plugins, frozenset())
        for plugin in plugins:
            try:
                status = plugin.filter(state, pod, node)
            except Exception as exc:
                return self._crashed(plugin.name, "Filter", exc)
            try:
                if status.code is Code.SUCCESS:
                    continue
            except AttributeError as exc:
                return self._crashed(plugin.name, "Filter", exc, status)
            return self._rejected(plugin.name, status)
        return SUCCESS

    def filter_verdicts(
        self, state: CycleState, pod: PodInfo, node: NodeInfo, *, after: str = ""
    ) -> list[Status]:
        """Every Filter plugin's verdict on ``node``, each tagged with its
        plugin, in order; the run does not stop at the first rejection, so
        ``explain`` can say all that keeps a node out. Pods nominated to the
        node count, as in the first pass of ``run_filters_with_nominated``.
        ``after`` names the plugin ``filter_node`` stopped at: only the
        plugins after it run (those before it passed). The scheduling
        decision never reads this: ``filter_node`` does."""
        nominated = self.nominated_for(pod, node) if len(self._nominator) else []
        plugins: Sequence[FilterPlugin] = self.filter
        if after in self._filter_index and not nominated:
            plugins = plugins[self._filter_index[after] + 1 :]
        if nominated:
            node = node.clone()
            state = state.clone()
            for other in nominated:
                node.add_pod(other)
                status = self.run_pre_filter_add_pod(state, pod, other, node)
                if not status.is_success:
                    return [status]
        verdicts: list[Status] = []
        for plugin in plugins:
            if plugin.name in state.skip_filter:
                continue
            try:
                status = _expect_status(plugin.filter(state, pod, node))
            except Exception as exc:
                status = self._crashed(plugin.name, "Filter", exc)
            verdicts.append(
                status.with_plugin(plugin.name)
                if status.code is Code.SUCCESS
                else self._rejected(plugin.name, status)
            )
        return verdicts

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
                if got is not None and not (
                    isinstance(got, np.ndarray)
                    and got.dtype == np.bool_
                    and got.shape == rows.shape
                ):
                    raise PluginContractError(f"returned {_array(got)}, not {len(rows)} bools")
            except Exception as exc:
                # The per-node form judges instead, and reports its own failure as upstream.
                log.error("batch filter failed", plugin=plugin.name, pod=pod.key, error=repr(exc))
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

    def filter_signature(self, state: CycleState, pod: PodInfo) -> Hashable | None:
        # Equal keys mean equal verdicts only on a node known not to have
        # changed, which takes a snapshot that keeps a change log.
        if self._filter_signer is None or change_log(self._snapshot) is None:
            return None
        running = [p for p in self.filter if p.name not in state.skip_filter]
        return self._filter_signer(running, pod)

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

    def run_pre_filter_plugins(self, state: CycleState, pod: PodInfo) -> Status:
        _, status, _ = self.run_pre_filter(state, pod, self._snapshot.node_infos())
        return status

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
                status = _expect_status(call(state, pod, other, node))
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
                got, status = _expect_pair(
                    plugin.post_filter(state, pod, statuses), PostFilterResult, "PostFilterResult"
                )
            except Exception as exc:
                got, status = None, self._crashed(plugin.name, "PostFilter", exc)
            self._observe(state, "PostFilter", plugin.name, status, start, pod)
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
                status = _expect_status(plugin.pre_score(state, pod, nodes))
            except Exception as exc:
                status = self._crashed(plugin.name, "PreScore", exc)
            self._observe(state, "PreScore", plugin.name, status, start, pod)
            if status.is_skip:
                skipped.add(plugin.name)
            elif not status.is_success:
                return Status.error(
                    f'running PreScore plugin "{plugin.name}": {status.message}'
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
        record: ScoreRecord | None = None,
        per_plugin: dict[str, list[int]] | None = None,
    ) -> tuple[list[int], Status]:
        """Weighted total per node (same order as ``nodes``). Given ``rows``
        (``batch_rows``), plugins with a batch form score all nodes at once;
        ``each`` maps a per-node score over ``nodes`` (a parallel map, say);
        ``kept`` gives a plugin's raw scores on ``nodes`` when they are
        already known (None: score them here), before normalisation.
        ``record`` hears each plugin's raw and normalised scores and weight;
        it scores per node, where both are known (batch forms and kept scores
        agree with it). ``per_plugin`` receives each plugin's normalised
        scores, unweighted."""
        totals = np.zeros(len(nodes), dtype=np.int64)
        for plugin in self.score:
            if plugin.name in state.skip_score:
                continue
            start = time.perf_counter()
            normalizer = self._normalizers.get(plugin.name)
            scores: list[int] | None = None
            batch: Int64s | None = None
            raw: Sequence[int] = ()
            try:
                known = kept(plugin) if kept is not None and record is None else None
                if known is not None:
                    if normalizer is None:
                        batch = known
                    else:
                        scores = known.tolist()
                        normalizer.normalize_scores(state, pod, scores)
                else:
                    batch_plugin = self._batch_scores.get(plugin.name)
                    if batch_plugin is not None and rows is not None and record is None:
                        batch = self._score_batch(batch_plugin, state, pod, rows)
                    if batch is None:
                        if each is None:
                            scores = [plugin.score(state, pod, node) for node in nodes]
                        else:
                            scores = each(functools.partial(plugin.score, state, pod))
                        raw = list(scores) if record is not None else scores
                        if normalizer is not None:
                            normalizer.normalize_scores(state, pod, scores)
            except Exception as exc:
                return totals.tolist(), self._crashed(plugin.name, "Score", exc)
            if batch is None:  # per-node scores, or normalised kept ones
                checked = _expect_scores(plugin.name, scores, len(nodes))
                if isinstance(checked, Status):
                    log.error(
                        "plugin broke its contract", plugin=plugin.name, error=checked.message
                    )
                    return totals.tolist(), checked
                if record is not None and scores is not None:
                    record(plugin.name, raw, scores, self.weights[plugin.name])
                batch = checked
            elif len(batch) and not MIN_NODE_SCORE <= batch.min() <= batch.max() <= MAX_NODE_SCORE:
                bad = (batch < MIN_NODE_SCORE) | (batch > MAX_NODE_SCORE)
                return totals.tolist(), _invalid_score(plugin.name, int(batch[bad.argmax()]))
            self._observe(state, "Score", plugin.name, SUCCESS, start, pod)
            totals += batch * self.weights[plugin.name]
            if per_plugin is not None:
                per_plugin[plugin.name] = batch.tolist()
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
            got = plugin.score_batch(state, pod, self._columns, rows)
            if got is not None and not (
                isinstance(got, np.ndarray) and got.dtype.kind in "iu" and got.shape == rows.shape
            ):
                raise PluginContractError(f"returned {_array(got)}, not {len(rows)} ints")
            return got
        except Exception as exc:
            # Scored per node instead, which reports its own failure as upstream.
            log.error("batch score failed", plugin=plugin.name, pod=pod.key, error=repr(exc))
            return None

    def run_reserve(self, state: CycleState, pod: PodInfo, node: NodeName) -> Status:
        for plugin in self.reserve:
            status = self._call(plugin.name, "Reserve", plugin.reserve, pod, state, pod, node)
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
            start = time.perf_counter()
            try:
                plugin.unreserve(state, pod, node)
            except Exception:
                log.exception("unreserve failed", plugin=plugin.name, pod=pod.key)
            self._slow("Unreserve", plugin.name, start, pod)

    def run_permit(
        self, state: CycleState, pod: PodInfo, node: NodeName
    ) -> tuple[Status, dict[str, float]]:
        """Success, a rejection or an Error from the first plugin that gave one,
        or Wait with each waiting plugin's timeout (capped at 15 minutes)."""
        waits: dict[str, float] = {}
        waited: Status | None = None
        for plugin in self.permit:
            start = time.perf_counter()
            try:
                status, timeout = plugin.permit(state, pod, node)
                if not isinstance(status, Status) or not isinstance(timeout, int | float):
                    raise TypeError(
                        f"returned ({type(status).__name__}, {type(timeout).__name__}), "
                        "not (Status, float)"
                    )
            except Exception as exc:
                return self._crashed(plugin.name, "Permit", exc), {}
            self._observe(state, "Permit", plugin.name, status, start, pod)
            if status.is_success:
                continue
            if status.is_rejected:
                return status.with_plugin(plugin.name), {}
            if status.code is Code.WAIT:
                waits[plugin.name] = min(float(timeout), MAX_PERMIT_WAIT)
                waited = status
                continue
            message = status.message
            if status.code is not Code.ERROR:
                message = f"unexpected status {status.code.value} {message}".rstrip()
            return (
                Status.error(f"running Permit plugin {plugin.name!r}: {message}").with_plugin(
                    plugin.name
                ),
                {},
            )
        if waited is None:
            return SUCCESS, {}
        reasons = (*waited.reasons, "one or more plugins asked to wait and no plugin rejected pod")
        return Status(Code.WAIT, reasons), waits

    def add_waiting_pod(
        self, pod: PodInfo, waits: Mapping[str, float], on_done: PermitDone
    ) -> WaitingPod:
        """Hold an assumed pod at Permit; ``on_done`` runs once it is allowed or rejected."""
        return self._waiting.add(pod, waits, on_done)

    # -- binding cycle -------------------------------------------------------------

    async def run_pre_bind(self, state: CycleState, pod: PodInfo, node: NodeName) -> Status:
        for plugin in self.pre_bind:
            try:
                status = _expect_status(await plugin.pre_bind(state, pod, node))
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
                status = _expect_status(await plugin.bind(state, pod, node))
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
            start = time.perf_counter()
            try:
                plugin.post_bind(state, pod, node)
            except Exception:
                log.exception("post-bind failed", plugin=plugin.name, pod=pod.key)
            self._slow("PostBind", plugin.name, start, pod)

    # -- helpers -----------------------------------------------------------------

    def _call(
        self, plugin: str, point: str, fn: Callable[..., Status], pod: PodInfo, *args: object
    ) -> Status:
        start = time.perf_counter()
        try:
            status = _expect_status(fn(*args)).with_plugin(plugin)
        except Exception as exc:
            status = self._crashed(plugin, point, exc)
        self._slow(point, plugin, start, pod)
        return status

    def _crashed(
        self, plugin: str, point: str, exc: Exception, returned: object = _UNSET
    ) -> Status:
        """An Error status naming the plugin: it raised, or returned what its
        extension point does not allow (bugs never look like rejections)."""
        if returned is not _UNSET and not isinstance(returned, Status):
            exc = PluginContractError(f"returned {_kind(returned)}, not a Status")
        if isinstance(exc, PluginContractError):
            log.error(
                "plugin broke its contract", plugin=plugin, extension_point=point, error=str(exc)
            )
            return Status.error(f"{point} plugin {plugin!r} {exc}").with_plugin(plugin)
        log.error("plugin raised", plugin=plugin, extension_point=point, exc_info=exc)
        return Status.error(f"{point} plugin {plugin!r} raised {exc!r}").with_plugin(plugin)

    def _observe(
        self,
        state: CycleState,
        point: str,
        plugin: str,
        status: Status,
        start: float,
        pod: PodInfo,
    ) -> None:
        seconds = time.perf_counter() - start
        if state.record_plugin_metrics:
            self._recorder.plugin_execution(plugin, point, status.code.value, seconds)
        if seconds >= SLOW_PLUGIN:
            self._slow_or_broken(point, plugin, seconds=seconds, pod=pod)

    def _slow(self, point: str, plugin: str, start: float, pod: PodInfo) -> None:
        seconds = time.perf_counter() - start
        if seconds >= SLOW_PLUGIN:
            self._slow_or_broken(point, plugin, seconds=seconds, pod=pod)

    def _slow_or_broken(
        self,
        point: str,
        plugin: str,
        *,
        seconds: float = 0.0,
        pod: PodInfo | None = None,
        exc: Exception | None = None,
    ) -> None:
        """A warning, at most every ``SLOW_LOG_EVERY`` seconds per plugin and
        point, with how many more times it happened meanwhile."""
        key = (plugin, point, exc is None)
        now = time.monotonic()
        last, missed = self._warned.get(key, (-SLOW_LOG_EVERY, 0))
        if now - last < SLOW_LOG_EVERY:
            self._warned[key] = (last, missed + 1)
            return
        self._warned[key] = (now, 0)
        if exc is not None:
            log.error(
                "plugin failed; using PrioritySort's order",
                plugin=plugin,
                extension_point=point,
                error=repr(exc),
                since_last_warning=missed,
            )
            return
        log.warning(
            "slow plugin: the scheduling loop served no other pod meanwhile",
            plugin=plugin,
            extension_point=point,
            seconds=round(seconds, 3),
            pod=pod.key if pod is not None else None,
            since_last_warning=missed,
        )
