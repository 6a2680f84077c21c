"""The pure half of preemption: how victims are ranked, which of them would
break a PodDisruptionBudget, and which candidate node is chosen
(upstream ``framework/preemption`` and ``py_scheduler/util``).

Nothing here touches a node or the framework, so each rule is tested on its
own and DefaultPreemption keeps only the dry run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from py_scheduler.model import NodeName, PodInfo
from py_scheduler.model.budgets import DisruptionBudget, protects

# Added to every victim's priority before summing, so that several victims
# with a negative priority never look cheaper than fewer of them.
PRIORITY_OFFSET: Final = 2**31

BudgetsFor = Callable[[str], Sequence[DisruptionBudget]]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A node the pod would fit on once ``victims`` (most important first) are gone."""

    node: NodeName
    victims: tuple[PodInfo, ...]
    num_pdb_violations: int = 0


def start_time(pod: PodInfo, now: float) -> float:
    # Assumed or not-yet-started pods count as starting now: the least senior.
    return pod.start_time if pod.start_time is not None else now


def by_importance(pods: Iterable[PodInfo], now: float) -> list[PodInfo]:
    """``MoreImportantPod`` order: higher priority first, then the longer-running."""
    return sorted(pods, key=lambda p: (-p.priority, start_time(p, now)))


def split_by_pdb_violation(
    pods: Sequence[PodInfo], budgets_for: BudgetsFor
) -> tuple[list[PodInfo], list[PodInfo]]:
    """(violating, non-violating), each keeping the order of ``pods``.

    Every budget starts from its ``disruptionsAllowed`` and each matching pod
    spends one; a pod that drives any budget below zero is violating. Pods the
    budget already lists as disrupted were counted by the API server, so they
    spend nothing.
    """
    left: dict[tuple[str, str], int] = {}
    violating: list[PodInfo] = []
    non_violating: list[PodInfo] = []
    for pod in pods:
        violated = False
        # A pod without labels cannot match any selector.
        if pod.labels:
            for budget in budgets_for(pod.namespace):
                if not protects(budget, pod) or pod.name in budget.disrupted_pods:
                    continue
                key = (budget.namespace, budget.name)
                left[key] = left.get(key, budget.disruptions_allowed) - 1
                if left[key] < 0:
                    violated = True
        (violating if violated else non_violating).append(pod)
    return violating, non_violating


def earliest_start_of_most_important(victims: Sequence[PodInfo], now: float) -> float:
    """The earliest start time among the victims of the highest priority."""
    top = max(p.priority for p in victims)
    return min(start_time(p, now) for p in victims if p.priority == top)


def _criteria(now: float) -> tuple[Callable[[Candidate], float], ...]:
    """Higher is better; each one only breaks the ties the previous one left."""
    return (
        lambda c: -c.num_pdb_violations,
        lambda c: -max(p.priority for p in c.victims),
        lambda c: -sum(p.priority + PRIORITY_OFFSET for p in c.victims),
        lambda c: -len(c.victims),
        # Disturb the pods that have been running for the shortest time.
        lambda c: earliest_start_of_most_important(c.victims, now),
    )


def pick_one_node(candidates: Sequence[Candidate], now: float) -> Candidate | None:
    """``pickOneNodeForPreemption``; a tie on every criterion keeps the first candidate."""
    remaining = list(candidates)
    if not remaining:
        return None
    for score in _criteria(now):
        if len(remaining) == 1:
            break
        best = max(score(c) for c in remaining)
        remaining = [c for c in remaining if score(c) == best]
    return remaining[0]
