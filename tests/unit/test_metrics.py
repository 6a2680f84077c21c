"""Metric names, labels, buckets and help as kube-scheduler's of the newest supported
release (v1.37, pkg/scheduler/metrics/metrics.go), read from the real registry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client.core import Metric
from prometheus_client.registry import REGISTRY

from py_scheduler import metrics


def family(name: str) -> Metric:
    found = [f for f in REGISTRY.collect() if f.name == name]
    assert len(found) == 1, f"{name}: {len(found)} families"
    return found[0]


def sample_value(name: str, labels: dict[str, str]) -> float:
    for fam in REGISTRY.collect():
        for sample in fam.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


@pytest.fixture
def sizes() -> Iterator[None]:
    saved = metrics.SIZES.queue_sizes
    metrics.SIZES.queue_sizes = lambda: {"active": 3, "backoff": 1, "unschedulable": 2, "gated": 0}
    yield
    metrics.SIZES.queue_sizes = saved


def test_queued_entities_mirror_pending_pods_as_pods(sizes: None) -> None:
    fam = family("scheduler_queued_entities")
    assert fam.type == "gauge"
    got = {(s.labels["queue"], s.labels["type"]): s.value for s in fam.samples}
    assert got == {
        ("active", "pod"): 3,
        ("backoff", "pod"): 1,
        ("unschedulable", "pod"): 2,
        ("gated", "pod"): 0,
    }
    pending = {s.labels["queue"]: s.value for s in family("scheduler_pending_pods").samples}
    assert pending == {"active": 3, "backoff": 1, "unschedulable": 2, "gated": 0}
    assert fam.documentation.startswith("Number of queued scheduling entities ('pod' or")


def test_an_incoming_pod_counts_as_a_pod_and_as_a_pod_entity() -> None:
    pods = {"queue": "active", "event": "NodeAdd"}
    entities = {**pods, "type": "pod"}
    before = (
        sample_value("scheduler_queue_incoming_pods_total", pods),
        sample_value("scheduler_queue_incoming_entities_total", entities),
    )
    metrics.PrometheusRecorder().queue_incoming("active", "NodeAdd")
    assert sample_value("scheduler_queue_incoming_pods_total", pods) == before[0] + 1
    assert sample_value("scheduler_queue_incoming_entities_total", entities) == before[1] + 1
    assert family("scheduler_queue_incoming_entities").type == "counter"


@pytest.mark.parametrize(
    ("name", "labels", "buckets"),
    [
        ("scheduler_preemption_victims", (), [1, 2, 4, 8, 16, 32, 64]),
        (
            "scheduler_scheduling_algorithm_duration_seconds",
            (),
            [0.001 * 2**i for i in range(15)],
        ),
        (
            "scheduler_plugin_execution_duration_seconds",
            ("Probe", "Filter", "Success"),
            [0.00001 * 1.5**i for i in range(20)],
        ),
    ],
)
def test_histogram_buckets(name: str, labels: tuple[str, ...], buckets: list[float]) -> None:
    histogram = {
        "scheduler_preemption_victims": metrics.PREEMPTION_VICTIMS,
        "scheduler_scheduling_algorithm_duration_seconds": metrics.SCHEDULING_ALGORITHM_DURATION,
        "scheduler_plugin_execution_duration_seconds": metrics.PLUGIN_EXECUTION_DURATION,
    }[name]
    if labels:  # a labelled histogram shows its buckets once a child exists
        histogram.labels(*labels)
    try:
        uppers = sorted(
            {float(s.labels["le"]) for s in family(name).samples if s.name == f"{name}_bucket"}
        )
    finally:
        if labels:
            histogram.remove(*labels)
    assert uppers[:-1] == pytest.approx(buckets)
    assert uppers[-1] == float("inf")


def test_preemption_victims_help_names_its_single_pod_preemptor() -> None:
    assert family("scheduler_preemption_victims").documentation == (
        "Number of selected preemption victims for preemption initiated by a single pod"
    )


def test_a_pod_scheduled_after_the_flush_is_counted() -> None:
    name = "scheduler_pod_scheduled_after_flush_total"
    before = sample_value(name, {})
    metrics.PrometheusRecorder().pod_scheduled_after_flush()
    assert sample_value(name, {}) == before + 1
    found = family("scheduler_pod_scheduled_after_flush")
    assert found.type == "counter"
    assert found.documentation.startswith(
        "Number of pods that were successfully scheduled after being flushed from "
        "unschedulableEntities due to timeout."
    )
