"""``python -m bench``: py-scheduler and kube-scheduler side by side, scheduler_perf style.

One local control plane (etcd on tmpfs, kube-apiserver with its inflight
limits lifted; no controller manager or kwok, so nothing else writes), then
per workload and repetition: kube-scheduler, then py-scheduler. Every run is
appended to ``<out>/results.json``; ``report.md`` and the plots are rewritten
from all runs at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench import contenders, machine, procstat, profile, report, runner, templates
from bench.workloads import Workload, select
from controlplane.launcher import LocalControlPlane, Options
from controlplane.releases import default_bin_dir
from py_scheduler.kube.client import KubeClient, Settings, load_configuration

JSON = dict[str, Any]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="500 nodes, a tenth of the pods")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--workloads", help="comma-separated names (default: all)")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument(
        "--profile",
        action="store_true",
        help="add one py-spy-profiled py-scheduler run per chosen workload",
    )
    parser.add_argument("--py-log-level", default="warning", help="py-scheduler's --log-level")
    parser.add_argument(
        "--schedulers",
        default=f"{contenders.KUBE},{contenders.PY}",
        help="comma-separated contenders to run (default: both)",
    )
    parser.add_argument("--report-only", action="store_true", help="rewrite report.md and plots")
    parser.add_argument(
        "--nodes",
        type=int,
        help="node count for every chosen workload (scaling runs: size '<size>-<N>n')",
    )
    return parser.parse_args(argv)


def load_results(out: Path) -> JSON:
    path = out / "results.json"
    if path.exists():
        data: JSON = orjson.loads(path.read_bytes())
        return data
    return {"runs": []}


def save_results(out: Path, results: JSON) -> None:
    (out / "results.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))


def write_report(out: Path, results: JSON) -> None:
    (out / "report.md").write_text(report.render(results))
    report.plot(results, out)
    repo = Path(__file__).resolve().parents[1]
    if out.resolve() == repo / "bench" / "results":  # only the committed results feed the page
        report.update_page(repo / "docs" / "benchmarks.md", results)


async def bench(args: argparse.Namespace, results: JSON) -> None:
    workloads = select(args.workloads, quick=args.quick, nodes=args.nodes)
    session = time.strftime("%H%M%S")
    workdir = Path(tempfile.mkdtemp(prefix="py-scheduler-bench-"))
    options = Options(with_controller_manager=False, with_kwok=False, unlimited_inflight=True)
    plane = LocalControlPlane(workdir=workdir, bin_dir=default_bin_dir(), options=options)
    plane.start()
    print(f"control plane up at {plane.server}; logs in {workdir}", flush=True)
    try:
        apiserver = procstat.find_pid(
            plane.bin_dir / "kube-apiserver", f"--secure-port={plane.apiserver_port}"
        )
        etcd = _etcd_pid(plane, apiserver)
        settings = runner.Settings(
            size=("quick" if args.quick else "full") + (f"-{args.nodes}n" if args.nodes else ""),
            session=session,
            workdir=workdir,
            py_log_level=args.py_log_level,
        )
        configuration = await load_configuration(str(plane.kubeconfig))
        async with KubeClient(configuration, Settings(timeout=300)) as kube:
            ctx = runner.Context(plane, kube, settings, apiserver, etcd)
            for name, value in ((templates.HIGH_PRIORITY, 10), (templates.LOW_PRIORITY, 1)):
                await kube.post(
                    "/apis/scheduling.k8s.io/v1/priorityclasses",
                    templates.priority_class(name, value),
                )
            for workload in workloads:
                await _workload(ctx, workload, args, results)
    finally:
        plane.stop()


async def _workload(
    ctx: runner.Context, workload: Workload, args: argparse.Namespace, results: JSON
) -> None:
    await runner.create_nodes(ctx.kube, workload)
    try:
        chosen = [name.strip() for name in args.schedulers.split(",")]
        names = [contenders.CEILING] if workload.ceiling else chosen
        for rep in range(args.reps):
            for name in names:
                record = await runner.run_once(ctx, workload, name, rep)
                _report_line(record)
                results["runs"].append(record)
                save_results(args.out, results)
        if args.profile and not workload.ceiling:
            # SchedulingBasic keeps the report's profile.md; others get their own file.
            stem = "" if workload.name == "SchedulingBasic" else f"-{workload.name}"
            spy = args.out / f"profile{stem}-{ctx.settings.size}.speedscope.json"
            record = await runner.run_once(ctx, workload, contenders.PY, -1, profile_to=spy)
            _report_line(record)
            title = (
                f"py-scheduler profile: {workload.name} ({ctx.settings.size}: {workload.nodes} "
                f"nodes, {workload.measured} pods, {record['throughput']['average']} pods/s "
                "under py-spy)"
            )
            (args.out / f"profile{stem}.md").write_text(profile.markdown(spy, title))
    finally:
        await runner.delete_nodes(ctx.kube)


def _etcd_pid(plane: LocalControlPlane, apiserver: int | None) -> int | None:
    if apiserver is None:
        return None
    argv = Path(f"/proc/{apiserver}/cmdline").read_bytes().decode().split("\0")
    url = next((a.split("=", 1)[1] for a in argv if a.startswith("--etcd-servers=")), "")
    return procstat.find_pid(plane.bin_dir / "etcd", f"--listen-client-urls={url}") if url else None


def _report_line(r: JSON) -> None:
    gates = "ok" if r["passed"] else f"FAILED {[g for g, v in r['gates'].items() if v]}"
    print(
        f"{r['size']:5} {r['workload']:26} {r['scheduler']:14} rep {r['rep']}: "
        f"{r['throughput']['average']:7.1f} pods/s, {r['bound']} bound in {r['makespan_s']} s, "
        f"cpu {r['scheduler_cpu_s']} s, rss {r['peak_rss_mib']} MiB, "
        f"apiserver {r['apiserver_cpu_s']} s, load {r['loadavg_before'][0]}->"
        f"{r['loadavg_after'][0]}, gates {gates}",
        flush=True,
    )


def main(argv: list[str]) -> int:
    args = parse(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = load_results(args.out)
    results["machine"] = machine.describe()
    if not args.report_only:
        try:
            asyncio.run(bench(args, results))
        finally:
            save_results(args.out, results)
            write_report(args.out, results)
    else:
        write_report(args.out, results)
    print(f"report: {args.out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
