"""VolumeRestrictions: in-line disk conflicts, ReadWriteOncePod claims, the
PreFilter extensions preemption uses, and the queueing hints (upstream
``volume_restrictions_test.go``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.status import SKIP, SUCCESS, Code, Status
from py_scheduler.framework.types import QueueingHint
from py_scheduler.model import PodInfo
from py_scheduler.plugins.volume_restrictions import SPEC, VolumeRestrictions
from tests.builders import make_pod, node_info
from tests.fakes import FakeHandle, FakeObjects
from tests.unit.plugins.storage import claim_volume, in_line, pvc

Raw = dict[str, Any]
DISK_CONFLICT = Status.unschedulable("node(s) had no available disk")
RWOP_CONFLICT = Status.unschedulable(
    "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode"
)


def plugin(handle: FakeHandle) -> VolumeRestrictions:
    built = SPEC.build(SPEC.args(None), handle)
    assert isinstance(built, VolumeRestrictions)
    return built


def pod(name: str = "p", *volumes: Raw, node: str = "", namespace: str = "default") -> PodInfo:
    return make_pod(name, volumes=volumes, node_name=node, namespace=namespace)


def run(
    incoming: PodInfo, existing: Sequence[PodInfo], objects: FakeObjects | None = None
) -> tuple[Status, Status | None]:
    """PreFilter's status, then Filter's on node-1 (None when PreFilter stops)."""
    node = node_info("node-1", pods=existing)
    p = plugin(FakeHandle([node], objects=objects))
    state = CycleState()
    _, pre = p.pre_filter(state, incoming, [node])
    if not pre.is_success:
        return pre, None
    return pre, p.filter(state, incoming, node)


GCE_FOO = in_line("gcePersistentDisk", pdName="foo")
GCE_BAR = in_line("gcePersistentDisk", pdName="bar")
AWS_FOO = in_line("awsElasticBlockStore", volumeID="foo")
AWS_BAR = in_line("awsElasticBlockStore", volumeID="bar")
RBD_AB = in_line("rbd", monitors=["a", "b"], pool="foo", image="bar", fsType="ext4")
RBD_CD = in_line("rbd", monitors=["c", "d"], pool="foo", image="bar", fsType="ext4")
ISCSI_2016 = in_line(
    "iscsi", targetPortal="127.0.0.1:3260", iqn="iqn.2016-12.server:storage.target01", lun=0
)
ISCSI_2017 = in_line(
    "iscsi", targetPortal="127.0.0.1:3260", iqn="iqn.2017-12.server:storage.target01", lun=0
)


def read_only(volume: Raw) -> Raw:
    kind = next(k for k in volume if k != "name")
    return {**volume, kind: {**volume[kind], "readOnly": True}}


def disk_cases(kind: str, same: Raw, other: Raw) -> list[Any]:
    """Upstream's four cases per disk kind: nothing, one state, same, different."""
    return [
        pytest.param(None, None, SKIP, None, id=f"{kind}: nothing"),
        pytest.param(None, same, SKIP, None, id=f"{kind}: one state"),
        pytest.param(same, same, SUCCESS, DISK_CONFLICT, id=f"{kind}: same state"),
        pytest.param(other, same, SUCCESS, SUCCESS, id=f"{kind}: different state"),
    ]


DISKS = [
    *disk_cases("GCE", GCE_FOO, GCE_BAR),
    pytest.param(
        {"name": "volume with no restriction", "emptyDir": {}},
        None,
        SKIP,
        None,
        id="GCE: pod with a volume that doesn't have restrictions",
    ),
    *disk_cases("AWS", AWS_FOO, AWS_BAR),
    *disk_cases("RBD", RBD_AB, RBD_CD),
    *disk_cases("ISCSI", ISCSI_2016, ISCSI_2017),
    # The read-only exceptions and what identifies a disk, beyond upstream's tables.
    pytest.param(
        read_only(GCE_FOO), read_only(GCE_FOO), SUCCESS, SUCCESS, id="GCE: both read-only share"
    ),
    pytest.param(
        read_only(GCE_FOO), GCE_FOO, SUCCESS, DISK_CONFLICT, id="GCE: one writer conflicts"
    ),
    pytest.param(
        read_only(AWS_FOO), read_only(AWS_FOO), SUCCESS, DISK_CONFLICT, id="AWS: never shared"
    ),
    pytest.param(
        read_only(RBD_AB), read_only(RBD_AB), SUCCESS, SUCCESS, id="RBD: both read-only share"
    ),
    pytest.param(
        in_line("rbd", monitors=["b", "x"], pool="foo", image="bar"),
        RBD_AB,
        SUCCESS,
        DISK_CONFLICT,
        id="RBD: one shared monitor is the same image",
    ),
    pytest.param(
        in_line("rbd", monitors=["a"], pool="other", image="bar"),
        RBD_AB,
        SUCCESS,
        SUCCESS,
        id="RBD: another pool is another image",
    ),
    pytest.param(
        in_line("iscsi", targetPortal="10.0.0.9:3260", iqn="iqn.2016-12.server:storage.target01"),
        ISCSI_2016,
        SUCCESS,
        DISK_CONFLICT,
        id="ISCSI: the IQN alone identifies the disk",
    ),
    pytest.param(
        read_only(ISCSI_2016),
        read_only(ISCSI_2016),
        SUCCESS,
        SUCCESS,
        id="ISCSI: both read-only share",
    ),
    pytest.param(GCE_FOO, AWS_FOO, SUCCESS, SUCCESS, id="different kinds never conflict"),
]


