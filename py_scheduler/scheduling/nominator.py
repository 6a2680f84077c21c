"""Pods nominated to nodes by preemption, so other cycles account for them.

Filled from pods whose ``status.nominatedNodeName`` is set and from
PostFilter results; a pod leaves when assumed, deleted, or its nomination is
cleared.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from py_scheduler.model import NodeName, PodInfo, PodUID


class Nominator:
    def __init__(self) -> None:
        self._by_node: dict[NodeName, dict[PodUID, PodInfo]] = {}
        self._node_of: dict[PodUID, NodeName] = {}

    def nominated_pods_for(self, node: NodeName) -> Sequence[PodInfo]:
        pods = self._by_node.get(node)
        return list(pods.values()) if pods else []

    def nominated_nodes(self) -> Collection[NodeName]:
        return self._by_node.keys()

    def node_of(self, uid: PodUID) -> NodeName | None:
        return self._node_of.get(uid)

    def add(self, pod: PodInfo, node: str) -> None:
        self.remove(pod)
        if not node:
            return
        name = NodeName(node)
        self._by_node.setdefault(name, {})[pod.uid] = pod
        self._node_of[pod.uid] = name

    def remove(self, pod: PodInfo) -> None:
        node = self._node_of.pop(pod.uid, None)
        if node is None:
            return
        pods = self._by_node.get(node)
        if pods is not None:
            pods.pop(pod.uid, None)
            if not pods:
                del self._by_node[node]

    def update(self, pod: PodInfo) -> None:
        """Track a pod's own ``status.nominatedNodeName`` (from the watch)."""
        if pod.node_name or pod.deleting:
            self.remove(pod)
        elif pod.nominated_node:
            self.add(pod, pod.nominated_node)
        elif pod.uid in self._node_of:
            # Keep a nomination we made until the API shows it (it is written async).
            current = self._node_of[pod.uid]
            self._by_node[current][pod.uid] = pod

    def __len__(self) -> int:
        return len(self._node_of)
