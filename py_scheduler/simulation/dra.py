"""The simulator's side of dynamic resource allocation.

``expand_templates`` plays the controller manager's resourceclaim controller
before the first pod: a pod that names a ResourceClaimTemplate gets its own
claim (``<pod>-<entry>``, recorded in the pod's ``resourceClaimStatuses``).
``ClaimController`` is what :class:`~py_scheduler.simulation.run.SimulatedCluster`
delegates ResourceClaim writes to, as the API server would take them
(resourceVersion checked, Conflict when stale), and the same controller's
release of a pod that went away (its own claims are deleted, a shared one
loses the reservation and, once nobody uses it, its allocation). Every change
is written through the ``ObjectStore`` and announced to the callback given at
construction, which queues it on the simulated watch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from py_scheduler.cluster import Conflict, NotFound
from py_scheduler.framework.types import ActionType, Resource
from py_scheduler.model import PodInfo
from py_scheduler.model.dra.objects import (
    FINALIZER,
    Consumer,
    ResourceClaim,
    ResourceClaimTemplate,
    decode_resource_claim,
)
from py_scheduler.model.dra.podclaims import claim_keys
from py_scheduler.scheduling.object_store import ObjectStore

Announce = Callable[[Resource, ActionType, object, object], None]


def _bumped(claim: ResourceClaim, **changes: Any) -> ResourceClaim:
    version = str(int(claim.resource_version or "0") + 1)
    return replace(claim, resource_version=version, **changes)


def expand_templates(
    pods: Iterable[PodInfo], templates: Mapping[tuple[str, str], ResourceClaimTemplate]
) -> tuple[list[PodInfo], list[ResourceClaim]]:
    """Pods with their template claims named, and the claims created for them;
    a missing template leaves the pod waiting, as it would in a cluster."""
    out: list[PodInfo] = []
    created: list[ResourceClaim] = []
    for pod in pods:
        statuses = dict(pod.claim_statuses)
        for entry in pod.resource_claims:
            if not entry.template_name or entry.name in statuses:
                continue
            template = templates.get((pod.namespace, entry.template_name))
            if template is None:
                continue
            name = f"{pod.name}-{entry.name}"
            created.append(
                decode_resource_claim(
                    {
                        "metadata": {
                            "name": name,
                            "namespace": pod.namespace,
                            "uid": f"{pod.uid}-{entry.name}",
                            "resourceVersion": "1",
                            "ownerReferences": [
                                {
                                    "kind": "Pod",
                                    "name": pod.name,
                                    "uid": pod.uid,
                                    "controller": True,
                                }
                            ],
                        },
                        "spec": dict(template.spec),
                    }
                )
            )
            statuses[entry.name] = name
        if len(statuses) != len(pod.claim_statuses):
            pod = replace(pod, claim_statuses=tuple(statuses.items()))
        out.append(pod)
    return out, created


class ClaimController:
    def __init__(self, objects: ObjectStore, announce: Announce) -> None:
        self.objects = objects
        self.announce = announce

    # -- the resourceclaim controller ------------------------------------------------

    def release(self, pod: PodInfo) -> None:
        """The pod is gone: free what it held."""
        for key in claim_keys(pod):
            claim = self.objects.resource_claims.get(key)
            if claim is None or not claim.reserved_for_pod(pod.uid):
                continue
            if claim.controller_uid == pod.uid:
                self._delete(claim)
                continue
            left = tuple(c for c in claim.reserved_for if c.uid != pod.uid)
            changes: dict[str, Any] = {"reserved_for": left}
            if not left:
                changes["allocation"] = None
            self._put(_bumped(claim, **changes))

    # -- ResourceClaim writes ----------------------------------------------------------

    def get(self, namespace: str, name: str) -> ResourceClaim:
        claim = self.objects.resource_claim(namespace, name)
        if claim is None:
            raise NotFound(f'resourceclaims.resource.k8s.io "{name}" not found', status=404)
        return claim

    def _current(self, claim: ResourceClaim) -> ResourceClaim:
        stored = self.get(claim.namespace, claim.name)
        if stored.resource_version != claim.resource_version:
            raise Conflict(
                f'Operation cannot be fulfilled on resourceclaims.resource.k8s.io "{claim.name}": '
                "the object has been modified; please apply your changes to the latest version "
                "and try again",
                status=409,
            )
        return stored

    def add_finalizer(self, claim: ResourceClaim) -> ResourceClaim:
        stored = self._current(claim)
        return self._put(_bumped(stored, finalizers=(*stored.finalizers, FINALIZER)))

    def reserve(
        self, claim: ResourceClaim, consumer: Consumer, allocation: Mapping[str, object] | None
    ) -> ResourceClaim:
        stored = self._current(claim)
        changes: dict[str, Any] = {"reserved_for": (*stored.reserved_for, consumer)}
        if allocation is not None:
            changes["allocation"] = decode_resource_claim(
                {"metadata": {"name": claim.name}, "status": {"allocation": dict(allocation)}}
            ).allocation
        return self._put(_bumped(stored, **changes))

    def unreserve(self, claim: ResourceClaim, pod_uid: str) -> None:
        stored = self.get(claim.namespace, claim.name)
        left = tuple(c for c in stored.reserved_for if c.uid != pod_uid)
        self._put(_bumped(stored, reserved_for=left))

    def deallocate(self, claim: ResourceClaim) -> ResourceClaim:
        stored = self._current(claim)
        return self._put(_bumped(stored, reserved_for=(), allocation=None))

    # -- the store and the watch ---------------------------------------------------------

    def _put(self, claim: ResourceClaim) -> ResourceClaim:
        old = self.objects.put_resource_claim(claim)
        action = ActionType.ADD if old is None else ActionType.UPDATE
        self.announce(Resource.RESOURCE_CLAIM, action, old, claim)
        return claim

    def _delete(self, claim: ResourceClaim) -> None:
        old = self.objects.delete_resource_claim(claim.key)
        if old is not None:
            self.announce(Resource.RESOURCE_CLAIM, ActionType.DELETE, old, None)


def chosen_devices(pod: PodInfo, objects: ObjectStore) -> dict[str, list[dict[str, str]]]:
    """The devices allocated to each of the pod's claims, for simulate's result."""
    out: dict[str, list[dict[str, str]]] = {}
    for key in claim_keys(pod):
        claim = objects.resource_claims.get(key)
        if claim is None or claim.allocation is None:
            continue
        out[claim.name] = [
            {"request": r.request, "driver": r.driver, "pool": r.pool, "device": r.device}
            for r in claim.allocation.results
        ]
    return out
