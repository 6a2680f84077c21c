"""NodeResourcesFit, table by table after upstream's fit_test.go,
least_allocated_test.go, most_allocated_test.go and
requested_to_capacity_ratio_test.go.

Upstream builds pods without containers for "nothing requested"; a decoded
pod always has one, so those cases use a container with explicit zero
requests (explicit zeros get no non-zero defaults either).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.registry import ArgsError
from py_scheduler.framework.status import SUCCESS, Status
from py_scheduler.framework.types import ActionType, QueueingHint, Resource
from py_scheduler.model import Node, NodeInfo, PodInfo
from py_scheduler.plugins.noderesources.fit import (
    LEAST_ALLOCATED,
    MOST_ALLOCATED,
    REQUESTED_TO_CAPACITY_RATIO,
    SPEC,
    InsufficientResource,
    NodeResourcesFit,
    NodeResourcesFitArgs,
    ScoringStrategy,
    fits_request,
    insufficient_reason,
)
from py_scheduler.plugins.noderesources.requested_to_capacity_ratio import UtilizationShapePoint
from py_scheduler.plugins.noderesources.resource_allocation import ResourceSpec
from py_scheduler.plugins.shape_score import broken_linear_function
from tests.builders import make_node, make_pod, node_info
from tests.fakes import FakeHandle

EXT_A = "example.com/aaa"
EXT_B = "example.com/bbb"
K8S_IO_A = "kubernetes.io/something"
K8S_IO_B = "subdomain.kubernetes.io/something"
HUGEPAGE_A = "hugepages-2Mi"
EXTENDED_RES = "abc.com/xyz"

U = Status.unschedulable
UU = Status.unresolvable

# makeAllocatableResources(10, 20, 32, 5, 20, 5)
FILTER_NODE = {
    "cpu": "10m",
    "memory": "20",
    "pods": "32",
    EXT_A: "5",
    "ephemeral-storage": "20",
    HUGEPAGE_A: "5",
}
ZERO = {"cpu": "0", "memory": "0"}  # upstream's container-less pod


def r(
    milli_cpu: int = 0,
    memory: int = 0,
    *,
    storage: int | None = None,
    scalars: Mapping[str, int] | None = None,
) -> dict[str, str]:
    """One container's requests, as upstream's newResourcePod spells them."""
    out = {"cpu": f"{milli_cpu}m", "memory": str(memory)}
    if storage is not None:
        out["ephemeral-storage"] = str(storage)
    for name, amount in (scalars or {}).items():
        out[name] = str(amount)
    return out


def pod(
    *containers: Mapping[str, str],
    init: Sequence[Mapping[str, str]] = (),
    sidecars: Sequence[Mapping[str, str]] = (),
    **kwargs: Any,
) -> PodInfo:
    inits = [(dict(c), True) for c in sidecars] + [(dict(c), False) for c in init]
    return make_pod(
        kwargs.pop("name", "p"),
        containers=[dict(c) for c in containers] or [{}],
        init_containers=inits,
        **kwargs,
    )


def placed(node: str, *containers: Mapping[str, str], index: int = 0) -> PodInfo:
    return pod(*containers, name=f"{node}-existing-{index}", node_name=node)


def plugin(args: NodeResourcesFitArgs | None = None) -> NodeResourcesFit:
    return NodeResourcesFit(args or NodeResourcesFitArgs(), FakeHandle())


def run_filter(
    p: NodeResourcesFit, incoming: PodInfo, node: NodeInfo, *, pre_filter: bool = True
) -> Status:
    state = CycleState()
    if pre_filter:
        result, status = p.pre_filter(state, incoming, [node])
        assert (result, status) == (None, SUCCESS)
    return p.filter(state, incoming, node)


# -- Filter: TestEnoughRequests --------------------------------------------------------

ENOUGH_REQUESTS = [
    pytest.param(pod(), r(10, 20), NodeResourcesFitArgs(), SUCCESS,
                 id="no resources requested always fits"),
    pytest.param(pod(r(1, 1)), r(10, 20), NodeResourcesFitArgs(),
                 U("Insufficient cpu", "Insufficient memory"),
                 id="too many resources fails"),
    pytest.param(pod(r(1, 1), init=[r(3, 1)]), r(8, 19), NodeResourcesFitArgs(),
                 U("Insufficient cpu"),
                 id="too many resources fails due to init container cpu"),
    pytest.param(pod(r(1, 1), init=[r(3, 1), r(2, 1)]), r(8, 19), NodeResourcesFitArgs(),
                 U("Insufficient cpu"),
                 id="too many resources fails due to highest init container cpu"),
    pytest.param(pod(r(1, 1), init=[r(1, 3)]), r(9, 19), NodeResourcesFitArgs(),
                 U("Insufficient memory"),
                 id="too many resources fails due to init container memory"),
    pytest.param(pod(r(1, 1), init=[r(1, 3), r(1, 2)]), r(9, 19), NodeResourcesFitArgs(),
                 U("Insufficient memory"),
                 id="too many resources fails due to highest init container memory"),
    pytest.param(pod(r(1, 1), init=[r(1, 1)]), r(9, 19), NodeResourcesFitArgs(), SUCCESS,
                 id="init container fits because it's the max, not sum, of containers and "
                    "init containers"),
    pytest.param(pod(r(1, 1), init=[r(1, 1), r(1, 1)]), r(9, 19), NodeResourcesFitArgs(),
                 SUCCESS,
                 id="multiple init containers fit because it's the max, not sum, of containers "
                    "and init containers"),
    pytest.param(pod(r(1, 1)), r(5, 5), NodeResourcesFitArgs(), SUCCESS,
                 id="both resources fit"),
    pytest.param(pod(r(2, 1)), r(9, 5), NodeResourcesFitArgs(), U("Insufficient cpu"),
                 id="one resource memory fits"),
    pytest.param(pod(r(1, 2)), r(5, 19), NodeResourcesFitArgs(), U("Insufficient memory"),
                 id="one resource cpu fits"),
    pytest.param(pod(r(5, 1)), r(5, 19), NodeResourcesFitArgs(), SUCCESS,
                 id="equal edge case"),
    pytest.param(pod(r(4, 1), init=[r(5, 1)]), r(5, 19), NodeResourcesFitArgs(), SUCCESS,
                 id="equal edge case for init container"),
    pytest.param(pod(r(scalars={EXT_A: 1})), r(), NodeResourcesFitArgs(), SUCCESS,
                 id="extended resource fits"),
    pytest.param(pod(r(), init=[r(scalars={EXT_A: 1})]), r(), NodeResourcesFitArgs(), SUCCESS,
                 id="extended resource fits for init container"),
    pytest.param(pod(r(1, 1, scalars={EXT_A: 10})), r(scalars={EXT_A: 0}),
                 NodeResourcesFitArgs(), UU(f"Insufficient {EXT_A}"),
                 id="extended resource capacity enforced"),
    pytest.param(pod(r(), init=[r(1, 1, scalars={EXT_A: 10})]), r(scalars={EXT_A: 0}),
                 NodeResourcesFitArgs(), UU(f"Insufficient {EXT_A}"),
                 id="extended resource capacity enforced for init container"),
    pytest.param(pod(r(1, 1, scalars={EXT_A: 1})), r(scalars={EXT_A: 5}),
                 NodeResourcesFitArgs(), U(f"Insufficient {EXT_A}"),
                 id="extended resource allocatable enforced"),
    pytest.param(pod(r(), init=[r(1, 1, scalars={EXT_A: 1})]), r(scalars={EXT_A: 5}),
                 NodeResourcesFitArgs(), U(f"Insufficient {EXT_A}"),
                 id="extended resource allocatable enforced for init container"),
    pytest.param(pod(r(1, 1, scalars={EXT_A: 3}), r(1, 1, scalars={EXT_A: 3})),
                 r(scalars={EXT_A: 2}), NodeResourcesFitArgs(), UU(f"Insufficient {EXT_A}"),
                 id="extended resource allocatable enforced for multiple containers"),
    pytest.param(pod(r(), init=[r(1, 1, scalars={EXT_A: 3}), r(1, 1, scalars={EXT_A: 3})]),
                 r(scalars={EXT_A: 2}), NodeResourcesFitArgs(), SUCCESS,
                 id="extended resource allocatable admits multiple init containers"),
    pytest.param(pod(r(), init=[r(1, 1, scalars={EXT_A: 6}), r(1, 1, scalars={EXT_A: 3})]),
                 r(scalars={EXT_A: 2}), NodeResourcesFitArgs(), UU(f"Insufficient {EXT_A}"),
                 id="extended resource allocatable enforced for multiple init containers"),
    pytest.param(pod(r(1, 1, scalars={EXT_B: 1})), r(), NodeResourcesFitArgs(),
                 UU(f"Insufficient {EXT_B}"),
                 id="extended resource allocatable enforced for unknown resource"),
    pytest.param(pod(r(), init=[r(1, 1, scalars={EXT_B: 1})]), r(), NodeResourcesFitArgs(),
                 UU(f"Insufficient {EXT_B}"),
                 id="extended resource allocatable enforced for unknown resource for init "
                    "container"),
    pytest.param(pod(r(1, 1, scalars={K8S_IO_A: 10})), r(), NodeResourcesFitArgs(),
                 UU(f"Insufficient {K8S_IO_A}"),
                 id="kubernetes.io resource capacity enforced"),
    pytest.param(pod(r(), init=[r(1, 1, scalars={K8S_IO_B: 10})]), r(), NodeResourcesFitArgs(),
                 UU(f"Insufficient {K8S_IO_B}"),
                 id="kubernetes.io resource capacity enforced for init container"),
    pytest.param(pod(r(1, 1, scalars={HUGEPAGE_A: 10})), r(scalars={HUGEPAGE_A: 0}),
                 NodeResourcesFitArgs(), UU(f"Insufficient {HUGEPAGE_A}"),
                 id="hugepages resource capacity enforced"),
    pytest.param(pod(r(), init=[r(1, 1, scalars={HUGEPAGE_A: 10})]),
                 r(scalars={HUGEPAGE_A: 0}), NodeResourcesFitArgs(),
                 UU(f"Insufficient {HUGEPAGE_A}"),
                 id="hugepages resource capacity enforced for init container"),
    pytest.param(pod(r(1, 1, scalars={HUGEPAGE_A: 3}), r(1, 1, scalars={HUGEPAGE_A: 3})),
                 r(scalars={HUGEPAGE_A: 2}), NodeResourcesFitArgs(),
                 UU(f"Insufficient {HUGEPAGE_A}"),
                 id="hugepages resource allocatable enforced for multiple containers"),
    pytest.param(pod(r(1, 1, scalars={EXT_B: 1})), r(),
                 NodeResourcesFitArgs(ignored_resources=(EXT_B,)), SUCCESS,
                 id="skip checking ignored extended resource"),
    pytest.param(pod(r(1, 1), overhead={"cpu": "3m", "memory": "13"}), r(5, 5),
                 NodeResourcesFitArgs(), SUCCESS,
                 id="resources + pod overhead fits"),
    pytest.param(pod(r(1, 1), overhead={"cpu": "1m", "memory": "15"}), r(5, 5),
                 NodeResourcesFitArgs(), U("Insufficient memory"),
                 id="requests + overhead does not fit for memory"),
    pytest.param(pod(r(1, 1, scalars={EXT_B: 1, K8S_IO_A: 1})), r(),
                 NodeResourcesFitArgs(ignored_resource_groups=("example.com",)),
                 UU(f"Insufficient {K8S_IO_A}"),
                 id="skip checking ignored extended resource via resource groups"),
    pytest.param(pod(r(1, 1, scalars={EXT_A: 0})), r(scalars={EXT_A: 6}),
                 NodeResourcesFitArgs(), SUCCESS,
                 id="skip checking extended resource request with quantity zero via resource "
                    "groups"),
    # Pod-level resources (PodLevelResources, on by default since 1.34).
    pytest.param(pod(r(1, 1), pod_requests={"cpu": "1m", "memory": "2"}), r(5, 5),
                 NodeResourcesFitArgs(), SUCCESS,
                 id="both pod-level and container-level resources fit"),
    pytest.param(pod(r(1, 1), pod_requests={"cpu": "7m", "memory": "2"}), r(5, 5),
                 NodeResourcesFitArgs(), U("Insufficient cpu"),
                 id="pod-level cpu resource not fit"),
    pytest.param(pod(r(1, 1), pod_requests={"cpu": "3m", "memory": "2"}), r(5, 19),
                 NodeResourcesFitArgs(), U("Insufficient memory"),
                 id="pod-level memory resource not fit"),
    pytest.param(pod(ZERO, pod_requests={"cpu": "3m", "memory": "2", HUGEPAGE_A: "5"}), ZERO,
                 NodeResourcesFitArgs(), SUCCESS,
                 id="pod-level hugepages resource fit"),
    pytest.param(pod(r(1, 1, scalars={HUGEPAGE_A: 3}),
                     pod_requests={"cpu": "3m", "memory": "2", HUGEPAGE_A: "5"}), ZERO,
                 NodeResourcesFitArgs(), SUCCESS,
                 id="both pod-level and container-level hugepages resource fit"),
    pytest.param(pod(ZERO, pod_requests={"cpu": "3m", "memory": "2", HUGEPAGE_A: "10"}), ZERO,
                 NodeResourcesFitArgs(), UU(f"Insufficient {HUGEPAGE_A}"),
                 id="pod-level hugepages resource not fit"),
    pytest.param(pod(r(1, 1), init=[r(1, 1)], pod_requests={"cpu": "3m", "memory": "2"}),
                 r(5, 19), NodeResourcesFitArgs(), U("Insufficient memory"),
                 id="one pod-level cpu resource fits and all init and non-init containers "
                    "resources fit"),
]  # fmt: skip


@pytest.mark.parametrize(("incoming", "existing", "args", "want"), ENOUGH_REQUESTS)
def test_enough_requests(
    incoming: PodInfo, existing: dict[str, str], args: NodeResourcesFitArgs, want: Status
) -> None:
    node = node_info("n", pods=[placed("n", existing)], allocatable=FILTER_NODE)
    assert run_filter(plugin(args), incoming, node) == want


@pytest.mark.parametrize(("incoming", "existing", "args", "want"), ENOUGH_REQUESTS)
def test_filter_without_pre_filter_computes_the_request(
    incoming: PodInfo, existing: dict[str, str], args: NodeResourcesFitArgs, want: Status
) -> None:
    node = node_info("n", pods=[placed("n", existing)], allocatable=FILTER_NODE)
    assert run_filter(plugin(args), incoming, node, pre_filter=False) == want


# -- Filter: TestNotEnoughRequests, TestStorageRequests, sidecars -----------------------

ONE_POD_NODE = {"cpu": "10m", "memory": "20", "pods": "1"}


@pytest.mark.parametrize(
    ("incoming", "existing"),
    [
        pytest.param(pod(), r(10, 20),
                     id="even without specified resources, predicate fails when there's no "
                        "space for additional pod"),
        pytest.param(pod(r(1, 1)), r(5, 5),
                     id="even if both resources fit, predicate fails when there's no space for "
                        "additional pod"),
        pytest.param(pod(r(5, 1)), r(5, 19),
                     id="even for equal edge case, predicate fails when there's no space for "
                        "additional pod"),
        pytest.param(pod(r(5, 1), init=[r(5, 1)]), r(5, 19),
                     id="even for equal edge case, predicate fails when there's no space for "
                        "additional pod due to init container"),
    ],
)  # fmt: skip
def test_not_enough_requests(incoming: PodInfo, existing: dict[str, str]) -> None:
    node = node_info("n", pods=[placed("n", existing)], allocatable=ONE_POD_NODE)
    assert run_filter(plugin(), incoming, node) == U("Too many pods")


@pytest.mark.parametrize(
    ("incoming", "existing", "want"),
    [
        pytest.param(pod(r(1, 1)), r(2, 10), SUCCESS,
                     id="empty storage requested, and pod fits"),
        pytest.param(pod(r(storage=25)), r(2, 2), UU("Insufficient ephemeral-storage"),
                     id="storage ephemeral local storage request exceeds allocatable"),
        pytest.param(pod(r(storage=5)), r(2, 2, storage=10), SUCCESS,
                     id="ephemeral local storage is sufficient"),
        pytest.param(pod(r(storage=10)), r(2, 2), SUCCESS, id="pod fits"),
    ],
)  # fmt: skip
def test_storage_requests(incoming: PodInfo, existing: dict[str, str], want: Status) -> None:
    node = node_info("n", pods=[placed("n", existing)], allocatable=FILTER_NODE)
    assert run_filter(plugin(), incoming, node) == want


@pytest.mark.parametrize(
    ("incoming", "want"),
    [
        pytest.param(pod({}, sidecars=[{}]), SUCCESS,
                     id="allow pod with restartable init containers"),
        pytest.param(pod({"cpu": "1m"}, sidecars=[{"cpu": "1m"}]), SUCCESS,
                     id="allow pod if the total requested resources do not exceed the node's "
                        "allocatable resources"),
        pytest.param(pod({"cpu": "1m"}, sidecars=[{"cpu": "2m"}]), UU("Insufficient cpu"),
                     id="not allow pod if the total requested resources do exceed the node's "
                        "allocatable resources"),
    ],
)  # fmt: skip
def test_restartable_init_containers(incoming: PodInfo, want: Status) -> None:
    node = node_info("n", allocatable={"cpu": "2m", "memory": "0", "pods": "1"})
    assert run_filter(plugin(), incoming, node) == want


@pytest.mark.parametrize(
    ("incoming", "allocatable", "existing", "want"),
    [
        pytest.param(
            pod(r(20, 30, storage=30, scalars={EXT_A: 6})), FILTER_NODE, [r(1, 1)],
            UU("Insufficient cpu", "Insufficient memory", "Insufficient ephemeral-storage",
               f"Insufficient {EXT_A}"),
            id="every failing resource is listed, in upstream's order"),
        pytest.param(
            pod(r(5, 1)), ONE_POD_NODE, [r(6, 1)], U("Too many pods", "Insufficient cpu"),
            id="too many pods comes first and stays unschedulable when preemption could help"),
        pytest.param(
            pod(r(11, 1)), ONE_POD_NODE, [r(1, 1)], UU("Too many pods", "Insufficient cpu"),
            id="a request above the whole allocatable makes the node unresolvable"),
        pytest.param(
            pod(), {"cpu": "1", "memory": "1Gi"}, [], U("Too many pods"),
            id="a node without a pods allocatable fits no pod"),
        pytest.param(
            pod(r(1, 1, scalars={EXT_A: 1, EXT_B: 1})), FILTER_NODE, [],
            UU(f"Insufficient {EXT_B}"),
            id="a request for a resource the node lacks is unresolvable"),
    ],
)  # fmt: skip
def test_reasons_and_codes(
    incoming: PodInfo, allocatable: dict[str, str], existing: list[dict[str, str]], want: Status
) -> None:
    pods = [placed("n", c, index=i) for i, c in enumerate(existing)]
    node = node_info("n", pods=pods, allocatable=allocatable)
    assert run_filter(plugin(), incoming, node) == want


@pytest.mark.parametrize(
    ("incoming", "existing", "want"),
    [
        pytest.param(pod(r(1, 1)), r(10, 20), [
            InsufficientResource("cpu", "Insufficient cpu", 1, 10, 10),
            InsufficientResource("memory", "Insufficient memory", 1, 20, 20),
        ], id="too many resources fails"),
        pytest.param(pod(r(1, 1), init=[r(3, 1)]), r(8, 19), [
            InsufficientResource("cpu", "Insufficient cpu", 3, 8, 10),
        ], id="too many resources fails due to init container cpu"),
        pytest.param(pod(r(1, 1, scalars={EXT_A: 10})), r(), [
            InsufficientResource(EXT_A, f"Insufficient {EXT_A}", 10, 0, 5, unresolvable=True),
        ], id="extended resource capacity enforced"),
        pytest.param(pod(r(1, 1, scalars={EXT_B: 1})), r(), [
            InsufficientResource(EXT_B, f"Insufficient {EXT_B}", 1, 0, 0, unresolvable=True),
        ], id="extended resource allocatable enforced for unknown resource"),
        pytest.param(pod(r(1, 1), overhead={"cpu": "1m", "memory": "15"}), r(5, 5), [
            InsufficientResource("memory", "Insufficient memory", 16, 5, 20),
        ], id="requests + overhead does not fit for memory"),
        pytest.param(pod(), r(10, 20), [], id="no resources requested always fits"),
    ],
)  # fmt: skip
def test_insufficient_resources(
    incoming: PodInfo, existing: dict[str, str], want: list[InsufficientResource]
) -> None:
    node = node_info("n", pods=[placed("n", existing)], allocatable=FILTER_NODE)
    assert fits_request(incoming.requests, node) == want


def test_insufficient_reason_is_built_once_per_resource() -> None:
    assert insufficient_reason(EXT_A) == f"Insufficient {EXT_A}"
    assert insufficient_reason(EXT_A) is insufficient_reason(EXT_A)


def test_pre_filter_has_no_extensions() -> None:
    assert plugin().pre_filter_extensions() is None


# -- Score -------------------------------------------------------------------------------


def cap(cpu: str, memory: str, **scalars: str) -> dict[str, str]:
    """st.MakeNode().Capacity(...): allocatable with 32 pods."""
    return {"cpu": cpu, "memory": memory, "pods": "32", **scalars}


def nodes_with(
    allocatable: Sequence[Mapping[str, str]],
    existing: Mapping[str, Sequence[Sequence[Mapping[str, str]]]] | None = None,
    sidecars: Mapping[str, Sequence[Mapping[str, str]]] | None = None,
) -> list[NodeInfo]:
    """node1, node2, ... with the given allocatable; ``existing`` maps a node to
    its pods, each a list of containers' requests."""
    out = []
    for i, alloc in enumerate(allocatable, start=1):
        name = f"node{i}"
        pods = [
            pod(*containers, name=f"{name}-existing-{j}", node_name=name,
                sidecars=(sidecars or {}).get(name, ()) if j == 0 else ())
            for j, containers in enumerate((existing or {}).get(name, ()))
        ]  # fmt: skip
        out.append(node_info(name, pods=pods, allocatable=dict(alloc)))
    return out


