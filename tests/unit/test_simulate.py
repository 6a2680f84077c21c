"""``simulate`` against snapshots: an offline adapter of the scheduling core
that leaves no trace in the process's Prometheus registry and whose
preemptions do not depend on a wall clock, deciding preemption's nomination
and the system default spreading as kube-scheduler does, as the
kube-scheduler of the release it is given.

We test these aspects: after preemption the preemptor is tried on its
nominated node first (upstream's evaluateNominatedNode), even when another
node became feasible and would score higher; pods controlled by a
StatefulSet (or ReplicaSet) in the snapshot spread as the system default
constraints spread them, by controller reference; the command line follows
the release given by --kube-version and refuses one it does not follow; a
snapshot reads the same as JSON (read at orjson's speed) as as YAML.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest
import yaml
from prometheus_client.registry import REGISTRY

from py_scheduler import config, metrics, plugins
from py_scheduler.__main__ import main
from py_scheduler.framework import CycleState, Handle, NoArgs, PluginSpec, PodInfo, Status, no_args
from py_scheduler.model import NodeName
from py_scheduler.simulation.run import Result, simulate
from py_scheduler.simulation.snapshot import Snapshot, SnapshotError, load, parse
from tests.builders import make_node, make_pod, raw_node, raw_pod

EXAMPLES = Path(__file__).parents[2] / "examples"
ZONE = "topology.kubernetes.io/zone"


def scheduler_samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in REGISTRY.collect()
        for sample in family.samples
        if sample.name.startswith(("scheduler_", "py_scheduler_"))
    }


async def test_simulate_writes_no_global_metrics() -> None:
    assert metrics.SCHEDULE_ATTEMPTS is not None  # the live metrics are registered
    before = scheduler_samples()
    results = await simulate(load(EXAMPLES / "03-preempt.yaml"), config.parse({}), seed=0)
    assert [r.pod for r in results if r.victims] == ["default/d"]
    assert scheduler_samples() == before


async def test_a_preemptor_binds_in_the_same_run_once_its_victim_is_gone() -> None:
    results = await simulate(load(EXAMPLES / "05-fewest-victims.yaml"), config.parse({}))
    preemptor = next(r for r in results if r.victims)
    assert preemptor.node == preemptor.nominated_node == "node-a"
    assert preemptor.victims == ["default/testpod-1"]


def test_a_json_snapshot_reads_as_its_yaml_does() -> None:
    text = (EXAMPLES / "03-preempt.yaml").read_text()
    items = [doc for doc in yaml.safe_load_all(text) if doc]
    as_json = orjson.dumps({"apiVersion": "v1", "kind": "List", "items": items}).decode()
    from_yaml, from_json = parse(text), parse(as_json, "listing.json")
    assert [p.key for p in from_json.pods] == [p.key for p in from_yaml.pods]
    assert [n.name for n in from_json.nodes] == [n.name for n in from_yaml.nodes]
    assert from_json.raw_pods == from_yaml.raw_pods


def test_json_too_deep_for_orjson_gets_the_yaml_bounds() -> None:
    deep = '{"kind": "List", "items": [' + "[" * 2000 + "]" * 2000 + "]}"
    with pytest.raises(SnapshotError, match=r"^deep\.json: nested deeper than 64 levels$"):
        parse(deep, "deep.json")


class Pair:
    """Out of tree: holds pods labelled ``pair`` at Permit until two of the
    same pair wait, then lets both go."""

    name: ClassVar[str] = "Pair"

    def __init__(self, args: NoArgs, handle: Handle) -> None:
        self.handle = handle

    def permit(self, state: CycleState, pod: PodInfo, node: NodeName) -> tuple[Status, float]:
        pair = pod.labels.get("pair")
        if pair is None:
            return Status(), 0.0
        partners = [w for w in self.handle.waiting_pods() if w.pod.labels.get("pair") == pair]
        if not partners:
            return Status.wait(), 30.0
        for waiting in partners:
            waiting.allow(self.name)
        return Status(), 0.0


PAIR_CONFIG = {
    "apiVersion": "kubescheduler.config.k8s.io/v1",
    "kind": "KubeSchedulerConfiguration",
    "profiles": [{"plugins": {"multiPoint": {"enabled": [{"name": "Pair"}]}}}],
}


async def test_pods_held_at_permit_bind_once_allowed_and_time_out_on_a_virtual_clock() -> None:
    registry = {**plugins.IN_TREE, "Pair": PluginSpec("Pair", no_args, Pair)}
    cfg = config.parse(PAIR_CONFIG, registry=registry)
    snapshot = Snapshot(
        nodes=[make_node("n1")],
        pods=[
            make_pod("a1", labels={"pair": "a"}),
            make_pod("b1", labels={"pair": "b"}),
            make_pod("a2", labels={"pair": "a"}),
            make_pod("solo"),
        ],
    )
    results = {r.pod: (r.node, r.message) for r in await simulate(snapshot, cfg)}
    assert results == {
        "default/a1": ("n1", ""),
        "default/a2": ("n1", ""),
        "default/solo": ("n1", ""),
        "default/b1": (
            None,
            "0/1 nodes are available: 1 rejected due to timeout after waiting 30s at plugin Pair.",
        ),
    }


class AlwaysWaits:
    """Holds every pod, and registers no events: any event may help the pods
    it rejected, so each timeout requeues the others."""

    name: ClassVar[str] = "AlwaysWaits"

    def __init__(self, args: NoArgs, handle: Handle) -> None:
        del args, handle

    def permit(self, state: CycleState, pod: PodInfo, node: NodeName) -> tuple[Status, float]:
        return Status.wait(), 5.0


async def test_pods_that_keep_waiting_end_as_timeouts_and_the_run_stops() -> None:
    registry = {**plugins.IN_TREE, "AlwaysWaits": PluginSpec("AlwaysWaits", no_args, AlwaysWaits)}
    raw = {
        **PAIR_CONFIG,
        "profiles": [{"plugins": {"multiPoint": {"enabled": [{"name": "AlwaysWaits"}]}}}],
    }
    cfg = config.parse(raw, registry=registry)
    snapshot = Snapshot(nodes=[make_node("n1")], pods=[make_pod(f"p{i}") for i in range(3)])
    results = await simulate(snapshot, cfg)
    message = (
        "0/1 nodes are available: 1 rejected due to timeout after waiting 5s at plugin AlwaysWaits."
    )
    assert [(r.pod, r.node, r.message) for r in results] == [
        (f"default/p{i}", None, message) for i in range(3)
    ]


async def run(*docs: dict[str, Any]) -> dict[str, Result]:
    snap = parse(yaml.safe_dump_all(docs))
    results = await simulate(snap, config.load(None), seed=0)
    return {r.pod: r for r in results}


async def test_a_preemptor_binds_on_its_nominated_node_first() -> None:
    # P's anti-affinity to app=v rules out zone a while the victim runs there.
    # Preemption frees n1; then n3 (emptier, scores higher) is feasible too, but
    # upstream tries the nominated node first and binds there.
    anti_v = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "v"}}, "topologyKey": ZONE}
            ]
        }
    }
    got = await run(
        raw_node(
            "n1", labels={ZONE: "a"}, allocatable={"cpu": "2", "memory": "8Gi", "pods": "110"}
        ),
        raw_node(
            "n3", labels={ZONE: "a"}, allocatable={"cpu": "4", "memory": "8Gi", "pods": "110"}
        ),
        raw_pod("victim", labels={"app": "v"}, requests={"cpu": "2"}, node_name="n1", priority=0),
        raw_pod("preemptor", requests={"cpu": "1"}, affinity=anti_v, priority=100),
    )
    result = got["default/preemptor"]
    assert (result.nominated_node, result.victims) == ("n1", ["default/victim"])
    assert result.node == "n1"


def statefulset(name: str, replicas: int, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "schedulerName": "py-scheduler",
                    "containers": [
                        {"name": "c", "image": "pause", "resources": {"requests": {"cpu": "100m"}}}
                    ],
                },
            },
        },
    }


def spread_nodes() -> list[dict[str, Any]]:
    # Without spreading every replica would go to the big node (LeastAllocated).
    big = {"cpu": "64", "memory": "256Gi", "pods": "110"}
    small = {"cpu": "4", "memory": "16Gi", "pods": "110"}
    return [
        raw_node("big", labels={ZONE: "a"}, allocatable=big),
        raw_node("small-1", labels={ZONE: "b"}, allocatable=small),
        raw_node("small-2", labels={ZONE: "c"}, allocatable=small),
    ]


async def test_statefulset_replicas_spread_by_the_system_default_constraints() -> None:
    got = await run(*spread_nodes(), statefulset("web", 3, {"app": "web"}))
    nodes = [got[f"default/web-{i}"].node for i in range(3)]
    assert sorted(n or "" for n in nodes) == ["big", "small-1", "small-2"]


async def test_pods_that_only_match_a_statefulsets_labels_do_not_spread_by_it() -> None:
    # Upstream follows the controller reference, not the labels: bare pods with
    # the set's labels are not its replicas.
    bare = [raw_pod(f"bare-{i}", labels={"app": "web"}, requests={"cpu": "100m"}) for i in range(3)]
    got = await run(*spread_nodes(), statefulset("web", 0, {"app": "web"}), *bare)
    assert [got[f"default/bare-{i}"].node for i in range(3)] == ["big", "big", "big"]


@pytest.mark.parametrize(
    ("argv", "post_filter_words"),
    [
        pytest.param([], "", id="the newest release by default"),
        pytest.param(["--kube-version", "1.37"], "", id="1.37"),
        pytest.param(["--kube-version", "v1.36.3"], "no new claims to deallocate, ", id="1.36"),
        pytest.param(["--kube-version", "1.35"], "no new claims to deallocate, ", id="1.35"),
    ],
)
def test_the_command_line_simulates_the_release_it_is_given(
    argv: list[str], post_filter_words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["simulate", "--snapshot", str(EXAMPLES / "02-no-room.yaml"), "--output", "json", *argv]
    )
    assert code == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert [r["message"] for r in results if not r["node"]] == [
        f"0/3 nodes are available: 3 Insufficient cpu. {post_filter_words}"
        "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    ]


@pytest.mark.parametrize("release", ["1.34", "1.38", "one.two", ""])
def test_the_command_line_refuses_a_release_it_does_not_follow(
    release: str, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot = str(EXAMPLES / "02-no-room.yaml")
    assert main(["simulate", "--snapshot", snapshot, "--kube-version", release]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --kube-version: ")
    assert "1.35 to 1.37" in err or "is not a Kubernetes release" in err
