"""``PluginKit``: one plugin in the default profile, over a cluster of your
making, judged by the scheduler's own code.

A plugin's tests are tables of (cluster, pod, expected outcome), as the
in-tree plugins' are::

    kit = PluginKit(SPEC, args={"label": "price"}, nodes=[node("a"), node("b")])
    decision = kit.decide(pod("web", cpu="1"))
    assert decision.node == "b"
    assert decision.scores == {"a": 0, "b": 100}

``decide`` runs one scheduling cycle as the live scheduler does (PreFilter,
Filter, PostFilter, PreScore, Score with every in-tree plugin of the profile,
select, Reserve, Permit) and undoes it, so decisions do not depend on one
another; ``place`` puts a pod on a node for the next ones. ``simulate`` runs
pending pods one after the other exactly as ``py-scheduler simulate`` would,
binds, waits at Permit and preemption included.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from py_scheduler import config
from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.interface import Plugin
from py_scheduler.framework.registry import PluginSpec
from py_scheduler.framework.runtime import Framework
from py_scheduler.framework.status import SUCCESS, Code, Status
from py_scheduler.framework.types import FitError
from py_scheduler.framework.waiting_pods import ManualTimers
from py_scheduler.model import Node, NodeName, PodInfo
from py_scheduler.plugins import IN_TREE
from py_scheduler.scheduling.algorithm import SchedulingError
from py_scheduler.scheduling.build import build_scheduler
from py_scheduler.scheduling.object_store import ObjectStore
from py_scheduler.simulation.run import Result, SimulatedCluster, load_custom_objects, simulate
from py_scheduler.simulation.snapshot import Snapshot
from py_scheduler.testing.objects import SCHEDULER_NAME

API_VERSION = "kubescheduler.config.k8s.io/v1"


@dataclass(frozen=True)
class Decision:
    """What one scheduling cycle decided for a pod.

    ``statuses``: each judged node's Filter verdict (Success, or the rejecting
    plugin's status); ``scores``: the plugin under test's normalised score per
    feasible node, before its weight; ``totals``: every Score plugin's
    weighted sum per feasible node; ``node``: the chosen node, or None with
    the FailedScheduling ``message``. ``permit`` and ``permit_waits`` are
    Permit's answer on the chosen node (Wait with each waiting plugin's
    timeout); ``error`` is set when a plugin failed (an Error status)."""

    node: str | None
    statuses: Mapping[str, Status] = field(default_factory=dict)
    scores: Mapping[str, int] = field(default_factory=dict)
    totals: Mapping[str, int] = field(default_factory=dict)
    message: str = ""
    permit: Status | None = None
    permit_waits: Mapping[str, float] = field(default_factory=dict)
    error: Status | None = None

    def rejected_by(self, plugin: str) -> list[str]:
        """The nodes ``plugin`` rejected, sorted."""
        return sorted(name for name, s in self.statuses.items() if s.plugin == plugin)


@dataclass
class Held:
    """A pod Permit was asked about on a node (``PluginKit.permit``): its
    answer, and once the wait ends (allowed, rejected or timed out; at once
    when Permit did not wait) its ``outcome``, after ``waited`` seconds of the
    kit's clock. Meanwhile the pod is assumed on the node and waiting."""

    pod: PodInfo
    node: str
    permit: Status
    waits: Mapping[str, float]
    outcome: Status | None = None
    waited: float = 0.0


