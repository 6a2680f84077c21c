"""NodeDeclaredFeatures: what a pod's spec needs (upstream component-helpers'
feature tests), PreFilter, Filter and hints (upstream ``nodedeclaredfeatures_test.go``),
by release."""

from __future__ import annotations

from typing import Any

import pytest

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.status import SUCCESS, Status
from py_scheduler.framework.types import ActionType, QueueingHint, Resource
from py_scheduler.model import PodInfo, decode_node, decode_pod
from py_scheduler.model.declared_features import (
    RESTART_ALL_CONTAINERS,
    USER_NAMESPACES_HOST_NETWORK,
    VOLUME_BIND_MOUNT_OPTIONS,
    registered,
)
from py_scheduler.model.node import Node, NodeInfo
from py_scheduler.model.server import ServerVersion, offline
from py_scheduler.plugins.node_declared_features import (
    REASON_UNSATISFIED,
    SPEC,
    NodeDeclaredFeatures,
)
from py_scheduler.scheduling.eventhandlers import node_update_action
from tests.builders import raw_node, raw_pod
from tests.fakes import FakeHandle

V1_35, V1_36, V1_37 = ServerVersion(1, 35), ServerVersion(1, 36), ServerVersion(1, 37)
RESTART = RESTART_ALL_CONTAINERS
USERNS = USER_NAMESPACES_HOST_NETWORK
BIND = VOLUME_BIND_MOUNT_OPTIONS
REJECTED = Status.unresolvable(REASON_UNSATISFIED)


def plugin(release: ServerVersion = V1_37) -> NodeDeclaredFeatures:
    built = SPEC.build(SPEC.args(None), FakeHandle(server=offline(release)))
    assert isinstance(built, NodeDeclaredFeatures)
    return built


def pod(name: str = "p", uid: str | None = None, **spec: Any) -> PodInfo:
    raw = raw_pod(name, uid=uid)
    raw["spec"].update(spec)
    return decode_pod(raw)


def node(name: str = "n", features: list[str] | None = None) -> Node:
    raw = raw_node(name)
    if features is not None:
        raw["status"]["declaredFeatures"] = features
    return decode_node(raw)


def restart_all(kind: str = "containers") -> dict[str, Any]:
    rule = {"action": "RestartAllContainers", "exitCodes": {"operator": "In", "values": [42]}}
    container = {"name": "c", "image": "i", "restartPolicyRules": [rule]}
    spec: dict[str, Any] = {kind: [container]}
    if kind != "containers":
        spec["containers"] = [{"name": "main", "image": "i"}]
    return spec


def bind_mount(kind: str = "containers") -> dict[str, Any]:
    mount = {"name": "v", "mountPath": "/v", "bindMountOptions": ["nosuid"]}
    spec: dict[str, Any] = {kind: [{"name": "c", "image": "i", "volumeMounts": [mount]}]}
    if kind != "containers":
        spec["containers"] = [{"name": "main", "image": "i"}]
    return spec


# -- inference: which features a spec needs -----------------------------------------------

INFERENCE: list[tuple[str, dict[str, Any], frozenset[str]]] = [
    ("no rules", {}, frozenset()),
    ("regular container with rules", restart_all(), frozenset({RESTART})),
    ("init container with rules", restart_all("initContainers"), frozenset({RESTART})),
    (
        "a Restart rule that is not RestartAllContainers",
        {"containers": [{"name": "c", "image": "i", "restartPolicyRules": [
            {"action": "Restart", "exitCodes": {"operator": "In", "values": [1]}}]}]},
        frozenset(),
    ),
    ("HostNetwork true, HostUsers false", {"hostNetwork": True, "hostUsers": False},
     frozenset({USERNS})),
    ("HostNetwork true, HostUsers nil", {"hostNetwork": True}, frozenset()),
    ("HostNetwork true, HostUsers true", {"hostNetwork": True, "hostUsers": True}, frozenset()),
    ("HostNetwork false, HostUsers false", {"hostUsers": False}, frozenset()),
    ("a container mount with bind mount options", bind_mount(), frozenset({BIND})),
    ("an init container mount with bind mount options", bind_mount("initContainers"),
     frozenset({BIND})),
    ("an ephemeral container mount with bind mount options",
     bind_mount("ephemeralContainers"), frozenset({BIND})),
    (
        "an empty bindMountOptions list",
        {"containers": [{"name": "c", "image": "i", "volumeMounts": [
            {"name": "v", "mountPath": "/v", "bindMountOptions": []}]}]},
        frozenset(),
    ),
    ("several features", {**restart_all(), "hostNetwork": True, "hostUsers": False},
     frozenset({RESTART, USERNS})),
]  # fmt: skip


