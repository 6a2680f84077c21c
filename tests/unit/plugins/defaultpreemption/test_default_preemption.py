"""DefaultPreemption, table by table after upstream's default_preemption_test.go
(TestPostFilter, TestDryRunPreemption, TestSelectBestCandidate,
TestPodEligibleToPreemptOthers, TestPreempt), plus the pure helpers in
candidates and the plugin's arguments.

Every case runs against a real Framework (the default profile plus
DefaultPreemption), so the dry run goes through the real PreFilter
extensions and filters. Differences from upstream's tables:

- Start times are whole seconds after the epoch, not nanoseconds (the API's
  RFC 3339 timestamps carry no nanoseconds); only their order matters.
- The offset that upstream draws from ``rand.NewSource(4)`` (4, then 1, then
  3 for five nodes) is injected through ``plugin.rng``.
- Cases that need extenders, pod groups, InterPodAffinity or
  PodTopologySpread are left out: py-scheduler has none of them.
- Upstream's FalseFilter, TrueFilter and MatchFilter cases run with a
  counting filter that rejects every node, which is what their tables
  assert (no candidate, one filter call per node).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.interface import Handle, PreFilterExtensions
from py_scheduler.framework.registry import ArgsError, NoArgs, PluginSpec, no_args
from py_scheduler.framework.runtime import Framework, PluginRef, ProfileSpec
from py_scheduler.framework.status import SUCCESS, Code, Status
from py_scheduler.framework.types import (
    Diagnosis,
    NodeToStatus,
    PostFilterResult,
    PreFilterResult,
    fit_message,
)
from py_scheduler.model import NodeInfo, NodeName, PodInfo, decode_pod
from py_scheduler.model.budgets import DisruptionBudget
from py_scheduler.model.selectors import LabelSelector, Requirement
from py_scheduler.model.server import OFFLINE, ServerInfo, ServerVersion, offline
from py_scheduler.plugins import DEFAULT_MULTI_POINT, IN_TREE
from py_scheduler.plugins.defaultpreemption.candidates import (
    Candidate,
    by_importance,
    earliest_start_of_most_important,
    pick_one_node,
    split_by_pdb_violation,
)
from py_scheduler.plugins.defaultpreemption.default_preemption import (
    DELETE,
    EVICT,
    INELIGIBLE_NEVER,
    INELIGIBLE_TERMINATING,
    NAME,
    SPEC,
    DefaultPreemption,
    DefaultPreemptionArgs,
    aggregate_errors,
)
from tests.builders import make_pod, node_info, raw_pod
from tests.fakes import FakeCluster, FakeNominator, FakeObjects, FakeSnapshot

NEG, LOW, MID, HIGH, VERY_HIGH = -100, 0, 100, 1000, 10000

SMALL = {"cpu": "100m", "memory": "100"}
MEDIUM = {"cpu": "200m", "memory": "200"}
LARGE = {"cpu": "300m", "memory": "300"}
VERY_LARGE = {"cpu": "500m", "memory": "500"}
ONE_POD = {"pods": "1"}
NODE_RES = {"cpu": "200m", "memory": "400"}

U = Code.UNSCHEDULABLE
UU = Code.UNRESOLVABLE

VIOLATING_KEY = "test.kubernetes.io/is-violating-pdb"


def epoch(seconds: int) -> str:
    return f"1970-01-01T00:00:{seconds:02d}Z"


def pod(
    name: str,
    priority: int | None = None,
    *,
    node: str = "",
    req: Mapping[str, str] | None = None,
    start: int | None = None,
    labels: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> PodInfo:
    """upstream's st.MakePod().Name(name).UID(name)...: uid equals the name."""
    return make_pod(
        name,
        uid=name,
        priority=priority,
        node_name=node,
        requests=req,
        start_time=epoch(start) if start is not None else None,
        labels=labels,
        **kwargs,
    )


def terminating_victim(name: str, priority: int, node: str) -> PodInfo:
    """A pod the scheduler already preempted: deleting, with DisruptionTarget."""
    raw = raw_pod(name, uid=name, priority=priority, node_name=node, deleting=True)
    raw["status"]["conditions"] = [
        {"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler"}
    ]
    return decode_pod(raw)


@dataclass(frozen=True)
class N:
    """A node as upstream's st.MakeNode().Name(name).Capacity(res).Label(...)."""

    name: str
    capacity: Mapping[str, str] = field(default_factory=lambda: dict(VERY_LARGE))
    labels: Mapping[str, str] = field(default_factory=dict)


def nodes_with(specs: Sequence[N], pods: Sequence[PodInfo]) -> list[NodeInfo]:
    return [
        node_info(
            spec.name,
            pods=[p for p in pods if p.node_name == spec.name],
            # Capacity() starts from 32 pods, as upstream's node wrapper does.
            allocatable={"pods": "32", **spec.capacity},
            labels=spec.labels,
        )
        for spec in specs
    ]


def budget(
    labels: Mapping[str, str] | None,
    allowed: int = 0,
    *,
    name: str = "pdb",
    disrupted: Sequence[str] = (),
    namespace: str = "default",
) -> DisruptionBudget:
    selector = None if labels is None else LabelSelector(tuple(sorted(labels.items())))
    return DisruptionBudget(namespace, name, selector, allowed, frozenset(disrupted))


class Offsets(random.Random):
    """Hands out the given starting offsets in turn (upstream seeds rand with 4)."""

    def __init__(self, *offsets: int) -> None:
        super().__init__(0)
        self.offsets = list(offsets)

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:
        return self.offsets.pop(0) % start if self.offsets else 0


# -- test plugins ------------------------------------------------------------------------


class CountingFilter:
    """tf.FakeFilterPlugin: counts calls and rejects nodes with the configured code."""

    name: ClassVar[str] = "FakeFilter"

    def __init__(self, args: NoArgs, handle: Handle) -> None:
        del args, handle
        self.calls = 0
        self.codes: dict[str, Code] = {}

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        self.calls += 1
        code = self.codes.get(node.name, Code.SUCCESS)
        return SUCCESS if code is Code.SUCCESS else Status(code)


class FailOnErrorLabel:
    """upstream's TestPlugin: its AddPod/RemovePod fail on nodes labelled error=true."""

    name: ClassVar[str] = "test-plugin"

    def __init__(self, args: NoArgs, handle: Handle) -> None:
        del args, handle

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        return None, SUCCESS

    def pre_filter_extensions(self) -> PreFilterExtensions | None:
        return self

    def add_pod(self, state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo) -> Status:
        return self._check(node, f"failed to add pod: {pod.name}")

    def remove_pod(
        self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo
    ) -> Status:
        return self._check(node, f"failed to remove pod: {pod.name}")

    @staticmethod
    def _check(node: NodeInfo, message: str) -> Status:
        return Status.error(message) if node.node.labels.get("error") == "true" else SUCCESS


COUNTING = PluginSpec(CountingFilter.name, no_args, CountingFilter)
FAILING = PluginSpec(FailOnErrorLabel.name, no_args, FailOnErrorLabel)