class PluginKit:
    """The default profile plus one plugin, over ``nodes``, assigned ``pods``
    and ``objects`` (custom resources the plugin watches).

    ``args`` are the plugin's raw ``pluginConfig`` args (decoded and checked
    by its own decoder); ``weight`` its score weight. ``configuration`` replaces
    the whole KubeSchedulerConfiguration (dict) when the default profile
    plus the plugin is not what you want; ``registry`` adds other plugins."""

    def __init__(
        self,
        spec: PluginSpec[Any],
        *,
        args: Mapping[str, Any] | None = None,
        weight: int = 1,
        configuration: Mapping[str, Any] | None = None,
        nodes: Iterable[Node] = (),
        pods: Iterable[PodInfo] = (),
        objects: Iterable[Mapping[str, Any]] = (),
        registry: Mapping[str, PluginSpec[Any]] | None = None,
        seed: int = 0,
    ) -> None:
        if spec.name in IN_TREE and IN_TREE[spec.name] is not spec:
            raise ValueError(f"plugin {spec.name!r} has the name of an in-tree plugin")
        self.spec = spec
        self.registry = {**IN_TREE, **(registry or {}), spec.name: spec}
        raw = dict(configuration) if configuration is not None else _with(spec.name, args, weight)
        self.config = config.parse(raw, source="PluginKit configuration", registry=self.registry)
        self.seed = seed
        self._store = ObjectStore()
        self._timers = ManualTimers()
        self._scheduler = build_scheduler(
            self.config,
            cluster=SimulatedCluster(self._store, deque()),
            objects=self._store,
            rng=random.Random(seed),
            timers=self._timers,
        )
        self.nodes: list[Node] = []
        self.pods: list[PodInfo] = []
        self.objects: list[Mapping[str, Any]] = []
        for n in nodes:
            self.add_node(n)
        for p in pods:
            self.place(p)
        self.add_objects(objects)

    # -- the cluster -------------------------------------------------------------

    @property
    def framework(self) -> Framework:
        """The profile's framework (the Handle plugins receive)."""
        return self._scheduler.profiles[self.config.profiles[0].scheduler_name]

    @property
    def plugin(self) -> Plugin:
        """The plugin under test, as the framework built it."""
        return self.framework.plugins[self.spec.name]

    def add_node(self, node: Node) -> None:
        self.nodes.append(node)
        self._scheduler.on_node(node)

    def place(self, pod: PodInfo, node: str | None = None) -> PodInfo:
        """Put ``pod`` on ``node`` (or on its own ``spec.nodeName``), as bound."""
        if node is not None:
            pod = replace(pod, node_name=node, phase="Running")
        if not pod.node_name:
            raise ValueError(f"pod {pod.key}: name a node to place it on")
        self.pods.append(pod)
        self._scheduler.on_pod(pod)
        return pod

    def add_objects(self, objects: Iterable[Mapping[str, Any]]) -> None:
        """Custom resources (dicts), added or changed: those of kinds the
        plugins watch are listed to them, as the live watches would (their
        handlers and queueing hints see the change)."""
        fresh = list(objects)
        keys = {_object_key(o) for o in fresh}
        self.objects = [o for o in self.objects if _object_key(o) not in keys] + fresh
        self._reload()

    def remove_objects(self, objects: Iterable[Mapping[str, Any]]) -> None:
        """Delete these objects (matched by apiVersion, kind, namespace and name)."""
        gone = {_object_key(o) for o in objects}
        self.objects = [o for o in self.objects if _object_key(o) not in gone]
        self._reload()

    def _reload(self) -> None:
        # Objects of kinds no plugin watches are kept, and ignored, as simulate does.
        load_custom_objects(
            self._scheduler, Snapshot(others={f"object {i}": o for i, o in enumerate(self.objects)})
        )

    # -- one cycle ---------------------------------------------------------------

    def decide(self, pod: PodInfo) -> Decision:
        """One scheduling cycle for ``pod``, undone afterwards."""
        fwk = self._framework_for(pod)
        cache = self._scheduler.cache
        algorithm = self._scheduler.algorithm
        algorithm.rng = random.Random(self.seed)
        state = CycleState()
        status = fwk.run_pre_enqueue(pod)
        if not status.is_success:
            return Decision(None, message=status.message, error=_error(status))
        try:
            feasible, diagnosis = algorithm.find_nodes_that_fit(
                fwk, state, pod, cache, cache.node_infos()
            )
        except SchedulingError as exc:
            return Decision(None, message=exc.status.message, error=exc.status)
        statuses: dict[str, Status] = {}
        if diagnosis.pre_filter_msg:
            statuses = {n.name: diagnosis.node_to_status.absent for n in cache.node_infos()}
        statuses.update({str(k): v for k, v in diagnosis.node_to_status.statuses.items()})
        statuses.update({n.name: SUCCESS for n in feasible})
        if not feasible:
            fit = FitError(pod, len(cache.node_infos()), diagnosis)
            if fwk.post_filter:
                _, post = fwk.run_post_filter(state, pod, diagnosis.node_to_status)
                if post.code is Code.ERROR:
                    return Decision(None, statuses, message=post.message, error=post)
                if not post.is_success and post.message:
                    diagnosis.post_filter_msg = post.message
            return Decision(None, statuses, message=str(fit))
        per_plugin: dict[str, list[int]] = {}
        totals: list[int] = [0] * len(feasible)
        if len(feasible) > 1:
            status = fwk.run_pre_score(state, pod, feasible)
            if status.is_success:
                rows = fwk.batch_rows(feasible, cache) if fwk.has_batch_scores else None
                totals, status = fwk.run_score(state, pod, feasible, rows, per_plugin=per_plugin)
            if not status.is_success:
                return Decision(None, statuses, message=status.message, error=status)
            chosen = algorithm.select_host(feasible, totals)
        else:
            chosen = feasible[0].name
        names: list[str] = [n.name for n in feasible]
        scores = dict(zip(names, per_plugin.get(self.spec.name, []), strict=False))
        decision = Decision(chosen, statuses, scores, dict(zip(names, totals, strict=True)))
        return self._reserve_and_permit(fwk, state, pod, chosen, decision)

    def _reserve_and_permit(
        self, fwk: Framework, state: CycleState, pod: PodInfo, node: NodeName, decision: Decision
    ) -> Decision:
        cache = self._scheduler.cache
        assumed = cache.assume(pod, node)
        try:
            status = fwk.run_reserve(state, assumed, node)
            waits: dict[str, float] = {}
            if status.is_success:
                status, waits = fwk.run_permit(state, assumed, node)
            fwk.run_unreserve(state, assumed, node)
        finally:
            cache.forget(assumed)
        if status.is_success or status.code is Code.WAIT:
            return _replace(decision, permit=status, permit_waits=waits)
        if status.is_rejected:
            diagnosis_message = f"0/1 nodes are available: 1 {status.message}."
            return _replace(decision, node=None, permit=status, message=diagnosis_message)
        return _replace(decision, node=None, permit=status, message=status.message, error=status)

    # -- waiting at Permit -------------------------------------------------------------

    def permit(self, pod: PodInfo, node: str) -> Held:
        """Reserve and Permit ``pod`` on ``node``. If Permit waits, the pod
        stays assumed there, in the Handle's waiting pods, until a plugin
        allows or rejects it or ``advance`` passes its timeout; then Unreserve
        runs and ``outcome`` is set. Otherwise it is undone at once."""
        fwk = self._framework_for(pod)
        cache = self._scheduler.cache
        state = CycleState()
        name = NodeName(node)
        assumed = cache.assume(pod, name)
        status = fwk.run_reserve(state, assumed, name)
        waits: dict[str, float] = {}
        if status.is_success:
            status, waits = fwk.run_permit(state, assumed, name)
        held = Held(pod, node, status, waits)

        def done(outcome: Status, waited: float) -> None:
            held.outcome, held.waited = outcome, waited
            fwk.run_unreserve(state, assumed, name)
            cache.forget(assumed)

        if status.code is Code.WAIT:
            fwk.add_waiting_pod(assumed, waits, done)
        else:
            done(status, 0.0)
        return held

    def advance(self, seconds: float) -> int:
        """Move the kit's clock on; waits that time out meanwhile are rejected
        with upstream's message. Returns how many timeouts passed."""
        return self._timers.advance(seconds)

    # -- many pods ------------------------------------------------------------------

    async def simulate(self, pending: Sequence[PodInfo]) -> list[Result]:
        """Schedule ``pending`` over the kit's cluster as ``py-scheduler
        simulate`` would (the kit's own state is left as it was)."""
        snapshot = Snapshot(
            nodes=list(self.nodes),
            pods=[*self.pods, *pending],
            others={f"object {i}": o for i, o in enumerate(self.objects)},
        )
        return await simulate(snapshot, self.config, seed=self.seed)

    def _framework_for(self, pod: PodInfo) -> Framework:
        fwk = self._scheduler.profiles.get(pod.scheduler_name)
        if fwk is None:
            names = ", ".join(sorted(self._scheduler.profiles))
            raise ValueError(
                f"pod {pod.key}: schedulerName {pod.scheduler_name!r} has no profile ({names})"
            )
        return fwk


def _object_key(obj: Mapping[str, Any]) -> tuple[object, ...]:
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    return (obj.get("apiVersion"), obj.get("kind"), meta.get("namespace"), meta.get("name"))


def _with(name: str, args: Mapping[str, Any] | None, weight: int) -> dict[str, Any]:
    profile: dict[str, Any] = {
        "schedulerName": SCHEDULER_NAME,
        "plugins": {"multiPoint": {"enabled": [{"name": name, "weight": weight}]}},
    }
    if args is not None:
        profile["pluginConfig"] = [{"name": name, "args": dict(args)}]
    return {"apiVersion": API_VERSION, "kind": "KubeSchedulerConfiguration", "profiles": [profile]}


def _error(status: Status) -> Status | None:
    return status if status.code is Code.ERROR else None


def _replace(decision: Decision, **changes: Any) -> Decision:
    return replace(decision, **changes)
