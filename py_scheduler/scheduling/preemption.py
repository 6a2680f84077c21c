"""Carry out a preemption decided by a PostFilter plugin.

For each victim: mark it with ``DisruptionTarget`` (reason
``PreemptionByScheduler``), emit ``Preempted``, then create a policy/v1
Eviction, so the API server enforces every PodDisruptionBudget. Deleting
directly is used only when the profile opted into it.

- A 429 (a budget would be violated, or its status is not observed yet) is
  not an error: the remaining victims are left alone, the nomination is
  cleared and the preemptor backs off, so its next attempt plans again from
  fresh state.
- A victim is never evicted twice: evictions in flight are tracked, and
  victims already terminating are waited for, not evicted again.
- Lower-priority pods nominated to the same node lose that nomination.
- A victim held at Permit is not evicted: it is preempted in memory (its
  binding cycle unreserves it and it backs off), as upstream does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

import structlog

from py_scheduler.cluster import ClusterError, NotFound, PodCondition, TooManyRequests
from py_scheduler.framework.recorder import MetricsRecorder
from py_scheduler.framework.runtime import Framework
from py_scheduler.framework.waiting_pods import PREEMPTED
from py_scheduler.model import NodeName, PodInfo, PodUID
from py_scheduler.model.pod import DISRUPTION_TARGET, PREEMPTION_BY_SCHEDULER
from py_scheduler.scheduling.nominator import Nominator

log = structlog.get_logger("py_scheduler.preemption")

EVICTION_REFUSED: Final = "EvictionRefused"


class Preemptor:
    def __init__(
        self,
        *,
        nominator: Nominator,
        recorder: MetricsRecorder,
        on_refused: Callable[[PodInfo, PodInfo, str], None],
        on_nomination_cleared: Callable[[PodInfo], None],
    ) -> None:
        self.nominator = nominator
        self.recorder = recorder
        self.on_refused = on_refused
        self.on_nomination_cleared = on_nomination_cleared
        self.in_flight: set[PodUID] = set()
        # Preemptors whose evictions are being issued: not attempted meanwhile,
        # or they would plan again on a node whose victims are not yet leaving.
        self.preempting: set[PodUID] = set()

    def victims_to_evict(self, victims: tuple[PodInfo, ...]) -> list[PodInfo]:
        return [v for v in victims if not v.deleting and v.uid not in self.in_flight]

    async def execute(
        self,
        fwk: Framework,
        preemptor: PodInfo,
        node: NodeName,
        victims: tuple[PodInfo, ...],
        *,
        mode: str,
        plugin: str = "",
    ) -> bool:
        """Evict the victims; False when a budget (or an error) stopped it."""
        todo = self.victims_to_evict(victims)
        self.recorder.preemption_victims(len(victims))
        for victim in todo:
            self.in_flight.add(victim.uid)
        self.preempting.add(preemptor.uid)
        try:
            for victim in todo:
                refusal = await self._evict_one(
                    fwk, preemptor, node, victim, mode=mode, plugin=plugin
                )
                if refusal is not None:
                    self.on_refused(preemptor, victim, refusal)
                    return False
        finally:
            self.preempting.discard(preemptor.uid)
            for victim in todo:
                self.in_flight.discard(victim.uid)
        await self._clear_lower_nominations(fwk, preemptor, node)
        return True

    async def _evict_one(
        self,
        fwk: Framework,
        preemptor: PodInfo,
        node: NodeName,
        victim: PodInfo,
        *,
        mode: str,
        plugin: str,
    ) -> str | None:
        """None once the victim is gone or going; else why it could not be evicted."""
        cluster = fwk.cluster
        message = f"{fwk.profile_name}: preempting to accommodate a higher priority pod"
        waiting = fwk.get_waiting_pod(victim.uid)
        if waiting is not None and waiting.preempt(plugin, PREEMPTED):
            # Held at Permit, so not bound: giving up its room is enough, and it is
            # retried after backoff instead of being deleted (as upstream).
            self.recorder.eviction("evicted")
            log.info(
                "preempted a pod waiting on permit",
                preemptor=preemptor.key,
                victim=victim.key,
                node=node,
            )
            await self._preempted_event(fwk, preemptor, node, victim)
            return None
        try:
            await cluster.patch_pod_status(
                victim,
                condition=PodCondition(DISRUPTION_TARGET, "True", PREEMPTION_BY_SCHEDULER, message),
                nominated_node=None,
            )
            if mode == "Delete":
                await cluster.delete(victim)
            else:
                await cluster.evict(victim)
        except NotFound:
            self.recorder.eviction("not_found")
            return None  # already gone: that is what we wanted
        except TooManyRequests as exc:
            self.recorder.eviction("refused_by_pdb")
            log.info(
                "eviction refused; preemptor backs off and plans again",
                preemptor=preemptor.key,
                victim=victim.key,
                node=node,
                reason=str(exc),
            )
            await self._withdraw_mark(fwk, victim, str(exc))
            return _api_message(str(exc))
        except ClusterError as exc:
            self.recorder.eviction("error")
            log.warning(
                "eviction failed", preemptor=preemptor.key, victim=victim.key, error=str(exc)
            )
            return _api_message(str(exc))
        self.recorder.eviction("evicted")
        log.info("evicted preemption victim", preemptor=preemptor.key, victim=victim.key, node=node)
        await self._preempted_event(fwk, preemptor, node, victim)
        return None

    async def _preempted_event(
        self, fwk: Framework, preemptor: PodInfo, node: NodeName, victim: PodInfo
    ) -> None:
        try:
            await fwk.cluster.record_event(
                victim,
                type="Normal",
                reason="Preempted",
                action="Preempting",
                note=f"Preempted by pod {preemptor.uid} on node {node}",
                reporting_controller=fwk.profile_name,
            )
        except ClusterError as exc:
            log.debug("preempted event not written", victim=victim.key, error=str(exc))

    async def _withdraw_mark(self, fwk: Framework, victim: PodInfo, reason: str) -> None:
        # The victim stays: say so, rather than leave a stale DisruptionTarget=True.
        try:
            await fwk.cluster.patch_pod_status(
                victim,
                condition=PodCondition(DISRUPTION_TARGET, "False", EVICTION_REFUSED, reason[:500]),
                nominated_node=None,
            )
        except ClusterError as exc:
            log.debug("could not withdraw DisruptionTarget", victim=victim.key, error=str(exc))

    async def _clear_lower_nominations(
        self, fwk: Framework, preemptor: PodInfo, node: NodeName
    ) -> None:
        lower = [
            p
            for p in self.nominator.nominated_pods_for(node)
            if p.priority < preemptor.priority and p.uid != preemptor.uid
        ]
        for pod in lower:
            self.nominator.remove(pod)
            self.on_nomination_cleared(pod)
        await asyncio.gather(
            *(fwk.cluster.patch_pod_status(p, condition=None, nominated_node="") for p in lower),
            return_exceptions=True,
        )


def _api_message(text: str) -> str:
    # "POST /api/v1/...: 429 Cannot evict pod ..." -> the server's own words.
    _, _, tail = text.partition(": ")
    status, _, message = tail.partition(" ")
    return message if status.isdigit() and message else text
