"""Every Prometheus metric, defined once, with kube-scheduler's names, types,
labels and buckets, so kubernetes-mixin's scheduler dashboard and alerts work
unchanged. That includes client-go's component metrics (API requests, leader
election), recorded by the kube layer. Our own additions carry the
``py_scheduler_`` prefix.

``PrometheusRecorder`` is how the scheduling core reaches them: it reports
through the ``MetricsRecorder`` protocol (``framework.recorder``) and never
imports this module. Queue and cache sizes are read at scrape time (a collector), not updated on
every transition, to keep the hot path free of metric calls.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Final, TypeVar

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector

# kube-scheduler exposes no *_created series; neither do we (halves the counters' lines).
disable_created_metrics()  # type: ignore[no-untyped-call]


def exponential(start: float, factor: float, count: int) -> list[float]:
    return [start * factor**i for i in range(count)]


SCHEDULE_ATTEMPTS: Final = Counter(
    "scheduler_schedule_attempts",
    "Number of attempts to schedule pods, by the result.",
    ["result", "profile"],
)
SCHEDULING_ATTEMPT_DURATION: Final = Histogram(
    "scheduler_scheduling_attempt_duration_seconds",
    "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
    ["result", "profile"],
    buckets=exponential(0.001, 2, 15),
)
SCHEDULING_ALGORITHM_DURATION: Final = Histogram(
    "scheduler_scheduling_algorithm_duration_seconds",
    "Scheduling algorithm latency in seconds",
    buckets=exponential(0.001, 2, 15),
)
POD_SCHEDULING_SLI_DURATION: Final = Histogram(
    "scheduler_pod_scheduling_sli_duration_seconds",
    "E2e latency for a pod being scheduled, from the time the pod enters the scheduling "
    "queue and might involve multiple scheduling attempts.",
    ["attempts"],
    buckets=exponential(0.01, 2, 20),
)
POD_SCHEDULING_ATTEMPTS: Final = Histogram(
    "scheduler_pod_scheduling_attempts",
    "Number of attempts to successfully schedule a pod.",
    buckets=exponential(1, 2, 5),
)
# kube-scheduler 1.36: a pod bound after the 5-minute unschedulable flush, not an
# event, sent it back to be tried (a hint to look for a missing queueing hint).
POD_SCHEDULED_AFTER_FLUSH: Final = Counter(
    "scheduler_pod_scheduled_after_flush",
    "Number of pods that were successfully scheduled after being flushed from "
    "unschedulableEntities due to timeout. This metric helps detect potential queueing "
    "hint misconfigurations or event handling issues.",
)
QUEUE_INCOMING_PODS: Final = Counter(
    "scheduler_queue_incoming_pods",
    "Number of pods added to scheduling queues by event and queue type.",
    ["queue", "event"],
)
# kube-scheduler 1.37 counts scheduling entities besides pods; every entity of
# py-scheduler is a pod on its own (type "pod"), never a pod group.
QUEUE_INCOMING_ENTITIES: Final = Counter(
    "scheduler_queue_incoming_entities",
    "Number of scheduling entities added to scheduling queues by event, queue type, and entity "
    "type. Entity types are either 'pod' (for individual pods that are not members of any "
    "podgroup) or 'podgroup'.",
    ["queue", "event", "type"],
)
ENTITY_POD: Final = "pod"
PREEMPTION_ATTEMPTS: Final = Counter(
    "scheduler_preemption_attempts", "Total preemption attempts in the cluster till now"
)
PREEMPTION_VICTIMS: Final = Histogram(
    "scheduler_preemption_victims",
    "Number of selected preemption victims for preemption initiated by a single pod",
    buckets=exponential(1, 2, 7),
)
FRAMEWORK_EXTENSION_POINT_DURATION: Final = Histogram(
    "scheduler_framework_extension_point_duration_seconds",
    "Latency for running all plugins of a specific extension point.",
    ["extension_point", "status", "profile"],
    buckets=exponential(0.0001, 2, 12),
)
PLUGIN_EXECUTION_DURATION: Final = Histogram(
    "scheduler_plugin_execution_duration_seconds",
    "Duration for running a plugin at a specific extension point.",
    ["plugin", "extension_point", "status"],
    buckets=exponential(0.00001, 1.5, 20),
)
PERMIT_WAIT_DURATION: Final = Histogram(
    "scheduler_permit_wait_duration_seconds",
    "Duration of waiting on permit.",
    ["result"],
    buckets=exponential(0.001, 2, 15),
)
GOROUTINES: Final = Gauge(
    "scheduler_goroutines",
    "Number of running asyncio tasks split by the work they do such as binding.",
    ["operation"],
)
# client-go's (k8s.io/client-go/tools/metrics, tools/leaderelection).
REST_CLIENT_REQUESTS: Final = Counter(
    "rest_client_requests",
    "Number of HTTP requests, partitioned by status code, method, and host.",
    ["code", "method", "host"],
)
REST_CLIENT_REQUEST_DURATION: Final = Histogram(
    "rest_client_request_duration_seconds",
    "Request latency in seconds. Broken down by verb, and host.",
    ["verb", "host"],
    buckets=[0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0],
)
LEADER_ELECTION_MASTER_STATUS: Final = Gauge(
    "leader_election_master_status",
    "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, "
    "1 indicates master. 'name' is the string used to identify the lease. Please make sure "
    "to group by name.",
    ["name"],
)
# Our own.
EVICTIONS: Final = Counter(
    "py_scheduler_evictions",
    "Evictions of preemption victims through the Eviction API, by result "
    "(evicted, refused_by_pdb, not_found, error).",
    ["result"],
)
BIND_FAILURES: Final = Counter("py_scheduler_bind_failures", "Failed binds, by reason.", ["reason"])
LEADER: Final = Gauge("py_scheduler_leader", "1 while this replica holds the leader lease, else 0.")
UNQUEUED_PENDING_PODS: Final = Gauge(
    "py_scheduler_unqueued_pending_pods",
    "Pending pods of this scheduler that neither the scheduling queue nor the binder knew at "
    "the last sweep (each was requeued). Non-zero means the scheduler lost track of pods.",
)
REQUEUED_BY_SWEEP: Final = Counter(
    "py_scheduler_requeued_by_sweep",
    "Pending pods of this scheduler that the periodic sweep found unknown to the queue and "
    "requeued.",
)
INVALID_PODS: Final = Gauge(
    "py_scheduler_invalid_pods",
    "Pending pods of this scheduler that cannot be decoded; each carries PodScheduled=False "
    "(SchedulerError) naming the field.",
)
API_WRITES: Final = Counter(
    "py_scheduler_api_writes",
    "API writes the scheduler made besides binds (events, status patches), by kind and result.",
    ["kind", "result"],
)


class _SizeCollector(Collector):
    """scheduler_pending_pods and scheduler_cache_size, read when scraped."""

    def __init__(self) -> None:
        self.queue_sizes: Callable[[], Mapping[str, int]] | None = None
        self.cache_sizes: Callable[[], Mapping[str, int]] | None = None
        # (plugin, profile) -> pods in the unschedulable pool that plugin rejected
        self.unschedulable: Callable[[], Mapping[tuple[str, str], int]] | None = None
        # Gang scheduling: pod groups by state, and admission rounds by result.
        self.pod_groups: Callable[[], Mapping[str, int]] | None = None
        self.pod_group_rounds: Callable[[], Mapping[str, int]] | None = None

    def collect(self) -> Iterable[Metric]:
        pending = GaugeMetricFamily(
            "scheduler_pending_pods",
            "Number of pending pods, by the queue type. 'active' means number of pods in "
            "activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means number "
            "of pods in unschedulablePods that the scheduler attempted to schedule and failed; "
            "'gated' is the number of unschedulable pods that the scheduler never attempted to "
            "schedule because they are gated.",
            labels=["queue"],
        )
        entities = GaugeMetricFamily(
            "scheduler_queued_entities",
            "Number of queued scheduling entities ('pod' or 'podgroup'; 'pod' stands for "
            "individual pods that are not members of any podgroup) by the queue type. 'active' "
            "means number of entities in activeQ; 'backoff' means number of entities in "
            "backoffQ; 'unschedulable' means number of entities in unschedulableEntities that "
            "the scheduler attempted to schedule and failed; 'gated' is the number of "
            "unschedulable entities that the scheduler never attempted to schedule because they "
            "are gated.",
            labels=["queue", "type"],
        )
        for queue, size in (self.queue_sizes() if self.queue_sizes else {}).items():
            pending.add_metric([queue], size)
            entities.add_metric([queue, ENTITY_POD], size)
        yield pending
        yield entities
        cache = GaugeMetricFamily(
            "scheduler_cache_size",
            "Number of nodes, pods, and assumed (bound) pods in the scheduler cache.",
            labels=["type"],
        )
        for kind, size in (self.cache_sizes() if self.cache_sizes else {}).items():
            cache.add_metric([kind], size)
        yield cache
        unschedulable = GaugeMetricFamily(
            "scheduler_unschedulable_pods",
            "The number of unschedulable pods broken down by plugin name. A pod will increment "
            "the gauge for all plugins that caused it to not schedule and so this metric have "
            "meaning only when broken down by plugin.",
            labels=["plugin", "profile"],
        )
        for (plugin, profile), count in (
            self.unschedulable() if self.unschedulable else {}
        ).items():
            unschedulable.add_metric([plugin, profile], count)
        yield unschedulable
        groups = GaugeMetricFamily(
            "py_scheduler_pod_groups",
            "Pod groups (gangs) by state: 'incomplete' has fewer members than its quorum, "
            "'pending' enough members not yet placed, 'waiting' members held at Permit for "
            "the rest, 'scheduled' at least its quorum bound.",
            labels=["state"],
        )
        for state, count in (self.pod_groups() if self.pod_groups else {}).items():
            groups.add_metric([state], count)
        yield groups
        rounds = CounterMetricFamily(
            "py_scheduler_pod_group_rounds",
            "Gang admission rounds by result: 'allowed' let a quorum of members bind "
            "together, 'released' gave every waiting member's room back (a member did not "
            "fit, a timeout, a deleted group).",
            labels=["result"],
        )
        for result, count in (self.pod_group_rounds() if self.pod_group_rounds else {}).items():
            rounds.add_metric([result], count)
        yield rounds


SIZES: Final = _SizeCollector()
REGISTRY.register(SIZES)

# (shape, source, requests, pods that fit), free and stranded room per resource.
CapacityFigures = tuple[
    Iterable[tuple[str, str, str, int]], Mapping[str, float], Mapping[str, float]
]


class _ExplainCollector(Collector):
    """The diagnosis store's size and the capacity gauges, read when scraped."""

    def __init__(self) -> None:
        self.diagnoses: Callable[[], tuple[int, int]] | None = None  # (pods, bytes)
        self.capacity: Callable[[], CapacityFigures] | None = None

    def collect(self) -> Iterable[Metric]:
        # Every family always, empty until the app wires its source: the
        # dashboard checks see what a running scheduler exports.
        diagnoses = GaugeMetricFamily(
            "py_scheduler_diagnoses",
            "Pending pods whose last diagnosis the scheduler keeps (served on /debug/pods).",
            labels=[],
        )
        size = GaugeMetricFamily(
            "py_scheduler_diagnoses_bytes",
            "Memory the kept diagnoses take (compressed JSON), bounded by --diagnoses-max-bytes.",
            labels=[],
        )
        if self.diagnoses is not None:
            count, used = self.diagnoses()
            diagnoses.add_metric([], count)
            size.add_metric([], used)
        yield diagnoses
        yield size
        pods = GaugeMetricFamily(
            "py_scheduler_capacity_pods",
            "How many more pods of a shape fit on the schedulable nodes now (resources and "
            "pod slots only), by shape: configured ones (--capacity-shape) and the most "
            "common among pending pods.",
            labels=["shape", "source", "requests"],
        )
        free_family = GaugeMetricFamily(
            "py_scheduler_capacity_free",
            "Free allocatable on schedulable nodes, by resource (cpu in cores, others in units).",
            labels=["resource"],
        )
        stranded_family = GaugeMetricFamily(
            "py_scheduler_capacity_stranded",
            "Free allocatable on schedulable nodes where no listed shape fits (fragmentation), "
            "by resource (cpu in cores, others in units).",
            labels=["resource"],
        )
        if self.capacity is not None:
            fits, free, stranded = self.capacity()
            for shape, source, requests, count in fits:
                pods.add_metric([shape, source, requests], count)
            for resource, amount in free.items():
                free_family.add_metric([resource], amount)
            for resource, amount in stranded.items():
                stranded_family.add_metric([resource], amount)
        yield pods
        yield free_family
        yield stranded_family


