"""simulate is an offline adapter of the scheduling core: it leaves no trace in
the process's Prometheus registry, its preemptions do not depend on a wall
clock, and it schedules as the kube-scheduler of the release it is given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client.registry import REGISTRY

from py_scheduler import config, metrics
from py_scheduler.__main__ import main
from py_scheduler.simulation.run import simulate
from py_scheduler.simulation.snapshot import load

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
