"""InterPodAffinity's topology counts, kept across cycles.

PreFilter sums, per topology pair, the existing pods whose required
anti-affinity matches the incoming pod and the existing pods matching the
incoming pod's required terms: one step per node holding such pods, which
with a few thousand such nodes is most of a cycle. Replicas ask the same
question again and again, so ``KeptCounts`` keeps each node's part of the
sums and, from the snapshot's change log, takes out and puts back only the
parts of the nodes touched since (a pod placed or removed there, or the node
itself updated). A node list that changed, or a log that no longer reaches
back, counts afresh.

A question is the incoming pod's namespace, labels, required terms and its
namespace's labels. Terms of the incoming pod that pick namespaces by a
selector read other namespaces' labels, which no node touch reports: such
pods are counted afresh every cycle.

It also keeps, per topology key, every row's value as a code and the counts
per code, so the Filter's batch form judges many nodes with array lookups.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Final

import numpy as np

from py_scheduler.framework.batch import ChangeLog, Int64s
from py_scheduler.framework.interface import SharedLister
from py_scheduler.framework.pod_counts import TermKind
from py_scheduler.model import NodeInfo, NodeName, PodInfo
from py_scheduler.model.pod import PodAffinityTerm
from py_scheduler.plugins.interpodaffinity.filtering import Counts, FilterState
from py_scheduler.plugins.interpodaffinity.terms import (
    Namespaces,
    matches_incoming,
    picks_namespace,
)

KEPT_QUESTIONS: Final = 16
_MISSING: Final = -1
# The three sums of a FilterState, by position.
EXISTING_ANTI: Final = 0
AFFINITY: Final = 1
ANTI: Final = 2

Part = tuple[Counts, Counts, Counts]


def question(pod: PodInfo, namespace_labels: Mapping[str, str] | None) -> Hashable | None:
    """What the counts depend on besides the pods on the nodes; None when they
    also read labels of other namespaces."""
    for term in (*pod.required_affinity, *pod.required_anti_affinity):
        selector = term.namespace_selector
        if selector is not None and not selector.is_empty:
            return None
    return (
        pod.namespace,
        tuple(sorted(pod.labels.items())),
        pod.required_affinity,
        pod.required_anti_affinity,
        tuple(sorted(namespace_labels.items())) if namespace_labels is not None else None,
    )


class LabelCodes:
    """One topology key's value on every row, as codes (-1: no such label)."""

    __slots__ = ("codes", "index")

    def __init__(self, key: str, nodes: Sequence[NodeInfo]) -> None:
        self.index: dict[str, int] = {}
        self.codes: Int64s = np.full(len(nodes), _MISSING, dtype=np.int64)
        for row, node_info in enumerate(nodes):
            value = node_info.node.labels.get(key)
            if value is not None:
                self.codes[row] = self.index.setdefault(value, len(self.index))

    def code(self, value: str) -> int:
        return self.index.setdefault(value, len(self.index))


