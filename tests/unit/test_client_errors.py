"""Transport failures reach the core as ClusterError, never as a raw exception."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest
from aiohttp import web
from kubernetes_asyncio import client as k8s_client

from py_scheduler.cluster import Unavailable
from py_scheduler.kube import client
from py_scheduler.kube.client import KubeClient, Settings
from tests.unit.local_http import client_for, serving


class Refusing:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def request(self, *args: Any, **kwargs: Any) -> Refusing:
        return self

    async def __aenter__(self) -> None:
        raise self.exc

    async def __aexit__(self, *exc: object) -> None:
        return None


def client_raising(exc: Exception) -> KubeClient:
    configuration = k8s_client.Configuration()
    configuration.host = "https://127.0.0.1:1"
    kube = KubeClient(configuration)
    kube._session = Refusing(exc)  # type: ignore[assignment]
    return kube


async def test_uvloops_stale_descriptor_is_a_retriable_failure() -> None:
    kube = client_raising(RuntimeError("File descriptor 18 is used by transport <TCPTransport>"))
    with pytest.raises(Unavailable, match="is used by transport"):
        await kube.post("/api/v1/namespaces/a/pods/b/binding", {})


async def test_other_runtime_errors_are_not_hidden() -> None:
    kube = client_raising(RuntimeError("a bug"))
    with pytest.raises(RuntimeError, match="a bug"):
        await kube.get("/api/v1/nodes")


def test_client_sockets_use_tcp_keepalive_and_a_user_timeout() -> None:
    # A peer gone without FIN or RST is noticed in about 15 s, not at the OS
    # defaults (two hours of keepalive silence, minutes of retransmissions).
    sock = client.keepalive_socket((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 1)))
    with sock:
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        idle = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)
        interval = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL)
        probes = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT)
        assert idle + interval * probes <= 15
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 15_000


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(float(request.query.get("delay", "0")))
    return web.json_response({"kind": "Status"})


@pytest.mark.parametrize(
    ("settings_timeout", "call_timeout", "delay"),
    [(0.2, None, 2.0), (30.0, 0.2, 2.0)],
    ids=["client-deadline", "call-deadline"],
)
async def test_a_request_past_its_deadline_is_unavailable(
    settings_timeout: float, call_timeout: float | None, delay: float
) -> None:
    app = web.Application()
    app.router.add_get("/slow", _slow)
    async with serving(app) as host, client_for(host, Settings(timeout=settings_timeout)) as kube:
        started = time.monotonic()
        with pytest.raises(Unavailable, match="timed out"):
            await kube.request("GET", "/slow", params={"delay": str(delay)}, timeout=call_timeout)
        assert time.monotonic() - started < delay
        # The deadline is per request: the next one, quick, succeeds.
        assert await kube.get("/slow") == {"kind": "Status"}