@dataclass
class Env:
    fwk: Framework
    plugin: DefaultPreemption
    nodes: list[NodeInfo]
    objects: FakeObjects
    cluster: FakeCluster

    @property
    def counter(self) -> CountingFilter:
        counter = self.fwk.plugins[CountingFilter.name]
        assert isinstance(counter, CountingFilter)
        return counter

    def state_for(self, incoming: PodInfo) -> CycleState:
        state = CycleState()
        _, status, _ = self.fwk.run_pre_filter(state, incoming, self.nodes)
        assert status.is_success, status
        return state

    def post_filter(
        self, incoming: PodInfo, statuses: NodeToStatus
    ) -> tuple[PostFilterResult | None, Status]:
        return self.plugin.post_filter(self.state_for(incoming), incoming, statuses)


def env(
    nodes: Sequence[NodeInfo],
    *,
    pdbs: Sequence[DisruptionBudget] = (),
    args: DefaultPreemptionArgs | None = None,
    nominated: Mapping[str, list[PodInfo]] | None = None,
    counting: bool = False,
    failing: bool = False,
    offsets: Sequence[int] = (0,),
    server: ServerInfo = OFFLINE,
) -> Env:
    first = (PluginRef(COUNTING.name),) if counting else ()
    extra = (PluginRef(FAILING.name),) if failing else ()
    spec = ProfileSpec(
        scheduler_name="py-scheduler",
        multi_point=first + DEFAULT_MULTI_POINT + extra + (PluginRef(NAME),),
        args={NAME: args} if args is not None else {},
    )
    objects = FakeObjects(budgets=list(pdbs))
    cluster = FakeCluster()
    fwk = Framework(
        spec,
        {**IN_TREE, NAME: SPEC, COUNTING.name: COUNTING, FAILING.name: FAILING},
        snapshot=FakeSnapshot(nodes),
        objects=objects,
        cluster=cluster,
        nominator=FakeNominator(dict(nominated or {})),
        server=server,
    )
    plugin = fwk.plugins[NAME]
    assert isinstance(plugin, DefaultPreemption)
    plugin.rng = Offsets(*offsets)
    plugin.clock = lambda: 3600.0  # "now", for pods without a start time
    return Env(fwk, plugin, list(nodes), objects, cluster)


def statuses_of(codes: Mapping[str, Code], absent: Code = UU) -> NodeToStatus:
    return NodeToStatus({NodeName(n): Status(c) for n, c in codes.items()}, Status(absent))


def all_unschedulable(nodes: Sequence[NodeInfo]) -> NodeToStatus:
    return statuses_of({n.name: U for n in nodes})


def names(pods: Sequence[PodInfo]) -> list[str]:
    return [p.name for p in pods]


# -- TestPostFilter ------------------------------------------------------------------------


@dataclass(frozen=True)
class PostFilterCase:
    incoming: PodInfo
    pods: list[PodInfo]
    nodes: list[N]
    statuses: NodeToStatus
    want_node: str | None  # None: no result; "": a result that clears the nomination
    want_status: Status
    want_victims: list[str] = field(default_factory=list)
    pdbs: list[DisruptionBudget] = field(default_factory=list)


def placed(node: str, victims: int) -> Status:
    """A nomination, as Kubernetes 1.37 (the release without a server) words it."""
    return Status(
        Code.SUCCESS,
        (
            f"preemption: found a potential placement for pod on node {node}, "
            f"preempting {victims} victims",
        ),
    )


def not_available(message: str) -> Status:
    return Status.unschedulable(f"preemption: {message}")


POST_FILTER = [
    pytest.param(
        PostFilterCase(
            pod("p", HIGH),
            [pod("p1", node="node1")],
            [N("node1", ONE_POD)],
            statuses_of({"node1": U}),
            "node1",
            placed("node1", 1),
            ["p1"],
        ),
        id="pod with higher priority can be made schedulable",
    ),
    pytest.param(
        PostFilterCase(
            pod("p"),
            [pod("p1", node="node1")],
            [N("node1", ONE_POD)],
            statuses_of({"node1": U}),
            "",
            not_available(
                "0/1 nodes are available: 1 No preemption victims found for incoming pod."
            ),
        ),
        id="pod with tied priority is still unschedulable",
    ),
    pytest.param(
        PostFilterCase(
            pod("p", HIGH),
            [pod("p1", node="node1")],
            [N("node1", ONE_POD)],
            statuses_of({"node1": UU}),
            "",
            not_available("0/1 nodes are available: 1 Preemption is not helpful for scheduling."),
        ),
        id="preemption should respect filteredNodesStatuses",
    ),
    pytest.param(
        PostFilterCase(
            pod("p", HIGH),
            [pod("p1", node="node1")],
            [N("node1", ONE_POD)],
            NodeToStatus(),
            "",
            not_available("0/1 nodes are available: 1 Preemption is not helpful for scheduling."),
        ),
        id="preemption should respect absent NodeToStatusReader entry meaning "
        "UnschedulableAndUnresolvable",
    ),
    pytest.param(
        PostFilterCase(
            pod("p", MID),
            [pod("p1", HIGH, node="node1"), pod("p2", LOW, node="node2")],
            [N("node1", ONE_POD), N("node2", ONE_POD)],
            statuses_of({"node1": U, "node2": U}),
            "node2",
            placed("node2", 1),
            ["p2"],
        ),
        id="pod can be made schedulable on one node",
    ),
    pytest.param(
        PostFilterCase(
            pod("p", VERY_HIGH),
            [
                pod("p1", HIGH, node="node1", labels={VIOLATING_KEY: "non-violating"}),
                pod("p2", LOW, node="node1", labels={VIOLATING_KEY: "violating"}),
                pod("p3", MID, node="node2", labels={VIOLATING_KEY: "violating"}),
            ],
            [N("node1", ONE_POD), N("node2", ONE_POD)],
            statuses_of({"node1": U, "node2": U}),
            "node2",
            placed("node2", 1),
            ["p3"],
            pdbs=[
                # minAvailable 100%: nothing may be disrupted.
                budget({VIOLATING_KEY: "violating"}, 0, name="violating-pdb"),
                budget({VIOLATING_KEY: "non-violating"}, 2**31 - 1, name="non-violating-pdb"),
            ],
        ),
        id="pod can be made schedulable on minHighestPriority node",
    ),
    pytest.param(
        PostFilterCase(
            pod("p", HIGH, req=LARGE),
            [pod("p1", node="node1"), pod("p2", node="node2")],
            [N("node1", NODE_RES), N("node2", NODE_RES)],
            statuses_of({"node1": U, "node2": U}),
            "",
            not_available("0/2 nodes are available: 2 Insufficient cpu."),
        ),
        id="no candidate nodes found, no enough resource after removing low priority pods",
    ),
    pytest.param(
        PostFilterCase(
            pod("p", HIGH, req=LARGE),
            [
                pod("p1", HIGH, node="node1"),
                pod("p2", node="node2"),
                pod("p3", HIGH, node="node3"),
            ],
            [N("node1", ONE_POD), N("node2", NODE_RES), N("node3", ONE_POD)],
            statuses_of({"node1": U, "node2": U, "node3": U}),
            "",
            not_available(
                "0/3 nodes are available: 1 Insufficient cpu, "
                "2 No preemption victims found for incoming pod."
            ),
        ),
        id="no candidate nodes found with mixed reasons, no lower priority pod and no enough "
        "CPU resource",
    ),
    pytest.param(
        PostFilterCase(
            pod("p", HIGH, req=LARGE),
            [pod("p1", node="node1"), pod("p2", node="node2")],
            [
                N("node1", NODE_RES),
                N("node2", NODE_RES),
                N("node3", NODE_RES),
                N("node4", NODE_RES),
            ],
            statuses_of({"node1": U, "node2": U, "node4": UU}),
            "",
            not_available(
                "0/4 nodes are available: 2 Insufficient cpu, "
                "2 Preemption is not helpful for scheduling."
            ),
        ),
        id="no candidate nodes found with mixed reason, 2 UnschedulableAndUnresolvable nodes "
        "and 2 nodes don't have enough CPU resource",
    ),
    pytest.param(
        PostFilterCase(
            pod("p", HIGH, req=LARGE),
            [pod("p1", node="node1")],
            [N("node1", LARGE, {"error": "true"})],
            statuses_of({"node1": U}),
            None,
            Status.error(
                "preemption: running RemovePod on PreFilter plugin 'test-plugin': "
                "failed to remove pod: p"
            ),
        ),
        id="only one node but failed with TestPlugin",
    ),
    pytest.param(
        PostFilterCase(
            pod("p", HIGH, req=LARGE),
            [pod("p1", node="node1"), pod("p2", node="node2", req=MEDIUM)],
            [N("node1", LARGE, {"error": "true"}), N("node2", LARGE)],
            statuses_of({"node1": U, "node2": U}),
            "node2",
            placed("node2", 1),
            ["p2"],
        ),
        id="one failed with TestPlugin and the other pass",
    ),
]


