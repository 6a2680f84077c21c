"""Per-attempt PreFilter + PreScore time of PodTopologySpread and
InterPodAffinity on a large cache, as the number of assigned pods grows.

    python -m bench.prefilter [--nodes 5000] [--pods 0,10000,30000,50000]

The cluster: nodes over 10 zones; pods of 200 workloads spread round-robin,
one workload in ten with required anti-affinity on the hostname (so the
symmetry check has terms to look at). Two incoming pods: one with a zone
DoNotSchedule and a hostname ScheduleAnyway spread constraint, one with
required anti-affinity and preferred affinity. PreScore sees the first
``--feasible`` nodes, as kube-scheduler's sampling would hand it (10% of
5000). The first attempt of a kind also builds the cache's indexes; it is
reported apart and the median is over the following attempts. Last, the
price the watch pays: CPU time per pod added to or removed from the cache,
and per status-only update, while 0, 10 or 100 selections are maintained.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from py_scheduler.cluster import Cluster
from py_scheduler.framework.custom_resources import CustomObjectLister, CustomResource
from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.interface import Handle, SharedLister
from py_scheduler.framework.pod_groups import NO_POD_GROUPS, PodGroupLister
from py_scheduler.framework.status import Status
from py_scheduler.framework.waiting_pods import WaitingPod
from py_scheduler.model import (
    HOSTNAME_LABEL,
    ZONE_LABEL,
    NodeInfo,
    PodInfo,
    decode_node,
    decode_pod,
)
from py_scheduler.model.selectors import LabelSelector
from py_scheduler.model.server import OFFLINE, ServerInfo
from py_scheduler.plugins.interpodaffinity.args import InterPodAffinityArgs
from py_scheduler.plugins.interpodaffinity.plugin import InterPodAffinity
from py_scheduler.plugins.podtopologyspread.args import PodTopologySpreadArgs
from py_scheduler.plugins.podtopologyspread.plugin import PodTopologySpread
from py_scheduler.scheduling.cache import Cache
from py_scheduler.scheduling.nominator import Nominator
from py_scheduler.scheduling.object_store import ObjectStore

ZONES = 10
WORKLOADS = 200
ANTI_AFFINITY_EVERY = 10  # workloads 0, 10, 20, ... repel their own replicas


class _Handle:
    """Just enough of a Handle for PreFilter and PreScore."""

    def __init__(self, snapshot: SharedLister) -> None:
        self._snapshot = snapshot
        self._objects = ObjectStore()
        self._nominator = Nominator()

    profile_name = "bench"

    @property
    def snapshot(self) -> SharedLister:
        return self._snapshot

    @property
    def objects(self) -> ObjectStore:
        return self._objects

    @property
    def cluster(self) -> Cluster:
        raise NotImplementedError

    @property
    def nominator(self) -> Nominator:
        return self._nominator

    @property
    def server(self) -> ServerInfo:
        return OFFLINE

    @property
    def pod_groups(self) -> PodGroupLister:
        return NO_POD_GROUPS

    def run_pre_filter_plugins(self, state: CycleState, pod: PodInfo) -> Status:
        raise NotImplementedError

    def run_filters_with_nominated(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        raise NotImplementedError

    def filter_signature(self, state: CycleState, pod: PodInfo) -> Hashable | None:
        return None

    def run_pre_filter_add_pod(
        self, state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo
    ) -> Status:
        raise NotImplementedError

    def run_pre_filter_remove_pod(
        self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo
    ) -> Status:
        raise NotImplementedError

    def waiting_pods(self) -> Sequence[WaitingPod]:
        return ()

    def get_waiting_pod(self, uid: str) -> WaitingPod | None:
        return None

    def reject_waiting_pod(self, uid: str) -> bool:
        return False

    def activate(self, pods: Iterable[PodInfo]) -> None:
        pass

    def custom_objects(
        self, resource: CustomResource, decode: Callable[[Mapping[str, Any]], Any] | None = None
    ) -> CustomObjectLister[Any]:
        raise NotImplementedError


def _term(app: str, key: str) -> dict[str, Any]:
    return {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key}


def _pod(name: str, app: str, node: str = "", **spec: Any) -> PodInfo:
    return decode_pod(
        {
            "metadata": {"name": name, "namespace": "default", "uid": name, "labels": {"app": app}},
            "spec": {
                "schedulerName": "py-scheduler",
                "nodeName": node,
                "containers": [{"name": "c", "image": "pause"}],
                **spec,
            },
        }
    )


def build_cache(nodes: int, pods: int) -> Cache:
    cache = Cache()
    names = [f"node-{i}" for i in range(nodes)]
    for i, name in enumerate(names):
        labels = {HOSTNAME_LABEL: name, ZONE_LABEL: f"zone-{i % ZONES}"}
        cache.add_node(decode_node({"metadata": {"name": name, "labels": labels}}))
    for i in range(pods):
        workload = i % WORKLOADS
        app = f"app-{workload}"
        spec: dict[str, Any] = {}
        if workload % ANTI_AFFINITY_EVERY == 0:
            spec["affinity"] = {
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [_term(app, HOSTNAME_LABEL)]
                }
            }
        cache.add_pod(_pod(f"p-{i}", app, names[(i * 7) % nodes], **spec))
    return cache


def spread_pod() -> PodInfo:
    selector = {"matchLabels": {"app": "app-1"}}
    return _pod(
        "incoming-spread",
        "app-1",
        topologySpreadConstraints=[
            {
                "maxSkew": 1,
                "topologyKey": ZONE_LABEL,
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": selector,
            },
            {
                "maxSkew": 1,
                "topologyKey": HOSTNAME_LABEL,
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": selector,
            },
        ],
    )


def anti_affinity_pod() -> PodInfo:
    app = f"app-{ANTI_AFFINITY_EVERY}"
    return _pod(
        "incoming-anti",
        app,
        affinity={
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [_term(app, HOSTNAME_LABEL)]
            },
            "podAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 10, "podAffinityTerm": _term("app-3", ZONE_LABEL)}
                ]
            },
        },
    )


Attempt = Callable[[], None]


def attempt_of(
    plugin: PodTopologySpread | InterPodAffinity,
    pod: PodInfo,
    nodes: Sequence[NodeInfo],
    feasible: Sequence[NodeInfo],
) -> Attempt:
    def attempt() -> None:
        state = CycleState()
        plugin.pre_filter(state, pod, nodes)
        plugin.pre_score(state, pod, feasible)

    return attempt


def timed(attempt: Attempt, repeats: int) -> tuple[float, float]:
    """(first attempt, median of the others), in milliseconds of CPU time:
    wall time on a machine shared with other work measures the neighbours."""
    samples = []
    for _ in range(repeats + 1):
        start = time.process_time()
        attempt()
        samples.append((time.process_time() - start) * 1000)
    return samples[0], statistics.median(samples[1:])


def pod_event_cost(cache: Cache, selections: int, events: int = 2000) -> tuple[float, float]:
    """CPU microseconds per pod added or removed, and per status-only update,
    with ``selections`` selections maintained: what the indexes cost the watch."""
    for workload in range(selections):
        selector = LabelSelector((("app", f"app-{workload}"),))
        cache.matching_pods((selector,), terminating=False)
    node = cache.node_infos()[0].name
    pods = [_pod(f"event-{i}", f"app-{i % WORKLOADS}", node) for i in range(events // 2)]
    start = time.process_time()
    for pod in pods:
        cache.add_pod(pod)
    for pod in pods:
        cache.remove_pod(pod)
    churned = (time.process_time() - start) * 1e6 / events
    for pod in pods:
        cache.add_pod(pod)
    start = time.process_time()
    for pod in pods:
        cache.update_pod(replace(pod, resource_version="2"))
    updated = (time.process_time() - start) * 1e6 / len(pods)
    return churned, updated


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.prefilter")
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--pods", default="0,10000,30000,50000")
    parser.add_argument("--feasible", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    print(f"nodes={args.nodes} feasible={args.feasible} repeats={args.repeats} (CPU ms)")
    columns = ("spread first", "spread median", "anti first", "anti median")
    print(f"{'pods':>7} " + " ".join(f"{c:>14}" for c in columns))
    for pods in (int(p) for p in args.pods.split(",")):
        cache = build_cache(args.nodes, pods)
        handle: Handle = _Handle(cache)
        nodes = cache.node_infos()
        feasible = nodes[: args.feasible]
        spread = attempt_of(
            PodTopologySpread(PodTopologySpreadArgs(), handle), spread_pod(), nodes, feasible
        )
        anti = attempt_of(
            InterPodAffinity(InterPodAffinityArgs(), handle), anti_affinity_pod(), nodes, feasible
        )
        s_first, s_median = timed(spread, args.repeats)
        a_first, a_median = timed(anti, args.repeats)
        figures = (s_first, s_median, a_first, a_median)
        print(f"{pods:>7} " + " ".join(f"{f:>14.1f}" for f in figures))
    for selections in (0, 10, 100):
        churned, updated = pod_event_cost(build_cache(args.nodes, 0), selections)
        print(
            f"{selections:>3} selections maintained: pod add or remove {churned:.1f} CPU µs, "
            f"status update {updated:.1f} CPU µs"
        )


if __name__ == "__main__":
    main()
