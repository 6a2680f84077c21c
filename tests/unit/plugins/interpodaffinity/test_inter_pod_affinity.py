"""InterPodAffinity: PreFilter/Filter with the first-pod rule, symmetry and
namespace selectors; the PreFilter extensions; scoring with
hardPodAffinityWeight and min-max normalisation; args and queueing hints
(upstream ``filtering_test.go``, ``scoring_test.go`` and ``plugin_test.go``).

Upstream's empty namespace is "default" here, and a term upstream leaves
without a topologyKey (which no node carries) uses one no node carries.
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
from py_scheduler.model import Node, NodeInfo, NodeName, PodInfo
from py_scheduler.model.raw import Fields
from py_scheduler.plugins import DEFAULT_MULTI_POINT, IN_TREE
from py_scheduler.plugins.interpodaffinity.args import InterPodAffinityArgs, decode_args
from py_scheduler.plugins.interpodaffinity.plugin import _PRE_FILTER, NAME, SPEC, InterPodAffinity
from tests.builders import make_pod, node_info
from tests.fakes import FakeCluster, FakeHandle, FakeNominator, FakeObjects, FakeSnapshot

Raw = dict[str, Any]
Labels = dict[str, str]

AFFINITY = Status.unresolvable("node(s) didn't match pod affinity rules")
ANTI = Status.unschedulable("node(s) didn't match pod anti-affinity rules")
EXISTING = Status.unschedulable("node(s) didn't satisfy existing pods anti-affinity rules")
BAD_VALUE = (
    'values[0][service]: Invalid value: "{{.bad-value.}}": a valid label must be an empty '
    "string or consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)

TEAM1: Labels = {"team": "team1"}
TEAM2: Labels = {"team": "team2"}
NAMESPACES: dict[str, Labels] = {
    "subteam1.team1": TEAM1,
    "subteam2.team1": TEAM1,
    "subteam1.team2": TEAM2,
    "subteam2.team2": TEAM2,
}

# --- builders -----------------------------------------------------------------------


def expr(key: str, operator: str, *values: str) -> Raw:
    return {"key": key, "operator": operator, **({"values": list(values)} if values else {})}


def In(key: str, *values: str) -> Raw:  # noqa: N802 - reads like the operator
    return expr(key, "In", *values)


def NotIn(key: str, *values: str) -> Raw:  # noqa: N802
    return expr(key, "NotIn", *values)


def Exists(key: str) -> Raw:  # noqa: N802
    return expr(key, "Exists")


def DoesNotExist(key: str) -> Raw:  # noqa: N802
    return expr(key, "DoesNotExist")


def term(
    topology: str,
    *exprs: Raw,
    namespaces: Sequence[str] = (),
    ns_selector: Sequence[Raw] | None = None,
) -> Raw:
    out: Raw = {"labelSelector": {"matchExpressions": list(exprs)}, "topologyKey": topology}
    if namespaces:
        out["namespaces"] = list(namespaces)
    if ns_selector is not None:
        out["namespaceSelector"] = {"matchExpressions": list(ns_selector)} if ns_selector else {}
    return out


def weighted(weight: int, t: Raw) -> Raw:
    return {"weight": weight, "podAffinityTerm": t}


@dataclass(frozen=True)
class Affinity:
    required: tuple[Raw, ...] = ()
    anti: tuple[Raw, ...] = ()
    preferred: tuple[Raw, ...] = ()
    preferred_anti: tuple[Raw, ...] = ()

    def raw(self) -> Raw | None:
        out: Raw = {}
        key_req = "requiredDuringSchedulingIgnoredDuringExecution"
        key_pref = "preferredDuringSchedulingIgnoredDuringExecution"
        if self.required or self.preferred:
            out["podAffinity"] = {key_req: list(self.required), key_pref: list(self.preferred)}
        if self.anti or self.preferred_anti:
            out["podAntiAffinity"] = {key_req: list(self.anti), key_pref: list(self.preferred_anti)}
        return out or None


NO_AFFINITY = Affinity()
_names = itertools.count()


def pod(
    labels: Mapping[str, str] | None = None,
    *,
    node: str = "",
    namespace: str = "default",
    affinity: Affinity = NO_AFFINITY,
    name: str = "",
    deleting: bool = False,
) -> PodInfo:
    return make_pod(
        name or f"pod-{next(_names)}",
        namespace=namespace,
        labels=labels,
        node_name=node,
        affinity=affinity.raw(),
        deleting=deleting,
    )


def cluster(nodes: Iterable[tuple[str, Labels]], pods: Iterable[PodInfo] = ()) -> list[NodeInfo]:
    """Nodes with exactly the given labels; pods on unknown nodes are dropped."""
    infos = {name: NodeInfo(Node(NodeName(name), dict(labels))) for name, labels in nodes}
    for p in pods:
        if p.node_name in infos:
            infos[p.node_name].add_pod(p)
    return list(infos.values())


def plugin(nodes: Sequence[NodeInfo], args: InterPodAffinityArgs | None = None) -> InterPodAffinity:
    handle = FakeHandle(nodes, objects=FakeObjects(namespaces=dict(NAMESPACES)))
    return InterPodAffinity(args or InterPodAffinityArgs(), handle)


def run_filter(incoming: PodInfo, nodes: Sequence[NodeInfo]) -> tuple[Status, list[Status]]:
    p = plugin(nodes)
    state = CycleState()
    _, pre = p.pre_filter(state, incoming, nodes)
    if not pre.is_success:
        return pre, []
    return pre, [p.filter(state, incoming, n) for n in nodes]


# --- TestRequiredAffinitySingleNode -------------------------------------------------

SERVICE: Labels = {"service": "securityscan"}
SECURITY: Labels = {"security": "S1"}
NODE1 = ("node1", {"region": "r1", "zone": "z11"})


def on_node1(labels: Labels = SERVICE, **kwargs: Any) -> PodInfo:
    return pod(labels, node="node1", **kwargs)


@dataclass(frozen=True)
class SingleNodeCase:
    name: str
    pod: PodInfo
    pods: tuple[PodInfo, ...] = ()
    pre_filter: Status = SUCCESS
    filter: Status = SUCCESS


SINGLE_NODE = [
    SingleNodeCase(
        "A pod that has no required pod affinity scheduling rules can schedule onto a node "
        "with no existing pods",
        pod(),
        pre_filter=SKIP,
    ),
    SingleNodeCase(
        "satisfies with requiredDuringSchedulingIgnoredDuringExecution in PodAffinity using In "
        "operator that matches the existing pod",
        pod(
            SECURITY,
            affinity=Affinity(required=(term("region", In("service", "securityscan", "value2")),)),
        ),
        (on_node1(),),
    ),
    SingleNodeCase(
        "satisfies the pod with requiredDuringSchedulingIgnoredDuringExecution in PodAffinity "
        "using not in operator in labelSelector that matches the existing pod",
        pod(
            SECURITY,
            affinity=Affinity(
                required=(term("region", NotIn("service", "securityscan3", "value3")),)
            ),
        ),
        (on_node1(),),
    ),
    SingleNodeCase(
        "Does not satisfy the PodAffinity with labelSelector because of diff Namespace",
        pod(
            SECURITY,
            affinity=Affinity(
                required=(
                    term(
                        "region",
                        In("service", "securityscan", "value2"),
                        namespaces=("DiffNameSpace",),
                    ),
                )
            ),
        ),
        (on_node1(namespace="ns"),),
        filter=AFFINITY,
    ),
    SingleNodeCase(
        "Doesn't satisfy the PodAffinity because of unmatching labelSelector with the existing pod",
        pod(
            SERVICE,
            affinity=Affinity(required=(term("region", In("service", "antivirusscan", "value2")),)),
        ),
        (on_node1(),),
        filter=AFFINITY,
    ),
    SingleNodeCase(
        "satisfies the PodAffinity with different label Operators in multiple "
        "RequiredDuringSchedulingIgnoredDuringExecution ",
        pod(
            SECURITY,
            affinity=Affinity(
                required=(
                    term("region", Exists("service"), DoesNotExist("wrongkey")),
                    term("region", In("service", "securityscan"), NotIn("service", "WrongValue")),
                )
            ),
        ),
        (on_node1(),),
    ),
    SingleNodeCase(
        "The labelSelector requirements(items of matchExpressions) are ANDed, the pod cannot "
        "schedule onto the node because one of the matchExpression item don't match.",
        pod(
            SECURITY,
            affinity=Affinity(
                required=(
                    term("region", Exists("service"), DoesNotExist("wrongkey")),
                    term("region", In("service", "securityscan2"), NotIn("service", "WrongValue")),
                )
            ),
        ),
        (on_node1(),),
        filter=AFFINITY,
    ),
    SingleNodeCase(
        "satisfies the PodAffinity and PodAntiAffinity with the existing pod",
        pod(
            SECURITY,
            affinity=Affinity(
                required=(term("region", In("service", "securityscan", "value2")),),
                anti=(term("node", In("service", "antivirusscan", "value2")),),
            ),
        ),
        (on_node1(),),
    ),
    SingleNodeCase(
        "satisfies the PodAffinity and PodAntiAffinity and PodAntiAffinity symmetry with the "
        "existing pod",
        pod(
            SECURITY,
            affinity=Affinity(
                required=(term("region", In("service", "securityscan", "value2")),),
                anti=(term("node", In("service", "antivirusscan", "value2")),),
            ),
        ),
        (
            on_node1(
                affinity=Affinity(anti=(term("node", In("service", "antivirusscan", "value2")),))
            ),
        ),
    ),
    SingleNodeCase(
        "satisfies the PodAffinity but doesn't satisfy the PodAntiAffinity with the existing pod",
        pod(
            SECURITY,
            affinity=Affinity(
                required=(term("region", In("service", "securityscan", "value2")),),
                anti=(term("zone", In("service", "securityscan", "value2")),),
            ),
        ),
        (on_node1(),),
        filter=ANTI,
    ),
    SingleNodeCase(
        "satisfies the PodAffinity and PodAntiAffinity but doesn't satisfy PodAntiAffinity "
        "symmetry with the existing pod",
        pod(
            SERVICE,
            affinity=Affinity(
                required=(term("region", In("service", "securityscan", "value2")),),
                anti=(term("node", In("service", "antivirusscan", "value2")),),
            ),
        ),
        (
            on_node1(
                affinity=Affinity(anti=(term("zone", In("service", "securityscan", "value2")),))
            ),
        ),
        filter=EXISTING,
    ),
    SingleNodeCase(
        "pod matches its own Label in PodAffinity and that matches the existing pod Labels",
        pod(
            SERVICE,
            affinity=Affinity(
                required=(term("region", NotIn("service", "securityscan", "value2")),)
            ),
        ),
        (pod(SERVICE, node="node2"),),
        filter=AFFINITY,
    ),
    SingleNodeCase(
        "verify that PodAntiAffinity from existing pod is respected when pod has no "
        "AntiAffinity constraints. doesn't satisfy PodAntiAffinity symmetry with the existing pod",
        pod(SERVICE),
        (
            on_node1(
                affinity=Affinity(anti=(term("zone", In("service", "securityscan", "value2")),))
            ),
        ),
        filter=EXISTING,
    ),
    SingleNodeCase(
        "verify that PodAntiAffinity from existing pod is respected when pod has no "
        "AntiAffinity constraints. satisfy PodAntiAffinity symmetry with the existing pod",
        pod(SERVICE),
        (
            on_node1(
                affinity=Affinity(anti=(term("zone", NotIn("service", "securityscan", "value2")),))
            ),
        ),
        pre_filter=SKIP,
    ),
    SingleNodeCase(
        "satisfies the PodAntiAffinity with existing pod but doesn't satisfy PodAntiAffinity "
        "symmetry with incoming pod",
        pod(
            SERVICE,
            affinity=Affinity(
                anti=(term("region", Exists("service")), term("region", Exists("security")))
            ),
        ),
        (on_node1(SECURITY, affinity=Affinity(anti=(term("zone", Exists("security")),))),),
        filter=ANTI,
    ),
    SingleNodeCase(
        "PodAntiAffinity symmetry check a1: incoming pod and existing pod partially match each "
        "other on AffinityTerms",
        pod(
            SERVICE,
            affinity=Affinity(
                anti=(term("zone", Exists("service")), term("zone", Exists("security")))
            ),
        ),
        (on_node1(SECURITY, affinity=Affinity(anti=(term("zone", Exists("security")),))),),
        filter=ANTI,
    ),
    SingleNodeCase(
        "PodAntiAffinity symmetry check a2: incoming pod and existing pod partially match each "
        "other on AffinityTerms",
        pod(SECURITY, affinity=Affinity(anti=(term("zone", Exists("security")),))),
        (
            on_node1(
                SERVICE,
                affinity=Affinity(
                    anti=(term("zone", Exists("service")), term("zone", Exists("security")))
                ),
            ),
        ),
        filter=EXISTING,
    ),
    SingleNodeCase(
        "PodAntiAffinity symmetry check b1: incoming pod and existing pod partially match each "
        "other on AffinityTerms",
        pod(
            {"abc": "", "xyz": ""},
            affinity=Affinity(anti=(term("zone", Exists("abc")), term("zone", Exists("def")))),
        ),
        (
            on_node1(
                {"def": "", "xyz": ""},
                affinity=Affinity(anti=(term("zone", Exists("abc")), term("zone", Exists("def")))),
            ),
        ),
        filter=ANTI,
    ),
    SingleNodeCase(
        "PodAntiAffinity symmetry check b2: incoming pod and existing pod partially match each "
        "other on AffinityTerms",
        pod(
            {"def": "", "xyz": ""},
            affinity=Affinity(anti=(term("zone", Exists("abc")), term("zone", Exists("def")))),
        ),
        (
            on_node1(
                {"abc": "", "xyz": ""},
                affinity=Affinity(anti=(term("zone", Exists("abc")), term("zone", Exists("def")))),
            ),
        ),
        filter=ANTI,
    ),
    SingleNodeCase(
        "PodAffinity fails PreFilter with an invalid affinity label syntax",
        pod(
            SERVICE,
            affinity=Affinity(
                required=(
                    term("region", In("service", "{{.bad-value.}}")),
                    term("node", In("service", "antivirusscan", "value2")),
                )
            ),
        ),
        pre_filter=Status.unresolvable(f"parsing pod: requiredAffinityTerms: {BAD_VALUE}"),
    ),
    SingleNodeCase(
        "PodAntiAffinity fails PreFilter with an invalid antiaffinity label syntax",
        pod(
            SERVICE,
            affinity=Affinity(
                required=(
                    term("region", In("service", "foo")),
                    term("node", In("service", "{{.bad-value.}}")),
                )
            ),
        ),
        pre_filter=Status.unresolvable(f"parsing pod: requiredAffinityTerms: {BAD_VALUE}"),
    ),
    SingleNodeCase(
        "affinity with NamespaceSelector",
        pod(
            SECURITY,
            affinity=Affinity(
                required=(
                    term(
                        "region",
                        In("service", "securityscan", "value2"),
                        ns_selector=[In("team", "team1")],
                    ),
                )
            ),
        ),
        (on_node1(namespace="subteam1.team1"),),
    ),
    SingleNodeCase(
        "affinity with non-matching NamespaceSelector",
        pod(
            SECURITY,
            affinity=Affinity(
                required=(
                    term(
                        "region",
                        In("service", "securityscan", "value2"),
                        ns_selector=[In("team", "team1")],
                    ),
                )
            ),
        ),
        (on_node1(namespace="subteam1.team2"),),
        filter=AFFINITY,
    ),
    SingleNodeCase(
        "anti-affinity with matching NamespaceSelector",
        pod(
            SECURITY,
            namespace="subteam1.team1",
            affinity=Affinity(
                anti=(
                    term(
                        "zone",
                        In("service", "securityscan", "value2"),
                        ns_selector=[In("team", "team1")],
                    ),
                )
            ),
        ),
        (on_node1(namespace="subteam2.team1"),),
        filter=ANTI,
    ),
    SingleNodeCase(
        "anti-affinity with matching all NamespaceSelector",
        pod(
            SECURITY,
            namespace="subteam1.team1",
            affinity=Affinity(
                anti=(term("zone", In("service", "securityscan", "value2"), ns_selector=[]),)
            ),
        ),
        (on_node1(namespace="subteam2.team1"),),
        filter=ANTI,
    ),
    SingleNodeCase(
        "anti-affinity with non-matching NamespaceSelector",
        pod(
            SECURITY,
            namespace="subteam1.team1",
            affinity=Affinity(
                anti=(
                    term(
                        "zone",
                        In("service", "securityscan", "value2"),
                        ns_selector=[In("team", "team1")],
                    ),
                )
            ),
        ),
        (on_node1(namespace="subteam1.team2"),),
    ),
]


@pytest.mark.parametrize("case", SINGLE_NODE, ids=lambda c: c.name)
def test_required_affinity_single_node(case: SingleNodeCase) -> None:
    nodes = cluster([NODE1], case.pods)
    pre, statuses = run_filter(case.pod, nodes)
    assert pre == case.pre_filter
    if pre.is_success:
        assert statuses == [case.filter]


# --- TestRequiredAffinityMultipleNodes ----------------------------------------------

CHINA: Labels = {"region": "China"}
CHINA_AZ1: Labels = {"region": "China", "az": "az1"}
INDIA: Labels = {"region": "India"}


def rzh(region: str, zone: str, host: str) -> Labels:
    return {"region": region, "zone": zone, "hostname": host}


@dataclass(frozen=True)
class MultiNodeCase:
    name: str
    pod: PodInfo
    pods: tuple[PodInfo, ...]
    nodes: tuple[tuple[str, Labels], ...]
    filters: tuple[Status, ...]
    pre_filter: Status = SUCCESS


MULTI_NODE = [
    MultiNodeCase(
        "A pod can be scheduled onto all the nodes that have the same topology key & label value "
        "with one of them has an existing pod that matches the affinity rules",
        pod(affinity=Affinity(required=(term("region", In("foo", "bar")),))),
        (pod({"foo": "bar"}, node="node1"),),
        (("node1", CHINA), ("node2", CHINA_AZ1), ("node3", INDIA)),
        (SUCCESS, SUCCESS, AFFINITY),
    ),
    MultiNodeCase(
        "The affinity rule is to schedule all of the pods of this collection to the same zone. "
        "The first pod of the collection should not be blocked from being scheduled onto any "
        "node, even there's no existing pod that matches the rule anywhere.",
        pod(
            {"foo": "bar", "service": "securityscan"},
            affinity=Affinity(
                required=(
                    term("zone", In("foo", "bar")),
                    term("zone", In("service", "securityscan")),
                )
            ),
        ),
        (pod({"foo": "bar"}, node="nodeA"),),
        (
            ("nodeA", {"zone": "az1", "hostname": "h1"}),
            ("nodeB", {"zone": "az2", "hostname": "h2"}),
        ),
        (SUCCESS, SUCCESS),
    ),
    MultiNodeCase(
        "The first pod of the collection can only be scheduled on nodes labelled with the "
        "requested topology keys",
        pod(
            {"foo": "bar", "service": "securityscan"},
            affinity=Affinity(
                required=(
                    term("zone", In("foo", "bar")),
                    term("zone", In("service", "securityscan")),
                )
            ),
        ),
        (pod({"foo": "bar"}, node="nodeA"),),
        (
            ("nodeA", {"zoneLabel": "az1", "hostname": "h1"}),
            ("nodeB", {"zoneLabel": "az2", "hostname": "h2"}),
        ),
        (AFFINITY, AFFINITY),
    ),
    MultiNodeCase(
        "NodeA and nodeB have same topologyKey and label value. NodeA has an existing pod that "
        "matches the inter pod affinity rule. The pod can not be scheduled onto nodeA and nodeB.",
        pod(affinity=Affinity(anti=(term("region", In("foo", "abc")),))),
        (pod({"foo": "abc"}, node="nodeA"),),
        (
            ("nodeA", {"region": "r1", "hostname": "nodeA"}),
            ("nodeB", {"region": "r1", "hostname": "nodeB"}),
        ),
        (ANTI, ANTI),
    ),
    MultiNodeCase(
        "This test ensures that anti-affinity matches a pod when any term of the anti-affinity "
        "rule matches a pod.",
        pod(
            affinity=Affinity(
                anti=(term("region", In("foo", "abc")), term("zone", In("service", "securityscan")))
            )
        ),
        (pod({"foo": "abc", "service": "securityscan"}, node="nodeA"),),
        (("nodeA", rzh("r1", "z1", "nodeA")), ("nodeB", rzh("r1", "z2", "nodeB"))),
        (ANTI, ANTI),
    ),
    MultiNodeCase(
        "NodeA and nodeB have same topologyKey and label value. NodeA has an existing pod that "
        "matches the inter pod affinity rule. The pod can not be scheduled onto nodeA and nodeB "
        "but can be scheduled onto nodeC",
        pod(affinity=Affinity(anti=(term("region", In("foo", "abc")),))),
        (pod({"foo": "abc"}, node="nodeA"),),
        (("nodeA", CHINA), ("nodeB", CHINA_AZ1), ("nodeC", INDIA)),
        (ANTI, ANTI, SUCCESS),
    ),
    MultiNodeCase(
        "NodeA and nodeB have same topologyKey and label value. NodeA has an existing pod that "
        "matches the inter pod affinity rule. The pod can not be scheduled onto nodeA, nodeB, "
        "but can be scheduled onto nodeC (NodeC has an existing pod that match the inter pod "
        "affinity rule but in different namespace)",
        pod(
            {"foo": "123"},
            namespace="NS1",
            affinity=Affinity(anti=(term("region", In("foo", "bar")),)),
        ),
        (
            pod({"foo": "bar"}, node="nodeA", namespace="NS1"),
            pod(
                node="nodeC",
                namespace="NS2",
                affinity=Affinity(anti=(term("region", In("foo", "123")),)),
            ),
        ),
        (("nodeA", CHINA), ("nodeB", CHINA_AZ1), ("nodeC", INDIA)),
        (ANTI, ANTI, SUCCESS),
    ),
    MultiNodeCase(
        "Test existing pod's anti-affinity: if an existing pod has a term with invalid "
        "topologyKey, labelSelector of the term is firstly checked, and then topologyKey of the "
        "term is also checked",
        pod({"foo": ""}),
        (
            pod(
                node="nodeA",
                affinity=Affinity(anti=(term("invalid-node-label", Exists("foo")),)),
            ),
        ),
        (("nodeA", rzh("r1", "z1", "nodeA")), ("nodeB", rzh("r1", "z1", "nodeB"))),
        (SUCCESS, SUCCESS),
        pre_filter=SKIP,
    ),
    MultiNodeCase(
        "Test incoming pod's anti-affinity: even if labelSelector matches, we still check if "
        "topologyKey matches",
        pod(
            node="nodeA",
            affinity=Affinity(anti=(term("invalid-node-label", Exists("foo")),)),
        ),
        (pod({"foo": ""}, node="nodeA"),),
        (("nodeA", rzh("r1", "z1", "nodeA")), ("nodeB", rzh("r1", "z1", "nodeB"))),
        (SUCCESS, SUCCESS),
    ),
    MultiNodeCase(
        "Test existing pod's anti-affinity: incoming pod wouldn't considered as a fit as it "
        "violates each existingPod's terms on all nodes",
        pod({"foo": "", "bar": ""}),
        (
            pod(node="nodeA", affinity=Affinity(anti=(term("zone", Exists("foo")),))),
            pod(node="nodeA", affinity=Affinity(anti=(term("region", Exists("bar")),))),
        ),
        (("nodeA", rzh("r1", "z1", "nodeA")), ("nodeB", rzh("r1", "z2", "nodeB"))),
        (EXISTING, EXISTING),
    ),
    MultiNodeCase(
        "Test incoming pod's anti-affinity: incoming pod wouldn't considered as a fit as it at "
        "least violates one anti-affinity rule of existingPod",
        pod(affinity=Affinity(anti=(term("zone", Exists("foo")), term("region", Exists("bar"))))),
        (pod({"foo": ""}, node="nodeA"), pod({"bar": ""}, node="nodeB")),
        (("nodeA", rzh("r1", "z1", "nodeA")), ("nodeB", rzh("r1", "z2", "nodeB"))),
        (ANTI, ANTI),
    ),
    MultiNodeCase(
        "Test existing pod's anti-affinity: only when labelSelector and topologyKey both match, "
        "it's counted as a single term match - case when one term has invalid topologyKey",
        pod({"foo": "", "bar": ""}),
        (
            pod(
                node="nodeA",
                affinity=Affinity(
                    anti=(term("invalid-node-label", Exists("foo")), term("zone", Exists("bar")))
                ),
            ),
        ),
        (("nodeA", rzh("r1", "z1", "nodeA")), ("nodeB", rzh("r1", "z2", "nodeB"))),
        (EXISTING, SUCCESS),
    ),
    MultiNodeCase(
        "Test incoming pod's anti-affinity: only when labelSelector and topologyKey both match, "
        "it's counted as a single term match - case when one term has invalid topologyKey",
        pod(
            affinity=Affinity(
                anti=(term("invalid-node-label", Exists("foo")), term("zone", Exists("bar")))
            )
        ),
        (pod({"foo": "", "bar": ""}, node="nodeA", name="podA"),),
        (("nodeA", rzh("r1", "z1", "nodeA")), ("nodeB", rzh("r1", "z2", "nodeB"))),
        (ANTI, SUCCESS),
    ),
    MultiNodeCase(
        "Test existing pod's anti-affinity: only when labelSelector and topologyKey both match, "
        "it's counted as a single term match - case when all terms have valid topologyKey",
        pod({"foo": "", "bar": ""}),
        (
            pod(
                node="nodeA",
                affinity=Affinity(
                    anti=(term("region", Exists("foo")), term("zone", Exists("bar")))
                ),
            ),
        ),
        (("nodeA", rzh("r1", "z1", "nodeA")), ("nodeB", rzh("r1", "z2", "nodeB"))),
        (EXISTING, EXISTING),
    ),
    MultiNodeCase(
        "Test incoming pod's anti-affinity: only when labelSelector and topologyKey both match, "
        "it's counted as a single term match - case when all terms have valid topologyKey",
        pod(affinity=Affinity(anti=(term("region", Exists("foo")), term("zone", Exists("bar"))))),
        (pod({"foo": "", "bar": ""}, node="nodeA"),),
        (("nodeA", rzh("r1", "z1", "nodeA")), ("nodeB", rzh("r1", "z2", "nodeB"))),
        (ANTI, ANTI),
    ),
    MultiNodeCase(
        "Test existing pod's anti-affinity: existingPod on nodeA and nodeB has at least one "
        "anti-affinity term matches incoming pod, so incoming pod can only be scheduled to nodeC",
        pod({"foo": "", "bar": ""}),
        (
            pod(
                node="nodeA",
                affinity=Affinity(
                    anti=(term("zone", Exists("foo")), term("zone", Exists("labelA")))
                ),
            ),
            pod(
                node="nodeB",
                affinity=Affinity(
                    anti=(term("zone", Exists("bar")), term("zone", Exists("labelB")))
                ),
            ),
        ),
        (
            ("nodeA", rzh("r1", "z1", "nodeA")),
            ("nodeB", rzh("r1", "z2", "nodeB")),
            ("nodeC", rzh("r1", "z3", "nodeC")),
        ),
        (EXISTING, EXISTING, SUCCESS),
    ),
    MultiNodeCase(
        "Test incoming pod's affinity: firstly check if all affinityTerms match, and then check "
        "if all topologyKeys match",
        pod(
            affinity=Affinity(required=(term("region", Exists("foo")), term("zone", Exists("bar"))))
        ),
        (pod({"foo": "", "bar": ""}, node="nodeA", name="pod1"),),
        (("nodeA", rzh("r1", "z1", "nodeA")), ("nodeB", rzh("r1", "z1", "nodeB"))),
        (SUCCESS, SUCCESS),
    ),
    MultiNodeCase(
        "Test incoming pod's affinity: firstly check if all affinityTerms match, and then check "
        "if all topologyKeys match, and the match logic should be satisfied on the same pod",
        pod(
            affinity=Affinity(required=(term("region", Exists("foo")), term("zone", Exists("bar"))))
        ),
        (
            pod({"foo": ""}, node="nodeA", name="pod1"),
            pod({"bar": ""}, node="nodeB", name="pod2"),
        ),
        (("nodeA", rzh("r1", "z1", "nodeA")), ("nodeB", rzh("r1", "z2", "nodeB"))),
        (AFFINITY, AFFINITY),
    ),
]


@pytest.mark.parametrize("case", MULTI_NODE, ids=lambda c: c.name)
def test_required_affinity_multiple_nodes(case: MultiNodeCase) -> None:
    nodes = cluster(case.nodes, case.pods)
    pre, statuses = run_filter(case.pod, nodes)
    assert pre == case.pre_filter
    if not pre.is_skip:
        assert statuses == list(case.filters)


def test_filter_without_pre_filter_state_computes_the_counts_itself() -> None:
    nodes = cluster(
        [("node1", CHINA), ("node2", INDIA)],
        [pod({"foo": "bar"}, node="node1")],
    )
    incoming = pod(affinity=Affinity(anti=(term("region", In("foo", "bar")),)))
    p = plugin(nodes)
    assert [p.filter(CycleState(), incoming, n) for n in nodes] == [ANTI, SUCCESS]


def test_terminating_pods_still_count() -> None:
    nodes = cluster([("node1", CHINA)], [pod({"foo": "bar"}, node="node1", deleting=True)])
    incoming = pod(affinity=Affinity(anti=(term("region", In("foo", "bar")),)))
    assert run_filter(incoming, nodes) == (SUCCESS, [ANTI])


def test_a_namespace_selector_never_picks_a_namespace_that_does_not_exist() -> None:
    nodes = cluster([("node1", CHINA)], [pod({"foo": "bar"}, node="node1", namespace="gone")])
    incoming = pod(
        affinity=Affinity(
            anti=(term("region", In("foo", "bar"), ns_selector=[DoesNotExist("team")]),)
        )
    )
    assert run_filter(incoming, nodes) == (SUCCESS, [SUCCESS])


def test_an_existing_pods_namespace_selector_sees_a_missing_namespace_as_unlabelled() -> None:
    nodes = cluster(
        [("node1", CHINA)],
        [
            pod(
                node="node1",
                affinity=Affinity(
                    anti=(term("region", In("foo", "bar"), ns_selector=[DoesNotExist("team")]),)
                ),
            )
        ],
    )
    assert run_filter(pod({"foo": "bar"}, namespace="gone"), nodes) == (SUCCESS, [EXISTING])


# --- TestPreFilterStateAddRemovePod ---------------------------------------------------

LABEL1: Labels = {"region": "r1", "zone": "z11"}
LABEL2: Labels = {"region": "r1", "zone": "z12"}
LABEL3: Labels = {"region": "r2", "zone": "z21"}
FOO_BAR: Labels = {"foo": "bar"}
ANTI_FOO_BAR = Affinity(anti=(term("region", In("foo", "bar")),))
COMPLEX_TERMS = (
    term("region", In("foo", "bar", "buzz")),
    term("zone", NotIn("service", "bar", "security", "test")),
)
ANTI_COMPLEX = Affinity(anti=COMPLEX_TERMS)
AFFINITY_COMPLEX = Affinity(required=COMPLEX_TERMS)
AFFINITY_COMPLEX_ANTI_FOO_BAR = Affinity(required=COMPLEX_TERMS, anti=ANTI_FOO_BAR.anti)

Counts = dict[tuple[str, str], int]


@dataclass(frozen=True)
class AddRemoveCase:
    name: str
    pending: PodInfo
    added: PodInfo
    existing: tuple[PodInfo, ...]
    anti: Counts
    affinity: Counts


ADD_REMOVE = [
    AddRemoveCase(
        "preFilterState anti-affinity terms are updated correctly after adding and removing a pod",
        pod(FOO_BAR, affinity=ANTI_FOO_BAR, name="pending"),
        pod(FOO_BAR, node="nodeB", affinity=ANTI_FOO_BAR, name="addedPod"),
        (pod(FOO_BAR, node="nodeA", name="p1"), pod(node="nodeC", affinity=ANTI_FOO_BAR)),
        {("region", "r1"): 2},
        {},
    ),
    AddRemoveCase(
        "preFilterState anti-affinity terms are updated correctly after adding and removing a pod",
        pod(FOO_BAR, affinity=ANTI_COMPLEX, name="pending"),
        pod(FOO_BAR, node="nodeA", affinity=ANTI_COMPLEX, name="addedPod"),
        (pod(FOO_BAR, node="nodeA", name="p1"), pod(node="nodeC", affinity=ANTI_FOO_BAR)),
        {("region", "r1"): 2, ("zone", "z11"): 2, ("zone", "z21"): 1},
        {},
    ),
    AddRemoveCase(
        "preFilterState matching pod affinity and anti-affinity are updated correctly after "
        "adding and removing a pod",
        pod(FOO_BAR, affinity=AFFINITY_COMPLEX, name="pending"),
        pod(FOO_BAR, node="nodeA", affinity=ANTI_COMPLEX, name="addedPod"),
        (
            pod(FOO_BAR, node="nodeA", name="p1"),
            pod(node="nodeC", affinity=AFFINITY_COMPLEX_ANTI_FOO_BAR),
        ),
        {},
        {("region", "r1"): 2, ("zone", "z11"): 2},
    ),
]


def counts_of(state: CycleState) -> tuple[Counts, Counts, Counts]:
    s = state.read(_PRE_FILTER)
    return dict(s.existing_anti), dict(s.affinity), dict(s.anti)


@pytest.mark.parametrize("case", ADD_REMOVE, ids=lambda c: c.name)
def test_pre_filter_state_add_remove_pod(case: AddRemoveCase) -> None:
    nodes_spec = [("nodeA", LABEL1), ("nodeB", LABEL2), ("nodeC", LABEL3)]

    def pre_filtered(pods: Iterable[PodInfo]) -> tuple[CycleState, list[NodeInfo]]:
        nodes = cluster(nodes_spec, pods)
        state = CycleState()
        _, status = plugin(nodes).pre_filter(state, case.pending, nodes)
        assert status == SUCCESS
        return state, nodes

    all_pods_state, _ = pre_filtered([*case.existing, case.added])
    state, nodes = pre_filtered(case.existing)
    p = plugin(nodes)
    original = counts_of(state)
    node = next(n for n in nodes if n.name == case.added.node_name)

    assert p.add_pod(state, case.pending, case.added, node) == SUCCESS
    _, affinity, anti = counts_of(state)
    assert anti == case.anti
    assert affinity == case.affinity
    assert counts_of(state) == counts_of(all_pods_state)

    assert p.remove_pod(state, case.pending, case.added, node) == SUCCESS
    assert counts_of(state) == original


def test_cloned_pre_filter_state_is_independent() -> None:
    nodes = cluster([("nodeA", LABEL1)], [pod(FOO_BAR, node="nodeA")])
    pending = pod(FOO_BAR, affinity=ANTI_FOO_BAR)
    p = plugin(nodes)
    state = CycleState()
    p.pre_filter(state, pending, nodes)
    copy = state.clone()
    p.add_pod(copy, pending, pod(FOO_BAR, node="nodeA", affinity=ANTI_FOO_BAR), nodes[0])
    assert counts_of(state) == ({}, {}, {("region", "r1"): 1})
    assert counts_of(copy) == ({("region", "r1"): 1}, {}, {("region", "r1"): 2})


# --- TestGetTPMapMatchingIncomingAffinityAntiAffinity ---------------------------------


def on_node_a(*labels: str) -> PodInfo:
    return pod(dict.fromkeys(labels, ""), node="nodeA", name="normal")


@dataclass(frozen=True)
class IncomingCase:
    name: str
    existing: tuple[PodInfo, ...]
    pod: PodInfo
    affinity: Counts
    anti: Counts


HOST_A: Counts = {("hostname", "nodeA"): 1}

INCOMING = [
    IncomingCase("nil test", (), pod(name="aaa-normal"), {}, {}),
    IncomingCase(
        "incoming pod without affinity/anti-affinity causes a no-op",
        (on_node_a("aaa"),),
        pod(name="aaa-normal"),
        {},
        {},
    ),
    IncomingCase(
        "no pod has label that violates incoming pod's affinity and anti-affinity",
        (on_node_a("bbb"),),
        pod(
            affinity=Affinity(
                required=(term("hostname", Exists("aaa")),), anti=(term("hostname", Exists("aaa")),)
            )
        ),
        {},
        {},
    ),
    IncomingCase(
        "existing pod matches incoming pod's affinity and anti-affinity - single term case",
        (on_node_a("aaa"),),
        pod(
            affinity=Affinity(
                required=(term("hostname", Exists("aaa")),), anti=(term("hostname", Exists("aaa")),)
            )
        ),
        HOST_A,
        HOST_A,
    ),
    IncomingCase(
        "existing pod matches incoming pod's affinity and anti-affinity - multiple terms case",
        (on_node_a("aaa", "bbb"),),
        pod(
            affinity=Affinity(
                required=(term("hostname", Exists("aaa")), term("hostname", Exists("bbb"))),
                anti=(term("hostname", Exists("aaa")),),
            )
        ),
        {("hostname", "nodeA"): 2},  # one for each term
        HOST_A,
    ),
    IncomingCase(
        "existing pod not match incoming pod's affinity but matches anti-affinity",
        (on_node_a("aaa"),),
        pod(
            affinity=Affinity(
                required=(term("hostname", Exists("aaa")), term("hostname", Exists("bbb"))),
                anti=(term("hostname", Exists("aaa")), term("hostname", Exists("bbb"))),
            )
        ),
        {},
        HOST_A,
    ),
    IncomingCase(
        "incoming pod's anti-affinity has more than one term - existing pod violates partial "
        "term - case 1",
        (on_node_a("aaa", "bbb"),),
        pod(
            affinity=Affinity(
                required=(term("hostname", Exists("aaa")), term("hostname", Exists("ccc"))),
                anti=(term("hostname", Exists("aaa")), term("hostname", Exists("ccc"))),
            )
        ),
        {},
        HOST_A,
    ),
    IncomingCase(
        "incoming pod's anti-affinity has more than one term - existing pod violates partial "
        "term - case 2",
        (on_node_a("bbb"),),
        pod(
            affinity=Affinity(
                required=(term("hostname", Exists("aaa")), term("hostname", Exists("bbb"))),
                anti=(term("hostname", Exists("aaa")), term("hostname", Exists("bbb"))),
            )
        ),
        {},
        HOST_A,
    ),
]


@pytest.mark.parametrize("case", INCOMING, ids=lambda c: c.name)
def test_incoming_affinity_anti_affinity_counts(case: IncomingCase) -> None:
    nodes = cluster([("nodeA", {"hostname": "nodeA"})], case.existing)
    state = CycleState()
    plugin(nodes).filter(state, case.pod, nodes[0])  # computes the counts on the fly
    _, affinity, anti = counts_of(state)
    assert affinity == case.affinity
    assert anti == case.anti


# --- TestPreferredAffinity ------------------------------------------------------------

RG_CHINA: Labels = {"region": "China"}
RG_INDIA: Labels = {"region": "India"}
AZ1: Labels = {"az": "az1"}
AZ2: Labels = {"az": "az2"}
RG_CHINA_AZ1: Labels = {"region": "China", "az": "az1"}
S1: Labels = {"security": "S1"}
S2: Labels = {"security": "S2"}

STAY_WITH_S1_IN_REGION = Affinity(preferred=(weighted(5, term("region", In("security", "S1"))),))
STAY_WITH_S2_IN_REGION = Affinity(preferred=(weighted(6, term("region", In("security", "S2"))),))
AFFINITY3 = Affinity(
    preferred=(
        weighted(8, term("region", NotIn("security", "S1"), In("security", "S2"))),
        weighted(2, term("region", Exists("security"), DoesNotExist("wrongkey"))),
    )
)
HARD_AFFINITY = Affinity(
    required=(
        term("region", In("security", "S1", "value2")),
        term("region", Exists("security"), DoesNotExist("wrongkey")),
    )
)
AWAY_FROM_S1_IN_AZ = Affinity(preferred_anti=(weighted(5, term("az", In("security", "S1"))),))
AWAY_FROM_S2_IN_AZ = Affinity(preferred_anti=(weighted(5, term("az", In("security", "S2"))),))
STAY_WITH_S1_IN_REGION_AWAY_FROM_S2_IN_AZ = Affinity(
    preferred=(weighted(8, term("region", In("security", "S1"))),),
    preferred_anti=(weighted(5, term("az", In("security", "S2"))),),
)
TEAM1_TERM = term(
    "region",
    In("security", "S1"),
    namespaces=("subteam2.team2",),
    ns_selector=[In("team", "team1")],
)
AFFINITY_NAMESPACE_SELECTOR = Affinity(preferred=(weighted(5, TEAM1_TERM),))
ANTI_AFFINITY_NAMESPACE_SELECTOR = Affinity(preferred_anti=(weighted(5, TEAM1_TERM),))
INVALID_AFFINITY = Affinity(
    preferred=(weighted(8, term("region", In("security", "{{.bad-value.}}"))),)
)
INVALID_ANTI_AFFINITY = Affinity(
    preferred_anti=(weighted(5, term("az", In("security", "{{.bad-value.}}"))),)
)


@dataclass(frozen=True)
class ScoreCase:
    name: str
    pod: PodInfo
    nodes: tuple[tuple[str, Labels], ...]
    pods: tuple[PodInfo, ...] = ()
    want: tuple[int, ...] = ()
    pre_score: Code = Code.SUCCESS
    ignore_preferred: bool = False
    hard_weight: int = 1
    error: str = ""


def on(node: str, labels: Labels | None = None, **kwargs: Any) -> PodInfo:
    return pod(labels, node=node, **kwargs)


THREE_NODES = (("node1", RG_CHINA), ("node2", RG_INDIA), ("node3", AZ1))

PREFERRED = [
    ScoreCase(
        "all nodes are same priority as Affinity is nil",
        pod(S1),
        THREE_NODES,
        pre_score=Code.SKIP,
    ),
    ScoreCase(
        "Affinity: pod that matches topology key & pods in nodes will get high score comparing "
        "to otherswhich doesn't match either pods in nodes or in topology key",
        pod(S1, affinity=STAY_WITH_S1_IN_REGION),
        THREE_NODES,
        (on("node1", S1), on("node2", S2), on("node3", S1)),
        (100, 0, 0),
    ),
    ScoreCase(
        "All the nodes that have the same topology key & label value with one of them has an "
        "existing pod that match the affinity rules, have the same score",
        pod(affinity=STAY_WITH_S1_IN_REGION),
        (("node1", RG_CHINA), ("node2", RG_CHINA_AZ1), ("node3", RG_INDIA)),
        (on("node1", S1),),
        (100, 100, 0),
    ),
    ScoreCase(
        "Affinity: nodes in one region has more matching pods comparing to other region, so the "
        "region which has more matches will get high score",
        pod(S1, affinity=STAY_WITH_S2_IN_REGION),
        (
            ("node1", RG_CHINA),
            ("node2", RG_INDIA),
            ("node3", RG_CHINA),
            ("node4", RG_CHINA),
            ("node5", RG_INDIA),
        ),
        (
            on("node1", S2),
            on("node1", S2),
            on("node2", S2),
            on("node3", S2),
            on("node4", S2),
            on("node5", S2),
        ),
        (100, 0, 100, 100, 0),
    ),
    ScoreCase(
        "Affinity: different Label operators and values for pod affinity scheduling preference, "
        "including some match failures ",
        pod(S1, affinity=AFFINITY3),
        THREE_NODES,
        (on("node1", S1), on("node2", S2), on("node3", S1)),
        (20, 100, 0),
    ),
    ScoreCase(
        "Affinity symmetry: considered only the preferredDuringSchedulingIgnoredDuringExecution "
        "in pod affinity symmetry",
        pod(S2),
        THREE_NODES,
        (
            on("node1", S1, affinity=STAY_WITH_S1_IN_REGION),
            on("node2", S2, affinity=STAY_WITH_S2_IN_REGION),
        ),
        (0, 100, 0),
    ),
    ScoreCase(
        "Affinity symmetry with namespace selector",
        pod(S1, namespace="subteam1.team1"),
        THREE_NODES,
        (
            on("node1", S1, affinity=AFFINITY_NAMESPACE_SELECTOR),
            on("node2", S2, affinity=STAY_WITH_S2_IN_REGION),
        ),
        (100, 0, 0),
    ),
    ScoreCase(
        "AntiAffinity symmetry with namespace selector",
        pod(S1, namespace="subteam1.team1"),
        THREE_NODES,
        (
            on("node1", S1, affinity=ANTI_AFFINITY_NAMESPACE_SELECTOR),
            on("node2", S2, affinity=STAY_WITH_S2_IN_REGION),
        ),
        (0, 100, 100),
    ),
    ScoreCase(
        "Affinity symmetry: considered RequiredDuringSchedulingIgnoredDuringExecution in pod "
        "affinity symmetry",
        pod(S1),
        THREE_NODES,
        (on("node1", S1, affinity=HARD_AFFINITY), on("node2", S2, affinity=HARD_AFFINITY)),
        (100, 100, 0),
    ),
    ScoreCase(
        "Anti Affinity: pod that does not match existing pods in node will get high score ",
        pod(S1, affinity=AWAY_FROM_S1_IN_AZ),
        (("node1", AZ1), ("node2", RG_CHINA)),
        (on("node1", S1), on("node2", S2)),
        (0, 100),
    ),
    ScoreCase(
        "Anti Affinity: pod that does not match topology key & match the pods in nodes will get "
        "higher score comparing to others ",
        pod(S1, affinity=AWAY_FROM_S1_IN_AZ),
        (("node1", AZ1), ("node2", RG_CHINA)),
        (on("node1", S1), on("node2", S1)),
        (0, 100),
    ),
    ScoreCase(
        "Anti Affinity: one node has more matching pods comparing to other node, so the node "
        "which has more unmatches will get high score",
        pod(S1, affinity=AWAY_FROM_S1_IN_AZ),
        (("node1", AZ1), ("node2", RG_INDIA)),
        (on("node1", S1), on("node1", S1), on("node2", S2)),
        (0, 100),
    ),
    ScoreCase(
        "Anti Affinity symmetry: the existing pods in node which has anti affinity match will "
        "get high score",
        pod(S2),
        (("node1", AZ1), ("node2", AZ2)),
        (
            on("node1", S1, affinity=AWAY_FROM_S2_IN_AZ),
            on("node2", S2, affinity=AWAY_FROM_S1_IN_AZ),
        ),
        (0, 100),
    ),
    ScoreCase(
        "Affinity and Anti Affinity: considered only preferredDuringSchedulingIgnoredDuring"
        "Execution in both pod affinity & anti affinity",
        pod(S1, affinity=STAY_WITH_S1_IN_REGION_AWAY_FROM_S2_IN_AZ),
        (("node1", RG_CHINA), ("node2", AZ1)),
        (on("node1", S1), on("node2", S1)),
        (100, 0),
    ),
    ScoreCase(
        "Affinity and Anti Affinity: considering both affinity and anti-affinity, the pod to "
        "schedule and existing pods have the same labels",
        pod(S1, affinity=STAY_WITH_S1_IN_REGION_AWAY_FROM_S2_IN_AZ),
        (
            ("node1", RG_CHINA_AZ1),
            ("node2", RG_INDIA),
            ("node3", RG_CHINA),
            ("node4", RG_CHINA),
            ("node5", RG_INDIA),
        ),
        (
            on("node1", S1),
            on("node1", S1),
            on("node2", S1),
            on("node3", S1),
            on("node3", S1),
            on("node4", S1),
            on("node5", S1),
        ),
        (100, 0, 100, 100, 0),
    ),
    ScoreCase(
        "Affinity and Anti Affinity and symmetry: considered only preferredDuringScheduling"
        "IgnoredDuringExecution in both pod affinity & anti affinity & symmetry",
        pod(S1, affinity=STAY_WITH_S1_IN_REGION_AWAY_FROM_S2_IN_AZ),
        (("node1", RG_CHINA), ("node2", AZ1), ("node3", RG_INDIA), ("node4", AZ2)),
        (
            on("node1", S1),
            on("node2", S2),
            on("node3", affinity=STAY_WITH_S1_IN_REGION_AWAY_FROM_S2_IN_AZ),
            on("node4", affinity=AWAY_FROM_S1_IN_AZ),
        ),
        (100, 0, 100, 0),
    ),
    ScoreCase(
        "Avoid panic when partial nodes in a topology don't have pods with affinity",
        pod(S1),
        (("node1", RG_CHINA), ("node2", RG_CHINA)),
        (on("node1", S1), on("node2", affinity=STAY_WITH_S1_IN_REGION_AWAY_FROM_S2_IN_AZ)),
        (0, 0),
    ),
    ScoreCase(
        "invalid Affinity fails PreScore",
        pod(affinity=INVALID_AFFINITY),
        (("node1", RG_CHINA), ("node2", RG_CHINA)),
        pre_score=Code.ERROR,
        error='Invalid value: "{{.bad-value.}}"',
    ),
    ScoreCase(
        "invalid AntiAffinity fails PreScore",
        pod(affinity=INVALID_ANTI_AFFINITY),
        (("node1", RG_CHINA), ("node2", RG_CHINA)),
        pre_score=Code.ERROR,
        error='Invalid value: "{{.bad-value.}}"',
    ),
    ScoreCase(
        "Affinity with pods matching NamespaceSelector",
        pod(S1, namespace="subteam1.team1", affinity=AFFINITY_NAMESPACE_SELECTOR),
        (("node1", RG_CHINA), ("node2", RG_INDIA)),
        (
            on("node1", S1, namespace="subteam1.team1"),
            on("node1", S1, namespace="subteam1.team1"),
            on("node1", S1, namespace="subteam1.team2"),
            on("node2", S1, namespace="subteam2.team1"),
        ),
        (100, 0),
    ),
    ScoreCase(
        "Affinity with pods matching both NamespaceSelector and Namespaces fields",
        pod(S1, namespace="subteam1.team1", affinity=AFFINITY_NAMESPACE_SELECTOR),
        (("node1", RG_CHINA), ("node2", RG_INDIA)),
        (
            on("node1", S1, namespace="subteam1.team1"),
            on("node1", S1, namespace="subteam1.team1"),
            on("node1", S1, namespace="subteam2.team2"),
            on("node2", S1, namespace="subteam2.team1"),
        ),
        (100, 0),
    ),
    ScoreCase(
        "Affinity with pods matching NamespaceSelector",
        pod(S1, namespace="subteam1.team1", affinity=ANTI_AFFINITY_NAMESPACE_SELECTOR),
        (("node1", RG_CHINA), ("node2", RG_INDIA)),
        (
            on("node1", S1, namespace="subteam1.team1"),
            on("node1", S1, namespace="subteam1.team1"),
            on("node1", S1, namespace="subteam1.team2"),
            on("node2", S1, namespace="subteam2.team1"),
        ),
        (0, 100),
    ),
    ScoreCase(
        "Affinity with pods matching both NamespaceSelector and Namespaces fields",
        pod(S1, namespace="subteam1.team1", affinity=ANTI_AFFINITY_NAMESPACE_SELECTOR),
        (("node1", RG_CHINA), ("node2", RG_INDIA)),
        (
            on("node1", S1, namespace="subteam1.team1"),
            on("node1", S1, namespace="subteam1.team1"),
            on("node1", S1, namespace="subteam2.team2"),
            on("node2", S1, namespace="subteam2.team1"),
        ),
        (0, 100),
    ),
    ScoreCase(
        "Ignore preferred terms of existing pods",
        pod(S2),
        (("node1", RG_CHINA), ("node2", RG_INDIA)),
        (
            on("node1", S1, affinity=STAY_WITH_S1_IN_REGION_AWAY_FROM_S2_IN_AZ),
            on("node2", S2, affinity=STAY_WITH_S2_IN_REGION),
        ),
        pre_score=Code.SKIP,
        ignore_preferred=True,
    ),
    ScoreCase(
        "Do not ignore preferred terms of existing pods",
        pod(S2),
        (("node1", RG_CHINA), ("node2", RG_INDIA)),
        (
            on("node1", S1, affinity=STAY_WITH_S1_IN_REGION_AWAY_FROM_S2_IN_AZ),
            on("node2", S2, affinity=STAY_WITH_S2_IN_REGION),
        ),
        (0, 100),
    ),
    ScoreCase("No nodes to score", pod(S2), (), pre_score=Code.SKIP),
]

# --- TestPreferredAffinityWithHardPodAffinitySymmetricWeight -------------------------

HARD_POD_AFFINITY = Affinity(
    required=(
        term(
            "region",
            In("service", "S1"),
            namespaces=("default", "subteam2.team2"),
            ns_selector=[In("team", "team1")],
        ),
    )
)
SERVICE_S1: Labels = {"service": "S1"}
HARD_PODS = (on("node1", affinity=HARD_POD_AFFINITY), on("node2", affinity=HARD_POD_AFFINITY))

HARD_WEIGHT = [
    ScoreCase("with default weight", pod(SERVICE_S1), THREE_NODES, HARD_PODS, (100, 100, 0)),
    ScoreCase(
        "with zero weight",
        pod(SERVICE_S1),
        THREE_NODES,
        HARD_PODS,
        pre_score=Code.SKIP,
        hard_weight=0,
    ),
    ScoreCase(
        "with no matching namespace",
        pod(SERVICE_S1, namespace="subteam1.team2"),
        THREE_NODES,
        HARD_PODS,
        pre_score=Code.SKIP,
    ),
    ScoreCase(
        "with matching NamespaceSelector",
        pod(SERVICE_S1, namespace="subteam1.team1"),
        THREE_NODES,
        HARD_PODS,
        (100, 100, 0),
    ),
    ScoreCase(
        "with matching Namespaces",
        pod(SERVICE_S1, namespace="subteam2.team2"),
        THREE_NODES,
        HARD_PODS,
        (100, 100, 0),
    ),
]


@pytest.mark.parametrize("case", PREFERRED + HARD_WEIGHT, ids=lambda c: c.name)
def test_preferred_affinity(case: ScoreCase) -> None:
    nodes = cluster(case.nodes, case.pods)
    args = InterPodAffinityArgs(case.hard_weight, case.ignore_preferred)
    p = plugin(nodes, args)
    state = CycleState()
    if case.pre_score is Code.ERROR:
        with pytest.raises(ValueError, match=case.error.replace("{", r"\{").replace(".", r"\.")):
            p.pre_score(state, case.pod, nodes)
        return
    status = p.pre_score(state, case.pod, nodes)
    assert status.code is case.pre_score
    if not status.is_success:
        return
    scores = [p.score(state, case.pod, n) for n in nodes]
    p.normalize_scores(state, case.pod, scores)
    assert tuple(scores) == case.want


def test_scores_are_min_max_normalised_over_negative_raw_scores() -> None:
    nodes = cluster(
        [("node1", RG_CHINA), ("node2", RG_INDIA), ("node3", {"region": "Mars"})],
        [on("node1", S1), on("node1", S1), on("node2", S1)],
    )
    incoming = pod(
        affinity=Affinity(preferred_anti=(weighted(3, term("region", In("security", "S1"))),))
    )
    p = plugin(nodes)
    state = CycleState()
    assert p.pre_score(state, incoming, nodes) == SUCCESS
    raw = [p.score(state, incoming, n) for n in nodes]
    assert raw == [-6, -3, 0]
    p.normalize_scores(state, incoming, raw)
    assert raw == [0, 50, 100]


def test_score_without_pre_score_state_computes_the_topology_scores_itself() -> None:
    nodes = cluster([("node1", RG_CHINA), ("node2", RG_INDIA)], [on("node1", S1)])
    incoming = pod(affinity=STAY_WITH_S1_IN_REGION)
    p = plugin(nodes)
    state = CycleState()
    scores = [p.score(state, incoming, n) for n in nodes]
    p.normalize_scores(state, incoming, scores)
    assert scores == [100, 0]


# --- args ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        pytest.param({}, InterPodAffinityArgs(1, False), id="defaults"),
        pytest.param(
            {"hardPodAffinityWeight": 0, "ignorePreferredTermsOfExistingPods": True},
            InterPodAffinityArgs(0, True),
            id="zero weight turns the symmetry off",
        ),
        pytest.param(
            {"hardPodAffinityWeight": 100}, InterPodAffinityArgs(100, False), id="maximum weight"
        ),
    ],
)
def test_decode_args(raw: Raw, want: InterPodAffinityArgs) -> None:
    assert decode_args(Fields(raw, "args")) == want
    assert SPEC.args(raw) == want


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(
            {"hardPodAffinityWeight": -1},
            "args.hardPodAffinityWeight: Invalid value: -1: not in valid range [0-100]",
            id="negative weight",
        ),
        pytest.param(
            {"hardPodAffinityWeight": 101},
            "args.hardPodAffinityWeight: Invalid value: 101: not in valid range [0-100]",
            id="weight above 100",
        ),
        pytest.param({"weight": 1}, "args.weight: unknown field", id="unknown field"),
        pytest.param(
            {"ignorePreferredTermsOfExistingPods": "yes"},
            "args.ignorePreferredTermsOfExistingPods: expected a boolean",
            id="wrong type",
        ),
    ],
)
def test_decode_args_rejects(raw: Raw, message: str) -> None:
    with pytest.raises(ArgsError) as caught:
        decode_args(Fields(raw, "args"))
    assert message in str(caught.value)


# --- queueing hints -------------------------------------------------------------------


def hint(kind: Resource, pending: PodInfo, old: object | None, new: object | None) -> QueueingHint:
    p = plugin([])
    for entry in p.events_to_register():
        if entry.event.resource is kind:
            assert entry.hint is not None
            return entry.hint(pending, old, new)
    raise AssertionError(f"no event registered for {kind}")


def test_events_to_register() -> None:
    events = {e.event.resource: e.event.action for e in plugin([]).events_to_register()}
    assert events == {
        Resource.ASSIGNED_POD: ActionType.ADD | ActionType.UPDATE_POD_LABEL | ActionType.DELETE,
        Resource.NODE: ActionType.ADD | ActionType.UPDATE_NODE_LABEL | ActionType.UPDATE_NODE_TAINT,
    }


AFFINE = pod({"app": "web"}, affinity=Affinity(required=(term("zone", In("app", "db")),)))
REPELLING = pod({"app": "web"}, affinity=Affinity(anti=(term("zone", In("app", "db")),)))
SELF_AFFINE = pod({"app": "db"}, affinity=Affinity(required=(term("zone", In("app", "db")),)))
DB: Labels = {"app": "db"}
CACHE: Labels = {"app": "cache"}


@dataclass(frozen=True)
class HintCase:
    name: str
    pending: PodInfo
    old: PodInfo | None
    new: PodInfo | None
    want: QueueingHint


POD_HINTS = [
    HintCase("an unscheduled pod never helps", AFFINE, None, pod(DB), QueueingHint.SKIP),
    HintCase(
        "an added pod matching the affinity queues",
        AFFINE,
        None,
        on("n1", DB),
        QueueingHint.QUEUE,
    ),
    HintCase(
        "an added pod not matching the affinity is skipped",
        AFFINE,
        None,
        on("n1", CACHE),
        QueueingHint.SKIP,
    ),
    HintCase(
        "a pod updated to match the affinity queues",
        AFFINE,
        on("n1", CACHE, name="x"),
        on("n1", DB, name="x"),
        QueueingHint.QUEUE,
    ),
    HintCase(
        "a pod updated to stop matching the anti-affinity queues",
        REPELLING,
        on("n1", DB, name="x"),
        on("n1", CACHE, name="x"),
        QueueingHint.QUEUE,
    ),
    HintCase(
        "a pod update unrelated to the terms is skipped",
        REPELLING,
        on("n1", CACHE, name="x"),
        on("n1", {"app": "cache", "v": "2"}, name="x"),
        QueueingHint.SKIP,
    ),
    HintCase(
        "a deleted pod matching the anti-affinity queues",
        REPELLING,
        on("n1", DB),
        None,
        QueueingHint.QUEUE,
    ),
    HintCase(
        "a deleted pod whose own anti-affinity repelled the pending pod queues",
        pod({"app": "web"}),
        on("n1", affinity=Affinity(anti=(term("zone", In("app", "web")),))),
        None,
        QueueingHint.QUEUE,
    ),
    HintCase(
        "a deleted peer of a self-affine pod queues (the first-pod rule may now apply)",
        SELF_AFFINE,
        on("n1", DB),
        None,
        QueueingHint.QUEUE,
    ),
    HintCase(
        "an unrelated deleted pod is skipped",
        REPELLING,
        on("n1", CACHE),
        None,
        QueueingHint.SKIP,
    ),
]


@pytest.mark.parametrize("case", POD_HINTS, ids=lambda c: c.name)
def test_pod_change_hint(case: HintCase) -> None:
    assert hint(Resource.ASSIGNED_POD, case.pending, case.old, case.new) is case.want


@pytest.mark.parametrize(
    ("pending", "labels", "want"),
    [
        pytest.param(AFFINE, {"zone": "z1"}, QueueingHint.QUEUE, id="node with an affinity key"),
        pytest.param(REPELLING, {"zone": "z1"}, QueueingHint.QUEUE, id="node with an anti key"),
        pytest.param(AFFINE, {"rack": "r1"}, QueueingHint.SKIP, id="node without the keys"),
    ],
)
def test_node_change_hint(pending: PodInfo, labels: Labels, want: QueueingHint) -> None:
    new = Node(NodeName("n"), labels)
    assert hint(Resource.NODE, pending, None, new) is want


# --- through the runtime ------------------------------------------------------------


def schedulable(
    nodes: Iterable[tuple[str, Labels]], pods: Iterable[PodInfo] = ()
) -> list[NodeInfo]:
    """Nodes with room for pods, so the other default filters let them through."""
    pods = list(pods)
    return [
        node_info(name, labels=labels, pods=[p for p in pods if p.node_name == name])
        for name, labels in nodes
    ]


def framework(nodes: Sequence[NodeInfo], nominated: Mapping[str, list[PodInfo]]) -> Framework:
    # The default profile, which runs this plugin with weight 2.
    spec = ProfileSpec("py-scheduler", multi_point=DEFAULT_MULTI_POINT)
    return Framework(
        spec,
        {**IN_TREE, NAME: SPEC},
        snapshot=FakeSnapshot(nodes),
        objects=FakeObjects(namespaces=dict(NAMESPACES)),
        cluster=FakeCluster(),
        nominator=FakeNominator(dict(nominated)),
    )


def test_framework_nominated_pods_repel_and_unmatched_preferences_skip_scoring() -> None:
    nodes = schedulable(
        [("node1", RG_CHINA), ("node2", RG_INDIA), ("node3", {"region": "Mars"})],
        [on("node1", S1)],
    )
    incoming = pod(
        S2,
        affinity=Affinity(
            anti=(term("region", In("security", "S1")),),
            preferred=(weighted(5, term("region", In("security", "S3"))),),
        ),
    )
    nominee = pod(S1, name="nominee")
    fwk = framework(nodes, {"node2": [nominee]})
    state = CycleState()
    _, status, _ = fwk.run_pre_filter(state, incoming, nodes)
    assert status == SUCCESS
    assert [fwk.run_filters_with_nominated(state, incoming, n).code for n in nodes] == [
        Code.UNSCHEDULABLE,
        Code.UNSCHEDULABLE,
        Code.SUCCESS,
    ]
    # The nominated pass works on a clone: the cycle's own counts are untouched.
    assert counts_of(state)[2] == {("region", "China"): 1}
    feasible = nodes[2:]
    assert fwk.run_pre_score(state, incoming, feasible) == SUCCESS
    assert NAME in state.skip_score  # nothing in the cluster matches the preferred term


def test_through_the_framework_a_victim_removal_lifts_the_anti_affinity() -> None:
    victim = on("node1", S1)
    nodes = schedulable([("node1", RG_CHINA)], [victim])
    incoming = pod(S2, affinity=Affinity(anti=(term("region", In("security", "S1")),)))
    fwk = framework(nodes, {})
    state = CycleState()
    fwk.run_pre_filter(state, incoming, nodes)
    assert fwk.run_filters(state, incoming, nodes[0]).code is Code.UNSCHEDULABLE
    dry_run, node = state.clone(), nodes[0].clone()
    node.remove_pod(victim)
    assert fwk.run_pre_filter_remove_pod(dry_run, incoming, victim, node) == SUCCESS
    assert fwk.run_filters(dry_run, incoming, node) == SUCCESS
    assert fwk.run_filters(state, incoming, nodes[0]).code is Code.UNSCHEDULABLE


def test_through_the_framework_preferred_affinity_raises_the_weighted_total() -> None:
    # One pod on each node, so the resource scores are alike.
    nodes = schedulable(
        [("node1", RG_CHINA), ("node2", RG_INDIA)], [on("node1", S1), on("node2", S2)]
    )
    incoming = pod(S2, affinity=STAY_WITH_S1_IN_REGION)
    fwk = framework(nodes, {})
    state = CycleState()
    fwk.run_pre_filter(state, incoming, nodes)
    assert fwk.run_pre_score(state, incoming, nodes) == SUCCESS
    totals, status = fwk.run_score(state, incoming, nodes)
    assert status == SUCCESS
    # Weight 2 on a normalised 100 versus 0; the other plugins score both nodes alike.
    assert totals[0] - totals[1] == 200
