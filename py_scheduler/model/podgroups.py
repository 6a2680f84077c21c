"""Pod groups: which group a pod names, and what a group object asks for.

Two APIs let a pod join a group that must be scheduled all or nothing:

- scheduler-plugins' ``PodGroup`` (``scheduling.x-k8s.io/v1alpha1``, a CRD):
  the pod carries the label ``scheduling.x-k8s.io/pod-group: <name>``; the
  group asks for ``minMember`` pods, optionally ``minResources`` and a
  ``scheduleTimeoutSeconds``.
- upstream's Workload API (``scheduling.k8s.io``): from 1.36 the pod names a
  ``PodGroup`` object in ``spec.schedulingGroup.podGroupName`` (``v1alpha2``,
  ``v1alpha3`` and ``v1beta1`` PodGroups carry ``schedulingPolicy.gang.minCount``);
  in 1.35 it names a group inside a ``Workload`` (``v1alpha1``) with
  ``spec.workloadRef``.

A pod names at most one group. The label and the Workload API field naming the
same name are one group (the Workload API's); naming different ones is a
conflict the pod is held for (``PodGroupRef.conflict``). Plain data and
decoding: the plugin in :mod:`py_scheduler.plugins.gangscheduling` and the
scheduler's index of members (:mod:`py_scheduler.scheduling.pod_groups`) use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from py_scheduler.model.raw import DecodeError, Fields, RawObject
from py_scheduler.model.resources import PODS, Resources, decode_amounts

# The label scheduler-plugins' Coscheduling reads.
POD_GROUP_LABEL: Final = "scheduling.x-k8s.io/pod-group"
# The two APIs, by group name.
PLUGINS_API: Final = "scheduling.x-k8s.io"
WORKLOAD_API: Final = "scheduling.k8s.io"


@dataclass(frozen=True, slots=True, order=True)
class GroupKey:
    """One group: its API, namespace and name. A 1.35 Workload's group is
    ``<workload>/<podGroup>`` (``/<replicaKey>`` when the pod gives one)."""

    api: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class PodGroupRef:
    """What a pod says about its group: ``key`` (None: no group), or a
    ``conflict`` explaining why it names none usable."""

    key: GroupKey | None = None
    conflict: str = ""
    # 1.35's workloadRef: the Workload object and the group inside it.
    workload: str = ""
    workload_group: str = ""


NO_GROUP: Final = PodGroupRef()


def pod_group_ref(
    *,
    namespace: str,
    labels: Mapping[str, str],
    scheduling_group: str,
    workload: str,
    workload_group: str,
    replica_key: str,
) -> PodGroupRef:
    """The group a pod names through its label and its spec fields."""
    label = labels.get(POD_GROUP_LABEL, "")
    spec_name = ""
    ref = NO_GROUP
    if scheduling_group:
        spec_name = scheduling_group
        ref = PodGroupRef(GroupKey(WORKLOAD_API, namespace, scheduling_group))
    elif workload:
        spec_name = f"{workload}/{workload_group}" + (f"/{replica_key}" if replica_key else "")
        ref = PodGroupRef(
            GroupKey(WORKLOAD_API, namespace, spec_name),
            workload=workload,
            workload_group=workload_group,
        )
    if label and spec_name and label != (scheduling_group or workload):
        field_name = "spec.schedulingGroup" if scheduling_group else "spec.workloadRef"
        return PodGroupRef(
            conflict=(
                f"the pod names two pod groups: label {POD_GROUP_LABEL}={label!r} and "
                f"{field_name} {spec_name!r}; name one"
            )
        )
    if label and not spec_name:
        return PodGroupRef(GroupKey(PLUGINS_API, namespace, label))
    return ref


@dataclass(frozen=True, slots=True)
class GroupPolicy:
    """A group object, as the scheduler needs it.

    ``min_member`` is the quorum (1 for a group without a gang policy, which
    is then not held at all); ``min_resources`` what the group needs at least
    (scheduler-plugins' ``minResources``, with ``pods`` = ``minMember``);
    ``timeout`` how long assumed members wait for the rest (None: the
    plugin's default)."""

    key: GroupKey
    min_member: int
    gang: bool = True
    min_resources: Resources | None = None
    min_pods: int = 0
    timeout: float | None = None
    uid: str = ""
    created: float = 0.0
    resource_version: str = ""
    # The raw status, to write only what changed (scheduler-plugins' PodGroup).
    status: RawObject = field(default_factory=dict, compare=False)


def _meta(root: Fields) -> tuple[str, str, str, str, float]:
    meta = root.obj("metadata")
    name = meta.string("name")
    if not name:
        raise meta.error("name", "must be set")
    namespace = meta.string("namespace") or "default"
    created = 0.0
    if stamp := meta.string("creationTimestamp"):
        try:
            created = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise meta.error("creationTimestamp", f"invalid timestamp {stamp!r}") from None
    return namespace, name, meta.string("uid"), meta.string("resourceVersion"), created


def decode_plugins_pod_group(raw: RawObject) -> GroupPolicy:
    """A scheduler-plugins ``PodGroup`` (``scheduling.x-k8s.io/v1alpha1``)."""
    root = Fields(raw)
    namespace, name, uid, version, created = _meta(root)
    spec = root.obj("spec")
    min_member = spec.integer("minMember")
    if min_member < 1:
        raise spec.error("minMember", f"must be at least 1, got {min_member}")
    amounts = decode_amounts(spec, "minResources")
    min_pods = int(amounts.pop(PODS, 0))
    timeout = spec.opt_integer("scheduleTimeoutSeconds")
    if timeout is not None and timeout < 0:
        raise spec.error("scheduleTimeoutSeconds", f"must not be negative, got {timeout}")
    return GroupPolicy(
        key=GroupKey(PLUGINS_API, namespace, name),
        min_member=min_member,
        min_resources=Resources.from_amounts(amounts) if amounts else None,
        min_pods=min_pods,
        timeout=float(timeout) if timeout else None,
        uid=uid,
        created=created,
        resource_version=version,
        status=root.raw_map("status"),
    )


def _gang_min_count(policy: Fields) -> int | None:
    """``schedulingPolicy``/``policy``: the gang's minCount, None for ``basic``."""
    if policy.raw.get("gang") is None:
        if policy.raw.get("basic") is None:
            raise DecodeError(policy.path or "policy", "one of basic or gang must be set")
        return None
    count = policy.obj("gang").integer("minCount")
    if count < 1:
        raise policy.obj("gang").error("minCount", f"must be at least 1, got {count}")
    return count


def decode_workload_pod_group(raw: RawObject) -> GroupPolicy:
    """A ``scheduling.k8s.io`` ``PodGroup`` (``v1alpha2``, ``v1alpha3``, ``v1beta1``)."""
    root = Fields(raw)
    namespace, name, uid, version, created = _meta(root)
    count = _gang_min_count(root.obj("spec").obj("schedulingPolicy"))
    return GroupPolicy(
        key=GroupKey(WORKLOAD_API, namespace, name),
        min_member=count or 1,
        gang=count is not None,
        uid=uid,
        created=created,
        resource_version=version,
        status=root.raw_map("status"),
    )


@dataclass(frozen=True, slots=True)
class Workload:
    """A 1.35 ``Workload`` (``scheduling.k8s.io/v1alpha1``): its groups' policies
    by group name (the minCount, None for ``basic``)."""

    namespace: str
    name: str
    groups: Mapping[str, int | None]
    uid: str = ""
    created: float = 0.0

    def policy(self, group: str, key: GroupKey) -> GroupPolicy | None:
        """The policy of ``group`` inside this Workload; None when it has none."""
        if group not in self.groups:
            return None
        count = self.groups[group]
        return GroupPolicy(
            key=key,
            min_member=count or 1,
            gang=count is not None,
            uid=self.uid,
            created=self.created,
        )


def decode_workload(raw: RawObject) -> Workload:
    root = Fields(raw)
    namespace, name, uid, _, created = _meta(root)
    groups: dict[str, int | None] = {}
    for item in root.obj("spec").objects("podGroups"):
        group = item.string("name")
        if not group:
            raise item.error("name", "must be set")
        groups[group] = _gang_min_count(item.obj("policy"))
    return Workload(namespace, name, groups, uid, created)