@pytest.mark.parametrize(("name", "spec", "want"), INFERENCE, ids=[c[0] for c in INFERENCE])
def test_a_pods_required_features_are_inferred_from_its_spec(
    name: str, spec: dict[str, Any], want: frozenset[str]
) -> None:
    assert pod(**spec).required_features == want


@pytest.mark.parametrize(
    ("release", "want"),
    [
        pytest.param(V1_35, {RESTART}, id="1.35"),
        pytest.param(V1_36, {RESTART, USERNS}, id="1.36"),
        pytest.param(V1_37, {RESTART, USERNS, BIND}, id="1.37"),
        pytest.param(ServerVersion(1, 34), {RESTART}, id="1.34 as 1.35"),
        pytest.param(ServerVersion(1, 38), {RESTART, USERNS, BIND}, id="1.38 as 1.37"),
    ],
)
def test_each_release_registers_its_own_features(release: ServerVersion, want: set[str]) -> None:
    assert registered(release) == want


def test_a_node_publishes_its_declared_features() -> None:
    assert node(features=[RESTART, "SomethingElse"]).declared_features == {
        RESTART,
        "SomethingElse",
    }
    assert node().declared_features == frozenset()


# -- PreFilter ------------------------------------------------------------------------------

PRE_FILTER: list[tuple[str, ServerVersion, dict[str, Any], frozenset[str] | None]] = [
    ("Pod with feature requirements", V1_37, restart_all(), frozenset({RESTART})),
    ("Pod with multiple feature requirements", V1_37,
     {**bind_mount(), "hostNetwork": True, "hostUsers": False}, frozenset({USERNS, BIND})),
    ("Pod with no requirements", V1_37, {}, None),
    ("a feature the release does not register is not required", V1_36, bind_mount(), None),
    ("only the release's features are kept", V1_36,
     {**bind_mount(), "hostNetwork": True, "hostUsers": False}, frozenset({USERNS})),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "release", "spec", "want"), PRE_FILTER, ids=[c[0] for c in PRE_FILTER]
)
def test_pre_filter(
    name: str, release: ServerVersion, spec: dict[str, Any], want: frozenset[str] | None
) -> None:
    pl = plugin(release)
    state = CycleState()
    result, status = pl.pre_filter(state, pod(**spec), [])
    assert result is None
    if want is None:
        assert status.is_skip
        # Skipped: the framework does not run this plugin's Filter for the pod.
        assert pl.filter(state, pod(**spec), NodeInfo(node())) == SUCCESS
    else:
        assert status == SUCCESS
        assert pl.required(pod(**spec)) == want


# -- Filter ---------------------------------------------------------------------------------

FILTER: list[tuple[str, dict[str, Any], list[str] | None, Status]] = [
    ("Node matches requirements", restart_all(), [RESTART, USERNS], SUCCESS),
    ("Node does not match requirements", restart_all(), [USERNS], REJECTED),
    ("Node with multiple features, pod requires subset",
     {**restart_all("initContainers"), **bind_mount()}, [RESTART, USERNS, BIND], SUCCESS),
    ("Node has no declared features", restart_all(), None, REJECTED),
    ("Node with some but not all required features",
     {**restart_all(), "hostNetwork": True, "hostUsers": False}, [RESTART], REJECTED),
    ("a pod with no requirements fits a node declaring nothing", {}, None, SUCCESS),
]  # fmt: skip


