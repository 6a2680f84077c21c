"""NodeVolumeLimits: CSI attach limits per driver from CSINode, counting unique
volume handles of bound, unbound and ephemeral claims, and the queueing hints
(upstream ``csi_test.go``, without its VolumeAttachment and in-tree
migration cases)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.status import SKIP, SUCCESS, Code, Status
from py_scheduler.framework.types import QueueingHint
from py_scheduler.model import PodInfo
from py_scheduler.model.volumes import PersistentVolumeClaim
from py_scheduler.plugins.node_volume_limits import SPEC, NodeVolumeLimits
from tests.builders import make_pod, node_info
from tests.fakes import FakeHandle, FakeObjects
from tests.unit.plugins.storage import (
    claim_volume,
    csi_node,
    ephemeral_volume,
    pv,
    pvc,
    storage_class,
)

EBS = "ebs.csi.aws.com"
GCE = "pd.csi.storage.gke.io"
SC_NAME = "csi-sc"
NODE = "node-for-max-pd-test-1"
REJECTED = Status.unschedulable("node(s) exceed max volume count")

Raw = dict[str, Any]


def plugin(objects: FakeObjects) -> NodeVolumeLimits:
    built = SPEC.build(SPEC.args(None), FakeHandle(objects=objects))
    assert isinstance(built, NodeVolumeLimits)
    return built


def pod(*claims: str, name: str = "p", node: str = "") -> PodInfo:
    return make_pod(name, volumes=[claim_volume(c) for c in claims], node_name=node)


def fixtures(drivers: Sequence[str], extra: Sequence[PersistentVolumeClaim] = ()) -> FakeObjects:
    """Upstream's listers: claims csi-<driver>-0..3 bound to CSI PVs of the same
    name, csi-4 unbound with the class, csi-5 without a class, csi-6 bound to a
    PV that does not exist; the class provisions for the first driver."""
    volumes, claims = [], []
    for driver in drivers:
        for i in range(4):
            handle = f"csi-{driver}-{i}"
            volumes.append(pv(handle, csi=(driver, handle)))
            claims.append(pvc(handle, volume_name=handle))
    claims += [
        pvc("csi-4", storage_class=SC_NAME),
        pvc("csi-5"),
        pvc("csi-6", storage_class=SC_NAME, volume_name="missing-in-action"),
        *extra,
    ]
    return FakeObjects(claims=claims, volumes=volumes, classes=[storage_class(SC_NAME, drivers[0])])


def limits(source: str, max_vols: int, drivers: Sequence[str]) -> list[Any]:
    if source == "csinode":
        return [csi_node(NODE, dict.fromkeys(drivers, max_vols))]
    if source == "csinode-with-no-limit":
        return [csi_node(NODE, dict.fromkeys(drivers))]
    return []


RUNNING = pod(f"csi-{EBS}-3", name="running", node=NODE)
PENDING_VOLUME = pod("csi-4", name="pending-volume", node=NODE)
UNBOUND_PVC_2 = pod("csi-4", name="unbound-pvc-2", node=NODE)
MISSING_PV = pod("csi-6", name="missing-pv", node=NODE)
NO_SC_PVC = pod("csi-5", name="no-sc-pvc", node=NODE)
GCE_TWO_VOL = pod(f"csi-{GCE}-1", f"csi-{GCE}-2", name="gce-two-vol", node=NODE)
EBS_ONE_VOL = pod(f"csi-{EBS}-0", name="ebs-one-vol")
EBS_TWO_VOL = pod(f"csi-{EBS}-1", f"csi-{EBS}-2", name="ebs-two-vol", node=NODE)

EPHEMERAL_UID = "12345"
EPHEMERAL_POD = make_pod(
    "abc", namespace="test", uid=EPHEMERAL_UID, volumes=[ephemeral_volume("xyz")]
)
EPHEMERAL_CLAIM = pvc("abc-xyz", "test", storage_class=SC_NAME, owner_uid=EPHEMERAL_UID)
CONFLICTING_CLAIM = pvc("abc-xyz", "test", storage_class=SC_NAME)
EPHEMERAL_TWO_VOL = make_pod(
    "abc",
    namespace="test",
    uid="12345II",
    volumes=[ephemeral_volume("x"), ephemeral_volume("y")],
    node_name=NODE,
)
EPHEMERAL_X = pvc("abc-x", "test", storage_class=SC_NAME, owner_uid="12345II")
EPHEMERAL_Y = pvc("abc-y", "test", storage_class=SC_NAME, owner_uid="12345II")
RUNNING_EPHEMERAL = make_pod(
    "abc", namespace="test", uid=EPHEMERAL_UID, volumes=[ephemeral_volume("xyz")], node_name=NODE
)
CONFIGMAP_AND_SECRET: list[Raw] = [
    {"name": "cm", "configMap": {"name": "cm"}},
    {"name": "secret", "secret": {"secretName": "s"}},
]
ONLY_CONFIGMAP_AND_SECRET = make_pod("cm-secret", volumes=CONFIGMAP_AND_SECRET)
PVC_WITH_CONFIGMAP_AND_SECRET = make_pod(
    "pvc-cm-secret", volumes=[*CONFIGMAP_AND_SECRET, claim_volume(f"csi-{EBS}-0")]
)
EPHEMERAL_WITH_CONFIGMAP_AND_SECRET = make_pod(
    "abc", namespace="test", volumes=[*CONFIGMAP_AND_SECRET, ephemeral_volume("xyz")]
)
MISSING_EPHEMERAL = Status.unresolvable(
    'looking up PVC test/abc-xyz: persistentvolumeclaim "abc-xyz" not found'
)


def case(
    test: str,
    new: PodInfo,
    existing: Sequence[PodInfo] = (),
    *,
    max_vols: int = 0,
    drivers: Sequence[str] = (EBS,),
    source: str = "csinode",
    extra: Sequence[PersistentVolumeClaim] = (),
    want: Status = SUCCESS,
    want_pre: Status = SUCCESS,
) -> Any:
    return pytest.param(new, existing, max_vols, drivers, source, extra, want, want_pre, id=test)


CSI_LIMITS = [
    case(
        "fits when node volume limit >= new pods CSI volume",
        EBS_ONE_VOL,
        [RUNNING, EBS_TWO_VOL],
        max_vols=4,
    ),
    case(
        "doesn't when node volume limit <= pods CSI volume",
        EBS_ONE_VOL,
        [RUNNING, EBS_TWO_VOL],
        max_vols=2,
        want=REJECTED,
    ),
    case(
        "should when driver does not support volume limits",
        EBS_ONE_VOL,
        [RUNNING, EBS_TWO_VOL],
        max_vols=2,
        source="csinode-with-no-limit",
    ),
    case(
        "count pending PVCs towards volume limit <= pods CSI volume",
        EBS_ONE_VOL,
        [PENDING_VOLUME, EBS_TWO_VOL],
        max_vols=2,
        want=REJECTED,
    ),
    case(
        "count multiple pending pvcs towards volume limit >= pods CSI volume",
        EBS_ONE_VOL,
        [PENDING_VOLUME, UNBOUND_PVC_2, EBS_TWO_VOL],
        max_vols=4,
    ),
    case(
        "should count PVCs with invalid PV name but valid SC",
        EBS_ONE_VOL,
        [MISSING_PV, EBS_TWO_VOL],
        max_vols=2,
        want=REJECTED,
    ),
    case(
        "don't count pvcs with missing SC towards volume limit",
        EBS_ONE_VOL,
        [RUNNING, NO_SC_PVC],
        max_vols=2,
    ),
    case(
        "count pvcs with the same type towards volume limit",
        EBS_ONE_VOL,
        [GCE_TWO_VOL, EBS_TWO_VOL],
        max_vols=2,
        drivers=(EBS, GCE),
        want=REJECTED,
    ),
    case(
        "don't count pvcs with different type towards volume limit",
        GCE_TWO_VOL,
        [EBS_TWO_VOL, RUNNING],
        max_vols=2,
        drivers=(EBS, GCE),
    ),
    case("nil csi node", EBS_ONE_VOL, [EBS_TWO_VOL, RUNNING], source="none"),
    case(
        "ephemeral volume missing",
        EPHEMERAL_POD,
        source="csinode-with-no-limit",
        want=MISSING_EPHEMERAL,
    ),
    case(
        "ephemeral volume not owned",
        EPHEMERAL_POD,
        source="csinode-with-no-limit",
        extra=[CONFLICTING_CLAIM],
        want=Status.error("PVC test/abc-xyz was not created for pod test/abc (pod is not owner)"),
    ),
    case(
        "ephemeral volume unbound",
        EPHEMERAL_POD,
        source="csinode-with-no-limit",
        extra=[EPHEMERAL_CLAIM],
    ),
    case(
        "ephemeral doesn't when node volume limit <= pods CSI volume",
        EPHEMERAL_POD,
        [RUNNING, EBS_TWO_VOL],
        max_vols=2,
        extra=[EPHEMERAL_CLAIM],
        want=REJECTED,
    ),
    case(
        "ephemeral doesn't when node volume limit <= pods ephemeral CSI volume",
        EBS_ONE_VOL,
        [RUNNING, EPHEMERAL_TWO_VOL],
        max_vols=2,
        extra=[EPHEMERAL_X, EPHEMERAL_Y],
        want=REJECTED,
    ),
    case(
        "persistent doesn't when node volume limit <= pods ephemeral CSI volume "
        "+ persistent volume",
        EBS_ONE_VOL,
        [RUNNING, RUNNING_EPHEMERAL, EBS_TWO_VOL],
        max_vols=3,
        extra=[EPHEMERAL_CLAIM],
        want=REJECTED,
    ),
    case(
        "persistent okay when node volume limit > pods ephemeral CSI volume + persistent volume",
        EBS_ONE_VOL,
        [RUNNING, RUNNING_EPHEMERAL, EBS_TWO_VOL],
        max_vols=5,
        extra=[EPHEMERAL_CLAIM],
    ),
    case(
        "skip Filter when the pod only uses secrets and configmaps",
        ONLY_CONFIGMAP_AND_SECRET,
        max_vols=2,
        want_pre=SKIP,
    ),
    case("don't skip Filter when the pod has pvcs", PVC_WITH_CONFIGMAP_AND_SECRET, max_vols=2),
    case(
        "don't skip Filter when the pod has ephemeral volumes",
        EPHEMERAL_WITH_CONFIGMAP_AND_SECRET,
        source="csinode-with-no-limit",
        want=MISSING_EPHEMERAL,
    ),
    # Beyond upstream's table: a volume already attached for another pod is free.
    case(
        "a volume shared with a pod on the node counts once",
        pod(f"csi-{EBS}-1", name="sharer"),
        [EBS_TWO_VOL],
        max_vols=2,
    ),
    case(
        "an existing pod's vanished claim is not counted",
        EBS_ONE_VOL,
        [pod("gone", name="vanished", node=NODE), RUNNING],
        max_vols=2,
    ),
]


@pytest.mark.parametrize(
    ("new", "existing", "max_vols", "drivers", "source", "extra", "want", "want_pre"), CSI_LIMITS
)
def test_csi_limits(
    new: PodInfo,
    existing: Sequence[PodInfo],
    max_vols: int,
    drivers: Sequence[str],
    source: str,
    extra: Sequence[PersistentVolumeClaim],
    want: Status,
    want_pre: Status,
) -> None:
    objects = fixtures(drivers, extra)
    objects.csi_nodes = limits(source, max_vols, drivers)
    p = plugin(objects)
    state = CycleState()
    node = node_info(NODE, pods=existing)
    _, pre = p.pre_filter(state, new, [node])
    assert pre == want_pre
    if not pre.is_skip:
        got = p.filter(state, new, node)
        assert (got.code, got.reasons) == (want.code, want.reasons)


def test_a_claim_without_a_name_is_an_error() -> None:
    p = plugin(fixtures((EBS,)))
    status = p.filter(CycleState(), pod(""), node_info(NODE))
    assert (status.code, status.reasons) == (Code.ERROR, ("PersistentVolumeClaim had no name",))


# -- queueing hints ---------------------------------------------------------------------

Hint = Callable[[PodInfo, object, object], QueueingHint]


def hint(label: str) -> Hint:
    hints = {e.event.label: e.hint for e in plugin(FakeObjects()).events_to_register()}
    found = hints[label]
    assert found is not None
    return found


PENDING_EBS = pod(f"csi-{EBS}-2")

POD_DELETED = [
    pytest.param(pod("placeholder", node=NODE), QueueingHint.QUEUE, id="deleted pod has a PVC"),
    pytest.param(
        make_pod("d", volumes=[ephemeral_volume("e")], node_name=NODE),
        QueueingHint.QUEUE,
        id="deleted pod has an ephemeral volume",
    ),
    pytest.param(make_pod("d", node_name=NODE), QueueingHint.SKIP, id="deleted pod has no volume"),
    pytest.param(pod(f"csi-{EBS}-0"), QueueingHint.SKIP, id="deleted pod is not scheduled"),
]


@pytest.mark.parametrize(("deleted", "want"), POD_DELETED)
def test_hint_after_pod_deleted(deleted: PodInfo, want: QueueingHint) -> None:
    assert hint("AssignedPodDELETE")(PENDING_EBS, deleted, None) is want


CLAIM_ADDED = [
    pytest.param(
        make_pod("p", namespace="ns1"),
        pvc("pvc", "ns2"),
        QueueingHint.SKIP,
        id="a pod isn't in the same namespace as an added PVC",
    ),
    pytest.param(
        make_pod("p", namespace="ns1", volumes=[claim_volume("pvc1")]),
        pvc("pvc1", "ns1"),
        QueueingHint.QUEUE,
        id="a pod is in the same namespace as an added PVC",
    ),
    pytest.param(
        make_pod("pod1", namespace="ns1", volumes=[ephemeral_volume("ephemeral")]),
        pvc("pod1-ephemeral", "ns1"),
        QueueingHint.QUEUE,
        id="a pod has an ephemeral volume related to an added PVC",
    ),
    pytest.param(
        make_pod("p", namespace="ns1", volumes=[claim_volume("pvc1")]),
        pvc("pvc2", "ns1"),
        QueueingHint.SKIP,
        id="a pod doesn't have the same PVC as an added PVC",
    ),
    pytest.param(
        make_pod("p", namespace="ns1"),
        pvc("pvc2", "ns1"),
        QueueingHint.SKIP,
        id="a pod doesn't have any PVC attached",
    ),
]


@pytest.mark.parametrize(("pending", "added", "want"), CLAIM_ADDED)
def test_hint_after_claim_added(
    pending: PodInfo, added: PersistentVolumeClaim, want: QueueingHint
) -> None:
    assert hint("PersistentVolumeClaimADD")(pending, None, added) is want


CSI_NODE_UPDATED = [
    pytest.param({EBS: 2}, {EBS: 3}, QueueingHint.QUEUE, id="limit raised"),
    pytest.param({EBS: 2}, {EBS: None}, QueueingHint.QUEUE, id="limit dropped"),
    pytest.param({EBS: 2}, {EBS: 1}, QueueingHint.SKIP, id="limit lowered"),
    pytest.param({EBS: 2}, {EBS: 2, GCE: 5}, QueueingHint.SKIP, id="another driver appeared"),
]


@pytest.mark.parametrize(("old", "new", "want"), CSI_NODE_UPDATED)
def test_hint_after_csi_node_update(
    old: dict[str, int | None], new: dict[str, int | None], want: QueueingHint
) -> None:
    fn = hint("CSINodeUPDATE")
    assert fn(PENDING_EBS, csi_node(NODE, old), csi_node(NODE, new)) is want
