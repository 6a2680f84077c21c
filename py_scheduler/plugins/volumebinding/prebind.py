"""What VolumeBinding's PreBind writes and then waits for: the PV controller
(and a provisioner) finishing the binding, judged against the watched
objects as kube-scheduler's ``checkBindings`` does.

``check_bindings`` says True once every claim is fully bound, False while
work is pending, and raises :class:`BindingError` when binding was undone
(a claimRef reset, a provisioner that removed the selected node) and the pod
must be scheduled again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from py_scheduler.framework.interface import ObjectLister
from py_scheduler.model import Node
from py_scheduler.model.volumes import (
    CSIStorageCapacity,
    PersistentVolume,
    PersistentVolumeClaim,
)


class BindingError(Exception):
    """Binding must fail and the pod be retried (kube-scheduler's error text)."""


@dataclass(slots=True)
class PodVolumes:
    """What binding the pod's volumes on one node takes."""

    static_bindings: list[tuple[PersistentVolumeClaim, PersistentVolume]] = field(
        default_factory=list
    )
    dynamic_provisions: list[PersistentVolumeClaim] = field(default_factory=list)
    # claim key -> the CSIStorageCapacity that let it be provisioned on the node
    # (absent when its driver does not publish capacity).
    node_capacity: dict[str, CSIStorageCapacity] = field(default_factory=dict)


def fully_bound(claim: PersistentVolumeClaim) -> bool:
    return claim.is_bound and claim.bind_completed


def check_bindings(objects: ObjectLister, written: PodVolumes, node: Node) -> bool:
    """True once the PV controller has bound every claim; BindingError when
    binding was undone and the pod must be scheduled again."""
    for claim, ours in written.static_bindings:
        volume = objects.pv(ours.name)
        current = objects.pvc(claim.namespace, claim.name)
        if volume is None or current is None:
            what = "persistentvolume" if volume is None else "persistentvolumeclaim"
            raise BindingError(f"failed to check binding: {what} not found")
        if _older(volume.resource_version, ours.resource_version):
            return False  # the watch has not caught up with our own write
        if not volume.fits_node(node.name, node.labels):
            raise BindingError(
                f'pv "{volume.name}" node affinity doesn\'t match node "{node.name}"'
            )
        if volume.claim_ref is None or not volume.claim_ref.uid:
            raise BindingError(f'ClaimRef got reset for pv "{volume.name}"')
        if not fully_bound(current):
            return False
    for ours_claim in written.dynamic_provisions:
        current = objects.pvc(ours_claim.namespace, ours_claim.name)
        if current is None:
            raise BindingError("failed to check provisioning pvc: persistentvolumeclaim not found")
        if _older(current.resource_version, ours_claim.resource_version):
            return False
        if not current.annotations:
            raise BindingError(f'selectedNode annotation reset for PVC "{current.name}"')
        if current.selected_node != node.name:
            # A provisioner that gives up removes the annotation to say so.
            raise BindingError(f'provisioning failed for PVC "{current.name}"')
        if current.volume_name:
            volume = objects.pv(current.volume_name)
            if volume is None:
                return False  # the new volume is not watched yet
            if not volume.fits_node(node.name, node.labels):
                raise BindingError(
                    f'pv "{volume.name}" node affinity doesn\'t match node "{node.name}"'
                )
        if not fully_bound(current):
            return False
    return True


def _older(seen: str, written: str) -> bool:
    """The watched object predates our write (resourceVersions compare as integers)."""
    try:
        return int(seen) < int(written)
    except ValueError:
        return False
