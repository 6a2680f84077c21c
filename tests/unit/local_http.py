"""A throwaway HTTP server on a free loopback port, for the client's unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from kubernetes_asyncio import client as k8s_client

from py_scheduler.kube.client import KubeClient, Settings


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """``host:port`` of ``app`` served until the block ends."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def client_for(host: str, settings: Settings | None = None) -> KubeClient:
    """A client of the server at ``host:port``, over plain HTTP."""
    configuration = k8s_client.Configuration()
    configuration.host = f"http://{host}"
    return KubeClient(configuration, settings)
