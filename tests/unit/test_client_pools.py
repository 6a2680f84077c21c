"""Requests share a bounded pool of connections; watches do not take from it."""

from __future__ import annotations

import asyncio
from asyncio import sslproto
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from py_scheduler.kube.client import Settings
from tests.unit.local_http import client_for, serving

STOP = web.AppKey("stop", asyncio.Event)


async def _endless_watch(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    await response.prepare(request)
    await response.write(b'{"type":"BOOKMARK"}\n')
    await request.app[STOP].wait()  # open until the test is over
    return response


async def _ok(request: web.Request) -> web.Response:
    return web.json_response({"kind": "Status", "path": request.path})


@pytest.fixture
async def server() -> AsyncIterator[str]:
    app = web.Application()
    app[STOP] = asyncio.Event()
    app.router.add_get("/watch", _endless_watch)
    app.router.add_get("/api/v1/nodes", _ok)
    async with serving(app) as host:
        yield host
        app[STOP].set()


async def test_open_watches_leave_the_request_pool_free(server: str) -> None:
    settings = Settings(max_connections=1, timeout=5.0)
    async with client_for(server, settings) as kube:
        streams = [kube.stream("/watch", {}, idle_timeout=60) for _ in range(3)]
        firsts = await asyncio.gather(*(anext(s) for s in streams))
        assert firsts == [b'{"type":"BOOKMARK"}'] * 3
        # Three watches hold their connections; the one request connection is free.
        assert await kube.get("/api/v1/nodes") == {"kind": "Status", "path": "/api/v1/nodes"}
        for stream in streams:
            await stream.aclose()


async def test_requests_beyond_the_pool_wait_their_turn(server: str) -> None:
    settings = Settings(max_connections=2, timeout=5.0)
    async with client_for(server, settings) as kube:
        answers = await asyncio.gather(*(kube.get("/api/v1/nodes") for _ in range(20)))
        assert len(answers) == 20
        assert kube.session.connector is not None
        assert kube.session.connector.limit == 2


def test_tls_connections_read_into_a_record_sized_buffer() -> None:
    # asyncio's default (256 KiB, zero-filled) per connection is what this replaces.
    assert sslproto.SSLProtocol.max_size == 16 * 1024
