"""The workloads, after scheduler_perf's performance configs (shapes, not code).

Drain mode (as the performance protocol suggests for a 2-core box): init pods
are created already placed (``spec.nodeName``), measured pods are created
while no scheduler runs, then the scheduler under test starts and drains
them, so the load generator does not compete with it for the CPUs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final, Literal

Mode = Literal["drain", "latency"]


@dataclass(frozen=True)
class Workload:
    name: str
    nodes: int
    measured: int
    measured_kind: str = "default"
    init_pods: int = 0
    init_kind: str = "default"
    # Init pods per node, filled node by node (0: one round-robin pass).
    init_per_node: int = 0
    zones: int = 0
    mode: Mode = "drain"
    # Pods that fit nowhere, created at this rate while the measured pods drain.
    unschedulable_per_second: float = 0.0
    # Latency: arrival rates tried in turn, seconds of arrivals per rate.
    rates: tuple[int, ...] = ()
    step_seconds: float = 0.0
    # Only the no-decision binder runs it: the control plane's own limit.
    ceiling: bool = False
    # DRA: devices a fake driver publishes per node (ResourceSlices); measured
    # pods of kind "dra" take one each through a ResourceClaimTemplate.
    devices_per_node: int = 0
    # Gangs: measured pods come in Workload API PodGroups of this many, each needing
    # all of them (minCount); kube-scheduler runs with its gang scheduling on.
    gang_size: int = 0
    # The schedulers' configuration (contenders.CONFIGS): "default", or
    # "batching", upstream's for its opportunistic batching (no default
    # spreading) with the OpportunisticBatching gate set on kube-scheduler.
    scheduler_config: str = "default"
    # Measured pods share a "signature" label in runs of this many (0: none),
    # as scheduler_perf's signatureBatchSize gives them.
    signature_batch: int = 0

    def quick(self) -> Workload:
        """500 nodes (preemption: 50) and a tenth of the pods."""
        if self.name == "Preemption":
            return replace(
                self,
                nodes=self.nodes // 10,
                init_pods=self.init_pods // 10,
                measured=self.measured // 10,
            )
        return replace(
            self,
            nodes=min(self.nodes, 500),
            init_pods=self.init_pods // 10,
            measured=self.measured // 10,
            step_seconds=self.step_seconds / 2,
            signature_batch=self.signature_batch // 10,
        )


WORKLOADS: Final = (
    Workload("SchedulingBasic", nodes=5000, init_pods=1000, measured=10000),
    Workload(
        "TopologySpreading",
        nodes=5000,
        zones=3,
        init_pods=5000,
        measured=5000,
        measured_kind="spread",
    ),
    Workload(
        "SchedulingPodAntiAffinity",
        nodes=5000,
        init_pods=1000,
        init_kind="anti",
        measured=2000,
        measured_kind="anti",
    ),
    Workload("Unschedulable", nodes=5000, measured=10000, unschedulable_per_second=5.0),
    Workload(
        "Preemption",
        nodes=500,
        init_pods=2000,
        init_kind="low",
        init_per_node=4,
        measured=500,
        measured_kind="high",
    ),
    Workload(
        "Latency",
        nodes=5000,
        measured=0,
        mode="latency",
        rates=(100, 200, 300, 400, 800, 1600),
        step_seconds=10.0,
    ),
    Workload("Ceiling", nodes=5000, init_pods=1000, measured=10000, ceiling=True),
    # scheduler_perf's batching/ResourceSaturation: 3-CPU pods on 4-CPU nodes,
    # one pod fills a node, upstream's batching configuration for both.
    Workload(
        "ResourceSaturation",
        nodes=5000,
        measured=5000,
        measured_kind="saturation",
        scheduler_config="batching",
        signature_batch=1000,
    ),
    # scheduler_perf's SchedulingWithResourceClaimTemplateStructured, 500 nodes:
    # one claim per pod from a template, devices of one driver on every node.
    Workload(
        "SchedulingWithResourceClaimTemplate",
        nodes=500,
        measured=2500,
        measured_kind="dra",
        devices_per_node=8,
    ),
)

# Gang scheduling (not a scheduler_perf config): 500 gangs of 8 on 5000 nodes,
# kube-scheduler with GenericWorkload on, both reading the Workload API's PodGroups.
GANG: Final = Workload(
    "GangScheduling", nodes=5000, measured=4000, measured_kind="gang", gang_size=8
)

BY_NAME: Final = {w.name: w for w in (*WORKLOADS, GANG)}


def select(names: str | None, *, quick: bool, nodes: int | None = None) -> list[Workload]:
    """The named workloads (every one but the gang workload by default), at quick or
    full size; ``nodes`` replaces every one's node count (the scaling runs)."""
    chosen = list(WORKLOADS) if not names else [BY_NAME[n.strip()] for n in names.split(",")]
    sized = [w.quick() if quick else w for w in chosen]
    return [replace(w, nodes=nodes) for w in sized] if nodes else sized
