"""PodTopologySpread: PreFilter counts, the PreFilter extensions, Filter
(minDomains, node inclusion policies, missing labels), PreScore/Score with
normalisation, system and listed default constraints, args and queueing
hints (upstream ``filtering_test.go``, ``scoring_test.go``, ``plugin_test.go``).

Feature gates are as in v1.35 (node inclusion policies and matchLabelKeys
on), so upstream's gate-disabled cases are left out.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.registry import ArgsError
from py_scheduler.framework.runtime import Framework, ProfileSpec
from py_scheduler.framework.status import SKIP, SUCCESS, Code, Status
from py_scheduler.framework.types import ActionType, QueueingHint, Resource
from py_scheduler.model import HOSTNAME_LABEL, ZONE_LABEL, Node, NodeInfo, NodeName, PodInfo
from py_scheduler.model.pod import SpreadConstraint
from py_scheduler.model.raw import Fields
from py_scheduler.model.selectors import LabelSelector, Requirement
from py_scheduler.model.taints import Taint
from py_scheduler.plugins import DEFAULT_MULTI_POINT, IN_TREE
from py_scheduler.plugins.podtopologyspread.args import PodTopologySpreadArgs, decode_args
from py_scheduler.plugins.podtopologyspread.common import (
    NAME,
    SYSTEM_DEFAULT_CONSTRAINTS,
    merge_selectors,
)
from py_scheduler.plugins.podtopologyspread.plugin import (
    _PRE_FILTER,
    _PRE_SCORE,
    SPEC,
    PodTopologySpread,
)
from py_scheduler.plugins.podtopologyspread.scoring import round_half_up
from tests.builders import make_pod, node_info
from tests.fakes import FakeCluster, FakeHandle, FakeNominator, FakeObjects, FakeSnapshot

Raw = dict[str, Any]
Labels = dict[str, str]

DNS = "DoNotSchedule"
SA = "ScheduleAnyway"
HONOR = "Honor"
IGNORE = "Ignore"
MAX_INT32 = 2**31 - 1

MISSING_LABEL = Status.unresolvable(
    "node(s) didn't match pod topology spread constraints (missing required label)"
)
REJECTED = Status.unschedulable("node(s) didn't match pod topology spread constraints")

FOO: Raw = {"matchExpressions": [{"key": "foo", "operator": "Exists"}]}
BAR: Raw = {"matchExpressions": [{"key": "bar", "operator": "Exists"}]}
EMPTY: Raw = {}
UNSCHEDULABLE_TAINT = Taint("node.kubernetes.io/unschedulable", "", "NoSchedule")
TOLERATE_UNSCHEDULABLE: Raw = {
    "key": "node.kubernetes.io/unschedulable",
    "operator": "Exists",
    "effect": "NoSchedule",
}

FOO_SELECTOR = LabelSelector(expressions=(Requirement("foo", "Exists", frozenset()),))

# --- builders -----------------------------------------------------------------------


def constraint(
    max_skew: int,
    key: str,
    when: str,
    selector: Raw | None,
    *,
    min_domains: int | None = None,
    affinity_policy: str | None = None,
    taints_policy: str | None = None,
    match_label_keys: Sequence[str] = (),
) -> Raw:
    out: Raw = {"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when}
    if selector is not None:
        out["labelSelector"] = selector
    if min_domains is not None:
        out["minDomains"] = min_domains
    if affinity_policy is not None:
        out["nodeAffinityPolicy"] = affinity_policy
    if taints_policy is not None:
        out["nodeTaintsPolicy"] = taints_policy
    if match_label_keys:
        out["matchLabelKeys"] = list(match_label_keys)
    return out


def required_node(key: str, operator: str, *values: str) -> Raw:
    requirement = {"key": key, "operator": operator, "values": list(values)}
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [requirement]}]
            }
        }
    }


_names = itertools.count()


def pod(
    labels: Mapping[str, str] | None = None,
    *spread: Raw,
    node: str = "",
    namespace: str = "default",
    node_selector: Mapping[str, str] | None = None,
    affinity: Raw | None = None,
    tolerations: Iterable[Raw] = (),
    deleting: bool = False,
    name: str = "",
) -> PodInfo:
    return make_pod(
        name or f"p-{next(_names)}",
        namespace=namespace,
        labels=labels,
        node_name=node,
        spread=spread,
        node_selector=node_selector,
        affinity=affinity,
        tolerations=tolerations,
        deleting=deleting,
    )


def on(node: str, labels: Labels | None = None, n: int = 1, **kwargs: Any) -> list[PodInfo]:
    return [pod({"foo": ""} if labels is None else labels, node=node, **kwargs) for _ in range(n)]


def zn(name: str, zone: str, **extra: str) -> tuple[str, Labels]:
    """A node in a zone, with a ``node`` label naming it (upstream's layout)."""
    return name, {"zone": zone, "node": name, **extra}


def nd(name: str, **extra: str) -> tuple[str, Labels]:
    return name, {"node": name, **extra}


def hn(name: str, **extra: str) -> tuple[str, Labels]:
    return name, {HOSTNAME_LABEL: name, **extra}


def cluster(
    nodes: Iterable[tuple[str, Labels]],
    pods: Iterable[PodInfo] = (),
    tainted: Iterable[str] = (),
) -> list[NodeInfo]:
    """Nodes with exactly the given labels; pods on unknown nodes are dropped."""
    taints = set(tainted)
    infos = {
        name: NodeInfo(
            Node(
                NodeName(name),
                dict(labels),
                taints=(UNSCHEDULABLE_TAINT,) if name in taints else (),
            )
        )
        for name, labels in nodes
    }
    for p in pods:
        if p.node_name in infos:
            infos[p.node_name].add_pod(p)
    return list(infos.values())


def plugin(
    nodes: Sequence[NodeInfo],
    args: PodTopologySpreadArgs | None = None,
    owners: Sequence[LabelSelector] = (),
) -> PodTopologySpread:
    handle = FakeHandle(nodes, objects=FakeObjects(owners=list(owners)))
    return PodTopologySpread(args or PodTopologySpreadArgs("List"), handle)


Counts = list[dict[str, int]]


def counts_of(state: CycleState) -> tuple[Counts, list[int]]:
    s = state.read(_PRE_FILTER)
    # The minimum over eligible domains (upstream's first critical path).
    return [dict(c) for c in s.counts], list(s.minimum)


# --- TestPreFilterState ---------------------------------------------------------------

FOUR = (zn("node-a", "zone1"), zn("node-b", "zone1"), zn("node-x", "zone2"), zn("node-y", "zone2"))
THREE = (zn("node-a", "zone1"), zn("node-b", "zone1"), zn("node-y", "zone2"))


@dataclass(frozen=True)
class PreFilterCase:
    name: str
    pod: PodInfo
    nodes: tuple[tuple[str, Labels], ...] = ()
    pods: tuple[PodInfo, ...] = ()
    counts: Counts | None = None  # None: PreFilter skips
    minimum: tuple[int, ...] = ()
    tainted: tuple[str, ...] = ()
    defaults: tuple[Raw, ...] = ()
    owners: tuple[LabelSelector, ...] = ()
    max_skews: tuple[int, ...] = ()


PRE_FILTER = [
    PreFilterCase(
        "clean cluster with one spreadConstraint",
        pod(
            {"foo": ""},
            constraint(5, "zone", DNS, {"matchLabels": {"foo": "bar"}}),
        ),
        FOUR,
        counts=[{"zone1": 0, "zone2": 0}],
        minimum=(0,),
        max_skews=(5,),
    ),
    PreFilterCase(
        "normal case with one spreadConstraint",
        pod({"foo": ""}, constraint(1, "zone", DNS, FOO)),
        FOUR,
        (*on("node-a", n=2), *on("node-b"), *on("node-y", n=2)),
        counts=[{"zone1": 3, "zone2": 2}],
        minimum=(2,),
    ),
    PreFilterCase(
        "normal case with null label selector",
        pod({"foo": ""}, constraint(1, "zone", DNS, None)),
        FOUR,
        (*on("node-a", n=2), *on("node-b"), *on("node-y", n=2)),
        counts=[{"zone1": 0, "zone2": 0}],
        minimum=(0,),
    ),
    PreFilterCase(
        "normal case with one spreadConstraint, on a 3-zone cluster",
        pod({"foo": ""}, constraint(1, "zone", DNS, FOO)),
        (*FOUR, zn("node-o", "zone3"), zn("node-p", "zone3")),
        (*on("node-a", n=2), *on("node-b"), *on("node-y", n=2)),
        counts=[{"zone1": 3, "zone2": 2, "zone3": 0}],
        minimum=(0,),
    ),
    PreFilterCase(
        "namespace mismatch doesn't count",
        pod({"foo": ""}, constraint(1, "zone", DNS, FOO)),
        FOUR,
        (
            *on("node-a"),
            *on("node-a", namespace="ns1"),
            *on("node-b"),
            *on("node-y", namespace="ns2"),
            *on("node-y"),
        ),
        counts=[{"zone1": 2, "zone2": 1}],
        minimum=(1,),
    ),
    PreFilterCase(
        "normal case with two spreadConstraints",
        pod({"foo": ""}, constraint(1, "zone", DNS, FOO), constraint(1, "node", DNS, FOO)),
        FOUR,
        (*on("node-a", n=2), *on("node-b"), *on("node-y", n=4)),
        counts=[
            {"zone1": 3, "zone2": 4},
            {"node-a": 2, "node-b": 1, "node-x": 0, "node-y": 4},
        ],
        minimum=(3, 0),
    ),
    PreFilterCase(
        "soft spreadConstraints should be bypassed",
        pod(
            {"foo": ""},
            constraint(1, "zone", SA, FOO),
            constraint(1, "zone", DNS, FOO),
            constraint(1, "node", SA, FOO),
            constraint(1, "node", DNS, FOO),
        ),
        THREE,
        (*on("node-a", n=2), *on("node-b"), *on("node-y", n=4)),
        counts=[{"zone1": 3, "zone2": 4}, {"node-a": 2, "node-b": 1, "node-y": 4}],
        minimum=(3, 1),
    ),
    PreFilterCase(
        "different labelSelectors - simple version",
        pod(
            {"foo": "", "bar": ""},
            constraint(1, "zone", DNS, FOO),
            constraint(1, "node", DNS, BAR),
        ),
        THREE,
        (*on("node-a"), *on("node-b", {"bar": ""})),
        counts=[{"zone1": 1, "zone2": 0}, {"node-a": 0, "node-b": 1, "node-y": 0}],
        minimum=(0, 0),
    ),
    PreFilterCase(
        "different labelSelectors - complex pods",
        pod(
            {"foo": "", "bar": ""},
            constraint(1, "zone", DNS, FOO),
            constraint(1, "node", DNS, BAR),
        ),
        THREE,
        (
            *on("node-a"),
            *on("node-a", {"foo": "", "bar": ""}),
            *on("node-b"),
            *on("node-y"),
            *on("node-y", {"foo": "", "bar": ""}),
            *on("node-y"),
            *on("node-y", {"foo": "", "bar": ""}),
        ),
        counts=[{"zone1": 3, "zone2": 4}, {"node-a": 1, "node-b": 0, "node-y": 2}],
        minimum=(3, 0),
    ),
    PreFilterCase(
        "two spreadConstraints, and with podAffinity",
        pod(
            {"foo": ""},
            constraint(1, "zone", DNS, FOO),
            constraint(1, "node", DNS, FOO),
            affinity=required_node("node", "NotIn", "node-x"),
        ),
        FOUR,
        (*on("node-a", n=2), *on("node-b"), *on("node-y", n=4)),
        counts=[{"zone1": 3, "zone2": 4}, {"node-a": 2, "node-b": 1, "node-y": 4}],
        minimum=(3, 1),
    ),
    PreFilterCase(
        "default constraints and a service",
        pod({"foo": "bar", "baz": "kar"}),
        defaults=(
            constraint(3, "node", DNS, None),
            constraint(2, "node", SA, None),
            constraint(5, "rack", DNS, None),
        ),
        owners=(LabelSelector((("foo", "bar"),)),),
        counts=[{}, {}],
        minimum=(MAX_INT32, MAX_INT32),
        max_skews=(3, 5),
    ),
    PreFilterCase(
        "default constraints and a service that doesn't match",
        pod({"foo": "bar"}),
        defaults=(constraint(3, "node", DNS, None),),
        owners=(LabelSelector((("baz", "kep"),)),),
    ),
    PreFilterCase(
        "default constraints and a service, but pod has constraints",
        pod(
            {"foo": "bar", "baz": "tar"},
            constraint(1, "zone", DNS, {"matchLabels": {"baz": "tar"}}),
            constraint(2, "planet", SA, {"matchLabels": {"fot": "rok"}}),
        ),
        defaults=(constraint(2, "node", DNS, None),),
        owners=(LabelSelector((("foo", "bar"),)),),
        counts=[{}],
        minimum=(MAX_INT32,),
        max_skews=(1,),
    ),
    PreFilterCase(
        "default soft constraints and a service",
        pod({"foo": "bar"}),
        defaults=(constraint(2, "node", SA, None),),
        owners=(LabelSelector((("foo", "bar"),)),),
    ),
    PreFilterCase(
        "TpKeyToDomainsNum is calculated when MinDomains is enabled",
        pod({"foo": ""}, constraint(1, "zone", DNS, FOO), constraint(1, "node", DNS, FOO)),
        FOUR,
        (*on("node-a", n=2), *on("node-b"), *on("node-y", n=4)),
        counts=[
            {"zone1": 3, "zone2": 4},
            {"node-a": 2, "node-b": 1, "node-x": 0, "node-y": 4},
        ],
        minimum=(3, 0),
    ),
    PreFilterCase(
        "NodeAffinityPolicy honored with labelSelectors",
        pod({"foo": ""}, constraint(1, "node", DNS, BAR), node_selector={"foo": ""}),
        (nd("node-a", foo=""), nd("node-b", foo=""), nd("node-c", bar="")),
        (*on("node-a", {"bar": ""}), *on("node-b", {"bar": ""}, n=2), *on("node-c", {})),
        counts=[{"node-a": 1, "node-b": 2}],
        minimum=(1,),
    ),
    PreFilterCase(
        "NodeAffinityPolicy ignored with labelSelectors",
        pod(
            {"foo": ""},
            constraint(1, "node", DNS, BAR, affinity_policy=IGNORE),
            node_selector={"foo": ""},
        ),
        (nd("node-a", foo=""), nd("node-b", foo=""), nd("node-c", bar="")),
        (*on("node-a", {"bar": ""}), *on("node-b", {"bar": ""}, n=2), *on("node-c", {})),
        counts=[{"node-a": 1, "node-b": 2, "node-c": 0}],
        minimum=(0,),
    ),
    PreFilterCase(
        "NodeAffinityPolicy honored with nodeAffinity",
        pod({"foo": ""}, constraint(1, "node", DNS, BAR), affinity=required_node("foo", "In", "")),
        (nd("node-a", foo=""), nd("node-b", foo=""), nd("node-c", bar="")),
        (*on("node-a", {"bar": ""}), *on("node-b", {"bar": ""}, n=2), *on("node-c", {})),
        counts=[{"node-a": 1, "node-b": 2}],
        minimum=(1,),
    ),
    PreFilterCase(
        "NodeAffinityPolicy ignored with nodeAffinity",
        pod(
            {"foo": ""},
            constraint(1, "node", DNS, BAR, affinity_policy=IGNORE),
            affinity=required_node("foo", "In", ""),
        ),
        (nd("node-a", foo=""), nd("node-b", foo=""), nd("node-c", bar="")),
        (*on("node-a", {"bar": ""}), *on("node-b", {"bar": ""}, n=2), *on("node-c", {})),
        counts=[{"node-a": 1, "node-b": 2, "node-c": 0}],
        minimum=(0,),
    ),
    PreFilterCase(
        "NodeTaintsPolicy ignored",
        pod({"foo": ""}, constraint(1, "node", DNS, BAR)),
        (nd("node-a"), nd("node-b"), nd("node-c", bar="")),
        (*on("node-a", {"bar": ""}), *on("node-b", {"bar": ""}, n=2), *on("node-c", {})),
        counts=[{"node-a": 1, "node-b": 2, "node-c": 0}],
        minimum=(0,),
        tainted=("node-c",),
    ),
    PreFilterCase(
        "NodeTaintsPolicy honored",
        pod({"foo": ""}, constraint(1, "node", DNS, BAR, taints_policy=HONOR)),
        (nd("node-a"), nd("node-b"), nd("node-c", bar="")),
        (*on("node-a", {"bar": ""}), *on("node-b", {"bar": ""}, n=2), *on("node-c", {})),
        counts=[{"node-a": 1, "node-b": 2}],
        minimum=(1,),
        tainted=("node-c",),
    ),
    PreFilterCase(
        "NodeTaintsPolicy honored with tolerated taints",
        pod(
            {"foo": ""},
            constraint(1, "node", DNS, BAR, taints_policy=HONOR),
            tolerations=[TOLERATE_UNSCHEDULABLE],
        ),
        (nd("node-a"), nd("node-b"), nd("node-c", bar="")),
        (*on("node-a", {"bar": ""}), *on("node-b", {"bar": ""}, n=2), *on("node-c", {})),
        counts=[{"node-a": 1, "node-b": 2, "node-c": 0}],
        minimum=(0,),
        tainted=("node-c",),
    ),
    PreFilterCase(
        "two node inclusion Constraints, zone: honor/ignore, node: ignore/ignore",
        pod(
            {"foo": ""},
            constraint(1, "zone", DNS, FOO),
            constraint(1, "node", DNS, FOO, affinity_policy=IGNORE),
            node_selector={"foo": ""},
        ),
        (zn("node-a", "zone1", foo=""), zn("node-b", "zone1"), zn("node-x", "zone2", foo="")),
        (*on("node-b", n=2), *on("node-x")),
        counts=[{"zone1": 0, "zone2": 1}, {"node-a": 0, "node-b": 2, "node-x": 1}],
        minimum=(0, 0),
    ),
    PreFilterCase(
        "two node inclusion Constraints, zone: honor/honor, node: honor/ignore",
        pod(
            {"foo": ""},
            constraint(1, "zone", DNS, FOO, taints_policy=HONOR),
            constraint(1, "node", DNS, FOO),
        ),
        (zn("node-a", "zone1", foo=""), zn("node-b", "zone1"), zn("node-x", "zone2", foo="")),
        (*on("node-b", n=2), *on("node-x")),
        counts=[{"zone1": 0, "zone2": 1}, {"node-a": 0, "node-b": 2, "node-x": 1}],
        minimum=(0, 0),
        tainted=("node-b",),
    ),
    PreFilterCase(
        "two node inclusion Constraints, zone: honor/ignore, node: honor/ignore",
        pod(
            {"foo": ""},
            constraint(1, "zone", DNS, FOO),
            constraint(1, "node", DNS, FOO),
            node_selector={"foo": ""},
        ),
        (
            zn("node-a", "zone1"),
            zn("node-b", "zone1", foo=""),
            zn("node-x", "zone2", foo=""),
            zn("node-y", "zone2"),
        ),
        (*on("node-a", n=2), *on("node-x"), *on("node-y")),
        counts=[{"zone1": 0, "zone2": 1}, {"node-b": 0, "node-x": 1}],
        minimum=(0, 0),
        tainted=("node-b",),
    ),
    PreFilterCase(
        "two node inclusion Constraints, zone: ignore/ignore, node: honor/honor",
        pod(
            {"foo": ""},
            constraint(1, "zone", DNS, FOO, affinity_policy=IGNORE),
            constraint(1, "node", DNS, FOO, taints_policy=HONOR),
            node_selector={"foo": ""},
        ),
        (
            zn("node-a", "zone1"),
            zn("node-b", "zone1", foo=""),
            zn("node-x", "zone2", foo=""),
            zn("node-y", "zone2", foo=""),
        ),
        (*on("node-a", n=2), *on("node-x", n=2), *on("node-y")),
        counts=[{"zone1": 2, "zone2": 3}, {"node-x": 2, "node-y": 1}],
        minimum=(2, 1),
        tainted=("node-b",),
    ),
    PreFilterCase(
        "matchLabelKeys ANDed with LabelSelector when LabelSelector isn't empty",
        pod({"foo": "", "bar": "a"}, constraint(1, "zone", DNS, FOO, match_label_keys=["bar"])),
        FOUR,
        (
            *on("node-a"),
            *on("node-a", {"foo": "", "bar": "a"}),
            *on("node-b"),
            *on("node-y", {"foo": "", "bar": "a"}),
            *on("node-y", {"bar": ""}),
        ),
        counts=[{"zone1": 1, "zone2": 1}],
        minimum=(1,),
    ),
    PreFilterCase(
        "matchLabelKeys ANDed with LabelSelector when LabelSelector is empty",
        pod({"foo": "a"}, constraint(1, "zone", DNS, EMPTY, match_label_keys=["foo"])),
        FOUR,
        (
            *on("node-a", {"foo": "a"}, n=2),
            *on("node-b", {"foo": "a"}),
            *on("node-y", {"foo": "a"}, n=2),
        ),
        counts=[{"zone1": 3, "zone2": 2}],
        minimum=(2,),
    ),
    PreFilterCase(
        "key in matchLabelKeys is ignored when LabelSelector is nil when feature gate enabled",
        pod({"foo": ""}, constraint(1, "zone", DNS, None, match_label_keys=["bar"])),
        FOUR,
        (
            *on("node-a", {"foo": "a"}, n=2),
            *on("node-b", {"foo": "a"}),
            *on("node-y", {"foo": "a"}, n=2),
        ),
        counts=[{"zone1": 0, "zone2": 0}],
        minimum=(0,),
    ),
    PreFilterCase(
        "key in matchLabelKeys is ignored when it isn't exist in pod.labels",
        pod({"foo": ""}, constraint(1, "zone", DNS, FOO, match_label_keys=["bar"])),
        FOUR,
        (
            *on("node-a", {"foo": "a"}, n=2),
            *on("node-b", {"foo": "a"}),
            *on("node-y", {"foo": "a"}, n=2),
        ),
        counts=[{"zone1": 3, "zone2": 2}],
        minimum=(2,),
    ),
    PreFilterCase("skip if not specified", pod({"foo": ""}), (zn("node-a", "zone1"),)),
]


@pytest.mark.parametrize("case", PRE_FILTER, ids=lambda c: c.name)
def test_pre_filter_state(case: PreFilterCase) -> None:
    nodes = cluster(case.nodes, case.pods, case.tainted)
    args = PodTopologySpreadArgs("List", decode_args_from(case.defaults))
    state = CycleState()
    _, status = plugin(nodes, args, case.owners).pre_filter(state, case.pod, nodes)
    if case.counts is None:
        assert status == SKIP
        return
    assert status == SUCCESS
    assert counts_of(state) == (case.counts, list(case.minimum))
    if case.max_skews:
        assert tuple(c.max_skew for c in state.read(_PRE_FILTER).constraints) == case.max_skews


def decode_args_from(defaults: Sequence[Raw]) -> tuple[SpreadConstraint, ...]:
    raw = {"defaultingType": "List", "defaultConstraints": list(defaults)}
    return decode_args(Fields(raw, "args")).default_constraints


# --- TestPreFilterStateAddPod / RemovePod ----------------------------------------------

NODE_FOO = constraint(1, "node", DNS, FOO)
ZONE_FOO = constraint(1, "zone", DNS, FOO)


@dataclass(frozen=True)
class UpdateCase:
    name: str
    preemptor: PodInfo
    nodes: tuple[tuple[str, Labels], ...]
    existing: tuple[PodInfo, ...]
    node: int  # index of the node the pod is added to / removed from
    counts: Counts
    minimum: tuple[int, ...]
    changed: PodInfo | None = None  # None: existing[changed_index]
    changed_index: int = 0
    tainted: tuple[str, ...] = ()


ZONE_AB = (zn("node-a", "zone1"), zn("node-b", "zone1"))
ZONE_AX = (zn("node-a", "zone1"), zn("node-x", "zone2"))
ZONE_ABX = (zn("node-a", "zone1"), zn("node-b", "zone1"), zn("node-x", "zone2"))
ZONE_AFFINITY_NODES = (zn("node-a", "zone1", foo="bar"), zn("node-b", "zone2", foo=""))
FOO_BAR_LABELS: Labels = {"foo": "", "bar": ""}

ADD = [
    UpdateCase(
        "node a and b both impact current min match",
        pod({"foo": ""}, NODE_FOO),
        ZONE_AB,
        (),
        0,
        [{"node-a": 1, "node-b": 0}],
        (0,),
        changed=pod({"foo": ""}, node="node-a"),
    ),
    UpdateCase(
        "only node a impacts current min match",
        pod({"foo": ""}, NODE_FOO),
        ZONE_AB,
        (*on("node-b"),),
        0,
        [{"node-a": 1, "node-b": 1}],
        (1,),
        changed=pod({"foo": ""}, node="node-a"),
    ),
    UpdateCase(
        "add a pod in a different namespace doesn't change topologyKeyToMinPodsMap",
        pod({"foo": ""}, NODE_FOO),
        ZONE_AB,
        (*on("node-b"),),
        0,
        [{"node-a": 0, "node-b": 1}],
        (0,),
        changed=pod({"foo": ""}, node="node-a", namespace="ns1"),
    ),
    UpdateCase(
        "add pod on non-critical node won't trigger re-calculation",
        pod({"foo": ""}, NODE_FOO),
        ZONE_AB,
        (*on("node-b"),),
        1,
        [{"node-a": 0, "node-b": 2}],
        (0,),
        changed=pod({"foo": ""}, node="node-b"),
    ),
    UpdateCase(
        "node a and x both impact topologyKeyToMinPodsMap on zone and node",
        pod({"foo": ""}, ZONE_FOO, NODE_FOO),
        ZONE_AX,
        (),
        0,
        [{"zone1": 1, "zone2": 0}, {"node-a": 1, "node-x": 0}],
        (0, 0),
        changed=pod({"foo": ""}, node="node-a"),
    ),
    UpdateCase(
        "only node a impacts topologyKeyToMinPodsMap on zone and node",
        pod({"foo": ""}, ZONE_FOO, NODE_FOO),
        ZONE_AX,
        (*on("node-x"),),
        0,
        [{"zone1": 1, "zone2": 1}, {"node-a": 1, "node-x": 1}],
        (1, 1),
        changed=pod({"foo": ""}, node="node-a"),
    ),
    UpdateCase(
        "node a impacts topologyKeyToMinPodsMap on node, node x impacts topologyKeyToMinPodsMap "
        "on zone",
        pod({"foo": ""}, ZONE_FOO, NODE_FOO),
        ZONE_ABX,
        (*on("node-b", n=2), *on("node-x")),
        0,
        [{"zone1": 3, "zone2": 1}, {"node-a": 1, "node-b": 2, "node-x": 1}],
        (1, 1),
        changed=pod({"foo": ""}, node="node-a"),
    ),
    UpdateCase(
        "Constraints hold different labelSelectors, node a impacts topologyKeyToMinPodsMap on zone",
        pod(FOO_BAR_LABELS, ZONE_FOO, constraint(1, "node", DNS, BAR)),
        ZONE_ABX,
        (*on("node-b", FOO_BAR_LABELS), *on("node-x", FOO_BAR_LABELS), *on("node-x", {"bar": ""})),
        0,
        [{"zone1": 2, "zone2": 1}, {"node-a": 0, "node-b": 1, "node-x": 2}],
        (1, 0),
        changed=pod({"foo": ""}, node="node-a"),
    ),
    UpdateCase(
        "Constraints hold different labelSelectors, node a impacts topologyKeyToMinPodsMap on both "
        "zone and node",
        pod(FOO_BAR_LABELS, ZONE_FOO, constraint(1, "node", DNS, BAR)),
        ZONE_ABX,
        (*on("node-b", {"bar": ""}), *on("node-x", FOO_BAR_LABELS), *on("node-x", {"bar": ""})),
        0,
        [{"zone1": 1, "zone2": 1}, {"node-a": 1, "node-b": 1, "node-x": 2}],
        (1, 1),
        changed=pod(FOO_BAR_LABELS, node="node-a"),
    ),
    UpdateCase(
        "add a pod when scheduling node affinity unmatched pod with NodeInclusionPolicy enabled",
        pod({"foo": ""}, ZONE_FOO, affinity=required_node("foo", "NotIn", "bar")),
        ZONE_AFFINITY_NODES,
        (*on("node-a", {"foo": "", "zone": "zone1"}), *on("node-b", {"foo": "", "zone": "zone2"})),
        0,
        [{"zone2": 1}],
        (1,),
        changed=pod({"foo": "", "zone": "zone1"}, node="node-a"),
    ),
    UpdateCase(
        "add a pod when scheduling node affinity matched pod with NodeInclusionPolicy enabled",
        pod({"foo": ""}, ZONE_FOO),
        ZONE_AFFINITY_NODES,
        (*on("node-a", {"foo": "", "zone": "zone1"}), *on("node-b", {"foo": "", "zone": "zone2"})),
        1,
        [{"zone1": 1, "zone2": 2}],
        (1,),
        changed=pod({"foo": "", "zone": "zone2"}, node="node-b"),
    ),
    UpdateCase(
        "add a label selector not matched pod when with NodeInclusionPolicy enabled",
        pod({"foo": ""}, ZONE_FOO),
        ZONE_AFFINITY_NODES,
        (*on("node-a", {"foo": "", "zone": "zone1"}), *on("node-b", {"foo": "", "zone": "zone2"})),
        1,
        [{"zone1": 1, "zone2": 1}],
        (1,),
        changed=pod({"zone": "zone2"}, node="node-b"),
    ),
    UpdateCase(
        "add a pod when scheduling taint tolerated pod with NodeInclusionPolicy enabled",
        pod({"foo": ""}, ZONE_FOO, tolerations=[TOLERATE_UNSCHEDULABLE]),
        (zn("node-a", "zone1"), zn("node-b", "zone2")),
        (*on("node-a", {"foo": "", "zone": "zone1"}), *on("node-b", {"foo": "", "zone": "zone2"})),
        1,
        [{"zone1": 1, "zone2": 2}],
        (1,),
        changed=pod({"foo": "", "zone": "zone2"}, node="node-b"),
        tainted=("node-a",),
    ),
]

ZONE_ABXY = (*ZONE_ABX, zn("node-y", "zone2"))

REMOVE = [
    UpdateCase(
        "one spreadConstraint on zone, topologyKeyToMinPodsMap unchanged",
        pod({"foo": ""}, ZONE_FOO),
        ZONE_ABX,
        (*on("node-a"), *on("node-b"), *on("node-x")),
        0,
        [{"zone1": 1, "zone2": 1}],
        (1,),
    ),
    UpdateCase(
        "one spreadConstraint on node, topologyKeyToMinPodsMap changed",
        pod({"foo": ""}, ZONE_FOO),
        ZONE_ABXY,
        (*on("node-a"), *on("node-b"), *on("node-x"), *on("node-y")),
        0,
        [{"zone1": 1, "zone2": 2}],
        (1,),
    ),
    UpdateCase(
        "delete an irrelevant pod won't help",
        pod({"foo": ""}, ZONE_FOO),
        ZONE_ABXY,
        (*on("node-a", {"bar": ""}), *on("node-a"), *on("node-b"), *on("node-x"), *on("node-y")),
        0,
        [{"zone1": 2, "zone2": 2}],
        (2,),
    ),
    UpdateCase(
        "delete a non-existing pod won't help",
        pod({"foo": ""}, ZONE_FOO),
        ZONE_ABXY,
        (*on("node-a"), *on("node-b"), *on("node-x"), *on("node-y")),
        0,
        [{"zone1": 2, "zone2": 2}],
        (2,),
        changed=pod({"bar": ""}, node="node-a"),
        changed_index=-1,
    ),
    UpdateCase(
        "two spreadConstraints",
        pod({"foo": ""}, ZONE_FOO, NODE_FOO),
        ZONE_ABX,
        (*on("node-a", n=2), *on("node-b"), *on("node-x", n=2)),
        2,
        [{"zone1": 3, "zone2": 1}, {"node-a": 2, "node-b": 1, "node-x": 1}],
        (1, 1),
        changed_index=3,
    ),
    UpdateCase(
        "remove a pod when scheduling node affinity unmatched pod with NodeInclusionPolicy enabled",
        pod({"foo": ""}, ZONE_FOO, affinity=required_node("foo", "NotIn", "bar")),
        ZONE_AFFINITY_NODES,
        (*on("node-a", {"foo": "", "zone": "zone1"}), *on("node-b", {"foo": "", "zone": "zone2"})),
        0,
        [{"zone2": 1}],
        (1,),
    ),
    UpdateCase(
        "remove a pod when scheduling node affinity matched pod with NodeInclusionPolicy enabled",
        pod({"foo": ""}, ZONE_FOO),
        ZONE_AFFINITY_NODES,
        (*on("node-a", {"foo": "", "zone": "zone1"}), *on("node-b", {"foo": "", "zone": "zone2"})),
        1,
        [{"zone1": 1, "zone2": 0}],
        (0,),
    ),
]


def run_update(case: UpdateCase, delta: int) -> CycleState:
    nodes = cluster(case.nodes, case.existing, case.tainted)
    p = plugin(nodes)
    state = CycleState()
    _, status = p.pre_filter(state, case.preemptor, nodes)
    assert status == SUCCESS
    changed = case.changed
    # As upstream's RemovePod table: an index into the existing pods wins.
    if delta < 0 and 0 <= case.changed_index < len(case.existing):
        changed = case.existing[case.changed_index]
    assert changed is not None
    update = p.add_pod if delta > 0 else p.remove_pod
    assert update(state, case.preemptor, changed, nodes[case.node]) == SUCCESS
    return state


@pytest.mark.parametrize("case", ADD, ids=lambda c: c.name)
def test_pre_filter_state_add_pod(case: UpdateCase) -> None:
    assert counts_of(run_update(case, 1)) == (case.counts, list(case.minimum))


@pytest.mark.parametrize("case", REMOVE, ids=lambda c: c.name)
def test_pre_filter_state_remove_pod(case: UpdateCase) -> None:
    assert counts_of(run_update(case, -1)) == (case.counts, list(case.minimum))


def test_removing_the_pod_at_the_minimum_recomputes_it_exactly() -> None:
    nodes = cluster([nd("node-a"), nd("node-b"), nd("node-c")], [*on("node-a"), *on("node-b")])
    incoming = pod({"foo": ""}, NODE_FOO)
    p = plugin(nodes)
    state = CycleState()
    p.pre_filter(state, incoming, nodes)
    assert counts_of(state)[1] == [0]
    # Two domains below others: adding to one must not hide the other one.
    p.add_pod(state, incoming, pod({"foo": ""}, node="node-c"), nodes[2])
    assert counts_of(state) == ([{"node-a": 1, "node-b": 1, "node-c": 1}], [1])
    extra = pod({"foo": ""}, node="node-a")
    p.add_pod(state, incoming, extra, nodes[0])
    p.remove_pod(state, incoming, extra, nodes[0])
    assert counts_of(state) == ([{"node-a": 1, "node-b": 1, "node-c": 1}], [1])


def test_terminating_pods_are_not_added_or_removed() -> None:
    nodes = cluster([nd("node-a"), nd("node-b")], on("node-a"))
    incoming = pod({"foo": ""}, NODE_FOO)
    p = plugin(nodes)
    state = CycleState()
    p.pre_filter(state, incoming, nodes)
    p.remove_pod(state, incoming, pod({"foo": ""}, node="node-b", deleting=True), nodes[1])
    assert counts_of(state) == ([{"node-a": 1, "node-b": 0}], [0])


def test_cloned_pre_filter_state_is_independent() -> None:
    nodes = cluster([nd("node-a"), nd("node-b")], on("node-a"))
    incoming = pod({"foo": ""}, NODE_FOO)
    p = plugin(nodes)
    state = CycleState()
    p.pre_filter(state, incoming, nodes)
    copy = state.clone()
    p.add_pod(copy, incoming, pod({"foo": ""}, node="node-b"), nodes[1])
    assert counts_of(state) == ([{"node-a": 1, "node-b": 0}], [0])
    assert counts_of(copy) == ([{"node-a": 1, "node-b": 1}], [1])


# --- TestSingleConstraint / TestMultipleConstraints -----------------------------------

OK, U, UU = Code.SUCCESS, Code.UNSCHEDULABLE, Code.UNRESOLVABLE


@dataclass(frozen=True)
class FilterCase:
    name: str
    pod: PodInfo
    nodes: tuple[tuple[str, Labels], ...]
    pods: tuple[PodInfo, ...]
    codes: tuple[Code, ...]
    tainted: tuple[str, ...] = ()


def spread_abcy(
    a: int, b: int, x: int, y: int, labels: Labels | None = None
) -> tuple[PodInfo, ...]:
    return (
        *on("node-a", labels, a),
        *on("node-b", labels, b),
        *on("node-x", labels, x),
        *on("node-y", labels, y),
    )


SINGLE = [
    FilterCase(
        "no existing pods",
        pod({"foo": ""}, ZONE_FOO),
        FOUR,
        (),
        (OK, OK, OK, OK),
    ),
    FilterCase(
        "no existing pods, incoming pod doesn't match itself",
        pod({"foo": ""}, constraint(1, "zone", DNS, BAR)),
        FOUR,
        (),
        (OK, OK, OK, OK),
    ),
    FilterCase(
        "existing pods in a different namespace do not count",
        pod({"foo": ""}, ZONE_FOO),
        FOUR,
        (
            *on("node-a", namespace="ns1"),
            *on("node-a", namespace="ns2"),
            *on("node-x"),
            *on("node-y"),
        ),
        (OK, OK, U, U),
    ),
    FilterCase(
        "existing pods do not match null selector",
        pod({"foo": ""}, constraint(1, "zone", DNS, None)),
        FOUR,
        (*on("node-x"), *on("node-y")),
        (OK, OK, OK, OK),
    ),
    FilterCase(
        "pods spread across zones as 3/3, all nodes fit",
        pod({"foo": ""}, ZONE_FOO),
        FOUR,
        spread_abcy(2, 1, 0, 3),
        (OK, OK, OK, OK),
    ),
    FilterCase(
        "pods spread across zones as 1/2 due to absence of label 'zone' on node-b",
        pod({"foo": ""}, ZONE_FOO),
        (
            zn("node-a", "zone1"),
            nd("node-b", zon="zone1"),
            zn("node-x", "zone2"),
            zn("node-y", "zone2"),
        ),
        spread_abcy(1, 1, 1, 1),
        (OK, UU, U, U),
    ),
    FilterCase(
        "pod cannot be scheduled as all nodes don't have label 'rack'",
        pod({"foo": ""}, constraint(1, "rack", DNS, FOO)),
        (zn("node-a", "zone1"), zn("node-x", "zone2")),
        (),
        (UU, UU),
    ),
    FilterCase(
        "pods spread across nodes as 2/1/0/3, only node-x fits",
        pod({"foo": ""}, NODE_FOO),
        FOUR,
        spread_abcy(2, 1, 0, 3),
        (U, U, OK, U),
    ),
    FilterCase(
        "pods spread across nodes as 2/1/0/3, maxSkew is 2, node-b and node-x fit",
        pod({"foo": ""}, constraint(2, "node", DNS, FOO)),
        FOUR,
        spread_abcy(2, 1, 0, 3),
        (U, OK, OK, U),
    ),
    FilterCase(
        "pods spread across nodes as 2/1/0/3, but pod doesn't match itself",
        pod({"bar": ""}, NODE_FOO),
        FOUR,
        spread_abcy(2, 1, 0, 3),
        (U, OK, OK, U),
    ),
    FilterCase(
        "incoming pod has nodeAffinity, pods spread as 2/~1~/~0~/3, hence node-a fits",
        pod({"foo": ""}, NODE_FOO, affinity=required_node("node", "In", "node-a", "node-y")),
        FOUR,
        spread_abcy(2, 1, 0, 3),
        (OK, OK, OK, U),  # node-b and node-x fit here; NodeAffinity turns them away
    ),
    FilterCase(
        "terminating Pods should be excluded",
        pod({"foo": ""}, NODE_FOO),
        (nd("node-a"), nd("node-b")),
        (*on("node-a", deleting=True), *on("node-b")),
        (OK, U),
    ),
    FilterCase(
        "incoming pod has nodeAffinity, pods spread as 0/~2~/0/1, hence node-a fits",
        pod({"foo": ""}, ZONE_FOO, affinity=required_node("node", "NotIn", "node-b")),
        FOUR,
        spread_abcy(0, 2, 0, 1),
        (OK, OK, U, U),  # node-b fits here; NodeAffinity turns it away
    ),
    FilterCase(
        "pods spread across nodes as 2/2/1, maxSkew is 2, and the number of domains < "
        "minDomains, then the third node fits",
        pod({"foo": ""}, constraint(2, "node", DNS, FOO, min_domains=4)),
        (nd("node-a"), nd("node-b"), nd("node-c")),
        (*on("node-a", n=2), *on("node-b", n=2), *on("node-c")),
        (U, U, OK),
    ),
    FilterCase(
        "pods spread across nodes as 2/2/1, maxSkew is 2, and the number of domains > "
        "minDomains, then the all nodes fit",
        pod({"foo": ""}, constraint(2, "node", DNS, FOO, min_domains=2)),
        (nd("node-a"), nd("node-b"), nd("node-c")),
        (*on("node-a", n=2), *on("node-b", n=2), *on("node-c")),
        (OK, OK, OK),
    ),
    FilterCase(
        "pods spread across zone as 2/1, maxSkew is 2 and the number of domains < minDomains, "
        "then the third and fourth nodes fit",
        pod({"foo": ""}, constraint(2, "zone", DNS, FOO, min_domains=3)),
        FOUR,
        spread_abcy(1, 1, 0, 1),
        (U, U, OK, OK),
    ),
    FilterCase(
        "pods spread across zone as 2/1, maxSkew is 2 and the number of domains > minDomains, "
        "then the all nodes fit",
        pod({"foo": ""}, constraint(2, "zone", DNS, FOO, min_domains=1)),
        FOUR,
        spread_abcy(1, 1, 0, 1),
        (OK, OK, OK, OK),
    ),
    FilterCase(
        "NodeAffinityPolicy honored with labelSelectors",
        pod({"foo": ""}, NODE_FOO, node_selector={"foo": ""}),
        (nd("node-a", foo=""), nd("node-b", foo=""), nd("node-x", foo=""), nd("node-y")),
        spread_abcy(1, 1, 0, 1),
        (U, U, OK, OK),  # node-y fits here; NodeAffinity turns it away
    ),
    FilterCase(
        "NodeAffinityPolicy ignored with labelSelectors",
        pod(
            {"foo": ""},
            constraint(1, "node", DNS, FOO, affinity_policy=IGNORE),
            node_selector={"foo": ""},
        ),
        (nd("node-a", foo=""), nd("node-b", foo=""), nd("node-x", foo=""), nd("node-y")),
        spread_abcy(1, 1, 0, 1),
        (U, U, OK, U),
    ),
    FilterCase(
        "NodeAffinityPolicy honored with nodeAffinity",
        pod({"foo": ""}, NODE_FOO, affinity=required_node("foo", "In", "")),
        (nd("node-a", foo=""), nd("node-b", foo=""), nd("node-x", foo=""), nd("node-y")),
        spread_abcy(1, 1, 0, 1),
        (U, U, OK, OK),
    ),
    FilterCase(
        "NodeAffinityPolicy ignored with labelSelectors",
        pod(
            {"foo": ""},
            constraint(1, "node", DNS, FOO, affinity_policy=IGNORE),
            affinity=required_node("foo", "In", ""),
        ),
        (nd("node-a", foo=""), nd("node-b", foo=""), nd("node-x", foo=""), nd("node-y")),
        spread_abcy(1, 1, 0, 1),
        (U, U, OK, U),
    ),
    FilterCase(
        "NodeTaintsPolicy honored",
        pod({"foo": ""}, constraint(1, "node", DNS, FOO, taints_policy=HONOR)),
        (nd("node-a", foo=""), nd("node-b", foo=""), nd("node-x", foo=""), nd("node-y")),
        spread_abcy(1, 1, 0, 1),
        (U, U, OK, OK),  # node-y fits here; TaintToleration turns it away
        tainted=("node-y",),
    ),
    FilterCase(
        "NodeTaintsPolicy ignored",
        pod({"foo": ""}, NODE_FOO),
        (nd("node-a", foo=""), nd("node-b", foo=""), nd("node-x", foo=""), nd("node-y")),
        spread_abcy(1, 1, 0, 1),
        (U, U, OK, U),
        tainted=("node-y",),
    ),
]

FOO_BAR_POD = {"foo": "", "bar": ""}

MULTIPLE = [
    FilterCase(
        "two Constraints on zone and node, spreads = [3/3, 2/1/0/3]",
        pod({"foo": ""}, ZONE_FOO, NODE_FOO),
        FOUR,
        spread_abcy(2, 1, 0, 3),
        (U, U, OK, U),
    ),
    FilterCase(
        "two Constraints on zone and node, spreads = [3/4, 2/1/0/4]",
        pod({"foo": ""}, ZONE_FOO, NODE_FOO),
        FOUR,
        spread_abcy(2, 1, 0, 4),
        (U, U, U, U),
    ),
    FilterCase(
        "Constraints hold different labelSelectors, spreads = [1/0, 1/0/0/1]",
        pod(FOO_BAR_POD, ZONE_FOO, constraint(1, "node", DNS, BAR)),
        FOUR,
        (*on("node-a"), *on("node-y", {"bar": ""})),
        (U, U, OK, U),
    ),
    FilterCase(
        "Constraints hold different labelSelectors, spreads = [1/0, 0/0/1/1]",
        pod(FOO_BAR_POD, ZONE_FOO, constraint(1, "node", DNS, BAR)),
        FOUR,
        (*on("node-a"), *on("node-x", {"bar": ""}), *on("node-y", {"bar": ""})),
        (U, U, U, U),
    ),
    FilterCase(
        "Constraints hold different labelSelectors, spreads = [2/3, 1/0/0/1]",
        pod(FOO_BAR_POD, ZONE_FOO, constraint(1, "node", DNS, BAR)),
        FOUR,
        (
            *on("node-a"),
            *on("node-a", FOO_BAR_POD),
            *on("node-y"),
            *on("node-y", FOO_BAR_POD),
            *on("node-y"),
        ),
        (U, OK, U, U),
    ),
    FilterCase(
        "Constraints hold different labelSelectors but pod doesn't match itself on 'zone' "
        "constraint",
        pod({"bar": ""}, ZONE_FOO, constraint(1, "node", DNS, BAR)),
        FOUR,
        (*on("node-a"), *on("node-x", {"bar": ""}), *on("node-y", {"bar": ""})),
        (OK, OK, U, U),
    ),
    FilterCase(
        "two Constraints on zone and node, absence of label 'node' on node-x, spreads = "
        "[1/1, 1/0/0/1]",
        pod({"foo": ""}, ZONE_FOO, NODE_FOO),
        (
            zn("node-a", "zone1"),
            zn("node-b", "zone1"),
            ("node-x", {"zone": "zone2"}),
            zn("node-y", "zone2"),
        ),
        (*on("node-a"), *on("node-y")),
        (U, OK, UU, U),
    ),
    FilterCase(
        "two node inclusion Constraints, zone: honor/ignore, node: ignore/ignore",
        pod(
            {"foo": ""},
            ZONE_FOO,
            constraint(1, "node", DNS, FOO, affinity_policy=IGNORE),
            node_selector={"foo": ""},
        ),
        (
            zn("node-a", "zone1", foo=""),
            zn("node-b", "zone1", foo=""),
            zn("node-x", "zone2", foo=""),
            zn("node-y", "zone2"),
        ),
        spread_abcy(1, 1, 0, 1),
        (U, U, OK, U),
    ),
    FilterCase(
        "two node inclusion Constraints, zone: honor/honor, node: honor/ignore",
        pod({"foo": ""}, constraint(1, "zone", DNS, FOO, taints_policy=HONOR), NODE_FOO),
        (
            zn("node-a", "zone1", foo=""),
            zn("node-b", "zone1", foo=""),
            zn("node-x", "zone2", foo=""),
            zn("node-y", "zone2"),
        ),
        spread_abcy(1, 1, 0, 1),
        (U, U, OK, U),
        tainted=("node-y",),
    ),
    FilterCase(
        "two node inclusion Constraints, zone: honor/ignore, node: honor/ignore",
        pod({"foo": ""}, ZONE_FOO, NODE_FOO, node_selector={"foo": ""}),
        (
            zn("node-a", "zone1", foo=""),
            zn("node-b", "zone1"),
            zn("node-x", "zone2", foo=""),
            zn("node-y", "zone2", foo=""),
        ),
        spread_abcy(1, 1, 0, 1),
        (U, OK, OK, U),
        tainted=("node-y",),
    ),
]


@pytest.mark.parametrize("case", SINGLE + MULTIPLE, ids=lambda c: c.name)
def test_filter(case: FilterCase) -> None:
    nodes = cluster(case.nodes, case.pods, case.tainted)
    p = plugin(nodes)
    state = CycleState()
    _, status = p.pre_filter(state, case.pod, nodes)
    assert status == SUCCESS
    assert tuple(p.filter(state, case.pod, n).code for n in nodes) == case.codes


def test_filter_reasons_and_codes() -> None:
    nodes = cluster([nd("node-a"), nd("node-b"), ("node-c", {})], on("node-a", n=2))
    incoming = pod({"foo": ""}, NODE_FOO)
    p = plugin(nodes)
    state = CycleState()
    p.pre_filter(state, incoming, nodes)
    assert [p.filter(state, incoming, n) for n in nodes] == [REJECTED, SUCCESS, MISSING_LABEL]


def test_constraints_are_checked_in_order() -> None:
    # node-a breaks the first constraint's skew before its missing "rack" is looked at.
    nodes = cluster(
        [("node-a", {"zone": "z1"}), ("node-b", {"zone": "z2", "rack": "r2"})],
        [],
    )
    nodes.append(cluster([("node-c", {"zone": "z1", "rack": "r1"})], on("node-c", n=2))[0])
    incoming = pod({"foo": ""}, ZONE_FOO, constraint(1, "rack", DNS, FOO))
    p = plugin(nodes)
    state = CycleState()
    p.pre_filter(state, incoming, nodes)
    assert p.filter(state, incoming, nodes[0]) == REJECTED
    assert p.filter(state, incoming, nodes[1]) == SUCCESS


def test_filter_without_pre_filter_state_counts_on_the_fly() -> None:
    nodes = cluster(FOUR, spread_abcy(2, 1, 0, 3))
    incoming = pod({"foo": ""}, NODE_FOO)
    p = plugin(nodes)
    state = CycleState()
    assert [p.filter(state, incoming, n).code for n in nodes] == [U, U, OK, U]


def test_an_empty_selector_counts_no_pod_but_matches_the_pod_itself() -> None:
    nodes = cluster([nd("node-a"), nd("node-b")], on("node-a", n=3))
    incoming = pod({"foo": ""}, constraint(1, "node", DNS, EMPTY))
    state = CycleState()
    p = plugin(nodes)
    p.pre_filter(state, incoming, nodes)
    assert counts_of(state) == ([{"node-a": 0, "node-b": 0}], [0])
    assert [p.filter(state, incoming, n) for n in nodes] == [SUCCESS, SUCCESS]


# --- scoring ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("incoming", "args", "owners"),
    [
        pytest.param(
            pod(),
            PodTopologySpreadArgs("List"),
            (),
            id="the pod doesn't have soft topology spread Constraints",
        ),
        pytest.param(
            pod({"foo": "bar", "baz": "sup"}),
            PodTopologySpreadArgs("List", decode_args_from([constraint(2, "planet", SA, None)])),
            (LabelSelector(expressions=(Requirement("tar", "Exists", frozenset()),)),),
            id="default constraints and a replicaset that doesn't match",
        ),
    ],
)
def test_pre_score_skip(
    incoming: PodInfo, args: PodTopologySpreadArgs, owners: tuple[LabelSelector, ...]
) -> None:
    nodes = cluster([hn("node-a", planet="mars"), hn("node-b")])
    assert plugin(nodes, args, owners).pre_score(CycleState(), incoming, nodes) == SKIP


