"""TaintToleration: hard NoSchedule/NoExecute taints filter nodes; soft
PreferNoSchedule taints lower a node's score.

The filter reason is fixed, as in v1.35, so it aggregates across nodes in the
FailedScheduling message instead of listing every distinct taint.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar, Final

import numpy as np

from py_scheduler.framework.batch import SOFT_TAINTS, Int64s, NodeColumns
from py_scheduler.framework.cycle_state import CycleState, StateKey
from py_scheduler.framework.interface import MAX_NODE_SCORE, Handle
from py_scheduler.framework.registry import NoArgs, PluginSpec, no_args
from py_scheduler.framework.status import SUCCESS, Status
from py_scheduler.framework.types import (
    ActionType,
    ClusterEventWithHint,
    QueueingHint,
    Resource,
    event,
)
from py_scheduler.model import Node, NodeInfo, PodInfo
from py_scheduler.model.taints import (
    NO_EXECUTE,
    NO_SCHEDULE,
    PREFER_NO_SCHEDULE,
    Taint,
    Toleration,
    tolerated,
)

NAME: Final = "TaintToleration"
REASON_UNTOLERATED: Final = "node(s) had untolerated taint(s)"

_REJECTED: Final = Status.unresolvable(REASON_UNTOLERATED)
_HARD_EFFECTS: Final = frozenset({NO_SCHEDULE, NO_EXECUTE})

# PreScore -> Score: the pod's tolerations that can tolerate a PreferNoSchedule taint.
_SOFT_TOLERATIONS: Final = StateKey[tuple[Toleration, ...]](f"{NAME}/softTolerations")


def _untolerated_hard_taint(taints: Iterable[Taint], tolerations: Sequence[Toleration]) -> bool:
    return any(t.effect in _HARD_EFFECTS and not tolerated(t, tolerations) for t in taints)


def _untolerated_soft_taints(taints: Iterable[Taint], tolerations: Sequence[Toleration]) -> int:
    return sum(
        1 for t in taints if t.effect == PREFER_NO_SCHEDULE and not tolerated(t, tolerations)
    )


def _reverse_normalized(counts: Int64s) -> Int64s:
    """Upstream's DefaultNormalizeScore, reversed: the fewer untolerated soft
    taints, the higher the score; no such taint anywhere scores every node 100."""
    highest = int(counts.max()) if len(counts) else 0
    if highest == 0:
        return np.full(len(counts), MAX_NODE_SCORE, dtype=np.int64)
    normalized: Int64s = MAX_NODE_SCORE - MAX_NODE_SCORE * counts // highest
    return normalized


def _soft_tolerations(pod: PodInfo) -> tuple[Toleration, ...]:
    # An empty effect tolerates every effect, PreferNoSchedule included.
    return tuple(t for t in pod.tolerations if t.effect in ("", PREFER_NO_SCHEDULE))


class TaintToleration:
    name: ClassVar[str] = NAME
    batch_normalizes: ClassVar[bool] = True  # score_batch returns normalised scores

    def __init__(self, args: NoArgs, handle: Handle) -> None:
        del args, handle

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if _untolerated_hard_taint(node.node.taints, pod.tolerations):
            return _REJECTED
        return SUCCESS

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        state.write(_SOFT_TOLERATIONS, _soft_tolerations(pod))
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        tolerations = state.get(_SOFT_TOLERATIONS)
        if tolerations is None:
            tolerations = _soft_tolerations(pod)
        return _untolerated_soft_taints(node.node.taints, tolerations)

    def normalize_scores(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        scores[:] = _reverse_normalized(np.array(scores, dtype=np.int64)).tolist()

    def score_batch(
        self, state: CycleState, pod: PodInfo, columns: NodeColumns, rows: Int64s
    ) -> Int64s | None:
        """Normalised scores from the nodes' PreferNoSchedule counts; only nodes
        that have such taints are looked at, and only if the pod tolerates some."""
        if not columns.exact:
            return None
        counts = columns.column(SOFT_TAINTS)[rows]
        tolerations = state.get(_SOFT_TOLERATIONS)
        if tolerations is None:
            tolerations = _soft_tolerations(pod)
        if tolerations:
            nodes = columns.nodes
            for i in np.flatnonzero(counts).tolist():
                taints = nodes[int(rows[i])].node.taints
                counts[i] = _untolerated_soft_taints(taints, tolerations)
        return _reverse_normalized(counts)

    def events_to_register(self) -> Sequence[ClusterEventWithHint]:
        return (
            ClusterEventWithHint(
                event(Resource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT),
                self._after_node_change,
            ),
            ClusterEventWithHint(
                event(Resource.POD, ActionType.UPDATE_POD_TOLERATIONS),
                self._after_toleration_change,
            ),
        )

    def _after_node_change(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        if not isinstance(new, Node) or not isinstance(old, Node | None):
            return QueueingHint.QUEUE
        was_untolerated = old is None or _untolerated_hard_taint(old.taints, pod.tolerations)
        if was_untolerated and not _untolerated_hard_taint(new.taints, pod.tolerations):
            return QueueingHint.QUEUE
        return QueueingHint.SKIP

    def _after_toleration_change(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        if not isinstance(new, PodInfo):
            return QueueingHint.QUEUE
        # Only the rejected pod's own new tolerations can change the verdict.
        return QueueingHint.QUEUE if new.uid == pod.uid else QueueingHint.SKIP


SPEC: Final = PluginSpec(NAME, no_args, TaintToleration)
