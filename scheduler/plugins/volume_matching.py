"""Which PersistentVolume an unbound claim would get on a node, as
component-helpers' ``FindMatchingVolume`` decides on the scheduler path.

A volume already pre-bound to the claim wins (or the node is wrong for the
claim altogether); otherwise the smallest available volume of the claim's
class that is large enough, has the claim's volume mode and access modes,
matches its selector, is reachable from the node and was not chosen for
another claim of the same pod.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping

from scheduler.model.volumes import (
    VOLUME_AVAILABLE,
    PersistentVolume,
    PersistentVolumeClaim,
)


def is_bound_to(volume: PersistentVolume, claim: PersistentVolumeClaim) -> bool:
    """The volume's claimRef names the claim (a ref without UID counts)."""
    ref = volume.claim_ref
    if ref is None or (ref.namespace, ref.name) != (claim.namespace, claim.name):
        return False
    return not ref.uid or ref.uid == claim.uid


def find_matching_volume(
    claim: PersistentVolumeClaim,
    volumes: Iterable[PersistentVolume],
    *,
    node_name: str,
    node_labels: Mapping[str, str],
    excluded: Container[str],
) -> PersistentVolume | None:
    smallest: PersistentVolume | None = None
    for volume in volumes:
        if volume.name in excluded:
            continue
        pre_bound = is_bound_to(volume, claim)
        if volume.claim_ref is not None and not pre_bound:
            continue
        if volume.capacity < claim.requested_storage:
            continue
        if volume.volume_mode != claim.volume_mode or volume.deleting:
            continue
        reachable = volume.fits_node(node_name, node_labels)
        if pre_bound:
            # The claim's own volume: this node or none.
            return volume if reachable else None
        if volume.phase != VOLUME_AVAILABLE:
            # Volumes on their way to Available would likely conflict on update.
            continue
        if claim.selector is not None and not claim.selector.matches(volume.labels):
            continue
        if volume.storage_class_name != claim.storage_class_name or not reachable:
            continue
        if not claim.access_modes <= volume.access_modes:
            continue
        if smallest is None or volume.capacity < smallest.capacity:
            smallest = volume
    return smallest
