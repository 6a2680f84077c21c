"""Cluster events (upstream's ``eventhandlers.go``): what a pod, node or
storage object that appeared, changed or went away means for the cache, the
queue and the nominator, and which waiting pods it may help.

The watches (:mod:`py_scheduler.kube.watches`) and the simulator call these;
``Scheduler`` is built on them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from py_scheduler.framework.custom_resources import Change, CustomResource
from py_scheduler.framework.runtime import Framework
from py_scheduler.framework.types import ActionType, Resource, event
from py_scheduler.model import Node, PodInfo, PodUID
from py_scheduler.scheduling.binding_cycle import ASSIGNED_POD_DELETE
from py_scheduler.scheduling.cache import Cache
from py_scheduler.scheduling.nominator import Nominator
from py_scheduler.scheduling.pod_groups import PodGroupIndex
from py_scheduler.scheduling.queue import SchedulingQueue

NODE_ADD: Final = event(Resource.NODE, ActionType.ADD, "NodeAdd")
NODE_DELETE: Final = event(Resource.NODE, ActionType.DELETE, "NodeDelete")
ASSIGNED_POD_ADD: Final = event(Resource.ASSIGNED_POD, ActionType.ADD, "AssignedPodAdd")
# Event labels as upstream's ClusterEvent.Label(): resource, then action.
_VERBS: Final = {ActionType.ADD: "Add", ActionType.UPDATE: "Update", ActionType.DELETE: "Delete"}


def node_update_action(old: Node, new: Node) -> ActionType:
    action = ActionType(0)
    if old.allocatable != new.allocatable or old.allowed_pods != new.allowed_pods:
        action |= ActionType.UPDATE_NODE_ALLOCATABLE
    if old.labels != new.labels:
        action |= ActionType.UPDATE_NODE_LABEL
    if old.taints != new.taints or old.unschedulable != new.unschedulable:
        action |= ActionType.UPDATE_NODE_TAINT
    if old.annotations != new.annotations:
        action |= ActionType.UPDATE_NODE_ANNOTATION
    if old.declared_features != new.declared_features:
        action |= ActionType.UPDATE_NODE_DECLARED_FEATURE
    return action


class EventHandlers:
    def __init__(
        self,
        *,
        profiles: Mapping[str, Framework],
        cache: Cache,
        queue: SchedulingQueue,
        nominator: Nominator,
        pod_groups: PodGroupIndex | None = None,
    ) -> None:
        self.profiles = profiles
        self.cache = cache
        self.queue = queue
        self.nominator = nominator
        self.pod_groups = pod_groups if pod_groups is not None else PodGroupIndex(cache)
        # Unassigned pods of ours as the watch last showed them (None: deleted).
        self.pending: dict[PodUID, PodInfo] = {}

    def holds(self, uid: PodUID) -> bool:
        """Whether a pending pod is in hand: queued (active, backoff,
        unschedulable or gated) or assumed by a binding cycle. A pending pod of
        ours that is neither was lost (the pending-pod sweep looks for them)."""
        return self.queue.where(uid) is not None or self.cache.is_assumed(uid)

    def on_pod(self, pod: PodInfo) -> None:
        """A pod was added or changed."""
        if pod.node_name:
            self._on_assigned_pod(pod)
            return
        if pod.scheduler_name not in self.profiles:
            return
        if pod.is_terminal:
            self.pod_groups.upsert(pod)  # a finished member is still counted
            self._drop(pod)
            return
        before = self.pending.get(pod.uid)
        self.pending[pod.uid] = pod
        if pod.pod_group.key is not None:
            self.pod_groups.upsert(pod)
        if before is not None and before.nominated_node not in ("", pod.nominated_node):
            # It no longer holds room on its old nominated node.
            self._nomination_released(before)
        if self.cache.is_assumed(pod.uid):
            # Binding in flight, or held at Permit (nominated to its node, which it
            # already takes as assumed): the watch will show where it went.
            return
        self.nominator.update(pod)
        if pod.deleting:
            self.queue.delete(pod)
            return
        if self.queue.where(pod.uid) is None:
            self.queue.add(pod)
        else:
            self.queue.update(pod)

    def _on_assigned_pod(self, pod: PodInfo) -> None:
        self.pod_groups.upsert(pod)
        if self.pending.pop(pod.uid, None) is not None:
            self.queue.delete(pod)
        self.nominator.remove(pod)
        if pod.is_terminal:
            self._remove_assigned(pod)
            return
        old = self.cache.pod(pod.uid)
        if old is None or self.cache.is_assumed(pod.uid):
            self.cache.add_pod(pod)
            if old is None:
                self.queue.move_all(ASSIGNED_POD_ADD, None, pod)
            return
        self.cache.update_pod(pod)
        action = ActionType(0)
        if old.labels != pod.labels:
            action |= ActionType.UPDATE_POD_LABEL
        if (
            pod.requests.milli_cpu < old.requests.milli_cpu
            or pod.requests.memory < old.requests.memory
        ):
            action |= ActionType.UPDATE_POD_SCALE_DOWN
        if action:
            self.queue.move_all(event(Resource.ASSIGNED_POD, action), old, pod)

    def on_pod_deleted(self, pod: PodInfo) -> None:
        self.pod_groups.remove(pod)
        self._drop(pod)

    def _drop(self, pod: PodInfo) -> None:
        was_pending = self.pending.pop(pod.uid, None)
        self.queue.delete(pod)
        self.nominator.remove(pod)
        fwk = self.profiles.get(pod.scheduler_name)
        if fwk is not None and fwk.reject_waiting_pod(pod.uid):
            # Held at Permit: its binding cycle unreserves and forgets it, and
            # frees its room for the others (upstream's RejectWaitingPod).
            return
        if self.cache.pod(pod.uid) is not None:
            self._remove_assigned(pod)
        elif was_pending is not None and was_pending.nominated_node:
            self._nomination_released(was_pending)

    def _nomination_released(self, pod: PodInfo) -> None:
        """A nominated pod left its node (deleted, or nominated elsewhere): as if an
        assigned pod were deleted there, for the pods of lower or equal priority,
        which counted it as placed (upstream's deletePodFromSchedulingQueue and
        updatePodInSchedulingQueue)."""
        self.queue.move_all(
            ASSIGNED_POD_DELETE, pod, None, only=lambda other: other.priority <= pod.priority
        )

    def _remove_assigned(self, pod: PodInfo) -> None:
        cached = self.cache.pod(pod.uid)
        if cached is None:
            return
        self.cache.remove_pod(cached)
        self.queue.move_all(ASSIGNED_POD_DELETE, cached, None)

    def replace_pods(self, pods: list[PodInfo]) -> None:
        """A full relist: rebuild without losing assumed pods or double-counting."""
        assigned = [p for p in pods if p.node_name and not p.is_terminal]
        self.cache.replace_pods(assigned)
        self.pod_groups.replace(p for p in pods if p.node_name or p.scheduler_name in self.profiles)
        fresh = {
            p.uid: p
            for p in pods
            if not p.node_name and not p.is_terminal and p.scheduler_name in self.profiles
        }
        bound = {p.uid for p in assigned}
        for uid, old in list(self.pending.items()):
            # A pod bound while the watch was down is in the list, not gone.
            if uid not in fresh and uid not in bound:
                self.on_pod_deleted(old)
        for pod in assigned:
            if self.pending.pop(pod.uid, None) is not None:
                self.queue.delete(pod)
            self.nominator.remove(pod)
        for pod in fresh.values():
            self.on_pod(pod)

    def replace_nodes(self, nodes: list[Node]) -> None:
        self.cache.replace_nodes(nodes)
        self.queue.move_all(NODE_ADD)

    def on_node(self, node: Node) -> None:
        old_info = self.cache.get(node.name)
        old = old_info.node if old_info is not None else None
        self.cache.add_node(node)
        if old is None:
            self.queue.move_all(NODE_ADD, None, node)
            return
        action = node_update_action(old, node)
        if action:
            self.queue.move_all(event(Resource.NODE, action), old, node)

    def on_node_deleted(self, name: str) -> None:
        node_info = self.cache.get(name)
        self.cache.remove_node(name)
        if node_info is not None:
            # Fewer domains can change topology spread skew.
            self.queue.move_all(NODE_DELETE, node_info.node, None)

    def on_object(
        self, resource: Resource | CustomResource, action: ActionType, old: object, new: object
    ) -> None:
        """A low-rate object (a storage object, say) changed: requeue pods it may help."""
        verb = _VERBS.get(action, "Update")
        self.queue.move_all(event(resource, action, f"{resource.value}{verb}"), old, new)

    def on_custom_objects(self, changes: Sequence[Change]) -> None:
        """Objects of a kind a plugin watches changed (custom resources)."""
        for resource, action, old, new in changes:
            self.on_object(resource, action, old, new)