def scores(
    args: NodeResourcesFitArgs, incoming: PodInfo, nodes: Sequence[NodeInfo], *, pre_score: bool
) -> list[int]:
    p = NodeResourcesFit(args, FakeHandle(nodes))
    state = CycleState()
    if pre_score:
        assert p.pre_score(state, incoming, nodes) == SUCCESS
    return [p.score(state, incoming, n) for n in nodes]


def strategy(
    kind: str,
    resources: Sequence[tuple[str, int]] = (("cpu", 1), ("memory", 1)),
    shape: Sequence[tuple[int, int]] | None = None,
) -> NodeResourcesFitArgs:
    return NodeResourcesFitArgs(
        scoring_strategy=ScoringStrategy(
            type=kind,
            resources=tuple(ResourceSpec(n, w) for n, w in resources),
            shape=None if shape is None else tuple(UtilizationShapePoint(u, s) for u, s in shape),
        )
    )


TWO_CONTAINERS = pod({"cpu": "1000", "memory": "2000"}, {"cpu": "2000", "memory": "3000"})
EXTENDED_RESOURCE_SET = (("cpu", 1), ("memory", 1), (EXTENDED_RES, 1))
LEAST_TO_MOST_SHAPE = ((0, 10), (100, 0))

FIT_SCORE = [
    pytest.param(
        strategy(REQUESTED_TO_CAPACITY_RATIO, shape=LEAST_TO_MOST_SHAPE),
        pod({"cpu": "3000", "memory": "5000"}),
        nodes_with([cap("4000", "10000"), cap("6000", "10000")],
                   {"node1": [[{"cpu": "2000", "memory": "4000"}]],
                    "node2": [[{"cpu": "1000", "memory": "2000"}]]}),
        True, [10, 32], id="test case for ScoringStrategy RequestedToCapacityRatio case1"),
    pytest.param(
        strategy(REQUESTED_TO_CAPACITY_RATIO, shape=((0, 0), (100, 10))),
        pod({"cpu": "3000", "memory": "5000"}),
        nodes_with([cap("4000", "10000"), cap("6000", "10000")],
                   {"node1": [[{"cpu": "2000", "memory": "4000"}]],
                    "node2": [[{"cpu": "1000", "memory": "2000"}]]}),
        True, [95, 68], id="test case for ScoringStrategy RequestedToCapacityRatio case2"),
    pytest.param(
        strategy(MOST_ALLOCATED), pod({"cpu": "1000", "memory": "2000"}),
        nodes_with([cap("4000", "10000"), cap("6000", "10000")],
                   {"node1": [[{"cpu": "2000", "memory": "4000"}]],
                    "node2": [[{"cpu": "1000", "memory": "2000"}]]}),
        True, [67, 36], id="test case for ScoringStrategy MostAllocated"),
    pytest.param(
        strategy(LEAST_ALLOCATED), pod({"cpu": "1000", "memory": "2000"}),
        nodes_with([cap("4000", "10000"), cap("6000", "10000")],
                   {"node1": [[{"cpu": "2000", "memory": "4000"}]],
                    "node2": [[{"cpu": "1000", "memory": "2000"}]]}),
        True, [32, 63], id="test case for ScoringStrategy LeastAllocated"),
    pytest.param(
        strategy(REQUESTED_TO_CAPACITY_RATIO, shape=LEAST_TO_MOST_SHAPE),
        pod({"cpu": "3000", "memory": "5000"}),
        nodes_with([cap("4000", "10000"), cap("6000", "10000")],
                   {"node1": [[{"cpu": "2000", "memory": "4000"}]],
                    "node2": [[{"cpu": "1000", "memory": "2000"}]]}),
        False, [10, 32],
        id="test case for ScoringStrategy RequestedToCapacityRatio case1 if PreScore is not "
           "called"),
    pytest.param(
        strategy(MOST_ALLOCATED), pod({"cpu": "1000", "memory": "2000"}),
        nodes_with([cap("4000", "10000"), cap("6000", "10000")],
                   {"node1": [[{"cpu": "2000", "memory": "4000"}]],
                    "node2": [[{"cpu": "1000", "memory": "2000"}]]}),
        False, [67, 36],
        id="test case for ScoringStrategy MostAllocated if PreScore is not called"),
    pytest.param(
        strategy(LEAST_ALLOCATED), pod({"cpu": "1000", "memory": "2000"}),
        nodes_with([cap("4000", "10000"), cap("6000", "10000")],
                   {"node1": [[{"cpu": "2000", "memory": "4000"}]],
                    "node2": [[{"cpu": "1000", "memory": "2000"}]]}),
        False, [32, 63],
        id="test case for ScoringStrategy LeastAllocated if PreScore is not called"),
    pytest.param(
        strategy(MOST_ALLOCATED), pod({"cpu": "1000", "memory": "2000"}),
        nodes_with([cap("4000", "10000"), cap("4000", "10000")],
                   {"node1": [[{"cpu": "1000", "memory": "2000"}]],
                    "node2": [[{"cpu": "1000", "memory": "2000"}]]},
                   sidecars={"node1": [{"cpu": "1000", "memory": "2000"}]}),
        True, [67, 45], id="test case for ScoringStrategy MostAllocated with sidecar container"),
    pytest.param(
        strategy(LEAST_ALLOCATED), pod({"cpu": "1000", "memory": "2000"}),
        nodes_with([cap("4000", "10000"), cap("4000", "10000")],
                   {"node1": [[{"cpu": "1000", "memory": "2000"}]],
                    "node2": [[{"cpu": "1000", "memory": "2000"}]]},
                   sidecars={"node1": [{"cpu": "1000", "memory": "2000"}]}),
        True, [32, 55], id="test case for ScoringStrategy LeastAllocated with sidecar container"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "incoming", "nodes", "pre_score", "want"), FIT_SCORE)
