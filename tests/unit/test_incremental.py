"""The incremental evaluator decides exactly what node-by-node evaluation
decides: over generated clusters with churn (pods added, updated, removed,
assumed, confirmed and forgotten, nodes removed, re-added and updated in
labels, taints and images, nominations made and cleared), every cycle's
feasible set, statuses, FailedScheduling message, round-robin start, scores
and host (random tie-breaking included, from the same seed) are the same.
Pods come from a few templates, so signatures repeat as a Deployment's
replicas do, with labels that differ between replicas now and then."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar

import pytest

from py_scheduler import config, plugins
from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.registry import PluginSpec, no_args
from py_scheduler.framework.runtime import Framework
from py_scheduler.framework.status import SUCCESS, Status
from py_scheduler.framework.types import FitError
from py_scheduler.model import (
    HOSTNAME_LABEL,
    ZONE_LABEL,
    Node,
    NodeInfo,
    NodeName,
    PodInfo,
    PodUID,
)
from py_scheduler.model.server import NEWEST, ServerVersion, offline
from py_scheduler.scheduling.algorithm import Algorithm, ScheduleResult, SchedulingError
from py_scheduler.scheduling.cache import Cache
from py_scheduler.scheduling.evaluation import Columnar, Evaluator, NodeByNode
from py_scheduler.scheduling.incremental import Incremental
from py_scheduler.scheduling.nominator import Nominator
from py_scheduler.scheduling.signatures import SIGNATURE_FIELDS, UNREAD_FIELDS, signature
from tests.builders import make_node, make_pod, node_info
from tests.fakes import FakeSnapshot
from tests.unit import random_clusters
from tests.unit.helpers_core import FakeFilter, FakeScore, framework, named

Raw = dict[str, Any]
IMAGES = ("registry.local/a:1", "registry.local/b:1", "registry.local/c:1")
SOFT_TAINT: Raw = {"key": "soft", "value": "y", "effect": "PreferNoSchedule"}
HARD_TAINT: Raw = {"key": "dedicated", "value": "x", "effect": "NoSchedule"}


# -- generated clusters ---------------------------------------------------------------------------


def cluster_node(rng: random.Random, name: str) -> Node:
    labels = {HOSTNAME_LABEL: name}
    if rng.random() < 0.9:
        labels[ZONE_LABEL] = f"z{rng.randrange(3)}"
    if rng.random() < 0.7:
        labels["rack"] = f"r{rng.randrange(4)}"
    if rng.random() < 0.3:
        labels["disk"] = "ssd"
    taints = []
    if rng.random() < 0.15:
        taints.append(HARD_TAINT)
    if rng.random() < 0.15:
        taints.append(SOFT_TAINT)
    images = [
        ([image], rng.choice((50, 300, 900)) * 2**20) for image in IMAGES if rng.random() < 0.3
    ]
    return make_node(
        name,
        labels=labels,
        taints=taints,
        unschedulable=rng.random() < 0.03,
        allocatable={
            "cpu": str(rng.choice((1, 2, 4))),
            "memory": f"{rng.choice((2, 8))}Gi",
            "pods": str(rng.choice((4, 10, 110))),
        },
        images=images,
    )


def updated_node(rng: random.Random, node: Node) -> Node:
    """The same node with new taints, labels or images (a node update from the watch)."""
    fresh = cluster_node(rng, node.name)
    what = rng.choice(("taints", "labels", "images", "unschedulable"))
    if what == "taints":
        return replace(node, taints=fresh.taints)
    if what == "labels":
        return replace(node, labels=fresh.labels)
    if what == "images":
        return replace(node, images=fresh.images)
    return replace(node, unschedulable=not node.unschedulable)


Template = Callable[[str, random.Random], PodInfo]


def template(seed: float) -> Template:
    """Replicas of one workload: equal but for the name, and now and then the labels."""

    def make(name: str, rng: random.Random) -> PodInfo:
        t = random.Random(seed)
        affinity = random_clusters.affinity(t) if t.random() < 0.35 else None
        if t.random() < 0.2:
            preferred = [
                {
                    "weight": t.randint(1, 50),
                    "preference": {
                        "matchExpressions": [
                            {"key": "rack", "operator": "In", "values": [f"r{t.randrange(4)}"]}
                        ]
                    },
                }
            ]
            affinity = {
                **(affinity or {}),
                "nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": preferred},
            }
        labels = {"app": t.choice(random_clusters.APPS)}
        if rng.random() < 0.2:
            labels = {"app": rng.choice(random_clusters.APPS)}
        return make_pod(
            name,
            uid=name,
            namespace=t.choice(random_clusters.NAMESPACES),
            labels=labels,
            requests={
                "cpu": f"{t.choice((0, 100, 250, 500, 1500))}m",
                "memory": f"{t.choice((0, 128, 512, 3000))}Mi",
            },
            affinity=affinity,
            spread=random_clusters.spread(t) if t.random() < 0.4 else (),
            node_selector={"disk": "ssd"} if t.random() < 0.15 else None,
            tolerations=[{"key": "dedicated", "operator": "Exists"}] if t.random() < 0.3 else (),
            host_ports=[("0.0.0.0", "TCP", 8080)] if t.random() < 0.1 else (),
            images=[t.choice(IMAGES)] if t.random() < 0.6 else (),
            priority=t.choice((0, 10)),
            # Now and then a pod that names its node: which of NodeName and
            # NodeUnschedulable rejects a cordoned node first is the release's.
            node_name=f"node-{t.randrange(30):03d}" if t.random() < 0.1 else "",
        )

    return make


class Cluster:
    """One copy of the generated cluster; copies built from the same seed
    go through the same changes."""

    def __init__(
        self,
        seed: int,
        nodes: int,
        raw_config: Raw,
        evaluator: Evaluator,
        pct: int,
        release: ServerVersion = NEWEST,
    ):
        self.rng = random.Random(seed)
        self.cache = Cache()
        for i in range(nodes):
            self.cache.add_node(cluster_node(self.rng, f"node-{i:03d}"))
        self.churn = random_clusters.Churn(self.rng, self.cache, 0)
        self.churn.populate(nodes * 2)
        self.nominator = Nominator()
        profile = config.parse(raw_config, release=release).profiles[0]
        self.fwk = Framework(
            profile,
            plugins.IN_TREE,
            snapshot=self.cache,
            objects=random_clusters.objects(),
            cluster=None,  # type: ignore[arg-type]  # never binds here
            nominator=self.nominator,
            server=offline(release),
        )
        self.evaluator = evaluator
        self.alg = Algorithm(
            percentage_of_nodes_to_score=pct, rng=random.Random(seed), evaluator=evaluator
        )

    def outcome(self, pod: PodInfo) -> tuple[object, ...]:
        try:
            result = self.alg.schedule(self.fwk, CycleState(), pod, self.cache)
        except FitError as error:
            diagnosis = error.diagnosis
            return (
                "fit",
                str(error),
                list(diagnosis.node_to_status.statuses.items()),
                diagnosis.node_to_status.absent,
                sorted(diagnosis.unschedulable_plugins),
                self.alg.next_start,
            )
        except SchedulingError as error:
            return ("error", error.status, self.alg.next_start)
        return ("ok", result, self.alg.next_start)

    def change(self, rng: random.Random, pod: PodInfo, outcome: tuple[object, ...]) -> None:
        """Place or nominate the pod, then churn; ``rng`` is shared by all copies' callers."""
        if outcome[0] == "ok":
            result = outcome[1]
            assert isinstance(result, ScheduleResult)
            if rng.random() < 0.15:
                self.nominator.add(
                    replace(pod, uid=PodUID(f"nom-{pod.uid}"), priority=20), result.node
                )
            else:
                self.cache.assume(pod, result.node)
        if rng.random() < 0.1:
            for node in list(self.nominator.nominated_nodes()):
                for nominated in self.nominator.nominated_pods_for(node):
                    self.nominator.remove(nominated)
        for _ in range(rng.choice((0, 0, 1, 2))):
            self.churn.step()
        if rng.random() < 0.15:
            names = self.cache.node_names()
            if names:
                current = self.cache.get(rng.choice(names))
                assert current is not None
                self.cache.update_node(updated_node(rng, current.node))


