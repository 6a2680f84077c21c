"""What cluster-autoscaler and Karpenter read from a pod before adding a node,
as predicates over the pod's JSON, so tests can pin that py-scheduler writes
what they expect.

cluster-autoscaler (``utils/kubernetes/listers.go``, ``isUnschedulable``;
``core/utils``, ``FilterOutExpendableAndSplit``): a pod counts when it has no
node, is not being deleted, and its ``PodScheduled`` condition is ``False``
with reason exactly ``Unschedulable``; a pod with a ``nominatedNodeName`` of a
node that exists is waiting for preemption victims and asks for no new node.

Karpenter (``pkg/utils/pod/scheduling.go``, ``IsProvisionable``): a
``PodScheduled`` condition with reason ``Unschedulable``, no node, no
``nominatedNodeName`` (it is preempting), not owned by a DaemonSet or a Node.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

UNSCHEDULABLE = "Unschedulable"

Pod = dict[str, Any]


def _scheduled_condition(pod: Pod) -> dict[str, Any] | None:
    for condition in pod.get("status", {}).get("conditions", []):
        if condition.get("type") == "PodScheduled":
            return dict(condition)
    return None


def cluster_autoscaler_scales_up_for(pod: Pod, nodes: Collection[str]) -> bool:
    if pod["spec"].get("nodeName") or pod["metadata"].get("deletionTimestamp"):
        return False
    condition = _scheduled_condition(pod)
    if condition is None or condition.get("status") != "False":
        return False
    if condition.get("reason") != UNSCHEDULABLE:
        return False
    nominated = pod.get("status", {}).get("nominatedNodeName", "")
    return not (nominated and nominated in nodes)


def karpenter_provisions_for(pod: Pod) -> bool:
    condition = _scheduled_condition(pod)
    if condition is None or condition.get("reason") != UNSCHEDULABLE:
        return False
    if pod["spec"].get("nodeName") or pod.get("status", {}).get("nominatedNodeName"):
        return False
    owners = pod["metadata"].get("ownerReferences", [])
    return not any(o.get("kind") in ("DaemonSet", "Node") for o in owners)
