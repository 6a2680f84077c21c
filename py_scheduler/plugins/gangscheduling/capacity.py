"""Whether the cluster's free capacity can hold a gang at all.

Free capacity is what the nodes the gang may use have left (allocatable
minus requested, and pod slots); the walk stops as soon as the need is covered, so the check is
cheap when there is room and thorough only when there is not. It is a
necessary condition, not a placement: a gang that passes may still fail its
filters, and then its round is released (PostFilter).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from py_scheduler.model import NodeInfo, PodInfo, Resources
from py_scheduler.model.resources import CPU, MEMORY


def total_requests(pods: Iterable[PodInfo]) -> Resources:
    total = Resources()
    for pod in pods:
        total.add(pod.requests)
    return total


def smallest(pods: Sequence[PodInfo], count: int) -> list[PodInfo]:
    """The ``count`` members asking least (cpu, then memory): the cheapest way to a quorum."""
    ordered = sorted(pods, key=lambda p: (p.requests.milli_cpu, p.requests.memory, p.name))
    return ordered[: max(count, 0)]


def may_host(pod: PodInfo) -> Callable[[NodeInfo], bool]:
    """Whether a node is one the gang may use at all: schedulable, and matching the
    pod's nodeSelector and required node affinity (a gang confined to one pool
    is weighed against that pool's room, not the cluster's)."""
    selector = tuple(pod.node_selector.items())
    affinity = pod.required_node_affinity

    def eligible(node_info: NodeInfo) -> bool:
        node = node_info.node
        if node.unschedulable:
            return False
        labels = node.labels
        if any(labels.get(key) != value for key, value in selector):
            return False
        return affinity is None or affinity.matches(node.name, labels)

    return eligible


def shortfall(
    nodes: Iterable[NodeInfo],
    need: Resources,
    pods: int,
    *,
    eligible: Callable[[NodeInfo], bool] = lambda node_info: True,
) -> list[str]:
    """The resources (and ``pods``) free capacity lacks to hold ``need``; [] when it can."""
    left: dict[str, int] = {}
    for name in need.names():
        amount = need.get(name)
        if amount > 0:
            left[name] = amount
    pods_left = pods
    if not left and pods_left <= 0:
        return []
    for node_info in nodes:
        if not eligible(node_info):
            continue
        alloc = node_info.node.allocatable
        used = node_info.requested
        for name in list(left):
            free = alloc.get(name) - used.get(name)
            if free > 0:
                left[name] -= free
                if left[name] <= 0:
                    del left[name]
        if pods_left > 0:
            pods_left -= max(node_info.node.allowed_pods - len(node_info.pods), 0)
        if not left and pods_left <= 0:
            return []
    short = sorted(left, key=lambda n: (n not in (CPU, MEMORY), n))
    if pods_left > 0:
        short.append("pods")
    return short
