"""simulate is an offline adapter of the scheduling core: it leaves no trace in
the process's Prometheus registry, its preemptions do not depend on a wall
clock, and it schedules as the kube-scheduler of the release it is given."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import pytest
from prometheus_client.registry import REGISTRY

from py_scheduler import config, metrics, plugins
from py_scheduler.__main__ import main
from py_scheduler.framework import CycleState, Handle, NoArgs, PluginSpec, PodInfo, Status, no_args
from py_scheduler.model import NodeName
from py_scheduler.simulation.run import simulate
from py_scheduler.simulation.snapshot import Snapshot, load
from tests.builders import make_node, make_pod

EXAMPLES = Path(__file__).parents[2] / "examples"


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
