"""NodeVolumeLimits: a node attaches at most ``allocatable.count`` volumes per
CSI driver, as its CSINode reports.

Volumes are counted by ``<driver>/<volumeHandle>``, so a volume shared by
several pods on the node counts once. A bound claim is counted under its
PV's CSI driver and handle; an unbound claim (or one whose PV is gone) under
its StorageClass's provisioner, with a handle made unique per claim so that
it can never be mistaken for a real one. Generic ephemeral volumes count like
the claims they create, which must be controlled by the pod.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Sequence
from typing import ClassVar, Final

from py_scheduler.framework.cycle_state import CycleState
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
from py_scheduler.model.volumes import CSINode, PersistentVolumeClaim
from py_scheduler.plugins.volume_claims import (
    REASON_CLAIM_WITHOUT_NAME,
    claim_event_hint,
    claim_not_found,
    claims_and_ephemerals,
    not_owned_problem,
)

NAME: Final = "NodeVolumeLimits"
REASON_MAX_VOLUME_COUNT_EXCEEDED: Final = "node(s) exceed max volume count"

_REJECTED: Final = Status.unschedulable(REASON_MAX_VOLUME_COUNT_EXCEEDED)

# "<driver>/<volumeHandle>" -> driver
Attachable = dict[str, str]


class NodeVolumeLimits:
    name: ClassVar[str] = NAME

    def __init__(self, args: NoArgs, handle: Handle) -> None:
        del args
        self._objects = handle.objects
        # Random, as upstream: unbound claims get handles no real volume has.
        self._prefix = secrets.token_hex(16)

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        if any(v.claim is not None or v.ephemeral for v in pod.volumes):
            return None, SUCCESS
        return None, SKIP

    def pre_filter_extensions(self) -> PreFilterExtensions | None:
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if not pod.volumes:
            return SUCCESS
        csi_node = self._objects.csi_node(node.name)
        wanted: Attachable = {}
        status = self._attachable(pod, wanted, new_pod=True)
        if not status.is_success:
            return status
        if not wanted:
            return SUCCESS
        limits = volume_limits(csi_node)
        if not limits:
            return SUCCESS
        attached: Attachable = {}
        for existing in node.pods.values():
            status = self._attachable(existing, attached, new_pod=False)
            if not status.is_success:
                return status
        for unique in attached:
            wanted.pop(unique, None)  # already attached for another pod
        in_use = Counter(attached.values())
        for driver, count in Counter(wanted.values()).items():
            limit = limits.get(driver)
            if limit is not None and in_use[driver] + count > limit:
                return _REJECTED
        return SUCCESS

    def _attachable(self, pod: PodInfo, out: Attachable, *, new_pod: bool) -> Status:
        for name, ephemeral in claims_and_ephemerals(pod):
            if not name:
                return Status.error(REASON_CLAIM_WITHOUT_NAME)
            claim = self._objects.pvc(pod.namespace, name)
            if claim is None:
                if new_pod:
                    # The pod cannot run without its claim: only its creation helps.
                    return Status.unresolvable(
                        f"looking up PVC {pod.namespace}/{name}: {claim_not_found(name)}"
                    )
                continue  # an existing pod's vanished claim is not counted
            if ephemeral and (problem := not_owned_problem(pod, claim)) is not None:
                return Status.error(problem)
            driver, handle = self._driver_and_handle(claim)
            if driver and handle:
                out[f"{driver}/{handle}"] = driver
        return SUCCESS

    def _driver_and_handle(self, claim: PersistentVolumeClaim) -> tuple[str, str]:
        if claim.volume_name:
            volume = self._objects.pv(claim.volume_name)
            if volume is not None:
                # Not a CSI volume: not this plugin's to count.
                return volume.csi_driver, volume.csi_volume_handle
        # Unbound, or prebound to a PV not seen yet: count by the provisioner.
        # Without a class (or with an unknown one) the claim binds
        # immediately, so it is bound before it matters.
        if not claim.storage_class_name:
            return "", ""
        storage_class = self._objects.storage_class(claim.storage_class_name)
        if storage_class is None:
            return "", ""
        return storage_class.provisioner, f"{self._prefix}-{claim.namespace}/{claim.name}"

    # -- EnqueueExtensions -----------------------------------------------------------

    def events_to_register(self) -> Sequence[ClusterEventWithHint]:
        deleted = ActionType.DELETE
        return (
            # Any new CSINode may report room; no hint, as upstream.
            ClusterEventWithHint(event(Resource.CSI_NODE, ActionType.ADD)),
            # allocatable.count is mutable (MutableCSINodeAllocatableCount).
            ClusterEventWithHint(
                event(Resource.CSI_NODE, ActionType.UPDATE), _after_csi_node_update
            ),
            ClusterEventWithHint(event(Resource.ASSIGNED_POD, deleted), _after_pod_deleted),
            ClusterEventWithHint(event(Resource.POD, deleted), _after_pod_deleted),
            ClusterEventWithHint(event(Resource.PVC, ActionType.ADD), _after_claim_added),
        )


def volume_limits(csi_node: CSINode | None) -> dict[str, int]:
    """Per-driver limits; drivers that report no count are unlimited."""
    if csi_node is None:
        return {}
    return {
        name: driver.allocatable_count
        for name, driver in csi_node.drivers.items()
        if driver.allocatable_count is not None
    }


def _after_pod_deleted(pod: PodInfo, old: object | None, new: object | None) -> QueueingHint:
    deleted = old if old is not None else new
    if not isinstance(deleted, PodInfo):
        return QueueingHint.QUEUE
    if not deleted.node_name:
        return QueueingHint.SKIP
    if any(v.claim is not None or v.ephemeral for v in deleted.volumes):
        return QueueingHint.QUEUE
    return QueueingHint.SKIP


def _after_claim_added(pod: PodInfo, old: object | None, new: object | None) -> QueueingHint:
    return claim_event_hint(pod, new, ephemeral=True)


def _after_csi_node_update(pod: PodInfo, old: object | None, new: object | None) -> QueueingHint:
    if not isinstance(old, CSINode) or not isinstance(new, CSINode):
        return QueueingHint.QUEUE
    before = volume_limits(old)
    for driver, limit in volume_limits(new).items():
        if driver in before and limit > before[driver]:
            return QueueingHint.QUEUE
    # A driver that dropped its limit is now unlimited.
    if any(driver not in volume_limits(new) for driver in before):
        return QueueingHint.QUEUE
    return QueueingHint.SKIP


SPEC: Final = PluginSpec(NAME, no_args, NodeVolumeLimits)
