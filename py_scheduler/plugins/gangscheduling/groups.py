"""Where a pod's group object is found: the kinds GangScheduling watches.

- scheduler-plugins' PodGroups, ``scheduling.x-k8s.io/v1alpha1`` (a CRD);
- upstream's Workload API, ``scheduling.k8s.io``: the newest PodGroup version
  the server serves (``v1beta1``, ``v1alpha3``, ``v1alpha2``), and on a 1.35
  server ``v1alpha1`` Workloads. A server that serves none of them is
  watched at its release's version (upstream's kube-scheduler of that release
  watches the same), so enabling the API later needs no restart.

A kind the server does not serve is off: pods naming a group of that API are
scheduled as if they named none, and the directory says so once in the log.
Offline (``simulate``) every version is read, whichever the snapshot holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import structlog

from py_scheduler.framework.custom_resources import CustomObjectLister, CustomResource
from py_scheduler.framework.interface import Handle
from py_scheduler.model.podgroups import (
    PLUGINS_API,
    WORKLOAD_API,
    GroupPolicy,
    PodGroupRef,
    Workload,
    decode_plugins_pod_group,
    decode_workload,
    decode_workload_pod_group,
)
from py_scheduler.model.server import ServerInfo

log = structlog.get_logger("py_scheduler.plugins.gangscheduling")

PLUGINS_POD_GROUPS: Final = CustomResource(PLUGINS_API, "v1alpha1", "podgroups", kind="PodGroup")
# scheduling.k8s.io PodGroup versions, the one upstream's newest scheduler reads first.
POD_GROUP_VERSIONS: Final = ("v1beta1", "v1alpha3", "v1alpha2")
WORKLOADS: Final = CustomResource(WORKLOAD_API, "v1alpha1", "workloads", kind="Workload")

# upstream's PreEnqueue words for a group that does not exist (yet).
GROUP_MISSING: Final = "waiting for pods's pod group {name} to appear in scheduling queue"
WORKLOAD_MISSING: Final = "waiting for pods's workload {name} to appear in scheduling queue"
WORKLOAD_GROUP_MISSING: Final = "pod group {group} doesn't exist for a workload {workload}"


def go_quote(text: str) -> str:
    """``text`` as Go's ``%q`` prints it (names here are DNS names: no escapes)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def workload_pod_groups(server: ServerInfo) -> list[CustomResource]:
    """The ``scheduling.k8s.io`` PodGroup versions to watch for ``server``."""

    def kind(version: str) -> CustomResource:
        return CustomResource(WORKLOAD_API, version, "podgroups", kind="PodGroup")

    if not server.serves("v1"):  # offline: no server to ask
        return [kind(v) for v in POD_GROUP_VERSIONS]
    served = server.first_served(WORKLOAD_API, POD_GROUP_VERSIONS)
    if served is not None:
        return [kind(served)]
    if server.serves(f"{WORKLOAD_API}/v1alpha1") or not server.version.at_least(1, 36):
        return []  # 1.35's Workloads carry the groups
    return [kind("v1beta1" if server.version.at_least(1, 37) else "v1alpha2")]


def watches_workloads(server: ServerInfo) -> bool:
    """Whether 1.35's ``v1alpha1`` Workloads are watched."""
    if not server.serves("v1"):
        return True
    return server.serves(f"{WORKLOAD_API}/v1alpha1") or not server.version.at_least(1, 36)


@dataclass(frozen=True, slots=True)
class Found:
    """A pod's group: its policy, or why there is none. ``off``: the API is not
    served, so the pod is scheduled as if it named no group."""

    policy: GroupPolicy | None = None
    missing: str = ""
    off: bool = False
    # The kind it was found as (None for a 1.35 Workload's group).
    resource: CustomResource | None = None


OFF: Final = Found(off=True)


class GroupDirectory:
    def __init__(self, handle: Handle) -> None:
        self.plugins: CustomObjectLister[GroupPolicy] = handle.custom_objects(
            PLUGINS_POD_GROUPS, decode_plugins_pod_group
        )
        self.pod_groups: list[CustomObjectLister[GroupPolicy]] = [
            handle.custom_objects(resource, decode_workload_pod_group)
            for resource in workload_pod_groups(handle.server)
        ]
        self.workloads: CustomObjectLister[Workload] | None = None
        if watches_workloads(handle.server):
            self.workloads = handle.custom_objects(WORKLOADS, decode_workload)
        self._said_off: set[str] = set()

    def listers(self) -> list[CustomObjectLister[GroupPolicy]]:
        """Every PodGroup lister (not the Workloads')."""
        return [self.plugins, *self.pod_groups]

    def find(self, ref: PodGroupRef) -> Found:
        key = ref.key
        if key is None:
            return Found()
        if key.api == PLUGINS_API:
            if not self.plugins.served:
                return self._off(PLUGINS_API, PLUGINS_POD_GROUPS.value)
            policy = self.plugins.get(key.name, key.namespace)
            if policy is None:
                return Found(missing=GROUP_MISSING.format(name=go_quote(key.name)))
            return Found(policy, resource=PLUGINS_POD_GROUPS)
        if ref.workload:
            lister = self.workloads
            if lister is None or not lister.served:
                return self._off(WORKLOAD_API, WORKLOADS.value)
            workload = lister.get(ref.workload, key.namespace)
            if workload is None:
                return Found(missing=WORKLOAD_MISSING.format(name=go_quote(ref.workload)))
            policy = workload.policy(ref.workload_group, key)
            if policy is None:
                missing = WORKLOAD_GROUP_MISSING.format(
                    group=go_quote(ref.workload_group), workload=go_quote(ref.workload)
                )
                return Found(missing=missing)
            return Found(policy)
        served = [lister for lister in self.pod_groups if lister.served]
        if not served:
            return self._off(WORKLOAD_API, "podgroups.scheduling.k8s.io")
        for served_lister in served:
            found = served_lister.get(key.name, key.namespace)
            if found is not None:
                return Found(found, resource=served_lister.resource)
        return Found(missing=GROUP_MISSING.format(name=go_quote(key.name)))

    def _off(self, api: str, what: str) -> Found:
        if api not in self._said_off:
            self._said_off.add(api)
            log.warning(
                "group scheduling is off for this API: the server does not serve it, so pods "
                "naming its groups are scheduled one by one",
                api=api,
                resource=what,
            )
        return OFF
