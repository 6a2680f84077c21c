"""Shared builders for the scheduling-core tests.

Fake plugins with injected outcomes (as upstream's ``TestPlugin`` and
``injectedResult``), a Framework over them, and the real default profile
(``config.parse({})`` over ``plugins.IN_TREE``) wired into a Scheduler whose
queue reads a fake clock, so no test ever sleeps.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, cast

from py_scheduler import config, plugins
from py_scheduler.cluster import PodCondition
from py_scheduler.framework.custom_resources import CustomObjects
from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.interface import Nominator as NominatorProtocol
from py_scheduler.framework.interface import Plugin, PreFilterExtensions, SharedLister
from py_scheduler.framework.recorder import NO_METRICS, MetricsRecorder
from py_scheduler.framework.registry import PluginSpec, no_args
from py_scheduler.framework.runtime import Framework, PluginRef, PluginSet, ProfileSpec
from py_scheduler.framework.status import SUCCESS, Status
from py_scheduler.framework.types import (
    NodeToStatus,
    PostFilterResult,
    PreFilterResult,
    QueuedPodInfo,
)
from py_scheduler.framework.waiting_pods import ManualTimers, WaitingPods
from py_scheduler.model import Node, NodeInfo, NodeName, PodInfo, decode_pod
from py_scheduler.model.server import OFFLINE, ServerInfo
from py_scheduler.scheduling.algorithm import Algorithm
from py_scheduler.scheduling.cache import Cache
from py_scheduler.scheduling.nominator import Nominator
from py_scheduler.scheduling.observer import CycleObserver
from py_scheduler.scheduling.queue import SchedulingQueue
from py_scheduler.scheduling.schedule_one import CycleListener, Settle
from py_scheduler.scheduling.scheduler import Scheduler
from tests.builders import make_node, raw_pod
from tests.fakes import FakeCluster, FakeNominator, FakeObjects, FakeSnapshot

PROFILE = "test-profile"

P = TypeVar("P")


def named(cls: type[P], name: str) -> type[P]:
    """A subclass of a fake plugin carrying its own plugin name."""
    return cast("type[P]", type(name, (cls,), {"name": name}))


class FakeClock:
    """Time stands still until a test moves it."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.read: Callable[[], float] = lambda: self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# -- fake plugins ---------------------------------------------------------------------------


class FakeSort:
    name: ClassVar[str] = "FakeSort"

    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        pa, pb = a.pod.priority, b.pod.priority
        return pa > pb or (pa == pb and a.timestamp < b.timestamp)


class FakeExtensions:
    def __init__(self, add: Status = SUCCESS, remove: Status = SUCCESS) -> None:
        self.add = add
        self.remove = remove
        self.calls: list[str] = []

    def add_pod(self, state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo) -> Status:
        self.calls.append(f"add {added.name}")
        return self.add

    def remove_pod(
        self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo
    ) -> Status:
        self.calls.append(f"remove {removed.name}")
        return self.remove


class FakePreFilter:
    name: ClassVar[str] = "FakePreFilter"

    def __init__(
        self,
        status: Status = SUCCESS,
        *,
        nodes: Iterable[str] | None = None,
        raises: Exception | None = None,
        extensions: FakeExtensions | None = None,
    ) -> None:
        self.status = status
        self.nodes = None if nodes is None else frozenset(nodes)
        self.raises = raises
        self.extensions = extensions
        self.calls = 0

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        self.calls += 1
        if self.raises is not None:
            raise self.raises
        result = None if self.nodes is None else PreFilterResult(self.nodes)
        return result, self.status

    def pre_filter_extensions(self) -> PreFilterExtensions | None:
        return self.extensions


class FakeFilter:
    name: ClassVar[str] = "FakeFilter"

    def __init__(
        self,
        status: Status = SUCCESS,
        *,
        per_node: Mapping[str, Status] | None = None,
        raises: Exception | None = None,
    ) -> None:
        self.status = status
        self.per_node = dict(per_node or {})
        self.raises = raises
        self.calls: list[str] = []

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        self.calls.append(node.name)
        if self.raises is not None:
            raise self.raises
        return self.per_node.get(node.name, self.status)


class FakePostFilter:
    name: ClassVar[str] = "FakePostFilter"

    def __init__(self, status: Status, nominated: str | None = None) -> None:
        self.status = status
        self.nominated = nominated

    def post_filter(
        self, state: CycleState, pod: PodInfo, statuses: NodeToStatus
    ) -> tuple[PostFilterResult | None, Status]:
        if self.nominated is None:
            return None, self.status
        return PostFilterResult(NodeName(self.nominated)), self.status


