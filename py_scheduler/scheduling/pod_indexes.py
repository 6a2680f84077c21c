"""The cache's pod indexes: ``matching_pods`` and ``held_terms`` kept current
on every pod the cache places or unplaces, so a cycle reads counts per node
instead of walking every assigned pod.

A selection (selectors, whether terminating pods count) is built on its
first query by one walk over the cached pods, then updated by testing each
placed or unplaced pod against it. Selections are filed under one
``matchLabels`` pair that every pod they count carries, so a pod is tested
only against the selections filed under its own labels (plus the few with
no such pair): a pod event costs a few label matches however many
workloads are indexed. A selection nobody asked for during
``IDLE_QUERIES`` queries is dropped and rebuilt if asked for again.

Held terms are always kept: only pods with affinity contribute, and a pod
is matched against each distinct term once per cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from py_scheduler.framework.pod_counts import PodCounts, TermCounts, TermKind, selected, terms_of
from py_scheduler.model import NodeName, PodInfo
from py_scheduler.model.pod import WeightedPodAffinityTerm
from py_scheduler.model.selectors import LabelSelector

IDLE_QUERIES: Final = 8192
_SWEEP_EVERY: Final = 1024


def _bump(counts: dict[NodeName, int], node: NodeName, delta: int) -> None:
    left = counts.get(node, 0) + delta
    if left > 0:
        counts[node] = left
    else:
        counts.pop(node, None)


_Key = tuple[tuple[LabelSelector, ...], bool]
_Pair = tuple[str, str]


def _filing_pair(selectors: tuple[LabelSelector, ...]) -> _Pair | None:
    for selector in selectors:
        if selector.match_labels:
            return selector.match_labels[0]
    return None


@dataclass(slots=True)
class _Selection:
    selectors: tuple[LabelSelector, ...]
    terminating: bool
    used: int
    counts: dict[str, dict[NodeName, int]] = field(default_factory=dict)

    def count(self, pod: PodInfo, delta: int) -> None:
        if not selected(pod, self.selectors, self.terminating):
            return
        by_node = self.counts.get(pod.namespace)
        if by_node is None:
            by_node = self.counts[pod.namespace] = {}
        _bump(by_node, NodeName(pod.node_name), delta)
        if not by_node:
            del self.counts[pod.namespace]


class PodIndexes:
    """Counts over the pods ``pods()`` yields; told of every change by ``add``/``remove``."""

    def __init__(self, pods: Callable[[], Iterable[PodInfo]]) -> None:
        self._pods = pods
        self._selections: dict[_Key, _Selection] = {}
        # The same selections, filed by a label pair their pods must carry.
        self._by_pair: dict[_Pair, dict[_Key, _Selection]] = {}
        self._unfiled: dict[_Key, _Selection] = {}
        self._terms: dict[TermKind, dict[WeightedPodAffinityTerm, dict[NodeName, int]]] = {
            kind: {} for kind in TermKind
        }
        self._queries = 0

    def matching_pods(self, selectors: tuple[LabelSelector, ...], terminating: bool) -> PodCounts:
        self._queries += 1
        key = (selectors, terminating)
        selection = self._selections.get(key)
        if selection is None:
            selection = self._selections[key] = _Selection(selectors, terminating, self._queries)
            pair = _filing_pair(selectors)
            filed = self._unfiled if pair is None else self._by_pair.setdefault(pair, {})
            filed[key] = selection
            for pod in self._pods():
                selection.count(pod, 1)
        selection.used = self._queries
        if self._queries % _SWEEP_EVERY == 0:
            self._sweep()
        return selection.counts

    def held_terms(self, kind: TermKind) -> TermCounts:
        return self._terms[kind]

    def selection_count(self) -> int:
        """How many selections are maintained (for tests and metrics)."""
        return len(self._selections)

    @staticmethod
    def counted_alike(old: PodInfo, new: PodInfo) -> bool:
        """Whether every count stays the same when ``new`` replaces ``old``."""
        return (
            old.node_name == new.node_name
            and old.namespace == new.namespace
            and old.deleting == new.deleting
            and old.labels == new.labels
            and all(terms_of(old, kind) == terms_of(new, kind) for kind in TermKind)
        )

    def add(self, pod: PodInfo) -> None:
        self._account(pod, 1)

    def remove(self, pod: PodInfo) -> None:
        """Undo ``add``; ``pod`` must be the very object (or an equal one) added."""
        self._account(pod, -1)

    def _account(self, pod: PodInfo, delta: int) -> None:
        for selection in self._unfiled.values():
            selection.count(pod, delta)
        if self._by_pair:
            for pair in pod.labels.items():
                filed = self._by_pair.get(pair)
                if filed is not None:
                    for selection in filed.values():
                        selection.count(pod, delta)
        if not pod.has_affinity:
            return
        node = NodeName(pod.node_name)
        for kind, by_term in self._terms.items():
            for term in terms_of(pod, kind):
                by_node = by_term.get(term)
                if by_node is None:
                    by_node = by_term[term] = {}
                _bump(by_node, node, delta)
                if not by_node:
                    del by_term[term]

    def _sweep(self) -> None:
        oldest = self._queries - IDLE_QUERIES
        idle = [key for key, s in self._selections.items() if s.used < oldest]
        for key in idle:
            del self._selections[key]
            pair = _filing_pair(key[0])
            if pair is None:
                del self._unfiled[key]
            else:
                filed = self._by_pair[pair]
                del filed[key]
                if not filed:
                    del self._by_pair[pair]
