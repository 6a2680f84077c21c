"""Batch (numpy column) evaluation gives exactly what node-by-node evaluation
gives: the same filter verdicts and scores per plugin, and through the whole
algorithm the same feasible set, statuses, FailedScheduling message, scores,
round-robin start and host, over generated clusters; the threaded evaluator
as well, and explain's: Recording (any evaluator, its decisions kept) and
Explaining (every node judged, every plugin recorded)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import numpy as np
import pytest
import structlog

from py_scheduler.framework.batch import BatchScorePlugin, NodeColumns
from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.registry import NoArgs
from py_scheduler.framework.runtime import Framework
from py_scheduler.framework.status import SUCCESS, Status
from py_scheduler.framework.types import FitError
from py_scheduler.model import NodeInfo, NodeName, PodInfo
from py_scheduler.model.server import ServerVersion, offline
from py_scheduler.plugins.image_locality import ImageLocality
from py_scheduler.plugins.noderesources.balanced_allocation import (
    NodeResourcesBalancedAllocation,
    NodeResourcesBalancedAllocationArgs,
)
from py_scheduler.plugins.noderesources.fit import (
    LEAST_ALLOCATED,
    MOST_ALLOCATED,
    REQUESTED_TO_CAPACITY_RATIO,
    NodeResourcesFit,
    NodeResourcesFitArgs,
    ScoringStrategy,
)
from py_scheduler.plugins.noderesources.requested_to_capacity_ratio import UtilizationShapePoint
from py_scheduler.plugins.noderesources.resource_allocation import ResourceSpec
from py_scheduler.plugins.taint_toleration import TaintToleration
from py_scheduler.scheduling.algorithm import (
    DIAGNOSIS_KEY,
    Algorithm,
    ScheduleResult,
    SchedulingError,
)
from py_scheduler.scheduling.cache import Cache
from py_scheduler.scheduling.evaluation import (
    Columnar,
    Evaluator,
    Explaining,
    NodeByNode,
    Recording,
    Threaded,
    trace_of,
)
from py_scheduler.scheduling.incremental import Incremental
from py_scheduler.scheduling.nominator import Nominator
from tests.builders import make_node, make_pod, node_info
from tests.fakes import FakeHandle, FakeSnapshot
from tests.unit.helpers_core import FakeFilter, FakeScore, default_framework, framework, named

GPU = "example.com/gpu"
# The resource plugins read only the NodeInfo they are given; any Handle will do.
HANDLE = framework()


# -- generated clusters -------------------------------------------------------------------------


def random_requests(rng: random.Random, *, scalars: bool = True) -> dict[str, str]:
    requests: dict[str, str] = {}
    if rng.random() < 0.8:
        requests["cpu"] = f"{rng.choice([0, 1, 50, 100, 250, 1000, 3000, 9000])}m"
    if rng.random() < 0.8:
        requests["memory"] = f"{rng.choice([0, 1, 64, 512, 2048, 40000])}Mi"
    if rng.random() < 0.2:
        requests["ephemeral-storage"] = f"{rng.choice([1, 10, 500])}Gi"
    if scalars and rng.random() < 0.2:
        requests[GPU] = str(rng.choice([0, 1, 2, 8]))
    return requests


def random_allocatable(rng: random.Random) -> dict[str, str]:
    alloc = {
        "cpu": str(rng.choice([0, 1, 2, 4, 16])),
        "memory": f"{rng.choice([0, 1, 4, 32])}Gi",
        "pods": str(rng.choice([1, 3, 8, 110])),
    }
    if rng.random() < 0.5:
        alloc["ephemeral-storage"] = f"{rng.choice([0, 20, 100])}Gi"
    if rng.random() < 0.3:
        alloc[GPU] = str(rng.choice([0, 1, 4]))
    return alloc


def random_raw_node(rng: random.Random, name: str) -> dict[str, Any]:
    taints = []
    if rng.random() < 0.15:
        taints.append({"key": "dedicated", "value": "x", "effect": "NoSchedule"})
    if rng.random() < 0.15:
        taints.append({"key": "soft", "value": "y", "effect": "PreferNoSchedule"})
    return {
        "labels": {"topology.kubernetes.io/zone": f"z{rng.randrange(3)}"},
        "allocatable": random_allocatable(rng),
        "taints": taints,
        "unschedulable": rng.random() < 0.05,
    }


def random_pod(rng: random.Random, name: str, **kwargs: Any) -> PodInfo:
    if rng.random() < 0.3:
        containers = [random_requests(rng) for _ in range(rng.randint(1, 3))]
        return make_pod(name, containers=containers, **kwargs)
    return make_pod(name, requests=random_requests(rng), **kwargs)


def random_cache(rng: random.Random, count: int) -> Cache:
    cache = Cache()
    for i in range(count):
        cache.add_node(make_node(f"n{i:04d}", **random_raw_node(rng, f"n{i:04d}")))
    for i, name in enumerate(cache.node_names()):
        for j in range(rng.randint(0, 6)):
            cache.add_pod(random_pod(rng, f"e{i}-{j}", node_name=name))
    return cache


def random_infos(rng: random.Random, count: int) -> list[NodeInfo]:
    return list(random_cache(rng, count).node_infos())


# -- one plugin: batch against per node -----------------------------------------------------------

STRATEGIES = [
    ScoringStrategy(LEAST_ALLOCATED),
    ScoringStrategy(MOST_ALLOCATED),
    ScoringStrategy(
        LEAST_ALLOCATED,
        (ResourceSpec("cpu", 3), ResourceSpec("memory", 1), ResourceSpec(GPU, 5)),
    ),
    ScoringStrategy(
        MOST_ALLOCATED,
        (ResourceSpec("ephemeral-storage", 2), ResourceSpec("cpu", 1), ResourceSpec("pods", 1)),
    ),
    ScoringStrategy(
        REQUESTED_TO_CAPACITY_RATIO,
        (ResourceSpec("cpu", 1), ResourceSpec("memory", 2), ResourceSpec(GPU, 1)),
        (UtilizationShapePoint(0, 10), UtilizationShapePoint(100, 0)),
    ),
    ScoringStrategy(
        REQUESTED_TO_CAPACITY_RATIO,
        (ResourceSpec("cpu", 1), ResourceSpec("memory", 1)),
        (
            UtilizationShapePoint(10, 1),
            UtilizationShapePoint(33, 7),
            UtilizationShapePoint(67, 3),
            UtilizationShapePoint(90, 10),
        ),
    ),
]


def all_rows(nodes: Sequence[NodeInfo]) -> tuple[NodeColumns, np.ndarray]:
    columns = NodeColumns()
    columns.sync(nodes, FakeSnapshot(nodes))
    rows = columns.rows_of(nodes)
    assert rows is not None
    return columns, rows


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_node_resources_fit_batch_equals_per_node(seed: int, strategy: ScoringStrategy) -> None:
    rng = random.Random(seed)
    nodes = random_infos(rng, 60)
    columns, rows = all_rows(nodes)
    plugin = NodeResourcesFit(
        NodeResourcesFitArgs(ignored_resources=("example.com/ignored",), scoring_strategy=strategy),
        handle=HANDLE,
    )
    for i in range(25):
        pod = random_pod(rng, f"p{i}")
        state = CycleState()
        plugin.pre_filter(state, pod, nodes)
        plugin.pre_score(state, pod, nodes)
        passes = plugin.filter_batch(state, pod, columns, rows)
        assert passes is not None
        assert passes.tolist() == [plugin.filter(state, pod, n).is_success for n in nodes]
        scores = plugin.score_batch(state, pod, columns, rows)
        assert scores is not None
        assert scores.tolist() == [plugin.score(state, pod, n) for n in nodes]


BALANCED_RESOURCES = [
    (ResourceSpec("cpu"), ResourceSpec("memory")),
    (ResourceSpec("cpu"), ResourceSpec("memory"), ResourceSpec(GPU)),
    (
        ResourceSpec(GPU),
        ResourceSpec("ephemeral-storage"),
        ResourceSpec("cpu"),
        ResourceSpec("memory"),
    ),
    (ResourceSpec("memory"),),
]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("resources", BALANCED_RESOURCES)
@pytest.mark.parametrize("minor", [35, 37], ids=["balance (1.35)", "change in balance (1.36+)"])
def test_balanced_allocation_batch_equals_per_node(
    seed: int, resources: tuple[ResourceSpec, ...], minor: int
) -> None:
    rng = random.Random(100 + seed)
    nodes = random_infos(rng, 60)
    columns, rows = all_rows(nodes)
    plugin = NodeResourcesBalancedAllocation(
        NodeResourcesBalancedAllocationArgs(resources),
        handle=FakeHandle(server=offline(ServerVersion(1, minor))),
    )
    compared = 0
    for i in range(25):
        pod = random_pod(rng, f"p{i}")
        state = CycleState()
        if plugin.pre_score(state, pod, nodes).is_skip:
            continue
        scores = plugin.score_batch(state, pod, columns, rows)
        assert scores is not None
        assert scores.tolist() == [plugin.score(state, pod, n) for n in nodes]
        compared += 1
    assert compared > 5


PREFER = "PreferNoSchedule"


def soft_tainted_cache(rng: random.Random, count: int) -> Cache:
    cache = Cache()
    for i in range(count):
        taints = [
            {"key": f"soft{k}", "value": "v", "effect": "PreferNoSchedule"}
            for k in range(3)
            if rng.random() < 0.3
        ]
        if rng.random() < 0.2:
            taints.append({"key": "hard", "value": "v", "effect": "NoSchedule"})
        images = [([f"img{k}:1"], 200 * 1024 * 1024) for k in range(3) if rng.random() < 0.2]
        cache.add_node(
            make_node(
                f"n{i:03d}", allocatable=random_allocatable(rng), taints=taints, images=images
            )
        )
    return cache


@pytest.mark.parametrize("seed", range(4))
def test_taint_toleration_batch_equals_per_node_normalised(seed: int) -> None:
    rng = random.Random(300 + seed)
    cache = soft_tainted_cache(rng, 80)
    nodes = list(cache.node_infos())
    columns, rows = all_rows(nodes)
    plugin = TaintToleration(NoArgs(), HANDLE)
    spreads = set()
    for i in range(20):
        tolerations = [
            {
                "key": f"soft{k}",
                "operator": "Exists",
                "effect": rng.choice(["", "PreferNoSchedule"]),
            }
            for k in range(3)
            if rng.random() < 0.4
        ]
        pod = make_pod(f"p{i}", tolerations=tolerations)
        state = CycleState()
        plugin.pre_score(state, pod, nodes)
        expected = [plugin.score(state, pod, n) for n in nodes]
        plugin.normalize_scores(state, pod, expected)
        batch = plugin.score_batch(state, pod, columns, rows)
        assert batch is not None
        assert batch.tolist() == expected
        spreads.add(len(set(expected)))
    assert max(spreads) > 2  # the table met nodes with different soft-taint counts


def test_image_locality_has_no_batch_form_and_skips_images_no_node_holds() -> None:
    # Its score depends on which images each node holds: no column says that.
    cache = soft_tainted_cache(random.Random(7), 60)
    nodes = list(cache.node_infos())
    plugin = ImageLocality(NoArgs(), FakeHandle(snapshot=cache))
    assert not isinstance(plugin, BatchScorePlugin)
    state = CycleState()
    absent = make_pod("absent", images=["img9:1", "pause"])
    assert [plugin.score(state, absent, n) for n in nodes] == [0] * len(nodes)
    assert plugin.pre_score(state, absent, nodes).is_skip
    present = make_pod("present", images=["img1:1"])
    assert any(plugin.score(state, present, n) for n in nodes)
    assert plugin.pre_score(state, present, nodes).is_success


def test_taint_toleration_batch_judges_any_subset_of_rows() -> None:
    cache = soft_tainted_cache(random.Random(11), 50)
    nodes = list(cache.node_infos())
    columns, _ = all_rows(nodes)
    rows = np.array([7, 3, 41, 0, 19, 3], dtype=np.int64)
    plugin = TaintToleration(NoArgs(), HANDLE)
    pod = make_pod("p", tolerations=[{"key": "soft1", "operator": "Exists"}])
    state = CycleState()
    plugin.pre_score(state, pod, nodes)
    expected = [plugin.score(state, pod, nodes[r]) for r in rows.tolist()]
    plugin.normalize_scores(state, pod, expected)
    batch = plugin.score_batch(state, pod, columns, rows)
    assert batch is not None
    assert batch.tolist() == expected


def test_numbers_beyond_the_exact_range_are_judged_per_node() -> None:
    huge = node_info("huge", allocatable={"cpu": "4", "memory": "32Gi", "pods": "9", GPU: "9E"})
    columns, rows = all_rows([node_info("a"), huge])
    plugin = NodeResourcesFit(NodeResourcesFitArgs(), handle=HANDLE)
    pod = make_pod("p", requests={"cpu": "1", GPU: "1"})
    state = CycleState()
    plugin.pre_filter(state, pod, [])
    assert plugin.filter_batch(state, pod, columns, rows) is None
    # Resources not in the request still compare exactly.
    plain = make_pod("q", requests={"cpu": "1"})
    plugin.pre_filter(state, plain, [])
    passes = plugin.filter_batch(state, plain, columns, rows)
    assert passes is not None
    assert passes.tolist() == [True, True]
    huge_memory = node_info("m", allocatable={"cpu": "4", "memory": "9E", "pods": "9"})
    columns, rows = all_rows([huge_memory])
    assert not columns.exact
    assert plugin.filter_batch(state, plain, columns, rows) is None


# -- the columns follow the cache ---------------------------------------------------------------


def rebuilt(cache: Cache) -> NodeColumns:
    fresh = NodeColumns()
    fresh.sync(list(cache.node_infos()), object())
    return fresh


def test_columns_refresh_only_what_the_cache_touched_and_stay_equal_to_a_rebuild() -> None:
    rng = random.Random(5)
    cache = random_cache(rng, 40)
    columns = NodeColumns()
    columns.sync(cache.node_infos(), cache)
    columns.scalar(GPU)
    for step in range(200):
        names = cache.node_names()
        action = rng.random()
        if action < 0.5:
            cache.assume(random_pod(rng, f"a{step}"), rng.choice(names))
        elif action < 0.7:
            pods = list(cache.pods())
            if pods:
                cache.remove_pod(rng.choice(pods))
        elif action < 0.9:
            name = rng.choice(names)
            cache.update_node(make_node(name, **random_raw_node(rng, name)))
        elif action < 0.95:
            cache.remove_node(rng.choice(names))
        else:
            cache.add_node(make_node(f"new{step}", **random_raw_node(rng, f"new{step}")))
        listed = cache.node_infos()
        columns.sync(listed, cache)
        fresh = rebuilt(cache)
        assert [n.name for n in columns.nodes] == [n.name for n in listed]
        assert np.array_equal(columns.data, fresh.data), step
        gpu, fresh_gpu = columns.scalar(GPU), fresh.scalar(GPU)
        assert gpu is not None
        assert fresh_gpu is not None
        assert np.array_equal(gpu[0], fresh_gpu[0])
        assert np.array_equal(gpu[1], fresh_gpu[1])


def _label_number(node_info: NodeInfo) -> int:
    return int(node_info.node.labels.get("price", "0"))


def test_a_derived_column_follows_node_changes_as_a_rebuild_would() -> None:
    cache = Cache()
    for i in range(5):
        cache.add_node(make_node(f"n{i}", labels={"price": str(10 * i)}))
    columns = NodeColumns()
    columns.sync(cache.node_infos(), cache)
    prices = columns.derived("price", _label_number)
    assert prices is not None
    assert prices.tolist() == [0, 10, 20, 30, 40]
    cache.update_node(make_node("n2", labels={"price": "99"}))
    cache.assume(make_pod("p", requests={"cpu": "1m"}), NodeName("n4"))
    columns.sync(cache.node_infos(), cache)
    assert columns.derived("price", _label_number) is prices  # kept, refreshed in place
    assert prices.tolist() == [0, 10, 99, 30, 40]
    cache.add_node(make_node("n5", labels={"price": "7"}))  # a new node: rebuilt
    columns.sync(cache.node_infos(), cache)
    again = columns.derived("price", _label_number)
    assert again is not None
    assert sorted(again.tolist()) == [0, 7, 10, 30, 40, 99]


def test_a_derived_column_that_raises_on_refresh_raises_on_its_next_use() -> None:
    cache = Cache()
    cache.add_node(make_node("a", labels={"price": "1"}))
    columns = NodeColumns()
    columns.sync(cache.node_infos(), cache)
    assert columns.derived("price", _label_number) is not None
    cache.update_node(make_node("a", labels={"price": "not a number"}))
    columns.sync(cache.node_infos(), cache)  # the refresh itself does not raise
    with pytest.raises(ValueError, match="not a number"):
        columns.derived("price", _label_number)


def test_a_derived_value_beyond_the_exact_range_means_per_node() -> None:
    cache = Cache()
    cache.add_node(make_node("a", labels={"price": str(2**60)}))
    columns = NodeColumns()
    columns.sync(cache.node_infos(), cache)
    assert columns.derived("price", _label_number) is None


def test_a_reader_the_change_log_no_longer_reaches_rebuilds() -> None:
    cache = Cache()
    cache.add_node(make_node("a"))
    generation = cache.generation
    assert cache.changed_since(generation) == []
    for i in range(70_000):
        cache.assume(make_pod(f"p{i}", requests={"cpu": "1m"}), NodeName("a"))
    assert cache.changed_since(generation) is None
    columns = NodeColumns()
    columns.sync(cache.node_infos(), cache)
    assert np.array_equal(columns.data, rebuilt(cache).data)


# -- the whole algorithm: batch against node by node ---------------------------------------------


def outcome(alg: Algorithm, fwk: Framework, pod: PodInfo, snapshot: Any) -> tuple[object, ...]:
    try:
        result = alg.schedule(fwk, CycleState(), pod, snapshot)
    except FitError as error:
        diagnosis = error.diagnosis
        return (
            "fit",
            str(error),
            dict(diagnosis.node_to_status.statuses),
            diagnosis.node_to_status.absent,
            sorted(diagnosis.unschedulable_plugins),
            alg.next_start,
        )
    except SchedulingError as error:
        return ("error", error.status, alg.next_start)
    return ("ok", result, alg.next_start)


MOST_ALLOCATED_CONFIG = {
    "apiVersion": "kubescheduler.config.k8s.io/v1",
    "kind": "KubeSchedulerConfiguration",
    "profiles": [
        {
            "schedulerName": "py-scheduler",
            "pluginConfig": [
                {
                    "name": "NodeResourcesFit",
                    "args": {"scoringStrategy": {"type": "MostAllocated"}},
                }
            ],
        }
    ],
}


@pytest.mark.parametrize(
    ("seed", "count", "percentage", "raw_config"),
    [
        (1, 40, 0, {}),
        (2, 260, 0, {}),
        (3, 300, 100, {}),
        (4, 180, 10, {}),
        (5, 150, 0, MOST_ALLOCATED_CONFIG),
    ],
)
def test_schedules_equal_node_by_node_evaluation(
    seed: int, count: int, percentage: int, raw_config: dict[str, Any]
) -> None:
    rng = random.Random(seed)
    pool = ThreadPoolExecutor(max_workers=4)
    evaluators: list[Evaluator] = [
        NodeByNode(),
        Columnar(min_nodes=0),
        Threaded(pool, 4),
        Recording(Columnar(min_nodes=0)),
        Incremental(Columnar(min_nodes=0), min_nodes=0),
        Recording(Incremental(Columnar(min_nodes=0), min_nodes=0)),
    ]
    if percentage == 100:
        evaluators.append(Explaining())  # it judges every node: so do the others here
    caches = [random_cache(random.Random(seed), count) for _ in evaluators]
    nominators = [Nominator() for _ in evaluators]
    frameworks = [
        default_framework(cache, nominator=nominator, raw_config=raw_config)
        for cache, nominator in zip(caches, nominators, strict=True)
    ]
    algorithms = [
        Algorithm(percentage_of_nodes_to_score=percentage, rng=random.Random(seed), evaluator=e)
        for e in evaluators
    ]
    kinds = {"ok": 0, "fit": 0}
    for i in range(120):
        pod_rng = random.Random(rng.random())
        priority = pod_rng.choice([0, 10])
        pod = random_pod(pod_rng, f"p{i}", priority=priority, uid=f"p{i}")
        if pod_rng.random() < 0.2:
            pod = random_pod(
                pod_rng,
                f"p{i}",
                uid=f"p{i}",
                tolerations=[{"key": "dedicated", "operator": "Exists"}],
            )
        got = [
            outcome(alg, fwk, pod, cache)
            for alg, fwk, cache in zip(algorithms, frameworks, caches, strict=True)
        ]
        assert all(g == got[0] for g in got[1:]), i
        kinds[str(got[0][0])] = kinds.get(str(got[0][0]), 0) + 1
        if got[0][0] == "ok":
            result = got[0][1]
            assert isinstance(result, ScheduleResult)
            node = result.node
            for cache in caches:
                cache.assume(pod, node)
            # Some placements become nominations instead, for the two-pass filter.
            if pod_rng.random() < 0.2:
                for nominator in nominators:
                    nominator.add(make_pod(f"nom{i}", uid=f"nom{i}", priority=20), node)
    pool.shutdown()
    assert kinds["ok"] > 10, kinds
    assert kinds["fit"] > 3, kinds


def traced(alg: Algorithm, fwk: Framework, pod: PodInfo, cache: Cache) -> tuple[object, ...]:
    """What the result annotations read of one cycle: the trace and the diagnosis."""
    state = CycleState()
    try:
        node: NodeName | None = alg.schedule(fwk, state, pod, cache).node
    except FitError:
        node = None
    trace = trace_of(state)
    diagnosis = state.get(DIAGNOSIS_KEY)
    scores = {p: (s.raw, s.normalized, s.weight) for p, s in trace.scores.items()}
    return (
        node,
        trace.candidates,
        trace.verdicts,
        trace.scored,
        scores,
        trace.totals,
        dict(diagnosis.node_to_status.statuses) if diagnosis is not None else None,
    )


@pytest.mark.parametrize("percentage", [0, 100])
def test_recording_over_kept_verdicts_keeps_the_trace_of_node_by_node(percentage: int) -> None:
    """The result annotations of a live scheduler on the incremental evaluator:
    every judged node with its status (rejections a pod that fits too), every
    score, as recorded over node-by-node evaluation."""
    evaluators: list[Evaluator] = [
        Recording(NodeByNode()),
        Recording(Incremental(Columnar(min_nodes=0), min_nodes=0)),
    ]
    caches = [random_cache(random.Random(11), 150) for _ in evaluators]
    frameworks = [default_framework(cache) for cache in caches]
    algorithms = [
        Algorithm(percentage_of_nodes_to_score=percentage, rng=random.Random(5), evaluator=e)
        for e in evaluators
    ]
    rng = random.Random(17)
    rejected = 0
    for i in range(60):
        pod = random_pod(random.Random(rng.random()), f"p{i}", uid=f"p{i}")
        got = [
            traced(alg, fwk, pod, cache)
            for alg, fwk, cache in zip(algorithms, frameworks, caches, strict=True)
        ]
        assert got[1] == got[0], i
        node = cast(NodeName | None, got[0][0])
        if node is not None:
            rejected += len(cast(dict[str, Status], got[0][6]))
            for cache in caches:
                cache.assume(pod, node)
    assert rejected > 0  # pods that fit had rejected nodes in their diagnosis


def test_a_plain_snapshot_is_reread_each_cycle() -> None:
    rng = random.Random(9)
    nodes = random_infos(rng, 120)
    snapshot = FakeSnapshot(nodes)
    fwk = default_framework(snapshot)
    sequential = Algorithm(
        percentage_of_nodes_to_score=0, rng=random.Random(1), evaluator=NodeByNode()
    )
    batched = Algorithm(
        percentage_of_nodes_to_score=0, rng=random.Random(1), evaluator=Columnar(min_nodes=0)
    )
    for i in range(40):
        pod = random_pod(rng, f"p{i}", uid=f"p{i}")
        first = outcome(sequential, fwk, pod, snapshot)
        assert outcome(batched, fwk, pod, snapshot) == first
        if first[0] == "ok":
            result = first[1]
            assert isinstance(result, ScheduleResult)
            next(n for n in nodes if n.name == result.node).add_pod(pod)


# -- failures stay the same ----------------------------------------------------------------------


def batched_or_not(batch: bool) -> Algorithm:
    return Algorithm(
        percentage_of_nodes_to_score=0,
        rng=random.Random(0),
        evaluator=Columnar(min_nodes=0) if batch else NodeByNode(),
    )


class BatchScore(FakeScore):
    """A score plugin with a batch form that agrees with ``scores``."""

    name = "BatchScore"
    batch_normalizes = False
    batch_calls = 0

    def score_batch(self, state: CycleState, pod: PodInfo, columns: NodeColumns, rows: Any) -> Any:
        self.batch_calls += 1
        return np.array([self.score(state, pod, columns.nodes[r]) for r in rows], dtype=np.int64)


class BrokenBatchFilter(FakeFilter):
    name = "BrokenBatchFilter"

    def filter_batch(self, state: CycleState, pod: PodInfo, columns: NodeColumns, rows: Any) -> Any:
        raise RuntimeError("batch form broken")


def test_an_invalid_batch_score_is_reported_as_per_node() -> None:
    nodes = [node_info(n) for n in ("a", "b", "c")]
    snapshot = FakeSnapshot(nodes)
    messages = []
    for batch in (False, True):
        fwk = framework(BatchScore({"a": 5, "b": 101, "c": -1}), snapshot=snapshot)
        alg = batched_or_not(batch)
        with pytest.raises(SchedulingError) as caught:
            alg.schedule(fwk, CycleState(), make_pod("p"), snapshot)
        messages.append(caught.value.status)
    assert messages[0] == messages[1]
    assert messages[0].message.startswith("plugin 'BatchScore' returns an invalid score 101")


def test_a_raising_batch_filter_falls_back_to_per_node_statuses() -> None:
    nodes = [node_info(n) for n in ("a", "b", "c")]
    snapshot = FakeSnapshot(nodes)
    broken = BrokenBatchFilter(per_node={"b": Status.unschedulable("no b")})
    fwk = framework(broken, named(FakeScore, "S")(1), snapshot=snapshot)
    alg = batched_or_not(True)
    result = alg.schedule(fwk, CycleState(), make_pod("p"), snapshot)
    assert (result.evaluated, result.feasible) == (3, 2)
    assert broken.calls == ["a", "b", "c"]


class BrokenBatchScore(FakeScore):
    name = "BrokenBatchScore"
    batch_normalizes = False

    def score_batch(self, state: CycleState, pod: PodInfo, columns: NodeColumns, rows: Any) -> Any:
        raise RuntimeError("batch score broken")


def test_a_raising_batch_form_is_logged_with_its_plugin_and_judged_per_node() -> None:
    nodes = [node_info(n) for n in ("a", "b", "c")]
    snapshot = FakeSnapshot(nodes)
    broken = BrokenBatchFilter(per_node={"b": Status.unschedulable("no b")})
    scorer = BrokenBatchScore({"a": 10, "c": 70})
    fwk = framework(broken, scorer, snapshot=snapshot)
    with structlog.testing.capture_logs() as logs:
        result = batched_or_not(True).schedule(fwk, CycleState(), make_pod("p"), snapshot)
    assert result.node == "c"
    assert scorer.calls == 2
    raised = [(e["event"], e["plugin"], e["error"]) for e in logs if e["log_level"] == "error"]
    assert raised == [
        ("batch filter failed", "BrokenBatchFilter", "RuntimeError('batch form broken')"),
        ("batch score failed", "BrokenBatchScore", "RuntimeError('batch score broken')"),
    ]


class WrongBatchFilter(FakeFilter):
    name = "WrongBatchFilter"

    def filter_batch(self, state: CycleState, pod: PodInfo, columns: NodeColumns, rows: Any) -> Any:
        return [True] * len(rows)  # a list, not a numpy bool array


class WrongBatchScore(FakeScore):
    name = "WrongBatchScore"
    batch_normalizes = False

    def score_batch(self, state: CycleState, pod: PodInfo, columns: NodeColumns, rows: Any) -> Any:
        return np.zeros(len(rows) + 1, dtype=np.int64)  # one score too many


def test_a_batch_form_returning_the_wrong_shape_or_type_is_judged_per_node() -> None:
    nodes = [node_info(n) for n in ("a", "b", "c")]
    snapshot = FakeSnapshot(nodes)
    wrong = WrongBatchFilter(per_node={"b": Status.unschedulable("no b")})
    scorer = WrongBatchScore({"a": 10, "c": 70})
    fwk = framework(wrong, scorer, snapshot=snapshot)
    with structlog.testing.capture_logs() as logs:
        result = batched_or_not(True).schedule(fwk, CycleState(), make_pod("p"), snapshot)
    assert (result.node, result.feasible) == ("c", 2)
    assert wrong.calls == ["a", "b", "c"]
    failed = [(e["event"], e["error"]) for e in logs if e["log_level"] == "error"]
    assert failed == [
        ("batch filter failed", "PluginContractError('returned list, not 3 bools')"),
        ("batch score failed", "PluginContractError('returned an array of 3 int64, not 2 ints')"),
    ]


def test_a_filter_error_after_a_batch_filter_stops_at_the_same_node() -> None:
    nodes = [node_info(n, allocatable={"cpu": "1", "memory": "1Gi", "pods": "110"}) for n in "abcd"]
    snapshot = FakeSnapshot(nodes)
    fit = NodeResourcesFit(NodeResourcesFitArgs(), handle=HANDLE)
    pod = make_pod("p", requests={"cpu": "500m"})
    outcomes = []
    for batch in (False, True):
        boom = named(FakeFilter, "Boom")(per_node={"c": Status.error("broken")})
        fwk = framework(fit, boom, named(FakeScore, "S")(1), snapshot=snapshot)
        alg = batched_or_not(batch)
        alg.next_start = 1
        outcomes.append((outcome(alg, fwk, pod, snapshot), boom.calls))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == (
        "error",
        Status.error("running 'Boom' filter plugin: broken").with_plugin("Boom"),
        3,
    )


def test_batch_scores_reach_the_totals() -> None:
    nodes = [node_info(n) for n in ("a", "b", "c")]
    snapshot = FakeSnapshot(nodes)
    scorer = BatchScore({"a": 10, "b": 90, "c": 40})
    fwk = framework(scorer, named(FakeFilter, "Pass")(SUCCESS), snapshot=snapshot)
    alg = batched_or_not(True)
    assert alg.schedule(fwk, CycleState(), make_pod("p"), snapshot).node == "b"
    assert scorer.batch_calls == 1


def test_a_handful_of_nodes_is_judged_node_by_node() -> None:
    nodes = [node_info(n) for n in ("a", "b", "c")]
    snapshot = FakeSnapshot(nodes)
    scorer = BatchScore({"a": 10, "b": 90, "c": 40})
    fwk = framework(scorer, named(FakeFilter, "Pass")(SUCCESS), snapshot=snapshot)
    alg = Algorithm(percentage_of_nodes_to_score=0, rng=random.Random(0))
    assert alg.schedule(fwk, CycleState(), make_pod("p"), snapshot).node == "b"
    assert (scorer.batch_calls, scorer.calls) == (0, 3)