def test_pre_score_skips_without_nodes() -> None:
    incoming = pod({"foo": ""}, constraint(1, "zone", SA, FOO))
    assert plugin([]).pre_score(CycleState(), incoming, []) == SKIP


LIST = PodTopologySpreadArgs("List")


@dataclass(frozen=True)
class PreScoreCase:
    name: str
    pod: PodInfo
    nodes: tuple[tuple[str, Labels], ...]
    max_skews: tuple[int, ...]
    ignored: frozenset[str]
    counts: tuple[dict[str, int], ...]
    sizes: tuple[int, ...]
    args: PodTopologySpreadArgs = LIST
    owners: tuple[LabelSelector, ...] = ()
    tainted: tuple[str, ...] = ()


ZONE_HOST_NODES = (
    hn("node-a", zone="zone1"),
    hn("node-b", zone="zone1"),
    hn("node-x", zone="zone2"),
)
RS_FOO = (FOO_SELECTOR,)

PRE_SCORE = [
    PreScoreCase(
        "normal case",
        pod({"foo": ""}, constraint(1, "zone", SA, FOO), constraint(1, HOSTNAME_LABEL, SA, FOO)),
        ZONE_HOST_NODES,
        (1, 1),
        frozenset(),
        ({"zone1": 0, "zone2": 0}, {}),
        (2, 3),
    ),
    PreScoreCase(
        "null selector",
        pod({"foo": ""}, constraint(1, "zone", SA, None)),
        ZONE_HOST_NODES,
        (1,),
        frozenset(),
        ({"zone1": 0, "zone2": 0},),
        (2,),
    ),
    PreScoreCase(
        "node-x doesn't have label zone",
        pod({"foo": ""}, constraint(1, "zone", SA, FOO), constraint(1, HOSTNAME_LABEL, SA, BAR)),
        (hn("node-a", zone="zone1"), hn("node-b", zone="zone1"), hn("node-x")),
        (1, 1),
        frozenset({"node-x"}),
        ({"zone1": 0}, {}),
        (1, 2),
    ),
    PreScoreCase(
        "system default constraints and a replicaset",
        pod({"foo": "tar", "baz": "sup"}),
        (
            hn("node-a", **{ZONE_LABEL: "mars"}),
            hn("node-b", **{ZONE_LABEL: "mars"}),
            # Nodes with no zone are not excluded. They are considered a separate zone.
            hn("node-c"),
            hn("node-d"),
        ),
        (3, 5),
        frozenset(),
        ({}, {"mars": 0, "": 0}),
        (4, 2),
        args=PodTopologySpreadArgs(),
        owners=RS_FOO,
    ),
    PreScoreCase(
        "default constraints and a replicaset",
        pod({"foo": "tar", "baz": "sup"}),
        (hn("node-a", rack="rack1", planet="mars"),),
        (1, 2),
        frozenset(),
        ({}, {"mars": 0}),
        (1, 1),
        args=PodTopologySpreadArgs(
            "List",
            decode_args_from(
                [
                    constraint(1, HOSTNAME_LABEL, SA, None),
                    constraint(2, "rack", DNS, None),
                    constraint(2, "planet", SA, None),
                ]
            ),
        ),
        owners=RS_FOO,
    ),
    PreScoreCase(
        "default constraints and a replicaset, but pod has constraints",
        pod(
            {"foo": "bar", "baz": "sup"},
            constraint(1, "zone", DNS, BAR),
            constraint(2, "planet", SA, {"matchLabels": {"baz": "sup"}}),
        ),
        (("node-a", {"planet": "mars", "galaxy": "andromeda"}),),
        (2,),
        frozenset(),
        ({"mars": 0},),
        (1,),
        args=PodTopologySpreadArgs("List", decode_args_from([constraint(2, "galaxy", SA, None)])),
        owners=RS_FOO,
    ),
    PreScoreCase(
        "NodeAffinityPolicy honored with labelSelectors",
        pod({"foo": ""}, constraint(1, "zone", SA, BAR), node_selector={"foo": ""}),
        (
            hn("node-a", zone="zone1", foo=""),
            hn("node-b", zone="zone1", foo=""),
            hn("node-x", zone="zone2"),
        ),
        (1,),
        frozenset(),
        ({"zone1": 0, "zone2": 0},),
        (2,),
    ),
    PreScoreCase(
        "NodeTaintsPolicy honored",
        pod({"foo": ""}, constraint(1, "zone", SA, BAR, taints_policy=HONOR)),
        (
            hn("node-a", zone="zone1", foo=""),
            hn("node-b", zone="zone1", foo=""),
            hn("node-x", zone="zone2"),
        ),
        (1,),
        frozenset(),
        ({"zone1": 0, "zone2": 0},),
        (2,),
        tainted=("node-x",),
    ),
]


