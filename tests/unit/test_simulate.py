"""simulate is an offline adapter of the scheduling core: it leaves no trace in
the process's Prometheus registry, and its preemptions do not depend on a
wall clock."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.registry import REGISTRY

from py_scheduler import config, metrics
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
