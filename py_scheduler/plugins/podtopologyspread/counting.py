"""Matching pods per topology domain, kept across cycles (PreFilter's walk,
made incremental).

PreFilter must know, for each ``DoNotSchedule`` constraint, how many
matching pods every eligible domain holds. Walking every node per cycle
costs thousands of Python steps at 5000 nodes. Pods of one workload ask the
same question over and over, and between two of their cycles only a few
nodes change (the one just assumed on, those the watch touched), so a
``DomainCounts`` keeps the answer for one question (constraints, namespace,
and what the inclusion policies read of the pod) over one node list, and
brings it up to date from the snapshot's change log: each touched node's
contribution is taken out of its domain and put back as it is now. A
touched node whose eligibility or domain changed, a new node list, or a log
that no longer reaches back rebuilds it with the full walk.

Besides the ``FilterState`` it keeps, per constraint, every row's domain as
a code and the count per code, so the Filter's batch form can judge many
nodes with a few array operations.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Final

import numpy as np

from py_scheduler.framework.batch import ChangeLog, Int64s
from py_scheduler.model import NodeInfo, NodeName, PodInfo
from py_scheduler.plugins.podtopologyspread.common import Constraint, Inclusion, has_all_keys
from py_scheduler.plugins.podtopologyspread.filtering import FilterState

# Questions (per plugin instance) whose counts are kept.
KEPT_QUESTIONS: Final = 16
_MISSING: Final = -1


def question(pod: PodInfo, constraints: tuple[Constraint, ...]) -> Hashable:
    """What the counts depend on besides the nodes and the pods on them."""
    affinity = any(c.honor_affinity for c in constraints)
    taints = any(c.honor_taints for c in constraints)
    return (
        constraints,
        pod.namespace,
        tuple(sorted(pod.node_selector.items())) if affinity else None,
        pod.required_node_affinity if affinity else None,
        pod.tolerations if taints else None,
    )


class DomainCounts:
    """The counts for one question over one node list.

    ``require_all`` is Filter's rule (and Score's, for a pod's own
    constraints): a node missing any constraint's topology key counts
    nowhere. Without it (Score under the system defaults) such a node counts
    in the ``""`` domain of the key it lacks, kept apart in ``empty``.
    """

    __slots__ = (
        "by_code",
        "codes",
        "contrib",
        "empty",
        "generation",
        "matched",
        "nodes",
        "require_all",
        "rows",
        "state",
        "values",
    )

    def __init__(
        self,
        pod: PodInfo,
        constraints: tuple[Constraint, ...],
        nodes: Sequence[NodeInfo],
        matching: Sequence[Mapping[NodeName, int]],
        generation: int,
        *,
        require_all: bool = True,
    ) -> None:
        self.nodes = nodes
        self.generation = generation
        self.require_all = require_all
        self.rows = {n.name: i for i, n in enumerate(nodes)}
        count = len(nodes)
        # Per constraint: code of each row's topology value (-1: no such label),
        # the values by code, the matching pods counted per code (and in the ""
        # domain), each row's own contribution (-1: not eligible, so not
        # counted), and each row's matching pods whether counted or not.
        self.codes: list[Int64s] = []
        self.values: list[list[str]] = []
        self.by_code: list[Int64s] = []
        self.empty: list[int] = []
        self.contrib: list[list[int]] = []
        self.matched: list[Int64s] = []
        counts: list[dict[str, int]] = []
        for i, c in enumerate(constraints):
            index: dict[str, int] = {}
            codes = np.full(count, _MISSING, dtype=np.int64)
            contrib = [_MISSING] * count
            matched = np.zeros(count, dtype=np.int64)
            by_value: dict[str, int] = {}
            empty = 0
            for row, node_info in enumerate(nodes):
                labels = node_info.node.labels
                found = matching[i].get(node_info.name, 0)
                matched[row] = found
                value = labels.get(c.topology_key)
                if value is not None:
                    codes[row] = index.setdefault(value, len(index))
                if not self._counts(pod, node_info, constraints, c):
                    continue
                contrib[row] = found
                if value is None:
                    empty += found
                else:
                    by_value[value] = by_value.get(value, 0) + found
            values = list(index)
            self.codes.append(codes)
            self.values.append(values)
            self.by_code.append(np.array([by_value.get(v, 0) for v in values], dtype=np.int64))
            self.empty.append(empty)
            self.contrib.append(contrib)
            self.matched.append(matched)
            counts.append(by_value)
        self.state = FilterState.build(constraints, counts) if require_all else None

    def _counts(
        self, pod: PodInfo, node_info: NodeInfo, constraints: tuple[Constraint, ...], c: Constraint
    ) -> bool:
        """Whether the node's matching pods count towards constraint ``c``."""
        labels = node_info.node.labels
        if self.require_all and not has_all_keys(labels, constraints):
            return False
        return Inclusion.of(pod, node_info.node, constraints).admits(c)

    def refresh(
        self,
        pod: PodInfo,
        constraints: tuple[Constraint, ...],
        changed: Sequence[NodeInfo],
        matching: Sequence[Mapping[NodeName, int]],
        generation: int,
    ) -> bool:
        """Apply the touched nodes; False when one changed more than its pods
        (its domain or eligibility), which needs a rebuild."""
        state = self.state
        for node_info in changed:
            row = self.rows.get(node_info.name)
            if row is None or self.nodes[row] is not node_info:
                continue  # a node no longer listed (a ghost)
            labels = node_info.node.labels
            for i, c in enumerate(constraints):
                value = labels.get(c.topology_key)
                code = int(self.codes[i][row])
                if (value is None) != (code == _MISSING) or (
                    value is not None and self.values[i][code] != value
                ):
                    return False
                old = self.contrib[i][row]
                counted = self._counts(pod, node_info, constraints, c)
                if counted != (old != _MISSING):
                    return False
                found = matching[i].get(node_info.name, 0)
                self.matched[i][row] = found
                if not counted or found == old:
                    continue
                self.contrib[i][row] = found
                if value is None:
                    self.empty[i] += found - old
                    continue
                self.by_code[i][code] += found - old
                if state is not None:
                    state.update(i, value, found - old)
        self.generation = generation
        return True


class DomainCounter:
    """The kept ``DomainCounts``, the least recently used dropped first."""

    def __init__(self) -> None:
        self._kept: dict[Hashable, DomainCounts] = {}

    def counts(
        self,
        pod: PodInfo,
        constraints: tuple[Constraint, ...],
        nodes: Sequence[NodeInfo],
        matching: Sequence[Mapping[NodeName, int]],
        log: ChangeLog,
        *,
        require_all: bool = True,
    ) -> DomainCounts:
        key = (question(pod, constraints), require_all)
        kept = self._kept.pop(key, None)
        if kept is not None and kept.nodes is nodes:
            changed = log.changed_since(kept.generation)
            if changed is not None and kept.refresh(
                pod, constraints, changed, matching, log.generation
            ):
                self._kept[key] = kept
                return kept
        fresh = DomainCounts(
            pod, constraints, nodes, matching, log.generation, require_all=require_all
        )
        self._kept[key] = fresh
        if len(self._kept) > KEPT_QUESTIONS:
            del self._kept[next(iter(self._kept))]
        return fresh