@pytest.mark.parametrize("case", PRE_SCORE, ids=lambda c: c.name)
def test_pre_score_state_empty_nodes(case: PreScoreCase) -> None:
    import math

    nodes = cluster(case.nodes, (), case.tainted)
    state = CycleState()
    assert plugin(nodes, case.args, case.owners).pre_score(state, case.pod, nodes) == SUCCESS
    s = state.read(_PRE_SCORE)
    assert tuple(c.max_skew for c in s.constraints) == case.max_skews
    assert s.ignored == case.ignored
    assert s.counts == case.counts
    assert s.weights == tuple(math.log(size + 2) for size in case.sizes)


@dataclass(frozen=True)
class ScoreCase:
    name: str
    pod: PodInfo
    nodes: tuple[tuple[str, Labels], ...]
    pods: tuple[PodInfo, ...]
    want: tuple[int, ...]
    failed: tuple[tuple[str, Labels], ...] = ()
    owners: tuple[LabelSelector, ...] = ()
    tainted: tuple[str, ...] = ()


HOST_FOO = constraint(1, HOSTNAME_LABEL, SA, FOO)
HOSTS_ABCD = (hn("node-a"), hn("node-b"), hn("node-c"), hn("node-d"))


def spread_on(**per_node: int) -> tuple[PodInfo, ...]:
    return tuple(p for name, n in per_node.items() for p in on(name.replace("_", "-"), n=n))


