"""HTTP endpoints: ``/metrics``, ``/livez``, ``/readyz``, ``/healthz``, and
``/debug/pods`` (:mod:`.debug`).

``/livez`` only says the event loop answers. ``/readyz`` also needs the
caches synced and the process not shutting down; ``/healthz`` adds the
leader-election watchdog (a leader that could not renew in time is unhealthy).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest


@dataclass
class Health:
    synced: Callable[[], bool] = lambda: False
    leader_ok: Callable[[], bool] = lambda: True
    shutting_down: bool = False
    reasons: list[str] = field(default_factory=list)

    def ready(self) -> tuple[bool, str]:
        if self.shutting_down:
            return False, "shutting down"
        if not self.synced():
            return False, "caches not synced"
        return True, "ok"


def make_app(health: Health, extra: Sequence[web.RouteDef] = ()) -> web.Application:
    async def metrics(_: web.Request) -> web.Response:
        body = generate_latest(REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def livez(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(_: web.Request) -> web.Response:
        ok, reason = health.ready()
        return web.Response(text=reason, status=200 if ok else 503)

    async def healthz(_: web.Request) -> web.Response:
        if not health.leader_ok():
            return web.Response(text="leader election: lease not renewed in time", status=503)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/healthz", healthz)
    # More routes (``/debug/pods``, app.debug): the same application, so the
    # same checks as /metrics apply to them.
    app.router.add_routes(extra)
    return app