MOST_ALLOCATED: Raw = {
    "apiVersion": "kubescheduler.config.k8s.io/v1",
    "kind": "KubeSchedulerConfiguration",
    "profiles": [
        {
            "schedulerName": "py-scheduler",
            "pluginConfig": [
                {"name": "NodeResourcesFit", "args": {"scoringStrategy": {"type": "MostAllocated"}}}
            ],
        }
    ],
}


def evaluators() -> list[Evaluator]:
    return [NodeByNode(), Incremental(Columnar(min_nodes=0), min_nodes=0), Incremental()]


@pytest.mark.parametrize(
    ("seed", "nodes", "percentage", "raw_config", "release"),
    [
        (1, 30, 0, {}, NEWEST),
        (2, 150, 0, {}, NEWEST),
        (3, 220, 10, {}, NEWEST),
        (4, 120, 100, {}, NEWEST),
        (5, 160, 0, MOST_ALLOCATED, NEWEST),
        (6, 260, 5, {}, NEWEST),
        # The oldest release: NodeUnschedulable before NodeName, BalancedAllocation's
        # score of the balance itself rather than its change.
        (7, 150, 0, {}, ServerVersion(1, 35)),
        (8, 160, 10, MOST_ALLOCATED, ServerVersion(1, 35)),
    ],
)
def test_decides_exactly_as_node_by_node_evaluation_under_churn(
    seed: int, nodes: int, percentage: int, raw_config: Raw, release: ServerVersion
) -> None:
    clusters = [Cluster(seed, nodes, raw_config, e, percentage, release) for e in evaluators()]
    rng = random.Random(seed * 7919)
    templates = [template(rng.random()) for _ in range(6)]
    kinds: dict[str, int] = {}
    for i in range(220):
        pod_rng_seed = rng.random()
        make = rng.choice(templates[: 2 + i // 40])  # new workloads arrive over time
        outcomes = [c.outcome(make(f"p{i}", random.Random(pod_rng_seed))) for c in clusters]
        assert outcomes[1] == outcomes[0], i
        assert outcomes[2] == outcomes[0], i
        kinds[str(outcomes[0][0])] = kinds.get(str(outcomes[0][0]), 0) + 1
        change_seed = rng.random()
        for cluster, got in zip(clusters, outcomes, strict=True):
            pod = make(f"p{i}", random.Random(pod_rng_seed))
            cluster.change(random.Random(change_seed), pod, got)
    assert kinds.get("ok", 0) > 40, kinds
    assert kinds.get("fit", 0) > 3, kinds
    incremental = clusters[1].evaluator
    assert isinstance(incremental, Incremental)
    # Kept verdicts served: far fewer node-local judgements than candidates.
    assert incremental.cycles > 150
    assert incremental.judged < nodes * incremental.cycles / 2, incremental.judged


# -- signatures ------------------------------------------------------------------------------------


def test_every_pod_field_is_in_the_signature_or_said_unread() -> None:
    fields = {f.name for f in dataclasses.fields(PodInfo)}
    assert set(SIGNATURE_FIELDS).isdisjoint(UNREAD_FIELDS)
    assert set(SIGNATURE_FIELDS) | set(UNREAD_FIELDS) == fields


def test_replicas_share_a_signature_and_what_a_node_local_plugin_reads_parts_them() -> None:
    base: Raw = {"requests": {"cpu": "100m"}, "labels": {"app": "web"}, "images": ["a:1"]}
    one = make_pod("web-1", uid="1", **base)
    two = make_pod("web-2", uid="2", **{**base, "labels": {"app": "web", "pod-index": "2"}})
    assert signature(one) == signature(two)
    for change in (
        {"requests": {"cpu": "200m"}},
        {"images": ["b:1"]},
        {"node_selector": {"disk": "ssd"}},
        {"tolerations": [{"key": "dedicated", "operator": "Exists"}]},
        {"host_ports": [("0.0.0.0", "TCP", 80)]},
    ):
        assert signature(make_pod("web-3", uid="3", **{**base, **change})) != signature(one)


# -- what is kept, and what is not ----------------------------------------------------------------


def default_profile(cache: Cache, nominator: Nominator | None = None) -> Framework:
    return Framework(
        config.parse({}).profiles[0],
        plugins.IN_TREE,
        snapshot=cache,
        objects=random_clusters.objects(),
        cluster=None,  # type: ignore[arg-type]  # never binds here
        nominator=nominator if nominator is not None else Nominator(),
    )


def test_only_nodes_touched_since_the_last_cycle_are_judged_again() -> None:
    cache = Cache()
    for i in range(200):
        cache.add_node(make_node(f"n{i:03d}"))
    fwk = default_profile(cache)
    evaluator = Incremental()
    alg = Algorithm(percentage_of_nodes_to_score=100, rng=random.Random(1), evaluator=evaluator)
    for i in range(5):
        pod = make_pod(f"p{i}", uid=f"p{i}", requests={"cpu": "100m"})
        result = alg.schedule(fwk, CycleState(), pod, cache)
        cache.assume(pod, result.node)
    # The first cycle judges all 200 nodes; each later one only the node just assumed on.
    assert evaluator.judged == 200 + 4


def test_a_snapshot_without_a_change_log_is_judged_by_the_fallback() -> None:
    nodes = [node_info(f"n{i}") for i in range(50)]
    snapshot = FakeSnapshot(nodes)
    scorer = named(FakeScore, "S")({f"n{i}": i for i in range(50)})
    fwk = framework(named(FakeFilter, "Pass")(SUCCESS), scorer, snapshot=snapshot)
    evaluator = Incremental(min_nodes=0)
    alg = Algorithm(percentage_of_nodes_to_score=0, rng=random.Random(0), evaluator=evaluator)
    assert alg.schedule(fwk, CycleState(), make_pod("p"), snapshot).node == "n49"
    assert evaluator.cycles == 0


def test_an_error_stops_the_walk_at_the_same_node_and_is_not_kept() -> None:
    cache = Cache()
    for name in "abcd":
        cache.add_node(make_node(name))
    outcomes = []
    calls = []
    for evaluator in (NodeByNode(), Incremental(min_nodes=0)):
        boom = named(FakeFilter, "Boom")(per_node={"c": Status.error("broken")})
        fwk = framework(boom, named(FakeScore, "S")(1), snapshot=cache)
        alg = Algorithm(percentage_of_nodes_to_score=0, rng=random.Random(0), evaluator=evaluator)
        alg.next_start = 1
        got = []
        for _ in range(2):
            try:
                alg.schedule(fwk, CycleState(), make_pod("p"), cache)
            except SchedulingError as error:
                got.append((error.status, alg.next_start))
        outcomes.append(got)
        calls.append(boom.calls)
    broken = Status.error("running 'Boom' filter plugin: broken").with_plugin("Boom")
    assert outcomes[0] == outcomes[1] == [(broken, 3), (broken, 3)]
    # Asked again in the second cycle: an Error is never kept.
    assert calls[1].count("c") == 2


def test_nominated_pods_make_their_node_judged_afresh() -> None:
    cache = Cache()
    for i in range(60):
        cache.add_node(
            make_node(f"n{i:02d}", allocatable={"cpu": "1", "memory": "4Gi", "pods": "110"})
        )
    nominator = Nominator()
    fwk = default_profile(cache, nominator)
    alg = Algorithm(percentage_of_nodes_to_score=100, rng=random.Random(1), evaluator=Incremental())
    pod = make_pod("p0", uid="p0", requests={"cpu": "800m"})
    alg.schedule(fwk, CycleState(), pod, cache)
    # A higher-priority pod nominated to every node but one leaves room only there.
    for i in range(59):
        nominator.add(
            make_pod(f"big{i}", uid=f"big{i}", priority=100, requests={"cpu": "500m"}), f"n{i:02d}"
        )
    result = alg.schedule(
        fwk, CycleState(), make_pod("p1", uid="p1", requests={"cpu": "800m"}), cache
    )
    assert result.node == NodeName("n59")


def nominated_run(evaluator: Evaluator, seed: int) -> list[object]:
    """Pods of two shapes on a cluster where nominations come and go."""
    rng = random.Random(seed)
    cache = Cache()
    for i in range(100):
        cache.add_node(
            make_node(f"n{i:03d}", allocatable={"cpu": "1", "memory": "8Gi", "pods": "110"})
        )
    nominator = Nominator()
    fwk = default_profile(cache, nominator)
    alg = Algorithm(percentage_of_nodes_to_score=0, rng=random.Random(seed), evaluator=evaluator)
    got: list[object] = []
    for i in range(120):
        cpu = rng.choice(("600m", "900m"))
        pod = make_pod(f"p{i}", uid=f"p{i}", requests={"cpu": cpu}, priority=rng.choice((0, 50)))
        try:
            result = alg.schedule(fwk, CycleState(), pod, cache)
            got.append(result)
            cache.assume(pod, result.node)
        except FitError as error:
            got.append(str(error))
        for _ in range(rng.choice((0, 1, 3))):
            node = f"n{rng.randrange(100):03d}"
            big = make_pod(
                f"big{i}-{node}",
                uid=f"big{i}-{node}",
                priority=rng.choice((20, 100)),
                requests={"cpu": "700m"},
            )
            nominator.add(big, node)
        if rng.random() < 0.1:
            for node in list(nominator.nominated_nodes()):
                for nominated in list(nominator.nominated_pods_for(node))[:1]:
                    nominator.remove(nominated)
    return got


def test_verdicts_on_nodes_with_nominated_pods_are_kept_until_either_changes() -> None:
    incremental = Incremental()
    for seed in (1, 2):
        want = nominated_run(NodeByNode(), seed)
        got = nominated_run(incremental, seed)
        assert got == want
    assert any(isinstance(o, str) for o in want)
    # Only node-local filters run for these pods: verdicts with nominated pods were kept.
    assert incremental.nominated_kept > 1000, incremental.nominated_kept


def test_image_counts_changed_on_other_nodes_reach_every_kept_score() -> None:
    image = "registry.local/big:1"
    outcomes = []
    for evaluator in (NodeByNode(), Incremental()):
        cache = Cache()
        for i in range(60):
            images = [([image], 900 * 2**20)] if i == 0 else []
            cache.add_node(make_node(f"n{i:02d}", images=images))
        fwk = default_profile(cache)
        alg = Algorithm(percentage_of_nodes_to_score=100, rng=random.Random(3), evaluator=evaluator)
        got = [alg.schedule(fwk, CycleState(), make_pod("p0", images=[image]), cache).node]
        # Every other node pulls the image: n00's score rises although n00 never changed.
        for i in range(1, 60):
            cache.update_node(make_node(f"n{i:02d}", images=[([image], 900 * 2**20)]))
        for j in range(1, 6):
            pod = make_pod(f"p{j}", uid=f"p{j}", images=[image])
            got.append(alg.schedule(fwk, CycleState(), pod, cache).node)
        outcomes.append(got)
    assert outcomes[0] == outcomes[1]


# -- out-of-tree plugins ---------------------------------------------------------------------------


class Quota:
    """An out-of-tree plugin with per-node forms only, reading state the cache
    never reports (as a plugin reading its own custom resources does): nodes
    that ran out of a quota it keeps, and a preference per node."""

    name: ClassVar[str] = "Quota"

    def __init__(self) -> None:
        self.exhausted: set[str] = set()
        self.preferred: dict[str, int] = {}
        self.filtered = 0

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        self.filtered += 1
        if node.name in self.exhausted:
            return Status.unschedulable("node's quota is exhausted")
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return self.preferred.get(node.name, 0)


def with_quota(cache: Cache, quota: Quota) -> Framework:
    registry = {
        **plugins.IN_TREE,
        Quota.name: PluginSpec(Quota.name, no_args, lambda _a, _h: quota),
    }
    raw: Raw = {
        **{k: MOST_ALLOCATED[k] for k in ("apiVersion", "kind")},
        "profiles": [
            {
                "schedulerName": "py-scheduler",
                "plugins": {"multiPoint": {"enabled": [{"name": Quota.name, "weight": 5}]}},
            }
        ],
    }
    return Framework(
        config.parse(raw, registry=registry).profiles[0],
        registry,
        snapshot=cache,
        objects=random_clusters.objects(),
        cluster=None,  # type: ignore[arg-type]  # never binds here
        nominator=Nominator(),
    )


def test_an_out_of_tree_plugin_with_per_node_forms_only_is_judged_every_cycle() -> None:
    """Its verdicts and scores change with no node touched in the cache: the
    incremental evaluator keeps nothing of it and decides as node by node."""
    runs = []
    for evaluator in (NodeByNode(), Incremental()):
        cache = Cache()
        for i in range(120):
            cache.add_node(make_node(f"n{i:03d}"))
        quota = Quota()
        fwk = with_quota(cache, quota)
        alg = Algorithm(percentage_of_nodes_to_score=100, rng=random.Random(3), evaluator=evaluator)
        chosen: list[str] = []
        for i in range(6):
            # The plugin's own state moves, the cache does not (no pod is assumed).
            quota.exhausted = {f"n{j:03d}" for j in range(i * 20)}
            quota.preferred = {f"n{119 - i:03d}": 100}
            pod = make_pod(f"p{i}", uid=f"p{i}", requests={"cpu": "100m"})
            chosen.append(alg.schedule(fwk, CycleState(), pod, cache).node)
        quota.exhausted = {f"n{j:03d}" for j in range(120)}
        with pytest.raises(FitError) as fit:
            alg.schedule(fwk, CycleState(), make_pod("last", uid="last"), cache)
        runs.append((chosen, str(fit.value), quota.filtered))
    assert runs[1][:2] == runs[0][:2]
    assert runs[0][0] == [f"n{119 - i:03d}" for i in range(6)]
    assert "120 node's quota is exhausted" in runs[0][1]
    # Every cycle asked the plugin about every candidate the kept verdicts let through.
    assert runs[1][2] == runs[0][2]