@pytest.mark.parametrize("case", POST_FILTER)
def test_post_filter(case: PostFilterCase) -> None:
    # Upstream's tables treat budgets as a preference, which is our Delete mode.
    args = DefaultPreemptionArgs(eviction_mode="Delete") if case.pdbs else None
    e = env(nodes_with(case.nodes, case.pods), pdbs=case.pdbs, args=args, failing=True)
    result, status = e.post_filter(case.incoming, case.statuses)
    assert status == case.want_status
    if case.want_node is None:
        assert result is None
    else:
        assert result is not None
        assert result.nominated_node == case.want_node
        assert names(result.victims) == case.want_victims


# -- TestDryRunPreemption --------------------------------------------------------------------


@dataclass(frozen=True)
class DryRunCase:
    node_names: list[str]
    incoming: list[PodInfo]  # one per scheduling cycle
    pods: list[PodInfo]
    # Per cycle: (node, victim names sorted, PDB violations), sorted by node.
    expected: list[list[tuple[str, list[str], int]]]
    filter_calls: list[int]
    reject_all: bool = False
    args: DefaultPreemptionArgs | None = None
    pdbs: list[DisruptionBudget] = field(default_factory=list)


FOO = {"app": "foo"}
FIVE = ["node1", "node2", "node3", "node4", "node5"]
FORTY_PERCENT = DefaultPreemptionArgs(40, 1)


def five_mid(*, very_high: Sequence[str] = (), labelled: Sequence[str] = ()) -> list[PodInfo]:
    return [
        pod(
            f"p{i}",
            VERY_HIGH if f"node{i}" in very_high else MID,
            node=f"node{i}",
            req=LARGE,
            labels=FOO if f"node{i}" in labelled else None,
        )
        for i in range(1, 6)
    ]


DRY_RUN = [
    pytest.param(
        DryRunCase(
            ["node1", "node2"],
            [pod("p", HIGH)],
            [pod("p1", MID, node="node1"), pod("p2", MID, node="node2")],
            [[]],
            [2],
            reject_all=True,
        ),
        id="a pod that does not fit on any node",
    ),
    pytest.param(
        DryRunCase(
            ["node1", "node2"],
            [pod("p", HIGH)],
            [pod("p1", MID, node="node1"), pod("p2", MID, node="node2")],
            [[]],
            [2],
            reject_all=True,
        ),
        id="a pod that fits with no preemption",
    ),
    pytest.param(
        DryRunCase(
            ["node1", "node2"],
            [pod("node1", HIGH)],
            [pod("p1", MID, node="node1"), pod("p2", MID, node="node2")],
            [[]],
            [2],
            reject_all=True,
        ),
        id="a pod that fits on one node with no preemption",
    ),
    pytest.param(
        DryRunCase(
            ["node1", "node2"],
            [pod("p", HIGH, req=LARGE)],
            [pod("p1", MID, node="node1", req=LARGE), pod("p2", MID, node="node2", req=LARGE)],
            [[("node1", ["p1"], 0), ("node2", ["p2"], 0)]],
            [4],
        ),
        id="a pod that fits on both nodes when lower priority pods are preempted",
    ),
    pytest.param(
        DryRunCase(
            ["node1", "node2"],
            [pod("p", LOW, req=LARGE)],
            [pod("p1", MID, node="node1", req=LARGE), pod("p2", MID, node="node2", req=LARGE)],
            [[]],
            [0],
        ),
        id="a pod that would fit on the nodes, but other pods running are higher priority, "
        "no preemption would happen",
    ),
    pytest.param(
        DryRunCase(
            ["node1", "node2"],
            [pod("p", HIGH, req=LARGE)],
            [
                pod("p1.1", LOW, node="node1", req=SMALL),
                pod("p1.2", MID, node="node1", req=LARGE),
                pod("p2", MID, node="node2", req=LARGE),
            ],
            [[("node1", ["p1.2"], 0), ("node2", ["p2"], 0)]],
            [5],
        ),
        id="medium priority pod is preempted, but lower priority one stays as it is small",
    ),
    pytest.param(
        DryRunCase(
            ["node1", "node2"],
            [pod("p", HIGH, req=LARGE)],
            [
                pod("p1.1", MID, node="node1", req=SMALL),
                pod("p1.2", LOW, node="node1", req=SMALL),
                pod("p1.3", MID, node="node1", req=MEDIUM),
                pod("p1.4", HIGH, node="node1", req=SMALL),
                pod("p2", HIGH, node="node2", req=LARGE),
            ],
            [[("node1", ["p1.2", "p1.3"], 0)]],
            [4],
        ),
        id="mixed priority pods are preempted",
    ),
    pytest.param(
        DryRunCase(
            ["node1", "node2"],
            [pod("p", HIGH, req=LARGE)],
            [
                pod("p1.1", LOW, node="node1", req=SMALL, start=5),
                pod("p1.2", LOW, node="node1", req=SMALL, start=4),
                pod("p1.3", MID, node="node1", req=MEDIUM, start=3),
                pod("p1.4", HIGH, node="node1", req=SMALL, start=2),
                pod("p2", HIGH, node="node2", req=LARGE, start=1),
            ],
            [[("node1", ["p1.1", "p1.3"], 0)]],
            [4],
        ),
        id="mixed priority pods are preempted, pick later StartTime one when priorities are equal",
    ),
    pytest.param(
        DryRunCase(
            ["node1", "node2"],
            [pod("p", HIGH, req=LARGE)],
            [pod("p1", MID, node="node1", req=LARGE), pod("p2", MID, node="node2", req=LARGE)],
            [[]],
            [2],
            reject_all=True,
        ),
        id="get Unschedulable in the preemption phase when the filter plugins filtering the nodes",
    ),
    pytest.param(
        DryRunCase(
            ["node1"],
            [pod("p", HIGH, req=VERY_LARGE)],
            [
                pod("p1.1", MID, node="node1", req=MEDIUM, labels=FOO),
                pod("p1.2", MID, node="node1", req=MEDIUM, labels=FOO),
            ],
            [[("node1", ["p1.1", "p1.2"], 1)]],
            [3],
            pdbs=[budget(FOO, 1)],
        ),
        id="preemption with violation of same pdb",
    ),
    pytest.param(
        DryRunCase(
            ["node1"],
            [pod("p", HIGH, req=VERY_LARGE)],
            [
                pod("p1.1", MID, node="node1", req=MEDIUM, labels=FOO),
                pod("p1.2", MID, node="node1", req=MEDIUM, labels=FOO),
            ],
            [[("node1", ["p1.1", "p1.2"], 1)]],
            [3],
            pdbs=[budget(FOO, 1, disrupted=["p2"])],
        ),
        id="preemption with violation of the pdb with pod whose eviction was processed, "
        "the victim doesn't belong to DisruptedPods",
    ),
    pytest.param(
        DryRunCase(
            ["node1"],
            [pod("p", HIGH, req=VERY_LARGE)],
            [
                pod("p1.1", MID, node="node1", req=MEDIUM, labels=FOO),
                pod("p1.2", MID, node="node1", req=MEDIUM, labels=FOO),
            ],
            [[("node1", ["p1.1", "p1.2"], 0)]],
            [3],
            pdbs=[budget(FOO, 1, disrupted=["p1.2"])],
        ),
        id="preemption with violation of the pdb with pod whose eviction was processed, "
        "the victim belongs to DisruptedPods",
    ),
    pytest.param(
        DryRunCase(
            ["node1"],
            [pod("p", HIGH, req=VERY_LARGE)],
            [
                pod("p1.1", MID, node="node1", req=MEDIUM, labels=FOO),
                pod("p1.2", MID, node="node1", req=MEDIUM, labels=FOO),
                pod("p1.3", MID, node="node1", req=MEDIUM, labels=FOO),
            ],
            [[("node1", ["p1.1", "p1.2", "p1.3"], 1)]],
            [4],
            pdbs=[budget(FOO, 1, disrupted=["p1.3"])],
        ),
        id="preemption with violation of the pdb with pod whose eviction was processed, "
        "the victim which belongs to DisruptedPods is treated as 'nonViolating'",
    ),
    pytest.param(
        DryRunCase(
            FIVE,
            [pod("p", HIGH, req=LARGE)],
            five_mid(),
            # offset 4: node5 (yes), node1 (yes)
            [[("node1", ["p1"], 0), ("node5", ["p5"], 0)]],
            [4],
            args=FORTY_PERCENT,
        ),
        id="all nodes are possible candidates, but DefaultPreemptionArgs limits to 2",
    ),
    pytest.param(
        DryRunCase(
            FIVE,
            [pod("p", HIGH, req=LARGE)],
            five_mid(very_high=["node2", "node5"]),
            # offset 4: node5 (no), node1 (yes), node2 (no), node3 (yes)
            [[("node1", ["p1"], 0), ("node3", ["p3"], 0)]],
            [4],
            args=FORTY_PERCENT,
        ),
        id="some nodes are not possible candidates, DefaultPreemptionArgs limits to 2",
    ),
    pytest.param(
        DryRunCase(
            FIVE,
            [pod("tp1", HIGH, req=LARGE), pod("tp2", HIGH, req=LARGE), pod("tp3", HIGH, req=LARGE)],
            five_mid(),
            [
                [("node1", ["p1"], 0), ("node5", ["p5"], 0)],  # offset 4
                [("node2", ["p2"], 0), ("node3", ["p3"], 0)],  # offset 1
                [("node4", ["p4"], 0), ("node5", ["p5"], 0)],  # offset 3
            ],
            [4, 4, 4],
            args=FORTY_PERCENT,
        ),
        id="preemption offset across multiple scheduling cycles and wrap around",
    ),
    pytest.param(
        DryRunCase(
            FIVE,
            [pod("p", HIGH, req=LARGE)],
            five_mid(labelled=["node1", "node2", "node5"]),
            # offset 4: node5 (yes, pdb), node1 (yes, pdb), node2 (no room left, pdb),
            # node3 (yes): three candidates although two were asked for.
            [[("node1", ["p1"], 1), ("node3", ["p3"], 0), ("node5", ["p5"], 1)]],
            [8],
            args=DefaultPreemptionArgs(40, 2),
            pdbs=[budget(FOO, 0)],
        ),
        id="preemption looks past numCandidates until a non-PDB violating node is found",
    ),
]


