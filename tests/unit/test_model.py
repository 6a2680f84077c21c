"""The model layer: quantities, pod requests (component-helpers' ``PodRequests``
tables), decoding with field paths, selectors, taints and NodeInfo accounting."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

import pytest

from py_scheduler.model import DecodeError, NodeInfo, decode_node, decode_pod
from py_scheduler.model.pod import HostPort
from py_scheduler.model.quantity import QuantityError, int_value, milli_value, parse_quantity
from py_scheduler.model.raw import Fields
from py_scheduler.model.resources import NON_ZERO_DEFAULTS, Resources, pod_requests
from py_scheduler.model.selectors import (
    LabelSelector,
    NodeSelector,
    NodeSelectorTerm,
    Requirement,
    decode_label_selector,
)
from py_scheduler.model.taints import Taint, Toleration, decode_toleration, tolerated
from tests.builders import Raw, make_node, make_pod, raw_node, raw_pod

MI = 2**20

# -- quantities ------------------------------------------------------------------------

QUANTITIES = [
    pytest.param("100m", Fraction(1, 10), id="a milli suffix is a thousandth"),
    pytest.param("1.5Gi", Fraction(3, 2) * 2**30, id="a binary suffix scales by powers of two"),
    pytest.param("1Ki", Fraction(1024), id="Ki is 1024"),
    pytest.param("1k", Fraction(1000), id="k is 1000"),
    pytest.param("1M", Fraction(10**6), id="M is a million"),
    pytest.param("1E", Fraction(10**18), id="a bare E is the exa suffix"),
    pytest.param("1Ei", Fraction(2**60), id="Ei is two to the sixtieth"),
    pytest.param("2e3", Fraction(2000), id="a lowercase exponent multiplies by ten"),
    pytest.param("1E3", Fraction(1000), id="an uppercase E followed by digits is an exponent"),
    pytest.param("5e-3", Fraction(5, 1000), id="a negative exponent divides"),
    pytest.param("250n", Fraction(250, 10**9), id="n is a billionth"),
    pytest.param("3u", Fraction(3, 10**6), id="u is a millionth"),
    pytest.param(".5", Fraction(1, 2), id="a leading dot is allowed"),
    pytest.param("+4", Fraction(4), id="an explicit plus sign is allowed"),
    pytest.param("-4", Fraction(-4), id="a minus sign makes the quantity negative"),
    pytest.param(7, Fraction(7), id="a JSON integer is taken as is"),
    pytest.param(0.1, Fraction(1, 10), id="a JSON float is taken by its decimal spelling"),
]


@pytest.mark.parametrize(("value", "want"), QUANTITIES)
def test_parse_quantity(value: str | int | float, want: Fraction) -> None:
    assert parse_quantity(value) == want


BAD_QUANTITIES = [
    pytest.param("", id="an empty string is refused"),
    pytest.param("abc", id="letters only are refused"),
    pytest.param("1.5.5", id="two decimal points are refused"),
    pytest.param("1Kb", id="an unknown suffix is refused"),
    pytest.param("m", id="a suffix without a number is refused"),
    pytest.param("1e", id="an exponent without digits is refused"),
    pytest.param("1 Gi", id="a space before the suffix is refused"),
    pytest.param(True, id="a JSON boolean is refused"),
    pytest.param(float("inf"), id="an infinite float is refused"),
]


@pytest.mark.parametrize("value", BAD_QUANTITIES)
def test_parse_quantity_rejects(value: Any) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(value)


ROUNDING = [
    pytest.param(milli_value, "1.5m", 2, id="milli value rounds a fraction of a milli up"),
    pytest.param(milli_value, "0.1", 100, id="milli value of a tenth is one hundred"),
    pytest.param(int_value, "100m", 1, id="whole value rounds a fraction up"),
    pytest.param(int_value, "1Gi", 2**30, id="whole value of 1Gi is exact"),
]


@pytest.mark.parametrize(("fn", "value", "want"), ROUNDING)
def test_quantity_rounding_never_shrinks(fn: Callable[[str], int], value: str, want: int) -> None:
    assert fn(value) == want


# -- pod requests ------------------------------------------------------------------------


def cpu(amount: str) -> dict[str, Fraction]:
    return {"cpu": parse_quantity(amount)}


POD_REQUESTS = [
    pytest.param([cpu("1")], [(cpu("1"), True)], {}, Fraction(2), id="a sidecar adds to the total"),
    pytest.param(
        [cpu("1")],
        [(cpu("5"), False), (cpu("1"), True), (cpu("2"), True), (cpu("3"), True)],
        {},
        Fraction(7),
        id="multiple sidecars sum with the containers and beat an earlier init container",
    ),
    pytest.param(
        [cpu("1")],
        [
            (cpu("5"), False),
            (cpu("1"), True),
            (cpu("2"), True),
            (cpu("5"), False),
            (cpu("3"), True),
        ],
        {},
        Fraction(8),
        id="an init container counts the sidecars started before it, not after",
    ),
    pytest.param(
        [cpu("100")],
        [(cpu("10"), True), (cpu("200"), False)],
        {},
        Fraction(210),
        id="a sidecar, then an init container, then regular containers",
    ),
    pytest.param(
        [cpu("1"), cpu("2")],
        [(cpu("2"), False)],
        {},
        Fraction(3),
        id="containers add up and beat a smaller init container",
    ),
    pytest.param(
        [cpu("1")],
        [(cpu("3"), False), (cpu("2"), False)],
        {},
        Fraction(3),
        id="the largest init container wins over the containers",
    ),
    pytest.param(
        [cpu("1")], [], cpu("250m"), Fraction(5, 4), id="overhead is added on top of everything"
    ),
    pytest.param(
        [cpu("1")],
        [(cpu("3"), False)],
        cpu("1"),
        Fraction(4),
        id="overhead is added after the init container maximum",
    ),
]


@pytest.mark.parametrize(("containers", "inits", "overhead", "want"), POD_REQUESTS)
def test_pod_requests_cpu(
    containers: list[dict[str, Fraction]],
    inits: list[tuple[dict[str, Fraction], bool]],
    overhead: dict[str, Fraction],
    want: Fraction,
) -> None:
    got = pod_requests(containers=containers, init_containers=inits, overhead=overhead)
    assert got["cpu"] == want


NON_ZERO = [
    pytest.param({}, [], {}, 100, 200 * MI, id="a requestless container counts the defaults"),
    pytest.param({"cpu": "0", "memory": "0"}, [], {}, 0, 0, id="explicit zeros are not replaced"),
    pytest.param(
        {"cpu": "500m"}, [], {}, 500, 200 * MI, id="only the missing resource gets a default"
    ),
    pytest.param(
        {}, [({}, False)], {}, 100, 200 * MI, id="a requestless init container ties the default"
    ),
    pytest.param(
        {},
        [({}, True)],
        {},
        200,
        400 * MI,
        id="a requestless sidecar adds another default",
    ),
    pytest.param(
        {}, [], {"cpu": "50m"}, 150, 200 * MI, id="overhead adds to the non-zero requests"
    ),
]


@pytest.mark.parametrize(("requests", "inits", "overhead", "want_cpu", "want_memory"), NON_ZERO)
def test_non_zero_requests(
    requests: dict[str, str],
    inits: list[tuple[dict[str, str], bool]],
    overhead: dict[str, str],
    want_cpu: int,
    want_memory: int,
) -> None:
    pod = make_pod("p", requests=requests, init_containers=inits, overhead=overhead)
    assert (pod.non_zero_cpu, pod.non_zero_memory) == (want_cpu, want_memory)


def test_decoded_requests_fold_containers_init_containers_and_overhead() -> None:
    pod = make_pod(
        "p",
        containers=[{"cpu": "500m", "memory": "500Mi"}, {"cpu": "700m", "memory": "800Mi"}],
        init_containers=[({"cpu": "2", "example.com/gpu": "1"}, False)],
        overhead={"cpu": "100m", "memory": "10Mi"},
    )
    assert pod.requests == Resources(
        milli_cpu=2100, memory=1310 * MI, scalars={"example.com/gpu": 1}
    )


def test_a_pod_with_pod_level_resources_keeps_its_name() -> None:
    pod = make_pod(
        "web-0", namespace="prod", requests={"cpu": "100m"}, pod_requests={"memory": "1Gi"}
    )
    assert (pod.key, pod.name) == ("prod/web-0", "web-0")


# component-helpers' PodRequests with pod-level resources, and the scheduler's
# NodeInfo non-zero requests (getNonMissingContainerRequests).
POD_LEVEL = [
    pytest.param(
        [{"cpu": "100m"}, {"cpu": "200m"}],
        {"cpu": "1", "memory": "1Gi"},
        {},
        (1000, 1024 * MI),
        (1000, 1024 * MI),
        id="pod-level cpu and memory replace the container sums",
    ),
    pytest.param(
        [{"cpu": "100m", "example.com/gpu": "2"}],
        {"memory": "1Gi"},
        {},
        (100, 1024 * MI),
        (100, 1024 * MI),
        id="a resource the pod level leaves out comes from the containers",
    ),
    pytest.param(
        [{"cpu": "1"}, {}],
        {"memory": "1Gi"},
        {},
        (1000, 1024 * MI),
        (1000, 1024 * MI),
        id="no cpu default once some level requests cpu",
    ),
    pytest.param(
        [{}, {}],
        {"memory": "1Gi"},
        {},
        (0, 1024 * MI),
        (200, 1024 * MI),
        id="cpu requested at neither level gets the default per container",
    ),
    pytest.param(
        [{"cpu": "100m"}],
        {"cpu": "500m", "hugepages-2Mi": "4Mi"},
        {"cpu": "50m"},
        (550, 0),
        (550, 200 * MI),
        id="overhead adds to pod-level requests",
    ),
]


@pytest.mark.parametrize(("containers", "pod_level", "overhead", "exact", "non_zero"), POD_LEVEL)
def test_pod_level_requests(
    containers: list[dict[str, str]],
    pod_level: dict[str, str],
    overhead: dict[str, str],
    exact: tuple[int, int],
    non_zero: tuple[int, int],
) -> None:
    pod = make_pod("p", containers=containers, pod_requests=pod_level, overhead=overhead)
    assert (pod.requests.milli_cpu, pod.requests.memory) == exact
    assert (pod.non_zero_cpu, pod.non_zero_memory) == non_zero


def test_pod_level_hugepages_replace_the_container_sum() -> None:
    pod = make_pod(
        "p",
        containers=[{"hugepages-2Mi": "2Mi", "example.com/gpu": "1"}],
        pod_requests={"cpu": "1", "hugepages-2Mi": "8Mi"},
    )
    assert pod.requests.scalars == {"hugepages-2Mi": 8 * MI, "example.com/gpu": 1}


def test_container_requests_are_kept_for_scoring_when_the_pod_level_is_set() -> None:
    plain = make_pod("plain", requests={"cpu": "300m"})
    assert plain.container_requests is None
    pod = make_pod(
        "p",
        containers=[{"cpu": "300m"}, {"memory": "1Gi"}],
        pod_requests={"cpu": "2", "memory": "4Gi"},
    )
    assert pod.container_requests == Resources(milli_cpu=300, memory=1024 * MI)
    # Each container's missing cpu or memory counts as the default, as before.
    assert (pod.container_non_zero_cpu, pod.container_non_zero_memory) == (400, 1224 * MI)


def test_non_zero_defaults_are_kube_schedulers() -> None:
    want = {"cpu": Fraction(1, 10), "memory": Fraction(200 * MI)}
    assert want == NON_ZERO_DEFAULTS


def test_resources_round_up_and_ignore_pods() -> None:
    res = Resources.from_amounts(
        {
            "cpu": Fraction(1, 3000),
            "memory": Fraction(3, 2),
            "ephemeral-storage": Fraction(10),
            "pods": Fraction(110),
            "example.com/foo": Fraction(1, 2),
        }
    )
    assert (res.milli_cpu, res.memory, res.ephemeral_storage, res.scalars) == (
        1,
        2,
        10,
        {"example.com/foo": 1},
    )


def test_resources_subtract_drops_scalars_that_reach_zero() -> None:
    total = Resources(100, 10, scalars={"example.com/foo": 2})
    total.subtract(Resources(40, 10, scalars={"example.com/foo": 2}))
    assert (total.milli_cpu, total.memory, total.scalars) == (60, 0, {})
    assert total == Resources(60)


# -- decoding errors name the field ----------------------------------------------------------


def set_path(raw: Raw, path: str, value: object) -> Raw:
    """A deep copy of ``raw`` with the dotted path (list indexes as numbers) set."""
    out = copy.deepcopy(raw)
    keys = path.split(".")
    target: Any = out
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target.setdefault(key, {})
    last = keys[-1]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return out


TWO_CONTAINERS = raw_pod("p", containers=[{"cpu": "1"}, {"cpu": "1"}])
BASE_POD = raw_pod("p")

POD_ERRORS = [
    pytest.param(
        set_path(TWO_CONTAINERS, "spec.containers.1.resources.requests.cpu", "abc"),
        "spec.containers[1].resources.requests.cpu",
        "quantity 'abc' is not a valid Kubernetes quantity",
        id="a malformed request names the container index and resource",
    ),
    pytest.param(
        set_path(BASE_POD, "spec.containers.0.resources", {"requests": {"memory": "-1"}}),
        "spec.containers[0].resources.requests.memory",
        "negative quantity '-1'",
        id="a negative request is refused",
    ),
    pytest.param(
        set_path(BASE_POD, "spec.containers.0.resources", {"requests": {"cpu": True}}),
        "spec.containers[0].resources.requests.cpu",
        "expected a quantity, got True",
        id="a boolean request is refused",
    ),
    pytest.param(
        set_path(BASE_POD, "metadata.name", ""),
        "metadata.name",
        "must be set",
        id="a pod without a name is refused",
    ),
    pytest.param(
        set_path(BASE_POD, "spec.containers", []),
        "spec.containers",
        "a pod needs at least one container",
        id="a pod without containers is refused",
    ),
    pytest.param(
        set_path(BASE_POD, "spec.containers", {"name": "c"}),
        "spec.containers",
        "expected a list, got dict",
        id="containers that are not a list are refused",
    ),
    pytest.param(
        set_path(BASE_POD, "spec.priority", "5"),
        "spec.priority",
        "expected an integer, got '5'",
        id="a string priority is refused",
    ),
    pytest.param(
        set_path(BASE_POD, "metadata.labels", {"app": 1}),
        "metadata.labels.app",
        "expected a string",
        id="a non-string label value names the label",
    ),
    pytest.param(
        set_path(BASE_POD, "metadata.creationTimestamp", "yesterday"),
        "metadata.creationTimestamp",
        "invalid timestamp 'yesterday'",
        id="an unparsable timestamp is refused",
    ),
    pytest.param(
        set_path(BASE_POD, "spec.tolerations", [{"key": "k", "operator": "Maybe"}]),
        "spec.tolerations[0].operator",
        "unknown toleration operator 'Maybe'",
        id="an unknown toleration operator is refused",
    ),
    pytest.param(
        set_path(
            BASE_POD,
            "spec.topologySpreadConstraints",
            [{"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}],
        ),
        "spec.topologySpreadConstraints[0].maxSkew",
        "must be at least 1, got 0",
        id="a spread constraint with zero skew is refused",
    ),
    pytest.param(
        set_path(
            BASE_POD,
            "spec.affinity",
            {
                "nodeAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": 0, "preference": {}}
                    ]
                }
            },
        ),
        "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight",
        "must be in 1..100, got 0",
        id="a preferred node affinity term with weight zero is refused",
    ),
    pytest.param(
        set_path(
            BASE_POD,
            "spec.affinity",
            {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchFields": [
                                    {"key": "metadata.uid", "operator": "In", "values": ["x"]}
                                ]
                            }
                        ]
                    }
                }
            },
        ),
        "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
        ".nodeSelectorTerms[0].matchFields[0].key",
        "unsupported field 'metadata.uid'",
        id="matchFields on anything but metadata.name is refused",
    ),
    pytest.param(
        set_path(
            BASE_POD,
            "spec.affinity",
            {
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "labelSelector": {
                                "matchExpressions": [{"key": "app", "operator": "In"}]
                            },
                            "topologyKey": "zone",
                        }
                    ]
                }
            },
        ),
        "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]"
        ".labelSelector.matchExpressions[0].values",
        "must be non-empty for operator In",
        id="an In expression without values is refused",
    ),
]


@pytest.mark.parametrize(("raw", "path", "problem"), POD_ERRORS)
def test_decode_pod_errors_name_the_field(raw: Raw, path: str, problem: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_pod(raw)
    assert (caught.value.path, caught.value.problem) == (path, problem)
    assert str(caught.value) == f"{path}: {problem}"


@pytest.mark.parametrize(
    "affinity",
    [
        pytest.param(
            {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "n", "operator": "Gt", "values": ["many"]}]}
                    ]
                }
            },
            id="a required Gt that is not an integer",
        ),
        pytest.param(
            {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 1,
                        "preference": {
                            "matchExpressions": [{"key": "n", "operator": "Lt", "values": ["1.5"]}]
                        },
                    }
                ]
            },
            id="a preferred Lt that is not an integer",
        ),
    ],
)
def test_decode_pod_leaves_node_affinity_values_the_api_accepts_to_the_plugin(
    affinity: Raw,
) -> None:
    # The API server accepts these; NodeAffinity judges them as upstream does.
    pod = make_pod("p", affinity={"nodeAffinity": affinity})
    assert pod.key == "default/p"


def test_decode_pod_refuses_a_non_object() -> None:
    with pytest.raises(DecodeError, match=r"^<root>: expected an object, got list$"):
        decode_pod([])  # type: ignore[arg-type]


def test_decode_pod_reads_the_fields_plugins_use() -> None:
    pod = make_pod(
        "web",
        namespace="shop",
        uid="u-1",
        labels={"app": "web"},
        priority=7,
        host_ports=[("", "", 8080), ("10.0.0.1", "UDP", 53)],
        node_selector={"disk": "ssd"},
        gates=["a", "b"],
        tolerations=[{"key": "k", "operator": "Exists"}],
        nominated_node="n9",
        preemption_policy="Never",
    )
    assert (pod.key, pod.uid, pod.priority, pod.nominated_node, pod.preemption_policy) == (
        "shop/web",
        "u-1",
        7,
        "n9",
        "Never",
    )
    assert pod.host_ports == (
        HostPort("0.0.0.0", "TCP", 8080),
        HostPort("10.0.0.1", "UDP", 53),
    )
    assert pod.scheduling_gates == ("a", "b")
    assert pod.tolerations == (Toleration("k", "Exists", "", ""),)
    assert pod.node_selector == {"disk": "ssd"}
    assert pod.created == 1767225600.0


def test_decode_pod_defaults() -> None:
    raw = raw_pod("p")
    del raw["metadata"]["namespace"], raw["metadata"]["uid"], raw["spec"]["schedulerName"]
    pod = decode_pod(raw)
    assert (pod.namespace, pod.uid, pod.scheduler_name, pod.priority, pod.phase) == (
        "default",
        "default/p",
        "default-scheduler",
        0,
        "Pending",
    )


# -- nodes ---------------------------------------------------------------------------------

NODE_ERRORS = [
    pytest.param(
        set_path(raw_node("n"), "metadata.name", ""),
        "metadata.name",
        "must be set",
        id="a node without a name is refused",
    ),
    pytest.param(
        set_path(raw_node("n"), "status.allocatable.cpu", "lots"),
        "status.allocatable.cpu",
        "quantity 'lots' is not a valid Kubernetes quantity",
        id="a malformed allocatable names the resource",
    ),
    pytest.param(
        set_path(raw_node("n"), "spec.taints", [{"key": "k", "effect": "Sometimes"}]),
        "spec.taints[0].effect",
        "unknown taint effect 'Sometimes'",
        id="an unknown taint effect is refused",
    ),
    pytest.param(
        set_path(raw_node("n"), "status.images", [{"names": ["a"], "sizeBytes": "big"}]),
        "status.images[0].sizeBytes",
        "expected an integer, got 'big'",
        id="a non-integer image size is refused",
    ),
]


@pytest.mark.parametrize(("raw", "path", "problem"), NODE_ERRORS)
def test_decode_node_errors_name_the_field(raw: Raw, path: str, problem: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_node(raw)
    assert (caught.value.path, caught.value.problem) == (path, problem)


def test_decode_node_reads_allocatable_images_and_taints() -> None:
    node = make_node(
        "n1",
        allocatable={"cpu": "3500m", "memory": "1Gi", "pods": "110", "example.com/gpu": "2"},
        taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}],
        images=[(["nginx:1", "nginx:latest"], 500)],
        unschedulable=True,
    )
    assert node.allocatable == Resources(3500, 2**30, scalars={"example.com/gpu": 2})
    assert node.allowed_pods == 110
    assert node.taints == (Taint("dedicated", "db", "NoSchedule"),)
    assert dict(node.images) == {"nginx:1": 500, "nginx:latest": 500}
    assert node.unschedulable is True


ZONE_KEYS = [
    pytest.param({}, "", id="a node without topology labels has the empty zone"),
    pytest.param(
        {"topology.kubernetes.io/region": "r1"}, "r1:\x00:", id="a region alone makes a zone key"
    ),
    pytest.param(
        {"topology.kubernetes.io/zone": "z1"}, ":\x00:z1", id="a zone alone makes a zone key"
    ),
    pytest.param(
        {"topology.kubernetes.io/region": "r1", "topology.kubernetes.io/zone": "z1"},
        "r1:\x00:z1",
        id="region and zone together make a zone key",
    ),
]


@pytest.mark.parametrize(("labels", "want"), ZONE_KEYS)
def test_zone_key_matches_node_tree(labels: dict[str, str], want: str) -> None:
    assert make_node("n", labels=labels).zone_key == want


# -- selectors -----------------------------------------------------------------------------

LABELS = {"app": "web", "tier": "front", "gen": "3"}

REQUIREMENTS = [
    pytest.param(Requirement("app", "In", frozenset({"web", "api"})), True, id="In matches"),
    pytest.param(Requirement("app", "In", frozenset({"db"})), False, id="In misses"),
    pytest.param(Requirement("app", "NotIn", frozenset({"db"})), True, id="NotIn matches"),
    pytest.param(
        Requirement("zone", "NotIn", frozenset({"a"})), True, id="NotIn matches a missing key"
    ),
    pytest.param(Requirement("tier", "Exists", frozenset()), True, id="Exists matches"),
    pytest.param(Requirement("zone", "Exists", frozenset()), False, id="Exists misses"),
    pytest.param(Requirement("zone", "DoesNotExist", frozenset()), True, id="DoesNotExist matches"),
    pytest.param(Requirement("gen", "Gt", frozenset({"2"})), True, id="Gt compares as integers"),
    pytest.param(Requirement("gen", "Gt", frozenset({"3"})), False, id="Gt is strict"),
    pytest.param(Requirement("gen", "Lt", frozenset({"10"})), True, id="Lt compares as integers"),
    pytest.param(
        Requirement("app", "Gt", frozenset({"1"})), False, id="Gt on a non-integer label misses"
    ),
    pytest.param(Requirement("zone", "Lt", frozenset({"1"})), False, id="Lt on a missing key"),
]


@pytest.mark.parametrize(("req", "want"), REQUIREMENTS)
def test_requirement_matches(req: Requirement, want: bool) -> None:
    assert req.matches(LABELS) is want


def test_an_empty_label_selector_matches_everything() -> None:
    selector = decode_label_selector(Fields({}))
    assert selector.is_empty
    assert selector.matches({})
    assert selector.matches(LABELS)


def test_label_selector_ands_labels_and_expressions() -> None:
    selector = decode_label_selector(
        Fields(
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["back"]}],
            }
        )
    )
    assert selector == LabelSelector(
        (("app", "web"),), (Requirement("tier", "In", frozenset({"back"})),)
    )
    assert not selector.matches(LABELS)
    assert selector.matches({**LABELS, "tier": "back"})


def test_node_selector_terms_are_ored_and_an_empty_term_matches_nothing() -> None:
    empty = NodeSelectorTerm((), ())
    by_name = NodeSelectorTerm((), (Requirement("metadata.name", "In", frozenset({"n1"})),))
    assert not NodeSelector((empty,)).matches("n1", LABELS)
    assert NodeSelector((empty, by_name)).matches("n1", {})
    assert not NodeSelector((empty, by_name)).matches("n2", {})
    assert by_name.node_names == frozenset({"n1"})


# -- taints ---------------------------------------------------------------------------------

NO_SCHEDULE = Taint("foo", "bar", "NoSchedule")

TOLERATIONS = [
    pytest.param(
        Toleration("", "Exists"), Taint("any", "v", "NoExecute"), True,
        id="an empty key with Exists tolerates every taint",
    ),
    pytest.param(
        Toleration("foo", "Exists", "", "NoSchedule"), Taint("foo", "", "NoSchedule"), True,
        id="same key and effect with Exists and a taint without value",
    ),
    pytest.param(
        Toleration("foo", "Exists", "", "NoSchedule"), NO_SCHEDULE, True,
        id="same key and effect with Exists and a taint with a value",
    ),
    pytest.param(
        Toleration("", "Exists", "", "NoSchedule"), NO_SCHEDULE, True,
        id="same effect with an empty key and Exists matches all keys",
    ),
    pytest.param(
        Toleration("foo", "Equal", "bar", "NoSchedule"), NO_SCHEDULE, True,
        id="same key effect and value with Equal",
    ),
    pytest.param(
        Toleration("foo", "Equal", "baz", "NoSchedule"), NO_SCHEDULE, False,
        id="same key and effect but a different value with Equal",
    ),
    pytest.param(
        Toleration("foo", "Equal", "bar", "NoExecute"), NO_SCHEDULE, False,
        id="same key and value but a different effect",
    ),
    pytest.param(
        Toleration("foo", "Equal", "bar"), NO_SCHEDULE, True,
        id="an empty effect matches every effect",
    ),
    pytest.param(
        Toleration("other", "Exists"), NO_SCHEDULE, False, id="a different key does not match"
    ),
]  # fmt: skip


@pytest.mark.parametrize(("toleration", "taint", "want"), TOLERATIONS)
def test_toleration_tolerates_taint(toleration: Toleration, taint: Taint, want: bool) -> None:
    assert toleration.tolerates(taint) is want
    assert tolerated(taint, [Toleration("x", "Equal", "y"), toleration]) is want


def test_a_toleration_without_operator_is_equal() -> None:
    assert decode_toleration(Fields({"key": "k", "value": "v"})) == Toleration("k", "Equal", "v")


# -- NodeInfo accounting -------------------------------------------------------------------


def with_volume(raw: Raw, volume: Mapping[str, object]) -> Raw:
    return set_path(raw, "spec.volumes", [dict(volume)])


def test_node_info_adds_and_removes_a_pod_exactly() -> None:
    pod = make_pod(
        "p",
        uid="u1",
        requests={"cpu": "250m", "memory": "1Gi"},
        host_ports=[("", "TCP", 80)],
        node_name="n",
        affinity={
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {}, "topologyKey": "zone"}
                ]
            }
        },
    )
    claim = decode_pod(
        with_volume(
            raw_pod("q", uid="u2", node_name="n"),
            {"name": "data", "persistentVolumeClaim": {"claimName": "c1"}},
        )
    )
    node_info = NodeInfo(make_node("n"))
    node_info.add_pod(pod)
    node_info.add_pod(claim)
    assert node_info.requested == Resources(250, 2**30)
    assert (node_info.non_zero_cpu, node_info.non_zero_memory) == (350, 2**30 + 200 * MI)
    assert node_info.used_ports == {HostPort("0.0.0.0", "TCP", 80): 1}
    assert (node_info.pods_with_affinity, node_info.pods_with_required_anti_affinity) == (1, 1)
    assert node_info.pvc_refs == {"default/c1": 1}

    assert node_info.remove_pod(pod) is True
    assert node_info.remove_pod(pod) is False
    node_info.remove_pod(claim)
    assert node_info.requested == Resources()
    assert (node_info.non_zero_cpu, node_info.non_zero_memory) == (0, 0)
    assert (node_info.used_ports, node_info.pvc_refs, node_info.pods) == ({}, {}, {})
    assert (node_info.pods_with_affinity, node_info.pods_with_required_anti_affinity) == (0, 0)


def test_node_info_clone_is_independent() -> None:
    node_info = NodeInfo(make_node("n"))
    node_info.add_pod(make_pod("a", requests={"cpu": "1"}, node_name="n"))
    copy_ = node_info.clone()
    copy_.add_pod(make_pod("b", requests={"cpu": "1"}, node_name="n"))
    assert (node_info.requested.milli_cpu, len(node_info.pods)) == (1000, 1)
    assert (copy_.requested.milli_cpu, len(copy_.pods)) == (2000, 2)
