"""Build the scheduling core for a configuration: one Framework per profile
over one shared cache, queue and nominator. Used by the live scheduler and
the simulator alike, so both schedule with the same code; they differ only
in what they pass: the Cluster adapter, the metrics recorder, the outcome
listeners, how a preemptor settles, the API server whose release the plugins
follow (the newest supported release offline), and for ``explain`` the
evaluator and an observer of what each cycle judged."""

from __future__ import annotations

import random
from collections.abc import Sequence

from py_scheduler import config
from py_scheduler.cluster import Cluster
from py_scheduler.config import SchedulerConfig
from py_scheduler.framework.custom_resources import CustomObjects
from py_scheduler.framework.interface import ObjectLister
from py_scheduler.framework.recorder import NO_METRICS, MetricsRecorder
from py_scheduler.framework.runtime import Framework
from py_scheduler.framework.status import Status
from py_scheduler.framework.types import ClusterEventWithHint
from py_scheduler.framework.waiting_pods import Timers, WaitingPods
from py_scheduler.model import PodInfo
from py_scheduler.model.server import OFFLINE, ServerInfo
from py_scheduler.scheduling.algorithm import Algorithm
from py_scheduler.scheduling.cache import Cache
from py_scheduler.scheduling.evaluation import Evaluator
from py_scheduler.scheduling.nominator import Nominator
from py_scheduler.scheduling.observer import CycleObserver
from py_scheduler.scheduling.pod_groups import PodGroupIndex
from py_scheduler.scheduling.queue import SchedulingQueue
from py_scheduler.scheduling.schedule_one import PREEMPTION_IN_FLIGHT, CycleListener, Settle
from py_scheduler.scheduling.scheduler import Scheduler, settle_for_watch
from py_scheduler.scheduling.signatures import filter_signature


def build_scheduler(
    cfg: SchedulerConfig,
    *,
    cluster: Cluster,
    objects: ObjectLister,
    rng: random.Random | None = None,
    recorder: MetricsRecorder = NO_METRICS,
    listeners: Sequence[CycleListener] = (),
    settle: Settle = settle_for_watch,
    evaluator: Evaluator | None = None,
    observer: CycleObserver | None = None,
    server: ServerInfo = OFFLINE,
    timers: Timers | None = None,
) -> Scheduler:
    """``timers`` runs the timeouts of pods held at Permit (the event loop's by default)."""
    rng = rng or random.Random()
    cfg = config.for_release(cfg, server.version)
    cache = Cache()
    pod_groups = PodGroupIndex(cache)
    nominator = Nominator()
    waiting = WaitingPods(timers)
    custom = CustomObjects()
    frameworks = {
        profile.scheduler_name: Framework(
            profile,
            cfg.registry,
            snapshot=cache,
            objects=objects,
            cluster=cluster,
            nominator=nominator,
            recorder=recorder,
            server=server,
            waiting_pods=waiting,
            custom_objects=custom,
            pod_groups=pod_groups,
            filter_signer=filter_signature,
        )
        for profile in cfg.profiles
    }
    first = next(iter(frameworks.values()))

    def pre_enqueue(pod: PodInfo) -> Status:
        fwk = frameworks.get(pod.scheduler_name, first)
        return fwk.run_pre_enqueue(pod)

    events: dict[str, Sequence[ClusterEventWithHint] | None] = {}
    for fwk in frameworks.values():
        events.update(fwk.events_to_register())
    events[PREEMPTION_IN_FLIGHT] = ()  # only activated when its evictions are done
    queue = SchedulingQueue(
        less=first.less,
        pre_enqueue=pre_enqueue,
        events=events,
        initial_backoff=cfg.pod_initial_backoff,
        max_backoff=cfg.pod_max_backoff,
        recorder=recorder,
    )
    algorithm = Algorithm(
        percentage_of_nodes_to_score=cfg.percentage_of_nodes_to_score,
        rng=rng,
        evaluator=evaluator,
        recorder=recorder,
    )
    return Scheduler(
        profiles=frameworks,
        cache=cache,
        queue=queue,
        nominator=nominator,
        algorithm=algorithm,
        recorder=recorder,
        listeners=listeners,
        settle=settle,
        pod_groups=pod_groups,
        observer=observer,
    )
