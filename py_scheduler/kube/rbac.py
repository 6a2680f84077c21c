"""The RBAC permissions the kube layer's requests need, and nothing more.

:data:`CLUSTER` lists, per API group and resource, the verbs of every request
this layer makes outside the leader lease (:data:`LEASE`); preemption adds
one of :data:`EVICTION_MODES`, and ``--explain-annotations``
:data:`ANNOTATIONS` (:mod:`.annotations`). The chart's ClusterRole and lease
Role are checked against these tables (tests/packaging), and the requests the
integration suite sends through the fault proxy are mapped back onto them
with :func:`permission`, so a grant the code never uses, or a request the
chart does not allow, fails a test.

Two readers other than the scheduler: whoever scrapes the secure port needs
:data:`METRICS_READER` (the chart's metrics-reader ClusterRole), and whoever
runs ``py-scheduler explain`` against a cluster needs :data:`EXPLAIN`, the
reads of :mod:`.listing`.
"""

from __future__ import annotations

import re
from typing import Final

READ: Final = frozenset({"get", "list", "watch"})

# (apiGroup, resource) -> verbs
Permissions = dict[tuple[str, str], frozenset[str]]

CLUSTER: Final[Permissions] = {
    ("", "pods"): READ,  # the pod reflector; a bind's 409/404 re-reads the pod
    ("", "pods/binding"): frozenset({"create"}),
    ("", "pods/status"): frozenset({"patch"}),  # PodScheduled, nominatedNodeName
    ("events.k8s.io", "events"): frozenset({"create", "patch"}),  # patch: event series
    ("", "nodes"): READ,
    ("", "namespaces"): READ,
    ("policy", "poddisruptionbudgets"): READ,
    ("", "services"): READ,
    ("", "replicationcontrollers"): READ,
    ("apps", "replicasets"): READ,
    ("apps", "statefulsets"): READ,
    # VolumeBinding: a volume's claimRef, a claim's selected-node annotation (merge patches).
    ("", "persistentvolumeclaims"): READ | {"patch"},
    ("", "persistentvolumes"): READ | {"patch"},
    ("storage.k8s.io", "storageclasses"): READ,
    ("storage.k8s.io", "csinodes"): READ,
    # VolumeBinding: which drivers publish capacity, and what they publish.
    ("storage.k8s.io", "csidrivers"): READ,
    ("storage.k8s.io", "csistoragecapacities"): READ,
    # DynamicResources: the claim's finalizer (a patch of the claim), its allocation
    # and reservedFor (patches of its status); classes and slices are only read.
    ("resource.k8s.io", "resourceclaims"): READ | {"patch"},
    ("resource.k8s.io", "resourceclaims/status"): frozenset({"patch"}),
    ("resource.k8s.io", "deviceclasses"): READ,
    ("resource.k8s.io", "resourceslices"): READ,
    # GangScheduling: scheduler-plugins' PodGroups and the Workload API's PodGroups
    # (1.36+) and Workloads (1.35) are watched; a group's status is merge-patched
    # (scheduler-plugins' phase and counts, the Workload API's condition).
    ("scheduling.x-k8s.io", "podgroups"): READ,
    ("scheduling.x-k8s.io", "podgroups/status"): frozenset({"patch"}),
    ("scheduling.k8s.io", "podgroups"): READ,
    ("scheduling.k8s.io", "workloads"): READ,
    ("scheduling.k8s.io", "podgroups/status"): frozenset({"patch"}),
    # The secure port's delegated authentication and authorization.
    ("authentication.k8s.io", "tokenreviews"): frozenset({"create"}),
    ("authorization.k8s.io", "subjectaccessreviews"): frozenset({"create"}),
}
EVICTION_MODES: Final[dict[str, Permissions]] = {
    "Evict": {("", "pods/eviction"): frozenset({"create"})},
    "Delete": {("", "pods"): frozenset({"delete"})},
}
# Result annotations: a merge patch of the pod's metadata.
ANNOTATIONS: Final[Permissions] = {("", "pods"): frozenset({"patch"})}
# Non-resource URLs of the secure port that need a token (the probes are anonymous):
# /debug/pods/NAMESPACE/NAME is granted by its prefix.
METRICS_READER: Final = ("/metrics", "/debug/pods/*")
# `py-scheduler explain` from a cluster: the pod read, and a list of each kind the
# scheduler's decisions depend on (one it may not list is left out with a note).
_LIST: Final = frozenset({"list"})
EXPLAIN: Final[Permissions] = {
    ("", "pods"): frozenset({"get", "list"}),
    ("", "nodes"): _LIST,
    ("", "namespaces"): _LIST,
    ("policy", "poddisruptionbudgets"): _LIST,
    ("", "services"): _LIST,
    ("", "replicationcontrollers"): _LIST,
    ("apps", "replicasets"): _LIST,
    ("apps", "statefulsets"): _LIST,
    ("", "persistentvolumeclaims"): _LIST,
    ("", "persistentvolumes"): _LIST,
    ("storage.k8s.io", "storageclasses"): _LIST,
    ("storage.k8s.io", "csinodes"): _LIST,
    ("storage.k8s.io", "csidrivers"): _LIST,
    ("storage.k8s.io", "csistoragecapacities"): _LIST,
    ("resource.k8s.io", "resourceclaims"): _LIST,
    ("resource.k8s.io", "resourceclaimtemplates"): _LIST,
    ("resource.k8s.io", "deviceclasses"): _LIST,
    ("resource.k8s.io", "resourceslices"): _LIST,
}
# Create cannot be limited by name; the rest is on the configured lease only.
LEASE: Final[Permissions] = {
    ("coordination.k8s.io", "leases"): frozenset({"create", "get", "update"})
}

_VERBS: Final = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
_PATH: Final = re.compile(
    r"^/(?:api/v1|apis/(?P<group>[^/]+)/[^/]+)"
    r"(?:/namespaces/(?P<namespace>[^/]+))?"
    r"(?:/(?P<resource>[^/]+)(?:/(?P<name>[^/]+)(?:/(?P<sub>[^/]+))?)?)?$"
)


def permission(method: str, path: str, *, watch: bool = False) -> tuple[str, str, str] | None:
    """(apiGroup, resource[/subresource], verb) of a request, or None when the
    path is not a resource (discovery, say)."""
    match = _PATH.match(path)
    if match is None or match["resource"] is None:
        return None
    resource = match["resource"]
    if match["sub"]:
        resource = f"{resource}/{match['sub']}"
    if method == "GET":
        verb = "watch" if watch else ("get" if match["name"] else "list")
    else:
        verb = _VERBS.get(method, method.lower())
    return (match["group"] or "", resource, verb)
