"""Leader election on a ``coordination.k8s.io/v1`` Lease, as client-go does it.

- Acquire: create the Lease, or take it over once the holder has not renewed
  for ``leaseDuration``. Expiry is judged by when *we* last saw the record
  change, never by comparing the holder's timestamps with our clock, so clock
  skew between replicas cannot cause two leaders.
- Renew every ``retryPeriod``; if no renewal succeeds within
  ``renewDeadline`` the lease is lost and ``lead`` returns: the caller stops
  scheduling at once (and exits, as kube-scheduler does).
- Every write is a PUT with the resourceVersion read: a 409 means someone
  else wrote first, and we re-read.
- On clean shutdown the lease is released (empty holder, 1 s duration), so a
  standby takes over in about one retry period instead of a lease duration.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from py_scheduler import metrics
from py_scheduler.cluster import ClusterError, Conflict, NotFound
from py_scheduler.kube.client import JSON, KubeClient

log = structlog.get_logger("py_scheduler.election")

# How long past renewDeadline a leader that stopped renewing stays healthy
# (client-go's HealthzAdaptor default).
HEALTHZ_SLACK = 20.0


def _micro_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class ElectionConfig:
    name: str
    namespace: str
    identity: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


class LeaderElector:
    def __init__(
        self,
        kube: KubeClient,
        cfg: ElectionConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kube = kube
        self.cfg = cfg
        self.clock = clock
        self.path = f"/apis/coordination.k8s.io/v1/namespaces/{cfg.namespace}/leases/{cfg.name}"
        self.is_leader = False
        self.last_renew = 0.0
        self._observed: JSON | None = None
        self._observed_at = 0.0
        self._observed_key: tuple[Any, ...] | None = None
        self._master_status = metrics.LEADER_ELECTION_MASTER_STATUS.labels(cfg.name)
        self._master_status.set(0)

    # -- public ---------------------------------------------------------------------

    async def lead(self, work: Callable[[], Coroutine[Any, Any, None]]) -> bool:
        """Acquire the lease, run ``work`` while holding it; True if work finished.

        Returns False when the lease was lost (``work`` is cancelled first).
        """
        await self._acquire()
        self.is_leader = True
        metrics.LEADER.set(1)
        self._master_status.set(1)
        log.info(
            "became leader",
            lease=f"{self.cfg.namespace}/{self.cfg.name}",
            identity=self.cfg.identity,
        )
        worker = asyncio.create_task(work(), name="leader work")
        renewer = asyncio.create_task(self._renew_loop(), name="lease renewal")
        try:
            done, _ = await asyncio.wait({worker, renewer}, return_when=asyncio.FIRST_COMPLETED)
            if worker in done:
                worker.result()  # re-raise a failure of the work itself
                return True
            log.error("leader lease lost; stopping", identity=self.cfg.identity)
            return False
        finally:
            for task in (worker, renewer):
                task.cancel()
            await asyncio.gather(worker, renewer, return_exceptions=True)
            self.is_leader = False
            metrics.LEADER.set(0)
            self._master_status.set(0)

    def leading(self) -> bool:
        """Leader, and renewed within renewDeadline: checked before every
        scheduling cycle and bind, so a replica that was paused (SIGSTOP, a
        long GC, a frozen VM) does no work on a lease it may have lost."""
        return self.is_leader and self.clock() - self.last_renew < self.cfg.renew_deadline

    def healthy(self) -> bool:
        """The /healthz watchdog: a leader must have renewed recently."""
        if not self.is_leader:
            return True
        return self.clock() - self.last_renew <= self.cfg.renew_deadline + HEALTHZ_SLACK

    async def release(self) -> None:
        """Give the lease up if we hold it, so a standby can take over at once."""
        try:
            lease = await self.kube.get(self.path)
        except ClusterError as exc:
            log.warning("could not read lease to release it", error=str(exc))
            return
        spec = lease.get("spec", {})
        if spec.get("holderIdentity") != self.cfg.identity:
            return
        lease["spec"] = {
            **spec,
            "holderIdentity": None,
            "leaseDurationSeconds": 1,
            "renewTime": _micro_now(),
        }
        try:
            await self.kube.put(self.path, lease)
            log.info("released leader lease", identity=self.cfg.identity)
        except ClusterError as exc:
            log.warning("could not release lease", error=str(exc))

    # -- internals --------------------------------------------------------------------

    async def _acquire(self) -> None:
        while True:
            try:
                if await self._try_acquire_or_renew():
                    return
            except ClusterError as exc:
                log.warning("lease acquisition failed", error=str(exc))
            await asyncio.sleep(self.cfg.retry_period)

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.retry_period)
            deadline = self.last_renew + self.cfg.renew_deadline
            while True:
                try:
                    async with asyncio.timeout(max(0.1, deadline - self.clock())):
                        if await self._try_acquire_or_renew():
                            break
                except (ClusterError, TimeoutError) as exc:
                    log.warning("lease renewal failed", error=str(exc) or "timed out")
                if self.clock() >= deadline:
                    return  # lost
                await asyncio.sleep(min(self.cfg.retry_period, max(0.0, deadline - self.clock())))

    async def _try_acquire_or_renew(self) -> bool:
        now_micro = _micro_now()
        try:
            lease = await self.kube.get(self.path)
        except NotFound:
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.cfg.name, "namespace": self.cfg.namespace},
                "spec": self._spec(now_micro, acquire=now_micro, transitions=0),
            }
            try:
                await self.kube.post(
                    f"/apis/coordination.k8s.io/v1/namespaces/{self.cfg.namespace}/leases", body
                )
            except Conflict:
                return False
            self._renewed()
            return True
        spec = lease.get("spec", {})
        self._observe(spec)
        holder = spec.get("holderIdentity") or ""
        mine = holder == self.cfg.identity
        if holder and not mine:
            duration = float(spec.get("leaseDurationSeconds") or self.cfg.lease_duration)
            if self.clock() < self._observed_at + duration:
                return False  # held by another replica, still fresh
        transitions = int(spec.get("leaseTransitions") or 0)
        lease["spec"] = self._spec(
            now_micro,
            acquire=spec.get("acquireTime") if mine else now_micro,
            transitions=transitions if mine else transitions + 1,
        )
        try:
            await self.kube.put(self.path, lease)
        except Conflict:
            return False
        self._renewed()
        return True

    def _spec(self, now: str, *, acquire: object, transitions: int) -> JSON:
        return {
            "holderIdentity": self.cfg.identity,
            "leaseDurationSeconds": int(self.cfg.lease_duration),
            "acquireTime": acquire,
            "renewTime": now,
            "leaseTransitions": transitions,
        }

    def _observe(self, spec: JSON) -> None:
        key = (spec.get("holderIdentity"), spec.get("renewTime"), spec.get("leaseTransitions"))
        if key != self._observed_key:
            self._observed_key = key
            self._observed_at = self.clock()

    def _renewed(self) -> None:
        self.last_renew = self.clock()
        self._observed_key = None
