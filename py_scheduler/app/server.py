"""HTTP endpoints: ``/metrics``, ``/livez``, ``/readyz``, ``/healthz``, and
``/debug/pods`` (:mod:`.debug`).

As kube-scheduler's secure port: HTTPS, and every path but the probes needs
a bearer token that a ``TokenReview`` accepts and a ``SubjectAccessReview``
allows for the path (``get`` on the non-resource URL ``/metrics``, or
``/debug/pods/NAMESPACE/NAME``, which a role grants as ``/debug/pods/*``); no token
is 401, a token without the permission 403. ``/healthz``, ``/livez`` and
``/readyz`` stay anonymous, as ``--authorization-always-allow-paths`` leaves
them. Plain HTTP without any check is an explicit opt-in (``--plain-http``)
for development.

``/livez`` says the event loop answers and the API server answered within
``api_timeout`` (watches restart every ~10 s, so silence that long means this
replica is cut off or stuck, and a restart may help). ``/readyz`` also needs
the caches synced and the process not shutting down; ``/healthz`` adds the
leader-election watchdog (a leader that could not renew in time is unhealthy).

The server shares the scheduling loop, so its cost is bounded: at most
``MAX_CONNECTIONS`` connections (the oldest is closed to make room, so idle
ones cannot lock scrapers out), short keep-alive and handshake timeouts, and
``/metrics`` rendered at most once per ``METRICS_CACHE`` seconds per format,
however many scrapers ask.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import REGISTRY
from prometheus_client.aiohttp import make_aiohttp_handler

from py_scheduler.cluster import ClusterError
from py_scheduler.kube.delegation import Delegation

log = structlog.get_logger("py_scheduler.server")

ALWAYS_ALLOWED: Final = frozenset({"/healthz", "/livez", "/readyz"})
MAX_CONNECTIONS: Final = 64
KEEPALIVE_TIMEOUT: Final = 15.0
HANDSHAKE_TIMEOUT: Final = 10.0
METRICS_CACHE: Final = 1.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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


def _delegated(auth: Delegation) -> Middleware:
    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in ALWAYS_ALLOWED:
            return await handler(request)
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return web.Response(status=401, text="Unauthorized")
        verb = "get" if request.method in ("GET", "HEAD") else request.method.lower()
        try:
            user = await auth.authenticate(token.strip())
            if user is None:
                return web.Response(status=401, text="Unauthorized")
            allowed, reason = await auth.authorize(user, verb=verb, path=request.path)
        except ClusterError as exc:
            log.warning("delegated authentication or authorization failed", error=str(exc))
            return web.Response(status=503, text="cannot check the request with the API server")
        if not allowed:
            text = f'forbidden: User "{user.name}" cannot {verb} path "{request.path}"'
            return web.Response(status=403, text=f"{text}: {reason}" if reason else text)
        return await handler(request)

    return check


def _metrics_handler() -> Handler:
    """prometheus-client's handler (content negotiation, gzip), rendered at most
    once per METRICS_CACHE seconds for each Accept header."""
    render = make_aiohttp_handler(REGISTRY, disable_compression=True)
    cache: dict[str, tuple[float, int, dict[str, str], bytes]] = {}

    async def metrics(request: web.Request) -> web.StreamResponse:
        accept = request.headers.get("Accept", "")
        now = time.monotonic()
        hit = cache.get(accept)
        if hit is None or now - hit[0] > METRICS_CACHE:
            fresh = await render(request)
            assert isinstance(fresh, web.Response)
            body = fresh.body
            assert isinstance(body, bytes)
            hit = (now, fresh.status, dict(fresh.headers), body)
            cache[accept] = hit
        response = web.Response(status=hit[1], headers=hit[2], body=hit[3])
        response.enable_compression()
        return response

    return metrics


def make_app(
    health: Health, auth: Delegation | None = None, extra: Sequence[web.RouteDef] = ()
) -> web.Application:
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

    app = web.Application(middlewares=[_delegated(auth)] if auth is not None else [])
    app.router.add_get("/metrics", _metrics_handler())
    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/healthz", healthz)
    # More routes (``/debug/pods``, app.debug): the same application, so the
    # same checks as /metrics apply to them.
    app.router.add_routes(extra)
    return app


class BoundedSite(web.BaseSite):
    """A TCP site that keeps at most ``limit`` connections, closing the oldest
    to make room for a new one."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None,
        limit: int = MAX_CONNECTIONS,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context)
        self.host, self.port, self.limit = host, port, limit

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://{self.host}:{self.port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None

        def connection() -> asyncio.BaseProtocol:
            open_now = server.connections  # oldest first; aiohttp drops closed ones
            for oldest in open_now[: max(0, len(open_now) - self.limit + 1)]:
                oldest.force_close()
                if oldest.transport is not None:
                    oldest.transport.close()
            return server()

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            connection,
            self.host,
            self.port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=True,
            ssl_handshake_timeout=HANDSHAKE_TIMEOUT if self._ssl_context else None,
        )
