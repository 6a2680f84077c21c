"""The secure port on the real control plane: HTTPS with a self-signed
certificate, delegated authentication (TokenReview) and authorization
(SubjectAccessReview), as kube-scheduler's.

We test these aspects:
- the probes answer anonymously;
- /metrics without a token is 401, with a token the API server rejects 401,
  with a valid token lacking ``get`` on ``/metrics`` 403, and with it 200;
- /metrics is prometheus-client's own exposition: gzip when asked, the
  OpenMetrics format when asked, and no ``_created`` series.
"""

from __future__ import annotations

import asyncio
import gzip
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from controlplane.launcher import LocalControlPlane
from py_scheduler.kube.client import KubeClient
from tests.conftest import UNVERIFIED, SchedulerProcess, start_scheduler
from tests.integration.kube import create_namespace, eventually, unique


@pytest.fixture(scope="module")
def secure(
    control_plane: LocalControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SchedulerProcess]:
    config = tmp_path_factory.mktemp("secure") / "config.yaml"
    config.write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\n"
        "kind: KubeSchedulerConfiguration\n"
        "leaderElection: {leaderElect: false}\n"
        "profiles: [{schedulerName: py-scheduler-secure}]\n"
    )
    running = start_scheduler(control_plane, config, name="py-scheduler-secure", secure=True)
    try:
        yield running
    finally:
        assert running.stop() == 0


def fetch(url: str, token: str = "", **headers: str) -> tuple[int, dict[str, str], bytes]:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10, context=UNVERIFIED) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


async def service_account_token(api: KubeClient, ns: str, name: str) -> str:
    await api.post(f"/api/v1/namespaces/{ns}/serviceaccounts", {"metadata": {"name": name}})
    token = await api.post(
        f"/api/v1/namespaces/{ns}/serviceaccounts/{name}/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
    )
    return str(token["status"]["token"])


async def allow_metrics(api: KubeClient, ns: str, account: str) -> None:
    name = unique("metrics-reader")
    await api.post(
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        {
            "metadata": {"name": name},
            "rules": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}],
        },
    )
    await api.post(
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        {
            "metadata": {"name": name},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": name,
            },
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": ns}],
        },
    )


async def test_probes_are_anonymous_and_metrics_need_a_token_allowed_to_get_them(
    api: KubeClient, secure: SchedulerProcess
) -> None:
    assert secure.base.startswith("https://")
    for probe in ("/livez", "/readyz", "/healthz"):
        status, _, body = await asyncio.to_thread(fetch, secure.base + probe)
        assert (status, body) == (200, b"ok"), probe
    url = secure.base + "/metrics"
    assert (await asyncio.to_thread(fetch, url))[0] == 401
    assert (await asyncio.to_thread(fetch, url, "not-a-token"))[0] == 401

    ns = unique("metrics")
    await create_namespace(api, ns)
    denied = await service_account_token(api, ns, "denied")
    status, _, body = await asyncio.to_thread(fetch, url, denied)
    assert status == 403
    assert f'User "system:serviceaccount:{ns}:denied" cannot get path "/metrics"' in body.decode()

    allowed = await service_account_token(api, ns, "allowed")
    await allow_metrics(api, ns, "allowed")

    async def scraped() -> tuple[int, dict[str, str], bytes]:
        return await asyncio.to_thread(fetch, url, allowed, **{"Accept-Encoding": "gzip"})

    status, headers, body = await eventually(
        scraped, lambda r: r[0] == 200, within=30, what="metrics allowed once bound"
    )
    assert headers.get("Content-Encoding") == "gzip"
    text = gzip.decompress(body).decode()
    assert "# TYPE scheduler_pending_pods gauge" in text
    assert "_created" not in text
    status, headers, body = await asyncio.to_thread(
        fetch, url, allowed, Accept="application/openmetrics-text; version=1.0.0"
    )
    assert status == 200
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF")


def test_a_given_certificate_is_used(tmp_path: Path) -> None:
    from py_scheduler.app import tls

    cert, key = tls.self_signed("127.0.0.1")
    (tmp_path / "c.pem").write_bytes(cert)
    (tmp_path / "k.pem").write_bytes(key)
    context = tls.server_context(str(tmp_path / "c.pem"), str(tmp_path / "k.pem"), "127.0.0.1")
    assert context.minimum_version.name == "TLSv1_2"
    with pytest.raises(tls.TlsError, match="go together"):
        tls.server_context(str(tmp_path / "c.pem"), None, "127.0.0.1")
