"""HTTP endpoints: ``/metrics``, ``/livez``, ``/readyz``, ``/healthz``.

``/livez`` says the event loop answers and the API server answered within
``api_timeout`` (watches restart every ~10 s, so silence that long means this
replica is cut off or stuck, and a restart may help). ``/readyz`` also needs the
caches synced and the process not shutting down; ``/healthz`` adds the
leader-election watchdog (a leader that could not renew in time is unhealthy).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest


@dataclass
class Health:
    synced: Callable[[], bool] = lambda: False
    leader_ok: Callable[[], bool] = lambda: True
    # Seconds since the API server last answered; /livez fails past api_timeout.
    api_silence: Callable[[], float] = lambda: 0.0
    api_timeout: float = 120.0
    shutting_down: bool = False
    reasons: list[str] = field(default_factory=list)

    def live(self) -> tuple[bool, str]:
        silence = self.api_silence()
        if silence > self.api_timeout:
            return False, f"no answer from the API server for {silence:.0f}s"
        return True, "ok"

    def ready(self) -> tuple[bool, str]:
        if self.shutting_down:
            return False, "shutting down"
        if not self.synced():
            return False, "caches not synced"
        return True, "ok"


def make_app(health: Health) -> web.Application:
    async def metrics(_: web.Request) -> web.Response:
        body = generate_latest(REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def livez(_: web.Request) -> web.Response:
        ok, reason = health.live()
        return web.Response(text=reason, status=200 if ok else 503)

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
    return app
