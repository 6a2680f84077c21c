"""events.k8s.io/v1 Events, folded into series as client-go's event broadcaster does.

An event isomorphic to one recorded before (same regarding object, action,
reason, reporting controller and note) does not create a new Event object:
the first repeat patches the existing one with ``series`` (count 2 and the
time observed); later repeats only count, and the count reaches the API
server when the series is refreshed (every 30 minutes) or finished (not seen
for 6 minutes), as ``tools/events`` does it. A patch that finds the Event
gone creates it again. Neighbours: :class:`~py_scheduler.kube.adapter.KubeCluster`
records through this; the app runs :meth:`EventRecorder.run` beside the watches.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import structlog

from py_scheduler.cluster import ClusterError, NotFound
from py_scheduler.kube.client import JSON, KubeClient

log = structlog.get_logger("py_scheduler.events")

FINISH_TIME: Final = 6 * 60.0  # a series not observed for this long is finished
REFRESH_TIME: Final = 30 * 60.0  # open series are written this often
MAX_CACHED: Final = 4096

# client-go's eventKey: action, reason, reporting controller, regarding, note.
Key = tuple[str, str, str, tuple[str, str, str, str], str]


def micro_time(at: float | None = None) -> str:
    moment = datetime.fromtimestamp(at, UTC) if at is not None else datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class _Recorded:
    namespace: str
    name: str
    body: JSON  # as created, to create it again if it disappears
    first: float  # monotonic
    count: int = 1  # 1: no series yet
    last_observed: float = 0.0  # wall clock, for series.lastObservedTime
    last_seen: float = 0.0  # monotonic
    written_count: int = 1


class EventRecorder:
    def __init__(self, kube: KubeClient, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.kube = kube
        self.clock = clock
        self._cache: dict[Key, _Recorded] = {}

    async def record(self, body: JSON) -> None:
        """Create the Event, or fold it into the series of an isomorphic one."""
        key = _key(body)
        now = self.clock()
        found = self._cache.get(key)
        if found is None:
            created = await self._create(body)
            if len(self._cache) >= MAX_CACHED:
                self._finish_singletons(force=True)
            self._cache[key] = _Recorded(
                namespace=str(body["metadata"]["namespace"]),
                name=str(created.get("metadata", {}).get("name") or body["metadata"]["name"]),
                body=body,
                first=now,
                last_seen=now,
            )
            return
        found.count += 1
        found.last_observed = time.time()
        found.last_seen = now
        if found.count == 2:
            # The first repeat is written at once; later ones wait for a refresh.
            await self._write_series(found)

    async def run(self) -> None:
        """Refresh open series and finish old ones, as the broadcaster's timers do."""
        last_refresh = self.clock()
        while True:
            await asyncio.sleep(min(FINISH_TIME, REFRESH_TIME))
            await self.flush(refresh=self.clock() - last_refresh >= REFRESH_TIME)
            if self.clock() - last_refresh >= REFRESH_TIME:
                last_refresh = self.clock()

    async def flush(self, *, refresh: bool = False) -> None:
        now = self.clock()
        for key, found in list(self._cache.items()):
            finished = now - found.last_seen >= FINISH_TIME
            if found.count > 1 and (refresh or finished) and found.count != found.written_count:
                try:
                    await self._write_series(found)
                except ClusterError as exc:
                    log.warning("event series not written", event=found.name, error=str(exc))
                    continue
            if finished:
                del self._cache[key]

    def _finish_singletons(self, *, force: bool) -> None:
        for key, found in list(self._cache.items()):
            if found.count == 1 and (force or self.clock() - found.first >= FINISH_TIME):
                del self._cache[key]

    async def _create(self, body: JSON) -> JSON:
        return await self.kube.post(
            f"/apis/events.k8s.io/v1/namespaces/{body['metadata']['namespace']}/events", body
        )

    async def _write_series(self, found: _Recorded) -> None:
        series = {"count": found.count, "lastObservedTime": micro_time(found.last_observed)}
        path = f"/apis/events.k8s.io/v1/namespaces/{found.namespace}/events/{found.name}"
        try:
            await self.kube.patch(path, {"series": series})
        except NotFound:
            # Expired or deleted: record it again, series and all.
            body: dict[str, Any] = {**found.body, "series": series}
            body["metadata"] = {
                **found.body["metadata"],
                "name": f"{found.body['regarding']['name']}.{secrets.token_hex(8)}",
            }
            created = await self._create(body)
            found.name = str(created.get("metadata", {}).get("name") or body["metadata"]["name"])
        found.written_count = found.count


def _key(body: JSON) -> Key:
    regarding = body.get("regarding") or {}
    return (
        str(body.get("action", "")),
        str(body.get("reason", "")),
        str(body.get("reportingController", "")),
        (
            str(regarding.get("kind", "")),
            str(regarding.get("namespace", "")),
            str(regarding.get("name", "")),
            str(regarding.get("uid", "")),
        ),
        str(body.get("note", "")),
    )
