"""``KubeCluster``: the ``Cluster`` protocol over real API calls.

Lean requests with exactly the bodies kube-scheduler sends: a Binding
carrying the pod UID, a strategic-merge status patch, an events.k8s.io/v1
Event (repeats folded into a series, see :mod:`py_scheduler.kube.events`),
and a policy/v1 Eviction with a UID precondition. A failure condition is
written only onto a pod still unassigned (``_patch_while_unassigned``).
A 409 or 404 on a bind is passed on as final only once a re-read shows
the pod bound or gone; otherwise it is Unavailable, and the pod is retried. Volume binding writes
only the fields kube-scheduler's binder changes (a volume's claimRef, a
claim's selected-node annotation), as merge patches carrying the
resourceVersion that was judged, so a concurrent change is a Conflict as it
would be for the binder's Update. ResourceClaims are written the same way
(status.allocation and status.reservedFor, the finalizer), except removing a
pod's reservation: a strategic-merge delete of its entry, as upstream's
Unreserve, which needs no fresh copy.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Mapping

from py_scheduler.cluster import ClusterError, Conflict, NotFound, PodCondition, Unavailable
from py_scheduler.kube.client import JSON, KubeClient
from py_scheduler.kube.events import EventRecorder
from py_scheduler.model import PodInfo
from py_scheduler.model import volumes as vol
from py_scheduler.model.dra import objects as dra

# A pod that changes this often between a re-read and the write is left for
# the next attempt, which writes its own failure.
_STATUS_CONFLICT_RETRIES = 3


_second: tuple[int, str] = (-1, "")


def _now(micro: bool = False) -> str:
    # Every Scheduled event carries one; strftime once per second, not per pod.
    global _second
    now = time.time()
    whole = int(now)
    if _second[0] != whole:
        _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    if micro:
        return f"{_second[1]}.{int((now - whole) * 1e6):06d}Z"
    return f"{_second[1]}Z"


def _pod_path(pod: PodInfo) -> str:
    return f"/api/v1/namespaces/{pod.namespace}/pods/{pod.name}"


class KubeCluster:
    def __init__(self, kube: KubeClient, *, instance: str | None = None) -> None:
        self.kube = kube
        self.instance = instance or os.environ.get("POD_NAME") or socket.gethostname()
        # Repeated events (a pod retried with the same reason) fold into series.
        self.events = EventRecorder(kube)

    async def bind(self, pod: PodInfo, node: str) -> None:
        try:
            await self.kube.post(
                f"{_pod_path(pod)}/binding",
                {
                    "apiVersion": "v1",
                    "kind": "Binding",
                    "metadata": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid},
                    "target": {"apiVersion": "v1", "kind": "Node", "name": node},
                },
            )
        except (Conflict, NotFound) as exc:
            await self._confirm_final(pod, exc)
            raise

    async def _confirm_final(self, pod: PodInfo, exc: Conflict | NotFound) -> None:
        """A 409 or 404 on a bind is final only if the pod is really bound or
        gone: during an etcd restart the API server answers binds with 409
        "rpc error: code = Unavailable". Anything else is worth a retry."""
        try:
            current = await self.kube.get(_pod_path(pod))
        except NotFound:
            return  # gone
        except ClusterError as read:
            raise Unavailable(f"{exc}; and re-reading the pod failed: {read}") from exc
        meta, spec = current.get("metadata") or {}, current.get("spec") or {}
        if meta.get("uid") != pod.uid or spec.get("nodeName"):
            return  # replaced by a namesake, or bound
        raise Unavailable(f"{exc} (the pod is neither bound nor gone)", status=exc.status) from exc

    async def patch_pod_status(
        self, pod: PodInfo, *, condition: PodCondition | None, nominated_node: str | None
    ) -> None:
        status: JSON = {}
        if condition is not None:
            status["conditions"] = [
                {
                    "type": condition.type,
                    "status": condition.status,
                    "reason": condition.reason,
                    "message": condition.message,
                    "lastProbeTime": None,
                    "lastTransitionTime": _now(),
                    **({"observedGeneration": pod.generation} if pod.generation else {}),
                }
            ]
        if nominated_node is not None:
            # null deletes the field in a strategic merge patch: that clears it.
            status["nominatedNodeName"] = nominated_node or None
        if not status:
            return
        if condition is None or condition.status != "False" or not pod.resource_version:
            body = {"metadata": {"uid": pod.uid}, "status": status}
            await self.kube.patch(f"{_pod_path(pod)}/status", body, kind="strategic")
            return
        await self._patch_while_unassigned(pod, status)

    async def _patch_while_unassigned(self, pod: PodInfo, status: JSON) -> None:
        """Write a failure only onto the pod that failed, still unassigned.

        The failure is judged on the copy the cycle saw; meanwhile another
        actor may have bound the pod (a person, another scheduler, a bind that
        timed out but landed). Upstream's patch would then mark a bound pod
        PodScheduled=False until its kubelet rewrites the condition; carrying
        the judged resourceVersion turns that race into a 409, and a re-read
        tells a harmless change (write again) from a binding (write nothing).
        """
        version = pod.resource_version
        for _ in range(_STATUS_CONFLICT_RETRIES):
            body = {"metadata": {"uid": pod.uid, "resourceVersion": version}, "status": status}
            try:
                await self.kube.patch(f"{_pod_path(pod)}/status", body, kind="strategic")
                return
            except Conflict:
                current = await self.kube.get(_pod_path(pod))
            meta, spec = current.get("metadata") or {}, current.get("spec") or {}
            if meta.get("uid") != pod.uid:
                raise NotFound(f"pod {pod.key} was replaced by a namesake", status=404)
            if spec.get("nodeName"):
                return
            version = str(meta.get("resourceVersion") or "")
        raise Conflict(f"pod {pod.key} kept changing while its failure was written", status=409)

    async def evict(self, pod: PodInfo) -> None:
        await self.kube.post(
            f"{_pod_path(pod)}/eviction",
            {
                "apiVersion": "policy/v1",
                "kind": "Eviction",
                "metadata": {"name": pod.name, "namespace": pod.namespace},
                "deleteOptions": {"preconditions": {"uid": pod.uid}},
            },
        )

    async def delete(self, pod: PodInfo) -> None:
        await self.kube.delete(
            _pod_path(pod),
            {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": pod.uid}},
        )

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
        await self.events.record(
            {
                "apiVersion": "events.k8s.io/v1",
                "kind": "Event",
                "metadata": {
                    "name": f"{pod.name}.{secrets.token_hex(8)}",
                    "namespace": pod.namespace,
                },
                "eventTime": _now(micro=True),
                "reportingController": reporting_controller,
                "reportingInstance": f"{reporting_controller}-{self.instance}",
                "action": action,
                "reason": reason,
                "type": type,
                "note": note,
                "regarding": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "namespace": pod.namespace,
                    "name": pod.name,
                    "uid": pod.uid,
                },
            },
        )

    async def patch_object_status(
        self, *, path: str, status: Mapping[str, object], resource_version: str = ""
    ) -> None:
        meta: JSON = {"resourceVersion": resource_version} if resource_version else {}
        await self.kube.patch(f"{path}/status", {"metadata": meta, "status": dict(status)})

    async def bind_volume(
        self, volume: vol.PersistentVolume, claim: vol.PersistentVolumeClaim
    ) -> vol.PersistentVolume:
        body = {
            "metadata": {
                "resourceVersion": volume.resource_version or None,
                "annotations": {vol.ANN_BOUND_BY_CONTROLLER: "yes"},
            },
            "spec": {
                "claimRef": {
                    "kind": "PersistentVolumeClaim",
                    "apiVersion": "v1",
                    "namespace": claim.namespace,
                    "name": claim.name,
                    "uid": claim.uid,
                    "resourceVersion": claim.resource_version,
                }
            },
        }
        return vol.decode_pv(
            await self.kube.patch(f"/api/v1/persistentvolumes/{volume.name}", body)
        )

    async def select_node(
        self, claim: vol.PersistentVolumeClaim, node: str
    ) -> vol.PersistentVolumeClaim:
        body = {
            "metadata": {
                "resourceVersion": claim.resource_version or None,
                "annotations": {vol.ANN_SELECTED_NODE: node},
            }
        }
        return vol.decode_pvc(await self.kube.patch(_claim_path(claim.namespace, claim.name), body))

    # -- dynamic resource allocation ---------------------------------------------------

    async def get_resource_claim(self, namespace: str, name: str) -> dra.ResourceClaim:
        return dra.decode_resource_claim(await self.kube.get(_resource_claim_path(namespace, name)))

    async def add_claim_finalizer(self, claim: dra.ResourceClaim) -> dra.ResourceClaim:
        body = {
            "metadata": {
                "resourceVersion": claim.resource_version or None,
                "finalizers": [*claim.finalizers, dra.FINALIZER],
            }
        }
        path = _resource_claim_path(claim.namespace, claim.name)
        return dra.decode_resource_claim(await self.kube.patch(path, body))

    async def reserve_claim(
        self,
        claim: dra.ResourceClaim,
        *,
        consumer: dra.Consumer,
        allocation: Mapping[str, object] | None,
    ) -> dra.ResourceClaim:
        reserved = [_consumer(c) for c in claim.reserved_for] + [_consumer(consumer)]
        status: JSON = {"reservedFor": reserved}
        if allocation is not None:
            status["allocation"] = {**allocation, "allocationTimestamp": _now()}
        body = {
            "metadata": {"uid": claim.uid, "resourceVersion": claim.resource_version or None},
            "status": status,
        }
        path = _resource_claim_path(claim.namespace, claim.name) + "/status"
        return dra.decode_resource_claim(await self.kube.patch(path, body))

    async def unreserve_claim(self, claim: dra.ResourceClaim, pod_uid: str) -> None:
        body = {
            "metadata": {"uid": claim.uid},
            "status": {"reservedFor": [{"$patch": "delete", "uid": pod_uid}]},
        }
        path = _resource_claim_path(claim.namespace, claim.name) + "/status"
        await self.kube.patch(path, body, kind="strategic")

    async def deallocate_claim(self, claim: dra.ResourceClaim) -> dra.ResourceClaim:
        body = {
            "metadata": {"uid": claim.uid, "resourceVersion": claim.resource_version or None},
            "status": {"reservedFor": None, "allocation": None, "devices": None},
        }
        path = _resource_claim_path(claim.namespace, claim.name) + "/status"
        return dra.decode_resource_claim(await self.kube.patch(path, body))


def _claim_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{name}"


def _resource_claim_path(namespace: str, name: str) -> str:
    return f"/apis/resource.k8s.io/v1/namespaces/{namespace}/resourceclaims/{name}"


def _consumer(consumer: dra.Consumer) -> JSON:
    out: JSON = {"resource": consumer.resource, "name": consumer.name, "uid": consumer.uid}
    if consumer.api_group:
        out["apiGroup"] = consumer.api_group
    return out