@pytest.mark.parametrize(("name", "spec", "features", "want"), FILTER, ids=[c[0] for c in FILTER])
def test_filter(name: str, spec: dict[str, Any], features: list[str] | None, want: Status) -> None:
    pl = plugin()
    the_pod = pod(**spec)
    state = CycleState()
    pl.pre_filter(state, the_pod, [])
    assert pl.filter(state, the_pod, NodeInfo(node(features=features))) == want


def test_filter_without_pre_filter_state_infers_from_the_pod() -> None:
    assert plugin().filter(CycleState(), pod(**restart_all()), NodeInfo(node())) == REJECTED


def test_on_1_35_the_reason_names_the_missing_features() -> None:
    the_pod = pod(**restart_all())
    status = plugin(V1_35).filter(CycleState(), the_pod, NodeInfo(node(features=[USERNS])))
    assert status == Status.unresolvable(
        "node declared features check failed - unsatisfied requirements: "
        "RestartAllContainersOnContainerExits"
    )


# -- events and hints -----------------------------------------------------------------------


def test_registers_node_add_and_declared_feature_updates_and_pod_updates() -> None:
    got = [(r.event.resource, r.event.action) for r in plugin().events_to_register()]
    assert got == [
        (Resource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_DECLARED_FEATURE),
        (Resource.POD, ActionType.UPDATE),
    ]


def test_a_declared_features_change_is_its_own_node_update() -> None:
    assert node_update_action(node(), node(features=["A"])) == (
        ActionType.UPDATE_NODE_DECLARED_FEATURE
    )
    assert node_update_action(node(features=["A"]), node(features=["A"])) == ActionType(0)


NODE_HINTS: list[tuple[str, Node | None, Node, QueueingHint]] = [
    ("Node Add with feature", None, node(features=["FeatureA"]), QueueingHint.QUEUE),
    ("Node Update (Features Added)", node(), node(features=["FeatureA"]), QueueingHint.QUEUE),
    ("Node Update (Features Unchanged)", node(features=["FeatureA"]),
     node(features=["FeatureA"]), QueueingHint.SKIP),
    ("Node Update (Features Removed)", node(features=["FeatureA"]), node(), QueueingHint.QUEUE),
]  # fmt: skip


@pytest.mark.parametrize(("name", "old", "new", "want"), NODE_HINTS, ids=[c[0] for c in NODE_HINTS])
def test_hint_after_node_change(name: str, old: Node | None, new: Node, want: QueueingHint) -> None:
    (registered_event, _) = plugin().events_to_register()
    assert registered_event.hint is not None
    assert registered_event.hint(pod(**restart_all()), old, new) == want


POD_HINTS: list[tuple[str, dict[str, Any], dict[str, Any], str, QueueingHint]] = [
    ("Pod Update adds requirement", {}, restart_all(), "123", QueueingHint.QUEUE),
    ("Pod Update removes requirement", restart_all(), {}, "123", QueueingHint.QUEUE),
    ("Pod Update with no change in requirements", {}, {"priority": 5}, "123",
     QueueingHint.SKIP),
    ("an update of another pod", {}, restart_all(), "other", QueueingHint.SKIP),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "old", "new", "uid", "want"), POD_HINTS, ids=[c[0] for c in POD_HINTS]
)
def test_hint_after_target_pod_update(
    name: str, old: dict[str, Any], new: dict[str, Any], uid: str, want: QueueingHint
) -> None:
    (_, registered_event) = plugin().events_to_register()
    assert registered_event.hint is not None
    target = pod("test-pod", uid="123")
    got = registered_event.hint(
        target, pod("test-pod", uid=uid, **old), pod("test-pod", uid=uid, **new)
    )
    assert got == want


def test_a_requirement_the_release_does_not_register_changes_nothing() -> None:
    (_, registered_event) = plugin(V1_36).events_to_register()
    assert registered_event.hint is not None
    target = pod("test-pod", uid="123")
    hint = registered_event.hint(target, target, pod("test-pod", uid="123", **bind_mount()))
    assert hint == QueueingHint.SKIP
