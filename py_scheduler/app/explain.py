"""Wire ``explain`` into the running scheduler.

What ``run`` needs, built from its flags: the observer of every cycle (the
diagnosis store, and with ``--explain-annotations`` the result annotations),
the evaluator (``Recording`` around the default one when annotations are on,
so their scores are the cycle's own), the ``/debug/pods`` routes and the
metrics (the store's size; capacity per shape and fragmentation).
"""

from __future__ import annotations

from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from py_scheduler import metrics
from py_scheduler.app import debug
from py_scheduler.explain.annotations import AnnotationWriter
from py_scheduler.explain.capacity import Capacity, Shape
from py_scheduler.explain.store import Diagnoser, DiagnosisStore
from py_scheduler.kube.annotations import patch_annotations
from py_scheduler.kube.client import KubeClient
from py_scheduler.model import PodInfo
from py_scheduler.scheduling.evaluation import Evaluator, Recording
from py_scheduler.scheduling.incremental import Incremental
from py_scheduler.scheduling.observer import CycleObserver, Observers
from py_scheduler.scheduling.scheduler import Scheduler


@dataclass(frozen=True)
class ExplainSettings:
    annotations: bool = False
    diagnoses_max_bytes: int = 32 * 1024 * 1024  # 0: keep no diagnoses
    diagnosis_interval: float = 10.0
    diagnosis_budget: float = 0.05
    shapes: Sequence[Shape] = field(default_factory=tuple)


class Explain:
    """The parts, built before the scheduler (the routes too: the server
    starts first); ``attach`` once the scheduler exists."""

    def __init__(self, settings: ExplainSettings, kube: KubeClient) -> None:
        self.settings = settings
        self._scheduler: Scheduler | None = None
        observers: list[CycleObserver] = []
        self.store: DiagnosisStore | None = None
        if settings.diagnoses_max_bytes > 0:
            self.store = DiagnosisStore(max_bytes=settings.diagnoses_max_bytes)
            observers.append(
                Diagnoser(
                    self.store,
                    min_interval=settings.diagnosis_interval,
                    budget=settings.diagnosis_budget,
                )
            )
        if settings.annotations:

            async def patch(pod: PodInfo, annotations: Mapping[str, str]) -> None:
                await patch_annotations(kube, pod, annotations)

            observers.append(AnnotationWriter(patch, self._spawn))
        self.observer: CycleObserver | None = Observers(observers) if observers else None
        self.evaluator: Evaluator | None = (
            Recording(Incremental()) if settings.annotations else None
        )

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        assert self._scheduler is not None, "attach() comes before the first cycle"
        self._scheduler.tasks.spawn(coro, name)

    def routes(self) -> list[web.RouteDef]:
        """The HTTP routes to serve, from start-up on (the server starts before
        the scheduler is built): until ``attach``, no pod is pending here."""
        store = self.store
        if store is None:
            return []

        def pending(uid: str) -> bool:
            return self._scheduler is not None and uid in self._scheduler.pending

        return debug.routes(store, pending)

    def attach(self, scheduler: Scheduler) -> None:
        """Hook the observers' task spawner and the metrics to ``scheduler``."""
        self._scheduler = scheduler
        capacity = Capacity(scheduler.cache, self.settings.shapes, scheduler.pending.values)

        def figures() -> metrics.CapacityFigures:
            report = capacity.report()
            return report.fits, report.free, report.stranded

        metrics.EXPLAIN.capacity = figures
        store = self.store
        if store is not None:
            metrics.EXPLAIN.diagnoses = lambda: (len(store), store.bytes)