@pytest.mark.parametrize(("wanted", "used", "want_pre", "want_filter"), DISKS)
def test_disk_conflicts(
    wanted: Raw | None, used: Raw | None, want_pre: Status, want_filter: Status | None
) -> None:
    incoming = pod("p", *([wanted] if wanted else []))
    existing = [pod("existing", *([used] if used else []), node="node-1")]
    assert run(incoming, existing) == (want_pre, want_filter)


# -- ReadWriteOncePod -------------------------------------------------------------------

RWOP = ("ReadWriteOncePod",)
CLAIMS = FakeObjects(
    claims=[
        pvc("claim-with-rwop-1", access_modes=RWOP),
        pvc("claim-with-rwop-2", access_modes=RWOP),
        pvc("claim-with-rwx", access_modes=("ReadWriteMany",)),
    ]
)
POD_WITH_ONE_PVC = pod("pod-with-one-pvc", claim_volume("claim-with-rwop-1"), node="node-1")
POD_WITH_TWO_PVCS = pod(
    "pod-with-two-pvcs",
    claim_volume("claim-with-rwop-1"),
    claim_volume("claim-with-rwop-2"),
    node="node-1",
)
POD_WITH_ONE_CONFLICT = pod("pod-with-one-conflict", claim_volume("claim-with-rwop-1"))
POD_WITH_TWO_CONFLICTS = pod(
    "pod-with-two-conflicts", claim_volume("claim-with-rwop-1"), claim_volume("claim-with-rwop-2")
)
POD_WITH_RWX = pod("pod-with-rwx", claim_volume("claim-with-rwx"), node="node-1")

ACCESS_MODES = [
    pytest.param(pod("nothing"), [], FakeObjects(), SKIP, None, id="nothing"),
    pytest.param(
        POD_WITH_ONE_PVC,
        [],
        FakeObjects(),
        Status.unresolvable('persistentvolumeclaim "claim-with-rwop-1" not found'),
        None,
        id="failed to get PVC",
    ),
    pytest.param(
        POD_WITH_ONE_PVC, [POD_WITH_RWX], CLAIMS, SKIP, None, id="no access mode conflict"
    ),
    pytest.param(
        POD_WITH_ONE_CONFLICT,
        [POD_WITH_ONE_PVC, POD_WITH_RWX],
        CLAIMS,
        SUCCESS,
        RWOP_CONFLICT,
        id="access mode conflict, unschedulable",
    ),
    pytest.param(
        POD_WITH_TWO_CONFLICTS,
        [POD_WITH_TWO_PVCS, POD_WITH_RWX],
        CLAIMS,
        SUCCESS,
        RWOP_CONFLICT,
        id="two conflicts, unschedulable",
    ),
    pytest.param(
        pod("other-namespace", claim_volume("claim-with-rwop-1"), namespace="team-b"),
        [POD_WITH_ONE_PVC],
        FakeObjects(claims=[pvc("claim-with-rwop-1", "team-b", access_modes=RWOP)]),
        SKIP,
        None,
        id="a claim of the same name in another namespace is another claim",
    ),
]


@pytest.mark.parametrize(
    ("incoming", "existing", "objects", "want_pre", "want_filter"), ACCESS_MODES
)
def test_access_mode_conflicts(
    incoming: PodInfo,
    existing: list[PodInfo],
    objects: FakeObjects,
    want_pre: Status,
    want_filter: Status | None,
) -> None:
    assert run(incoming, existing, objects) == (want_pre, want_filter)


def test_a_claim_in_use_on_another_node_rejects_every_node() -> None:
    holder = pod("holder", claim_volume("claim-with-rwop-1"), node="node-2")
    empty, elsewhere = node_info("node-1"), node_info("node-2", pods=[holder])
    p = plugin(FakeHandle([empty, elsewhere], objects=CLAIMS))
    state = CycleState()
    assert p.pre_filter(state, POD_WITH_ONE_CONFLICT, [empty, elsewhere]) == (None, SUCCESS)
    assert p.filter(state, POD_WITH_ONE_CONFLICT, empty) == RWOP_CONFLICT