class FakePreScore:
    name: ClassVar[str] = "FakePreScore"

    def __init__(self, status: Status = SUCCESS) -> None:
        self.status = status

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        return self.status


class FakeScore:
    name: ClassVar[str] = "FakeScore"

    def __init__(self, scores: Mapping[str, int] | int = 0, *, raises: bool = False) -> None:
        self.scores = scores
        self.raises = raises
        self.calls = 0

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        self.calls += 1
        if self.raises:
            raise RuntimeError("injected score failure")
        if isinstance(self.scores, int):
            return self.scores
        return self.scores[node.name]


class FakeNormalizedScore(FakeScore):
    """Scores, then replaces every score by ``normalized`` (upstream's normalizeRes)."""

    name: ClassVar[str] = "FakeNormalizedScore"

    def __init__(
        self, scores: Mapping[str, int] | int = 0, *, normalized: int, fail: bool = False
    ) -> None:
        super().__init__(scores)
        self.normalized = normalized
        self.fail = fail

    def normalize_scores(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        if self.fail:
            raise RuntimeError("injected normalize failure")
        scores[:] = [self.normalized] * len(scores)


class FakePreScoreAndScore(FakeScore):
    """Skips in PreScore, so its Score must never run."""

    name: ClassVar[str] = "FakePreScoreAndScore"

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        return Status.skip()


class FakeBind:
    name: ClassVar[str] = "FakeBind"

    def __init__(self, status: Status = SUCCESS, *, raises: Exception | None = None) -> None:
        self.status = status
        self.raises = raises
        self.bound: list[str] = []

    async def bind(self, state: CycleState, pod: PodInfo, node: NodeName) -> Status:
        if self.raises is not None:
            raise self.raises
        self.bound.append(node)
        return self.status


class FakePermit:
    name: ClassVar[str] = "FakePermit"

    def __init__(self, status: Status = SUCCESS, timeout: float = 0.0) -> None:
        self.status = status
        self.timeout = timeout

    def permit(self, state: CycleState, pod: PodInfo, node: NodeName) -> tuple[Status, float]:
        return self.status, self.timeout


# -- frameworks -----------------------------------------------------------------------------


def _returning(plugin: object) -> Callable[[Any, Any], Plugin]:
    return lambda args, handle: cast(Plugin, plugin)


def framework(
    *fakes: object,
    weights: Mapping[str, int] | None = None,
    multi_point: Sequence[str] | None = None,
    points: Mapping[str, PluginSet] | None = None,
    snapshot: SharedLister | None = None,
    nominator: NominatorProtocol | None = None,
    percentage: int | None = None,
    sort: bool = True,
) -> Framework:
    """A Framework over fake plugins, all enabled through multiPoint by default.

    ``weights`` become the multiPoint weights; ``multi_point`` narrows which
    plugins multiPoint names (the rest are only registered, for ``points``).
    """
    everything: list[object] = [FakeSort(), *fakes] if sort else list(fakes)
    names = [cast(Plugin, p).name for p in everything]
    registry = {
        name: PluginSpec(name, no_args, _returning(p))
        for name, p in zip(names, everything, strict=True)
    }
    chosen = names if multi_point is None else (["FakeSort"] if sort else []) + list(multi_point)
    spec = ProfileSpec(
        PROFILE,
        multi_point=tuple(PluginRef(n, (weights or {}).get(n, 0)) for n in chosen),
        points=dict(points or {}),
        percentage_of_nodes_to_score=percentage,
    )
    return Framework(
        spec,
        registry,
        snapshot=snapshot or FakeSnapshot(),
        objects=FakeObjects(),
        cluster=FakeCluster(),
        nominator=nominator or FakeNominator(),
    )


def default_framework(
    snapshot: SharedLister,
    *,
    nominator: NominatorProtocol | None = None,
    cluster: FakeCluster | None = None,
    raw_config: Mapping[str, object] | None = None,
) -> Framework:
    """The real default profile: every in-tree plugin as the configuration enables it."""
    profile = config.parse(dict(raw_config or {})).profiles[0]
    return Framework(
        profile,
        plugins.IN_TREE,
        snapshot=snapshot,
        objects=FakeObjects(),
        cluster=cluster or FakeCluster(),
        nominator=nominator or FakeNominator(),
    )


# -- the whole core -------------------------------------------------------------------------


@dataclass
class Core:
    scheduler: Scheduler
    cluster: FakeCluster
    clock: FakeClock
    frameworks: dict[str, Framework] = field(default_factory=dict)
    # The timeouts of pods held at Permit: they pass only when a test says so.
    timers: ManualTimers = field(default_factory=ManualTimers)

    @property
    def queue(self) -> SchedulingQueue:
        return self.scheduler.queue

    @property
    def cache(self) -> Cache:
        return self.scheduler.cache

    async def settle(self) -> None:
        """Wait until every background task, and every task they spawned, is done."""
        for _ in range(10):
            if not self.scheduler.tasks.running:
                return
            await self.scheduler.drain(5)
        raise AssertionError("background tasks keep spawning")

    async def cycle(self) -> None:
        """Pop the next pod, run its scheduling cycle, and finish its binding."""
        queued = await self.queue.pop()
        assert queued is not None
        self.scheduler.schedule_one(queued)
        await self.settle()


async def _settled() -> None:
    """Victims count as gone at once: no test waits for a wall clock."""


def build_core(
    nodes: Iterable[Node] = (),
    *,
    raw_config: Mapping[str, object] | None = None,
    clock: FakeClock | None = None,
    seed: int = 0,
    settle: Settle | None = None,
    recorder: MetricsRecorder = NO_METRICS,
    extra: Sequence[object] = (),
    listeners: Sequence[CycleListener] = (),
    registry: Mapping[str, PluginSpec[Any]] | None = None,
    server: ServerInfo = OFFLINE,
    observer: CycleObserver | None = None,
) -> Core:
    """The scheduler as build.py wires it, on fakes and a fake clock, following the
    release of ``server`` (the newest without one).

    ``extra`` are plugin instances registered besides the in-tree ones (or
    those of ``registry``), for a ``raw_config`` to enable by name."""
    registry = dict(registry if registry is not None else plugins.IN_TREE)
    for plugin in extra:
        name = cast(Plugin, plugin).name
        registry[name] = PluginSpec(name, no_args, _returning(plugin))
    cfg = config.parse(dict(raw_config or {}), release=server.version, registry=registry)
    clock = clock or FakeClock()
    cluster = FakeCluster()
    cache = Cache()
    nominator = Nominator()
    timers = ManualTimers()
    waiting = WaitingPods(timers)
    custom = CustomObjects()
    frameworks = {
        profile.scheduler_name: Framework(
            profile,
            registry,
            snapshot=cache,
            objects=FakeObjects(),
            cluster=cluster,
            nominator=nominator,
            recorder=recorder,
            server=server,
            waiting_pods=waiting,
            custom_objects=custom,
        )
        for profile in cfg.profiles
    }
    first = next(iter(frameworks.values()))

    def pre_enqueue(pod: PodInfo) -> Status:
        return frameworks.get(pod.scheduler_name, first).run_pre_enqueue(pod)

    events: dict[str, Any] = {}
    for fwk in frameworks.values():
        events.update(fwk.events_to_register())
    queue = SchedulingQueue(
        less=first.less,
        pre_enqueue=pre_enqueue,
        events=events,
        initial_backoff=cfg.pod_initial_backoff,
        max_backoff=cfg.pod_max_backoff,
        clock=clock.read,
        recorder=recorder,
    )
    rng = random.Random(seed)
    scheduler = Scheduler(
        profiles=frameworks,
        cache=cache,
        queue=queue,
        nominator=nominator,
        algorithm=Algorithm(
            percentage_of_nodes_to_score=cfg.percentage_of_nodes_to_score,
            rng=rng,
            recorder=recorder,
        ),
        recorder=recorder,
        settle=settle or _settled,
        listeners=listeners,
        observer=observer,
    )
    for node in nodes:
        scheduler.on_node(node)
    return Core(scheduler, cluster, clock, frameworks, timers)


# -- scheduling-core test helpers -----------------------------------------------------------

SMALL = {"cpu": "1", "memory": "1Gi", "pods": "110"}


def small(name: str, **kwargs: object) -> Node:
    return make_node(name, allocatable=SMALL, **kwargs)


def failed_scheduling(pod: str, message: str, reason: str = "Unschedulable") -> list[object]:
    return [
        ("record_event", pod, ("Warning", "FailedScheduling", message)),
        ("patch_pod_status", pod, (PodCondition("PodScheduled", "False", reason, message), None)),
    ]


def with_scheduled_condition(pod: PodInfo, reason: str, message: str) -> PodInfo:
    """The pod as the watch shows it once our PodScheduled condition landed."""
    raw = raw_pod(pod.name, requests={"cpu": str(pod.requests.milli_cpu) + "m"})
    raw["status"]["conditions"] = [
        {"type": "PodScheduled", "status": "False", "reason": reason, "message": message}
    ]
    return decode_pod(raw)


async def schedule(core: Core, pod: PodInfo) -> None:
    core.scheduler.on_pod(pod)
    await core.cycle()
