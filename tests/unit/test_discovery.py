"""Discovery against a small in-process HTTP server: an unavailable server is waited
out, a refusal or an answer that is not discovery is an error at once."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import orjson
import pytest
import structlog.testing
from aiohttp import web
from kubernetes_asyncio import client as k8s_client

from py_scheduler.cluster import Forbidden
from py_scheduler.kube import discovery
from py_scheduler.kube.client import KubeClient

VERSION = {"major": "1", "minor": "36", "gitVersion": "v1.36.3"}
CORE = {"kind": "APIVersions", "versions": ["v1"]}
GROUPS = {
    "kind": "APIGroupList",
    "groups": [
        {
            "name": "scheduling.k8s.io",
            "versions": [{"groupVersion": "scheduling.k8s.io/v1", "version": "v1"}],
            "preferredVersion": {"groupVersion": "scheduling.k8s.io/v1", "version": "v1"},
        }
    ],
}


@dataclass
class Server:
    """Answers discovery; ``fail[path]`` lists statuses to answer first, in order."""

    bodies: dict[str, object] = field(
        default_factory=lambda: {"/version": VERSION, "/api": CORE, "/apis": GROUPS}
    )
    fail: dict[str, list[int]] = field(default_factory=dict)
    seen: list[tuple[str, int]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        pending = self.fail.get(request.path, [])
        status = pending.pop(0) if pending else 200
        self.seen.append((request.path, status))
        body = self.bodies[request.path] if status == 200 else {"kind": "Status", "code": status}
        return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


@pytest.fixture
async def served() -> AsyncIterator[tuple[Server, KubeClient]]:
    server = Server()
    app = web.Application()
    app.router.add_get("/{tail:.*}", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    await web.SockSite(runner, listening).start()
    configuration = k8s_client.Configuration()
    configuration.host = f"http://127.0.0.1:{port}"
    try:
        async with KubeClient(configuration) as kube:
            yield server, kube
    finally:
        await runner.cleanup()


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discovery, "BACKOFF_START", 0.01)


async def test_the_answer_becomes_server_info(served: tuple[Server, KubeClient]) -> None:
    _, kube = served
    info = await discovery.discover(kube)
    assert str(info.version) == "v1.36.3"
    assert info.group_versions == {"v1", "scheduling.k8s.io/v1"}


async def test_an_unavailable_server_is_waited_out(served: tuple[Server, KubeClient]) -> None:
    server, kube = served
    server.fail["/version"] = [503, 429]
    info = await discovery.discover(kube)
    assert str(info.version) == "v1.36.3"
    assert [status for path, status in server.seen if path == "/version"] == [503, 429, 200]


async def test_a_refusal_is_an_error_at_once(served: tuple[Server, KubeClient]) -> None:
    server, kube = served
    server.fail["/apis"] = [403]
    with pytest.raises(Forbidden, match=re.escape("GET /apis: 403")):
        await discovery.discover(kube)
    assert [status for path, status in server.seen if path == "/apis"] == [403]


async def test_an_answer_that_is_not_discovery_is_an_error(
    served: tuple[Server, KubeClient],
) -> None:
    server, kube = served
    server.bodies["/apis"] = {"groups": [{"name": "", "versions": []}]}
    with pytest.raises(discovery.DiscoveryError, match=r"/apis\.groups\[0\]\.name: empty"):
        await discovery.discover(kube)


@pytest.mark.parametrize(
    ("git_version", "warned"), [("v1.34.7", True), ("v1.35.0", False), ("v1.38.1", True)]
)
async def test_a_release_outside_the_supported_range_is_followed_with_a_warning(
    served: tuple[Server, KubeClient], git_version: str, warned: bool
) -> None:
    server, kube = served
    server.bodies["/version"] = {
        "major": "1",
        "minor": git_version.split(".")[1],
        "gitVersion": git_version,
    }
    with structlog.testing.capture_logs() as logs:
        info = await discovery.discover(kube)
    assert str(info.version) == git_version
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert bool(warnings) == warned, logs
    if warned:
        assert warnings[0]["supported"] == "1.35-1.37"
