"""How the volume plugins find a pod's claims, and the words they use when an
object is missing.

kube-scheduler reads storage objects from informer listers, whose NotFound
errors become the plugins' reasons verbatim; the same wording is kept here so
a FailedScheduling message reads as upstream's does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from py_scheduler.framework.types import QueueingHint
from py_scheduler.model import PodInfo
from py_scheduler.model.pod import Volume
from py_scheduler.model.volumes import PersistentVolumeClaim

# Reasons the volume plugins share, as upstream spells them.
REASON_CLAIM_WITHOUT_NAME: Final = "PersistentVolumeClaim had no name"


def claim_not_found(name: str) -> str:
    return f'persistentvolumeclaim "{name}" not found'


def volume_not_found(name: str) -> str:
    return f'persistentvolume "{name}" not found'


def class_not_found(name: str) -> str:
    return f'storageclass.storage.k8s.io "{name}" not found'


def ephemeral_claim_name(pod: PodInfo, volume: Volume) -> str:
    """The claim the ephemeral volume controller creates: ``<pod>-<volume>``."""
    return f"{pod.name}-{volume.name}"


def claim_names(pod: PodInfo) -> Iterator[str]:
    """Names from ``persistentVolumeClaim`` volumes, in spec order (not ephemeral ones)."""
    for volume in pod.volumes:
        if volume.claim is not None:
            yield volume.claim


def claims_and_ephemerals(pod: PodInfo) -> Iterator[tuple[str, bool]]:
    """(claim name, is ephemeral) for every volume backed by a claim."""
    for volume in pod.volumes:
        if volume.claim is not None:
            yield volume.claim, False
        elif volume.ephemeral:
            yield ephemeral_claim_name(pod, volume), True


def claim_event_hint(pod: PodInfo, new: object | None, *, ephemeral: bool) -> QueueingHint:
    """Requeue on a claim event only for a claim the pod uses (its generic
    ephemeral volumes' claims too when ``ephemeral``); anything else: requeue."""
    if not isinstance(new, PersistentVolumeClaim):
        return QueueingHint.QUEUE
    if new.namespace != pod.namespace:
        return QueueingHint.SKIP
    names = (n for n, _ in claims_and_ephemerals(pod)) if ephemeral else claim_names(pod)
    return QueueingHint.QUEUE if new.name in set(names) else QueueingHint.SKIP


def not_owned_problem(pod: PodInfo, claim: PersistentVolumeClaim) -> str | None:
    """An ephemeral volume's claim must be controlled by the pod; else a claim
    of the same name made by someone else would be used in its place."""
    if claim.controller_uid == pod.uid:
        return None
    return (
        f"PVC {claim.namespace}/{claim.name} was not created for pod "
        f"{pod.namespace}/{pod.name} (pod is not owner)"
    )
