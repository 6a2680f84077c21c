"""VolumeRestrictions: in-line disks that cannot be shared, and claims with the
ReadWriteOncePod access mode.

In-line disks conflict with the same disk used by a pod on the node, as
upstream decides it:

- GCE PD: same ``pdName``, unless both mounts are read-only;
- AWS EBS: same ``volumeID``, read-only or not;
- iSCSI: same ``iqn`` (portal and LUN are not compared), unless both read-only;
- RBD: same pool and image and at least one monitor in common, unless both
  read-only.

A ReadWriteOncePod claim already used by any scheduled pod in the cluster
makes every node unschedulable for the pod; preemption may help, so the
PreFilter extensions keep the count current when victims are removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Final

from py_scheduler.framework.cycle_state import CycleState, StateKey
from py_scheduler.framework.interface import Handle, PreFilterExtensions
from py_scheduler.framework.registry import NoArgs, PluginSpec, no_args
from py_scheduler.framework.status import SKIP, SUCCESS, Status
from py_scheduler.framework.types import (
    ActionType,
    ClusterEventWithHint,
    PreFilterResult,
    QueueingHint,
    Resource,
    event,
)
from py_scheduler.model import NodeInfo, PodInfo
from py_scheduler.model.pod import Volume
from py_scheduler.model.volumes import READ_WRITE_ONCE_POD, PersistentVolumeClaim
from py_scheduler.plugins.volume_claims import claim_event_hint, claim_names, claim_not_found

NAME: Final = "VolumeRestrictions"
REASON_DISK_CONFLICT: Final = "node(s) had no available disk"
REASON_READ_WRITE_ONCE_POD_CONFLICT: Final = (
    "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode"
)

# The kinds pod decoding gives an identity (``Volume.disk``), and where the
# compared fields sit in it: (kind, pdName), (kind, volumeID),
# (kind, targetPortal, iqn, lun), (kind, pool, image, *sorted monitors).
GCE_PD: Final = "gcePersistentDisk"
AWS_EBS: Final = "awsElasticBlockStore"
ISCSI: Final = "iscsi"
RBD: Final = "rbd"

_DISK_CONFLICT: Final = Status.unschedulable(REASON_DISK_CONFLICT)
_RWOP_CONFLICT: Final = Status.unschedulable(REASON_READ_WRITE_ONCE_POD_CONFLICT)


def disks_conflict(a: Volume, b: Volume) -> bool:
    """Whether two in-line disk volumes may not be mounted by two pods at once."""
    if a.disk is None or b.disk is None or a.disk[0] != b.disk[0]:
        return False
    kind = a.disk[0]
    both_read_only = a.read_only and b.read_only
    if kind == AWS_EBS:
        return a.disk[1] == b.disk[1]
    if kind == GCE_PD:
        return a.disk[1] == b.disk[1] and not both_read_only
    if kind == ISCSI:
        return a.disk[2] == b.disk[2] and not both_read_only
    if kind == RBD:
        same_image = a.disk[1:3] == b.disk[1:3]
        shared_monitor = not set(a.disk[3:]).isdisjoint(b.disk[3:])
        return same_image and shared_monitor and not both_read_only
    return False


def has_disk_conflict(pod: PodInfo, others: Sequence[PodInfo]) -> bool:
    disks = [v for v in pod.volumes if v.disk is not None]
    if not disks:
        return False
    return any(
        disks_conflict(mine, theirs)
        for other in others
        for theirs in other.volumes
        for mine in disks
    )


@dataclass(slots=True)
class _State:
    namespace: str
    read_write_once_pod: frozenset[str]  # the pod's claims with ReadWriteOncePod
    # How many scheduled pods use one of those claims (at most one each, as the
    # access mode allows), adjusted as preemption adds or removes pods.
    conflicting_refs: int

    def clone(self) -> _State:
        return _State(self.namespace, self.read_write_once_pod, self.conflicting_refs)

    def refs_of(self, other: PodInfo) -> int:
        # Upstream compares names only; a claim name is unique only within its
        # namespace, so the namespace is checked as PreFilter's count does.
        if other.namespace != self.namespace:
            return 0
        return sum(1 for name in claim_names(other) if name in self.read_write_once_pod)


_PRE_FILTER: Final = StateKey[_State](f"PreFilter{NAME}")


class VolumeRestrictions:
    name: ClassVar[str] = NAME

    def __init__(self, args: NoArgs, handle: Handle) -> None:
        del args
        self._handle = handle

    # -- PreFilter -----------------------------------------------------------------

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        data, status = self._compute(pod)
        if data is None:
            return None, status
        state.write(_PRE_FILTER, data)
        return None, SUCCESS

    def _compute(self, pod: PodInfo) -> tuple[_State | None, Status]:
        """The PreFilter state, or None with the status that stops here (Skip included)."""
        needs_disk_check = any(v.disk is not None for v in pod.volumes)
        wanted: set[str] = set()
        for name in claim_names(pod):
            claim = self._handle.objects.pvc(pod.namespace, name)
            if claim is None:
                return None, Status.unresolvable(claim_not_found(name))
            if _read_write_once_pod(claim):
                wanted.add(claim.name)
        conflicting = sum(1 for name in wanted if self._used_by_pods(pod.namespace, name))
        if not needs_disk_check and conflicting == 0:
            return None, SKIP
        return _State(pod.namespace, frozenset(wanted), conflicting), SUCCESS

    def _used_by_pods(self, namespace: str, claim: str) -> bool:
        key = f"{namespace}/{claim}"
        return any(key in node.pvc_refs for node in self._handle.snapshot.node_infos())

    def pre_filter_extensions(self) -> PreFilterExtensions | None:
        return self

    def add_pod(self, state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo) -> Status:
        return self._update(state, added, 1)

    def remove_pod(
        self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo
    ) -> Status:
        return self._update(state, removed, -1)

    def _update(self, state: CycleState, other: PodInfo, sign: int) -> Status:
        data = state.get(_PRE_FILTER)
        if data is None:
            return _missing_state()
        data.conflicting_refs += sign * data.refs_of(other)
        return SUCCESS

    # -- Filter --------------------------------------------------------------------

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if has_disk_conflict(pod, list(node.pods.values())):
            return _DISK_CONFLICT
        data = state.get(_PRE_FILTER)
        if data is None:
            # Filter run without PreFilter (a caller checking one node): work it out.
            data, status = self._compute(pod)
            if data is None:
                return SUCCESS if status.is_skip else status
        return _RWOP_CONFLICT if data.conflicting_refs > 0 else SUCCESS

    # -- EnqueueExtensions -----------------------------------------------------------

    def events_to_register(self) -> Sequence[ClusterEventWithHint]:
        # Volumes are immutable, so pod updates never help. Node/Add only:
        # kube-scheduler 1.35 runs with queueing hints, which drop preCheck.
        deleted = ActionType.DELETE
        return (
            ClusterEventWithHint(event(Resource.ASSIGNED_POD, deleted), self._after_pod_deleted),
            ClusterEventWithHint(event(Resource.POD, deleted), self._after_pod_deleted),
            ClusterEventWithHint(event(Resource.NODE, ActionType.ADD)),
            ClusterEventWithHint(event(Resource.PVC, ActionType.ADD), self._after_claim_added),
        )

    def _after_pod_deleted(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        deleted = old if old is not None else new
        if not isinstance(deleted, PodInfo):
            return QueueingHint.QUEUE
        if deleted.namespace != pod.namespace:
            return QueueingHint.SKIP
        if has_disk_conflict(pod, [deleted]):
            return QueueingHint.QUEUE
        # The claim's access mode is not looked up here, as upstream: a shared
        # claim name is reason enough to retry.
        if set(claim_names(pod)) & set(claim_names(deleted)):
            return QueueingHint.QUEUE
        return QueueingHint.SKIP

    def _after_claim_added(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        return claim_event_hint(pod, new, ephemeral=False)


def _read_write_once_pod(claim: PersistentVolumeClaim) -> bool:
    return READ_WRITE_ONCE_POD in claim.access_modes


def _missing_state() -> Status:
    return Status.error(f'cannot read "{_PRE_FILTER.name}" from cycleState')


SPEC: Final = PluginSpec(NAME, no_args, VolumeRestrictions)
