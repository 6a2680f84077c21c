"""VolumeBinding: PersistentVolumeClaims (and generic ephemeral volumes),
bound or bound by the scheduler, as kube-scheduler's volumebinding plugin.

PreFilter sorts the pod's claims: bound (fully, by the PV controller), unbound
with WaitForFirstConsumer (the scheduler's to bind), or unbound immediate,
which the PV controller should have bound already and which leaves the pod
pending. Filter checks, per node, that bound volumes are reachable and that
each delayed claim either matches an available volume there or can be
provisioned there (with enough free storage, when its CSI driver publishes
CSIStorageCapacity objects). Score (StorageCapacityScoring, on by default from
1.37, see :mod:`.scorer`) prefers, by default, the nodes whose storage the
claims would fill least. Reserve assumes the chosen matches (see
:mod:`~py_scheduler.plugins.volumebinding.assume_cache`), Unreserve reverts them.
PreBind writes them (a volume's claimRef, a claim's selected-node
annotation) and waits until the PV controller has bound every claim. As
upstream, nothing already written is rolled back on failure: the PV
controller completes a pre-bound pair, and a provisioner that fails removes
the selected node itself; the pod is retried.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import ClassVar, Final

from py_scheduler.cluster import ClusterError
from py_scheduler.framework.cycle_state import CycleState, StateKey
from py_scheduler.framework.interface import Handle, PreFilterExtensions
from py_scheduler.framework.registry import PluginSpec
from py_scheduler.framework.status import SKIP, SUCCESS, Status
from py_scheduler.framework.types import (
    ActionType,
    ClusterEventWithHint,
    PreFilterResult,
    QueueingHint,
    Resource,
    event,
)
from py_scheduler.model import Node, NodeInfo, NodeName, PodInfo
from py_scheduler.model import volumes as vol
from py_scheduler.model.volumes import (
    CSIDriver,
    CSIStorageCapacity,
    PersistentVolume,
    PersistentVolumeClaim,
    StorageClass,
)
from py_scheduler.plugins.volume_claims import claim_event_hint, claims_and_ephemerals
from py_scheduler.plugins.volumebinding.args import VolumeBindingArgs, decode_args
from py_scheduler.plugins.volumebinding.assume_cache import AssumeCache
from py_scheduler.plugins.volumebinding.matching import (
    VolumeIndex,
    find_matching_volume,
    index_volumes,
)
from py_scheduler.plugins.volumebinding.prebind import (
    BindingError,
    PodVolumes,
    check_bindings,
    fully_bound,
)
from py_scheduler.plugins.volumebinding.scorer import (
    DEFAULT_SHAPE,
    StorageResource,
    VolumeScorer,
    build_scorer,
)

NAME: Final = "VolumeBinding"
REASON_BIND_CONFLICT: Final = "node(s) didn't find available persistent volumes to bind"
REASON_NODE_CONFLICT: Final = "node(s) had volume node affinity conflict"
REASON_NOT_ENOUGH_SPACE: Final = "node(s) did not have enough free storage"
REASON_PV_NOT_EXIST: Final = (
    "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
)
REASON_UNBOUND_IMMEDIATE: Final = "pod has unbound immediate PersistentVolumeClaims"
# Upstream polls its informer caches every second; ours is the same in-memory
# check, cheap enough to run ten times as often and cut a second off each bind.
POLL_INTERVAL: Final = 0.1

_KEY: Final[StateKey[_State]] = StateKey(f"PreFilter{NAME}")


@dataclass(slots=True)
class _State:
    bound: list[PersistentVolumeClaim]
    delayed: list[PersistentVolumeClaim]  # unbound, WaitForFirstConsumer
    # The candidates of each delayed claim's class, listed once per cycle.
    volumes_by_class: dict[str, VolumeIndex] = field(default_factory=dict)
    by_node: dict[str, PodVolumes] = field(default_factory=dict)
    all_bound: bool = False


class VolumeBinding:
    name: ClassVar[str] = NAME

    def __init__(self, args: VolumeBindingArgs, handle: Handle) -> None:
        self._handle = handle
        self._timeout = float(args.bind_timeout_seconds)
        self._volumes: AssumeCache[PersistentVolume] = AssumeCache()
        self._claims: AssumeCache[PersistentVolumeClaim] = AssumeCache()
        # StorageCapacityScoring: on by default from 1.37, where an empty shape takes
        # the default one; before, only a shape the configuration gives turns it on.
        self._scorer: VolumeScorer | None = None
        if handle.server.version.at_least(1, 37) or args.shape:
            self._scorer = build_scorer(args.shape or DEFAULT_SHAPE)

    # -- the assumed view -----------------------------------------------------------

    def _pvc(self, namespace: str, name: str) -> PersistentVolumeClaim | None:
        return self._claims.get(f"{namespace}/{name}", self._handle.objects.pvc(namespace, name))

    def _pv(self, name: str) -> PersistentVolume | None:
        return self._volumes.get(name, self._handle.objects.pv(name))

    def _pvs_of_class(self, class_name: str) -> list[PersistentVolume]:
        out = []
        for watched in self._handle.objects.pvs():
            current = self._volumes.get(watched.name, watched)
            if current is not None and current.storage_class_name == class_name:
                out.append(current)
        return out

    def _index_by_class(self, claims: Sequence[PersistentVolumeClaim]) -> dict[str, VolumeIndex]:
        classes = {c.storage_class_name for c in claims}
        return {name: index_volumes(self._pvs_of_class(name)) for name in classes}

    def _class(self, name: str) -> StorageClass | None:
        return self._handle.objects.storage_class(name) if name else None

    # -- PreFilter ------------------------------------------------------------------

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        names = list(claims_and_ephemerals(pod))
        problem = self._claims_problem(pod, names)
        if problem:
            return None, Status.unresolvable(problem)
        if not names:
            return None, SKIP
        bound, delayed, immediate = [], [], []
        for name, _ in names:
            claim = self._pvc(pod.namespace, name)
            if claim is None:  # deleted since the check above, within this cycle
                return None, Status.unresolvable(f'persistentvolumeclaim "{name}" not found')
            if fully_bound(claim):
                bound.append(claim)
                continue
            sc = self._class(claim.storage_class_name)
            # A claim pre-bound by its author (volumeName set) is the PV controller's.
            if sc is not None and sc.waits_for_first_consumer and not claim.volume_name:
                delayed.append(claim)
            else:
                immediate.append(claim)
        if immediate:
            return None, Status.unresolvable(REASON_UNBOUND_IMMEDIATE)
        by_class = self._index_by_class(delayed)
        state.write(_KEY, _State(bound, delayed, by_class))
        return None, SUCCESS

    def _claims_problem(self, pod: PodInfo, names: list[tuple[str, bool]]) -> str:
        """Why the pod's claims cannot be judged at all, in upstream's words."""
        for name, ephemeral in names:
            claim = self._handle.objects.pvc(pod.namespace, name)
            if claim is None:
                if ephemeral:
                    return (
                        "waiting for ephemeral volume controller to create the "
                        f'persistentvolumeclaim "{name}"'
                    )
                return f'persistentvolumeclaim "{name}" not found'
            if claim.phase == vol.CLAIM_LOST:
                return (
                    f'persistentvolumeclaim "{name}" bound to non-existent persistentvolume '
                    f'"{claim.volume_name}"'
                )
            if claim.deleting:
                return f'persistentvolumeclaim "{name}" is being deleted'
            if ephemeral and claim.controller_uid != pod.uid:
                return (
                    f"PVC {claim.key} was not created for pod {pod.namespace}/{pod.name} "
                    "(pod is not owner)"
                )
        return ""

    def pre_filter_extensions(self) -> PreFilterExtensions | None:
        return None

    # -- Filter ---------------------------------------------------------------------

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        st = state.get(_KEY)
        if st is None:
            return SUCCESS
        try:
            volumes, reasons = self.find_pod_volumes(
                st.bound, st.delayed, node.node, st.volumes_by_class
            )
        except BindingError as exc:
            return Status.error(str(exc))
        if reasons:
            return Status.unresolvable(*reasons)
        st.by_node[node.name] = volumes
        return SUCCESS

    def find_pod_volumes(
        self,
        bound: Sequence[PersistentVolumeClaim],
        delayed: Sequence[PersistentVolumeClaim],
        node: Node,
        volumes_by_class: dict[str, VolumeIndex] | None = None,
    ) -> tuple[PodVolumes, list[str]]:
        """The node's bindings, or the reasons it cannot have them."""
        if volumes_by_class is None:
            volumes_by_class = self._index_by_class(delayed)
        out = PodVolumes()
        bound_ok, volumes_exist = self._check_bound(bound, node)
        to_match, to_provision = [], []
        for claim in delayed:
            if vol.ANN_SELECTED_NODE not in claim.annotations:
                to_match.append(claim)
            elif claim.selected_node == node.name:
                to_provision.append(claim)
            else:
                # Provisioning already started for another node.
                return out, _reasons(bound_ok, False, volumes_exist)
        unbound_ok = enough_space = True
        if to_match:
            unbound_ok, unmatched = self._match(to_match, node, volumes_by_class, out)
            to_provision += unmatched
        if to_provision:
            unbound_ok, enough_space = self._can_provision(to_provision, node, out)
        return out, _reasons(bound_ok, unbound_ok, volumes_exist, enough_space)

    def _check_bound(
        self, claims: Sequence[PersistentVolumeClaim], node: Node
    ) -> tuple[bool, bool]:
        """(every bound volume reachable from the node, every bound volume exists)."""
        for claim in claims:
            volume = self._pv(claim.volume_name)
            if volume is None:
                return True, False
            if not volume.fits_node(node.name, node.labels):
                return False, True
        return True, True

    def _match(
        self,
        claims: list[PersistentVolumeClaim],
        node: Node,
        volumes_by_class: dict[str, VolumeIndex],
        out: PodVolumes,
    ) -> tuple[bool, list[PersistentVolumeClaim]]:
        # Smallest requests first, each taking the smallest volume that fits.
        chosen: set[str] = set()
        unmatched = []
        for claim in sorted(claims, key=lambda c: c.requested_storage):
            volume = find_matching_volume(
                claim,
                volumes_by_class[claim.storage_class_name].for_node(node.labels),
                node_name=node.name,
                node_labels=node.labels,
                excluded=chosen,
            )
            if volume is None:
                unmatched.append(claim)
                continue
            chosen.add(volume.name)
            out.static_bindings.append((claim, volume))
        return not unmatched, unmatched

    def _can_provision(
        self, claims: list[PersistentVolumeClaim], node: Node, out: PodVolumes
    ) -> tuple[bool, bool]:
        """(every claim can be provisioned on the node, with enough free storage)."""
        provisions = []
        capacities: dict[str, CSIStorageCapacity] = {}
        for claim in claims:
            if not claim.storage_class_name:
                raise BindingError(f'no class for claim "{claim.key}"')
            sc = self._class(claim.storage_class_name)
            if sc is None:
                raise BindingError(f'failed to find storage class "{claim.storage_class_name}"')
            if sc.provisioner in ("", vol.NO_PROVISIONER):
                return False, True
            if sc.allowed_topologies is not None and not sc.allowed_topologies.matches(
                node.name, node.labels
            ):
                return False, True
            enough, capacity = self._has_enough_capacity(sc, claim, node)
            if not enough:
                return True, False
            if capacity is not None:
                capacities[claim.key] = capacity
            provisions.append(claim)
        out.dynamic_provisions = provisions
        out.node_capacity = capacities
        return True, True

    def _has_enough_capacity(
        self, sc: StorageClass, claim: PersistentVolumeClaim, node: Node
    ) -> tuple[bool, CSIStorageCapacity | None]:
        """Whether a CSIStorageCapacity the node reaches has room for the claim, and
        which; only for drivers that opt in (``CSIDriver.spec.storageCapacity``)."""
        driver = self._handle.objects.csi_driver(sc.provisioner)
        if driver is None or not driver.storage_capacity:
            return True, None
        for capacity in self._handle.objects.storage_capacities():
            limit = capacity.volume_limit
            if (
                capacity.storage_class_name == sc.name
                and limit is not None
                and limit >= claim.requested_storage
                and capacity.reaches(node.labels)
            ):
                return True, capacity
        return False, None

    # -- PreScore / Score -----------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        st = state.get(_KEY)
        if self._scorer is None or st is None:
            return SKIP
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        st = state.get(_KEY)
        if self._scorer is None or st is None:
            return 0
        planned = st.by_node.get(node.name)
        if planned is None:
            return 0
        classes: dict[str, StorageResource] = {}
        if planned.static_bindings:
            for claim, volume in planned.static_bindings:
                res = classes.setdefault(volume.storage_class_name, StorageResource())
                res.requested += claim.requested_storage
                res.capacity += volume.capacity
        else:
            for claim in planned.dynamic_provisions:
                capacity = planned.node_capacity.get(claim.key)
                if capacity is None:
                    continue
                res = classes.setdefault(claim.storage_class_name, StorageResource())
                # Set, not added: two claims of one class share the class's capacity.
                res.capacity = capacity.capacity or 0
                res.requested += claim.requested_storage
        return self._scorer(classes)

    # -- Reserve / Unreserve --------------------------------------------------------

    def reserve(self, state: CycleState, pod: PodInfo, node: NodeName) -> Status:
        st = state.get(_KEY)
        if st is None:
            return SUCCESS
        planned = st.by_node.get(node)
        if planned is None or not (planned.static_bindings or planned.dynamic_provisions):
            st.all_bound = True
            return SUCCESS
        assumed = PodVolumes()
        for claim, volume in planned.static_bindings:
            pre_bound = replace(
                volume, claim_ref=vol.ClaimRef(claim.namespace, claim.name, claim.uid)
            )
            self._volumes.assume(volume.name, pre_bound, self._handle.objects.pv(volume.name))
            assumed.static_bindings.append((claim, pre_bound))
        for claim in planned.dynamic_provisions:
            selected = replace(
                claim, annotations={**claim.annotations, vol.ANN_SELECTED_NODE: node}
            )
            watched = self._handle.objects.pvc(claim.namespace, claim.name)
            self._claims.assume(claim.key, selected, watched)
            assumed.dynamic_provisions.append(selected)
        st.by_node[node] = assumed
        st.all_bound = False
        return SUCCESS

    def unreserve(self, state: CycleState, pod: PodInfo, node: NodeName) -> None:
        st = state.get(_KEY)
        planned = st.by_node.get(node) if st is not None else None
        if planned is None:
            return
        for _, volume in planned.static_bindings:
            self._volumes.restore(volume.name)
        for claim in planned.dynamic_provisions:
            self._claims.restore(claim.key)

    # -- PreBind --------------------------------------------------------------------

    async def pre_bind(self, state: CycleState, pod: PodInfo, node: NodeName) -> Status:
        st = state.get(_KEY)
        if st is None or st.all_bound:
            return SUCCESS
        planned = st.by_node.get(node)
        if planned is None:
            return Status.error(f'no pod volumes found for node "{node}"')
        try:
            written = await self._write(planned, node)
            await self._wait_bound(written, node)
        except ClusterError as exc:
            # Not the pod's own Conflict/NotFound: retry the pod, never drop it.
            return Status.error(str(exc))
        except BindingError as exc:
            return Status.error(f"binding volumes: {exc}")
        return SUCCESS

    async def _write(self, planned: PodVolumes, node: NodeName) -> PodVolumes:
        """Pre-bind volumes, then select the node on claims to provision."""
        cluster = self._handle.cluster
        written = PodVolumes()
        try:
            for claim, volume in planned.static_bindings:
                written.static_bindings.append((claim, await cluster.bind_volume(volume, claim)))
            for claim in planned.dynamic_provisions:
                written.dynamic_provisions.append(await cluster.select_node(claim, node))
        except BaseException:
            # Only what was not written is reverted; the watch brings the rest.
            for _, volume in planned.static_bindings[len(written.static_bindings) :]:
                self._volumes.restore(volume.name)
            for claim in planned.dynamic_provisions[len(written.dynamic_provisions) :]:
                self._claims.restore(claim.key)
            raise
        return written

    async def _wait_bound(self, written: PodVolumes, node: NodeName) -> None:
        deadline = time.monotonic() + self._timeout
        while not self._bound(written, node):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BindingError("timed out waiting for the condition")
            await asyncio.sleep(min(POLL_INTERVAL, remaining))

    def _bound(self, written: PodVolumes, node_name: NodeName) -> bool:
        node_info = self._handle.snapshot.get(node_name)
        if node_info is None:
            raise BindingError(f'failed to get node "{node_name}"')
        return check_bindings(self._handle.objects, written, node_info.node)

    # -- cluster events -------------------------------------------------------------

    def events_to_register(self) -> Sequence[ClusterEventWithHint]:
        add_or_update = ActionType.ADD | ActionType.UPDATE
        return (
            ClusterEventWithHint(
                event(Resource.STORAGE_CLASS, add_or_update), self._after_class_change
            ),
            ClusterEventWithHint(event(Resource.PVC, add_or_update), self._after_claim_change),
            ClusterEventWithHint(event(Resource.PV, add_or_update)),
            ClusterEventWithHint(
                event(Resource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL)
            ),
            ClusterEventWithHint(event(Resource.CSI_NODE, add_or_update)),
            ClusterEventWithHint(
                event(Resource.CSI_DRIVER, ActionType.UPDATE), self._after_driver_change
            ),
            ClusterEventWithHint(
                event(Resource.CSI_STORAGE_CAPACITY, add_or_update), self._after_capacity_change
            ),
        )

    def _after_capacity_change(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        if not isinstance(new, CSIStorageCapacity) or not isinstance(old, CSIStorageCapacity):
            return QueueingHint.QUEUE  # a new capacity may be the one a claim waits for
        old_limit, new_limit = old.volume_limit, new.volume_limit
        if new_limit is not None and (old_limit is None or new_limit > old_limit):
            return QueueingHint.QUEUE
        return QueueingHint.SKIP

    def _after_driver_change(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        if not isinstance(new, CSIDriver) or not isinstance(old, CSIDriver):
            return QueueingHint.QUEUE
        # Only a driver that stops limiting provisioning by capacity can help.
        if old.storage_capacity and not new.storage_capacity:
            return QueueingHint.QUEUE
        return QueueingHint.SKIP

    def _after_claim_change(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        return claim_event_hint(pod, new, ephemeral=True)

    def _after_class_change(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        if not isinstance(old, StorageClass) or not isinstance(new, StorageClass):
            return QueueingHint.QUEUE  # a new class may be the one a claim waits for
        if old.allowed_topologies != new.allowed_topologies:
            return QueueingHint.QUEUE
        return QueueingHint.SKIP


def _reasons(
    bound_ok: bool, unbound_ok: bool, volumes_exist: bool, enough_space: bool = True
) -> list[str]:
    reasons = []
    if not bound_ok:
        reasons.append(REASON_NODE_CONFLICT)
    if not unbound_ok:
        reasons.append(REASON_BIND_CONFLICT)
    if not enough_space:
        reasons.append(REASON_NOT_ENOUGH_SPACE)
    if not volumes_exist:
        reasons.append(REASON_PV_NOT_EXIST)
    return reasons


SPEC: Final = PluginSpec(NAME, decode_args, VolumeBinding)