SCORE = [
    ScoreCase(
        "one constraint on node, no existing pods",
        pod({"foo": ""}, HOST_FOO),
        (hn("node-a"), hn("node-b")),
        (),
        (100, 100),
    ),
    ScoreCase(
        "one constraint on node, only one node is candidate",
        pod({"foo": ""}, HOST_FOO),
        (hn("node-a"),),
        spread_on(node_a=2, node_b=1),
        (100,),
        failed=(hn("node-b"),),
    ),
    ScoreCase(
        "one constraint on node, all nodes have the same number of matching pods",
        pod({"foo": ""}, HOST_FOO),
        (hn("node-a"), hn("node-b")),
        spread_on(node_a=1, node_b=1),
        (100, 100),
    ),
    ScoreCase(
        "one constraint on node, all 4 nodes are candidates",
        pod({"foo": ""}, HOST_FOO),
        HOSTS_ABCD,
        spread_on(node_a=2, node_b=1, node_d=3),
        (20, 60, 100, 0),
    ),
    ScoreCase(
        "one constraint on node, null selector",
        pod({"foo": ""}, constraint(1, HOSTNAME_LABEL, SA, None)),
        HOSTS_ABCD,
        spread_on(node_a=2, node_b=1, node_d=3),
        (100, 100, 100, 100),
    ),
    ScoreCase(
        "one constraint on node, all 4 nodes are candidates, maxSkew=2",
        pod({"foo": ""}, constraint(2, HOSTNAME_LABEL, SA, FOO)),
        HOSTS_ABCD,
        spread_on(node_a=2, node_b=1, node_d=3),
        (33, 66, 100, 16),
    ),
    ScoreCase(
        "one constraint on node, all 4 nodes are candidates, maxSkew=3",
        pod({"foo": ""}, constraint(3, HOSTNAME_LABEL, SA, FOO)),
        HOSTS_ABCD,
        spread_on(node_a=4, node_b=3, node_c=2, node_d=1),
        (44, 66, 77, 100),
    ),
    ScoreCase(
        "system defaulting, nodes don't have zone, pods match service",
        pod({"foo": ""}),
        HOSTS_ABCD,
        spread_on(node_a=4, node_b=3, node_c=2, node_d=1),
        (44, 66, 77, 100),  # same scores as with one spreading constraint
        owners=(LabelSelector((("foo", ""),)),),
    ),
    ScoreCase(
        "one constraint on node, 3 out of 4 nodes are candidates",
        pod({"foo": ""}, HOST_FOO),
        (hn("node-a"), hn("node-b"), hn("node-x")),
        spread_on(node_a=4, node_b=2, node_x=1, node_y=3),
        (33, 83, 100),
        failed=(hn("node-y"),),
    ),
    ScoreCase(
        "one constraint on node, 3 out of 4 nodes are candidates, one node doesn't match "
        "topology key",
        pod({"foo": ""}, HOST_FOO),
        (hn("node-a"), ("node-b", {"n": "node-b"}), hn("node-x")),
        spread_on(node_a=4, node_b=2, node_x=1, node_y=3),
        (16, 0, 100),
        failed=(hn("node-y"),),
    ),
    ScoreCase(
        "one constraint on zone, 3 out of 4 nodes are candidates",
        pod({"foo": ""}, constraint(1, "zone", SA, FOO)),
        (hn("node-a", zone="zone1"), hn("node-b", zone="zone1"), hn("node-x", zone="zone2")),
        spread_on(node_a=4, node_b=2, node_x=1, node_y=3),
        (75, 75, 100),
        failed=(hn("node-y", zone="zone2"),),
    ),
    ScoreCase(
        "two Constraints on zone and node, 2 out of 4 nodes are candidates",
        pod({"foo": ""}, constraint(1, "zone", SA, FOO), HOST_FOO),
        (hn("node-a", zone="zone1"), hn("node-x", zone="zone2")),
        spread_on(node_a=2, node_b=1, node_x=2, node_y=4),
        (100, 63),
        failed=(hn("node-b", zone="zone1"), hn("node-y", zone="zone2")),
    ),
    ScoreCase(
        "two Constraints on zone and node, with different labelSelectors",
        pod(FOO_BAR_POD, constraint(1, "zone", SA, FOO), constraint(1, HOSTNAME_LABEL, SA, BAR)),
        (
            hn("node-a", zone="zone1"),
            hn("node-b", zone="zone1"),
            hn("node-x", zone="zone2"),
            hn("node-y", zone="zone2"),
        ),
        (*on("node-a"), *on("node-b", FOO_BAR_POD), *on("node-y"), *on("node-y", {"bar": ""})),
        (60, 20, 100, 60),
    ),
    ScoreCase(
        "two Constraints on zone and node, with different labelSelectors, some nodes have 0 pods",
        pod(FOO_BAR_POD, constraint(1, "zone", SA, FOO), constraint(1, HOSTNAME_LABEL, SA, BAR)),
        (
            hn("node-a", zone="zone1"),
            hn("node-b", zone="zone1"),
            hn("node-x", zone="zone2"),
            hn("node-y", zone="zone2"),
        ),
        (*on("node-b", {"bar": ""}), *on("node-x"), *on("node-y", FOO_BAR_POD)),
        (100, 60, 40, 0),
    ),
    ScoreCase(
        "two Constraints on zone and node, with different labelSelectors, 3 out of 4 nodes are "
        "candidates",
        pod(FOO_BAR_POD, constraint(1, "zone", SA, FOO), constraint(1, HOSTNAME_LABEL, SA, BAR)),
        (hn("node-a", zone="zone1"), hn("node-b", zone="zone1"), hn("node-x", zone="zone2")),
        (*on("node-a"), *on("node-b", FOO_BAR_POD), *on("node-y"), *on("node-y", {"bar": ""})),
        (50, 25, 100),
        failed=(hn("node-y", zone="zone2"),),
    ),
    ScoreCase(
        "existing pods in a different namespace do not count",
        pod({"foo": ""}, HOST_FOO),
        (hn("node-a"), hn("node-b")),
        (*on("node-a", namespace="ns1"), *on("node-a"), *on("node-b", n=2)),
        (100, 33),
    ),
    ScoreCase(
        "terminating Pods should be excluded",
        pod({"foo": ""}, HOST_FOO),
        (hn("node-a"), hn("node-b")),
        (*on("node-a", deleting=True), *on("node-b")),
        (100, 0),
    ),
    ScoreCase(
        "minDomains has no effect when ScheduleAnyway",
        pod({"foo": ""}, constraint(2, "node", SA, FOO, min_domains=10)),
        (nd("node-a"), nd("node-b"), nd("node-c")),
        spread_on(node_a=2, node_b=2, node_c=1),
        (75, 75, 100),
    ),
    ScoreCase(
        "NodeAffinityPolicy honoed with labelSelectors",
        pod({"foo": ""}, constraint(1, "node", SA, FOO), node_selector={"foo": ""}),
        (nd("node-a", foo=""), nd("node-b", foo=""), nd("node-c")),
        spread_on(node_a=2, node_b=1, node_c=1),
        (0, 33, 100),
    ),
    ScoreCase(
        "NodeAffinityPolicy ignored with labelSelectors",
        pod(
            {"foo": ""},
            constraint(1, "node", SA, FOO, affinity_policy=IGNORE),
            node_selector={"foo": ""},
        ),
        (nd("node-a", foo=""), nd("node-b", foo=""), nd("node-c")),
        spread_on(node_a=2, node_b=1, node_c=1),
        (66, 100, 100),
    ),
    ScoreCase(
        "NodeAffinityPolicy honoed with nodeAffinity",
        pod({"foo": ""}, constraint(1, "node", SA, FOO), affinity=required_node("foo", "In", "")),
        (nd("node-a", foo=""), nd("node-b", foo=""), nd("node-c")),
        spread_on(node_a=2, node_b=1, node_c=1),
        (0, 33, 100),
    ),
    ScoreCase(
        "NodeAffinityPolicy ignored with nodeAffinity",
        pod(
            {"foo": ""},
            constraint(1, "node", SA, FOO, affinity_policy=IGNORE),
            affinity=required_node("foo", "In", ""),
        ),
        (nd("node-a", foo=""), nd("node-b", foo=""), nd("node-c")),
        spread_on(node_a=2, node_b=1, node_c=1),
        (66, 100, 100),
    ),
    ScoreCase(
        "NodeTaintsPolicy honored",
        pod({"foo": ""}, constraint(1, "node", SA, FOO, taints_policy=HONOR)),
        (nd("node-a"), nd("node-b"), nd("node-c")),
        spread_on(node_a=2, node_b=1, node_c=1),
        (0, 33, 100),
        tainted=("node-c",),
    ),
    ScoreCase(
        "NodeTaintsPolicy ignored",
        pod({"foo": ""}, constraint(1, "node", SA, FOO)),
        (nd("node-a"), nd("node-b"), nd("node-c")),
        spread_on(node_a=2, node_b=1, node_c=1),
        (66, 100, 100),
        tainted=("node-c",),
    ),
    ScoreCase(
        "matchLabelKeys ANDed with LabelSelector when LabelSelector is empty",
        pod(
            FOO_BAR_POD,
            constraint(1, "zone", SA, EMPTY, match_label_keys=["foo"]),
            constraint(1, HOSTNAME_LABEL, SA, EMPTY, match_label_keys=["bar"]),
        ),
        (
            hn("node-a", zone="zone1"),
            hn("node-b", zone="zone1"),
            hn("node-c", zone="zone2"),
            hn("node-d", zone="zone2"),
        ),
        (*on("node-a"), *on("node-b", FOO_BAR_POD), *on("node-c"), *on("node-c", {"bar": ""})),
        (60, 20, 60, 100),
    ),
    ScoreCase(
        "matchLabelKeys ANDed with LabelSelector when LabelSelector isn't empty",
        pod(
            {"foo": "", "bar": "", "baz": ""},
            constraint(1, "zone", SA, FOO),
            constraint(1, HOSTNAME_LABEL, SA, BAR, match_label_keys=["baz"]),
        ),
        (
            hn("node-a", zone="zone1"),
            hn("node-b", zone="zone1"),
            hn("node-c", zone="zone2"),
            hn("node-d", zone="zone2"),
        ),
        (
            *on("node-a"),
            *on("node-b", {"foo": "", "bar": "", "baz": ""}),
            *on("node-c"),
            *on("node-c", {"bar": ""}),
            *on("node-c", {"bar": "", "baz": ""}),
        ),
        (60, 20, 60, 100),
    ),
]


