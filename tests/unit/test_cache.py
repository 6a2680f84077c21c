"""The scheduler cache, after upstream's backend/cache cache_test.go
(assume/forget/add/update/remove) and node_tree_test.go (zone interleaving)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from py_scheduler.model import Node, NodeName, PodInfo, Resources
from py_scheduler.scheduling.cache import Cache, CacheError
from tests.builders import make_node, make_pod

REGION = "topology.kubernetes.io/region"
ZONE = "topology.kubernetes.io/zone"


def pod(name: str, node: str = "", cpu: str = "100m", **kwargs: object) -> PodInfo:
    return make_pod(name, requests={"cpu": cpu, "memory": "500"}, node_name=node, **kwargs)


def cache_with(*nodes: str) -> Cache:
    cache = Cache()
    for name in nodes:
        cache.add_node(make_node(name))
    return cache


def requested(cache: Cache, node: str) -> Resources:
    node_info = cache.get(node)
    assert node_info is not None
    return node_info.requested


def pods_on(cache: Cache, node: str) -> list[str]:
    node_info = cache.get(node)
    assert node_info is not None
    return sorted(p.name for p in node_info.pods.values())


# -- assume / forget / add / update / remove ------------------------------------------------


def test_assume_places_a_copy_on_the_node() -> None:
    cache = cache_with("n1")
    p = pod("p")
    placed = cache.assume(p, NodeName("n1"))
    assert placed is not p
    assert (placed.node_name, p.node_name) == ("n1", "")
    assert cache.is_assumed(p.uid)
    assert (cache.assumed_count(), cache.pod_count()) == (1, 1)
    assert requested(cache, "n1") == Resources(100, 500)


def test_assuming_a_pod_twice_is_an_error() -> None:
    cache = cache_with("n1", "n2")
    cache.assume(pod("p"), NodeName("n1"))
    with pytest.raises(CacheError, match=r"^pod default/p is already in the cache$"):
        cache.assume(pod("p"), NodeName("n2"))


def test_forget_undoes_an_assumption() -> None:
    cache = cache_with("n1")
    placed = cache.assume(pod("p"), NodeName("n1"))
    cache.forget(placed)
    assert not cache.is_assumed(placed.uid)
    assert cache.pod(placed.uid) is None
    assert requested(cache, "n1") == Resources()


def test_add_confirms_an_assumed_pod_without_counting_it_twice() -> None:
    cache = cache_with("n1")
    cache.assume(pod("p"), NodeName("n1"))
    cache.add_pod(pod("p", "n1"))
    assert not cache.is_assumed(pod("p").uid)
    assert requested(cache, "n1") == Resources(100, 500)
    # Once the watch confirmed the pod, a late forget must not remove it.
    cache.forget(pod("p", "n1"))
    assert requested(cache, "n1") == Resources(100, 500)
    assert cache.pod_count() == 1


def test_add_replaces_an_assumed_pod_bound_elsewhere() -> None:
    cache = cache_with("n1", "n2")
    cache.assume(pod("p"), NodeName("n1"))
    cache.add_pod(pod("p", "n2"))
    assert requested(cache, "n1") == Resources()
    assert pods_on(cache, "n1") == []
    assert pods_on(cache, "n2") == ["p"]


def test_add_of_a_known_bound_pod_updates_it() -> None:
    cache = cache_with("n1")
    cache.add_pod(pod("p", "n1", cpu="100m"))
    cache.add_pod(pod("p", "n1", cpu="300m"))
    assert requested(cache, "n1") == Resources(300, 500)


UPDATES = [
    pytest.param("100m", "200m", Resources(200, 500), id="a larger request is counted"),
    pytest.param("200m", "100m", Resources(100, 500), id="a smaller request frees room"),
]


@pytest.mark.parametrize(("before", "after", "want"), UPDATES)
def test_update_pod(before: str, after: str, want: Resources) -> None:
    cache = cache_with("n1")
    cache.add_pod(pod("p", "n1", cpu=before))
    cache.update_pod(pod("p", "n1", cpu=after))
    assert requested(cache, "n1") == want


def test_a_bound_pod_never_moves() -> None:
    cache = cache_with("n1", "n2")
    cache.add_pod(pod("p", "n1"))
    with pytest.raises(CacheError, match=r"^pod default/p moved from n1 to n2; "):
        cache.update_pod(pod("p", "n2"))


def test_update_of_an_assumed_pod_confirms_it() -> None:
    cache = cache_with("n1")
    cache.assume(pod("p"), NodeName("n1"))
    cache.update_pod(pod("p", "n1"))
    assert not cache.is_assumed(pod("p").uid)
    assert requested(cache, "n1") == Resources(100, 500)


def test_update_of_an_unknown_pod_adds_it() -> None:
    cache = cache_with("n1")
    cache.update_pod(pod("p", "n1"))
    assert pods_on(cache, "n1") == ["p"]


def test_remove_pod() -> None:
    cache = cache_with("n1")
    cache.add_pod(pod("a", "n1"))
    cache.add_pod(pod("b", "n1"))
    cache.remove_pod(pod("a", "n1"))
    cache.remove_pod(pod("never-added", "n1"))
    assert pods_on(cache, "n1") == ["b"]
    assert requested(cache, "n1") == Resources(100, 500)


def test_remove_of_an_assumed_pod_drops_the_assumption() -> None:
    cache = cache_with("n1")
    cache.assume(pod("p"), NodeName("n1"))
    cache.remove_pod(pod("p", "n1"))
    assert (cache.assumed_count(), cache.pod_count()) == (0, 0)
    assert requested(cache, "n1") == Resources()


def test_ephemeral_storage_is_accounted() -> None:
    cache = cache_with("n1")
    cache.add_pod(make_pod("p", requests={"ephemeral-storage": "500"}, node_name="n1"))
    assert requested(cache, "n1").ephemeral_storage == 500
    cache.remove_pod(make_pod("p", node_name="n1"))
    assert requested(cache, "n1").ephemeral_storage == 0


def test_every_change_bumps_the_node_generation() -> None:
    cache = cache_with("n1")
    node_info = cache.get("n1")
    assert node_info is not None
    seen = [node_info.generation]
    cache.add_pod(pod("p", "n1"))
    seen.append(node_info.generation)
    cache.update_pod(pod("p", "n1", cpu="1"))
    seen.append(node_info.generation)
    cache.remove_pod(pod("p", "n1"))
    seen.append(node_info.generation)
    assert seen == sorted(set(seen))


# -- ghosts: pods whose node the cache does not know --------------------------------------------


def test_a_pod_arriving_before_its_node_is_kept_until_the_node_arrives() -> None:
    cache = Cache()
    cache.add_pod(pod("p", "late"))
    assert cache.get("late") is None
    assert len(cache) == 0
    cache.add_node(make_node("late"))
    assert pods_on(cache, "late") == ["p"]
    assert requested(cache, "late") == Resources(100, 500)


def test_a_deleted_node_with_pods_keeps_them_until_they_go() -> None:
    cache = cache_with("n1")
    cache.add_pod(pod("p", "n1"))
    cache.remove_node("n1")
    assert cache.get("n1") is None
    assert [i.name for i in cache.node_infos()] == []
    # The node comes back (a relist raced the watch): its pods are still there.
    cache.add_node(make_node("n1"))
    assert pods_on(cache, "n1") == ["p"]


def test_a_ghost_disappears_with_its_last_pod() -> None:
    cache = cache_with("n1")
    cache.add_pod(pod("p", "n1"))
    cache.remove_node("n1")
    cache.remove_pod(pod("p", "n1"))
    cache.add_node(make_node("n1"))
    assert pods_on(cache, "n1") == []
    assert requested(cache, "n1") == Resources()


# -- relists ----------------------------------------------------------------------------------


def test_replace_pods_keeps_assumed_pods_and_drops_vanished_ones() -> None:
    cache = cache_with("n1")
    cache.assume(pod("binding"), NodeName("n1"))
    cache.add_pod(pod("gone", "n1"))
    cache.add_pod(pod("kept", "n1", cpu="200m"))
    cache.replace_pods([pod("kept", "n1", cpu="300m"), pod("new", "n1")])
    assert pods_on(cache, "n1") == ["binding", "kept", "new"]
    assert cache.is_assumed(pod("binding").uid)
    assert requested(cache, "n1") == Resources(500, 1500)


def test_replace_pods_confirms_an_assumed_pod_it_lists() -> None:
    cache = cache_with("n1")
    cache.assume(pod("p"), NodeName("n1"))
    cache.replace_pods([pod("p", "n1")])
    assert not cache.is_assumed(pod("p").uid)
    assert requested(cache, "n1") == Resources(100, 500)


def test_replace_nodes() -> None:
    cache = cache_with("a", "b")
    cache.replace_nodes([make_node("b"), make_node("c")])
    assert sorted(cache.node_names()) == ["b", "c"]
    assert sorted(i.name for i in cache.node_infos()) == ["b", "c"]


# -- zone interleaving (node_tree_test.go) ------------------------------------------------------


def tree_node(name: str, region: str | None = None, zone: str | None = None) -> Node:
    labels = {}
    if region:
        labels[REGION] = region
    if zone:
        labels[ZONE] = zone
    return make_node(name, labels=labels)


ALL_NODES = [
    tree_node("node-0"),
    tree_node("node-1", "region-1"),
    tree_node("node-2", zone="zone-2"),
    tree_node("node-3", "region-1", "zone-2"),
    tree_node("node-4", "region-1", "zone-2"),
    tree_node("node-5", "region-1", "zone-3"),
    tree_node("node-6", "region-2", "zone-2"),
    tree_node("node-7", "region-2", "zone-2"),
    tree_node("node-8", "region-2", "zone-2"),
]


def order(cache: Cache) -> list[str]:
    return [node_info.name for node_info in cache.node_infos()]


NODE_TREE_LISTS = [
    pytest.param([], [], id="an empty tree lists nothing"),
    pytest.param(ALL_NODES[:1], ["node-0"], id="one node is listed"),
    pytest.param(
        ALL_NODES[:4],
        ["node-0", "node-1", "node-2", "node-3"],
        id="four nodes in four zones are listed in order",
    ),
    pytest.param(
        ALL_NODES,
        ["node-0", "node-1", "node-2", "node-3", "node-5", "node-6", "node-4", "node-7", "node-8"],
        id="all nodes interleave across zones",
    ),
]


@pytest.mark.parametrize(("nodes", "want"), NODE_TREE_LISTS)
def test_node_tree_list(nodes: Sequence[Node], want: list[str]) -> None:
    cache = Cache()
    for node in nodes:
        cache.add_node(node)
    assert order(cache) == want


NODE_TREE_OPERATIONS = [
    pytest.param(
        ALL_NODES[2:9], ALL_NODES[2:9], "aaarrr", [],
        id="adding and removing all nodes leaves nothing",
    ),
    pytest.param(
        ALL_NODES[2:9], ALL_NODES[2:9], "aaar", ["node-3", "node-4"],
        id="adding three and removing one keeps the rest",
    ),
    pytest.param(
        ALL_NODES[2:9], ALL_NODES[2:9], "aaarrra", ["node-5"],
        id="removing three nodes then adding one lists only it",
    ),
    pytest.param(
        [*ALL_NODES[4:9], ALL_NODES[3]], [], "aaaaaa",
        ["node-4", "node-5", "node-6", "node-3", "node-7", "node-8"],
        id="a node added to an exhausted zone joins its zone",
    ),
    pytest.param(
        [*ALL_NODES[3:5], *ALL_NODES[6:8]], ALL_NODES[3:5], "aaraar", ["node-6", "node-7"],
        id="a removed zone gives way to a new one",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("to_add", "to_remove", "ops", "want"), NODE_TREE_OPERATIONS)
def test_node_tree_multi_operations(
    to_add: Sequence[Node], to_remove: Sequence[Node], ops: str, want: list[str]
) -> None:
    cache = Cache()
    adds, removes = iter(to_add), iter(to_remove)
    for op in ops:
        if op == "a":
            cache.add_node(next(adds))
        else:
            cache.remove_node(next(removes).name)
    assert order(cache) == want


def test_removing_a_node_from_a_zone_keeps_the_rest_in_order() -> None:
    cache = Cache()
    for node in ALL_NODES[:7]:
        cache.add_node(node)
    for node in ALL_NODES[1:4]:
        cache.remove_node(node.name)
    assert order(cache) == ["node-0", "node-4", "node-5", "node-6"]


def test_a_node_that_changes_zone_moves_to_the_end_of_its_new_zone() -> None:
    # node_tree_test.go TestNodeTree_UpdateNode "update a node without label"
    cache = Cache()
    for node in ALL_NODES[:7]:
        cache.add_node(node)
    cache.update_node(tree_node("node-0", "region-1", "zone-2"))
    assert order(cache) == ["node-1", "node-2", "node-3", "node-5", "node-6", "node-4", "node-0"]


# -- derived lists ----------------------------------------------------------------------------

ANTI_AFFINITY = {
    "podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": ZONE}
        ]
    }
}
PREFERRED_AFFINITY = {
    "podAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {
                "weight": 1,
                "podAffinityTerm": {"labelSelector": {}, "topologyKey": ZONE},
            }
        ]
    }
}


def test_nodes_with_affinity_pods_follow_pod_events() -> None:
    cache = cache_with("n1", "n2")
    assert (list(cache.with_affinity()), list(cache.with_required_anti_affinity())) == ([], [])
    cache.add_pod(pod("anti", "n1", affinity=ANTI_AFFINITY))
    cache.add_pod(pod("soft", "n2", affinity=PREFERRED_AFFINITY))
    assert [i.name for i in cache.with_affinity()] == ["n1", "n2"]
    assert [i.name for i in cache.with_required_anti_affinity()] == ["n1"]
    cache.remove_pod(pod("anti", "n1"))
    assert [i.name for i in cache.with_affinity()] == ["n2"]
    assert list(cache.with_required_anti_affinity()) == []


# -- image counts ------------------------------------------------------------------------------


def imaged(name: str, *images: str) -> Node:
    return make_node(name, images=[([image], 1000) for image in images])


def test_image_counts_follow_node_events() -> None:
    cache = Cache()
    cache.add_node(imaged("n1", "nginx", "redis"))
    cache.add_node(imaged("n2", "nginx"))
    assert (cache.image_nodes("nginx"), cache.image_nodes("redis")) == (2, 1)
    cache.update_node(imaged("n2", "redis"))
    assert (cache.image_nodes("nginx"), cache.image_nodes("redis")) == (1, 2)
    cache.remove_node("n1")
    assert (cache.image_nodes("nginx"), cache.image_nodes("redis")) == (0, 1)
    assert cache.image_nodes("never-pulled") == 0


def test_image_counts_survive_a_node_that_returns_while_its_pods_remain() -> None:
    cache = Cache()
    cache.add_node(imaged("n1", "nginx"))
    cache.add_node(imaged("n2", "nginx"))
    cache.add_pod(pod("p", "n1"))
    cache.remove_node("n1")
    assert cache.image_nodes("nginx") == 1
    cache.add_node(imaged("n1", "nginx"))
    assert cache.image_nodes("nginx") == 2