def test_fit_score(
    args: NodeResourcesFitArgs,
    incoming: PodInfo,
    nodes: list[NodeInfo],
    pre_score: bool,
    want: list[int],
) -> None:
    assert scores(args, incoming, nodes, pre_score=pre_score) == want


LEAST_ALLOCATED_CASES = [
    pytest.param(
        pod(ZERO), nodes_with([cap("4000", "10000"), cap("4000", "10000")]),
        EXTENDED_RESOURCE_SET[:2], [100, 100], id="nothing scheduled, nothing requested"),
    pytest.param(
        TWO_CONTAINERS, nodes_with([cap("4000", "10000"), cap("6000", "10000")]),
        EXTENDED_RESOURCE_SET[:2], [37, 50],
        id="nothing scheduled, resources requested, differently sized nodes"),
    pytest.param(
        pod(ZERO),
        nodes_with([cap("4000", "10000"), cap("4000", "10000")],
                   {"node1": [[ZERO], [ZERO]], "node2": [[ZERO], [ZERO]]}),
        EXTENDED_RESOURCE_SET[:2], [100, 100], id="no resources requested, pods scheduled"),
    pytest.param(
        pod(ZERO),
        nodes_with([cap("10000", "20000"), cap("10000", "20000")],
                   {"node1": [[{"cpu": "3000", "memory": "0"}], [{"cpu": "3000", "memory": "0"}]],
                    "node2": [[{"cpu": "3000", "memory": "0"}],
                              [{"cpu": "3000", "memory": "5000"}]]}),
        EXTENDED_RESOURCE_SET[:2], [70, 57],
        id="no resources requested, pods scheduled with resources"),
    pytest.param(
        TWO_CONTAINERS,
        nodes_with([cap("10000", "20000"), cap("10000", "20000")],
                   {"node1": [[{"cpu": "3000", "memory": "0"}]],
                    "node2": [[{"cpu": "3000", "memory": "5000"}]]}),
        EXTENDED_RESOURCE_SET[:2], [57, 45],
        id="resources requested, pods scheduled with resources"),
    pytest.param(
        TWO_CONTAINERS,
        nodes_with([cap("10000", "20000"), cap("10000", "50000")],
                   {"node1": [[{"cpu": "3000", "memory": "0"}]],
                    "node2": [[{"cpu": "3000", "memory": "5000"}]]}),
        EXTENDED_RESOURCE_SET[:2], [57, 60],
        id="resources requested, pods scheduled with resources, differently sized nodes"),
    pytest.param(
        pod({"cpu": "3000", "memory": "0"}),
        nodes_with([cap("4000", "10000"), cap("4000", "10000")],
                   {"node1": [[{"cpu": "3000", "memory": "0"}]],
                    "node2": [[{"cpu": "3000", "memory": "5000"}]]}),
        EXTENDED_RESOURCE_SET[:2], [50, 25], id="requested resources exceed node capacity"),
    pytest.param(
        pod(ZERO),
        nodes_with([{}, {}], {"node1": [[{"cpu": "3000", "memory": "0"}]],
                              "node2": [[{"cpu": "3000", "memory": "5000"}]]}),
        EXTENDED_RESOURCE_SET[:2], [0, 0], id="zero node resources, pods scheduled with resources"),
    pytest.param(
        TWO_CONTAINERS, nodes_with([cap("4000", "10000"), cap("6000", "10000")]),
        (("memory", 2), ("cpu", 1)), [41, 50],
        id="nothing scheduled, resources requested with different weight on CPU and memory, "
           "differently sized nodes"),
    pytest.param(
        TWO_CONTAINERS,
        nodes_with([cap("6000", "10000"), cap("6000", "10000", **{EXTENDED_RES: "4"})]),
        EXTENDED_RESOURCE_SET, [50, 50], id="bypass extended resource if the pod does not request"),
    pytest.param(
        pod({"cpu": "3000", "memory": "5000", EXTENDED_RES: "2"}),
        nodes_with([cap("6000", "10000", **{EXTENDED_RES: "4"}),
                    cap("6000", "10000", **{EXTENDED_RES: "10"})]),
        EXTENDED_RESOURCE_SET, [50, 60], id="honor extended resource if the pod requests"),
    pytest.param(
        pod({"cpu": "3000", "memory": "4000"}),
        nodes_with([cap("6000", "10000"), cap("6000", "10000", **{EXTENDED_RES: "4"})]),
        ((EXTENDED_RES, 2), ("cpu", 1), ("memory", 1)), [55, 55],
        id="if the node doesn't have a resource"),
]  # fmt: skip


