"""simulate is an offline adapter of the scheduling core: it leaves no trace in
the process's Prometheus registry, its preemptions do not depend on a wall
clock, and a snapshot reads the same as JSON (read at orjson's speed) as as YAML."""

from __future__ import annotations

from pathlib import Path

import orjson
import yaml
from prometheus_client.registry import REGISTRY

from py_scheduler import config, metrics
from py_scheduler.simulation.run import simulate
from py_scheduler.simulation.snapshot import load, parse

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


def test_a_json_snapshot_reads_as_its_yaml_does() -> None:
    text = (EXAMPLES / "03-preempt.yaml").read_text()
    items = [doc for doc in yaml.safe_load_all(text) if doc]
    as_json = orjson.dumps({"apiVersion": "v1", "kind": "List", "items": items}).decode()
    from_yaml, from_json = parse(text), parse(as_json, "listing.json")
    assert [p.key for p in from_json.pods] == [p.key for p in from_yaml.pods]
    assert [n.name for n in from_json.nodes] == [n.name for n in from_yaml.nodes]
    assert from_json.raw_pods == from_yaml.raw_pods
