"""The shipped Grafana dashboard and alert rules against a real Prometheus
(Debian's ``prometheus`` binary) scraping the running py-scheduler.

Two schedulers are scraped as one release (job py-scheduler, with the cluster and
namespace labels a ServiceMonitor adds): one that schedules this test's pods, and one with
leader election, so that the leader-election panels have series too.

We test these aspects:
- every panel query, with the dashboard's cluster, namespace and job variables set to that
  release, parses and returns at least one series;
- the alerting and recording rules load and evaluate without errors;
- Prometheus scrapes the secure port as the chart's monitors do: HTTPS, a
  bearer token, the self-signed certificate not verified.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controlplane import launcher
from py_scheduler.kube.client import KubeClient
from tests.conftest import start_scheduler
from tests.integration.kube import create_namespace, create_node, create_pod, eventually, unique

CHART = Path(__file__).resolve().parents[2] / "charts" / "py-scheduler"
# The labels a ServiceMonitor would add; the dashboard's variables select them.
RELEASE = {"cluster": "local", "namespace": "py-scheduler", "job": "py-scheduler"}


def _prometheus_binary() -> Path:
    """Debian's prometheus, unpacked (not installed) under the project cache."""
    root = Path(os.environ.get("PY_SCHEDULER_CACHE", Path.home() / ".cache" / "py-scheduler"))
    binary = root / "prometheus" / "usr" / "bin" / "prometheus"
    if binary.exists():
        return binary
    work = Path(tempfile.mkdtemp(prefix="prometheus-deb-"))
    download = ["apt-get", "download", "prometheus"]
    if subprocess.run(download, cwd=work, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, check=True)
        subprocess.run(download, cwd=work, capture_output=True, check=True)
    deb = next(work.glob("prometheus_*.deb"))
    subprocess.run(["dpkg", "-x", str(deb), str(root / "prometheus")], check=True)
    shutil.rmtree(work, ignore_errors=True)
    return binary


def _query(base: str, expr: str) -> dict[str, Any]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            body: dict[str, Any] = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read())
    return body


PROFILE = "py-scheduler-dashboard"


