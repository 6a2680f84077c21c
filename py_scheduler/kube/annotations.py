"""Write a pod's annotations: ``explain``'s result annotations (opt-in).

A JSON merge patch of ``metadata.annotations`` that also names the pod's UID:
the API server refuses a change of UID, so a pod deleted and created again
under the same name is never annotated with its predecessor's results.
"""

from __future__ import annotations

from collections.abc import Mapping

from py_scheduler.kube.client import KubeClient
from py_scheduler.model import PodInfo


async def patch_annotations(kube: KubeClient, pod: PodInfo, annotations: Mapping[str, str]) -> None:
    await kube.patch(
        f"/api/v1/namespaces/{pod.namespace}/pods/{pod.name}",
        {"metadata": {"uid": pod.uid, "annotations": dict(annotations)}},
    )