def test_fit_score_ignores_pod_level_requests_as_upstreams_scorer_does() -> None:
    # Upstream builds the Fit scorer without pod-level resources: the pod's
    # container requests (non-zero defaults included) are scored, so a pod
    # whose pod-level request is large scores as a small one.
    infos = [node_info("n", allocatable={"cpu": "4", "memory": "8Gi"})]
    small = pod({"cpu": "1", "memory": "2Gi"}, name="small")
    same_containers = pod(
        {"cpu": "1", "memory": "2Gi"}, name="pod-level", pod_requests={"cpu": "3", "memory": "6Gi"}
    )
    large = pod({"cpu": "3", "memory": "6Gi"}, name="large")
    for pre_score in (True, False):
        got = [
            scores(NodeResourcesFitArgs(), p, infos, pre_score=pre_score)
            for p in (small, same_containers, large)
        ]
        assert got[0] == got[1] != got[2]


def test_fit_score_counts_container_defaults_despite_pod_level_requests() -> None:
    infos = [node_info("n", allocatable={"cpu": "1", "memory": "1000Mi"})]
    requestless = pod({}, name="requestless")
    pod_level = pod({}, name="pod-level", pod_requests={"cpu": "900m", "memory": "900Mi"})
    args = strategy(MOST_ALLOCATED)
    assert scores(args, requestless, infos, pre_score=True) == scores(
        args, pod_level, infos, pre_score=True
    )


