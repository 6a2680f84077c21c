"""VolumeZone: a pod's bound PersistentVolumes must be reachable from the node's
zone and region.

A PV's zone and region labels (``topology.kubernetes.io/*`` and the
deprecated ``failure-domain.beta.kubernetes.io/*``) may list several values
joined by ``__``; the node's label must be one of them. A PV's beta label is
also matched against the node's GA label. A node without any of these labels
fits (single-zone clusters often have none). Unbound claims of a
WaitForFirstConsumer class are skipped: VolumeBinding places them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
from py_scheduler.model.volumes import PersistentVolume, PersistentVolumeClaim, StorageClass
from py_scheduler.plugins.volume_claims import (
    REASON_CLAIM_WITHOUT_NAME,
    claim_event_hint,
    claim_names,
    claim_not_found,
    class_not_found,
    volume_not_found,
)

NAME: Final = "VolumeZone"
REASON_CONFLICT: Final = "node(s) had no available volume zone"
REASON_NO_VOLUME_NOR_CLASS: Final = "PersistentVolumeClaim had no pv name and storageClass name"
REASON_NO_VOLUME_NAME: Final = "PersistentVolume had no name"

BETA_ZONE: Final = "failure-domain.beta.kubernetes.io/zone"
BETA_REGION: Final = "failure-domain.beta.kubernetes.io/region"
ZONE: Final = "topology.kubernetes.io/zone"
REGION: Final = "topology.kubernetes.io/region"
# Upstream's order, which decides which mismatch is found first.
TOPOLOGY_LABELS: Final = (BETA_ZONE, BETA_REGION, ZONE, REGION)
_GA_LABEL: Final = {BETA_ZONE: ZONE, BETA_REGION: REGION}
MULTI_ZONE_DELIMITER: Final = "__"

_REJECTED: Final = Status.unresolvable(REASON_CONFLICT)


@dataclass(frozen=True, slots=True)
class Topology:
    """One topology label of a bound PV: the node's label must be in ``values``."""

    volume: str
    key: str
    values: frozenset[str]


def volume_topologies(volume: PersistentVolume) -> tuple[Topology, ...]:
    out = []
    for key in TOPOLOGY_LABELS:
        value = volume.labels.get(key)
        if value is None:
            continue
        zones = [zone.strip() for zone in value.split(MULTI_ZONE_DELIMITER)]
        if not all(zones):
            continue  # a malformed list is ignored, as upstream does
        out.append(Topology(volume.name, key, frozenset(zones)))
    return tuple(out)


def node_fits(topologies: Sequence[Topology], labels: Mapping[str, str]) -> bool:
    if not any(key in labels for key in TOPOLOGY_LABELS):
        return True
    for topology in topologies:
        value = labels.get(topology.key)
        if value is None:
            value = labels.get(_GA_LABEL.get(topology.key, topology.key))
        if value is None or value not in topology.values:
            return False
    return True


_PRE_FILTER: Final = StateKey[tuple[Topology, ...]](f"PreFilter{NAME}")


class VolumeZone:
    name: ClassVar[str] = NAME

    def __init__(self, args: NoArgs, handle: Handle) -> None:
        del args
        self._objects = handle.objects

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        topologies, status = self._topologies(pod)
        if not status.is_success:
            return None, status
        if not topologies:
            return None, SKIP
        state.write(_PRE_FILTER, topologies)
        return None, SUCCESS

    def _topologies(self, pod: PodInfo) -> tuple[tuple[Topology, ...], Status]:
        out: list[Topology] = []
        for name in claim_names(pod):
            if not name:
                return (), Status.unresolvable(REASON_CLAIM_WITHOUT_NAME)
            claim = self._objects.pvc(pod.namespace, name)
            if claim is None:
                return (), Status.unresolvable(claim_not_found(name))
            if not claim.volume_name:
                problem = self._unbound_problem(claim)
                if problem is not None:
                    return (), Status.unresolvable(problem)
                continue
            volume = self._objects.pv(claim.volume_name)
            if volume is None:
                return (), Status.unresolvable(volume_not_found(claim.volume_name))
            out.extend(volume_topologies(volume))
        return tuple(out), SUCCESS

    def _unbound_problem(self, claim: PersistentVolumeClaim) -> str | None:
        """None when the claim waits for its first consumer (VolumeBinding's job)."""
        class_name = claim.storage_class_name
        if not class_name:
            return REASON_NO_VOLUME_NOR_CLASS
        storage_class = self._objects.storage_class(class_name)
        if storage_class is None:
            return class_not_found(class_name)
        # An Immediate claim should already be bound; the API server defaults
        # volumeBindingMode, so upstream's "not set" case cannot arise.
        return None if storage_class.waits_for_first_consumer else REASON_NO_VOLUME_NAME

    def pre_filter_extensions(self) -> PreFilterExtensions | None:
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if not pod.volumes:
            return SUCCESS
        topologies = state.get(_PRE_FILTER)
        if topologies is None:
            computed, status = self._topologies(pod)
            if not status.is_success:
                return status
            topologies = computed
        return SUCCESS if node_fits(topologies, node.node.labels) else _REJECTED

    # -- EnqueueExtensions -----------------------------------------------------------

    def events_to_register(self) -> Sequence[ClusterEventWithHint]:
        # Node: Add and label updates (1.35 runs with queueing hints, so the
        # preCheck workaround of also registering taint updates is gone).
        # StorageClass: add only, volumeBindingMode being immutable.
        add_or_update = ActionType.ADD | ActionType.UPDATE
        return (
            ClusterEventWithHint(
                event(Resource.STORAGE_CLASS, ActionType.ADD), self._after_class_added
            ),
            ClusterEventWithHint(
                event(Resource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL)
            ),
            ClusterEventWithHint(event(Resource.PVC, add_or_update), self._after_claim_change),
            ClusterEventWithHint(event(Resource.PV, add_or_update), self._after_volume_change),
        )

    def _after_claim_change(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        return claim_event_hint(pod, new, ephemeral=False)

    def _after_class_added(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        if not isinstance(new, StorageClass):
            return QueueingHint.QUEUE
        return QueueingHint.QUEUE if new.waits_for_first_consumer else QueueingHint.SKIP

    def _after_volume_change(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        if not isinstance(new, PersistentVolume) or not isinstance(old, PersistentVolume | None):
            return QueueingHint.QUEUE
        if old is None:
            return QueueingHint.QUEUE
        if volume_topologies(old) != volume_topologies(new):
            return QueueingHint.QUEUE
        return QueueingHint.SKIP


SPEC: Final = PluginSpec(NAME, no_args, VolumeZone)
