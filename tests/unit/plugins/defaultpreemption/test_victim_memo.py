"""The dry run's kept answers (victim_memo) change nothing: over generated
clusters with churn (victims added, removed and relabelled, nodes updated,
nominations made and cleared, budgets replaced), a DefaultPreemption that
keeps answers finds exactly the candidates, victims, statuses and errors of
one that recomputes every node, from the same offsets."""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from typing import ClassVar

import pytest

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.interface import FilterPlugin
from py_scheduler.framework.runtime import Framework, PluginRef, ProfileSpec
from py_scheduler.framework.status import Status
from py_scheduler.model import Node, NodeInfo, PodInfo
from py_scheduler.model.budgets import DisruptionBudget
from py_scheduler.model.selectors import LabelSelector
from py_scheduler.plugins import DEFAULT_MULTI_POINT, IN_TREE
from py_scheduler.plugins.defaultpreemption.default_preemption import (
    NAME,
    SPEC,
    DefaultPreemption,
    DryRun,
)
from py_scheduler.scheduling.cache import Cache
from py_scheduler.scheduling.nominator import Nominator
from py_scheduler.scheduling.signatures import filter_signature
from tests.builders import make_node, make_pod
from tests.fakes import FakeCluster, FakeObjects

APPS = ("web", "db", "batch")


def start(rng: random.Random) -> str | None:
    """Mostly before every dry run's "now" (3600 s, then later), some not yet,
    a few after "now" at first and before it later on."""
    roll = rng.random()
    if roll < 0.3:
        return None
    if roll < 0.35:
        return "1970-01-01T01:30:00Z"
    return f"1970-01-01T00:{rng.randrange(60):02d}:00Z"


def victim(rng: random.Random, name: str, node: str) -> PodInfo:
    return make_pod(
        name,
        uid=name,
        priority=rng.choice((0, 10, 50)),
        node_name=node,
        requests={"cpu": rng.choice(("200m", "500m", "1")), "memory": "100Mi"},
        start_time=start(rng),
        labels={"app": rng.choice(APPS)},
        host_ports=[("", "TCP", 8080)] if rng.random() < 0.1 else (),
    )


def preemptor(rng: random.Random, name: str) -> PodInfo:
    return make_pod(
        name,
        uid=name,
        priority=rng.choice((40, 100)),
        requests={"cpu": rng.choice(("1", "1500m", "3")), "memory": "100Mi"},
        host_ports=[("", "TCP", 8080)] if rng.random() < 0.2 else (),
    )


def budgets(rng: random.Random, round_: int) -> list[DisruptionBudget]:
    return [
        DisruptionBudget(
            "default",
            f"pdb-{app}-{round_}",
            LabelSelector((("app", app),)),
            rng.choice((0, 1, 3)),
            frozenset(),
        )
        for app in APPS
        if rng.random() < 0.5
    ]


class World:
    """One cache, nominator and object store, judged by two plugins."""

    def __init__(self, seed: int, nodes: int) -> None:
        self.rng = random.Random(seed)
        self.cache = Cache()
        self.nominator = Nominator()
        self.objects = FakeObjects(budgets=budgets(self.rng, 0))
        for i in range(nodes):
            self.cache.add_node(self.node(f"n{i:03d}"))
        self.serial = 0
        for name in self.cache.node_names():
            for _ in range(self.rng.randrange(5)):
                self.cache.add_pod(victim(self.rng, self.name(), name))

    def name(self) -> str:
        self.serial += 1
        return f"v{self.serial}"

    def node(self, name: str) -> Node:
        return make_node(
            name,
            labels={"kubernetes.io/hostname": name},
            allocatable={"cpu": self.rng.choice(("2", "4")), "memory": "8Gi", "pods": "110"},
            unschedulable=self.rng.random() < 0.05,
        )

    def plugin(self, signer: bool) -> tuple[Framework, DefaultPreemption]:
        spec = ProfileSpec(
            scheduler_name="py-scheduler", multi_point=(*DEFAULT_MULTI_POINT, PluginRef(NAME))
        )
        fwk = Framework(
            spec,
            {**IN_TREE, NAME: SPEC},
            snapshot=self.cache,
            objects=self.objects,
            cluster=FakeCluster(),
            nominator=self.nominator,
            filter_signer=filter_signature if signer else None,
        )
        plugin = fwk.plugins[NAME]
        assert isinstance(plugin, DefaultPreemption)
        return fwk, plugin

    def churn(self, incoming: PodInfo, found: DryRun) -> None:
        rng = self.rng
        if found.candidates and rng.random() < 0.5:
            self.nominator.add(incoming, found.candidates[0].node)
        if rng.random() < 0.1:
            for node in list(self.nominator.nominated_nodes()):
                for nominated in self.nominator.nominated_pods_for(node):
                    self.nominator.remove(nominated)
        names = self.cache.node_names()
        for _ in range(rng.choice((0, 1, 2, 3))):
            info = self.cache.get(rng.choice(names))
            assert info is not None
            pods = list(info.pods.values())
            roll = rng.random()
            if pods and roll < 0.4:
                self.cache.remove_pod(rng.choice(pods))
            elif pods and roll < 0.55:
                old = rng.choice(pods)
                other = "db" if old.labels.get("app") != "db" else "web"
                self.cache.update_pod(
                    make_pod(
                        old.name,
                        uid=old.uid,
                        priority=old.priority,
                        node_name=old.node_name,
                        requests={"cpu": f"{old.requests.milli_cpu}m", "memory": "100Mi"},
                        start_time="1970-01-01T00:00:30Z",
                        labels={"app": other},
                    )
                )
            else:
                self.cache.add_pod(victim(rng, self.name(), info.name))
        if rng.random() < 0.05:
            self.cache.update_node(self.node(rng.choice(names)))
        if rng.random() < 0.08:
            self.objects.budgets = budgets(rng, self.serial)