@pytest.mark.parametrize("case", SCORE, ids=lambda c: c.name)
def test_pod_topology_spread_score(case: ScoreCase) -> None:
    all_nodes = cluster((*case.nodes, *case.failed), case.pods, case.tainted)
    candidates = all_nodes[: len(case.nodes)]
    # Upstream's scoring table runs with system defaulting.
    p = plugin(all_nodes, PodTopologySpreadArgs(), case.owners)
    state = CycleState()
    assert p.pre_score(state, case.pod, candidates) == SUCCESS
    scores = [p.score(state, case.pod, n) for n in candidates]
    p.normalize_scores(state, case.pod, scores)
    assert tuple(scores) == case.want


def test_raw_score_rounds_half_away_from_zero() -> None:
    # ln(3) * 1 + (maxSkew - 1) = 1.0986 + 0 and ln(3) * 2 = 2.197: 1 and 2.
    nodes = cluster([hn("node-a")], on("node-a", n=2))
    incoming = pod({"foo": ""}, HOST_FOO)
    p = plugin(nodes)
    state = CycleState()
    p.pre_score(state, incoming, nodes)
    assert p.score(state, incoming, nodes[0]) == 2


@pytest.mark.parametrize(("raw", "want"), [(0.5, 1), (2.5, 3), (2.4999, 2), (3.0, 3)])
def test_rounding_is_half_away_from_zero_as_go(raw: float, want: int) -> None:
    assert round_half_up(raw) == want


