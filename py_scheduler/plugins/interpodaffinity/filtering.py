"""InterPodAffinity's Filter state (upstream ``filtering.go``): per topology
pair, the existing pods matching the incoming pod's required terms, and those
whose required anti-affinity matches the incoming pod; kept exact by the
PreFilter extensions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from py_scheduler.framework.interface import (
    SharedLister,
)
from py_scheduler.framework.pod_counts import TermKind
from py_scheduler.model import PodInfo
from py_scheduler.plugins.interpodaffinity.terms import (
    Namespaces,
    matches_all,
    matches_incoming,
    matches_other,
    matching_per_node,
    on_nodes,
)

Counts = dict[tuple[str, str], int]


def _bump(counts: Counts, key: str, labels: Mapping[str, str], delta: int) -> None:
    value = labels.get(key)
    if value is None:
        return
    pair = (key, value)
    left = counts.get(pair, 0) + delta
    # Zero entries are dropped: "no match anywhere" is an empty map (first-pod rule).
    if left:
        counts[pair] = left
    else:
        counts.pop(pair, None)


@dataclass(slots=True)
class FilterState:
    pod: PodInfo
    namespace_labels: Mapping[str, str] | None  # the incoming pod's namespace
    namespaces: Namespaces
    # Existing pods whose required anti-affinity matches the incoming pod.
    existing_anti: Counts
    # Existing pods matching all of the incoming pod's required affinity terms.
    affinity: Counts
    # Existing pods matching the incoming pod's required anti-affinity terms.
    anti: Counts

    def clone(self) -> FilterState:
        return FilterState(
            self.pod,
            self.namespace_labels,
            self.namespaces,
            dict(self.existing_anti),
            dict(self.affinity),
            dict(self.anti),
        )

    def count_held_anti(self, snapshot: SharedLister) -> None:
        """Existing pods' required anti-affinity terms that match the incoming pod."""
        held = snapshot.held_terms(TermKind.REQUIRED_ANTI_AFFINITY)
        for weighted, per_node in held.items():
            term = weighted.term
            if matches_incoming(term, self.pod, self.namespace_labels):
                for node_info, found in on_nodes(snapshot, per_node):
                    _bump(self.existing_anti, term.topology_key, node_info.node.labels, found)

    def count_matching(self, snapshot: SharedLister) -> None:
        """Existing pods matching the incoming pod's required terms."""
        pod = self.pod
        for node_info, found in matching_per_node(snapshot, pod.required_affinity, self.namespaces):
            for term in pod.required_affinity:
                _bump(self.affinity, term.topology_key, node_info.node.labels, found)
        for term in pod.required_anti_affinity:
            for node_info, found in matching_per_node(snapshot, (term,), self.namespaces):
                _bump(self.anti, term.topology_key, node_info.node.labels, found)

    def count_existing_anti(self, other: PodInfo, labels: Mapping[str, str], delta: int) -> None:
        for term in other.required_anti_affinity:
            if matches_incoming(term, self.pod, self.namespace_labels):
                _bump(self.existing_anti, term.topology_key, labels, delta)

    def count_incoming(self, other: PodInfo, labels: Mapping[str, str], delta: int) -> None:
        pod = self.pod
        if matches_all(pod.required_affinity, other, self.namespaces):
            for term in pod.required_affinity:
                _bump(self.affinity, term.topology_key, labels, delta)
        for term in pod.required_anti_affinity:
            if matches_other(term, other, self.namespaces):
                _bump(self.anti, term.topology_key, labels, delta)

    def satisfies_affinity(self, labels: Mapping[str, str]) -> bool:
        pods_exist = True
        for term in self.pod.required_affinity:
            value = labels.get(term.topology_key)
            if value is None:
                return False  # every topology key must be on the node
            if self.affinity.get((term.topology_key, value), 0) <= 0:
                pods_exist = False
        if pods_exist:
            return True
        # The first pod of a group with affinity to itself: no pod matches
        # anywhere yet, so let it in if it matches its own terms.
        return not self.affinity and matches_all(
            self.pod.required_affinity, self.pod, self.namespaces
        )

    def satisfies_anti_affinity(self, labels: Mapping[str, str]) -> bool:
        if not self.anti:
            return True
        for term in self.pod.required_anti_affinity:
            value = labels.get(term.topology_key)
            if value is not None and self.anti.get((term.topology_key, value), 0) > 0:
                return False
        return True

    def satisfies_existing_anti_affinity(self, labels: Mapping[str, str]) -> bool:
        if not self.existing_anti:
            return True
        return not any(self.existing_anti.get(pair, 0) > 0 for pair in labels.items())