def test_removing_the_claims_holder_lets_preemption_succeed() -> None:
    node = node_info("node-1", pods=[POD_WITH_ONE_PVC])
    p = plugin(FakeHandle([node], objects=CLAIMS))
    state = CycleState()
    p.pre_filter(state, POD_WITH_ONE_CONFLICT, [node])
    dry_run = state.clone()
    assert p.remove_pod(dry_run, POD_WITH_ONE_CONFLICT, POD_WITH_ONE_PVC, node) == SUCCESS
    assert p.filter(dry_run, POD_WITH_ONE_CONFLICT, node) == SUCCESS
    # The clone is independent: the real cycle still sees the holder.
    assert p.filter(state, POD_WITH_ONE_CONFLICT, node) == RWOP_CONFLICT
    assert p.add_pod(dry_run, POD_WITH_ONE_CONFLICT, POD_WITH_ONE_PVC, node) == SUCCESS
    assert p.filter(dry_run, POD_WITH_ONE_CONFLICT, node) == RWOP_CONFLICT


def test_extensions_without_pre_filter_state_are_an_error() -> None:
    p = plugin(FakeHandle(objects=CLAIMS))
    status = p.add_pod(CycleState(), POD_WITH_ONE_CONFLICT, POD_WITH_ONE_PVC, node_info("node-1"))
    assert status.code is Code.ERROR


def test_filter_without_pre_filter_works_it_out() -> None:
    node = node_info("node-1", pods=[POD_WITH_ONE_PVC])
    p = plugin(FakeHandle([node], objects=CLAIMS))
    assert p.filter(CycleState(), POD_WITH_ONE_CONFLICT, node) == RWOP_CONFLICT
    assert p.filter(CycleState(), pod("plain"), node) == SUCCESS


# -- queueing hints ---------------------------------------------------------------------

POD_DELETED = [
    pytest.param(pod("p", GCE_FOO), pod("q", GCE_FOO), QueueingHint.QUEUE, id="gcedisk-conflict"),
    pytest.param(pod("p", GCE_FOO), pod("q", GCE_BAR), QueueingHint.SKIP, id="gcedisk-no-conflict"),
    pytest.param(pod("p", AWS_FOO), pod("q", AWS_FOO), QueueingHint.QUEUE, id="awsdisk-conflict"),
    pytest.param(pod("p", AWS_FOO), pod("q", AWS_BAR), QueueingHint.SKIP, id="awsdisk-no-conflict"),
    pytest.param(pod("p", RBD_AB), pod("q", RBD_AB), QueueingHint.QUEUE, id="rbddisk-conflict"),
    pytest.param(pod("p", RBD_AB), pod("q", RBD_CD), QueueingHint.SKIP, id="rbddisk-no-conflict"),
    pytest.param(
        pod("p", ISCSI_2016), pod("q", ISCSI_2016), QueueingHint.QUEUE, id="iscsidisk-conflict"
    ),
    pytest.param(
        pod("p", ISCSI_2016), pod("q", ISCSI_2017), QueueingHint.SKIP, id="iscsidisk-no-conflict"
    ),
    pytest.param(
        pod("pod1", claim_volume("claim-rwop")),
        pod("pod2", claim_volume("claim-rwop")),
        QueueingHint.QUEUE,
        id="has-same-claim",
    ),
    pytest.param(
        pod("pod1", claim_volume("claim-1-rwop")),
        pod("pod2", claim_volume("claim-2-rwop")),
        QueueingHint.SKIP,
        id="no-same-claim",
    ),
    pytest.param(
        pod("p", GCE_FOO),
        pod("q", GCE_FOO, namespace="other"),
        QueueingHint.SKIP,
        id="another-namespace",
    ),
]


@pytest.mark.parametrize(("pending", "deleted", "want"), POD_DELETED)
def test_hint_after_pod_deleted(pending: PodInfo, deleted: PodInfo, want: QueueingHint) -> None:
    hints = {e.event.label: e.hint for e in plugin(FakeHandle()).events_to_register()}
    hint = hints["AssignedPodDELETE"]
    assert hint is not None
    assert hint(pending, deleted, None) is want


CLAIM_ADDED = [
    pytest.param("claim-with-rwx-1", "default", QueueingHint.QUEUE, id="pvc-belongs-to-pod"),
    pytest.param("claim-with-rwx-3", "default", QueueingHint.SKIP, id="pvc-unused"),
    pytest.param("claim-with-rwx-1", "kube-system", QueueingHint.SKIP, id="namespace-not-equal"),
]


@pytest.mark.parametrize(("claim", "namespace", "want"), CLAIM_ADDED)
def test_hint_after_claim_added(claim: str, namespace: str, want: QueueingHint) -> None:
    pending = pod("p", claim_volume("claim-with-rwx-1"), claim_volume("claim-with-rwx-2"))
    hints = {e.event.label: e.hint for e in plugin(FakeHandle()).events_to_register()}
    hint = hints["PersistentVolumeClaimADD"]
    assert hint is not None
    added = pvc(claim, namespace, access_modes=("ReadWriteMany",))
    assert hint(pending, None, added) is want
