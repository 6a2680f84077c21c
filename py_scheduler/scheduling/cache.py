"""The scheduler's cache: every node and every assigned pod, plus assumed pods.

Pod states, as kube-scheduler's cache::

                 assume            add (watch shows the binding)
    Initial ───────────► Assumed ─────────────────────────► Added ──► Removed
       ▲                    │                                  (remove)
       └──── forget ────────┘

An assumed pod counts on its node at once, so the next cycle sees the space
taken; the watch confirms it, or ``forget`` undoes it when binding fails.
Assumed pods never expire (kube-scheduler passes a zero TTL for the same
reason: expiry races slow binds).

A scheduling cycle is one synchronous call on the event loop, so no watch
event can land in the middle of it: the cache itself is the cycle's
consistent snapshot, with no copy. It implements ``SharedLister``, with
the pod indexes (``scheduling.pod_indexes``) told of every pod placed or removed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Final

import structlog

from py_scheduler.framework.pod_counts import PodCounts, TermCounts, TermKind
from py_scheduler.model import Node, NodeInfo, NodeName, PodInfo, PodUID
from py_scheduler.model.selectors import LabelSelector
from py_scheduler.scheduling.pod_indexes import PodIndexes

log = structlog.get_logger("py_scheduler.cache")

# Touches kept for ``changed_since``; a reader further behind re-reads everything.
_TOUCH_LOG_LIMIT: Final = 1 << 16


class CacheError(RuntimeError):
    """An impossible transition; the cache would be corrupt if it went on."""


@dataclass(slots=True)
class _PodState:
    pod: PodInfo
    assumed: bool


class Cache:
    def __init__(self) -> None:
        self._nodes: dict[NodeName, NodeInfo] = {}
        # NodeInfos whose Node object was deleted while pods still point at it.
        self._ghosts: dict[NodeName, NodeInfo] = {}
        self._pods: dict[PodUID, _PodState] = {}
        # Zones in the order nodeTree keeps them: a zone is appended when its first node
        # arrives and dropped when its last leaves; nodes within a zone in arrival order.
        self._tree: dict[str, list[NodeName]] = {}
        self._ordered: list[NodeInfo] | None = None
        self._with_affinity: list[NodeInfo] | None = None
        self._with_anti_affinity: list[NodeInfo] | None = None
        self._image_nodes: dict[str, int] = {}
        # Bumped whenever an image count changes: scores that read them are stale.
        self._images_generation = 0
        self._generation = 0
        self._indexes = PodIndexes(self.pods)
        # Touched NodeInfos in generation order: _touched[i] got generation
        # _touched_base + i + 1. Lets node columns refresh only changed rows.
        self._touched: list[NodeInfo] = []
        self._touched_base = 0

    # -- SharedLister --------------------------------------------------------------

    def node_infos(self) -> Sequence[NodeInfo]:
        if self._ordered is None:
            self._ordered = _interleave_zones(
                [[self._nodes[name] for name in names] for names in self._tree.values()]
            )
        return self._ordered

    def get(self, name: str) -> NodeInfo | None:
        return self._nodes.get(NodeName(name))

    def with_affinity(self) -> Sequence[NodeInfo]:
        if self._with_affinity is None:
            self._with_affinity = [n for n in self.node_infos() if n.pods_with_affinity]
        return self._with_affinity

    def with_required_anti_affinity(self) -> Sequence[NodeInfo]:
        if self._with_anti_affinity is None:
            self._with_anti_affinity = [
                n for n in self.node_infos() if n.pods_with_required_anti_affinity
            ]
        return self._with_anti_affinity

    def image_nodes(self, image: str) -> int:
        return self._image_nodes.get(image, 0)

    def matching_pods(
        self, selectors: tuple[LabelSelector, ...], *, terminating: bool
    ) -> PodCounts:
        return self._indexes.matching_pods(selectors, terminating)

    def held_terms(self, kind: TermKind) -> TermCounts:
        return self._indexes.held_terms(kind)

    @property
    def indexes(self) -> PodIndexes:
        return self._indexes

    def __len__(self) -> int:
        return len(self._nodes)

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def images_generation(self) -> int:
        return self._images_generation

    def changed_since(self, generation: int) -> Sequence[NodeInfo] | None:
        """NodeInfos touched after ``generation`` (repeats possible); None when
        the log no longer reaches back that far."""
        if generation < self._touched_base:
            return None
        return self._touched[generation - self._touched_base :]

    # -- nodes -------------------------------------------------------------------

    def add_node(self, node: Node) -> None:
        node_info = self._nodes.get(node.name)
        if node_info is not None:
            if node_info.node.images != node.images:
                self._count_images(node_info.node, -1)
                self._count_images(node, 1)
        else:
            # A ghost's images were uncounted when its node was removed.
            node_info = self._ghosts.pop(node.name, None)
        if node_info is None:
            node_info = NodeInfo(node)
            self._ordered = None
            self._tree.setdefault(node.zone_key, []).append(node.name)
        else:
            if node.name not in self._nodes:
                self._ordered = None
                self._tree.setdefault(node.zone_key, []).append(node.name)
            elif node.zone_key != node_info.node.zone_key:
                self._ordered = None
                self._untree(node_info.node)
                self._tree.setdefault(node.zone_key, []).append(node.name)
            node_info.node = node
        if self._ordered is None:
            # A node back from the ghosts brings its pods, affinity ones included.
            self._with_affinity = self._with_anti_affinity = None
        if node.name not in self._nodes:
            self._count_images(node, 1)
        self._nodes[node.name] = node_info
        self._touch(node_info)

    update_node = add_node

    def remove_node(self, name: str) -> None:
        node_info = self._nodes.pop(NodeName(name), None)
        if node_info is None:
            return
        self._count_images(node_info.node, -1)
        self._untree(node_info.node)
        if node_info.pods:
            self._ghosts[node_info.name] = node_info
        self._ordered = None
        self._with_affinity = self._with_anti_affinity = None

    def _untree(self, node: Node) -> None:
        names = self._tree[node.zone_key]
        names.remove(node.name)
        if not names:
            del self._tree[node.zone_key]

    def node_names(self) -> list[NodeName]:
        return list(self._nodes)

    def _count_images(self, node: Node, sign: int) -> None:
        if node.images:
            self._images_generation += 1
        for image in node.images:
            left = self._image_nodes.get(image, 0) + sign
            if left > 0:
                self._image_nodes[image] = left
            else:
                self._image_nodes.pop(image, None)

    # -- pods --------------------------------------------------------------------

    def pod(self, uid: PodUID) -> PodInfo | None:
        state = self._pods.get(uid)
        return state.pod if state else None

    def is_assumed(self, uid: PodUID) -> bool:
        state = self._pods.get(uid)
        return state is not None and state.assumed

    def assume(self, pod: PodInfo, node: NodeName) -> PodInfo:
        """Place a copy of the pod on ``node`` before the API knows; returns the copy."""
        if pod.uid in self._pods:
            raise CacheError(f"pod {pod.key} is already in the cache")
        placed = _on_node(pod, node)
        self._place(placed)
        self._pods[pod.uid] = _PodState(placed, assumed=True)
        return placed

    def forget(self, pod: PodInfo) -> None:
        """Undo an assumption (binding failed); a no-op once the watch confirmed it."""
        state = self._pods.get(pod.uid)
        if state is None or not state.assumed:
            return
        self._unplace(state.pod)
        del self._pods[pod.uid]

    def add_pod(self, pod: PodInfo) -> None:
        """An assigned pod from the watch (a new one, or the confirmation of an assumed one)."""
        state = self._pods.get(pod.uid)
        if state is not None:
            if not state.assumed:
                self.update_pod(pod)
                return
            if state.pod.node_name != pod.node_name:
                log.warning(
                    "pod bound to a different node than assumed",
                    pod=pod.key,
                    assumed=state.pod.node_name,
                    bound=pod.node_name,
                )
            self._unplace(state.pod)
        self._place(pod)
        self._pods[pod.uid] = _PodState(pod, assumed=False)

    def update_pod(self, pod: PodInfo) -> None:
        state = self._pods.get(pod.uid)
        if state is None:
            self.add_pod(pod)
            return
        if state.assumed:
            # The watch shows the binding: same as add.
            self.add_pod(pod)
            return
        if state.pod.node_name != pod.node_name:
            raise CacheError(
                f"pod {pod.key} moved from {state.pod.node_name} to {pod.node_name}; "
                "a bound pod's node never changes"
            )
        # Most updates are status changes: the indexes need not hear of them.
        reindex = not self._indexes.counted_alike(state.pod, pod)
        self._unplace(state.pod, reindex=reindex)
        self._place(pod, reindex=reindex)
        state.pod = pod

    def remove_pod(self, pod: PodInfo) -> None:
        state = self._pods.pop(pod.uid, None)
        if state is None:
            return
        self._unplace(state.pod)

    def pods(self) -> Iterable[PodInfo]:
        return (state.pod for state in self._pods.values())

    def assumed_count(self) -> int:
        return sum(1 for state in self._pods.values() if state.assumed)

    def pod_count(self) -> int:
        return len(self._pods)

    def replace_pods(self, pods: Iterable[PodInfo]) -> None:
        """After a relist: make the bound pods exactly ``pods``, keeping assumptions.

        An assumed pod missing from the list may still be binding, so it
        stays until its bind finishes (then confirm or forget).
        """
        fresh = {pod.uid: pod for pod in pods}
        for uid, state in list(self._pods.items()):
            if uid not in fresh and not state.assumed:
                self.remove_pod(state.pod)
        for pod in fresh.values():
            self.add_pod(pod)

    def replace_nodes(self, nodes: Iterable[Node]) -> None:
        fresh = {node.name: node for node in nodes}
        for name in list(self._nodes):
            if name not in fresh:
                self.remove_node(name)
        for node in fresh.values():
            self.add_node(node)

    # -- internals -----------------------------------------------------------------

    def _place(self, pod: PodInfo, *, reindex: bool = True) -> None:
        name = NodeName(pod.node_name)
        node_info = self._nodes.get(name) or self._ghosts.get(name)
        if node_info is None:
            # A pod on a node we have not seen yet: keep it on a ghost until it arrives.
            node_info = self._ghosts[name] = NodeInfo(Node(name=name, labels={}))
        node_info.add_pod(pod)
        if reindex:
            self._indexes.add(pod)
        self._touch(node_info)
        if pod.has_affinity:
            self._with_affinity = None
        if pod.has_required_anti_affinity:
            self._with_anti_affinity = None

    def _unplace(self, pod: PodInfo, *, reindex: bool = True) -> None:
        if reindex:
            self._indexes.remove(pod)
        name = NodeName(pod.node_name)
        node_info = self._nodes.get(name) or self._ghosts.get(name)
        if node_info is None:
            return
        node_info.remove_pod(pod)
        self._touch(node_info)
        if pod.has_affinity:
            self._with_affinity = None
        if pod.has_required_anti_affinity:
            self._with_anti_affinity = None
        if not node_info.pods and name in self._ghosts:
            del self._ghosts[name]

    def _touch(self, node_info: NodeInfo) -> None:
        self._generation += 1
        node_info.generation = self._generation
        self._touched.append(node_info)
        if len(self._touched) > _TOUCH_LOG_LIMIT:
            half = len(self._touched) // 2
            del self._touched[:half]
            self._touched_base += half


def _on_node(pod: PodInfo, node: NodeName) -> PodInfo:
    # A shallow copy: the decoded parts are shared, only the node differs.
    return replace(pod, node_name=node)


def _interleave_zones(columns: list[list[NodeInfo]]) -> list[NodeInfo]:
    """Round-robin over zones, as kube-scheduler's nodeTree lists nodes, so
    that sampling a prefix of the list touches every zone."""
    if len(columns) <= 1:
        return columns[0] if columns else []
    out: list[NodeInfo] = []
    for i in range(max(len(c) for c in columns)):
        for column in columns:
            if i < len(column):
                out.append(column[i])
    return out
