"""GangScheduling's words: upstream's where upstream has them, ours beside.

Kept apart so that the plugin, its preemption and its status writes say the
same thing; tests pin them.
"""

from __future__ import annotations

from typing import Final

from py_scheduler.framework.pod_groups import GroupMembers
from py_scheduler.model.podgroups import GroupPolicy

# upstream's (pkg/scheduler/framework/plugins/gangscheduling).
GATED: Final = "waiting for minCount pods from a gang to appear in scheduling queue"
WAITING: Final = "waiting for minCount pods from a gang to be scheduled"  # 1.36 and later
WAITING_135: Final = "waiting for minCount pods from a gang to be waiting on permit"

# Ours.
PRESENT: Final = "pod group {group}: {count} present, {need} needed"
NO_ROOM: Final = "the cluster's free capacity cannot hold the pod group ({short} short)"
NO_ROOM_MIN_RESOURCES: Final = (
    "the cluster's free capacity cannot hold the pod group's minResources ({short} short)"
)
RELEASED: Final = "pod group {group}: released with the rest of its gang: {why}"
MEMBER_UNSCHEDULABLE: Final = "pod {pod} cannot be scheduled"
MEMBER_LEFT: Final = "pod {pod} left the gang's scheduling attempt"
GROUP_DELETED: Final = "the pod group was deleted"
BARRIER_FAILED: Final = (
    "pod group {group}: pod {pod} failed before binding, so the gang is retried together"
)
BARRIER_TIMEOUT: Final = "pod group {group}: not every member reached binding within {seconds}s"
RELEASED_WAITING: Final = "; {released} waiting members released"

# Preemption for a whole gang.
FOUND: Final = (
    "preemption: found a placement for {pods} pods of pod group {group}, preempting {count} victims"
)
NOT_HELPFUL: Final = (
    "preemption: pod group {group} does not fit even if lower-priority pods are evicted"
)
WOULD_VIOLATE_PDB: Final = (
    "preemption: pod group {group} fits only if pods a PodDisruptionBudget protects are evicted"
)
NEVER: Final = "preemption: not eligible due to preemptionPolicy=Never"
WAITING_FOR_VICTIMS: Final = (
    "preemption: waiting for the victims evicted for pod group {group} to terminate"
)


def describe(members: GroupMembers, policy: GroupPolicy) -> str:
    """Which group, how many members exist, are assumed and bound, and how many are needed."""
    return (
        f"pod group {members.key}: {members.count} present, {len(members.assumed)} assumed, "
        f"{len(members.bound)} bound, {policy.min_member} needed"
    )