def outcome(found: DryRun) -> tuple[object, ...]:
    return (
        [(c.node, [v.uid for v in c.victims], c.num_pdb_violations) for c in found.candidates],
        sorted(found.statuses.items()),
        found.errors,
    )


def dry_run(
    fwk: Framework, plugin: DefaultPreemption, incoming: PodInfo, offset: int, now: float
) -> DryRun:
    state = CycleState()
    nodes: Sequence[NodeInfo] = fwk.snapshot.node_infos()
    _, status, _ = fwk.run_pre_filter(state, incoming, nodes)
    assert status.is_success, status
    return plugin.dry_run(
        state, incoming, nodes, offset, plugin.num_candidates(len(nodes)), now=now
    )


@pytest.mark.parametrize(("seed", "nodes"), [(1, 40), (2, 120), (3, 300)])
def test_kept_answers_are_what_the_dry_run_finds_again(seed: int, nodes: int) -> None:
    world = World(seed, nodes)
    keeping = world.plugin(signer=True)
    fresh = world.plugin(signer=False)
    shapes = [preemptor(random.Random(seed * 31 + i), f"shape{i}") for i in range(4)]
    candidates = 0
    for i in range(150):
        shape = world.rng.choice(shapes)
        incoming = make_pod(
            f"hi{i}",
            uid=f"hi{i}",
            priority=shape.priority,
            requests={"cpu": f"{shape.requests.milli_cpu}m", "memory": "100Mi"},
            host_ports=[("", "TCP", 8080)] if shape.host_ports else (),
        )
        offset = world.rng.randrange(nodes)
        got = dry_run(*keeping, incoming, offset, 3600.0 + 60 * i)
        want = dry_run(*fresh, incoming, offset, 3600.0 + 60 * i)
        assert outcome(got) == outcome(want), i
        candidates += len(want.candidates)
        world.churn(incoming, want)
    assert candidates > 100
    # Most nodes are unchanged from one preemptor to the next: answers were kept.
    assert keeping[1].memo.hits > 150 * 10
    assert fresh[1].memo.hits == 0


def test_a_filter_that_reads_beyond_the_node_keeps_nothing() -> None:
    world = World(5, 30)
    fwk, plugin = world.plugin(signer=True)
    incoming = make_pod(
        "hi",
        uid="hi",
        priority=100,
        requests={"cpu": "3"},
        spread=[
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": "web"}},
            }
        ],
        labels={"app": "web"},
    )
    for _ in range(3):
        dry_run(fwk, plugin, incoming, 0, 3600.0)
    assert plugin.memo.hits == 0


def test_the_signer_names_only_node_local_filters() -> None:
    world = World(6, 3)
    fwk, _ = world.plugin(signer=True)
    pod = make_pod("p", uid="p", requests={"cpu": "1"})
    state = CycleState()
    fwk.run_pre_filter(state, pod, fwk.snapshot.node_infos())
    key: Hashable | None = fwk.filter_signature(state, pod)
    assert key is not None
    running: list[FilterPlugin] = [p for p in fwk.filter if p.name not in state.skip_filter]
    assert key == filter_signature(running, pod)
    assert filter_signature([*running, _Reader()], pod) is None


class _Reader:
    name: ClassVar[str] = "ReadsEverything"

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        raise AssertionError("never called")