@pytest.mark.parametrize("case", DRY_RUN)
def test_dry_run_preemption(case: DryRunCase) -> None:
    nodes = nodes_with([N(n) for n in case.node_names], case.pods)
    e = env(nodes, pdbs=case.pdbs, args=case.args, counting=True, offsets=(4, 1, 3))
    if case.reject_all:
        e.counter.codes = dict.fromkeys(case.node_names, U)
    for cycle, incoming in enumerate(case.incoming):
        before = e.counter.calls
        state = e.state_for(incoming)
        offset, count = e.plugin.offset_and_num_candidates(len(nodes))
        found = e.plugin.dry_run(state, incoming, nodes, offset, count)
        got = sorted(
            (c.node, sorted(names(c.victims)), c.num_pdb_violations) for c in found.candidates
        )
        assert got == case.expected[cycle], f"cycle {cycle}"
        assert e.counter.calls - before == case.filter_calls[cycle], f"cycle {cycle}"


def test_dry_run_leaves_the_snapshot_and_the_cycle_state_alone() -> None:
    victims = [pod("p1", MID, node="node1", req=LARGE), pod("p2", MID, node="node2", req=LARGE)]
    nodes = nodes_with([N("node1"), N("node2")], victims)
    before = [(dict(n.pods), n.requested.milli_cpu) for n in nodes]
    e = env(nodes)
    incoming = pod("p", HIGH, req=LARGE)
    state = e.state_for(incoming)
    result, status = e.plugin.post_filter(state, incoming, all_unschedulable(nodes))
    assert result is not None
    assert status == placed(str(result.nominated_node), len(result.victims))
    assert [(dict(n.pods), n.requested.milli_cpu) for n in nodes] == before
    assert e.cluster.calls == []


# -- TestSelectBestCandidate --------------------------------------------------------------


