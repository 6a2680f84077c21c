"""``MetricsRecorder``: what the scheduling core reports about itself, as calls.

The framework, the queue, the cycles and preemption report through one
recorder given at construction; none of them touches a metrics library.
:mod:`py_scheduler.metrics` implements it over the Prometheus registry for the
live scheduler; ``NO_METRICS`` drops everything, which is what ``simulate``
and most tests use, so an offline run leaves no trace in global metrics.
"""

from __future__ import annotations

from typing import Final, Protocol


class MetricsRecorder(Protocol):
    def extension_point(self, point: str, status: str, profile: str, seconds: float) -> None:
        """All plugins of one extension point ran."""

    def plugin_execution(self, plugin: str, point: str, status: str, seconds: float) -> None:
        """One plugin ran at one extension point (sampled cycles only)."""

    def schedule_attempt(self, result: str, profile: str, seconds: float) -> None:
        """A scheduling attempt ended: scheduled, unschedulable or error."""

    def algorithm_duration(self, seconds: float) -> None:
        """Filter and Score found a node."""

    def pod_scheduled(self, attempts: int, since_first_attempt: float | None) -> None:
        """A pod was bound after ``attempts`` attempts."""

    def pod_scheduled_after_flush(self) -> None:
        """A pod was bound on an attempt the unschedulable timeout (not an event) began."""

    def queue_incoming(self, queue: str, event: str) -> None:
        """A pod entered one of the scheduling queues because of ``event``."""

    def preemption_attempt(self) -> None: ...

    def preemption_victims(self, count: int) -> None: ...

    def eviction(self, result: str) -> None:
        """An eviction of a preemption victim: evicted, refused_by_pdb, not_found, error."""

    def bind_failure(self, reason: str) -> None: ...

    def api_write(self, kind: str, result: str) -> None:
        """An event or pod-status write: ok, not_found or error."""

    def binding_tasks(self, delta: int) -> None:
        """Binding cycles started (+1) or ended (-1)."""

    def permit_wait(self, result: str, seconds: float) -> None:
        """A pod held at Permit was allowed (Success) or rejected (its status code)."""


class NoMetrics:
    """A recorder that records nothing."""

    def extension_point(self, point: str, status: str, profile: str, seconds: float) -> None:
        pass

    def plugin_execution(self, plugin: str, point: str, status: str, seconds: float) -> None:
        pass

    def schedule_attempt(self, result: str, profile: str, seconds: float) -> None:
        pass

    def algorithm_duration(self, seconds: float) -> None:
        pass

    def pod_scheduled(self, attempts: int, since_first_attempt: float | None) -> None:
        pass

    def pod_scheduled_after_flush(self) -> None:
        pass

    def queue_incoming(self, queue: str, event: str) -> None:
        pass

    def preemption_attempt(self) -> None:
        pass

    def preemption_victims(self, count: int) -> None:
        pass

    def eviction(self, result: str) -> None:
        pass

    def bind_failure(self, reason: str) -> None:
        pass

    def api_write(self, kind: str, result: str) -> None:
        pass

    def binding_tasks(self, delta: int) -> None:
        pass

    def permit_wait(self, result: str, seconds: float) -> None:
        pass


NO_METRICS: Final[MetricsRecorder] = NoMetrics()
