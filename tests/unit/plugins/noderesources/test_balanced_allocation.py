"""NodeResourcesBalancedAllocation after upstream's balanced_allocation_test.go.

Each case expects v1.35's ``int((1 - std) * 100)`` and v1.36's score of the
change in balance, ``50 + (50 + with - without) / 2`` (1.37 scores as 1.36),
as the two releases' tables do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.registry import ArgsError
from py_scheduler.framework.status import SKIP, SUCCESS
from py_scheduler.model import NodeInfo, PodInfo
from py_scheduler.model.server import OFFLINE, ServerInfo, ServerVersion, offline
from py_scheduler.plugins.noderesources.balanced_allocation import (
    SPEC,
    NodeResourcesBalancedAllocation,
    NodeResourcesBalancedAllocationArgs,
    balanced_resource_score,
)
from py_scheduler.plugins.noderesources.resource_allocation import ResourceSpec
from tests.builders import make_pod, node_info
from tests.fakes import FakeHandle

GPU = "nvidia.com/gpu"
DEFAULT = NodeResourcesBalancedAllocationArgs()
WITH_GPU = NodeResourcesBalancedAllocationArgs(
    (ResourceSpec("cpu"), ResourceSpec("memory"), ResourceSpec(GPU))
)


def cpu_and_memory(cpu: str, memory: str) -> dict[str, str]:
    return {"cpu": cpu, "memory": memory}


def cpu_only(cpu: str) -> dict[str, str]:
    return {"cpu": cpu, "memory": "0"}


CPU_AND_MEMORY = [cpu_and_memory("1000m", "2000"), cpu_and_memory("2000m", "3000")]
CPU_ONLY = [cpu_only("1000m"), cpu_only("2000m")]
CPU_AND_MEMORY_SUM = cpu_and_memory("3000m", "5000")


def pod(*containers: Mapping[str, str], name: str = "p", node: str = "") -> PodInfo:
    return make_pod(name, containers=[dict(c) for c in containers] or [{}], node_name=node)


def nodes(
    sizes: Sequence[tuple[int, int]],
    existing: Mapping[str, Sequence[Mapping[str, str]]] | None = None,
    gpus: Sequence[int | None] = (),
) -> list[NodeInfo]:
    """makeNode(nodeN, milliCPU, memory, {gpu}) with one existing pod per entry
    of ``existing`` (its containers' requests)."""
    out = []
    for i, (milli_cpu, memory) in enumerate(sizes, start=1):
        name = f"node{i}"
        alloc = {"cpu": f"{milli_cpu}m", "memory": str(memory)}
        if i <= len(gpus) and gpus[i - 1] is not None:
            alloc[GPU] = str(gpus[i - 1])
        containers = (existing or {}).get(name)
        pods = [pod(*containers, name=f"{name}-existing", node=name)] if containers else []
        out.append(node_info(name, pods=pods, allocatable=alloc))
    return out


def plugin(
    args: NodeResourcesBalancedAllocationArgs, server: ServerInfo = OFFLINE
) -> NodeResourcesBalancedAllocation:
    return NodeResourcesBalancedAllocation(args, FakeHandle(server=server))


@pytest.mark.parametrize(
    ("incoming", "infos", "args", "pre_score", "want_1_35", "want_1_36"),
    [
        pytest.param(
            pod(*CPU_AND_MEMORY), nodes([(4000, 10000), (6000, 10000)]), DEFAULT, True,
            [87, 100], [68, 75],
            id="nothing scheduled, resources requested, differently sized nodes"),
        pytest.param(
            pod(*CPU_AND_MEMORY),
            nodes([(10000, 20000), (10000, 20000)],
                  {"node1": CPU_ONLY, "node2": CPU_AND_MEMORY}),
            DEFAULT, True, [82, 95], [73, 74],
            id="resources requested, pods scheduled with resources"),
        pytest.param(
            pod(*CPU_AND_MEMORY),
            nodes([(10000, 20000), (10000, 50000)],
                  {"node1": CPU_ONLY, "node2": CPU_AND_MEMORY}),
            DEFAULT, True, [82, 80], [73, 70],
            id="resources requested, pods scheduled with resources, differently sized nodes"),
        pytest.param(
            pod({"memory": "2000"}, {"memory": "3000"}),
            nodes([(3000, 5000), (3000, 5000)], {"node1": CPU_ONLY}),
            DEFAULT, True, [100, 50], [100, 50],
            id="resources requested, pods scheduled with resources, nodes to reach min/max score"),
        pytest.param(
            pod(*CPU_ONLY),
            nodes([(6000, 10000), (6000, 10000)],
                  {"node1": CPU_ONLY, "node2": CPU_AND_MEMORY}),
            DEFAULT, True, [50, 75], [62, 62], id="requested resources at node capacity"),
        pytest.param(
            pod({"cpu": "0", "memory": "0", GPU: "1"}),
            nodes([(3500, 40000), (3500, 40000)],
                  {"node1": [cpu_and_memory("1000m", "2000"),
                             {"cpu": "2000m", "memory": "3000", GPU: "3"}],
                   "node2": CPU_AND_MEMORY},
                  gpus=[8, 8]),
            WITH_GPU, True, [70, 65], [75, 76],
            id="scalar resource is included in the score computation if pod requests the scalar "
               "resource"),
        pytest.param(
            pod(*CPU_AND_MEMORY), nodes([(3500, 40000), (3500, 40000)], gpus=[8, None]),
            WITH_GPU, True, [63, 63], [56, 56],
            id="scalar resource is not included in the score computation if pod doesn't request "
               "the scalar resource"),
        pytest.param(
            pod(*CPU_AND_MEMORY),
            nodes([(10000, 20000), (10000, 20000)],
                  {"node1": CPU_ONLY, "node2": CPU_AND_MEMORY}),
            DEFAULT, False, [82, 95], [73, 74],
            id="resources requested, pods scheduled with resources if PreScore not called"),
        pytest.param(
            pod(*CPU_AND_MEMORY), nodes([(0, 0), (0, 0)], {"node1": CPU_ONLY}),
            DEFAULT, True, [100, 100], [75, 75],
            id="nodes without allocatable leave no fraction and score as balanced"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("minor", [35, 36, 37])
def test_node_resources_balanced_allocation(
    incoming: PodInfo,
    infos: list[NodeInfo],
    args: NodeResourcesBalancedAllocationArgs,
    pre_score: bool,
    want_1_35: list[int],
    want_1_36: list[int],
    minor: int,
) -> None:
    p = plugin(args, offline(ServerVersion(1, minor)))
    state = CycleState()
    if pre_score:
        assert p.pre_score(state, incoming, infos) == SUCCESS
    assert [p.score(state, incoming, n) for n in infos] == (want_1_35 if minor == 35 else want_1_36)


@pytest.mark.parametrize(("minor", "want"), [(35, [87, 100]), (36, [68, 75]), (37, [68, 75])])
def test_pod_level_requests_are_balanced_unlike_fits_scorer(minor: int, want: list[int]) -> None:
    # BalancedAllocation is built with pod-level resources upstream: the
    # pod-level requests replace the container sums (scores from the table's
    # "differently sized nodes" row, per release).
    infos = nodes([(4000, 10000), (6000, 10000)])
    pod_level = make_pod(
        "p", containers=[cpu_and_memory("100m", "100")], pod_requests=CPU_AND_MEMORY_SUM
    )
    same = pod(*CPU_AND_MEMORY)
    p = plugin(DEFAULT, offline(ServerVersion(1, minor)))
    for incoming in (pod_level, same):
        state = CycleState()
        assert p.pre_score(state, incoming, infos) == SUCCESS
        assert [p.score(state, incoming, n) for n in infos] == want


def test_a_pod_requesting_only_at_the_pod_level_is_not_best_effort() -> None:
    infos = nodes([(4000, 10000)])
    incoming = make_pod("p", containers=[{}], pod_requests=CPU_AND_MEMORY_SUM)
    assert plugin(DEFAULT).pre_score(CycleState(), incoming, infos) == SUCCESS


@pytest.mark.parametrize(
    "incoming",
    [
        pytest.param(pod(), id="nothing scheduled, nothing requested, skip in PreScore"),
        pytest.param(pod({"cpu": "0", "memory": "0"}),
                     id="explicit zero requests are best effort too"),
        pytest.param(pod({"ephemeral-storage": "1Gi"}),
                     id="requests outside the configured resources do not count"),
    ],
)  # fmt: skip
def test_best_effort_pods_are_skipped_in_pre_score(incoming: PodInfo) -> None:
    infos = nodes([(4000, 10000), (4000, 10000)])
    assert plugin(DEFAULT).pre_score(CycleState(), incoming, infos) == SKIP


def test_best_effort_pod_scores_zero_if_pre_score_not_called() -> None:
    infos = nodes([(4000, 10000)], {"node1": CPU_ONLY})
    assert plugin(DEFAULT).score(CycleState(), pod(), infos[0]) == 0


@pytest.mark.parametrize(
    ("requested", "allocatable", "want"),
    [
        pytest.param([3000, 5000], [4000, 10000], 87, id="two resources use half the difference"),
        pytest.param([6000, 0], [4000, 10000], 50, id="fractions are capped at one"),
        pytest.param([3000, 5000, 4], [3500, 40000, 8], 70,
                     id="three or more resources use the population standard deviation"),
        pytest.param([3000, 0], [4000, 0], 100, id="a single fraction is perfectly balanced"),
        pytest.param([0, 0], [0, 0], 100, id="no fractions at all score the maximum"),
    ],
)  # fmt: skip
def test_balanced_resource_score(requested: list[int], allocatable: list[int], want: int) -> None:
    assert balanced_resource_score(requested, allocatable) == want


def test_default_args() -> None:
    assert SPEC.args(None) == NodeResourcesBalancedAllocationArgs(
        (ResourceSpec("cpu", 1), ResourceSpec("memory", 1))
    )


def test_decode_args() -> None:
    raw = {"resources": [{"name": "cpu"}, {"name": "memory", "weight": 1}, {"name": GPU}]}
    assert SPEC.args(raw) == WITH_GPU


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        pytest.param({"resources": [{"name": "cpu", "weight": 2}]},
                     r"args\.resources\[0\]\.weight: must be 1, got 2",
                     id="a weight other than one"),
        pytest.param({"resources": [{"name": "cpu"}, {"name": "cpu"}]},
                     r"args\.resources\[1\]\.name: duplicate value 'cpu'",
                     id="a resource listed twice"),
        pytest.param({"resources": [{"weight": 1}]}, r"args\.resources\[0\]\.name: must be set",
                     id="a resource without a name"),
        pytest.param({"resources": {"name": "cpu"}}, r"args\.resources: expected a list",
                     id="resources not a list"),
    ],
)  # fmt: skip
def test_decode_args_errors(raw: dict[str, Any], match: str) -> None:
    with pytest.raises(ArgsError, match=rf"^plugin NodeResourcesBalancedAllocation: {match}"):
        SPEC.args(raw)


def test_args_need_resources_when_built_directly() -> None:
    with pytest.raises(ArgsError, match=r"^args\.resources: must not be empty"):
        NodeResourcesBalancedAllocationArgs(())
