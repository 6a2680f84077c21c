"""VolumeZone: bound PVs' zone and region labels against the node's, unbound
claims by binding mode, and the queueing hints (upstream
``volume_zone_test.go``)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.status import SKIP, SUCCESS, Status
from py_scheduler.framework.types import QueueingHint
from py_scheduler.model import PodInfo
from py_scheduler.plugins.volume_zone import SPEC, VolumeZone
from tests.builders import make_pod, node_info
from tests.fakes import FakeHandle, FakeObjects
from tests.unit.plugins.storage import claim_volume, pv, pvc, storage_class

BETA_ZONE = "failure-domain.beta.kubernetes.io/zone"
BETA_REGION = "failure-domain.beta.kubernetes.io/region"
ZONE = "topology.kubernetes.io/zone"
REGION = "topology.kubernetes.io/region"
REJECTED = Status.unresolvable("node(s) had no available volume zone")


def plugin(objects: FakeObjects) -> VolumeZone:
    built = SPEC.build(SPEC.args(None), FakeHandle(objects=objects))
    assert isinstance(built, VolumeZone)
    return built


def pod_with_volume(claim: str) -> PodInfo:
    return make_pod("pod_1", volumes=[claim_volume(claim)])


def run(
    objects: FakeObjects, pod: PodInfo, node_labels: Mapping[str, str]
) -> tuple[Status, Status]:
    """PreFilter's status, then Filter's: upstream's tables run both, and a
    Filter after a failed PreFilter works the topology out itself."""
    p = plugin(objects)
    state = CycleState()
    _, pre = p.pre_filter(state, pod, [])
    return pre, p.filter(state, pod, node_info("host1", labels=node_labels))


SINGLE_ZONE = FakeObjects(
    volumes=[
        pv("Vol_1", labels={BETA_ZONE: "us-west1-a"}),
        pv("Vol_2", labels={BETA_REGION: "us-west1", "uselessLabel": "none"}),
        pv("Vol_3", labels={BETA_REGION: "us-west1"}),
        pv("Vol_Stable_1", labels={ZONE: "us-west1-a"}),
        pv("Vol_Stable_2", labels={REGION: "us-west1", "uselessLabel": "none"}),
        pv("Vol_Stable_3", labels={ZONE: "us-west1-a", REGION: "us-west1-a"}),
    ],
    claims=[
        pvc("PVC_1", volume_name="Vol_1"),
        pvc("PVC_2", volume_name="Vol_2"),
        pvc("PVC_3", volume_name="Vol_3"),
        pvc("PVC_4", volume_name="Vol_not_exist"),
        pvc("PVC_Stable_1", volume_name="Vol_Stable_1"),
        pvc("PVC_Stable_2", volume_name="Vol_Stable_2"),
        pvc("PVC_Stable_3", volume_name="Vol_Stable_3"),
    ],
)
USELESS = {"uselessLabel": "none"}

SINGLE = [
    pytest.param(
        make_pod("pod_1"), {BETA_ZONE: "us-west1-a"}, SKIP, SUCCESS, id="pod without volume"
    ),
    pytest.param(pod_with_volume("PVC_1"), {}, SUCCESS, SUCCESS, id="node without labels"),
    pytest.param(
        pod_with_volume("PVC_1"),
        {BETA_ZONE: "us-west1-a", **USELESS},
        SUCCESS,
        SUCCESS,
        id="beta zone label matched",
    ),
    pytest.param(
        pod_with_volume("PVC_2"),
        {BETA_REGION: "us-west1", **USELESS},
        SUCCESS,
        SUCCESS,
        id="beta region label matched",
    ),
    pytest.param(
        pod_with_volume("PVC_2"),
        {BETA_REGION: "no_us-west1", **USELESS},
        SUCCESS,
        REJECTED,
        id="beta region label doesn't match",
    ),
    pytest.param(
        pod_with_volume("PVC_1"),
        {BETA_ZONE: "no_us-west1-a", **USELESS},
        SUCCESS,
        REJECTED,
        id="beta zone label doesn't match",
    ),
    pytest.param(
        pod_with_volume("PVC_Stable_1"),
        {ZONE: "us-west1-a", **USELESS},
        SUCCESS,
        SUCCESS,
        id="zone label matched",
    ),
    pytest.param(
        pod_with_volume("PVC_Stable_2"),
        {REGION: "us-west1", **USELESS},
        SUCCESS,
        SUCCESS,
        id="region label matched",
    ),
    pytest.param(
        pod_with_volume("PVC_Stable_2"),
        {REGION: "no_us-west1", **USELESS},
        SUCCESS,
        REJECTED,
        id="region label doesn't match",
    ),
    pytest.param(
        pod_with_volume("PVC_Stable_1"),
        {ZONE: "no_us-west1-a", **USELESS},
        SUCCESS,
        REJECTED,
        id="zone label doesn't match",
    ),
    pytest.param(
        pod_with_volume("PVC_Stable_3"),
        {ZONE: "us-west1-a"},
        SUCCESS,
        REJECTED,
        id="pv with zone and region, node with only zone",
    ),
    pytest.param(
        pod_with_volume("PVC_Stable_1"),
        {BETA_ZONE: "us-west1-a"},
        SUCCESS,
        REJECTED,
        id="pv with zone,node with beta zone",
    ),
    pytest.param(
        pod_with_volume("PVC_1"),
        {ZONE: "us-west1-a"},
        SUCCESS,
        SUCCESS,
        id="pv with beta label,node with ga label, matched",
    ),
    pytest.param(
        pod_with_volume("PVC_1"),
        {ZONE: "us-west1-b"},
        SUCCESS,
        REJECTED,
        id="pv with beta label,node with ga label, don't match",
    ),
    pytest.param(
        pod_with_volume("PVC_4"),
        {ZONE: "us-west1-a"},
        Status.unresolvable('persistentvolume "Vol_not_exist" not found'),
        Status.unresolvable('persistentvolume "Vol_not_exist" not found'),
        id="bound to a missing pv",
    ),
    pytest.param(
        pod_with_volume("PVC_missing"),
        {ZONE: "us-west1-a"},
        Status.unresolvable('persistentvolumeclaim "PVC_missing" not found'),
        Status.unresolvable('persistentvolumeclaim "PVC_missing" not found'),
        id="missing claim",
    ),
]


@pytest.mark.parametrize(("pod", "labels", "want_pre", "want_filter"), SINGLE)
def test_single_zone(
    pod: PodInfo, labels: dict[str, str], want_pre: Status, want_filter: Status
) -> None:
    assert run(SINGLE_ZONE, pod, labels) == (want_pre, want_filter)


MULTI_ZONE = FakeObjects(
    volumes=[
        pv("Vol_1", labels={BETA_ZONE: "us-west1-a"}),
        pv("Vol_2", labels={BETA_ZONE: "us-west1-b", "uselessLabel": "none"}),
        pv("Vol_3", labels={BETA_ZONE: "us-west1-c__us-west1-a"}),
        pv("Vol_Stable_1", labels={ZONE: "us-west1-a"}),
        pv("Vol_Stable_2", labels={ZONE: "us-west1-c__us-west1-a"}),
        pv("Vol_Malformed", labels={ZONE: "us-west1-a__"}),
    ],
    claims=[
        pvc("PVC_1", volume_name="Vol_1"),
        pvc("PVC_2", volume_name="Vol_2"),
        pvc("PVC_3", volume_name="Vol_3"),
        pvc("PVC_Stable_1", volume_name="Vol_Stable_1"),
        pvc("PVC_Stable_2", volume_name="Vol_Stable_2"),
        pvc("PVC_Malformed", volume_name="Vol_Malformed"),
    ],
)

MULTI = [
    pytest.param(pod_with_volume("PVC_3"), {}, SUCCESS, SUCCESS, id="node without labels"),
    pytest.param(
        pod_with_volume("PVC_3"),
        {BETA_ZONE: "us-west1-a", **USELESS},
        SUCCESS,
        SUCCESS,
        id="beta zone label matched",
    ),
    pytest.param(
        pod_with_volume("PVC_1"),
        {BETA_ZONE: "us-west1-b", **USELESS},
        SUCCESS,
        REJECTED,
        id="beta zone label doesn't match",
    ),
    pytest.param(
        pod_with_volume("PVC_Stable_2"),
        {ZONE: "us-west1-a", **USELESS},
        SUCCESS,
        SUCCESS,
        id="zone label matched",
    ),
    pytest.param(
        pod_with_volume("PVC_Stable_1"),
        {ZONE: "us-west1-b", **USELESS},
        SUCCESS,
        REJECTED,
        id="zone label doesn't match",
    ),
    pytest.param(
        pod_with_volume("PVC_Malformed"),
        {ZONE: "us-west1-b"},
        SKIP,
        SUCCESS,
        id="a malformed zone list is ignored",
    ),
]


@pytest.mark.parametrize(("pod", "labels", "want_pre", "want_filter"), MULTI)
def test_multi_zone(
    pod: PodInfo, labels: dict[str, str], want_pre: Status, want_filter: Status
) -> None:
    assert run(MULTI_ZONE, pod, labels) == (want_pre, want_filter)


WITH_BINDING = FakeObjects(
    classes=[
        storage_class("Class_Immediate", binding_mode="Immediate"),
        storage_class("Class_Wait", binding_mode="WaitForFirstConsumer"),
    ],
    volumes=[pv("Vol_1", labels={BETA_ZONE: "us-west1-a"})],
    claims=[
        pvc("PVC_1", volume_name="Vol_1"),
        pvc("PVC_NoSC", storage_class="Class_0"),
        pvc("PVC_EmptySC"),
        pvc("PVC_WaitSC", storage_class="Class_Wait"),
        pvc("PVC_ImmediateSC", storage_class="Class_Immediate"),
    ],
)


def both(status: Status) -> tuple[Status, Status]:
    return status, status


BINDING = [
    pytest.param("PVC_1", (SUCCESS, SUCCESS), id="label zone failure domain matched"),
    pytest.param(
        "PVC_EmptySC",
        both(Status.unresolvable("PersistentVolumeClaim had no pv name and storageClass name")),
        id="unbound volume empty storage class",
    ),
    pytest.param(
        "PVC_NoSC",
        both(Status.unresolvable('storageclass.storage.k8s.io "Class_0" not found')),
        id="unbound volume no storage class",
    ),
    # Upstream's class has no volumeBindingMode ("VolumeBindingMode not set");
    # the API server always defaults it, so here it is Immediate.
    pytest.param(
        "PVC_ImmediateSC",
        both(Status.unresolvable("PersistentVolume had no name")),
        id="unbound volume immediate binding mode",
    ),
    pytest.param("PVC_WaitSC", (SKIP, SUCCESS), id="unbound volume wait binding mode"),
]


@pytest.mark.parametrize(("claim", "want"), BINDING)
def test_with_binding(claim: str, want: tuple[Status, Status]) -> None:
    labels = {BETA_ZONE: "us-west1-a", **USELESS}
    assert run(WITH_BINDING, pod_with_volume(claim), labels) == want


def test_a_claim_without_a_name_is_unresolvable() -> None:
    want = Status.unresolvable("PersistentVolumeClaim had no name")
    assert run(WITH_BINDING, pod_with_volume(""), {}) == (want, want)


def test_every_bound_volume_must_fit() -> None:
    pod = make_pod("pod_1", volumes=[claim_volume("PVC_Stable_1"), claim_volume("PVC_Stable_2")])
    fits = {ZONE: "us-west1-a", REGION: "us-west1"}
    assert run(SINGLE_ZONE, pod, fits) == (SUCCESS, SUCCESS)
    assert run(SINGLE_ZONE, pod, {**fits, REGION: "eu-west1"}) == (SUCCESS, REJECTED)


# -- queueing hints ---------------------------------------------------------------------


def hint(label: str) -> object:
    hints = {e.event.label: e.hint for e in plugin(FakeObjects()).events_to_register()}
    return hints[label]


CLAIM_CHANGE = [
    pytest.param(make_pod("pod_1"), None, "PVC_1", "default", QueueingHint.SKIP, id="no-pvc"),
    pytest.param(
        pod_with_volume("PVC_2"), None, "PVC_1", "default", QueueingHint.SKIP, id="different-pvc"
    ),
    pytest.param(
        pod_with_volume("PVC_1"), None, "PVC_1", "ns1", QueueingHint.SKIP, id="different-ns"
    ),
    pytest.param(
        pod_with_volume("PVC_1"), None, "PVC_1", "default", QueueingHint.QUEUE, id="added"
    ),
    pytest.param(
        pod_with_volume("PVC_1"),
        pvc("PVC_1"),
        "PVC_1",
        "default",
        QueueingHint.QUEUE,
        id="updated-and-bound",
    ),
    pytest.param(
        make_pod("pod_1"),
        pvc("PVC_1"),
        "PVC_1",
        "default",
        QueueingHint.SKIP,
        id="updated-but-pod-refers-no-pvc",
    ),
]


@pytest.mark.parametrize(("pod", "old", "name", "namespace", "want"), CLAIM_CHANGE)
def test_hint_after_claim_change(
    pod: PodInfo, old: object, name: str, namespace: str, want: QueueingHint
) -> None:
    fn = hint("PersistentVolumeClaimADD|UPDATE")
    assert callable(fn)
    assert fn(pod, old, pvc(name, namespace, volume_name="Vol_1")) is want


@pytest.mark.parametrize(
    ("mode", "want"),
    [
        pytest.param("Immediate", QueueingHint.SKIP, id="not-wait-for-first-consumer"),
        pytest.param("WaitForFirstConsumer", QueueingHint.QUEUE, id="wait-for-first-consumer"),
    ],
)
def test_hint_after_class_added(mode: str, want: QueueingHint) -> None:
    fn = hint("StorageClassADD")
    assert callable(fn)
    assert fn(pod_with_volume("PVC_1"), None, storage_class("SC_1", binding_mode=mode)) is want


PV_CHANGE = [
    pytest.param(None, {BETA_ZONE: "us-west1-b"}, QueueingHint.QUEUE, id="new-pv-was-added"),
    pytest.param(
        {BETA_ZONE: "us-west1-a"},
        {BETA_ZONE: "us-west1-b"},
        QueueingHint.QUEUE,
        id="pv-was-updated-and-changed-topology",
    ),
    pytest.param(
        {BETA_ZONE: "us-west1-a"},
        {BETA_ZONE: "us-west1-a", ZONE: "zone"},
        QueueingHint.QUEUE,
        id="pv-was-updated-and-added-topology-label",
    ),
    pytest.param(
        {BETA_ZONE: "us-west1-a", ZONE: "zone"},
        {BETA_ZONE: "us-west1-a", ZONE: "zone", "other": "x"},
        QueueingHint.SKIP,
        id="pv-was-updated-but-no-topology-is-changed",
    ),
]


@pytest.mark.parametrize(("old", "new", "want"), PV_CHANGE)
def test_hint_after_volume_change(
    old: dict[str, str] | None, new: dict[str, str], want: QueueingHint
) -> None:
    fn = hint("PersistentVolumeADD|UPDATE")
    assert callable(fn)
    before = pv("Vol_1", labels=old) if old is not None else None
    assert fn(pod_with_volume("PVC_1"), before, pv("Vol_1", labels=new)) is want
