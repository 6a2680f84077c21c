"""client-go's API request metrics, as the kube client records them.

We test these aspects, against a small HTTP server on 127.0.0.1:
- rest_client_requests_total counts each request by code, method and host; a request
  that got no response counts as code "<error>";
- rest_client_request_duration_seconds observes each request by verb and host;
- a watch counts once, when its response starts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from prometheus_client.registry import REGISTRY

from py_scheduler.cluster import NotFound, Unavailable
from tests.unit.local_http import client_for, serving


def requests(code: str, method: str, host: str) -> float:
    value = REGISTRY.get_sample_value(
        "rest_client_requests_total", {"code": code, "method": method, "host": host}
    )
    return value or 0.0


def observed(verb: str, host: str) -> float:
    value = REGISTRY.get_sample_value(
        "rest_client_request_duration_seconds_count", {"verb": verb, "host": host}
    )
    return value or 0.0


async def _node(_: web.Request) -> web.Response:
    return web.json_response({"kind": "Node"})


async def _missing(_: web.Request) -> web.Response:
    return web.json_response({"kind": "Status", "reason": "NotFound", "code": 404}, status=404)


async def _watch(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    await response.prepare(request)
    for _ in range(3):
        await response.write(b'{"type":"ADDED","object":{}}\n')
    return response


@pytest.fixture
async def server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/api/v1/nodes/a", _node)
    app.router.add_post("/api/v1/namespaces/x/pods/b/binding", _missing)
    app.router.add_get("/api/v1/pods", _watch)
    async with serving(app) as host:
        yield host


async def test_requests_are_counted_by_code_method_and_host(server: str) -> None:
    ok, missing, latency = (
        requests("200", "GET", server),
        requests("404", "POST", server),
        observed("GET", server),
    )
    async with client_for(server) as kube:
        await kube.get("/api/v1/nodes/a")
        await kube.get("/api/v1/nodes/a")
        with pytest.raises(NotFound):
            await kube.post("/api/v1/namespaces/x/pods/b/binding", {})
    assert requests("200", "GET", server) == ok + 2
    assert requests("404", "POST", server) == missing + 1
    assert observed("GET", server) == latency + 2


async def test_a_request_without_response_counts_as_error() -> None:
    host = "127.0.0.1:1"  # nothing listens on port 1
    before = requests("<error>", "GET", host)
    async with client_for(host) as kube:
        with pytest.raises(Unavailable):
            await kube.get("/api/v1/nodes")
    assert requests("<error>", "GET", host) == before + 1
    assert observed("GET", host) >= 1


async def test_a_watch_counts_once(server: str) -> None:
    before = requests("200", "GET", server)
    async with client_for(server) as kube:
        lines = [line async for line in kube.stream("/api/v1/pods", {}, idle_timeout=5)]
    assert len(lines) == 3
    assert requests("200", "GET", server) == before + 1
