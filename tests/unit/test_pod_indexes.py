"""The cache's pod indexes stay equal to a fresh walk over its pods through
every kind of change, are built lazily, and drop selections left idle."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import replace

import pytest

from py_scheduler.framework.pod_counts import PodCounts, TermCounts, TermKind, selected, terms_of
from py_scheduler.model import NodeName, PodInfo
from py_scheduler.model.selectors import LabelSelector, Requirement
from py_scheduler.scheduling import pod_indexes
from py_scheduler.scheduling.cache import Cache
from tests.builders import make_node, make_pod
from tests.unit import random_clusters

WEB = LabelSelector((("app", "web"),))
DB = LabelSelector((("app", "db"),))
TIERED = LabelSelector(expressions=(Requirement("tier", "Exists", frozenset()),))
QUERIES: tuple[tuple[tuple[LabelSelector, ...], bool], ...] = (
    ((WEB,), False),
    ((WEB,), True),
    ((DB,), True),
    ((WEB, TIERED), True),
    ((LabelSelector(),), False),  # matches every pod
)


def walk_matching(
    pods: Iterable[PodInfo], selectors: tuple[LabelSelector, ...], terminating: bool
) -> dict[str, dict[NodeName, int]]:
    counts: dict[str, dict[NodeName, int]] = {}
    for pod in pods:
        if selected(pod, selectors, terminating):
            by_node = counts.setdefault(pod.namespace, {})
            node = NodeName(pod.node_name)
            by_node[node] = by_node.get(node, 0) + 1
    return counts


def walk_terms(pods: Iterable[PodInfo], kind: TermKind) -> dict[object, dict[NodeName, int]]:
    counts: dict[object, dict[NodeName, int]] = {}
    for pod in pods:
        for term in terms_of(pod, kind):
            by_node = counts.setdefault(term, {})
            node = NodeName(pod.node_name)
            by_node[node] = by_node.get(node, 0) + 1
    return counts


def plain(counts: PodCounts | TermCounts) -> dict[object, dict[NodeName, int]]:
    return {key: dict(per_node) for key, per_node in counts.items()}


def assert_consistent(cache: Cache, context: str) -> None:
    pods = list(cache.pods())
    for selectors, terminating in QUERIES:
        got = plain(cache.matching_pods(selectors, terminating=terminating))
        assert got == walk_matching(pods, selectors, terminating), (context, selectors)
    for kind in TermKind:
        assert plain(cache.held_terms(kind)) == walk_terms(pods, kind), (context, kind)


@pytest.mark.parametrize("seed", range(20))
def test_indexes_equal_a_walk_through_random_churn(seed: int) -> None:
    rng = random.Random(seed)
    cache = Cache()
    churn = random_clusters.Churn(rng, cache, nodes=8)
    churn.populate(30)
    assert_consistent(cache, "after the initial list")  # builds every selection
    for step in range(120):
        op = churn.step()
        assert_consistent(cache, f"step {step}: {op}")


def test_a_selection_is_built_on_first_query_and_then_maintained() -> None:
    cache = Cache()
    cache.add_node(make_node("n1"))
    cache.add_pod(make_pod("a", labels={"app": "web"}, node_name="n1"))
    assert cache.indexes.selection_count() == 0  # nothing is counted before someone asks

    assert cache.matching_pods((WEB,), terminating=False) == {"default": {"n1": 1}}
    assert cache.indexes.selection_count() == 1
    cache.assume(make_pod("b", labels={"app": "web"}), NodeName("n1"))
    cache.add_pod(make_pod("c", labels={"app": "web"}, node_name="n1", deleting=True))
    assert cache.matching_pods((WEB,), terminating=False) == {"default": {"n1": 2}}
    assert cache.matching_pods((WEB,), terminating=True) == {"default": {"n1": 3}}


def test_forgetting_the_last_matching_pod_leaves_no_empty_entries() -> None:
    cache = Cache()
    cache.add_node(make_node("n1"))
    cache.matching_pods((WEB,), terminating=True)
    placed = cache.assume(make_pod("a", labels={"app": "web"}), NodeName("n1"))
    assert cache.matching_pods((WEB,), terminating=True) == {"default": {"n1": 1}}
    cache.forget(placed)
    # Empty maps, not zero counts: a caller iterating them sees no node at all.
    assert cache.matching_pods((WEB,), terminating=True) == {}


def test_selections_idle_for_long_are_dropped_and_rebuilt_on_demand() -> None:
    cache = Cache()
    cache.add_node(make_node("n1"))
    cache.add_pod(make_pod("a", labels={"app": "db"}, node_name="n1"))
    cache.matching_pods((DB,), terminating=True)
    for _ in range(pod_indexes.IDLE_QUERIES + 2048):
        cache.matching_pods((WEB,), terminating=True)
    assert cache.indexes.selection_count() == 1  # only the busy one is left

    cache.add_pod(make_pod("b", labels={"app": "db"}, node_name="n1"))
    assert cache.matching_pods((DB,), terminating=True) == {"default": {"n1": 2}}
    assert cache.indexes.selection_count() == 2


def test_a_term_carried_twice_by_one_pod_counts_twice() -> None:
    term = {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "zone"}
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term, term]}}
    cache = Cache()
    cache.add_node(make_node("n1"))
    stored = make_pod("a", node_name="n1", affinity=anti)
    cache.add_pod(stored)
    held = plain(cache.held_terms(TermKind.REQUIRED_ANTI_AFFINITY))
    assert list(held.values()) == [{"n1": 2}]
    cache.remove_pod(stored)
    assert plain(cache.held_terms(TermKind.REQUIRED_ANTI_AFFINITY)) == {}


def test_a_node_back_from_the_ghosts_is_listed_with_its_affinity_pods() -> None:
    term = {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "zone"}
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    cache = Cache()
    node = make_node("n1")
    cache.add_node(node)
    cache.add_pod(make_pod("a", node_name="n1", affinity=anti))
    cache.remove_node("n1")  # the pod stays on a ghost
    assert cache.with_required_anti_affinity() == []
    assert cache.with_affinity() == []
    cache.add_node(node)
    assert [n.name for n in cache.with_required_anti_affinity()] == ["n1"]
    assert [n.name for n in cache.with_affinity()] == ["n1"]


def test_a_status_only_update_leaves_the_indexes_alone_and_a_label_change_does_not() -> None:
    cache = Cache()
    cache.add_node(make_node("n1"))
    stored = make_pod("a", labels={"app": "web"}, node_name="n1")
    cache.add_pod(stored)
    counts = cache.matching_pods((WEB,), terminating=True)
    before = plain(counts)
    cache.update_pod(make_pod("a", labels={"app": "web"}, node_name="n1", phase="Succeeded"))
    assert plain(counts) == before == {"default": {"n1": 1}}
    assert not pod_indexes.PodIndexes.counted_alike(stored, replace(stored, labels={"app": "db"}))
    assert not pod_indexes.PodIndexes.counted_alike(stored, replace(stored, deleting=True))
    cache.update_pod(make_pod("a", labels={"app": "db"}, node_name="n1"))
    assert plain(cache.matching_pods((WEB,), terminating=True)) == {}
