"""What explaining costs: offline, live, and the capacity gauges.

    python -m bench.explain                  # 5000 nodes, ~10 pods per node
    python -m bench.explain --nodes 500 --repeat 5

On the cluster of ``bench.evaluation`` (a tenth of the nodes tainted, three
zones), for a pod that fits, one confined by a selector and a toleration,
and one that fits nowhere:

- cycle: one scheduling cycle on a built cache, with the default evaluator
  (Columnar, sampling) and with ``Explaining`` (every node, every plugin);
- live diagnosis: what the running scheduler adds to a cycle that leaves a
  pod pending (``explain_cycle`` with every rejecting plugin, JSON, zlib);
- explain: ``py-scheduler explain`` from a loaded snapshot (one cycle, on a
  scheduler built from it), and its suggestions (each one a ``simulate``);
- capacity: one computation of the capacity gauges (three configured shapes
  and the pending pods' shapes), as a scrape pays it.

Medians of ``--repeat`` runs, in CPU milliseconds (the work is one thread's;
CPU time holds up better than wall time on a shared machine).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import orjson

from bench.evaluation import raw_node, raw_pod, running_pods
from py_scheduler import config, logs
from py_scheduler.explain.capacity import Capacity, parse_shapes
from py_scheduler.explain.diagnose import explain_cycle
from py_scheduler.explain.offline import explain_pod
from py_scheduler.explain.suggest import suggest
from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.types import FitError
from py_scheduler.model import decode_pod
from py_scheduler.scheduling.algorithm import Algorithm
from py_scheduler.scheduling.build import build_scheduler
from py_scheduler.scheduling.evaluation import Columnar, Evaluator, Explaining
from py_scheduler.scheduling.object_store import ObjectStore
from py_scheduler.scheduling.scheduler import Scheduler
from py_scheduler.simulation.run import SimulatedCluster
from py_scheduler.simulation.snapshot import Snapshot, from_documents

Raw = dict[str, Any]
CFG = config.parse({})
SHAPES = parse_shapes(
    ["small:cpu=1,memory=2Gi", "large:cpu=8,memory=32Gi", "gpu:cpu=4,nvidia.com/gpu=1"]
)

PODS: dict[str, Callable[[], Raw]] = {
    "fits": lambda: raw_pod("web-x", {"cpu": "500m", "memory": "1Gi"}),
    "selector+toleration": lambda: raw_pod(
        "batch-x",
        {"cpu": "2", "memory": "4Gi"},
        nodeSelector={"topology.kubernetes.io/zone": "zone-1"},
        tolerations=[{"key": "dedicated", "operator": "Equal", "value": "batch"}],
    ),
    "fits nowhere": lambda: raw_pod("huge-x", {"cpu": "64", "memory": "8Gi"}),
}


def cluster(nodes: int, per_node: int, seed: int) -> list[Raw]:
    docs = [raw_node(i) for i in range(nodes)]
    docs.extend(running_pods(random.Random(seed), nodes, per_node))
    return docs


def scheduler_for(snap: Snapshot) -> Scheduler:
    objects = ObjectStore()
    objects.load(snap)
    scheduler = build_scheduler(CFG, cluster=SimulatedCluster(objects, deque()), objects=objects)
    scheduler.replace_nodes(snap.nodes)
    scheduler.replace_pods(snap.pods)
    return scheduler


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median CPU milliseconds: all of it is one thread's work, and CPU time
    holds up better than wall time on a shared machine."""
    samples = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        samples.append(time.process_time() - start)
    return statistics.median(samples) * 1000


def cycle(scheduler: Scheduler, evaluator: Evaluator, raw: Raw) -> tuple[CycleState, Any]:
    pod = decode_pod(raw)
    fwk = scheduler.profiles["py-scheduler"]
    alg = Algorithm(percentage_of_nodes_to_score=0, rng=random.Random(0), evaluator=evaluator)
    state = CycleState()
    try:
        return state, alg.schedule(fwk, state, pod, scheduler.cache)
    except FitError as fit:
        return state, fit


def live_diagnosis(scheduler: Scheduler, raw: Raw) -> None:
    state, fit = cycle(scheduler, Columnar(), raw)
    assert isinstance(fit, FitError)
    fwk = scheduler.profiles["py-scheduler"]
    explanation = explain_cycle(
        fwk, state, fit.pod, scheduler.cache, node=None, fit=fit, result=None, exhaustive=True
    )
    zlib.compress(orjson.dumps(explanation.to_json()), 1)


def explain_offline(snap: Snapshot, key: str) -> None:
    asyncio.run(explain_pod(snap, CFG, key))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.explain", description=__doc__)
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--pods-per-node", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    logs.configure(level="error", fmt="console")
    docs = cluster(args.nodes, args.pods_per_node, args.seed)
    started = time.perf_counter()
    snap = from_documents([*docs, *(make() for make in PODS.values())])
    print(
        f"{args.nodes} nodes, {len(snap.pods)} pods; snapshot decoded in "
        f"{(time.perf_counter() - started) * 1000:.0f} ms"
    )
    scheduler = scheduler_for(snap)
    print(f"\nmedian CPU ms over {args.repeat} runs")
    print(f"{'pod':<22}{'cycle':>9}{'explaining':>12}{'live diag.':>12}{'explain':>10}")
    for kind, make in PODS.items():
        raw = make()
        plain = timed(partial(cycle, scheduler, Columnar(), raw), args.repeat)
        explaining = timed(partial(cycle, scheduler, Explaining(), raw), args.repeat)
        diag = float("nan")
        if kind == "fits nowhere":
            diag = timed(partial(live_diagnosis, scheduler, raw), args.repeat)
        key = f"default/{raw['metadata']['name']}"
        offline = timed(partial(explain_offline, snap, key), args.repeat)
        print(f"{kind:<22}{plain:>9.1f}{explaining:>12.1f}{diag:>12.1f}{offline:>10.0f}")
    key = "default/huge-x"
    explained = asyncio.run(explain_pod(snap, CFG, key))
    started = time.process_time()
    found = asyncio.run(suggest(snap, CFG, explained, key))
    print(
        f"\nsuggestions for {key}: {len(found)} tried, "
        f"{sum(s.verified for s in found)} verified, {time.process_time() - started:.1f} CPU s"
    )
    capacity = Capacity(scheduler.cache, SHAPES, scheduler.pending.values)
    scrape = timed(capacity.compute, args.repeat * 4)
    print(f"capacity gauges, one computation: {scrape:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