@pytest.mark.parametrize(("incoming", "nodes", "resources", "want"), LEAST_ALLOCATED_CASES)
def test_least_allocated_scoring_strategy(
    incoming: PodInfo,
    nodes: list[NodeInfo],
    resources: tuple[tuple[str, int], ...],
    want: list[int],
) -> None:
    args = strategy(LEAST_ALLOCATED, resources)
    assert scores(args, incoming, nodes, pre_score=True) == want


MOST_ALLOCATED_CASES = [
    pytest.param(
        pod(ZERO), nodes_with([cap("4000", "10000"), cap("4000", "10000")]),
        EXTENDED_RESOURCE_SET[:2], [0, 0], id="nothing scheduled, nothing requested"),
    pytest.param(
        TWO_CONTAINERS, nodes_with([cap("4000", "10000"), cap("6000", "10000")]),
        EXTENDED_RESOURCE_SET[:2], [62, 50],
        id="nothing scheduled, resources requested, differently sized nodes"),
    pytest.param(
        pod(ZERO),
        nodes_with([cap("10000", "20000"), cap("10000", "20000")],
                   {"node1": [[{"cpu": "3000", "memory": "0"}], [{"cpu": "3000", "memory": "0"}]],
                    "node2": [[{"cpu": "3000", "memory": "0"}],
                              [{"cpu": "3000", "memory": "5000"}]]}),
        EXTENDED_RESOURCE_SET[:2], [30, 42],
        id="no resources requested, pods scheduled with resources"),
    pytest.param(
        TWO_CONTAINERS,
        nodes_with([cap("10000", "20000"), cap("10000", "20000")],
                   {"node1": [[{"cpu": "3000", "memory": "0"}]],
                    "node2": [[{"cpu": "3000", "memory": "5000"}]]}),
        EXTENDED_RESOURCE_SET[:2], [42, 55],
        id="resources requested, pods scheduled with resources"),
    pytest.param(
        pod({"cpu": "2000", "memory": "4000"}, {"cpu": "3000", "memory": "5000"}),
        nodes_with([cap("5000", "10000"), cap("10000", "9000")]),
        EXTENDED_RESOURCE_SET[:2], [95, 75], id="resources requested equal node capacity"),
    pytest.param(
        TWO_CONTAINERS, nodes_with([cap("4000", "10000"), cap("6000", "10000")]),
        (("memory", 2), ("cpu", 1)), [58, 50],
        id="nothing scheduled, resources requested with different weight on CPU and memory, "
           "differently sized nodes"),
    pytest.param(
        pod(),
        nodes_with([cap("250m", "1000Mi"), cap("250m", "1000Mi")],
                   {"node1": [[{}], [{}]]}),
        EXTENDED_RESOURCE_SET[:2], [80, 30],
        id="no resources requested, pods scheduled, nonzero request for resource"),
    pytest.param(
        TWO_CONTAINERS,
        nodes_with([cap("6000", "10000"), cap("6000", "10000", **{EXTENDED_RES: "4"})]),
        EXTENDED_RESOURCE_SET, [50, 50], id="bypass extended resource if the pod does not request"),
    pytest.param(
        pod({"cpu": "3000", "memory": "5000", EXTENDED_RES: "2"}),
        nodes_with([cap("6000", "10000", **{EXTENDED_RES: "4"}),
                    cap("6000", "10000", **{EXTENDED_RES: "10"})]),
        EXTENDED_RESOURCE_SET, [50, 40], id="honor extended resource if the pod request"),
    pytest.param(
        pod({"cpu": "3000", "memory": "4000"}),
        nodes_with([cap("6000", "10000"), cap("6000", "10000", **{EXTENDED_RES: "4"})]),
        ((EXTENDED_RES, 2), ("cpu", 1), ("memory", 1)), [45, 45],
        id="if the node doesn't have a resource"),
]  # fmt: skip


