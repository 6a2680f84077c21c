"""Read the API server's release and served API versions once, at start-up.

``/version``, ``/api`` and ``/apis`` are readable by every authenticated client
(the ``system:discovery`` role), so discovery needs no RBAC of its own. The answer
becomes a :class:`py_scheduler.model.server.ServerInfo`, plain data that the rest
of the scheduler consults where Kubernetes releases differ (docs/releases.md).
An unreachable or overloaded server is retried with a capped backoff, like the
watches in :mod:`py_scheduler.kube.watches`; an answer that cannot be decoded, or
a refusal, is an error for the caller; :func:`read` is one attempt.
"""

from __future__ import annotations

import asyncio
import random
from typing import Final

import structlog

from py_scheduler.cluster import ClusterError, TooManyRequests, Unavailable
from py_scheduler.kube.client import KubeClient
from py_scheduler.model.raw import DecodeError
from py_scheduler.model.server import NEWEST, OLDEST, ServerInfo, decode_server_info, supported

log = structlog.get_logger("py_scheduler.discovery")

BACKOFF_START: Final = 0.5
# As the watches' (kube/watches.py): a scheduler started during an outage is
# up within seconds of the API server answering again.
BACKOFF_MAX: Final = 5.0


class DiscoveryError(ClusterError):
    """The server refused discovery or answered something that is not discovery."""


async def discover(kube: KubeClient) -> ServerInfo:
    """The server's release and served group versions; waits out unavailability."""
    delay = BACKOFF_START
    while True:
        try:
            info = await read(kube)
        except (Unavailable, TooManyRequests) as exc:
            log.warning("discovery failed; retrying", error=str(exc), delay=delay)
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, BACKOFF_MAX)
            continue
        log.info(
            "API server discovered",
            version=str(info.version),
            group_versions=len(info.group_versions),
        )
        if not supported(info.version):
            # Scheduling goes on: every branch on the release follows the nearest one.
            log.warning(
                "API server release outside the supported range; following the nearest",
                version=str(info.version),
                supported=f"{OLDEST.major}.{OLDEST.minor}-{NEWEST.major}.{NEWEST.minor}",
            )
        return info


async def read(kube: KubeClient) -> ServerInfo:
    """One attempt, for a command that reports an unreachable server rather than
    waiting for it (``py-scheduler explain``)."""
    version, core, groups = await asyncio.gather(
        kube.get("/version"), kube.get("/api"), kube.get("/apis")
    )
    try:
        return decode_server_info(version=version, core=core, groups=groups)
    except DecodeError as exc:
        raise DiscoveryError(f"API discovery answered something unexpected: {exc}") from exc