EXPLAIN: Final = _ExplainCollector()
REGISTRY.register(EXPLAIN)


_M = TypeVar("_M", Counter, Gauge, Histogram)


@functools.cache
def _child(metric: _M, *values: str) -> _M:
    """``metric.labels(*values)``, remembered: every label set here is bounded, and
    ``labels`` validates and locks on each call, several times per scheduled pod."""
    return metric.labels(*values)


def observe_request(method: str, host: str, code: int, seconds: float) -> None:
    """One API request, as client-go counts it: code "<error>" when no response came."""
    _child(REST_CLIENT_REQUESTS, str(code) if code else "<error>", method, host).inc()
    _child(REST_CLIENT_REQUEST_DURATION, method, host).observe(seconds)


class PrometheusRecorder:
    """The scheduling core's ``MetricsRecorder`` over the metrics above."""

    def extension_point(self, point: str, status: str, profile: str, seconds: float) -> None:
        _child(FRAMEWORK_EXTENSION_POINT_DURATION, point, status, profile).observe(seconds)

    def plugin_execution(self, plugin: str, point: str, status: str, seconds: float) -> None:
        _child(PLUGIN_EXECUTION_DURATION, plugin, point, status).observe(seconds)

    def schedule_attempt(self, result: str, profile: str, seconds: float) -> None:
        _child(SCHEDULE_ATTEMPTS, result, profile).inc()
        _child(SCHEDULING_ATTEMPT_DURATION, result, profile).observe(seconds)

    def algorithm_duration(self, seconds: float) -> None:
        SCHEDULING_ALGORITHM_DURATION.observe(seconds)

    def pod_scheduled(self, attempts: int, since_first_attempt: float | None) -> None:
        POD_SCHEDULING_ATTEMPTS.observe(attempts)
        if since_first_attempt is not None:
            label = str(attempts) if attempts < 15 else "15+"
            _child(POD_SCHEDULING_SLI_DURATION, label).observe(since_first_attempt)

    def pod_scheduled_after_flush(self) -> None:
        POD_SCHEDULED_AFTER_FLUSH.inc()

    def queue_incoming(self, queue: str, event: str) -> None:
        # Every py-scheduler entity is a pod, and every push changes its queue, which is
        # when kube-scheduler 1.37 counts an incoming entity.
        _child(QUEUE_INCOMING_PODS, queue, event).inc()
        _child(QUEUE_INCOMING_ENTITIES, queue, event, ENTITY_POD).inc()

    def preemption_attempt(self) -> None:
        PREEMPTION_ATTEMPTS.inc()

    def preemption_victims(self, count: int) -> None:
        PREEMPTION_VICTIMS.observe(count)

    def eviction(self, result: str) -> None:
        _child(EVICTIONS, result).inc()

    def bind_failure(self, reason: str) -> None:
        _child(BIND_FAILURES, reason).inc()

    def api_write(self, kind: str, result: str) -> None:
        _child(API_WRITES, kind, result).inc()

    def binding_tasks(self, delta: int) -> None:
        _child(GOROUTINES, "binding").inc(delta)

    def permit_wait(self, result: str, seconds: float) -> None:
        _child(PERMIT_WAIT_DURATION, result).observe(seconds)


def initialise(profiles: Iterable[str]) -> None:
    """Create every known label set at zero, so dashboards and alerts see a
    series (and rates of 0) before the first event of each kind."""
    for profile in profiles:
        for result in ("scheduled", "unschedulable", "error"):
            SCHEDULE_ATTEMPTS.labels(result, profile)
            SCHEDULING_ATTEMPT_DURATION.labels(result, profile)
    for result in ("evicted", "refused_by_pdb", "not_found", "error"):
        EVICTIONS.labels(result)
    for reason in ("Conflict", "NotFound", "Error", "Unschedulable"):
        BIND_FAILURES.labels(reason)
    GOROUTINES.labels("binding")
    for result in ("Success", "Unschedulable", "Error"):
        PERMIT_WAIT_DURATION.labels(result)
    for kind in ("event", "pod_status"):
        for result in ("ok", "not_found", "error"):
            API_WRITES.labels(kind, result)
