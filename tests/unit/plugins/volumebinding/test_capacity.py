"""VolumeBinding and storage capacity: provisioning limited by CSIStorageCapacity,
and the capacity score (StorageCapacityScoring, on by default from 1.37) for static
bindings and dynamic provisions (upstream ``volume_binding_test.go`` score cases,
``TestIsSchedulableAfterCSIStorageCapacityChange``, ``...CSIDriverChange``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.status import SUCCESS, Status
from py_scheduler.framework.types import QueueingHint, Resource
from py_scheduler.model import NodeInfo, PodInfo
from py_scheduler.model import volumes as vol
from py_scheduler.model.server import ServerVersion, offline
from py_scheduler.plugins.volumebinding.volume_binding import (
    REASON_BIND_CONFLICT,
    REASON_NOT_ENOUGH_SPACE,
    SPEC,
    VolumeBinding,
)
from tests.builders import make_pod, make_pv, make_pvc, make_storage_class, node_info
from tests.fakes import FakeCluster, FakeHandle, FakeObjects

HOSTNAME = "kubernetes.io/hostname"
NODE_LABEL = "example.com/node"
DRIVER = "capacity.example.com"
WAIT = make_storage_class("wait-sc")
WAIT_HDD = make_storage_class("wait-hdd-sc")
WAIT_CAPACITY = make_storage_class("wait-sc-with-storage-capacity", provisioner=DRIVER)
V1_36, V1_37 = ServerVersion(1, 36), ServerVersion(1, 37)
DEFAULT_SHAPE = [{"utilization": 0, "score": 10}, {"utilization": 100, "score": 0}]
RISING_SHAPE = [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 10}]


def driver(storage_capacity: bool | None = True) -> vol.CSIDriver:
    spec = {} if storage_capacity is None else {"storageCapacity": storage_capacity}
    return vol.decode_csi_driver({"metadata": {"name": DRIVER}, "spec": spec})


def capacity(
    node: str | None,
    amount: str | None,
    maximum: str | None = None,
    storage_class: str = WAIT_CAPACITY.name,
) -> vol.CSIStorageCapacity:
    raw: dict[str, Any] = {
        "metadata": {"name": f"cap-{node}", "namespace": "kube-system"},
        "storageClassName": storage_class,
    }
    if node is not None:
        raw["nodeTopology"] = {"matchLabels": {NODE_LABEL: node}}
    if amount is not None:
        raw["capacity"] = amount
    if maximum is not None:
        raw["maximumVolumeSize"] = maximum
    return vol.decode_csi_storage_capacity(raw)


def on_host(name: str, **kwargs: Any) -> dict[str, Any]:
    return {"storage_class": WAIT.name, "node_affinity": {HOSTNAME: [name]}} | kwargs


def pod_with(*claims: str) -> PodInfo:
    volumes = [{"name": f"v-{c}", "persistentVolumeClaim": {"claimName": c}} for c in claims]
    return make_pod("pod-a", volumes=volumes)


def nodes(*names: str) -> list[NodeInfo]:
    return [node_info(n, labels={HOSTNAME: n, NODE_LABEL: n}) for n in names]


@dataclass
class Setup:
    claims: list[vol.PersistentVolumeClaim] = field(default_factory=list)
    volumes: list[vol.PersistentVolume] = field(default_factory=list)
    capacities: list[vol.CSIStorageCapacity] = field(default_factory=list)
    drivers: list[vol.CSIDriver] = field(default_factory=lambda: [driver()])
    shape: list[dict[str, int]] | None = None
    release: ServerVersion = V1_37

    def build(self, node_infos: list[NodeInfo]) -> VolumeBinding:
        objects = FakeObjects(
            claims=list(self.claims),
            volumes=list(self.volumes),
            classes=[WAIT, WAIT_HDD, WAIT_CAPACITY],
            csi_drivers=list(self.drivers),
            capacities=list(self.capacities),
        )
        handle = FakeHandle(
            node_infos, objects=objects, cluster=FakeCluster(), server=offline(self.release)
        )
        raw = {"shape": self.shape} if self.shape is not None else None
        built = SPEC.build(SPEC.args(raw), handle)
        assert isinstance(built, VolumeBinding)
        return built


def filter_and_score(
    setup: Setup, pod: PodInfo, node_infos: list[NodeInfo]
) -> tuple[list[Status], Status, list[int]]:
    plugin = setup.build(node_infos)
    state = CycleState()
    _, pre = plugin.pre_filter(state, pod, node_infos)
    assert pre.is_success, pre
    statuses = [plugin.filter(state, pod, n) for n in node_infos]
    pre_score = plugin.pre_score(state, pod, node_infos)
    scores = [plugin.score(state, pod, n) for n in node_infos]
    return statuses, pre_score, scores


LOCAL = [
    make_pv("pv-a-0", **on_host("node-a", capacity="200Gi")),
    make_pv("pv-a-1", **on_host("node-a", capacity="200Gi")),
    make_pv("pv-b-0", **on_host("node-b", capacity="100Gi")),
    make_pv("pv-b-1", **on_host("node-b", capacity="100Gi")),
]
DYNAMIC_10 = make_pvc("pvc-dynamic", WAIT_CAPACITY.name, request="10Gi")
CAPACITIES_100_50_10 = [
    capacity("node-a", "100Gi"),
    capacity("node-b", "50Gi"),
    capacity("node-c", "10Gi"),
]
CAPACITIES_100_20_10 = [
    capacity("node-a", "100Gi"),
    capacity("node-b", "20Gi"),
    capacity("node-c", "10Gi"),
]
UNBOUND = Status.unresolvable(REASON_BIND_CONFLICT)

SCORES: list[tuple[str, PodInfo, Setup, list[Status], list[int]]] = [
    ("local volumes with close capacity are preferred", pod_with("pvc-a"),
     Setup(claims=[make_pvc("pvc-a", WAIT.name, request="50Gi")], volumes=LOCAL),
     [SUCCESS, SUCCESS, UNBOUND], [75, 50, 0]),
    ("local volumes with close capacity are preferred (multiple pvcs)", pod_with("pvc-0", "pvc-1"),
     Setup(claims=[make_pvc("pvc-0", WAIT.name, request="50Gi"),
                   make_pvc("pvc-1", WAIT_HDD.name, request="100Gi")],
           volumes=LOCAL + [
               make_pv(f"pv-{n}-{i}", **on_host(f"node-{n}", capacity=size,
                                                storage_class=WAIT_HDD.name))
               for n, size in (("a", "200Gi"), ("b", "100Gi")) for i in (2, 3)]),
     [SUCCESS, SUCCESS, UNBOUND], [63, 25, 0]),
    ("storage capacity score", pod_with("pvc-dynamic"),
     Setup(claims=[DYNAMIC_10], capacities=CAPACITIES_100_50_10),
     [SUCCESS, SUCCESS, SUCCESS], [90, 80, 0]),
    ("storage capacity score with static binds", pod_with("pvc-dynamic", "pvc-static"),
     Setup(claims=[DYNAMIC_10, make_pvc("pvc-static", WAIT.name, request="50Gi")],
           volumes=[make_pv(f"pv-static-{n}", **on_host(f"node-{n}", capacity="100Gi"))
                    for n in "abc"],
           capacities=CAPACITIES_100_50_10),
     [SUCCESS, SUCCESS, SUCCESS], [50, 50, 50]),
    ("prefer node with least allocatable", pod_with("pvc-dynamic"),
     Setup(claims=[DYNAMIC_10], capacities=CAPACITIES_100_20_10, shape=RISING_SHAPE),
     [SUCCESS, SUCCESS, SUCCESS], [10, 50, 100]),
    ("prefer node with maximum allocatable", pod_with("pvc-dynamic"),
     Setup(claims=[DYNAMIC_10], capacities=CAPACITIES_100_20_10, shape=DEFAULT_SHAPE),
     [SUCCESS, SUCCESS, SUCCESS], [90, 50, 0]),
    ("a driver that publishes no capacity: provisioned anywhere, not scored",
     pod_with("pvc-dynamic"),
     Setup(claims=[DYNAMIC_10], drivers=[driver(False)]),
     [SUCCESS, SUCCESS, SUCCESS], [0, 0, 0]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "pod", "setup", "want_filter", "want_scores"), SCORES, ids=[c[0] for c in SCORES]
)
def test_score(
    name: str,
    pod: PodInfo,
    setup: Setup,
    want_filter: list[Status],
    want_scores: list[int],
) -> None:
    node_infos = nodes("node-a", "node-b", "node-c")
    statuses, pre_score, scores = filter_and_score(setup, pod, node_infos)
    assert statuses == want_filter
    assert pre_score == SUCCESS
    assert [s for s, ok in zip(scores, statuses, strict=True) if ok.is_success] == [
        s for s, ok in zip(want_scores, want_filter, strict=True) if ok.is_success
    ]


def test_dynamic_provisioning_with_multiple_pvcs_of_the_same_storage_class() -> None:
    claims = [make_pvc(f"pvc-dynamic-{i}", WAIT_CAPACITY.name, request="50Gi") for i in (0, 1)]
    setup = Setup(claims=claims, capacities=[capacity("node-a", "100Gi")])
    statuses, _, scores = filter_and_score(
        setup, pod_with("pvc-dynamic-0", "pvc-dynamic-1"), nodes("node-a")
    )
    # The class's capacity is counted once: 100Gi requested of 100Gi.
    assert (statuses, scores) == ([SUCCESS], [0])


@pytest.mark.parametrize(
    ("shape", "want"),
    [
        pytest.param(None, Status.skip(), id="the default: no score"),
        pytest.param(RISING_SHAPE, SUCCESS, id="a configured shape turns it on"),
    ],
)
def test_before_1_37_capacity_scoring_is_off_unless_configured(
    shape: list[dict[str, int]] | None, want: Status
) -> None:
    setup = Setup(claims=[DYNAMIC_10], capacities=CAPACITIES_100_50_10, shape=shape, release=V1_36)
    statuses, pre_score, _ = filter_and_score(setup, pod_with("pvc-dynamic"), nodes("node-a"))
    assert statuses == [SUCCESS]
    assert pre_score == want


def test_a_pod_without_claims_skips_score() -> None:
    plugin = Setup().build(nodes("node-a"))
    state = CycleState()
    pod = make_pod("p")
    _, pre = plugin.pre_filter(state, pod, [])
    assert pre.is_skip
    assert plugin.pre_score(state, pod, []).is_skip


# -- provisioning within the published capacity ------------------------------------------

NOT_ENOUGH = Status.unresolvable(REASON_NOT_ENOUGH_SPACE)

PROVISIONING: list[tuple[str, list[vol.CSIStorageCapacity], list[vol.CSIDriver], Status]] = [
    ("a capacity the node reaches with room", [capacity("node-a", "100Gi")], [driver()], SUCCESS),
    ("no capacity object", [], [driver()], NOT_ENOUGH),
    ("capacity too small", [capacity("node-a", "1Gi")], [driver()], NOT_ENOUGH),
    ("maximumVolumeSize is preferred over capacity",
     [capacity("node-a", "100Gi", maximum="5Gi")], [driver()], NOT_ENOUGH),
    ("a capacity of another node", [capacity("node-b", "100Gi")], [driver()], NOT_ENOUGH),
    ("a capacity without topology reaches no node", [capacity(None, "100Gi")], [driver()],
     NOT_ENOUGH),
    ("a capacity of another class",
     [capacity("node-a", "100Gi", storage_class=WAIT.name)], [driver()], NOT_ENOUGH),
    ("a capacity without amounts", [capacity("node-a", None)], [driver()], NOT_ENOUGH),
    ("a driver that does not opt in", [], [driver(False)], SUCCESS),
    ("a driver with storageCapacity unset", [], [driver(None)], SUCCESS),
    ("no CSIDriver object", [], [], SUCCESS),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "capacities", "drivers", "want"), PROVISIONING, ids=[c[0] for c in PROVISIONING]
)
def test_provisioning_needs_published_capacity(
    name: str,
    capacities: list[vol.CSIStorageCapacity],
    drivers: list[vol.CSIDriver],
    want: Status,
) -> None:
    setup = Setup(claims=[DYNAMIC_10], capacities=capacities, drivers=drivers)
    statuses, _, _ = filter_and_score(setup, pod_with("pvc-dynamic"), nodes("node-a"))
    assert statuses == [want]


# -- hints --------------------------------------------------------------------------------


def _hint(resource: Resource) -> Any:
    plugin = Setup().build(nodes("node-a"))
    (found,) = [r.hint for r in plugin.events_to_register() if r.event.resource is resource]
    assert found is not None
    return found


CAPACITY_HINTS: list[tuple[str, vol.CSIStorageCapacity | None, vol.CSIStorageCapacity,
                           QueueingHint]] = [
    ("When a new CSIStorageCapacity is created, it returns Queue", None,
     capacity("node-a", "10Gi"), QueueingHint.QUEUE),
    ("When the volume limit is increase(Capacity set), it returns Queue",
     capacity("node-a", None), capacity("node-a", "10Gi"), QueueingHint.QUEUE),
    ("When the volume limit is increase(MaximumVolumeSize set), it returns Queue",
     capacity("node-a", "10Gi"), capacity("node-a", "10Gi", maximum="20Gi"), QueueingHint.QUEUE),
    ("When the volume limit is increase(Capacity increase), it returns Queue",
     capacity("node-a", "10Gi"), capacity("node-a", "20Gi"), QueueingHint.QUEUE),
    ("When the volume limit is increase(MaximumVolumeSize unset), it returns Queue",
     capacity("node-a", "20Gi", maximum="10Gi"), capacity("node-a", "20Gi"), QueueingHint.QUEUE),
    ("When the volume limit is increase(MaximumVolumeSize increase), it returns Queue",
     capacity("node-a", "20Gi", maximum="10Gi"), capacity("node-a", "20Gi", maximum="15Gi"),
     QueueingHint.QUEUE),
    ("When there are no changes to the CSIStorageCapacity, it returns QueueSkip",
     capacity("node-a", "10Gi"), capacity("node-a", "10Gi"), QueueingHint.SKIP),
    ("When the volume limit is equal(MaximumVolumeSize unset), it returns QueueSkip",
     capacity("node-a", "20Gi", maximum="20Gi"), capacity("node-a", "20Gi"), QueueingHint.SKIP),
    ("When the volume limit is decrease(Capacity), it returns QueueSkip",
     capacity("node-a", "20Gi"), capacity("node-a", "10Gi"), QueueingHint.SKIP),
    ("When the volume limit is decrease(MaximumVolumeSize), it returns QueueSkip",
     capacity("node-a", "20Gi", maximum="15Gi"), capacity("node-a", "20Gi", maximum="10Gi"),
     QueueingHint.SKIP),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "old", "new", "want"), CAPACITY_HINTS, ids=[c[0] for c in CAPACITY_HINTS]
)
def test_hint_after_capacity_change(
    name: str,
    old: vol.CSIStorageCapacity | None,
    new: vol.CSIStorageCapacity,
    want: QueueingHint,
) -> None:
    assert _hint(Resource.CSI_STORAGE_CAPACITY)(pod_with("pvc-a"), old, new) == want


@pytest.mark.parametrize(
    ("old", "new", "want"),
    [
        pytest.param(driver(True), driver(False), QueueingHint.QUEUE,
                     id="modified StorageCapacity is false"),
        pytest.param(driver(True), driver(None), QueueingHint.QUEUE,
                     id="modified StorageCapacity is nil"),
        pytest.param(driver(None), driver(True), QueueingHint.SKIP,
                     id="original StorageCapacity is nil"),
        pytest.param(driver(False), driver(True), QueueingHint.SKIP,
                     id="modified StorageCapacity is true"),
    ],
)  # fmt: skip
def test_hint_after_driver_change(
    old: vol.CSIDriver, new: vol.CSIDriver, want: QueueingHint
) -> None:
    assert _hint(Resource.CSI_DRIVER)(pod_with("pvc-a"), old, new) == want


def test_decode_csi_storage_capacity() -> None:
    got = capacity("node-a", "1Gi", maximum="512Mi")
    assert (got.key, got.storage_class_name, got.capacity, got.maximum_volume_size) == (
        "kube-system/cap-node-a",
        WAIT_CAPACITY.name,
        1 << 30,
        1 << 29,
    )
    assert got.volume_limit == 1 << 29
    assert got.reaches({NODE_LABEL: "node-a"})
    assert not got.reaches({NODE_LABEL: "node-b"})
