"""What the dry run found on each node, kept for the next preemptor like this one.

A burst of identical high-priority pods (a Deployment's replicas, a Job's
pods) preempts one after another, and each dry run walks a hundred nodes or
more, most of them unchanged since the previous pod's. When every Filter
running for the pod reads only the node and the pod's own fields
(``Handle.filter_signature``), the victims chosen on a node are a function
of:

- the pod's filter signature and priority (which pods are lower);
- the NodeInfo, pinned by its ``generation``, which the cache moves on every
  change;
- the pods nominated to the node that the pod must make room for;
- the PodDisruptionBudgets of the namespaces of the pods on the node.

Those are the key of a kept answer, compared by identity (the kept answer
holds references to them, so an identity cannot be reused meanwhile). A
node whose answer involves a pod group, a pod that starts after "now", or
an Error is never kept: a pod without a start time ranks as starting "now",
which is after every other start time whatever the clock says, but one
starting in the future would rank differently as the clock moves. So a kept answer is
exactly what ``select_victims_on_node`` would return again; the tests
compare the two over generated clusters with churn.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Final

from py_scheduler.framework.status import Code, Status
from py_scheduler.model import NodeInfo, NodeName, PodInfo
from py_scheduler.model.budgets import DisruptionBudget
from py_scheduler.plugins.defaultpreemption.candidates import BudgetsFor

# Preemptor shapes kept at once; the least recently used goes first.
KEPT_SHAPES: Final = 8


@dataclass(frozen=True, slots=True)
class Answer:
    """``select_victims_on_node``'s result: victims, PDB violations, status."""

    victims: tuple[PodInfo, ...]
    violations: int
    status: Status


@dataclass(frozen=True, slots=True)
class _Kept:
    generation: int
    nominated: tuple[PodInfo, ...]
    budgets: tuple[DisruptionBudget, ...]
    answer: Answer


def _same(a: Sequence[object], b: Sequence[object]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


class VictimMemo:
    """Kept answers per preemptor shape (filter signature and priority), per node."""

    def __init__(self) -> None:
        self._shapes: OrderedDict[Hashable, dict[NodeName, _Kept]] = OrderedDict()
        self.hits = 0

    def shape(self, signature: Hashable | None, pod: PodInfo) -> dict[NodeName, _Kept] | None:
        """The kept answers for pods like ``pod``; None: keep nothing for it."""
        if signature is None or pod.pod_group.key is not None:
            return None
        key = (signature, pod.priority)
        kept = self._shapes.get(key)
        if kept is None:
            kept = self._shapes[key] = {}
            if len(self._shapes) > KEPT_SHAPES:
                self._shapes.popitem(last=False)
        else:
            self._shapes.move_to_end(key)
        return kept


def budgets_on(
    node: NodeInfo, pod: PodInfo, budgets_for: BudgetsFor
) -> tuple[DisruptionBudget, ...]:
    """The budgets that may protect a lower-priority pod on ``node``."""
    namespaces = sorted({p.namespace for p in node.pods.values() if p.priority < pod.priority})
    return tuple(b for ns in namespaces for b in budgets_for(ns))


def lookup(
    shape: dict[NodeName, _Kept],
    node: NodeInfo,
    nominated: tuple[PodInfo, ...],
    budgets: tuple[DisruptionBudget, ...],
) -> Answer | None:
    kept = shape.get(node.name)
    if (
        kept is None
        or kept.generation != node.generation
        or not _same(kept.nominated, nominated)
        or not _same(kept.budgets, budgets)
    ):
        return None
    return kept.answer


def keep(
    shape: dict[NodeName, _Kept],
    node: NodeInfo,
    pod: PodInfo,
    nominated: tuple[PodInfo, ...],
    budgets: tuple[DisruptionBudget, ...],
    answer: Answer,
    *,
    node_count: int,
    now: float,
) -> None:
    """Keep ``answer`` unless it may not be given again for the same key."""
    if answer.status.code is Code.ERROR:
        return
    for other in node.pods.values():
        if other.priority < pod.priority and (
            (other.start_time is not None and other.start_time >= now)
            or other.pod_group.key is not None
        ):
            return
    if len(shape) >= 2 * node_count:
        shape.clear()  # names of deleted nodes pile up otherwise
    shape[node.name] = _Kept(node.generation, nominated, budgets, answer)