SELECT_BEST = [
    pytest.param(
        ["node1", "node2"],
        pod("p", HIGH, req=LARGE),
        [
            pod("p1", MID, node="node1", req=LARGE, start=0),
            pod("p2", MID, node="node2", req=LARGE, start=0),
        ],
        {"node1", "node2"},
        id="a pod that fits on both nodes when lower priority pods are preempted",
    ),
    pytest.param(
        ["node1", "node2", "node3"],
        pod("p", HIGH, req=VERY_LARGE),
        [
            pod("p1.1", MID, node="node1", req=MEDIUM, start=0),
            pod("p1.2", MID, node="node1", req=LARGE, start=0),
            pod("p2.1", MID, node="node2", req=MEDIUM, start=0),
            pod("p2.2", LOW, node="node2", req=MEDIUM, start=0),
            pod("p3.1", LOW, node="node3", req=MEDIUM, start=0),
            pod("p3.2", LOW, node="node3", req=MEDIUM, start=0),
        ],
        {"node3"},
        id="node with min highest priority pod is picked",
    ),
    pytest.param(
        ["node1", "node2", "node3"],
        pod("p", HIGH, req=VERY_LARGE),
        [
            pod("p1.1", MID, node="node1", req=MEDIUM, start=0),
            pod("p1.2", MID, node="node1", req=LARGE, start=0),
            pod("p2.1", MID, node="node2", req=LARGE, start=0),
            pod("p2.2", LOW, node="node2", req=MEDIUM, start=0),
            pod("p3.1", MID, node="node3", req=MEDIUM, start=0),
            pod("p3.2", MID, node="node3", req=MEDIUM, start=0),
        ],
        {"node2"},
        id="when highest priorities are the same, minimum sum of priorities is picked",
    ),
    pytest.param(
        ["node1", "node2", "node3"],
        pod("p", HIGH, req=VERY_LARGE),
        [
            pod("p1.1", MID, node="node1", req=SMALL, start=0),
            pod("p1.2", NEG, node="node1", req=SMALL, start=0),
            pod("p1.3", MID, node="node1", req=SMALL, start=0),
            pod("p1.4", NEG, node="node1", req=SMALL, start=0),
            pod("p2.1", MID, node="node2", req=LARGE, start=0),
            pod("p2.2", NEG, node="node2", req=MEDIUM, start=0),
            pod("p3.1", MID, node="node3", req=MEDIUM, start=0),
            pod("p3.2", NEG, node="node3", req=SMALL, start=0),
            pod("p3.3", LOW, node="node3", req=SMALL, start=0),
        ],
        {"node2"},
        id="when highest priority and sum are the same, minimum number of pods is picked",
    ),
    pytest.param(
        ["node1", "node2", "node3"],
        pod("p", HIGH, req=VERY_LARGE),
        [
            pod("p1.1", MID, node="node1", req=SMALL, start=0),
            pod("p1.2", NEG, node="node1", req=SMALL, start=0),
            pod("p1.3", NEG, node="node1", req=SMALL, start=0),
            pod("p2.1", MID, node="node2", req=LARGE, start=0),
            pod("p2.2", NEG, node="node2", req=MEDIUM, start=0),
            pod("p3.1", MID, node="node3", req=MEDIUM, start=0),
            pod("p3.2", NEG, node="node3", req=SMALL, start=0),
            pod("p3.3", LOW, node="node3", req=SMALL, start=0),
        ],
        {"node2"},
        id="sum of adjusted priorities is considered",
    ),
    pytest.param(
        ["node1", "node2", "node3", "node4"],
        pod("p", VERY_HIGH, req=VERY_LARGE),
        [
            pod("p1.1", MID, node="node1", req=SMALL, start=0),
            pod("p1.2", LOW, node="node1", req=SMALL, start=0),
            pod("p1.3", LOW, node="node1", req=SMALL, start=0),
            pod("p2.1", HIGH, node="node2", req=LARGE, start=0),
            pod("p3.1", MID, node="node3", req=MEDIUM, start=0),
            pod("p3.2", LOW, node="node3", req=SMALL, start=0),
            pod("p3.3", LOW, node="node3", req=SMALL, start=0),
            pod("p3.4", LOW, node="node3", req=MEDIUM, start=0),
            pod("p4.1", MID, node="node4", req=MEDIUM, start=0),
            pod("p4.2", MID, node="node4", req=SMALL, start=0),
            pod("p4.3", MID, node="node4", req=SMALL, start=0),
            pod("p4.4", NEG, node="node4", req=SMALL, start=0),
        ],
        {"node1"},
        id="non-overlapping lowest high priority, sum priorities, and number of pods",
    ),
    pytest.param(
        ["node1", "node2", "node3"],
        pod("p", HIGH, req=VERY_LARGE),
        [
            pod("p1.1", MID, node="node1", req=MEDIUM, start=2),
            pod("p1.2", MID, node="node1", req=MEDIUM, start=2),
            pod("p2.1", MID, node="node2", req=MEDIUM, start=3),
            pod("p2.2", MID, node="node2", req=MEDIUM, start=3),
            pod("p3.1", MID, node="node3", req=MEDIUM, start=1),
            pod("p3.2", MID, node="node3", req=MEDIUM, start=1),
        ],
        {"node2"},
        id="same priority, same number of victims, different start time for each node's pod",
    ),
    pytest.param(
        ["node1", "node2", "node3"],
        pod("p", HIGH, req=VERY_LARGE),
        [
            pod("p1.1", MID, node="node1", req=MEDIUM, start=4),
            pod("p1.2", MID, node="node1", req=MEDIUM, start=2),
            pod("p2.1", MID, node="node2", req=MEDIUM, start=5),
            pod("p2.2", MID, node="node2", req=MEDIUM, start=1),
            pod("p3.1", MID, node="node3", req=MEDIUM, start=3),
            pod("p3.2", MID, node="node3", req=MEDIUM, start=6),
        ],
        {"node3"},
        id="same priority, same number of victims, different start time for all pods",
    ),
    pytest.param(
        ["node1", "node2", "node3"],
        pod("p", HIGH, req=VERY_LARGE),
        [
            pod("p1.1", LOW, node="node1", req=MEDIUM, start=4),
            pod("p1.2", MID, node="node1", req=MEDIUM, start=2),
            pod("p2.1", MID, node="node2", req=MEDIUM, start=6),
            pod("p2.2", LOW, node="node2", req=MEDIUM, start=1),
            pod("p3.1", LOW, node="node3", req=MEDIUM, start=3),
            pod("p3.2", MID, node="node3", req=MEDIUM, start=5),
        ],
        {"node2"},
        id="different priority, same number of victims, different start time for all pods",
    ),
]


@pytest.mark.parametrize(("node_names", "incoming", "pods", "expected"), SELECT_BEST)
@pytest.mark.parametrize("offset", [0, 1, 2, 3])
def test_select_best_candidate(
    node_names: list[str],
    incoming: PodInfo,
    pods: list[PodInfo],
    expected: set[str],
    offset: int,
) -> None:
    nodes = nodes_with([N(n) for n in node_names], pods)
    e = env(nodes, offsets=(offset,))
    result, status = e.post_filter(incoming, all_unschedulable(nodes))
    assert result is not None
    assert status == placed(str(result.nominated_node), len(result.victims))
    assert result.nominated_node in expected


# -- TestPodEligibleToPreemptOthers ----------------------------------------------------------


ELIGIBLE = [
    pytest.param(
        pod("p_with_nominated_node", HIGH, nominated_node="node1"),
        [pod("p1", LOW, node="node1", deleting=True)],
        ["node1"],
        Status.unresolvable("node(s) had untolerated taint(s)"),
        True,
        id="Pod with nominated node",
    ),
    pytest.param(
        pod("p_without_nominated_node", HIGH),
        [],
        [],
        SUCCESS,
        True,
        id="Pod without nominated node",
    ),
    pytest.param(
        pod("p_with_preempt_never_policy", HIGH, preemption_policy="Never"),
        [],
        [],
        SUCCESS,
        False,
        id="Pod with 'PreemptNever' preemption policy",
    ),
    pytest.param(
        pod("p_with_nominated_node", HIGH, nominated_node="node1"),
        [terminating_victim("p1", LOW, "node1")],
        ["node1"],
        SUCCESS,
        False,
        id="preemption victim pod terminating, as indicated by the dedicated DisruptionTarget "
        "condition",
    ),
    pytest.param(
        pod("p_with_nominated_node", HIGH, nominated_node="node1"),
        [pod("p1", LOW, node="node1", deleting=True)],
        ["node1"],
        SUCCESS,
        True,
        id="non-victim Pods terminating",
    ),
    pytest.param(
        pod("p_with_nominated_node", HIGH, nominated_node="node1"),
        [terminating_victim("p1", HIGH, "node1")],
        ["node1"],
        SUCCESS,
        True,
        id="a terminating pod of the same priority is not its victim",
    ),
    pytest.param(
        pod("p_with_nominated_node", HIGH, nominated_node="node1"),
        [terminating_victim("p1", LOW, "node1")],
        ["node1"],
        Status.unresolvable("node(s) had untolerated taint(s)"),
        True,
        id="terminating victims on a nominated node that no longer fits do not hold it back",
    ),
]


