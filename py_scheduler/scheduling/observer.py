"""``CycleObserver``: what a cycle judged, for whoever reports on it.

The scheduling cycle (:mod:`.schedule_one`) calls ``unschedulable`` once a pod
that fits nowhere has been through PostFilter, or Permit rejected it; the
binding cycle (:mod:`.binding_cycle`) calls ``unschedulable`` when a pod held
at Permit is rejected, and ``bound`` once a pod is bound. ``explain``'s live
diagnoses and result annotations are built on it. An observer decides
nothing; the cycles log and swallow what it raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import structlog

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.runtime import Framework
from py_scheduler.framework.types import FitError, PostFilterResult
from py_scheduler.model import NodeName, PodInfo

log = structlog.get_logger("py_scheduler.scheduler")


class CycleObserver(Protocol):
    """The framework, the cycle state (holding the evaluator's trace when it
    keeps one) and the FitError of a pod that stays pending (PostFilter's
    words already in it), or the node a pod was bound to."""

    def unschedulable(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        fit: FitError,
        result: PostFilterResult | None,
    ) -> None: ...

    def bound(self, fwk: Framework, state: CycleState, pod: PodInfo, node: NodeName) -> None: ...


class Observers:
    """Several observers heard as one, in order; one that raises does not
    keep the next from hearing."""

    def __init__(self, observers: Sequence[CycleObserver]) -> None:
        self.observers = tuple(observers)

    def unschedulable(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        fit: FitError,
        result: PostFilterResult | None,
    ) -> None:
        for observer in self.observers:
            try:
                observer.unschedulable(fwk, state, pod, fit, result)
            except Exception:
                log.exception("cycle observer failed", pod=pod.key)

    def bound(self, fwk: Framework, state: CycleState, pod: PodInfo, node: NodeName) -> None:
        for observer in self.observers:
            try:
                observer.bound(fwk, state, pod, node)
            except Exception:
                log.exception("cycle observer failed", pod=pod.key)
