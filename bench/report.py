"""results.json -> report.md and PNG plots: medians per workload and scheduler."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.contenders import CEILING, KUBE, PY

JSON = dict[str, Any]
ORDER = (KUBE, PY, CEILING)


def _median(runs: Sequence[JSON], get: Callable[[JSON], float | None]) -> float | None:
    values = [v for r in runs if (v := get(r)) is not None]
    return statistics.median(values) if values else None


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or not b else f"{a / b:.2f}"


def group(runs: Sequence[JSON]) -> dict[tuple[str, str], dict[str, list[JSON]]]:
    """(size, workload) -> scheduler -> runs, in the order workloads first ran."""
    grouped: dict[tuple[str, str], dict[str, list[JSON]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        grouped[(run["size"], run["workload"])][run["scheduler"]].append(run)
    return grouped


def _throughput(run: JSON) -> float | None:
    # A run over within a second or two leaves no sample once the first is dropped.
    if not run.get("finished") or not run["throughput"]["samples"]:
        return None
    return float(run["throughput"]["average"])


def _sampled(key: str) -> Callable[[JSON], float | None]:
    def get(run: JSON) -> float | None:
        return float(run["throughput"][key]) if _throughput(run) is not None else None

    return get


def _drain(run: JSON) -> float | None:
    value = run.get("drain_pods_per_s")
    return float(value) if value is not None and run.get("finished") else None


def _span_rate(run: JSON) -> float | None:
    """Measured pods over the span from the scheduler's start to the last bind."""
    span = run.get("makespan_s")
    if not run.get("finished") or not span:
        return None
    return float(run["measured_pods"]) / float(span)