@pytest.mark.parametrize(("incoming", "pods", "node_names", "nominated", "expected"), ELIGIBLE)
def test_pod_eligible_to_preempt_others(
    incoming: PodInfo,
    pods: list[PodInfo],
    node_names: list[str],
    nominated: Status,
    expected: bool,
) -> None:
    e = env(nodes_with([N(n) for n in node_names], pods))
    eligible, _ = e.plugin.eligible_to_preempt_others(incoming, nominated)
    assert eligible is expected


def test_preemption_policy_never_is_refused_with_upstreams_message() -> None:
    nodes = nodes_with([N("node1", ONE_POD)], [pod("p1", node="node1")])
    e = env(nodes)
    incoming = pod("p", HIGH, preemption_policy="Never")
    result, status = e.post_filter(incoming, all_unschedulable(nodes))
    assert (result, status) == (None, Status.unschedulable(f"preemption: {INELIGIBLE_NEVER}"))
    assert status.message == "preemption: not eligible due to preemptionPolicy=Never."


# -- TestPreempt ---------------------------------------------------------------------------


PREEMPT_PODS = [
    pod("p1.1", LOW, node="node1", req=SMALL),
    pod("p1.2", LOW, node="node1", req=SMALL),
    pod("p2.1", HIGH, node="node2", req=LARGE),
    pod("p3.1", MID, node="node3", req=MEDIUM),
]


@pytest.mark.parametrize(
    ("policy", "want_node", "want_victims"),
    [
        pytest.param(
            "PreemptLowerPriority", "node1", ["p1.1", "p1.2"], id="basic preemption logic"
        ),
        pytest.param("Never", None, [], id="no preempting in pod"),
        pytest.param(None, "node1", ["p1.1", "p1.2"], id="PreemptionPolicy is nil"),
    ],
)
def test_preempt(policy: str | None, want_node: str | None, want_victims: list[str]) -> None:
    nodes = nodes_with([N("node1"), N("node2"), N("node3")], PREEMPT_PODS)
    e = env(nodes)
    incoming = pod("p", HIGH, req=VERY_LARGE, preemption_policy=policy)
    result, status = e.post_filter(incoming, all_unschedulable(nodes))
    if want_node is None:
        assert result is None
        assert status.code is Code.UNSCHEDULABLE
        return
    assert status == placed(want_node, len(want_victims))
    assert result is not None
    assert (result.nominated_node, names(result.victims)) == (want_node, want_victims)
    assert result.eviction_mode == EVICT


def test_preempt_again_while_victims_terminate_preempts_nothing_more() -> None:
    # The second half of TestPreempt: the victims now carry a deletionTimestamp
    # and the preemptor its nomination.
    terminating = [
        terminating_victim("p1.1", LOW, "node1"),
        terminating_victim("p1.2", LOW, "node1"),
    ]
    nodes = nodes_with([N("node1"), N("node2"), N("node3")], terminating + PREEMPT_PODS[2:])
    e = env(nodes)
    incoming = pod("p", HIGH, req=VERY_LARGE, nominated_node="node1")

    # Upstream passes an empty NodeToStatus: every node unresolvable.
    result, status = e.post_filter(incoming, NodeToStatus())
    assert result == PostFilterResult(NodeName(""))
    assert status == not_available(
        "0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )

    # With its nominated node still merely Unschedulable, it waits for its victims.
    result, status = e.post_filter(incoming, all_unschedulable(nodes))
    assert result is None
    assert status == Status.unschedulable(f"preemption: {INELIGIBLE_TERMINATING}")
    assert status.message == (
        "preemption: not eligible due to a terminating pod on the nominated node."
    )


# -- beyond upstream's tables ---------------------------------------------------------------


def test_canonical_failed_scheduling_message() -> None:
    """The reference message, with statuses from the real filters."""
    taint = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
    nodes = [
        node_info("node1", taints=[taint]),
        node_info("node2", taints=[taint]),
        node_info("node3", pods=[pod("big", HIGH, node="node3", req={"cpu": "4"})]),
    ]
    e = env(nodes)
    incoming = pod("p", HIGH, req={"cpu": "1"})
    state = e.state_for(incoming)
    statuses = NodeToStatus()
    for node in nodes:
        statuses[node.name] = e.fwk.run_filters(state, incoming, node)
    result, status = e.plugin.post_filter(state, incoming, statuses)
    assert result == PostFilterResult(NodeName(""))
    assert status.message == (
        "preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, "
        "2 Preemption is not helpful for scheduling."
    )
    full = fit_message(3, Diagnosis(node_to_status=statuses, post_filter_msg=status.message))
    assert full == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint(s). "
        "preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, "
        "2 Preemption is not helpful for scheduling."
    )


def test_runs_as_the_profiles_post_filter() -> None:
    nodes = nodes_with([N("node1", ONE_POD)], [pod("p1", node="node1")])
    e = env(nodes)
    incoming = pod("p", HIGH)
    result, status = e.fwk.run_post_filter(
        e.state_for(incoming), incoming, all_unschedulable(nodes)
    )
    assert status == placed("node1", 1).with_plugin(NAME)
    assert result is not None
    assert result.nominated_node == "node1"
    assert e.plugin.events_to_register() == ()


def test_pdb_violating_victims_are_reprieved_first() -> None:
    # Room for one of the two to stay: without the budget the more important
    # "a" would stay; with it, the protected "b" stays and "a" goes.
    pods = [
        pod("a", MID, node="node1", req=MEDIUM, start=1),
        pod("b", LOW, node="node1", req=MEDIUM, start=1, labels=FOO),
    ]
    incoming = pod("p", HIGH, req=LARGE)

    without = env(nodes_with([N("node1")], pods))
    result, _ = without.post_filter(incoming, statuses_of({"node1": U}))
    assert result is not None
    assert names(result.victims) == ["b"]

    protected = env(nodes_with([N("node1")], pods), pdbs=[budget(FOO, 0)])
    found = protected.plugin.dry_run(protected.state_for(incoming), incoming, protected.nodes, 0, 1)
    assert [(c.node, names(c.victims), c.num_pdb_violations) for c in found.candidates] == [
        ("node1", ["a"], 0)
    ]


def test_victims_come_back_most_important_first_when_both_groups_lose_pods() -> None:
    pods = [
        pod("low-protected", LOW, node="node1", req=MEDIUM, start=1, labels=FOO),
        pod("mid", MID, node="node1", req=MEDIUM, start=1),
        pod("neg", NEG, node="node1", req=SMALL, start=1),
    ]
    e = env(
        nodes_with([N("node1")], pods),
        pdbs=[budget(FOO, 0)],
        args=DefaultPreemptionArgs(eviction_mode="Delete"),
    )
    incoming = pod("p", HIGH, req=VERY_LARGE)
    result, status = e.post_filter(incoming, statuses_of({"node1": U}))
    assert status == placed("node1", 3)
    assert result is not None
    assert names(result.victims) == ["mid", "low-protected", "neg"]