@pytest.fixture(scope="module")
def secure_scheduler(control_plane: launcher.LocalControlPlane) -> Iterator[str]:
    """A scheduler on its secure port (HTTPS, delegated authorization), as deployed."""
    workdir = Path(tempfile.mkdtemp(prefix="dashboard-"))
    (workdir / "config.yaml").write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\n"
        "kind: KubeSchedulerConfiguration\n"
        "leaderElection: {leaderElect: false}\n"
        f"profiles: [{{schedulerName: {PROFILE}}}]\n"
    )
    running = start_scheduler(control_plane, workdir / "config.yaml", name=PROFILE, secure=True)
    try:
        yield running.base
    finally:
        assert running.stop() == 0
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def elected_scheduler(control_plane: launcher.LocalControlPlane) -> Iterator[str]:
    """A second replica of the release, with leader election on its own lease (and a
    profile of its own, so that it competes for no pod of the other), and a capacity
    shape."""
    workdir = Path(tempfile.mkdtemp(prefix="dashboard-"))
    config = workdir / "config.yaml"
    config.write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\n"
        "kind: KubeSchedulerConfiguration\n"
        "leaderElection:\n"
        "  leaderElect: true\n"
        f"  resourceName: {unique('dashboard-lease')}\n"
        "  resourceNamespace: default\n"
        "profiles:\n"
        f"- schedulerName: {PROFILE}-elected\n"
    )
    running = start_scheduler(
        control_plane,
        config,
        name="dashboard-elected",
        env={"POD_NAME": "dashboard-0"},
        secure=True,
        # A configured shape: the capacity panel has a series before any pod is pending.
        extra_args=["--capacity-shape", "small:cpu=1,memory=2Gi"],
    )
    try:
        yield running.base
    finally:
        assert running.stop() == 0
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def prometheus(
    control_plane: launcher.LocalControlPlane, secure_scheduler: str, elected_scheduler: str
) -> Iterator[str]:
    binary = _prometheus_binary()
    workdir = Path(tempfile.mkdtemp(prefix="prometheus-"))
    targets = [urllib.parse.urlparse(base).netloc for base in (secure_scheduler, elected_scheduler)]
    # As the chart's ServiceMonitor scrapes: HTTPS, a bearer token allowed to get
    # /metrics (here the admin's), the self-signed certificate not verified.
    (workdir / "token").write_text(control_plane.token)
    (workdir / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: [{CHART / 'files' / 'prometheus-rules.yaml'}]\n"
        "scrape_configs:\n"
        "- job_name: py-scheduler\n"
        "  scheme: https\n"
        "  tls_config: {insecure_skip_verify: true}\n"
        f"  authorization: {{credentials_file: {workdir / 'token'}}}\n"
        f"  static_configs: [{{targets: {json.dumps(targets)}, "
        f"labels: {{cluster: {RELEASE['cluster']}, namespace: {RELEASE['namespace']}}}}}]\n"
    )
    port = launcher.free_port()
    log = (control_plane.logs / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            str(binary),
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                up = _query(base, 'up{job="py-scheduler"} == 1')
                if len(up.get("data", {}).get("result", [])) == 2:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail(f"prometheus did not scrape py-scheduler; see {log.name}")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _panel_queries() -> list[tuple[str, str]]:
    dashboard = json.loads((CHART / "files" / "dashboard.json").read_text())
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = (
                target["expr"]
                .replace("$cluster", RELEASE["cluster"])
                .replace("$namespace", RELEASE["namespace"])
                .replace("$job", RELEASE["job"])
                .replace("$instance", ".*")
                .replace("$__rate_interval", "1m")
            )
            queries.append((panel["title"], expr))
    return queries


async def test_every_dashboard_panel_returns_series(api: KubeClient, prometheus: str) -> None:
    # Some activity, so that the histograms have observations to rate.
    ns, group = unique("dash"), unique("grp")
    await create_namespace(api, ns)
    await create_node(api, unique("node"), labels={"test-group": group})
    await create_pod(
        api, "observed", ns, scheduler_name=PROFILE, node_selector={"test-group": group}
    )
    await create_pod(
        api,
        "waiting",
        ns,
        scheduler_name=PROFILE,
        requests={"cpu": "64"},
        node_selector={"test-group": group},
    )
    queries = _panel_queries()
    assert len(queries) >= 15
    # Rates need a few scrapes after the activity.
    await eventually(
        lambda: _aquery(prometheus, 'count(scheduler_schedule_attempts_total{job="py-scheduler"})'),
        lambda body: bool(body.get("data", {}).get("result")),
        what="scheduler metrics in prometheus",
    )
    await asyncio.sleep(5)
    empty = []
    for title, expr in queries:
        body = _query(prometheus, expr)
        assert body["status"] == "success", (title, expr, body.get("error"))
        if not body["data"]["result"]:
            empty.append((title, expr))
    assert not empty, f"panels whose query returned no series: {empty}"


async def _aquery(base: str, expr: str) -> dict[str, Any]:
    return _query(base, expr)


def test_rules_load_and_evaluate(prometheus: str) -> None:
    with urllib.request.urlopen(f"{prometheus}/api/v1/rules", timeout=10) as resp:
        groups = json.loads(resp.read())["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert rules, "no rules loaded"
    time.sleep(2)
    with urllib.request.urlopen(f"{prometheus}/api/v1/rules", timeout=10) as resp:
        groups = json.loads(resp.read())["data"]["groups"]
    broken = [
        (rule["name"], rule.get("lastError"))
        for group in groups
        for rule in group["rules"]
        if rule.get("health") not in ("ok", "unknown") or rule.get("lastError")
    ]
    assert not broken, broken
    assert re.search(r"PyScheduler", " ".join(r["name"] for r in rules))
    # Every recording rule yields series for this release (the panel test made activity).
    recorded = {rule["name"] for rule in rules if rule["type"] == "recording"}
    assert len(recorded) == 3
    deadline = time.monotonic() + 30
    missing = set(recorded)
    while missing and time.monotonic() < deadline:
        missing = {
            name
            for name in missing
            if not _query(prometheus, f'{name}{{job="{RELEASE["job"]}"}}')["data"]["result"]
        }
        time.sleep(1)
    assert not missing, f"recording rules without series: {sorted(missing)}"
