"""Which ResourceClaims a pod uses (upstream ``resourceclaim.Name``/``IsForPod``).

A pod names a claim directly, or a ResourceClaimTemplate from which the
controller manager's resourceclaim controller creates one claim per pod
and records its name in ``status.resourceClaimStatuses``. Until it has, the
pod cannot be scheduled; a claim generated for another pod is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Final

from py_scheduler.model.dra.objects import ResourceClaim
from py_scheduler.model.pod import PodClaim, PodInfo

NOT_CREATED_YET: Final = "ResourceClaim not created yet"
API_UNSUPPORTED: Final = "none of the supported fields are set"


class ClaimLookupError(Exception):
    """The pod's claims cannot all be found (upstream's message)."""


def claim_name(pod: PodInfo, entry: PodClaim) -> tuple[str | None, bool]:
    """(the claim's name or None when none is needed, whether it must be the pod's own)."""
    if entry.claim_name:
        return entry.claim_name, False
    if entry.template_name:
        for name, generated in pod.claim_statuses:
            if name == entry.name:
                return generated, True
        raise ClaimLookupError(f'pod "{pod.namespace}/{pod.name}": {NOT_CREATED_YET}')
    raise ClaimLookupError(
        f'pod "{pod.namespace}/{pod.name}", spec.resourceClaim "{entry.name}": {API_UNSUPPORTED}'
    )


def claim_keys(pod: PodInfo) -> Iterator[str]:
    """``namespace/name`` of every claim the pod names so far (lookup errors skipped)."""
    for entry in pod.resource_claims:
        try:
            name, _ = claim_name(pod, entry)
        except ClaimLookupError:
            continue
        if name:
            yield f"{pod.namespace}/{name}"


def pod_claims(
    pod: PodInfo, lookup: Callable[[str, str], ResourceClaim | None]
) -> list[ResourceClaim]:
    """The pod's claims in ``spec.resourceClaims`` order (``foreachPodResourceClaim``)."""
    out = []
    for entry in pod.resource_claims:
        name, must_own = claim_name(pod, entry)
        if name is None:
            continue
        claim = lookup(pod.namespace, name)
        if claim is None:
            raise ClaimLookupError(f'resourceclaim.resource.k8s.io "{name}" not found')
        if claim.deleting:
            raise ClaimLookupError(f'resourceclaim "{name}" is being deleted')
        if must_own and claim.controller_uid != pod.uid:
            raise ClaimLookupError(
                f"ResourceClaim {claim.namespace}/{claim.name} was not created for Pod "
                f"{pod.namespace}/{pod.name} (Pod is not owner)"
            )
        out.append(claim)
    return out
