"""A failure condition lands only on the pod that failed, still unassigned.

We test these aspects, calling the kube layer's ``patch_pod_status`` with the
copy a scheduling cycle judged, after the pod changed under it:
- bound meanwhile: nothing is written, PodScheduled stays True;
- only relabelled meanwhile: the failure is written all the same;
- deleted and recreated under the same name: NotFound, the namesake untouched.
"""

from __future__ import annotations

import pytest

from py_scheduler.cluster import NotFound, PodCondition
from py_scheduler.kube.adapter import KubeCluster
from py_scheduler.kube.client import JSON, KubeClient
from py_scheduler.model import PodInfo
from py_scheduler.model.pod import decode_pod
from tests.integration.kube import create_namespace, create_node, create_pod, read_pod, unique

# No scheduler runs under this name: only the test writes these pods' status.
NO_SCHEDULER = "by-hand"
FAILED = PodCondition("PodScheduled", "False", "Unschedulable", "0/1 nodes are available.")


def scheduled(pod: JSON) -> JSON | None:
    found = [c for c in pod["status"].get("conditions", []) if c["type"] == "PodScheduled"]
    return found[0] if found else None


async def judged_pod(api: KubeClient, ns: str) -> PodInfo:
    await create_namespace(api, ns)
    created = await create_pod(api, "web", ns, scheduler_name=NO_SCHEDULER)
    return decode_pod(created)


async def test_a_failure_judged_before_a_binding_is_not_written(api: KubeClient) -> None:
    ns, node = unique("status"), unique("node")
    await create_node(api, node)
    judged = await judged_pod(api, ns)
    await api.post(
        f"/api/v1/namespaces/{ns}/pods/web/binding",
        {
            "metadata": {"name": "web", "namespace": ns, "uid": judged.uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        },
    )

    await KubeCluster(api).patch_pod_status(judged, condition=FAILED, nominated_node="")

    pod = await read_pod(api, "web", ns)
    assert pod["spec"]["nodeName"] == node
    condition = scheduled(pod)
    assert condition is not None
    assert condition["status"] == "True"


async def test_a_failure_judged_before_a_harmless_change_is_written(api: KubeClient) -> None:
    ns = unique("status")
    judged = await judged_pod(api, ns)
    await api.patch(f"/api/v1/namespaces/{ns}/pods/web", {"metadata": {"labels": {"v": "2"}}})

    await KubeCluster(api).patch_pod_status(judged, condition=FAILED, nominated_node=None)

    condition = scheduled(await read_pod(api, "web", ns))
    assert condition is not None
    assert (condition["status"], condition["reason"], condition["message"]) == (
        "False",
        "Unschedulable",
        "0/1 nodes are available.",
    )


async def test_a_failure_of_a_replaced_pod_is_not_found(api: KubeClient) -> None:
    ns = unique("status")
    judged = await judged_pod(api, ns)
    await api.delete(f"/api/v1/namespaces/{ns}/pods/web", {"gracePeriodSeconds": 0})
    namesake = await create_pod(api, "web", ns, scheduler_name=NO_SCHEDULER)
    assert namesake["metadata"]["uid"] != judged.uid

    with pytest.raises(NotFound):
        await KubeCluster(api).patch_pod_status(judged, condition=FAILED, nominated_node=None)

    assert scheduled(await read_pod(api, "web", ns)) is None
