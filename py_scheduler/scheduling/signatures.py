"""Pod signatures: which pods the node-local plugins cannot tell apart.

A Deployment's replicas or a Job's pods arrive in bursts and differ only in
their names. For the plugins listed here, a node's verdict (and raw score)
is a function of the node's ``NodeInfo`` and a few fields of the pod, and
of nothing else: no cluster-wide state, no other pod. Two pods with the
same ``signature`` therefore get the same verdict on any node that has not
changed in between, which is what lets the incremental evaluator
(:mod:`.incremental`) keep the verdicts of the previous cycles and judge
again only the nodes the cache reports touched.

The plugins that read cluster-wide state (PodTopologySpread and
InterPodAffinity count pods per topology domain, the volume plugins read
claims and volumes, DynamicResources reads claims and slices, any
out-of-tree plugin) are not listed: the incremental evaluator runs them
afresh every cycle, from the pod itself, so the fields only they read stay
out of the signature (labels, namespace, owners, affinity terms, spread
constraints, volumes, claims), and so do a pod's identity and status.
Every ``PodInfo`` field is sorted into exactly one of ``SIGNATURE_FIELDS``
and ``UNREAD_FIELDS``; a test fails for a field added to neither.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Final

from py_scheduler.framework.interface import FilterPlugin
from py_scheduler.model import PodInfo
from py_scheduler.model.resources import Resources
from py_scheduler.plugins.image_locality import ImageLocality
from py_scheduler.plugins.node_affinity import NodeAffinity
from py_scheduler.plugins.node_name import NodeName
from py_scheduler.plugins.node_ports import NodePorts
from py_scheduler.plugins.node_unschedulable import NodeUnschedulable
from py_scheduler.plugins.noderesources.balanced_allocation import (
    NodeResourcesBalancedAllocation,
)
from py_scheduler.plugins.noderesources.fit import NodeResourcesFit
from py_scheduler.plugins.taint_toleration import TaintToleration

# Filters whose verdict on a node reads only the NodeInfo and SIGNATURE_FIELDS
# (their PreFilter state too is derived from those fields alone).
NODE_LOCAL_FILTERS: Final[frozenset[type]] = frozenset(
    {NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit}
)
# Scores whose raw (pre-normalisation) value on a node reads only the
# NodeInfo and SIGNATURE_FIELDS, apart from ImageLocality, which also reads
# how many nodes hold each image and how many nodes there are: its kept
# scores are dropped whenever either changes.
NODE_LOCAL_SCORES: Final[frozenset[type]] = frozenset(
    {
        TaintToleration,
        NodeAffinity,
        NodeResourcesFit,
        NodeResourcesBalancedAllocation,
        ImageLocality,
    }
)
READS_IMAGE_COUNTS: Final[frozenset[type]] = frozenset({ImageLocality})

# What the plugins above read of a pod (the scheduler name picks the profile).
SIGNATURE_FIELDS: Final = (
    "scheduler_name",
    "node_name",
    "requests",
    "non_zero_cpu",
    "non_zero_memory",
    "container_requests",
    "container_non_zero_cpu",
    "container_non_zero_memory",
    "host_ports",
    "node_selector",
    "required_node_affinity",
    "preferred_node_affinity",
    "tolerations",
    "images",
    "volume_images",
)
# Fields none of them reads, and why.
UNREAD_FIELDS: Final = {
    "uid": "identity",
    "namespace": "read by spreading and inter-pod affinity only",
    "name": "identity",
    "labels": "read by spreading and inter-pod affinity only",
    "priority": "read for nominated pods, whose nodes are judged afresh",
    "preemption_policy": "PostFilter",
    "created": "queue order",
    "deleting": "not scheduled",
    "phase": "status",
    "start_time": "status",
    "nominated_node": "the algorithm tries that node first, on its own path",
    "required_affinity": "inter-pod affinity",
    "preferred_affinity": "inter-pod affinity",
    "required_anti_affinity": "inter-pod affinity",
    "preferred_anti_affinity": "inter-pod affinity",
    "spread_constraints": "spreading",
    "scheduling_gates": "PreEnqueue",
    "volumes": "volume plugins",
    "owners": "default spreading",
    "resource_claims": "DynamicResources",
    "claim_statuses": "DynamicResources",
    "preempted_by_scheduler": "status",
    "scheduled_condition": "status",
    "resource_version": "identity",
    "generation": "identity",
    "required_features": "NodeDeclaredFeatures, judged afresh (PreFilter skips a pod needing none)",
    "pod_group": "gang scheduling (PreEnqueue, PreFilter, Permit): no node-local verdict",
}


def _resources(res: Resources) -> Hashable:
    return (res.milli_cpu, res.memory, res.ephemeral_storage, tuple(sorted(res.scalars.items())))


def signature(pod: PodInfo) -> Hashable:
    """Equal for two pods exactly when every node-local plugin reads the same of both."""
    return (
        pod.scheduler_name,
        pod.node_name,
        _resources(pod.requests),
        pod.non_zero_cpu,
        pod.non_zero_memory,
        # Scoring reads the containers' requests when pod-level ones are set.
        None if pod.container_requests is None else _resources(pod.container_requests),
        pod.container_non_zero_cpu,
        pod.container_non_zero_memory,
        pod.host_ports,
        tuple(sorted(pod.node_selector.items())),
        pod.required_node_affinity,
        pod.preferred_node_affinity,
        pod.tolerations,
        pod.images,
        pod.volume_images,
    )


def filter_signature(filters: Sequence[FilterPlugin], pod: PodInfo) -> Hashable | None:
    """The framework's ``FilterSigner``: when only node-local filters run,
    their names and the pod's signature; else None."""
    if not all(type(p) in NODE_LOCAL_FILTERS for p in filters):
        return None
    return (tuple(p.name for p in filters), signature(pod))