@pytest.mark.parametrize(("incoming", "nodes", "resources", "want"), MOST_ALLOCATED_CASES)
def test_most_allocated_scoring_strategy(
    incoming: PodInfo,
    nodes: list[NodeInfo],
    resources: tuple[tuple[str, int], ...],
    want: list[int],
) -> None:
    args = strategy(MOST_ALLOCATED, resources)
    assert scores(args, incoming, nodes, pre_score=True) == want


@pytest.mark.parametrize(
    ("incoming", "nodes", "want"),
    [
        pytest.param(
            pod(ZERO),
            nodes_with([cap("4000", "10000"), cap("4000", "10000")],
                       {"node1": [[ZERO], [ZERO]]}),
            [100, 100],
            id="nothing scheduled, nothing requested (default - least requested nodes have "
               "priority)"),
        pytest.param(
            TWO_CONTAINERS,
            nodes_with([cap("4000", "10000"), cap("6000", "10000")],
                       {"node1": [[ZERO], [ZERO]]}),
            [38, 50],
            id="nothing scheduled, resources requested, differently sized nodes (default - least "
               "requested nodes have priority)"),
        pytest.param(
            pod(ZERO),
            nodes_with([cap("4000", "10000"), cap("6000", "10000")],
                       {"node1": [[{"cpu": "3000", "memory": "5000"}]],
                        "node2": [[{"cpu": "3000", "memory": "5000"}]]}),
            [38, 50],
            id="no resources requested, pods scheduled with resources (default - least requested "
               "nodes have priority)"),
    ],
)  # fmt: skip
def test_requested_to_capacity_ratio_scoring_strategy(
    incoming: PodInfo, nodes: list[NodeInfo], want: list[int]
) -> None:
    args = strategy(REQUESTED_TO_CAPACITY_RATIO, shape=LEAST_TO_MOST_SHAPE)
    assert scores(args, incoming, nodes, pre_score=True) == want


@pytest.mark.parametrize(
    ("points", "assertions"),
    [
        pytest.param(
            [(10, 1), (90, 9)],
            [(-10, 1), (0, 1), (9, 1), (10, 1), (15, 1), (19, 1), (20, 2), (89, 8), (90, 9),
             (99, 9), (100, 9), (110, 9)],
            id="flat outside the points and linear between them"),
        pytest.param(
            [(0, 2), (40, 10), (100, 0)],
            [(-10, 2), (0, 2), (20, 6), (30, 8), (40, 10), (45, 10), (50, 9), (70, 5), (100, 0),
             (110, 0)],
            id="a peak in the middle, decreasing segments truncate toward zero"),
        pytest.param(
            [(0, 2), (40, 2), (100, 2)],
            [(-10, 2), (0, 2), (20, 2), (30, 2), (40, 2), (70, 2), (100, 2), (110, 2)],
            id="a constant shape"),
    ],
)  # fmt: skip
def test_broken_linear_function(
    points: list[tuple[int, int]], assertions: list[tuple[int, int]]
) -> None:
    f = broken_linear_function(points)
    assert [(p, f(p)) for p, _ in assertions] == assertions


FOO = "intel.com/foo"
BAR = "intel.com/bar"
MI = 1024 * 1024


def bin_nodes(
    extended: Sequence[Mapping[str, int]], existing: Mapping[str, Mapping[str, str]] | None = None
) -> list[NodeInfo]:
    """makeNode(name, 4000m, 10000Mi, extended) per entry; ``existing`` places
    one pod with those requests on a node."""
    allocs = [
        {"cpu": "4000m", "memory": str(10000 * MI), **{k: str(v) for k, v in ext.items()}}
        for ext in extended
    ]
    return nodes_with(allocs, {n: [[dict(c)]] for n, c in (existing or {}).items()})


@pytest.mark.parametrize(
    ("incoming", "nodes", "want"),
    [
        pytest.param(pod(), bin_nodes([{FOO: 8}, {FOO: 4}]), [0, 0],
                     id="nothing scheduled, nothing requested"),
        pytest.param(pod({FOO: "2"}), bin_nodes([{FOO: 8}, {FOO: 4}]), [2, 5],
                     id="resources requested, pods scheduled with less resources"),
        pytest.param(pod({FOO: "2"}), bin_nodes([{FOO: 8}, {FOO: 4}], {"node2": {FOO: "2"}}),
                     [2, 10],
                     id="resources requested, pods scheduled with resources, on node with "
                        "existing pod running"),
        pytest.param(pod({FOO: "4"}), bin_nodes([{FOO: 8}, {FOO: 4}]), [5, 10],
                     id="resources requested, pods scheduled with more resources"),
    ],
)  # fmt: skip
def test_resource_bin_packing_single_extended(
    incoming: PodInfo, nodes: list[NodeInfo], want: list[int]
) -> None:
    args = strategy(REQUESTED_TO_CAPACITY_RATIO, ((FOO, 1),), shape=((0, 0), (100, 1)))
    assert scores(args, incoming, nodes, pre_score=True) == want


