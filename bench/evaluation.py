"""Filter + Score per pod: node by node, on a thread pool, on numpy columns, or kept across cycles.

    python -m bench.evaluation                    # 500 and 5000 nodes, ~10 pods per node
    python -m bench.evaluation --nodes 5000 --cycles 40
    python -m bench.evaluation --write-snapshot /tmp/cluster.yaml --nodes 5000 --pending 2000
    python -m bench.evaluation --plugin-overhead --nodes 5000

Each way runs the scheduling algorithm (PreFilter, Filter with the early stop
and the round-robin start, PreScore, Score, select) of the default profile on
its own copy of the same cluster, cycle by cycle interleaved (a different
way first each cycle: the machine may be shared), and assumes the
chosen node as the scheduler does. Every cycle's outcome (host, nodes
evaluated and feasible, next start) must be identical across the ways
or the run stops. Reported: the median microseconds per pod, the lowest of
``--repeat`` runs.

The ways are the package's evaluators (py_scheduler.scheduling.evaluation
and .incremental): NodeByNode, Threaded (kube-scheduler's shape: 16 workers,
chunks of at most about sqrt(n) nodes, in waves sized to the feasible nodes
still wanted), Columnar and Incremental, the default.

``--plugin-overhead`` measures instead what one out-of-tree Filter plugin
costs: the default profile, then the default profile plus a trivial
per-node Python Filter (``Drained``: reject nodes labelled as drained), then
plus the same plugin with a columnar form (``filter_batch`` over a
``NodeColumns.derived`` column), all with the default evaluator, which
keeps no verdict of an out-of-tree plugin: it runs on the candidates every
cycle. No node is drained, so the three must choose the same nodes.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import orjson

from py_scheduler import config, plugins
from py_scheduler.framework import (
    SUCCESS,
    Bools,
    Int64s,
    NodeColumns,
    NodeInfo,
    PluginSpec,
    Status,
    no_args,
)
from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.interface import Nominator as NominatorProtocol
from py_scheduler.framework.interface import ObjectLister
from py_scheduler.framework.runtime import Framework, ProfileSpec
from py_scheduler.framework.types import FitError
from py_scheduler.model import PodInfo, decode_node, decode_pod
from py_scheduler.scheduling.algorithm import Algorithm
from py_scheduler.scheduling.cache import Cache
from py_scheduler.scheduling.evaluation import (
    PARALLELISM,
    Columnar,
    Evaluator,
    NodeByNode,
    Threaded,
)
from py_scheduler.scheduling.incremental import Incremental
from py_scheduler.scheduling.nominator import Nominator
from py_scheduler.scheduling.object_store import ObjectStore

Raw = dict[str, Any]
ZONES = 3
WAYS = ("sequential", "thread pool", "vectorised", "incremental")


# -- the cluster ----------------------------------------------------------------------------------


def raw_node(i: int) -> Raw:
    name = f"node-{i:05d}"
    spec: Raw = {}
    if i % 10 == 0:  # a tenth of the nodes are dedicated
        spec["taints"] = [{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}]
    alloc = {"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "200Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "resourceVersion": "1",
            "labels": {
                "kubernetes.io/hostname": name,
                "topology.kubernetes.io/zone": f"zone-{i % ZONES}",
            },
        },
        "spec": spec,
        "status": {
            "allocatable": alloc,
            "capacity": alloc,
            "images": [{"names": [f"registry.local/app-{i % 7}:1"], "sizeBytes": 300_000_000}],
        },
    }


def raw_pod(name: str, requests: dict[str, str], *, node: str = "", **spec: Any) -> Raw:
    container: Raw = {"name": "app", "image": "registry.local/app-1:1"}
    if requests:
        container["resources"] = {"requests": requests}
    body: Raw = {"containers": [container], "schedulerName": "py-scheduler", **spec}
    if node:
        body["nodeName"] = node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"uid-{name}",
            "labels": {"app": name.rsplit("-", 1)[0]},
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "resourceVersion": "1",
        },
        "spec": body,
        "status": {"phase": "Running" if node else "Pending"},
    }


def running_pods(rng: random.Random, node_count: int, per_node: int) -> list[Raw]:
    out = []
    for i in range(node_count):
        for j in range(rng.randint(per_node - 3, per_node + 3)):
            requests = {
                "cpu": f"{rng.randint(1, 20) * 100}m",
                "memory": f"{rng.randint(1, 40) * 128}Mi",
            }
            if rng.random() < 0.1:
                requests = {}  # best effort: counted at the non-zero defaults
            out.append(raw_pod(f"run{i}-{j}", requests, node=f"node-{i:05d}"))
    return out


# The pods measured: what most workloads look like, then two with constraints.
KINDS: dict[str, Callable[[int], Raw]] = {
    "plain": lambda i: raw_pod(f"web-{i}", {"cpu": "500m", "memory": "1Gi"}),
    "selector+toleration": lambda i: raw_pod(
        f"batch-{i}",
        {"cpu": "2", "memory": "4Gi"},
        nodeSelector={"topology.kubernetes.io/zone": "zone-1"},
        tolerations=[{"key": "dedicated", "operator": "Equal", "value": "batch"}],
    ),
    "zone spread": lambda i: raw_pod(
        f"spread-{i}",
        {"cpu": "250m", "memory": "512Mi"},
        topologySpreadConstraints=[
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": "spread"}},
            }
        ],
    ),
}


# -- the measurement ---------------------------------------------------------------------------


@dataclass
class Way:
    name: str
    cache: Cache
    fwk: Framework
    alg: Algorithm
    seconds: list[float]


def build_ways(
    nodes: list[Raw], running: list[PodInfo], pool: ThreadPoolExecutor, seed: int
) -> list[Way]:
    profile: ProfileSpec = config.parse({}).profiles[0]
    ways = []
    for name in WAYS:
        cache = Cache()
        for raw in nodes:
            cache.add_node(decode_node(raw))
        for pod in running:  # the decoded pods are shared, only placement is per cache
            cache.add_pod(pod)
        nominator: NominatorProtocol = Nominator()
        objects: ObjectLister = ObjectStore()
        fwk = Framework(
            profile,
            plugins.IN_TREE,
            snapshot=cache,
            objects=objects,
            cluster=None,  # type: ignore[arg-type]  # never binds here
            nominator=nominator,
        )
        evaluators: dict[str, Evaluator] = {
            "sequential": NodeByNode(),
            "thread pool": Threaded(pool, PARALLELISM),
            "vectorised": Columnar(),
            "incremental": Incremental(),
        }
        evaluator = evaluators[name]
        alg = Algorithm(
            percentage_of_nodes_to_score=0, rng=random.Random(seed), evaluator=evaluator
        )
        ways.append(Way(name, cache, fwk, alg, []))
    return ways


def measure(
    node_count: int, per_node: int, cycles: int, repeat: int, seed: int
) -> dict[str, dict[str, float]]:
    """Per pod kind and way, the lowest of ``repeat`` medians (µs): the
    machine may be shared, and a quiet stretch shows the code, not the load."""
    rng = random.Random(seed)
    nodes = [raw_node(i) for i in range(node_count)]
    running = [decode_pod(raw) for raw in running_pods(rng, node_count, per_node)]
    out: dict[str, dict[str, float]] = {}
    with ThreadPoolExecutor(max_workers=PARALLELISM) as pool:
        ways = build_ways(nodes, running, pool, seed)
        for kind, make in KINDS.items():
            best = {way.name: math.inf for way in ways}
            for _ in range(repeat):
                run_cycles(ways, kind, make, cycles)
                for way in ways:
                    best[way.name] = min(best[way.name], statistics.median(way.seconds) * 1e6)
            out[kind] = best
    return out


def run_cycles(
    ways: list[Way],
    kind: str,
    make: Callable[[int], Raw],
    cycles: int,
    clock: Callable[[], float] = time.perf_counter,
) -> None:
    for way in ways:
        way.seconds = []
    for i in range(cycles + 3):
        pod = decode_pod(make(i))
        outcomes = {}
        # A different way first each cycle, so that no way always runs
        # right after another's allocations or a neighbour's burst.
        for way in ways[i % len(ways) :] + ways[: i % len(ways)]:
            outcome: object
            began = clock()
            try:
                result = way.alg.schedule(way.fwk, CycleState(), pod, way.cache)
            except FitError as error:  # a full small cluster: the message must agree
                outcome = str(error)
            else:
                outcome = result
                way.cache.assume(pod, result.node)
            elapsed = clock() - began
            if i >= 3:  # the first cycles warm up (and build the columns)
                way.seconds.append(elapsed)
            outcomes[way.name] = (outcome, way.alg.next_start)
        if len(set(outcomes.values())) != 1:
            sys.exit(f"{kind} cycle {i}: outcomes differ: {outcomes}")
    for way in ways:
        for pod in [p for p in way.cache.pods() if way.cache.is_assumed(p.uid)]:
            way.cache.forget(pod)


# -- one out-of-tree Filter plugin ----------------------------------------------------------------

DRAINED = "bench.example.com/drained"


class Drained:
    """A trivial per-node Python Filter, as a plugin author would first write it."""

    name: ClassVar[str] = "Drained"

    def __init__(self, args: object, handle: object) -> None:
        del args, handle

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if node.node.labels.get(DRAINED) == "true":
            return Status.unresolvable("node(s) were drained")
        return SUCCESS


def _drained(node: NodeInfo) -> int:
    return int(node.node.labels.get(DRAINED) == "true")


class ColumnarDrained(Drained):
    """The same plugin with a columnar form: one derived column, one comparison."""

    def filter_batch(
        self, state: CycleState, pod: PodInfo, columns: NodeColumns, rows: Int64s
    ) -> Bools | None:
        drained = columns.derived("Drained", _drained)
        if drained is None:
            return None
        passes: Bools = drained[rows] == 0
        return passes


PROFILES: dict[str, type[Drained] | None] = {
    "default": None,
    "+ per-node filter": Drained,
    "+ columnar filter": ColumnarDrained,
}


def plugin_ways(nodes: list[Raw], running: list[PodInfo], seed: int) -> list[Way]:
    ways = []
    for name, plugin in PROFILES.items():
        registry = dict(plugins.IN_TREE)
        raw: dict[str, Any] = {}
        if plugin is not None:
            registry["Drained"] = PluginSpec("Drained", no_args, plugin)
            raw = {
                "apiVersion": config.API_VERSION,
                "kind": config.KIND,
                "profiles": [{"plugins": {"multiPoint": {"enabled": [{"name": "Drained"}]}}}],
            }
        profile = config.parse(raw, registry=registry).profiles[0]
        cache = Cache()
        for node in nodes:
            cache.add_node(decode_node(node))
        for pod in running:
            cache.add_pod(pod)
        fwk = Framework(
            profile,
            registry,
            snapshot=cache,
            objects=ObjectStore(),
            cluster=None,  # type: ignore[arg-type]  # never binds here
            nominator=Nominator(),
        )
        alg = Algorithm(percentage_of_nodes_to_score=0, rng=random.Random(seed))
        ways.append(Way(name, cache, fwk, alg, []))
    return ways


def measure_plugins(
    node_count: int, per_node: int, cycles: int, repeat: int, seed: int
) -> dict[str, dict[str, float]]:
    """As ``measure``, for the three profiles of ``PROFILES``, in CPU time of
    the measuring thread: on a shared machine the wall clock mostly measures
    the neighbours, and a few per cent is what this compares."""
    rng = random.Random(seed)
    nodes = [raw_node(i) for i in range(node_count)]
    running = [decode_pod(raw) for raw in running_pods(rng, node_count, per_node)]
    ways = plugin_ways(nodes, running, seed)
    out: dict[str, dict[str, float]] = {}
    for kind, make in KINDS.items():
        best = {way.name: math.inf for way in ways}
        for _ in range(repeat):
            run_cycles(ways, kind, make, cycles, clock=time.thread_time)
            for way in ways:
                best[way.name] = min(best[way.name], statistics.median(way.seconds) * 1e6)
        out[kind] = best
    return out


def write_snapshot(path: Path, node_count: int, per_node: int, pending: int, seed: int) -> None:
    rng = random.Random(seed)
    docs: list[Raw] = [raw_node(i) for i in range(node_count)]
    docs.extend(running_pods(rng, node_count, per_node))
    makers = list(KINDS.values())
    docs.extend(makers[i % 2](i) for i in range(pending))  # plain and selector pods
    items = {"apiVersion": "v1", "kind": "List", "items": docs}
    # JSON is YAML, and far quicker to write; the simulator reads it as YAML.
    path.write_bytes(orjson.dumps(items))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.evaluation", description=__doc__)
    parser.add_argument("--nodes", type=int, action="append", help="cluster sizes (500, 5000)")
    parser.add_argument("--pods-per-node", type=int, default=10)
    parser.add_argument("--cycles", type=int, default=30, help="measured pods per kind")
    parser.add_argument("--repeat", type=int, default=3, help="runs per kind; best median kept")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write-snapshot", type=Path, help="write a simulate snapshot and exit")
    parser.add_argument("--pending", type=int, default=2000, help="pending pods in the snapshot")
    parser.add_argument(
        "--plugin-overhead",
        action="store_true",
        help="the default profile against it plus one Filter plugin, per node and columnar",
    )
    args = parser.parse_args(argv)
    sizes = args.nodes or [500, 5000]
    if args.plugin_overhead:
        return print_plugin_overhead(sizes, args)
    if args.write_snapshot:
        write_snapshot(args.write_snapshot, sizes[-1], args.pods_per_node, args.pending, args.seed)
        return 0
    print(f"median µs per pod (Filter+Score+select), numpy {np.__version__}")
    print(f"{'nodes':>6}  {'pod':<20} " + " ".join(f"{way:>12}" for way in WAYS))
    for size in sizes:
        for kind, medians in measure(
            size, args.pods_per_node, args.cycles, args.repeat, args.seed
        ).items():
            print(f"{size:>6}  {kind:<20} " + " ".join(f"{medians[w]:>12.0f}" for w in WAYS))
    return 0


def print_plugin_overhead(sizes: list[int], args: argparse.Namespace) -> int:
    names = list(PROFILES)
    print(f"median CPU µs per pod (Filter+Score+select, default evaluator), numpy {np.__version__}")
    print(f"{'nodes':>6}  {'pod':<20} " + " ".join(f"{n:>18}" for n in names))
    for size in sizes:
        for kind, medians in measure_plugins(
            size, args.pods_per_node, args.cycles, args.repeat, args.seed
        ).items():
            base = medians["default"]
            cells = [f"{medians[names[0]]:>18.0f}"] + [
                f"{medians[n]:>9.0f} ({(medians[n] / base - 1) * 100:+5.1f}%)" for n in names[1:]
            ]
            print(f"{size:>6}  {kind:<20} " + " ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