def test_evicting_never_plans_to_break_a_budget_and_says_so() -> None:
    pods = [
        pod("protected-1", LOW, node="node1", req=LARGE, labels=FOO),
        pod("protected-2", LOW, node="node2", req=LARGE, labels=FOO),
    ]
    nodes = nodes_with([N("node1"), N("node2")], pods)
    e = env(nodes, pdbs=[budget(FOO, 0)])
    result, status = e.post_filter(pod("p", HIGH, req=LARGE), all_unschedulable(nodes))
    assert result is not None
    assert (result.nominated_node, result.victims) == ("", ())
    assert status == Status.unschedulable(
        "preemption: 0/2 nodes are available: 2 Preemption would violate a PodDisruptionBudget."
    )


def test_evicting_takes_the_node_whose_victims_break_no_budget() -> None:
    pods = [
        pod("protected", LOW, node="node1", req=LARGE, labels=FOO),
        pod("free", MID, node="node2", req=LARGE),
    ]
    nodes = nodes_with([N("node1"), N("node2")], pods)
    e = env(nodes, pdbs=[budget(FOO, 0)])
    result, status = e.post_filter(pod("p", HIGH, req=LARGE), all_unschedulable(nodes))
    assert status == placed("node2", 1)
    assert result is not None
    assert (result.nominated_node, names(result.victims)) == ("node2", ["free"])
    assert result.eviction_mode == "Evict"


def test_a_node_whose_victims_violate_no_pdb_wins_over_cheaper_victims() -> None:
    pods = [
        pod("cheap", LOW, node="node1", req=LARGE, labels=FOO),
        pod("dear", MID, node="node2", req=LARGE),
    ]
    nodes = nodes_with([N("node1"), N("node2")], pods)
    e = env(nodes, pdbs=[budget(FOO, 0)])
    result, status = e.post_filter(pod("p", HIGH, req=LARGE), all_unschedulable(nodes))
    assert status == placed("node2", 1)
    assert result is not None
    assert (result.nominated_node, names(result.victims)) == ("node2", ["dear"])


def test_pods_nominated_with_higher_priority_keep_their_room() -> None:
    pods = [
        pod("v1", LOW, node="node1", req=LARGE),
        pod("v2", MID, node="node2", req=LARGE),
    ]
    nodes = nodes_with([N("node1"), N("node2")], pods)
    nominated = {
        # Outranks the preemptor: the room it needs on node1 is not for taking.
        "node1": [pod("waiting", VERY_HIGH, req=LARGE, nominated_node="node1")],
        # Lower priority: ignored by the dry run.
        "node2": [pod("queued", LOW, req=VERY_LARGE, nominated_node="node2")],
    }
    e = env(nodes, nominated=nominated)
    result, status = e.post_filter(pod("p", HIGH, req=LARGE), all_unschedulable(nodes))
    assert status == placed("node2", 1)
    assert result is not None
    assert (result.nominated_node, names(result.victims)) == ("node2", ["v2"])


def test_a_node_where_the_pod_fits_without_victims_is_an_error() -> None:
    pods = [pod("p1", LOW, node="node1"), pod("p2", LOW, node="node2")]
    nodes = nodes_with([N("node1"), N("node2")], pods)
    e = env(nodes)
    result, status = e.post_filter(pod("p", HIGH), all_unschedulable(nodes))
    assert result is None
    assert status == Status.error(
        'preemption: [expected at least one victim pod on node "node1", '
        'expected at least one victim pod on node "node2"]'
    )


def test_no_nodes_at_all_is_an_error() -> None:
    e = env([])
    result, status = e.post_filter(pod("p", HIGH), NodeToStatus())
    assert (result, status) == (None, Status.error("preemption: no nodes available"))


def test_eviction_mode_delete_is_passed_on() -> None:
    nodes = nodes_with([N("node1", ONE_POD)], [pod("p1", node="node1")])
    e = env(nodes, args=DefaultPreemptionArgs(eviction_mode=DELETE))
    result, _ = e.post_filter(pod("p", HIGH), all_unschedulable(nodes))
    assert result is not None
    assert result.eviction_mode == DELETE


# -- candidate count -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("num_nodes", "percentage", "absolute", "expected"),
    [
        pytest.param(0, 50, 10, 0, id="no nodes"),
        pytest.param(100, 50, 10, 50, id="minCandidateNodesPercentage dominates"),
        pytest.param(100, 5, 10, 10, id="minCandidateNodesAbsolute dominates"),
        pytest.param(10, 5, 100, 10, id="never more than the nodes"),
        pytest.param(1000, 10, 100, 100, id="defaults on a thousand nodes"),
        pytest.param(5000, 10, 100, 500, id="defaults on five thousand nodes"),
        pytest.param(50, 1, 0, 1, id="a count rounded down to zero still keeps one"),
    ],
)
def test_num_candidates(num_nodes: int, percentage: int, absolute: int, expected: int) -> None:
    e = env([], args=DefaultPreemptionArgs(percentage, absolute))
    assert e.plugin.num_candidates(num_nodes) == expected


# -- arguments ---------------------------------------------------------------------------------


def test_args_defaults() -> None:
    assert SPEC.args(None) == DefaultPreemptionArgs(10, 100, EVICT)
    assert SPEC.args({}) == DefaultPreemptionArgs(10, 100, EVICT)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            {
                "apiVersion": "kubescheduler.config.k8s.io/v1",
                "kind": "DefaultPreemptionArgs",
                "minCandidateNodesPercentage": 20,
                "minCandidateNodesAbsolute": 5,
            },
            DefaultPreemptionArgs(20, 5, EVICT),
            id="with apiVersion and kind",
        ),
        pytest.param(
            {"minCandidateNodesPercentage": 0, "minCandidateNodesAbsolute": 3},
            DefaultPreemptionArgs(0, 3, EVICT),
            id="an explicit zero percentage is kept",
        ),
        pytest.param(
            {"evictionMode": "Delete"}, DefaultPreemptionArgs(10, 100, DELETE), id="delete"
        ),
        pytest.param({"evictionMode": ""}, DefaultPreemptionArgs(10, 100, EVICT), id="empty mode"),
    ],
)
def test_args_decode(raw: dict[str, object], expected: DefaultPreemptionArgs) -> None:
    assert SPEC.args(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(
            {"minCandidateNodesPercentage": 101},
            "plugin DefaultPreemption: args.minCandidateNodesPercentage: not in valid range "
            "[0, 100], got 101",
            id="percentage above 100",
        ),
        pytest.param(
            {"minCandidateNodesPercentage": -1},
            "plugin DefaultPreemption: args.minCandidateNodesPercentage: not in valid range "
            "[0, 100], got -1",
            id="negative percentage",
        ),
        pytest.param(
            {"minCandidateNodesAbsolute": -1},
            "plugin DefaultPreemption: args.minCandidateNodesAbsolute: not in valid range "
            "[0, inf), got -1",
            id="negative absolute",
        ),
        pytest.param(
            {"minCandidateNodesPercentage": 0, "minCandidateNodesAbsolute": 0},
            "plugin DefaultPreemption: args.minCandidateNodesPercentage: cannot be zero at the "
            "same time as minCandidateNodesAbsolute; args.minCandidateNodesAbsolute: cannot be "
            "zero at the same time as minCandidateNodesPercentage",
            id="both zero",
        ),
        pytest.param(
            {"evictionMode": "Drain"},
            "plugin DefaultPreemption: args.evictionMode: unsupported value 'Drain', must be "
            "one of Evict, Delete",
            id="unknown eviction mode",
        ),
        pytest.param(
            {"evictonMode": "Delete"},
            "plugin DefaultPreemption: args.evictonMode: unknown field",
            id="misspelt field",
        ),
        pytest.param(
            {"minCandidateNodesAbsolute": "5"},
            "plugin DefaultPreemption: args.minCandidateNodesAbsolute: expected an integer, "
            "got '5'",
            id="wrong type",
        ),
    ],
)
def test_args_invalid(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ArgsError) as caught:
        SPEC.args(raw)
    assert str(caught.value) == message