@pytest.mark.parametrize(
    ("incoming", "nodes", "want"),
    [
        pytest.param(pod(), bin_nodes([{FOO: 8, BAR: 4}, {FOO: 4, BAR: 8}]), [0, 0],
                     id="nothing scheduled, nothing requested"),
        pytest.param(pod({FOO: "2", BAR: "2"}), bin_nodes([{FOO: 8, BAR: 4}, {FOO: 4, BAR: 8}]),
                     [4, 3], id="resources requested, pods scheduled with less resources"),
        pytest.param(pod({FOO: "2", BAR: "2"}),
                     bin_nodes([{FOO: 8, BAR: 4}, {FOO: 4, BAR: 8}],
                               {"node2": {FOO: "4", BAR: "2"}}),
                     [4, 7],
                     id="resources requested, pods scheduled with resources, on node with "
                        "existing pod running"),
        pytest.param(pod({FOO: "4", BAR: "2"}), bin_nodes([{FOO: 8, BAR: 4}, {FOO: 4, BAR: 8}]),
                     [5, 5], id="resources requested, pods scheduled with more resources"),
    ],
)  # fmt: skip
def test_resource_bin_packing_multiple_extended(
    incoming: PodInfo, nodes: list[NodeInfo], want: list[int]
) -> None:
    args = strategy(REQUESTED_TO_CAPACITY_RATIO, ((FOO, 3), (BAR, 5)), shape=((0, 0), (100, 1)))
    assert scores(args, incoming, nodes, pre_score=True) == want


# -- Args ------------------------------------------------------------------------------


def test_default_args() -> None:
    assert SPEC.args(None) == NodeResourcesFitArgs(
        scoring_strategy=ScoringStrategy(
            LEAST_ALLOCATED, (ResourceSpec("cpu", 1), ResourceSpec("memory", 1))
        )
    )


def test_decode_args() -> None:
    raw = {
        "ignoredResources": [EXT_B],
        "ignoredResourceGroups": ["example.org"],
        "scoringStrategy": {
            "type": "RequestedToCapacityRatio",
            "resources": [{"name": "cpu", "weight": 3}, {"name": FOO}, {"name": BAR, "weight": 0}],
            "requestedToCapacityRatio": {
                "shape": [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 10}]
            },
        },
    }
    assert SPEC.args(raw) == NodeResourcesFitArgs(
        ignored_resources=(EXT_B,),
        ignored_resource_groups=("example.org",),
        scoring_strategy=ScoringStrategy(
            REQUESTED_TO_CAPACITY_RATIO,
            (ResourceSpec("cpu", 3), ResourceSpec(FOO, 1), ResourceSpec(BAR, 1)),
            (UtilizationShapePoint(0, 0), UtilizationShapePoint(100, 10)),
        ),
    )


def test_decode_args_without_resources_uses_cpu_and_memory() -> None:
    args = SPEC.args({"scoringStrategy": {"type": "MostAllocated", "resources": []}})
    assert args.scoring_strategy == ScoringStrategy(MOST_ALLOCATED)


SHAPE = r"args\.scoringStrategy\.requestedToCapacityRatio\.shape"


def _ratio(*points: tuple[int, int]) -> dict[str, Any]:
    return {
        "type": "RequestedToCapacityRatio",
        "requestedToCapacityRatio": {"shape": [{"utilization": u, "score": s} for u, s in points]},
    }


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        pytest.param({"scoringStrategy": {"type": "LeastAllocated", "resources": [
            {"name": "memory", "weight": -1}, {"name": "cpu", "weight": 1}]}},
            r"args\.scoringStrategy\.resources\[0\]\.weight: .* not in valid range \(0, 100\]",
            id="resource with negative weight"),
        pytest.param({"scoringStrategy": {"type": "MostAllocated", "resources": [
            {"name": "memory", "weight": 1}, {"name": "cpu", "weight": 101}]}},
            r"args\.scoringStrategy\.resources\[1\]\.weight: .* not in valid range \(0, 100\]",
            id="resource weight larger than MaxNodeScore"),
        pytest.param({"scoringStrategy": {"type": "Fancy"}},
                     r"args\.scoringStrategy\.type: unsupported value 'Fancy'",
                     id="unknown scoring strategy type"),
        pytest.param({"scoringStrategy": {"resources": [{"name": "cpu"}]}},
                     r"args\.scoringStrategy\.type: unsupported value ''",
                     id="a scoring strategy without a type"),
        pytest.param({"scoringStrategy": {"type": "RequestedToCapacityRatio"}},
                     r"args\.scoringStrategy\.requestedToCapacityRatio: required",
                     id="requested to capacity ratio without a shape"),
        pytest.param({"scoringStrategy": _ratio()},
                     SHAPE + r": at least one point must be specified", id="an empty shape"),
        pytest.param({"scoringStrategy": _ratio((10, 1), (10, 2))},
                     SHAPE + r"\[1\]\.utilization: values must be sorted in increasing order",
                     id="shape utilizations not increasing"),
        pytest.param({"scoringStrategy": _ratio((0, 1), (101, 2))},
                     SHAPE + r"\[1\]\.utilization: not in valid range \[0, 100\]",
                     id="shape utilization above 100"),
        pytest.param({"scoringStrategy": _ratio((-1, 1), (100, 2))},
                     SHAPE + r"\[0\]\.utilization: not in valid range \[0, 100\]",
                     id="shape utilization below 0"),
        pytest.param({"scoringStrategy": _ratio((0, 11))},
                     SHAPE + r"\[0\]\.score: not in valid range \[0, 10\]",
                     id="shape score above 10"),
        pytest.param({"scoringStrategy": {**_ratio((0, 1), (100, 2)), "type": "MostAllocated"}},
                     r"args\.scoringStrategy\.requestedToCapacityRatio: Forbidden: "
                     r"must be nil when type is not RequestedToCapacityRatio$",
                     id="a shape with MostAllocated"),
        pytest.param({"scoringStrategy": {**_ratio((0, 1), (0, 2)), "type": "LeastAllocated"}},
                     r"args\.scoringStrategy\.requestedToCapacityRatio: Forbidden: "
                     r"must be nil when type is not RequestedToCapacityRatio$",
                     id="an invalid shape with LeastAllocated is refused as present"),
        pytest.param({"scoringStrategy": {"type": "LeastAllocated",
                                          "requestedToCapacityRatio": {}}},
                     r"args\.scoringStrategy\.requestedToCapacityRatio: Forbidden",
                     id="an empty requestedToCapacityRatio with LeastAllocated"),
        pytest.param({"scoringStrategy": {"type": "LeastAllocated", "resources": [{"weight": 1}]}},
                     r"args\.scoringStrategy\.resources\[0\]\.name: must be set",
                     id="a resource without a name"),
        pytest.param({"ignoredResources": ["example.com/a/b"]},
                     r"args\.ignoredResources\[0\]: .*at most one '/'",
                     id="an ignored resource that is not a qualified name"),
        pytest.param({"ignoredResourceGroups": ["example.com/"]},
                     r"args\.ignoredResourceGroups\[0\]: .*can't contain '/'",
                     id="an ignored resource group with a slash"),
        pytest.param({"ignoredResourceGroups": ["-bad-"]},
                     r"args\.ignoredResourceGroups\[0\]: .*alphanumeric",
                     id="an ignored resource group that is not a valid name"),
        pytest.param({"ignoredResources": "example.com/a"},
                     r"args\.ignoredResources: expected a list", id="ignored resources not a list"),
    ],
)  # fmt: skip
def test_decode_args_errors(raw: dict[str, Any], match: str) -> None:
    with pytest.raises(ArgsError, match=rf"^plugin NodeResourcesFit: {match}"):
        SPEC.args(raw)


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: ScoringStrategy(LEAST_ALLOCATED, ()),
                     id="Resources not set, pods scheduled with error"),
        pytest.param(lambda: ScoringStrategy(
            MOST_ALLOCATED, (ResourceSpec("memory", 1), ResourceSpec("cpu", 0))),
            id="resource with zero weight"),
    ],
)  # fmt: skip
def test_args_are_validated_when_built_directly(build: Any) -> None:
    with pytest.raises(ArgsError, match=r"^args\.scoringStrategy\.resources"):
        build()


