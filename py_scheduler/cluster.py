"""``Cluster``: the only way the scheduling core reaches the API server.

The core speaks this small protocol; :mod:`py_scheduler.kube.adapter`
implements it with real API calls, :mod:`py_scheduler.simulation` with an
in-memory record. API failures arrive as the exception tree below, never as
client-library exceptions::

    ClusterError
    ├── NotFound            404: the object is gone
    ├── Conflict            409: already bound, or changed underneath us
    ├── TooManyRequests     429: e.g. an eviction a PodDisruptionBudget refuses
    ├── Invalid             400/422: the request itself is wrong
    ├── Forbidden           401/403: RBAC does not allow it
    └── Unavailable         5xx, timeouts, connection errors: worth retrying
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from py_scheduler.model import PodInfo
from py_scheduler.model.dra.objects import Consumer, ResourceClaim
from py_scheduler.model.volumes import PersistentVolume, PersistentVolumeClaim


class ClusterError(Exception):
    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class NotFound(ClusterError):
    pass


class Conflict(ClusterError):
    pass


class TooManyRequests(ClusterError):
    def __init__(self, message: str, *, status: int = 429, retry_after: float = 0.0) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class Invalid(ClusterError):
    pass


class Forbidden(ClusterError):
    pass


class Unavailable(ClusterError):
    pass


@dataclass(frozen=True, slots=True)
class PodCondition:
    type: str
    status: str
    reason: str
    message: str


class Cluster(Protocol):
    async def bind(self, pod: PodInfo, node: str) -> None:
        """POST pods/binding carrying the pod's UID."""

    async def patch_pod_status(
        self,
        pod: PodInfo,
        *,
        condition: PodCondition | None,
        nominated_node: str | None,
    ) -> None:
        """Set a condition and/or ``status.nominatedNodeName`` ("" clears it)."""

    async def evict(self, pod: PodInfo) -> None:
        """Create a policy/v1 Eviction; TooManyRequests when a PDB refuses."""

    async def delete(self, pod: PodInfo) -> None:
        """Delete the pod directly (only when configured to bypass PDBs)."""

    async def record_event(
        self,
        pod: PodInfo,
        *,
        type: str,
        reason: str,
        action: str,
        note: str,
        reporting_controller: str,
    ) -> None:
        """Write an events.k8s.io/v1 Event about the pod."""

    async def patch_object_status(
        self, *, path: str, status: Mapping[str, object], resource_version: str = ""
    ) -> None:
        """Merge-patch the ``status`` of the object at ``path`` (e.g.
        ``/apis/scheduling.x-k8s.io/v1alpha1/namespaces/ns/podgroups/pg``) through
        its status subresource; with ``resource_version``, a Conflict when the
        object changed since it was read."""

    async def bind_volume(
        self, volume: PersistentVolume, claim: PersistentVolumeClaim
    ) -> PersistentVolume:
        """Pre-bind a PersistentVolume to a claim (``spec.claimRef``), as the PV
        binder does; Conflict when the volume changed since it was read."""

    async def select_node(self, claim: PersistentVolumeClaim, node: str) -> PersistentVolumeClaim:
        """Annotate a claim with ``volume.kubernetes.io/selected-node`` so that its
        provisioner creates a volume reachable from that node."""

    async def get_resource_claim(self, namespace: str, name: str) -> ResourceClaim:
        """A ResourceClaim as the API server holds it now (NotFound when gone)."""

    async def add_claim_finalizer(self, claim: ResourceClaim) -> ResourceClaim:
        """Add ``resource.kubernetes.io/delete-protection`` before allocating, as
        upstream does; Conflict when the claim changed since it was read."""

    async def reserve_claim(
        self,
        claim: ResourceClaim,
        *,
        consumer: Consumer,
        allocation: Mapping[str, object] | None,
    ) -> ResourceClaim:
        """Append ``consumer`` to ``status.reservedFor`` and, when given, write
        ``status.allocation``; Conflict when the claim changed since it was read."""

    async def unreserve_claim(self, claim: ResourceClaim, pod_uid: str) -> None:
        """Remove one pod from ``status.reservedFor`` (it needs no fresh copy)."""

    async def deallocate_claim(self, claim: ResourceClaim) -> ResourceClaim:
        """Clear ``status.allocation``, ``reservedFor`` and ``devices``; Conflict when
        the claim changed since it was read."""
