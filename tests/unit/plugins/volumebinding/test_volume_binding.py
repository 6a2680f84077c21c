"""VolumeBinding: claim classification, per-node matching and provisioning,
the assume cache, PreBind writes and waits, args and hints (upstream
``volume_binding_test.go`` and ``binder_test.go`` where they apply).

We test these aspects: PreFilter's pod-level verdicts in upstream's words;
Filter's per-node reasons; the smallest fitting volume; dynamic provisioning
within allowed topologies; Reserve keeping two pods off one volume and
Unreserve giving it back; PreBind's writes, its wait for the PV controller,
its timeout and the signals that binding was undone.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from py_scheduler.cluster import Conflict
from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.registry import ArgsError
from py_scheduler.framework.status import SKIP, SUCCESS, Code, Status
from py_scheduler.framework.types import QueueingHint
from py_scheduler.model import NodeInfo, NodeName, PodInfo
from py_scheduler.model import volumes as vol
from py_scheduler.plugins.volumebinding import volume_binding as vb
from py_scheduler.plugins.volumebinding.prebind import BindingError, PodVolumes, check_bindings
from py_scheduler.plugins.volumebinding.volume_binding import SPEC, VolumeBinding
from tests.builders import make_pod, make_pv, make_pvc, make_storage_class, node_info
from tests.fakes import FakeCluster, FakeHandle, FakeObjects

HOSTNAME = "kubernetes.io/hostname"
WAIT = make_storage_class("wait-sc")
WAIT_HDD = make_storage_class("wait-hdd-sc")
IMMEDIATE = make_storage_class("immediate-sc", mode=vol.BINDING_IMMEDIATE)
DYNAMIC = make_storage_class("dynamic-sc", provisioner="example.com/disk")
ZONED = make_storage_class(
    "zoned-sc", provisioner="example.com/disk", allowed_topologies={"zone": ["a"]}
)
CLASSES = [WAIT, WAIT_HDD, IMMEDIATE, DYNAMIC, ZONED]


def pod_with(*claims: str, ephemeral: tuple[str, ...] = (), uid: str | None = None) -> PodInfo:
    volumes: list[dict[str, Any]] = [
        {"name": f"v-{c}", "persistentVolumeClaim": {"claimName": c}} for c in claims
    ]
    volumes += [{"name": e, "ephemeral": {"volumeClaimTemplate": {}}} for e in ephemeral]
    return make_pod("pod-a", volumes=volumes, uid=uid)


@dataclass
class Setup:
    claims: list[vol.PersistentVolumeClaim] = field(default_factory=list)
    volumes: list[vol.PersistentVolume] = field(default_factory=list)
    nodes: list[NodeInfo] = field(default_factory=lambda: [node_info("node-a")])
    timeout: int = 600

    def build(self) -> tuple[VolumeBinding, FakeHandle]:
        objects = FakeObjects(claims=list(self.claims), volumes=list(self.volumes), classes=CLASSES)
        handle = FakeHandle(self.nodes, objects=objects, cluster=FakeCluster())
        built = SPEC.build(SPEC.args({"bindTimeoutSeconds": self.timeout}), handle)
        assert isinstance(built, VolumeBinding)
        return built, handle


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vb, "POLL_INTERVAL", 0.001)


def run_filters(plugin: VolumeBinding, pod: PodInfo, nodes: list[NodeInfo]) -> list[Status]:
    state = CycleState()
    _, status = plugin.pre_filter(state, pod, nodes)
    assert status.is_success, status
    return [plugin.filter(state, pod, n) for n in nodes]


# -- PreFilter ------------------------------------------------------------------------

PRE_FILTER: list[tuple[str, PodInfo, list[vol.PersistentVolumeClaim], Status]] = [
    ("a pod without claims skips the plugin", make_pod("pod-a"), [], SKIP),
    (
        "all claims bound",
        pod_with("pvc-a"),
        [make_pvc("pvc-a", "wait-sc", bound_to="pv-a")],
        SUCCESS,
    ),
    (
        "a missing claim",
        pod_with("pvc-a"),
        [],
        Status.unresolvable('persistentvolumeclaim "pvc-a" not found'),
    ),
    (
        "one of two claims missing",
        pod_with("pvc-a", "pvc-b"),
        [make_pvc("pvc-a", "wait-sc", bound_to="pv-a")],
        Status.unresolvable('persistentvolumeclaim "pvc-b" not found'),
    ),
    (
        "an immediate claim not bound yet",
        pod_with("pvc-a"),
        [make_pvc("pvc-a", "immediate-sc")],
        Status.unresolvable(vb.REASON_UNBOUND_IMMEDIATE),
    ),
    (
        "a claim without a class binds immediately",
        pod_with("pvc-a"),
        [make_pvc("pvc-a", "")],
        Status.unresolvable(vb.REASON_UNBOUND_IMMEDIATE),
    ),
    (
        "a claim whose class does not exist binds immediately",
        pod_with("pvc-a"),
        [make_pvc("pvc-a", "no-such-class")],
        Status.unresolvable(vb.REASON_UNBOUND_IMMEDIATE),
    ),
    (
        "a claim pre-bound by its author is the PV controller's",
        pod_with("pvc-a"),
        [make_pvc("pvc-a", "wait-sc", volume_name="pv-a")],
        Status.unresolvable(vb.REASON_UNBOUND_IMMEDIATE),
    ),
    (
        "a lost claim",
        pod_with("pvc-a"),
        [make_pvc("pvc-a", "wait-sc", bound_to="pv-a", phase="Lost")],
        Status.unresolvable(
            'persistentvolumeclaim "pvc-a" bound to non-existent persistentvolume "pv-a"'
        ),
    ),
    (
        "a claim being deleted",
        pod_with("pvc-a"),
        [make_pvc("pvc-a", "wait-sc", deleting=True)],
        Status.unresolvable('persistentvolumeclaim "pvc-a" is being deleted'),
    ),
    (
        "an ephemeral volume whose claim is not created yet",
        pod_with(ephemeral=("scratch",)),
        [],
        Status.unresolvable(
            "waiting for ephemeral volume controller to create the persistentvolumeclaim "
            '"pod-a-scratch"'
        ),
    ),
    (
        "an ephemeral volume whose claim belongs to another pod",
        pod_with(ephemeral=("scratch",), uid="me"),
        [make_pvc("pod-a-scratch", "wait-sc", owner_uid="someone-else")],
        Status.unresolvable(
            "PVC default/pod-a-scratch was not created for pod default/pod-a (pod is not owner)"
        ),
    ),
    (
        "an ephemeral volume with its own claim, waiting for a consumer",
        pod_with(ephemeral=("scratch",), uid="me"),
        [make_pvc("pod-a-scratch", "wait-sc", owner_uid="me")],
        SUCCESS,
    ),
]


@pytest.mark.parametrize(
    ("pod", "claims", "want"),
    [pytest.param(p, c, w, id=name) for name, p, c, w in PRE_FILTER],
)
def test_pre_filter(pod: PodInfo, claims: list[vol.PersistentVolumeClaim], want: Status) -> None:
    plugin, _ = Setup(claims=claims).build()
    _, status = plugin.pre_filter(CycleState(), pod, [])
    assert status == want


# -- Filter ---------------------------------------------------------------------------


def on_host(name: str, storage_class: str = "wait-sc", **kwargs: Any) -> dict[str, Any]:
    return {"storage_class": storage_class, "node_affinity": {HOSTNAME: [name]}, **kwargs}


def _host_in(name: str) -> dict[str, Any]:
    return {"key": HOSTNAME, "operator": "In", "values": [name]}


FILTER: list[tuple[str, PodInfo, Setup, list[Status]]] = [
    (
        "a bound volume reachable from the node",
        pod_with("pvc-a"),
        Setup(
            claims=[make_pvc("pvc-a", "wait-sc", bound_to="pv-a")],
            volumes=[make_pv("pv-a", "wait-sc", phase="Bound")],
        ),
        [SUCCESS],
    ),
    (
        "unbound claim without any volume",
        pod_with("pvc-a"),
        Setup(claims=[make_pvc("pvc-a", "wait-sc")]),
        [Status.unresolvable(vb.REASON_BIND_CONFLICT)],
    ),
    (
        "bound and unbound both unsatisfied",
        pod_with("pvc-a", "pvc-b"),
        Setup(
            claims=[
                make_pvc("pvc-a", "wait-sc", bound_to="pv-a"),
                make_pvc("pvc-b", "wait-sc"),
            ],
            volumes=[make_pv("pv-a", "wait-sc", node_affinity={"foo": ["bar"]})],
            nodes=[node_info("node-a", labels={"foo": "barbar"})],
        ),
        [Status.unresolvable(vb.REASON_NODE_CONFLICT, vb.REASON_BIND_CONFLICT)],
    ),
    (
        "a bound claim whose volume does not exist",
        pod_with("pvc-a"),
        Setup(claims=[make_pvc("pvc-a", "wait-sc", bound_to="pv-a")]),
        [Status.unresolvable(vb.REASON_PV_NOT_EXIST)],
    ),
    (
        "local volumes: each node judged by the volumes it can reach",
        pod_with("pvc-a"),
        Setup(
            claims=[make_pvc("pvc-a", "wait-sc", request="50Gi")],
            volumes=[
                make_pv("pv-a-0", **on_host("node-a", capacity="200Gi")),
                make_pv("pv-b-0", **on_host("node-b", capacity="100Gi")),
            ],
            nodes=[node_info("node-a"), node_info("node-b"), node_info("node-c")],
        ),
        [SUCCESS, SUCCESS, Status.unresolvable(vb.REASON_BIND_CONFLICT)],
    ),
    (
        "a volume too small, of another class, mode or access mode does not match",
        pod_with("pvc-a"),
        Setup(
            claims=[make_pvc("pvc-a", "wait-sc", request="5Gi", access_modes=["ReadWriteMany"])],
            volumes=[
                make_pv(
                    "small", **on_host("node-a", capacity="1Gi", access_modes=["ReadWriteMany"])
                ),
                make_pv("hdd", **on_host("node-a", "wait-hdd-sc", capacity="9Gi")),
                make_pv("rwo", **on_host("node-a", capacity="9Gi")),
                make_pv("taken", **on_host("node-a", capacity="9Gi", claim=("default", "other"))),
                make_pv("released", **on_host("node-a", capacity="9Gi", phase="Released")),
            ],
        ),
        [Status.unresolvable(vb.REASON_BIND_CONFLICT)],
    ),
    (
        "a volume pre-bound to the claim decides the node, even where another volume fits",
        pod_with("pvc-a"),
        Setup(
            claims=[make_pvc("pvc-a", "wait-sc")],
            volumes=[
                make_pv("mine", **on_host("node-b", claim=("default", "pvc-a"))),
                make_pv("free", **on_host("node-a")),
            ],
            nodes=[node_info("node-a"), node_info("node-b")],
        ),
        [Status.unresolvable(vb.REASON_BIND_CONFLICT), SUCCESS],
    ),
    (
        "a volume pinned by two affinity terms is offered on both hosts",
        pod_with("pvc-a"),
        Setup(
            claims=[make_pvc("pvc-a", "wait-sc")],
            volumes=[
                vol.decode_pv(
                    {
                        "metadata": {"name": "shared"},
                        "spec": {
                            "capacity": {"storage": "1Gi"},
                            "accessModes": ["ReadWriteOnce"],
                            "storageClassName": "wait-sc",
                            "nodeAffinity": {
                                "required": {
                                    "nodeSelectorTerms": [
                                        {"matchExpressions": [_host_in("node-a")]},
                                        {"matchExpressions": [_host_in("node-c")]},
                                    ]
                                }
                            },
                        },
                    }
                )
            ],
            nodes=[node_info("node-a"), node_info("node-b"), node_info("node-c")],
        ),
        [SUCCESS, Status.unresolvable(vb.REASON_BIND_CONFLICT), SUCCESS],
    ),
    (
        "a claim given a selected node can only go there",
        pod_with("pvc-a"),
        Setup(
            claims=[make_pvc("pvc-a", "dynamic-sc", annotations={vol.ANN_SELECTED_NODE: "node-b"})],
            nodes=[node_info("node-a"), node_info("node-b")],
        ),
        [Status.unresolvable(vb.REASON_BIND_CONFLICT), SUCCESS],
    ),
    (
        "dynamic provisioning where the class's allowed topologies reach",
        pod_with("pvc-a"),
        Setup(
            claims=[make_pvc("pvc-a", "zoned-sc")],
            nodes=[
                node_info("node-a", labels={"zone": "a"}),
                node_info("node-b", labels={"zone": "b"}),
            ],
        ),
        [SUCCESS, Status.unresolvable(vb.REASON_BIND_CONFLICT)],
    ),
]


@pytest.mark.parametrize(
    ("pod", "setup", "want"),
    [pytest.param(p, s, w, id=name) for name, p, s, w in FILTER],
)
def test_filter(pod: PodInfo, setup: Setup, want: list[Status]) -> None:
    plugin, _ = setup.build()
    assert run_filters(plugin, pod, setup.nodes) == want


def test_the_smallest_fitting_volume_is_chosen() -> None:
    setup = Setup(
        claims=[make_pvc("pvc-a", "wait-sc", request="50Gi")],
        volumes=[
            make_pv("big", **on_host("node-a", capacity="200Gi")),
            make_pv("snug", **on_host("node-a", capacity="60Gi")),
            make_pv("tiny", **on_host("node-a", capacity="10Gi")),
        ],
    )
    plugin, _ = setup.build()
    state = CycleState()
    pod = pod_with("pvc-a")
    plugin.pre_filter(state, pod, setup.nodes)
    assert plugin.filter(state, pod, setup.nodes[0]).is_success
    plugin.reserve(state, pod, NodeName("node-a"))
    assert plugin._pv("snug") is not None
    assert plugin._pv("snug").claim_ref == vol.ClaimRef("default", "pvc-a", "uid-pvc-default-pvc-a")  # type: ignore[union-attr]
    assert plugin._pv("big").claim_ref is None  # type: ignore[union-attr]


def test_two_claims_of_one_pod_take_two_volumes_smallest_request_first() -> None:
    setup = Setup(
        claims=[
            make_pvc("pvc-big", "wait-sc", request="80Gi"),
            make_pvc("pvc-small", "wait-sc", request="10Gi"),
        ],
        volumes=[
            make_pv("pv-100", **on_host("node-a", capacity="100Gi")),
            make_pv("pv-20", **on_host("node-a", capacity="20Gi")),
        ],
    )
    plugin, _ = setup.build()
    volumes, reasons = plugin.find_pod_volumes([], list(setup.claims), setup.nodes[0].node)
    assert reasons == []
    assert [(c.name, v.name) for c, v in volumes.static_bindings] == [
        ("pvc-small", "pv-20"),
        ("pvc-big", "pv-100"),
    ]


def test_a_class_without_provisioner_cannot_provision() -> None:
    setup = Setup(claims=[make_pvc("pvc-a", "wait-sc")])
    plugin, _ = setup.build()
    _, reasons = plugin.find_pod_volumes([], list(setup.claims), setup.nodes[0].node)
    assert reasons == [vb.REASON_BIND_CONFLICT]


def test_an_unmatched_claim_with_a_provisioner_is_provisioned() -> None:
    setup = Setup(claims=[make_pvc("pvc-a", "dynamic-sc")])
    plugin, _ = setup.build()
    volumes, reasons = plugin.find_pod_volumes([], list(setup.claims), setup.nodes[0].node)
    assert reasons == []
    assert [c.name for c in volumes.dynamic_provisions] == ["pvc-a"]


# -- Reserve / Unreserve ---------------------------------------------------------------


def test_a_reserved_volume_is_not_offered_to_the_next_pod_until_unreserved() -> None:
    setup = Setup(
        claims=[make_pvc("pvc-a", "wait-sc"), make_pvc("pvc-b", "wait-sc")],
        volumes=[make_pv("pv-1", **on_host("node-a"))],
    )
    plugin, _ = setup.build()
    first, second = (
        pod_with("pvc-a"),
        make_pod("pod-b", volumes=[{"name": "v", "persistentVolumeClaim": {"claimName": "pvc-b"}}]),
    )
    state = CycleState()
    assert run_filters(plugin, first, setup.nodes) == [SUCCESS]
    plugin.pre_filter(state, first, setup.nodes)
    plugin.filter(state, first, setup.nodes[0])
    assert plugin.reserve(state, first, NodeName("node-a")).is_success
    assert run_filters(plugin, second, setup.nodes) == [
        Status.unresolvable(vb.REASON_BIND_CONFLICT)
    ]
    plugin.unreserve(state, first, NodeName("node-a"))
    plugin.unreserve(state, first, NodeName("node-a"))  # idempotent
    assert run_filters(plugin, second, setup.nodes) == [SUCCESS]


def test_a_newer_watched_volume_replaces_the_assumption() -> None:
    setup = Setup(
        claims=[make_pvc("pvc-a", "wait-sc")],
        volumes=[make_pv("pv-1", **on_host("node-a"))],
    )
    plugin, handle = setup.build()
    state = CycleState()
    pod = pod_with("pvc-a")
    plugin.pre_filter(state, pod, setup.nodes)
    plugin.filter(state, pod, setup.nodes[0])
    plugin.reserve(state, pod, NodeName("node-a"))
    assert plugin._pv("pv-1").claim_ref is not None  # type: ignore[union-attr]
    # Someone else's write (here: the claimRef cleared by an admin) is newer.
    handle.objects.volumes[0] = make_pv("pv-1", **on_host("node-a"), resource_version="9")
    assert plugin._pv("pv-1").claim_ref is None  # type: ignore[union-attr]


# -- PreBind --------------------------------------------------------------------------


class PVController:
    """Binds claims in the watched objects as kube-controller-manager would."""

    def __init__(self, handle: FakeHandle) -> None:
        self.handle = handle

    def bind(self, claim_name: str, volume_name: str) -> None:
        objects = self.handle.objects
        written = self.handle.cluster.volumes.get(volume_name)
        for i, pv in enumerate(objects.volumes):
            if pv.name == volume_name:
                objects.volumes[i] = written or pv
        for i, claim in enumerate(objects.claims):
            if claim.name == claim_name:
                objects.claims[i] = replace(
                    self.handle.cluster.claims.get(claim.key, claim),
                    volume_name=volume_name,
                    phase="Bound",
                    annotations={
                        **self.handle.cluster.claims.get(claim.key, claim).annotations,
                        vol.ANN_BIND_COMPLETED: "yes",
                    },
                    resource_version="50",
                )
        if volume_name not in {v.name for v in objects.volumes}:
            objects.volumes.append(make_pv(volume_name, "dynamic-sc", phase="Bound"))


async def reserve_and_pre_bind(
    plugin: VolumeBinding, setup: Setup, pod: PodInfo, during: Any = None
) -> Status:
    state = CycleState()
    plugin.pre_filter(state, pod, setup.nodes)
    for n in setup.nodes:
        plugin.filter(state, pod, n)
    assert plugin.reserve(state, pod, NodeName("node-a")).is_success
    task = asyncio.ensure_future(plugin.pre_bind(state, pod, NodeName("node-a")))
    await asyncio.sleep(0)
    if during is not None:
        during()
    return await task


async def test_pre_bind_sets_the_claim_ref_and_waits_for_the_pv_controller() -> None:
    setup = Setup(
        claims=[make_pvc("pvc-a", "wait-sc")], volumes=[make_pv("pv-1", **on_host("node-a"))]
    )
    plugin, handle = setup.build()
    status = await reserve_and_pre_bind(
        plugin, setup, pod_with("pvc-a"), lambda: PVController(handle).bind("pvc-a", "pv-1")
    )
    assert status == SUCCESS
    assert handle.cluster.calls == [("bind_volume", "default/pvc-a", "pv-1")]
    assert handle.cluster.volumes["pv-1"].claim_ref == vol.ClaimRef(
        "default", "pvc-a", "uid-pvc-default-pvc-a"
    )


async def test_pre_bind_selects_the_node_for_provisioning() -> None:
    setup = Setup(claims=[make_pvc("pvc-a", "dynamic-sc")])
    plugin, handle = setup.build()
    status = await reserve_and_pre_bind(
        plugin, setup, pod_with("pvc-a"), lambda: PVController(handle).bind("pvc-a", "pv-new")
    )
    assert status == SUCCESS
    assert handle.cluster.calls == [("select_node", "default/pvc-a", "node-a")]


async def test_pre_bind_gives_up_after_the_bind_timeout() -> None:
    setup = Setup(
        claims=[make_pvc("pvc-a", "wait-sc")],
        volumes=[make_pv("pv-1", **on_host("node-a"))],
        timeout=0,
    )
    plugin, _ = setup.build()
    status = await reserve_and_pre_bind(plugin, setup, pod_with("pvc-a"))
    assert status.code is Code.ERROR
    assert status.message == "binding volumes: timed out waiting for the condition"


async def test_pre_bind_fails_when_the_provisioner_gives_up() -> None:
    setup = Setup(claims=[make_pvc("pvc-a", "dynamic-sc")])
    plugin, handle = setup.build()

    def provisioner_removes_the_annotation() -> None:
        # The watch shows our write, then the provisioner's removal of the annotation.
        handle.objects.claims[0] = make_pvc(
            "pvc-a",
            "dynamic-sc",
            annotations={vol.ANN_SELECTED_NODE: "node-b"},
            resource_version="7",
        )

    status = await reserve_and_pre_bind(
        plugin, setup, pod_with("pvc-a"), provisioner_removes_the_annotation
    )
    assert status == Status.error('binding volumes: provisioning failed for PVC "pvc-a"')


async def test_pre_bind_reports_a_conflicting_write_as_an_error_and_reverts() -> None:
    setup = Setup(
        claims=[make_pvc("pvc-a", "wait-sc")], volumes=[make_pv("pv-1", **on_host("node-a"))]
    )
    plugin, handle = setup.build()
    handle.cluster.fail["bind_volume"] = Conflict("the object has been modified", status=409)
    status = await reserve_and_pre_bind(plugin, setup, pod_with("pvc-a"))
    assert status == Status.error("the object has been modified")
    assert plugin._pv("pv-1").claim_ref is None  # type: ignore[union-attr]


async def test_pre_bind_has_nothing_to_do_when_all_claims_are_bound() -> None:
    setup = Setup(
        claims=[make_pvc("pvc-a", "wait-sc", bound_to="pv-1")],
        volumes=[make_pv("pv-1", **on_host("node-a"), phase="Bound")],
    )
    plugin, handle = setup.build()
    assert await reserve_and_pre_bind(plugin, setup, pod_with("pvc-a")) == SUCCESS
    assert handle.cluster.calls == []


# -- args and hints -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        pytest.param({"bindTimeoutSeconds": -1}, "should not be a negative value", id="negative"),
        pytest.param(
            {"shape": [{"utilization": 50, "score": 1}, {"utilization": 10, "score": 2}]},
            "sorted in increasing order",
            id="unsorted shape",
        ),
        pytest.param({"shape": [{"utilization": 0, "score": 11}]}, "[0, 10]", id="score range"),
        pytest.param({"bindTimeout": 5}, "unknown field", id="misspelt field"),
    ],
)
def test_invalid_args_are_refused(raw: dict[str, Any], problem: str) -> None:
    with pytest.raises(ArgsError, match="VolumeBinding") as caught:
        SPEC.args(raw)
    assert problem in str(caught.value)


def test_default_args() -> None:
    args = SPEC.args(None)
    assert args.bind_timeout_seconds == 600
    assert args.shape == ()


@pytest.mark.parametrize(
    ("new", "want"),
    [
        pytest.param(make_pvc("pvc-a", "wait-sc"), QueueingHint.QUEUE, id="the pod's claim"),
        pytest.param(make_pvc("other", "wait-sc"), QueueingHint.SKIP, id="another claim"),
        pytest.param(
            make_pvc("pvc-a", "wait-sc", namespace="elsewhere"),
            QueueingHint.SKIP,
            id="same name, other namespace",
        ),
    ],
)
def test_claim_hint(new: vol.PersistentVolumeClaim, want: QueueingHint) -> None:
    plugin, _ = Setup().build()
    assert plugin._after_claim_change(pod_with("pvc-a"), None, new) is want


def test_storage_class_hint() -> None:
    plugin, _ = Setup().build()
    pod = pod_with("pvc-a")
    assert plugin._after_class_change(pod, None, ZONED) is QueueingHint.QUEUE
    assert plugin._after_class_change(pod, ZONED, ZONED) is QueueingHint.SKIP
    widened = make_storage_class(
        "zoned-sc", provisioner="p", allowed_topologies={"zone": ["a", "b"]}
    )
    assert plugin._after_class_change(pod, ZONED, widened) is QueueingHint.QUEUE


# -- what PreBind waits for -------------------------------------------------------------


def test_check_bindings_reports_undone_work() -> None:
    node = node_info("node-a").node
    claim = make_pvc("pvc-a", "wait-sc", resource_version="5")
    ours = make_pv("pv-1", **on_host("node-a", claim=("default", "pvc-a")), resource_version="5")
    written = PodVolumes(static_bindings=[(claim, ours)])

    reset = make_pv("pv-1", **on_host("node-a"), resource_version="6")
    objects = FakeObjects(claims=[claim], volumes=[reset])
    with pytest.raises(BindingError, match='ClaimRef got reset for pv "pv-1"'):
        check_bindings(objects, written, node)

    pending = FakeObjects(claims=[claim], volumes=[ours])
    assert check_bindings(pending, written, node) is False
    done = FakeObjects(claims=[make_pvc("pvc-a", "wait-sc", bound_to="pv-1")], volumes=[ours])
    assert check_bindings(done, written, node) is True


def test_check_bindings_sees_a_reset_selected_node() -> None:
    node = node_info("node-a").node
    ours = make_pvc("pvc-a", "dynamic-sc", annotations={vol.ANN_SELECTED_NODE: "node-a"})
    written = PodVolumes(dynamic_provisions=[ours])
    stripped = make_pvc("pvc-a", "dynamic-sc", resource_version="3")
    with pytest.raises(BindingError, match='selectedNode annotation reset for PVC "pvc-a"'):
        check_bindings(FakeObjects(claims=[stripped]), written, node)