def test_ignored_nodes_score_zero_and_all_zero_scores_normalise_to_100() -> None:
    nodes = cluster([hn("node-a"), ("node-b", {})])
    incoming = pod({"foo": ""}, HOST_FOO)
    p = plugin(nodes)
    state = CycleState()
    assert p.pre_score(state, incoming, nodes) == SUCCESS
    scores = [p.score(state, incoming, n) for n in nodes]
    p.normalize_scores(state, incoming, scores)
    assert scores == [100, 0]


def test_score_without_pre_score_state_uses_all_nodes() -> None:
    nodes = cluster(HOSTS_ABCD, spread_on(node_a=2, node_b=1, node_d=3))
    incoming = pod({"foo": ""}, HOST_FOO)
    p = plugin(nodes)
    state = CycleState()
    scores = [p.score(state, incoming, n) for n in nodes]
    p.normalize_scores(state, incoming, scores)
    assert scores == [20, 60, 100, 0]


# --- default constraints ------------------------------------------------------------


def test_system_defaults_are_hostname_3_and_zone_5_schedule_anyway() -> None:
    assert [
        (c.max_skew, c.topology_key, c.when_unsatisfiable) for c in SYSTEM_DEFAULT_CONSTRAINTS
    ] == [
        (3, HOSTNAME_LABEL, SA),
        (5, ZONE_LABEL, SA),
    ]


