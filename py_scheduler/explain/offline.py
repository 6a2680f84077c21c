"""Explain a pod from a snapshot, with the simulator's adapter of the cluster.

``explain_pod`` builds the scheduler exactly as ``simulate`` does (same
configuration, same ``SimulatedCluster``), with two differences: the
``Explaining`` evaluator judges every node and keeps every plugin's results,
and one cycle runs, for the pod asked about. Other pending pods stay pending
(they hold no room, except through their nominations), as they do in a
cluster. ``place`` is how a change is verified: ``simulate`` itself, on a copy
of the snapshot where only the pods that matter are pending.

A pod bound already is explained as if it were pending now; a pod of
another scheduler as this configuration's first profile would decide.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field, replace

from py_scheduler.config import SchedulerConfig
from py_scheduler.explain.diagnose import explain_cycle
from py_scheduler.explain.report import Explanation
from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.runtime import Framework
from py_scheduler.framework.types import FitError, PostFilterResult
from py_scheduler.model import NodeName, PodInfo
from py_scheduler.model.server import OFFLINE, ServerInfo
from py_scheduler.plugins.defaultpreemption.default_preemption import DefaultPreemption
from py_scheduler.scheduling.build import build_scheduler
from py_scheduler.scheduling.evaluation import Explaining
from py_scheduler.scheduling.object_store import ObjectStore
from py_scheduler.scheduling.queue import GATED
from py_scheduler.scheduling.schedule_one import CycleOutcome
from py_scheduler.scheduling.scheduler import Scheduler
from py_scheduler.simulation.dra import expand_templates
from py_scheduler.simulation.run import Result, SimulatedCluster, WatchEvent, simulate
from py_scheduler.simulation.snapshot import Snapshot

DRAIN_TIMEOUT = 30.0


class ExplainError(ValueError):
    """The pod cannot be explained from this snapshot (the message says why)."""


@dataclass
class _Capture:
    """What the one cycle left: its outcome, and the state the observer saw."""

    outcome: CycleOutcome | None = None
    fwk: Framework | None = None
    state: CycleState | None = None
    fit: FitError | None = None
    result: PostFilterResult | None = None
    node: str | None = None

    def listen(self, outcome: CycleOutcome) -> None:
        if self.outcome is None:
            self.outcome = outcome

    def unschedulable(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        fit: FitError,
        result: PostFilterResult | None,
    ) -> None:
        if self.state is None:
            self.fwk, self.state, self.fit, self.result = fwk, state, fit, result

    def bound_to(self, fwk: Framework, state: CycleState, pod: PodInfo, node: NodeName) -> None:
        if self.state is None:
            self.fwk, self.state, self.node = fwk, state, node


class _Observer:
    def __init__(self, capture: _Capture) -> None:
        self.capture = capture

    def unschedulable(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        fit: FitError,
        result: PostFilterResult | None,
    ) -> None:
        self.capture.unschedulable(fwk, state, pod, fit, result)

    def bound(self, fwk: Framework, state: CycleState, pod: PodInfo, node: NodeName) -> None:
        self.capture.bound_to(fwk, state, pod, node)


@dataclass
class Target:
    """The pod asked about, as the cycle will see it, and what was adjusted."""

    pod: PodInfo
    bound_node: str | None = None
    warnings: list[str] = field(default_factory=list)


def find_target(snap: Snapshot, cfg: SchedulerConfig, key: str) -> Target:
    pod = next((p for p in snap.pods if p.key == key), None)
    if pod is None:
        raise ExplainError(f"pod {key} is not in the snapshot")
    target = Target(pod)
    if pod.scheduler_name not in cfg.scheduler_names:
        profile = cfg.profiles[0].scheduler_name
        target.warnings.append(
            f"pod {key} asks for scheduler {pod.scheduler_name!r}, not this one; "
            f"explained as profile {profile!r} would decide"
        )
        target.pod = replace(target.pod, scheduler_name=profile)
    if pod.node_name:
        target.bound_node = pod.node_name
        target.warnings.append(
            f"pod {key} is bound to {pod.node_name}; explained as if it were pending now"
        )
        target.pod = replace(target.pod, node_name="", phase="Pending")
    if pod.is_terminal:
        raise ExplainError(f"pod {key} has finished (phase {pod.phase}); nothing to schedule")
    if pod.deleting:
        target.warnings.append(f"pod {key} is being deleted; the scheduler no longer tries it")
    return target


def _seed_preemption(scheduler: Scheduler, seed: int) -> None:
    """The dry run starts at a random node; fix it, so one snapshot explains one way."""
    for fwk in scheduler.profiles.values():
        for plugin in fwk.post_filter:
            if isinstance(plugin, DefaultPreemption):
                plugin.rng = random.Random(seed)


async def _no_wait() -> None:
    """Victims are gone the moment they are evicted, as in ``simulate``."""


async def explain_pod(
    snap: Snapshot,
    cfg: SchedulerConfig,
    key: str,
    *,
    seed: int = 0,
    server: ServerInfo = OFFLINE,
) -> Explanation:
    """One cycle for pod ``key`` (``namespace/name``), explained as the
    kube-scheduler of ``server``'s release would run it."""
    target = find_target(snap, cfg, key)
    pods = [target.pod if p.key == key else p for p in snap.pods]
    objects = ObjectStore()
    objects.load(snap)
    pods, generated = expand_templates(pods, snap.claim_templates)
    for claim in generated:
        objects.put_resource_claim(claim)
    capture = _Capture()
    watch: deque[WatchEvent] = deque()
    scheduler = build_scheduler(
        cfg,
        cluster=SimulatedCluster(objects, watch),
        objects=objects,
        rng=random.Random(seed),
        listeners=(capture.listen,),
        settle=_no_wait,
        evaluator=Explaining(),
        observer=_Observer(capture),
        server=server,
    )
    _seed_preemption(scheduler, seed)
    scheduler.replace_nodes(snap.nodes)
    scheduler.replace_pods(pods)
    uid = next(p.uid for p in pods if p.key == key)
    fwk = scheduler.profiles[target.pod.scheduler_name]
    where = scheduler.queue.where(uid)
    if where is None or where == GATED:
        out = _not_attempted(scheduler, fwk, target, where)
    else:
        while (queued := scheduler.queue.pop_nowait()) is not None and queued.pod.uid != uid:
            pass
        if queued is None:
            raise ExplainError(f"pod {key} never left the scheduling queue")
        scheduler.schedule_one(queued)
        _allow_at_permit(fwk, uid, target)
        if capture.outcome is not None and capture.outcome.node:
            await scheduler.drain(DRAIN_TIMEOUT)  # the bind: the observer hears it
        out = _explained(scheduler, target, capture)
    out.warnings[:0] = target.warnings
    out.bound_node = target.bound_node
    return out


