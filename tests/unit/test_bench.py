"""The benchmark's pure parts: throughput sampling, percentiles and gates."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bench import evaluation, explain, gates, memory, profile, report, stats, workloads


class TestThroughputSamples:
    def test_counts_binds_per_second_and_drops_the_first_sample(self) -> None:
        # 5 binds in second 1, 10 in second 2, 20 in second 3.
        bound = [0.5] * 5 + [1.5] * 10 + [2.5] * 20
        assert stats.throughput_samples(bound, start=0.0) == [10.0, 20.0]

    def test_folds_seconds_without_binds_into_the_next_sample(self) -> None:
        # Nothing in the third second: the 9 binds of the fourth span 2 seconds.
        bound = [0.5, 1.5, 1.6, *([3.5] * 9)]
        assert stats.throughput_samples(bound, start=0.0) == [2.0, 4.5]

    def test_start_up_silence_is_folded_into_the_dropped_first_sample(self) -> None:
        bound = [4.2] * 8 + [5.5] * 30
        assert stats.throughput_samples(bound, start=0.0) == [30.0]

    def test_ignores_binds_before_the_start(self) -> None:
        assert stats.throughput_samples([0.1, 0.2, 10.5, 11.5, 11.6], start=10.0) == [2.0]

    def test_no_binds_no_samples(self) -> None:
        assert stats.throughput_samples([], start=0.0) == []

    def test_per_second_series_has_a_slot_per_elapsed_second(self) -> None:
        assert stats.per_second([10.2, 10.3, 12.9], start=10.0) == [2, 0, 1]


class TestPercentiles:
    @pytest.mark.parametrize(
        ("pct", "want"), [(50, 50.0), (99, 99.0), (100, 100.0), (1, 1.0), (0, 1.0)]
    )
    def test_nearest_rank(self, pct: float, want: float) -> None:
        values = [float(v) for v in range(100, 0, -1)]
        assert stats.percentile(values, pct) == want

    def test_small_samples_round_up(self) -> None:
        assert stats.percentile([3.0, 1.0, 2.0], 50) == 2.0
        assert stats.percentile([3.0, 1.0, 2.0], 99) == 3.0

    def test_empty_is_zero(self) -> None:
        assert stats.percentile([], 99) == 0.0

    def test_summary(self) -> None:
        summary = stats.summarize([10.0, 20.0, 30.0, 40.0])
        assert (summary.average, summary.p50, summary.p99, summary.samples) == (
            25.0,
            20.0,
            40.0,
            4,
        )

    def test_quantiles_span_min_to_max(self) -> None:
        q = stats.quantiles([float(v) for v in range(1000)], points=11)
        assert q[0] == 0.0
        assert q[5] == pytest.approx(500, abs=1)
        assert q[-1] == 999.0


ZONES = {"n0": "a", "n1": "b", "n2": "c", "n3": "a"}


class TestGates:
    def test_zone_skew_counts_zones_left_empty(self) -> None:
        placements = {"p0": "n0", "p1": "n3", "p2": "n1"}
        assert gates.zone_skew(placements, placements, ZONES) == 2

    def test_skew_gate(self) -> None:
        placements = {f"p{i}": "n0" for i in range(6)}
        assert gates.skew_within(placements, placements, ZONES, 6) == []
        assert gates.skew_within(placements, placements, ZONES, 5) == [
            "zone skew 6 exceeds maxSkew 5"
        ]

    def test_skew_counts_only_the_listed_pods(self) -> None:
        placements = {"p0": "n0", "other": "n0", "p1": "n1", "p2": "n2"}
        assert gates.zone_skew(placements, ["p0", "p1", "p2"], ZONES) == 0

    def test_anti_affinity_finds_shared_nodes(self) -> None:
        placements = {"a": "n0", "b": "n1", "c": "n0", "d": None}
        assert gates.anti_affinity_conflicts(placements, "abcd") == {"n0": ["a", "c"]}
        assert gates.anti_affinity_respected(placements, "abd") == []
        assert gates.anti_affinity_respected(placements, "abc") != []

    def test_bound_and_pending(self) -> None:
        placements = {"a": "n0", "b": None}
        assert gates.all_bound(placements, ["a"]) == []
        assert gates.all_bound(placements, ["a", "b", "c"]) == ["2 pod(s) never bound, e.g. b, c"]
        assert gates.none_bound(placements, ["b"]) == []
        assert gates.none_bound(placements, ["a", "b"]) != []

    def test_overcommit(self) -> None:
        placements = {"a": "n0", "b": "n0", "c": "n1"}
        cpu = {"a": 3000, "b": 900, "c": 3000}
        assert gates.overcommitted(placements, cpu, 4000) == []
        assert gates.overcommitted(placements, {**cpu, "b": 1100}, 4000) == [
            "1 node(s) over their CPU, e.g. n0: 4100m"
        ]

    def test_disruption_budget(self) -> None:
        assert gates.disruptions_within(1500, 1500) == []
        assert gates.disruptions_within(1501, 1500) != []


def test_profile_own_time_is_the_innermost_frame() -> None:
    speedscope = {
        "shared": {
            "frames": [
                {"name": "main", "file": "/x/a.py", "line": 1},
                {"name": "decode", "file": "/x/b.py", "line": 2},
                {"name": "fit", "file": "/x/c.py", "line": 3},
            ]
        },
        "profiles": [{"samples": [[0, 1], [0, 1], [0, 2], [0]], "weights": [1, 1, 1, 1]}],
    }
    own, total, weight = profile.own_time(speedscope)
    assert weight == 4
    assert own["decode (b.py)"] == 2
    assert own["main (a.py)"] == 1
    assert total["main (a.py)"] == 4


def test_drain_rate_spans_first_to_last_bind() -> None:
    assert stats.drain_rate([10.0, 10.5, 11.0, 12.0]) == 1.5
    assert stats.drain_rate([3.0]) == 0.0


def test_the_benchmark_ways_agree_cycle_by_cycle() -> None:
    # measure() stops with SystemExit as soon as two ways disagree on a cycle.
    medians = evaluation.measure(150, 4, cycles=4, repeat=1, seed=3)
    assert set(medians) == set(evaluation.KINDS)
    for per_way in medians.values():
        assert set(per_way) == set(evaluation.WAYS)
        assert all(value > 0 for value in per_way.values())


def _run(size: str, nodes: int, scheduler: str, pods_per_s: float, cpu: float) -> dict[str, object]:
    return {
        "size": size,
        "workload": "SchedulingBasic",
        "scheduler": scheduler,
        "nodes": nodes,
        "finished": True,
        "throughput": {"samples": [pods_per_s], "average": pods_per_s},
        "cpu_s_per_1000_pods": cpu,
        "peak_rss_mib": 100.0 + nodes / 100,
    }


def test_scaling_rows_are_full_size_schedulingbasic_medians_by_node_count() -> None:
    runs = [
        _run("full-1000n", 1000, "py-scheduler", 400.0, 1.0),
        _run("full-1000n", 1000, "py-scheduler", 600.0, 3.0),
        _run("full", 5000, "py-scheduler", 300.0, 2.0),
        _run("full", 5000, "kube-scheduler", 200.0, 2.5),
        _run("quick", 500, "py-scheduler", 900.0, 9.0),  # not a scaling point
    ]
    rows = [line for line in report.scaling(runs).splitlines() if line.startswith("| 1000")]
    assert rows == ["| 1000 | py-scheduler | 2 | 500.0 | 2.00 | 110 |"]
    assert "| 500 |" not in report.scaling(runs)
    assert "| 5000 | kube-scheduler | 1 | 200.0 | 2.50 | 150 |" in report.scaling(runs)


def test_a_node_count_override_resizes_every_chosen_workload() -> None:
    chosen = workloads.select("SchedulingBasic,TopologySpreading", quick=False, nodes=15000)
    assert [w.nodes for w in chosen] == [15000, 15000]
    assert [w.measured for w in chosen] == [10000, 5000]


def test_the_explain_benchmark_runs_every_measurement(capsys: pytest.CaptureFixture[str]) -> None:
    assert explain.main(["--nodes", "40", "--pods-per-node", "2", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    for kind in explain.PODS:
        assert kind in out
    assert "suggestions for default/huge-x: 1 tried, 1 verified" in out
    assert "capacity gauges, one computation:" in out


class TestMemoryDrain:
    async def test_binds_every_pending_pod_and_sweeps_once(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        documents = tmp_path / "documents.txt"
        memory.write_documents(documents, nodes=20, init=5, measured=40)
        args = argparse.Namespace(measured=40, no_sweep=False, trace=0, top=5)
        await memory.drain(args, documents)
        out = capsys.readouterr().out
        assert "40 pods bound" in out
        assert "1 sweeps" in out
        assert "peak" in out


def test_ratios_compare_rates_from_the_schedulers_start_and_peak_memory() -> None:
    def run(scheduler: str, makespan: float, rss: float, average: float) -> dict[str, object]:
        return {
            "size": "full",
            "workload": "Preemption",
            "scheduler": scheduler,
            "finished": True,
            "throughput": {"samples": [average], "average": average},
            "drain_pods_per_s": average,
            "measured_pods": 500,
            "makespan_s": makespan,
            "cpu_s_per_1000_pods": 10.0,
            "peak_rss_mib": rss,
        }

    runs = [
        run("kube-scheduler", 20.0, 140.0, 300.0),
        run("py-scheduler", 12.0, 126.0, 150.0),
        run("py-scheduler", 14.0, 130.0, 140.0),
        run("py-scheduler", 10.0, 128.0, 160.0),
    ]
    row = next(line for line in report.ratios(runs).splitlines() if "Preemption" in line)
    # Scheduler_perf's samples say 0.50x; from the start, 500/12 s against 500/20 s.
    assert row == "| full | Preemption | 0.50 | 0.50 | 1.67 | 1.00 | 0.91 | - |"


def test_the_cpu_budget_adds_the_three_processes_per_bound_pod() -> None:
    def run(scheduler: str, sched: float, api: float, wall: float) -> dict[str, object]:
        return {
            "size": "full",
            "workload": "SchedulingBasic",
            "scheduler": scheduler,
            "finished": True,
            "bound": 1000,
            "scheduler_cpu_s": sched,
            "apiserver_cpu_s": api,
            "etcd_cpu_s": 0.5,
            "wall_s": wall,
        }

    runs = [
        run("py-scheduler", 1.0, 2.0, 2.0),
        run("py-scheduler", 3.0, 2.0, 5.5),
        run("py-scheduler", 2.0, 2.0, 3.0),
        run("kube-scheduler", 3.0, 2.5, 4.0),
        {**run("kube-scheduler", 9.0, 9.0, 1.0), "finished": False},  # not counted
        {**run("py-scheduler", 1.0, 1.0, 1.0), "workload": "Latency"},  # paced: left out
    ]
    rows = [line for line in report.budget(runs).splitlines() if line.startswith("| full")]
    assert rows == [
        "| full | SchedulingBasic | kube-scheduler | 3.00 | 2.50 | 0.50 | 6.00 | 1.50 |",
        "| full | SchedulingBasic | py-scheduler | 2.00 | 2.00 | 0.50 | 4.50 | 1.50 |",
    ]