def test_merge_selectors_ands_every_requirement() -> None:
    merged = merge_selectors(
        [
            LabelSelector((("app", "web"),)),
            LabelSelector((("tier", "front"),)),
            FOO_SELECTOR,
        ]
    )
    assert merged.matches({"app": "web", "tier": "front", "foo": "x"})
    assert not merged.matches({"app": "web", "tier": "front"})
    assert not merged.matches({"app": "web", "foo": "x"})
    assert merge_selectors([]).is_empty


def test_list_defaulting_without_constraints_means_no_defaults() -> None:
    nodes = cluster([hn("node-a")], on("node-a"))
    p = plugin(nodes, PodTopologySpreadArgs("List"), (FOO_SELECTOR,))
    assert p.pre_score(CycleState(), pod({"foo": ""}), nodes) == SKIP


def test_system_defaults_need_an_owner_selecting_the_pod() -> None:
    nodes = cluster([hn("node-a")], on("node-a"))
    assert (
        plugin(nodes, PodTopologySpreadArgs()).pre_score(CycleState(), pod({"foo": ""}), nodes)
        == SKIP
    )
    with_owner = plugin(nodes, PodTopologySpreadArgs(), (FOO_SELECTOR,))
    assert with_owner.pre_score(CycleState(), pod({"foo": ""}), nodes) == SUCCESS


def test_listed_hard_defaults_filter() -> None:
    args = PodTopologySpreadArgs("List", decode_args_from([constraint(1, "node", DNS, None)]))
    nodes = cluster([nd("node-a"), nd("node-b")], on("node-a", n=2))
    p = plugin(nodes, args, (FOO_SELECTOR,))
    incoming = pod({"foo": ""})
    state = CycleState()
    assert p.pre_filter(state, incoming, nodes) == (None, SUCCESS)
    assert [p.filter(state, incoming, n).code for n in nodes] == [U, OK]


# --- args ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        pytest.param({}, PodTopologySpreadArgs("System", ()), id="defaults to System"),
        pytest.param(
            {"defaultingType": "List"},
            PodTopologySpreadArgs("List", ()),
            id="List with no constraints turns defaults off",
        ),
        pytest.param(
            {
                "defaultingType": "List",
                "defaultConstraints": [
                    {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": DNS},
                    {
                        "maxSkew": 2,
                        "topologyKey": "node",
                        "whenUnsatisfiable": SA,
                        "minDomains": 2,
                        "nodeTaintsPolicy": HONOR,
                    },
                ],
            },
            PodTopologySpreadArgs(
                "List",
                (
                    SpreadConstraint(1, "zone", DNS, None, None, HONOR, IGNORE),
                    SpreadConstraint(2, "node", SA, None, 2, HONOR, HONOR),
                ),
            ),
            id="listed constraints",
        ),
    ],
)
def test_decode_args(raw: Raw, want: PodTopologySpreadArgs) -> None:
    assert decode_args(Fields(raw, "args")) == want
    assert SPEC.args(raw) == want


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(
            {"defaultingType": "Other"},
            'args.defaultingType: Unsupported value: "Other": supported values: "List", "System"',
            id="unknown defaulting type",
        ),
        pytest.param(
            {
                "defaultConstraints": [
                    {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": SA}
                ]
            },
            "args.defaultConstraints: Invalid value: 1 constraint(s): "
            'when .defaultingType is "System"',
            id="constraints with System defaulting",
        ),
        pytest.param(
            {
                "defaultingType": "List",
                "defaultConstraints": [
                    {"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": SA}
                ],
            },
            "args.defaultConstraints[0].maxSkew: Invalid value: 0: must be greater than zero",
            id="zero maxSkew",
        ),
        pytest.param(
            {
                "defaultingType": "List",
                "defaultConstraints": [{"maxSkew": 1, "whenUnsatisfiable": SA}],
            },
            "args.defaultConstraints[0].topologyKey: Required value: can not be empty",
            id="missing topologyKey",
        ),
        pytest.param(
            {
                "defaultingType": "List",
                "defaultConstraints": [
                    {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "Maybe"}
                ],
            },
            'args.defaultConstraints[0].whenUnsatisfiable: Unsupported value: "Maybe"',
            id="unknown whenUnsatisfiable",
        ),
        pytest.param(
            {
                "defaultingType": "List",
                "defaultConstraints": [
                    {
                        "maxSkew": 1,
                        "topologyKey": "zone",
                        "whenUnsatisfiable": SA,
                        "labelSelector": {"matchLabels": {"a": "b"}},
                    }
                ],
            },
            "args.defaultConstraints[0].labelSelector: Forbidden: constraint must not define a "
            "selector, as they deduced for each pod",
            id="selector in a default constraint",
        ),
        pytest.param(
            {
                "defaultingType": "List",
                "defaultConstraints": [
                    {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": SA},
                    {"maxSkew": 2, "topologyKey": "zone", "whenUnsatisfiable": SA},
                ],
            },
            'args.defaultConstraints[1]: Duplicate value: "{zone, ScheduleAnyway}"',
            id="repeated key and action",
        ),
        pytest.param({"defaults": []}, "args.defaults: unknown field", id="unknown field"),
        pytest.param(
            {"defaultConstraints": "none"},
            "args.defaultConstraints: expected a list",
            id="wrong type",
        ),
    ],
)
def test_decode_args_rejects(raw: Raw, message: str) -> None:
    with pytest.raises(ArgsError) as caught:
        decode_args(Fields(raw, "args"))
    assert message in str(caught.value)