def table(runs: Sequence[JSON]) -> str:
    """The per-workload medians, one row per scheduler (docs/benchmarks.md shows the same table)."""
    lines = [
        "| size | workload | scheduler | runs ok | pods/s avg | p50 | p99 "
        "| first-to-last bind pods/s "
        "| latency p50 / p99 ms | sched CPU-s /1k pods | peak RSS MiB | apiserver CPU-s /1k pods |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (size, workload), by_scheduler in group(runs).items():
        for name in ORDER:
            rs = by_scheduler.get(name)
            if not rs:
                continue
            ok = sum(1 for r in rs if r.get("passed"))
            if workload == "Latency":
                rate = _median(rs, lambda r: r.get("max_rate_p99_le_1s"))
                first = _median(rs, lambda r: r["steps"][0]["p99_ms"] if r.get("steps") else None)
                lat = f"max rate with p99≤1s: {_fmt(rate, 0)}/s; p99 at 100/s: {_fmt(first)}"
            else:
                lat = (
                    f"{_fmt(_median(rs, lambda r: r['latency_ms']['p50']), 0)} / "
                    f"{_fmt(_median(rs, lambda r: r['latency_ms']['p99']), 0)}"
                )
            lines.append(
                f"| {size} | {workload} | {name} | {ok}/{len(rs)} "
                f"| {_fmt(_median(rs, _throughput))} "
                f"| {_fmt(_median(rs, _sampled('p50')))} "
                f"| {_fmt(_median(rs, _sampled('p99')))} "
                f"| {_fmt(_median(rs, _drain))} | {lat} "
                f"| {_fmt(_median(rs, lambda r: r['cpu_s_per_1000_pods']), 2)} "
                f"| {_fmt(_median(rs, lambda r: r['peak_rss_mib']), 0)} "
                f"| {_fmt(_median(rs, lambda r: r['apiserver_cpu_s_per_1000_pods']), 2)} |"
            )
    return "\n".join(lines)


def ratios(runs: Sequence[JSON]) -> str:
    grouped = group(runs)
    lines = [
        "| size | workload | pods/s avg py/kube | first-to-last pods/s py/kube "
        "| start-to-last pods/s py/kube | CPU per pod py/kube | peak RSS py/kube "
        "| first-to-last pods/s py/ceiling |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (size, workload), by_scheduler in grouped.items():
        if workload == "Ceiling":
            continue
        kube, py = by_scheduler.get(KUBE, []), by_scheduler.get(PY, [])
        ceiling_runs = grouped.get((size, "Ceiling"), {}).get(CEILING, [])
        py_tp, kube_tp = _median(py, _throughput), _median(kube, _throughput)
        cpu_py = _median(py, lambda r: r["cpu_s_per_1000_pods"])
        cpu_kube = _median(kube, lambda r: r["cpu_s_per_1000_pods"])
        if workload == "Latency":
            py_tp = _median(py, lambda r: r.get("max_rate_p99_le_1s"))
            kube_tp = _median(kube, lambda r: r.get("max_rate_p99_le_1s"))
        # The ceiling drains; a rate with p99 <= 1 s is another quantity.
        py_drain, kube_drain = _median(py, _drain), _median(kube, _drain)
        if workload == "Latency":  # arrivals are paced: only the sustainable rate compares
            py_drain = kube_drain = None
        ceiling = None if workload == "Latency" else _median(ceiling_runs, _drain)
        # From the scheduler's start: the only rate that counts a Preemption run's
        # dry runs and evictions, since both bind every preemptor in a final burst.
        py_span, kube_span = _median(py, _span_rate), _median(kube, _span_rate)
        if workload == "Latency":
            py_span = kube_span = None
        rss_py = _median(py, lambda r: r["peak_rss_mib"])
        rss_kube = _median(kube, lambda r: r["peak_rss_mib"])
        lines.append(
            f"| {size} | {workload} | {_ratio(py_tp, kube_tp)} | {_ratio(py_drain, kube_drain)} "
            f"| {_ratio(py_span, kube_span)} | {_ratio(cpu_py, cpu_kube)} "
            f"| {_ratio(rss_py, rss_kube)} | {_ratio(py_drain, ceiling)} |"
        )
    return "\n".join(lines)


def _load(runs: Sequence[JSON]) -> str:
    values = [v for r in runs for v in (r["loadavg_before"][0], r["loadavg_after"][0])]
    if not values:
        return "-"
    return (
        f"1-min load average {min(values):.2f} to {max(values):.2f} "
        f"(median {statistics.median(values):.2f})"
    )


def _gang_figure(key: str) -> Callable[[JSON], float | None]:
    def get(run: JSON) -> float | None:
        value = run["gang_done_s"].get(key)
        return float(value) if value is not None else None

    return get


def gangs(runs: Sequence[JSON]) -> list[str]:
    """Per gang workload: when gangs became whole (every member bound), medians."""
    rows = []
    for (size, workload), by_scheduler in group(runs).items():
        for scheduler, these in by_scheduler.items():
            done = [r for r in these if r.get("gang_done_s")]
            if not done:
                continue
            row = [size, workload, scheduler]
            for key in ("p50", "p99", "all"):
                row.append(_fmt(_median(done, _gang_figure(key)), 2))
            row.append(_fmt(_median(done, lambda r: r.get("gangs_complete")), 0))
            rows.append("| " + " | ".join(row) + " |")
    if not rows:
        return []
    return [
        "## Gangs",
        "",
        "Seconds from the scheduler's start until a gang's last member is bound (time to",
        "all bound), medians over repetitions; and how many gangs were whole.",
        "",
        "| size | workload | scheduler | p50 s | p99 s | all gangs s | gangs whole |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]


# The processes whose CPU the bench reads per run, and the record's key for each.
_PROCESS_CPU = ("scheduler_cpu_s", "apiserver_cpu_s", "etcd_cpu_s")


def _per_pod_ms(key: str) -> Callable[[JSON], float | None]:
    def get(run: JSON) -> float | None:
        pods, seconds = run.get("bound"), run.get(key)
        return 1000.0 * float(seconds) / float(pods) if pods and seconds is not None else None

    return get


_PER_POD = tuple(_per_pod_ms(k) for k in _PROCESS_CPU)


def _all_three(run: JSON) -> float:
    return sum(get(run) or 0.0 for get in _PER_POD)


def _cores_busy(run: JSON) -> float | None:
    if not run.get("wall_s") or any(run.get(k) is None for k in _PROCESS_CPU):
        return None
    return sum(float(run[k]) for k in _PROCESS_CPU) / float(run["wall_s"])


def budget(runs: Sequence[JSON]) -> str:
    """CPU per bound pod of the scheduler, the API server and etcd, and how busy they keep
    the machine: where the three fill the cores, the sum bounds the rate, whoever decides."""
    lines = [
        "| size | workload | scheduler | scheduler ms/pod | API server ms/pod | etcd ms/pod "
        "| all three ms/pod | cores busy (all three) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (size, workload), by_scheduler in group(runs).items():
        if workload == "Latency":  # paced: the wall clock is the arrival schedule's
            continue
        for name in ORDER:
            rs = [r for r in by_scheduler.get(name, []) if r.get("finished")]
            if not rs:
                continue
            parts = [_median(rs, get) for get in _PER_POD]
            whole = _median(rs, _all_three)
            lines.append(
                f"| {size} | {workload} | {name} | "
                + " | ".join(_fmt(v, 2) for v in parts)
                + f" | {_fmt(whole, 2)} | {_fmt(_median(rs, _cores_busy), 2)} |"
            )
    return "\n".join(lines)


def render(results: JSON) -> str:
    runs: list[JSON] = results["runs"]
    machine = results.get("machine", {})
    return "\n".join(
        [
            "# py-scheduler vs kube-scheduler: benchmark report",
            "",
            "Generated by `python -m bench` from `results.json` (every run). Medians over",
            "repetitions; throughput is scheduler_perf's (binds per 1 s sample, first sample",
            "dropped); CPU is the scheduler process's utime+stime over its whole life",
            "(start-up and informer sync included) per 1000 measured pods bound.",
            "",
            "## Machine",
            "",
            f"- CPU: {machine.get('cpu_model')}, {machine.get('cores')} cores, "
            f"{machine.get('memory_gib')} GiB, kernel {machine.get('kernel')}",
            f"- Python {machine.get('python')}, Kubernetes {machine.get('kubernetes')}",
            f"- During the runs: {_load(runs)}; nothing else ran: the load is the "
            "benchmark's own control plane, load generator and scheduler under test.",
            "",
            "## Results (medians)",
            "",
            table(runs),
            "",
            "## Ratios",
            "",
            ratios(runs),
            "",
            "## The machine's CPU per pod",
            "",
            budget(runs),
            "",
            "CPU seconds over each run's life (start-up included) per pod bound, medians. The",
            "load generator and the observer run beside these three. Where the three keep",
            "the cores nearly busy, a run's rate is the cores over their sum; the API server's",
            "part (create, bind, the Scheduled event, watch fan-out) is the same work for every",
            "scheduler and bounds what a cheaper scheduler can gain.",
            "",
            "## Scaling (SchedulingBasic)",
            "",
            scaling(runs),
            "",
            "Latency row: the first ratio compares the highest arrival rate whose p99",
            "create-to-bound stays within 1 s. A dash: no sample (runs over within about",
            "a second leave none once the first is dropped) or no counterpart.",
            "",
            *gangs(runs),
            "Plots: `throughput-<size>.png` (binds per second from the scheduler's start,",
            "median run) and `latency-<size>.png` (latency CDF: from the scheduler's start",
            "in drain workloads, create-to-bound in Latency).",
            "",
        ]
    )


SCALED = "SchedulingBasic"


def _scaling_points(runs: Sequence[JSON]) -> dict[str, dict[int, list[JSON]]]:
    """Full-size SchedulingBasic runs (``--nodes`` ones included) by scheduler and node count."""
    points: dict[str, dict[int, list[JSON]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        if run["workload"] == SCALED and run["size"].startswith("full"):
            points[run["scheduler"]][int(run["nodes"])].append(run)
    return points


def scaling(runs: Sequence[JSON]) -> str:
    """How throughput, CPU per pod and peak RSS grow with the node count."""
    points = _scaling_points(runs)
    if not points:
        return "No runs yet (`python -m bench --workloads SchedulingBasic --nodes N`)."
    lines = [
        "| nodes | scheduler | runs | pods/s avg | sched CPU-s /1k pods | peak RSS MiB |",
        "|---|---|---|---|---|---|",
    ]
    for name in ORDER:
        for nodes, rs in sorted(points.get(name, {}).items()):
            lines.append(
                f"| {nodes} | {name} | {len(rs)} | {_fmt(_median(rs, _throughput))} "
                f"| {_fmt(_median(rs, lambda r: r['cpu_s_per_1000_pods']), 2)} "
                f"| {_fmt(_median(rs, lambda r: r['peak_rss_mib']), 0)} |"
            )
    return "\n".join(lines) + "\n\nPlot: `scaling.png` (the same medians against the node count)."


def plot(results: JSON, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    grouped = group(results["runs"])
    for size in sorted({size for size, _ in grouped}):
        keys = [k for k in grouped if k[0] == size]
        for kind in ("throughput", "latency"):
            fig, axes = plt.subplots(len(keys), 1, figsize=(8, 2.6 * len(keys)), squeeze=False)
            for ax, key in zip(axes[:, 0], keys, strict=True):
                for name, rs in grouped[key].items():
                    done = [r for r in rs if r.get("finished")] or rs
                    run = sorted(done, key=lambda r: r["throughput"]["average"])[len(done) // 2]
                    if kind == "throughput":
                        ax.plot(run["per_second"], label=name)
                        ax.set_ylabel("binds/s")
                    elif run["cdf_ms"]:
                        ax.plot(
                            run["cdf_ms"], [i / 100 for i in range(len(run["cdf_ms"]))], label=name
                        )
                        ax.set_xscale("log")
                        ax.set_ylabel("fraction")
                ax.set_title(key[1], fontsize=9)
                ax.legend(fontsize=7)
            axes[-1, 0].set_xlabel(
                "seconds since scheduler start" if kind == "throughput" else "ms"
            )
            fig.tight_layout()
            path = out / f"{kind}-{size}.png"
            fig.savefig(path, dpi=80)
            plt.close(fig)
            written.append(path)
    points = _scaling_points(results["runs"])
    if points:
        measures: list[tuple[str, Callable[[JSON], float | None]]] = [
            ("pods/s", _throughput),
            ("CPU-s /1k pods", lambda r: float(r["cpu_s_per_1000_pods"])),
            ("peak RSS MiB", lambda r: float(r["peak_rss_mib"])),
        ]
        fig, axes = plt.subplots(1, len(measures), figsize=(12, 3.2), squeeze=False)
        for ax, (label, get) in zip(axes[0], measures, strict=True):
            for name, by_nodes in points.items():
                xs = sorted(by_nodes)
                ys = [_median(by_nodes[x], get) for x in xs]
                ax.plot(xs, [y if y is not None else float("nan") for y in ys], "o-", label=name)
            ax.set_xlabel("nodes")
            ax.set_ylabel(label)
            ax.legend(fontsize=7)
        fig.suptitle(f"{SCALED}: growth with the node count", fontsize=9)
        fig.tight_layout()
        path = out / "scaling.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        written.append(path)
    return written


BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def update_page(page: Path, results: JSON) -> bool:
    """Replace the text between the page's bench markers with the latest tables."""
    if not page.exists():
        return False
    text = page.read_text()
    if BEGIN not in text or END not in text:
        return False
    runs = results["runs"]
    machine = results.get("machine", {})
    body = "\n".join(
        [
            BEGIN,
            f"Measured on {machine.get('cpu_model')}, {machine.get('cores')} cores, "
            f"Python {machine.get('python')}, Kubernetes {machine.get('kubernetes')}; "
            f"{_load(runs)} (the benchmark's own processes, nothing else running). "
            "Medians; details, method and plots in "
            "[bench/results/report.md](../bench/results/report.md).",
            "",
            table(runs),
            "",
            ratios(runs),
            END,
        ]
    )
    head, rest = text.split(BEGIN, 1)
    page.write_text(head + body + rest.split(END, 1)[1])
    return True