class KeptCounts:
    """The counts of one question over one node list, kept per node."""

    __slots__ = (
        "by_code",
        "generation",
        "keys",
        "labels",
        "match_held",
        "nodes",
        "parts",
        "rows",
        "state",
    )

    def __init__(
        self, state: FilterState, nodes: Sequence[NodeInfo], snapshot: SharedLister, generation: int
    ) -> None:
        self.state = state
        self.nodes = nodes
        self.generation = generation
        self.rows = {n.name: i for i, n in enumerate(nodes)}
        # Whether each held anti-affinity term matches the incoming pod.
        self.match_held: dict[PodAffinityTerm, bool] = {}
        self.parts: dict[NodeName, Part] = {}
        self.labels: dict[str, LabelCodes] = {}
        # (sum, key) -> count per value code, kept with the sums.
        self.by_code: dict[tuple[int, str], Int64s] = {}
        # Per sum: topology key -> how many of its pairs have a count.
        self.keys: tuple[dict[str, int], dict[str, int], dict[str, int]] = ({}, {}, {})
        for name in self._holding(snapshot):
            node_info = snapshot.get(name)
            if node_info is not None:
                self._put(node_info, self._part(node_info, snapshot), 1)

    def codes(self, key: str) -> LabelCodes:
        codes = self.labels.get(key)
        if codes is None:
            codes = self.labels[key] = LabelCodes(key, self.nodes)
        return codes

    def counts_by_code(self, which: int, key: str) -> Int64s:
        """The counts of one sum for one topology key, by value code."""
        arrays = self.by_code.get((which, key))
        codes = self.codes(key)
        if arrays is None or len(arrays) < len(codes.index):
            sums = self.state.existing_anti, self.state.affinity, self.state.anti
            arrays = np.zeros(len(codes.index), dtype=np.int64)
            for (k, value), n in sums[which].items():
                if k == key:
                    code = codes.index.get(value)
                    if code is not None:
                        arrays[code] = n
            self.by_code[(which, key)] = arrays
        return arrays

    def refresh(self, changed: Sequence[NodeInfo], snapshot: SharedLister, generation: int) -> bool:
        """Apply the touched nodes; False when a node's labels changed (rebuild)."""
        rows, nodes = self.rows, self.nodes
        for node_info in changed:
            row = rows.get(node_info.name)
            if row is None or nodes[row] is not node_info:
                continue  # no longer listed: its pods count nowhere
            for key, codes in self.labels.items():
                value = node_info.node.labels.get(key)
                code = int(codes.codes[row])
                if (value is None) != (code == _MISSING) or (
                    value is not None and codes.index.get(value) != code
                ):
                    return False
            old = self.parts.pop(node_info.name, None)
            if old is not None:
                self._apply(old, -1)
            self._put(node_info, self._part(node_info, snapshot), 1)
        self.generation = generation
        return True

    def _holding(self, snapshot: SharedLister) -> set[NodeName]:
        """Every node that holds pods any of the three sums may count."""
        state = self.state
        names: set[NodeName] = set()
        for per_node in snapshot.held_terms(TermKind.REQUIRED_ANTI_AFFINITY).values():
            names.update(per_node)
        pod = state.pod
        for terms in (pod.required_affinity, *((t,) for t in pod.required_anti_affinity)):
            selectors = tuple(t.selector for t in terms)
            if terms and all(s is not None for s in selectors):
                found = snapshot.matching_pods(
                    tuple(s for s in selectors if s is not None), terminating=True
                )
                for per_node in found.values():
                    names.update(per_node)
        return names

    def _part(self, node_info: NodeInfo, snapshot: SharedLister) -> Part:
        """This node's share of the three sums, read from the indexes."""
        state, name, labels = self.state, node_info.name, node_info.node.labels
        existing: Counts = {}
        for weighted, per_node in snapshot.held_terms(TermKind.REQUIRED_ANTI_AFFINITY).items():
            found = per_node.get(name, 0)
            if not found:
                continue
            term = weighted.term
            matched = self.match_held.get(term)
            if matched is None:
                matched = self.match_held[term] = matches_incoming(
                    term, state.pod, state.namespace_labels
                )
            if matched:
                _add(existing, term.topology_key, labels, found)
        affinity: Counts = {}
        pod = state.pod
        found = _matching(snapshot, pod.required_affinity, name, state.namespaces)
        if found:
            for term in pod.required_affinity:
                _add(affinity, term.topology_key, labels, found)
        anti: Counts = {}
        for term in pod.required_anti_affinity:
            found = _matching(snapshot, (term,), name, state.namespaces)
            if found:
                _add(anti, term.topology_key, labels, found)
        return existing, affinity, anti

    def _put(self, node_info: NodeInfo, part: Part, sign: int) -> None:
        if any(part):
            self.parts[node_info.name] = part
        self._apply(part, sign)

    def _apply(self, part: Part, sign: int) -> None:
        sums = self.state.existing_anti, self.state.affinity, self.state.anti
        for which, counts in enumerate(part):
            total = sums[which]
            keys = self.keys[which]
            for pair, n in counts.items():
                before = total.get(pair, 0)
                left = before + sign * n
                # Zero entries are dropped: "no match anywhere" is an empty map.
                if left:
                    total[pair] = left
                else:
                    total.pop(pair, None)
                if not before and left:
                    keys[pair[0]] = keys.get(pair[0], 0) + 1
                elif before and not left:
                    keys[pair[0]] -= 1
                    if not keys[pair[0]]:
                        del keys[pair[0]]
                arrays = self.by_code.get((which, pair[0]))
                if arrays is not None:
                    code = self.codes(pair[0]).code(pair[1])
                    if code < len(arrays):
                        arrays[code] += sign * n
                    else:
                        del self.by_code[(which, pair[0])]  # rebuilt on next use


def _add(counts: Counts, key: str, labels: Mapping[str, str], n: int) -> None:
    value = labels.get(key)
    if value is not None:
        counts[(key, value)] = counts.get((key, value), 0) + n


def _matching(
    snapshot: SharedLister,
    terms: Sequence[PodAffinityTerm],
    name: NodeName,
    namespaces: Namespaces,
) -> int:
    """Pods on node ``name`` matching every one of ``terms`` in namespaces they pick."""
    selectors = tuple(t.selector for t in terms)
    if not selectors or any(s is None for s in selectors):
        return 0
    found = snapshot.matching_pods(tuple(s for s in selectors if s is not None), terminating=True)
    total = 0
    for namespace, per_node in found.items():
        n = per_node.get(name, 0)
        if n and all(picks_namespace(t, namespace, namespaces) for t in terms):
            total += n
    return total


class Counter:
    """The kept counts, the least recently used dropped first."""

    def __init__(self) -> None:
        self._kept: dict[Hashable, KeptCounts] = {}

    def counts(
        self,
        key: Hashable,
        fresh: FilterState,
        nodes: Sequence[NodeInfo],
        snapshot: SharedLister,
        log: ChangeLog,
    ) -> KeptCounts:
        """Kept counts for the question ``key``; ``fresh`` is an empty FilterState
        for the incoming pod, filled if the counts must be made afresh."""
        kept = self._kept.pop(key, None)
        if kept is not None and kept.nodes is nodes:
            changed = log.changed_since(kept.generation)
            if changed is not None and kept.refresh(changed, snapshot, log.generation):
                self._kept[key] = kept
                return kept
        made = KeptCounts(fresh, nodes, snapshot, log.generation)
        self._kept[key] = made
        if len(self._kept) > KEPT_QUESTIONS:
            del self._kept[next(iter(self._kept))]
        return made