# --- queueing hints -------------------------------------------------------------------


def hint_for(
    resource: Resource, pending: PodInfo, old: object | None, new: object | None
) -> QueueingHint:
    for entry in plugin([]).events_to_register():
        if entry.event.resource is resource:
            assert entry.hint is not None
            return entry.hint(pending, old, new)
    raise AssertionError(f"no event registered for {resource}")


def test_events_to_register() -> None:
    events = {e.event.resource: e.event.action for e in plugin([]).events_to_register()}
    assert events == {
        Resource.ASSIGNED_POD: ActionType.ADD | ActionType.UPDATE_POD_LABEL | ActionType.DELETE,
        Resource.POD: ActionType.UPDATE_POD_TOLERATIONS,
        Resource.NODE: ActionType.ADD
        | ActionType.DELETE
        | ActionType.UPDATE_NODE_LABEL
        | ActionType.UPDATE_NODE_TAINT,
    }


PENDING = pod({"foo": ""}, ZONE_FOO, NODE_FOO, name="pending")
PENDING_HONOR = pod(
    {"foo": ""}, constraint(1, "zone", DNS, FOO, taints_policy=HONOR), name="pending"
)


@dataclass(frozen=True)
class HintCase:
    name: str
    pending: PodInfo
    old: PodInfo | None
    new: PodInfo | None
    want: QueueingHint


def assigned(labels: Labels, name: str = "x", namespace: str = "default") -> PodInfo:
    return pod(labels, node="node-a", name=name, namespace=namespace)


def nominated(labels: Labels, namespace: str = "default") -> PodInfo:
    return make_pod("p2", namespace=namespace, labels=labels, nominated_node="fake-node")


POD_HINTS = [
    HintCase(
        "add pod with matching labels", PENDING, None, assigned({"foo": ""}), QueueingHint.QUEUE
    ),
    HintCase("add un-scheduled pod", PENDING, None, pod({"foo": ""}), QueueingHint.SKIP),
    HintCase(
        "add pod with different labels", PENDING, None, assigned({"bar": ""}), QueueingHint.SKIP
    ),
    HintCase(
        "add pod with different namespace",
        PENDING,
        None,
        assigned({"foo": ""}, namespace="ns1"),
        QueueingHint.SKIP,
    ),
    HintCase(
        "delete matching pod with the same labels",
        PENDING,
        assigned({"foo": ""}),
        None,
        QueueingHint.QUEUE,
    ),
    HintCase(
        "delete pod with different labels", PENDING, assigned({"bar": ""}), None, QueueingHint.SKIP
    ),
    HintCase(
        "delete nominated pod with labels that don't match topologySpreadConstraints selector",
        PENDING,
        nominated({"bar": ""}),
        None,
        QueueingHint.SKIP,
    ),
    HintCase(
        "delete nominated pod with labels that match topologySpreadConstraints selector",
        PENDING,
        nominated({"foo": ""}),
        None,
        QueueingHint.QUEUE,
    ),
    HintCase(
        "delete nominated pod of another namespace",
        PENDING,
        nominated({"foo": ""}, namespace="ns1"),
        None,
        QueueingHint.SKIP,
    ),
    HintCase(
        "update pod's non-related label",
        PENDING,
        assigned({"foo": "", "bar": "bar1"}),
        assigned({"foo": "", "bar": "bar2"}),
        QueueingHint.SKIP,
    ),
    HintCase(
        "add pod's label that matches topologySpreadConstraints selector",
        PENDING,
        assigned({}),
        assigned({"foo": ""}),
        QueueingHint.QUEUE,
    ),
    HintCase(
        "delete pod's label that matches topologySpreadConstraints selector",
        PENDING,
        assigned({"foo": ""}),
        assigned({}),
        QueueingHint.QUEUE,
    ),
    HintCase(
        "the unschedulable pod got a new toleration with a NodeTaintsPolicy: Honor constraint",
        PENDING_HONOR,
        PENDING_HONOR,
        pod(
            {"foo": ""},
            constraint(1, "zone", DNS, FOO, taints_policy=HONOR),
            name="pending",
            tolerations=[TOLERATE_UNSCHEDULABLE],
        ),
        QueueingHint.QUEUE,
    ),
    HintCase(
        "the unschedulable pod got a new toleration without a Honor constraint",
        PENDING,
        PENDING,
        pod({"foo": ""}, ZONE_FOO, NODE_FOO, name="pending", tolerations=[TOLERATE_UNSCHEDULABLE]),
        QueueingHint.SKIP,
    ),
]


@pytest.mark.parametrize("case", POD_HINTS, ids=lambda c: c.name)
def test_pod_change_hint(case: HintCase) -> None:
    assert hint_for(Resource.ASSIGNED_POD, case.pending, case.old, case.new) is case.want


def node(labels: Labels, taints: tuple[Taint, ...] = ()) -> Node:
    return Node(NodeName("node-a"), labels, taints=taints)


@pytest.mark.parametrize(
    ("old", "new", "want"),
    [
        pytest.param(
            None,
            node({"zone": "z1", "node": "a"}),
            QueueingHint.QUEUE,
            id="node with all keys added",
        ),
        pytest.param(None, node({"zone": "z1"}), QueueingHint.SKIP, id="node without a key added"),
        pytest.param(
            node({"zone": "z1", "node": "a"}),
            None,
            QueueingHint.QUEUE,
            id="node with all keys deleted",
        ),
        pytest.param(
            node({"zone": "z1"}), None, QueueingHint.SKIP, id="node without a key deleted"
        ),
        pytest.param(
            node({"zone": "z1", "node": "a"}),
            node({"zone": "z2", "node": "a"}),
            QueueingHint.QUEUE,
            id="topology value changed",
        ),
        pytest.param(
            node({"zone": "z1"}),
            node({"zone": "z1", "node": "a"}),
            QueueingHint.QUEUE,
            id="node gained the missing key",
        ),
        pytest.param(
            node({"zone": "z1", "node": "a"}),
            node({"zone": "z1", "node": "a", "other": "x"}),
            QueueingHint.SKIP,
            id="unrelated label changed",
        ),
        pytest.param(
            node({"zone": "z1", "node": "a"}),
            node({"zone": "z1", "node": "a"}, (UNSCHEDULABLE_TAINT,)),
            QueueingHint.QUEUE,
            id="taints changed on a matching node",
        ),
    ],
)
def test_node_change_hint(old: Node | None, new: Node | None, want: QueueingHint) -> None:
    assert hint_for(Resource.NODE, PENDING, old, new) is want


# --- through the runtime ------------------------------------------------------------


def framework(nodes: Sequence[NodeInfo], nominated: Mapping[str, list[PodInfo]]) -> Framework:
    # The default profile, which runs this plugin with weight 2.
    spec = ProfileSpec("py-scheduler", multi_point=DEFAULT_MULTI_POINT)
    return Framework(
        spec,
        {**IN_TREE, NAME: SPEC},
        snapshot=FakeSnapshot(nodes),
        objects=FakeObjects(owners=[FOO_SELECTOR]),
        cluster=FakeCluster(),
        nominator=FakeNominator(dict(nominated)),
    )


def zoned(*names_zones: tuple[str, str], pods: Iterable[PodInfo] = ()) -> list[NodeInfo]:
    """Nodes with room for pods, so the other default filters let them through."""
    pods = list(pods)
    return [
        node_info(name, labels={ZONE_LABEL: zone}, pods=[p for p in pods if p.node_name == name])
        for name, zone in names_zones
    ]


def test_through_the_framework_nominated_pods_count_and_victims_are_removed() -> None:
    nodes = zoned(("n1", "z1"), ("n2", "z2"), ("n3", "z3"), pods=on("n1", n=2))
    incoming = pod({"foo": ""}, constraint(1, ZONE_LABEL, DNS, FOO))
    fwk = framework(nodes, {"n2": [pod({"foo": ""}, name="nominee")]})
    state = CycleState()
    _, status, _ = fwk.run_pre_filter(state, incoming, nodes)
    assert status == SUCCESS
    # z1 holds 2 pods (skew 3); the nominee makes z2 count 1 (skew 2) while z3 stays empty.
    assert [fwk.run_filters_with_nominated(state, incoming, n).code for n in nodes] == [U, U, OK]
    assert counts_of(state) == ([{"z1": 2, "z2": 0, "z3": 0}], [0])

    dry_run, n1 = state.clone(), nodes[0].clone()
    for victim in list(n1.pods.values()):
        n1.remove_pod(victim)
        assert fwk.run_pre_filter_remove_pod(dry_run, incoming, victim, n1) == SUCCESS
    assert fwk.run_filters(dry_run, incoming, n1) == SUCCESS
    assert counts_of(state) == ([{"z1": 2, "z2": 0, "z3": 0}], [0])


def test_through_the_framework_system_defaults_score_spread_out_nodes_higher() -> None:
    nodes = zoned(("n1", "z1"), ("n2", "z1"), ("n3", "z2"), pods=[*on("n1", n=3), *on("n2")])
    incoming = pod({"foo": ""})
    fwk = framework(nodes, {})
    state = CycleState()
    _, status, _ = fwk.run_pre_filter(state, incoming, nodes)
    assert status == SUCCESS
    assert NAME in state.skip_filter  # the system defaults are ScheduleAnyway only
    assert fwk.run_pre_score(state, incoming, nodes) == SUCCESS
    assert NAME not in state.skip_score
    totals, status = fwk.run_score(state, incoming, nodes)
    assert status == SUCCESS
    assert totals[2] > totals[1] > totals[0]
