"""PodTopologySpread and InterPodAffinity decide the same on the real cache
(incremental indexes, and the domain counts kept across cycles) as on a
snapshot that walks every pod, on random clusters and through random churn:
PreFilter, Filter on every node (and its batch form), the PreFilter
extensions (a pod removed as preemption does, a nominated pod added),
PreScore, Score and NormalizeScore. Incoming pods repeat now and then, as
replicas do, so kept counts are brought up to date rather than rebuilt."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import pytest

from py_scheduler.framework.batch import BatchFilterPlugin, BatchScorePlugin, NodeColumns
from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.interface import Handle
from py_scheduler.framework.status import SUCCESS
from py_scheduler.model import NodeInfo, PodInfo
from py_scheduler.plugins.interpodaffinity.args import InterPodAffinityArgs
from py_scheduler.plugins.interpodaffinity.plugin import InterPodAffinity
from py_scheduler.plugins.podtopologyspread.args import PodTopologySpreadArgs
from py_scheduler.plugins.podtopologyspread.plugin import PodTopologySpread
from py_scheduler.scheduling.cache import Cache
from tests.fakes import FakeHandle, FakeObjects
from tests.unit import random_clusters

Plugin = PodTopologySpread | InterPodAffinity
PluginFactory = Callable[[Handle], Plugin]

FACTORIES: dict[str, PluginFactory] = {
    "PodTopologySpread": lambda h: PodTopologySpread(PodTopologySpreadArgs(), h),
    "InterPodAffinity": lambda h: InterPodAffinity(InterPodAffinityArgs(), h),
    "InterPodAffinity without hard weight": lambda h: InterPodAffinity(
        InterPodAffinityArgs(hard_pod_affinity_weight=0), h
    ),
}


def outcomes(
    plugin: Plugin,
    pod: PodInfo,
    nodes: Sequence[NodeInfo],
    feasible: Sequence[int],
    victim: tuple[PodInfo, int] | None,
    nominated: tuple[PodInfo, int],
) -> dict[str, object]:
    """Everything the scheduler would learn from the plugin for ``pod``."""
    out: dict[str, object] = {}
    state = CycleState()
    _, out["pre_filter"] = plugin.pre_filter(state, pod, nodes)
    out["filter"] = [plugin.filter(state, pod, n) for n in nodes]
    if isinstance(plugin, BatchFilterPlugin):
        columns = NodeColumns()
        columns.sync(nodes, None)
        passes = plugin.filter_batch(state, pod, columns, np.arange(len(nodes), dtype=np.int64))
        if passes is not None:
            assert passes.tolist() == [s.is_success for s in out["filter"]]  # type: ignore[attr-defined]
    changes: list[tuple[str, PodInfo, int]] = [("add", *nominated)]
    if victim is not None:
        changes.append(("remove", *victim))
    for change, other, at in changes:
        cloned = state.clone()
        node = nodes[at].clone()
        if change == "add":
            node.add_pod(other)
            plugin.add_pod(cloned, pod, other, node)
        else:
            node.remove_pod(other)
            plugin.remove_pod(cloned, pod, other, node)
        view = [node if i == at else n for i, n in enumerate(nodes)]
        out[change] = [plugin.filter(cloned, pod, n) for n in view]
    candidates = [nodes[i] for i in feasible]
    score_state = CycleState()
    try:
        out["pre_score"] = plugin.pre_score(score_state, pod, candidates)
    except ValueError as exc:
        out["pre_score"] = str(exc)
        return out
    scores = [plugin.score(score_state, pod, n) for n in candidates]
    out["raw_scores"] = list(scores)
    plugin.normalize_scores(score_state, pod, scores)
    out["scores"] = scores
    if isinstance(plugin, BatchScorePlugin) and out["pre_score"] == SUCCESS:
        columns = NodeColumns()
        columns.sync(nodes, None)
        rows = np.array(feasible, dtype=np.int64)
        batch = plugin.score_batch(score_state, pod, columns, rows)
        if batch is not None:
            assert batch.tolist() == scores
    return out


def compare(seed: int, factory: PluginFactory, *, steps: int, incoming: int) -> int:
    """Cache against walk over ``steps`` rounds of churn; how many decisions matched."""
    rng = random.Random(seed)
    cache = Cache()
    churn = random_clusters.Churn(rng, cache, nodes=rng.randint(3, 12))
    churn.populate(rng.randint(0, 60))
    objects: FakeObjects = random_clusters.objects()
    indexed = factory(FakeHandle(snapshot=cache, objects=objects))
    compared = 0
    earlier: list[PodInfo] = []
    for step in range(steps):
        nodes = cache.node_infos()  # the cache's own list: counts may be kept for it
        if nodes:
            walked = factory(FakeHandle(list(nodes), objects=objects))
            for i in range(incoming):
                pod = random_clusters.pod(rng, f"incoming-{step}-{i}", incoming=True)
                if earlier and rng.random() < 0.5:
                    pod = replace(rng.choice(earlier), name=f"incoming-{step}-{i}")
                earlier.append(pod)
                feasible = sorted(rng.sample(range(len(nodes)), rng.randint(1, len(nodes))))
                on_nodes = [(p, i) for i, n in enumerate(nodes) for p in n.pods.values()]
                victim = rng.choice(on_nodes) if on_nodes else None
                extra = random_clusters.pod(rng, f"nominated-{step}-{i}")
                nominated = (extra, rng.randrange(len(nodes)))
                args = (pod, nodes, feasible, victim, nominated)
                want = outcomes(walked, *args)
                assert outcomes(indexed, *args) == want, (seed, step, pod.key)
                compared += 1
        churn.step()
    return compared


@pytest.mark.parametrize("name", sorted(FACTORIES))
@pytest.mark.parametrize("seed", range(12))
def test_indexed_decisions_equal_walking_every_pod(name: str, seed: int) -> None:
    assert compare(seed, FACTORIES[name], steps=25, incoming=3) > 0
