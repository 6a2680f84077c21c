"""Which PersistentVolume an unbound claim would get on a node, as
component-helpers' ``FindMatchingVolume`` decides on the scheduler path.

A volume already pre-bound to the claim wins (or the node is wrong for the
claim altogether); otherwise the smallest available volume of the claim's
class that is large enough, has the claim's volume mode and access modes,
matches its selector, is reachable from the node and was not chosen for
another claim of the same pod.

``VolumeIndex`` files a class's volumes by the hostnames their node affinity
pins them to, so that a node looks only at its own local volumes plus the
unpinned ones, not at every volume of the class.
"""

from __future__ import annotations

import itertools
from collections.abc import Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from py_scheduler.model import HOSTNAME_LABEL
from py_scheduler.model.volumes import (
    VOLUME_AVAILABLE,
    PersistentVolume,
    PersistentVolumeClaim,
)


@dataclass(slots=True)
class VolumeIndex:
    by_host: dict[str, list[PersistentVolume]] = field(default_factory=dict)
    anywhere: list[PersistentVolume] = field(default_factory=list)

    def for_node(self, labels: Mapping[str, str]) -> Iterator[PersistentVolume]:
        """Every volume that could be reachable from a node with these labels."""
        host = labels.get(HOSTNAME_LABEL)
        pinned = self.by_host.get(host, []) if host is not None else []
        return itertools.chain(pinned, self.anywhere)


def _pinned_hosts(volume: PersistentVolume) -> frozenset[str] | None:
    """Hostnames the volume is confined to, when every affinity term names them."""
    if volume.node_affinity is None or not volume.node_affinity.terms:
        return None
    hosts: set[str] = set()
    for term in volume.node_affinity.terms:
        names = [
            r.values for r in term.expressions if r.key == HOSTNAME_LABEL and r.operator == "In"
        ]
        if not names:
            return None
        hosts |= frozenset.intersection(*names)
    return frozenset(hosts)


def index_volumes(volumes: Iterable[PersistentVolume]) -> VolumeIndex:
    index = VolumeIndex()
    for volume in volumes:
        hosts = _pinned_hosts(volume)
        # A claimed volume may be the claim's own, which must be seen from every
        # node: unreachable, it rules the node out (see find_matching_volume).
        if hosts is None or volume.claim_ref is not None:
            index.anywhere.append(volume)
            continue
        for host in hosts:
            index.by_host.setdefault(host, []).append(volume)
    return index


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