# -- candidates ---------------------------------------------------------------------------------


def victim(name: str, priority: int, start: int | None = None, **kwargs: Any) -> PodInfo:
    return pod(name, priority, node="n", start=start, **kwargs)


def test_by_importance_orders_priority_then_seniority() -> None:
    pods = [
        victim("new-low", LOW, 5),
        victim("unstarted-mid", MID),
        victim("old-low", LOW, 1),
        victim("old-mid", MID, 1),
    ]
    ordered = by_importance(pods, now=100.0)
    assert names(ordered) == ["old-mid", "unstarted-mid", "old-low", "new-low"]


PDB_SPLIT = [
    pytest.param([budget(FOO, 1)], ["a"], ["b"], id="the budget covers the first pod only"),
    pytest.param([budget(FOO, 2)], [], ["b", "a"], id="enough budget for both"),
    pytest.param([budget({}, 0)], [], ["b", "a"], id="an empty selector protects nothing"),
    pytest.param([budget(None, 0)], [], ["b", "a"], id="no selector protects nothing"),
    pytest.param(
        [budget(FOO, 0, namespace="other")], [], ["b", "a"], id="a budget in another namespace"
    ),
    pytest.param(
        [budget(FOO, 0, disrupted=["a", "b"])], [], ["b", "a"], id="already disrupted pods"
    ),
    pytest.param(
        [budget(FOO, 5, name="loose"), budget({"tier": "db"}, 0, name="tight")],
        ["a"],
        ["b"],
        id="one exhausted budget out of two is enough to violate",
    ),
]


@pytest.mark.parametrize(("budgets", "violating", "non_violating"), PDB_SPLIT)
def test_split_by_pdb_violation(
    budgets: list[DisruptionBudget], violating: list[str], non_violating: list[str]
) -> None:
    # "b" before "a": the first pod in order spends the budget, and both
    # groups keep the given order.
    pods = [
        victim("b", LOW, labels={"app": "foo"}),
        victim("a", LOW, labels={"app": "foo", "tier": "db"}),
    ]
    got_violating, got_non = split_by_pdb_violation(pods, lambda ns: budgets)
    assert (names(got_violating), names(got_non)) == (violating, non_violating)


def test_split_ignores_pods_without_labels() -> None:
    # This selector would match an unlabelled pod, but upstream never asks.
    absent = LabelSelector(expressions=(Requirement("app", "DoesNotExist", frozenset()),))
    unlabelled = DisruptionBudget("default", "pdb", absent, 0, frozenset())
    pods = [victim("bare", LOW)]
    assert split_by_pdb_violation(pods, lambda ns: [unlabelled]) == ([], pods)


def test_earliest_start_of_most_important_ignores_lower_priorities() -> None:
    victims = [victim("top-late", MID, 9), victim("top-early", MID, 4), victim("old", LOW, 1)]
    assert earliest_start_of_most_important(victims, now=100.0) == 4.0
    assert earliest_start_of_most_important([victim("unstarted", MID)], now=100.0) == 100.0


def cand(node: str, *victims: PodInfo, violations: int = 0) -> Candidate:
    return Candidate(NodeName(node), tuple(by_importance(victims, 100.0)), violations)


PICK = [
    pytest.param(
        [cand("a", victim("x", LOW), violations=1), cand("b", victim("y", MID))],
        "b",
        id="fewest PDB violations",
    ),
    pytest.param(
        [cand("a", victim("x", MID)), cand("b", victim("y", LOW), victim("z", LOW))],
        "b",
        id="lowest highest-victim priority",
    ),
    pytest.param(
        [
            cand("a", victim("x", MID), victim("y", LOW)),
            cand("b", victim("z", MID), victim("w", NEG)),
        ],
        "b",
        id="smallest sum of priorities",
    ),
    pytest.param(
        [
            cand("a", victim("x", NEG), victim("y", NEG), victim("v", NEG)),
            cand("b", victim("z", NEG), victim("w", NEG)),
        ],
        "b",
        id="the offset sum prefers fewer negative-priority victims",
    ),
    pytest.param(
        [
            cand("a", victim("x", MID, 1), victim("y", LOW, 9)),
            cand("b", victim("z", MID, 2), victim("w", LOW, 0)),
        ],
        "b",
        id="latest earliest start among the highest-priority victims",
    ),
    pytest.param(
        [cand("a", victim("x", MID, 1)), cand("b", victim("y", MID, 1))],
        "a",
        id="a tie on everything keeps the first",
    ),
    pytest.param(
        [cand("a", victim("x", MID)), cand("b", victim("y", MID, 1))],
        "a",
        id="an unstarted victim counts as starting now",
    ),
]


@pytest.mark.parametrize(("candidates", "expected"), PICK)
def test_pick_one_node(candidates: list[Candidate], expected: str) -> None:
    chosen = pick_one_node(candidates, now=100.0)
    assert chosen is not None
    assert chosen.node == expected


def test_pick_one_node_fewest_victims_breaks_a_tie_on_the_sum() -> None:
    # A victim at the lowest int32 priority adds nothing to the offset sum,
    # so only the victim count can tell these two apart.
    lowest = -(2**31)
    a = cand("a", victim("x", MID), victim("y", lowest))
    b = cand("b", victim("z", MID))
    assert pick_one_node([a, b], now=100.0) == b
    assert pick_one_node([], now=100.0) is None


def test_aggregate_errors() -> None:
    assert aggregate_errors(["x"]) == "x"
    assert aggregate_errors(["x", "x"]) == "x"
    assert aggregate_errors(["x", "y", "x"]) == "[x, y]"


@pytest.mark.parametrize(
    ("server", "want"),
    [
        pytest.param(offline(ServerVersion(1, 35)), SUCCESS, id="1.35: silent"),
        pytest.param(offline(ServerVersion(1, 36)), SUCCESS, id="1.36: silent"),
        pytest.param(offline(ServerVersion(1, 37)), placed("node2", 1), id="1.37: says where"),
    ],
)
def test_a_nomination_is_worded_from_1_37(server: ServerInfo, want: Status) -> None:
    pods = [pod("p1", HIGH, node="node1"), pod("p2", LOW, node="node2")]
    nodes = nodes_with([N("node1", ONE_POD), N("node2", ONE_POD)], pods)
    e = env(nodes, server=server)
    result, status = e.post_filter(pod("p", MID), all_unschedulable(nodes))
    assert status == want
    assert result is not None
    assert (result.nominated_node, names(result.victims)) == ("node2", ["p2"])