# -- EnqueueExtensions -----------------------------------------------------------------


def test_events_to_register() -> None:
    events = plugin().events_to_register()
    got = [(e.event.resource, e.event.action) for e in events]
    pod_actions = ActionType.DELETE | ActionType.UPDATE_POD_SCALE_DOWN
    assert got == [
        (Resource.ASSIGNED_POD, pod_actions),
        (Resource.POD, pod_actions),
        (Resource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_ALLOCATABLE),
    ]
    assert all(e.hint is not None for e in events)


def hint_pod(name: str, requests: Mapping[str, str], *, uid: str = "", node: str = "",
             nominated: str = "") -> PodInfo:  # fmt: skip
    return make_pod(name, uid=uid or None, requests=dict(requests), node_name=node,
                    nominated_node=nominated)  # fmt: skip


@pytest.mark.parametrize(
    ("target", "old", "new", "want"),
    [
        pytest.param(pod(), "not-a-pod", None, QueueingHint.QUEUE,
                     id="backoff-wrong-old-object"),
        pytest.param(pod(), None, "not-a-pod", QueueingHint.QUEUE,
                     id="backoff-wrong-new-object"),
        pytest.param(hint_pod("pod1", {"cpu": "1"}), hint_pod("pod2", {"cpu": "1"}, node="fake"),
                     None, QueueingHint.QUEUE, id="queue-on-other-pod-deleted"),
        pytest.param(pod(), pod(name="other"), None, QueueingHint.SKIP,
                     id="skip-queue-on-unscheduled-pod-deleted"),
        pytest.param(hint_pod("pod1", {"cpu": "1"}),
                     hint_pod("pod2", {"cpu": "1"}, nominated="fake"), None, QueueingHint.QUEUE,
                     id="queue-on-nominated-pod-deleted"),
        pytest.param(hint_pod("pod1", {"cpu": "1"}, uid="uid0"),
                     hint_pod("pod2", {"cpu": "2"}, uid="uid1"),
                     hint_pod("pod2", {"cpu": "1"}, uid="uid1"), QueueingHint.SKIP,
                     id="skip-queue-on-other-unscheduled-pod"),
        pytest.param(hint_pod("pod1", {"cpu": "1"}, uid="pod1"),
                     hint_pod("pod2", {"memory": "2"}, uid="pod2", node="fake"),
                     hint_pod("pod2", {"memory": "1"}, uid="pod2", node="fake"),
                     QueueingHint.SKIP,
                     id="skip-queue-on-other-pod-unrelated-resource-scaled-down"),
        pytest.param(hint_pod("pod1", {"cpu": "1"}, uid="pod1"),
                     hint_pod("pod2", {"cpu": "2"}, uid="pod2", node="fake"),
                     hint_pod("pod2", {"cpu": "1"}, uid="pod2", node="fake"),
                     QueueingHint.QUEUE, id="queue-on-other-pod-some-resource-scale-down"),
        pytest.param(hint_pod("pod1", {"cpu": "1"}, uid="pod1"),
                     hint_pod("pod1", {"cpu": "2"}, uid="pod1"),
                     hint_pod("pod1", {"cpu": "1"}, uid="pod1"),
                     QueueingHint.QUEUE, id="queue-on-target-pod-some-resource-scale-down"),
    ],
)  # fmt: skip
def test_is_schedulable_after_pod_change(
    target: PodInfo, old: object, new: object, want: QueueingHint
) -> None:
    assert plugin().hint_after_pod_event(target, old, new) is want


def hint_node(**allocatable: str) -> Node:
    return make_node("n", allocatable={"pods": "32", **allocatable})


@pytest.mark.parametrize(
    ("target", "old", "new", "want"),
    [
        pytest.param(pod(), None, "not-a-node", QueueingHint.QUEUE,
                     id="backoff-wrong-new-object"),
        pytest.param(pod(), "not-a-node", hint_node(), QueueingHint.QUEUE,
                     id="backoff-wrong-old-object"),
        pytest.param(pod({"memory": "2"}), None, hint_node(memory="1"), QueueingHint.SKIP,
                     id="skip-queue-on-node-add-without-sufficient-resources"),
        pytest.param(pod({EXT_A: "1"}), None, hint_node(**{EXT_B: "1"}), QueueingHint.SKIP,
                     id="skip-queue-on-node-add-without-required-resource-type"),
        pytest.param(pod({"memory": "2", EXT_A: "1"}), None,
                     hint_node(memory="4", **{EXT_A: "2"}), QueueingHint.QUEUE,
                     id="queue-on-node-add-with-sufficient-resources"),
        pytest.param(pod({"memory": "2", EXT_A: "1"}), hint_node(memory="2", **{EXT_A: "2"}),
                     hint_node(memory="2", **{EXT_A: "1", EXT_B: "2"}), QueueingHint.SKIP,
                     id="skip-queue-on-node-unrelated-changes"),
        pytest.param(pod({"memory": "2", EXT_A: "1"}), hint_node(memory="2", **{EXT_A: "1"}),
                     hint_node(memory="2", **{EXT_A: "2"}), QueueingHint.QUEUE,
                     id="queue-on-pod-requested-resources-increase"),
        pytest.param(pod({"memory": "2", EXT_A: "1"}), hint_node(memory="4", **{EXT_A: "2"}),
                     hint_node(memory="1", **{EXT_A: "2"}), QueueingHint.SKIP,
                     id="skip-queue-on-node-changes-from-suitable-to-unsuitable"),
        pytest.param(pod({"memory": "2", EXT_A: "1"}), hint_node(memory="1", **{EXT_A: "2"}),
                     hint_node(memory="4", **{EXT_A: "2"}), QueueingHint.QUEUE,
                     id="queue-on-node-changes-from-unsuitable-to-suitable"),
        pytest.param(pod({"memory": "2"}), make_node("n", allocatable={"memory": "4"}),
                     hint_node(memory="4"), QueueingHint.QUEUE,
                     id="queue-on-node-allowing-more-pods"),
        pytest.param(pod({"memory": "2"}), None, NodeInfo(hint_node(memory="4")),
                     QueueingHint.QUEUE, id="a NodeInfo is read as its node"),
    ],
)  # fmt: skip
def test_is_schedulable_after_node_change(
    target: PodInfo, old: object, new: object, want: QueueingHint
) -> None:
    assert plugin().hint_after_node_change(target, old, new) is want


def test_node_hint_honours_ignored_resources() -> None:
    fit = plugin(NodeResourcesFitArgs(ignored_resources=(EXT_B,)))
    target = pod({"memory": "2", EXT_B: "1"})
    assert fit.hint_after_node_change(target, None, hint_node(memory="4")) is QueueingHint.QUEUE
