"""``py-scheduler explain`` follows a Kubernetes release, as the live scheduler
does: the cluster's (read from its discovery, against a small in-process API
server here), the one given by ``--kube-version``, or for a snapshot the newest.

We test these aspects: the FailedScheduling message of a pod no node has room
for carries DynamicResources' PostFilter words up to 1.36 and not from 1.37;
``--kube-version`` wins over the cluster's release; a cluster outside the
releases followed is explained as the nearest, with a warning.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
import yaml

from py_scheduler.__main__ import main

EXAMPLES = Path(__file__).parents[3] / "examples"
NO_ROOM = str(EXAMPLES / "02-no-room.yaml")
PREEMPTION = "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
UP_TO_1_36 = (
    f"0/3 nodes are available: 3 Insufficient cpu. no new claims to deallocate, {PREEMPTION}"
)
FROM_1_37 = f"0/3 nodes are available: 3 Insufficient cpu. {PREEMPTION}"


class Cluster(ThreadingHTTPServer):
    """Discovery as a server of ``git_version`` answers it, the example's nodes and
    pods, and empty lists of every other kind."""

    def __init__(self, git_version: str) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        minor = git_version.split(".")[1]
        docs = [d for d in yaml.safe_load_all(Path(NO_ROOM).read_text()) if d]
        self.answers: dict[str, Any] = {
            "/version": {"major": "1", "minor": minor, "gitVersion": git_version},
            "/api": {"kind": "APIVersions", "versions": ["v1"]},
            "/apis": {"kind": "APIGroupList", "groups": []},
            "/api/v1/nodes": {"items": [d for d in docs if d["kind"] == "Node"]},
            "/api/v1/pods": {"items": [d for d in docs if d["kind"] == "Pod"]},
        }
        for doc in docs:
            if doc["kind"] == "Pod":
                meta = doc["metadata"]
                path = f"/api/v1/namespaces/{meta.get('namespace', 'default')}/pods/{meta['name']}"
                self.answers[path] = doc


class Handler(BaseHTTPRequestHandler):
    server: Cluster

    def do_GET(self) -> None:
        body = orjson.dumps(self.server.answers.get(urlsplit(self.path).path, {"items": []}))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """A kubeconfig for a cluster of the release ``request.param``."""
    server = Cluster(request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: k, cluster: {{server: 'http://127.0.0.1:{server.server_port}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
    )
    try:
        yield kubeconfig
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def explained(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    code = main(["explain", "default/d", "-o", "json", "--no-suggestions", *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return str(orjson.loads(out)["message"]), err


@pytest.mark.parametrize(
    ("cluster", "argv", "message"),
    [
        pytest.param("v1.36.3", [], UP_TO_1_36, id="a 1.36 cluster"),
        pytest.param("v1.37.2", [], FROM_1_37, id="a 1.37 cluster"),
        pytest.param("v1.36.3", ["--kube-version", "1.37"], FROM_1_37, id="1.37 on a 1.36 one"),
        pytest.param("v1.37.2", ["--kube-version", "v1.35.0"], UP_TO_1_36, id="1.35 on a 1.37 one"),
    ],
    indirect=["cluster"],
)
def test_explain_from_a_cluster_follows_its_release_unless_told(
    cluster: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    got, err = explained(["--kubeconfig", str(cluster), *argv], capsys)
    assert (got, err) == (message, "")


@pytest.mark.parametrize("cluster", ["v1.38.1"], indirect=True)
def test_a_cluster_outside_the_releases_followed_is_explained_as_the_nearest(
    cluster: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    got, err = explained(["--kubeconfig", str(cluster)], capsys)
    assert got == FROM_1_37
    assert err == (
        "warning: the cluster runs Kubernetes v1.38.1, outside the releases py-scheduler "
        "follows (1.35 to 1.37): explained as the nearest one\n"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param([], FROM_1_37, id="the newest by default"),
        pytest.param(["--kube-version", "1.36"], UP_TO_1_36, id="1.36"),
    ],
)
def test_explain_from_a_snapshot_follows_the_release_given(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert explained(["--snapshot", NO_ROOM, *argv], capsys) == (message, "")