def _allow_at_permit(fwk: Framework, uid: str, target: Target) -> None:
    """A pod held at Permit binds only once its plugins allow it, which no
    snapshot tells: it is explained as allowed, and the warning says who holds it."""
    waiting = fwk.get_waiting_pod(uid)
    if waiting is None:
        return
    plugins = waiting.pending_plugins()
    target.warnings.append(
        f"Permit plugin(s) {', '.join(plugins)} hold the pod at node {waiting.pod.node_name} "
        "until they allow it (or it times out); explained as if allowed"
    )
    for plugin in plugins:
        waiting.allow(plugin)


def _explained(scheduler: Scheduler, target: Target, capture: _Capture) -> Explanation:
    outcome = capture.outcome
    if capture.fwk is None or capture.state is None:
        message = outcome.message if outcome is not None else "no scheduling attempt was made"
        raise ExplainError(f"pod {target.pod.key}: {message}")
    return explain_cycle(
        capture.fwk,
        capture.state,
        target.pod,
        scheduler.cache,
        node=capture.node,
        fit=capture.fit,
        result=capture.result,
        exhaustive=True,
    )


def _not_attempted(
    scheduler: Scheduler, fwk: Framework, target: Target, where: str | None
) -> Explanation:
    pod = target.pod
    status = fwk.run_pre_enqueue(pod)
    message = status.message or "the scheduler does not try this pod"
    out = Explanation(
        pod=pod.key,
        profile=fwk.profile_name,
        node=None,
        message=message,
        total_nodes=len(scheduler.cache),
    )
    if pod.scheduling_gates:
        out.condition = {
            "type": "PodScheduled",
            "status": "False",
            "reason": "SchedulingGated",
            "message": "Scheduling is blocked due to non-empty scheduling gates",
        }
    if where == GATED:
        out.warnings.append(
            f"PreEnqueue plugin {status.plugin or '?'} holds the pod back: {message}; "
            "it is not attempted until that changes"
        )
    return out


async def place(
    snap: Snapshot,
    cfg: SchedulerConfig,
    keys: list[str],
    *,
    seed: int = 0,
    server: ServerInfo = OFFLINE,
) -> dict[str, Result]:
    """``simulate`` on ``snap`` with only ``keys`` (and nominated pods) pending:
    what becomes of each of them."""
    wanted = set(keys)
    pods = [
        p
        for p in snap.pods
        if p.node_name
        or p.key in wanted
        or p.nominated_node
        or p.scheduler_name not in cfg.scheduler_names
    ]
    results = await simulate(replace(snap, pods=pods), cfg, seed=seed, server=server)
    return {r.pod: r for r in results if r.pod in wanted}
