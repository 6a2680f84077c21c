"""The Helm chart installed into the real control plane.

We test these aspects:
- ``helm install`` succeeds: the API server accepts every object;
- the RBAC the chart creates is enough: py-scheduler, run out of the cluster
  with a token of the chart's ServiceAccount and the configuration the chart
  rendered, takes its lease, binds a pod and writes its events, and is
  never refused (403), result annotations on (the chart grants their pods
  patch); on its secure port it reviews the chart's metrics reader token and
  serves it /metrics and a pending pod's diagnosis on /debug/pods, which
  ``py-scheduler explain --scheduler-url`` reads over HTTPS with that token
  in its kubeconfig (and refuses, in one line, to read without verifying the
  self-signed certificate unless told to).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from controlplane import launcher, releases
from py_scheduler.kube.client import KubeClient
from tests.conftest import start_scheduler
from tests.integration.kube import create_node, create_pod, eventually, read_pod, unique
from tests.integration.test_secure_port import fetch

CHART = Path(__file__).resolve().parents[2] / "charts" / "py-scheduler"
SELECTED_NODE = "kube-scheduler-simulator.sigs.k8s.io/selected-node"


def token_kubeconfig(path: Path, server: str, user: str, token: str | None) -> Path:
    """A kubeconfig for ``user`` presenting ``token``; without one, a bare user name."""
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "local",
                        "cluster": {"server": server, "insecure-skip-tls-verify": True},
                    }
                ],
                "users": [
                    {"name": user, "user": {"token": token} if token else {"username": user}}
                ],
                "contexts": [{"name": user, "context": {"cluster": "local", "user": user}}],
                "current-context": user,
            }
        )
    )
    return path


def explain(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "py_scheduler", "explain", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_helm_install_and_schedule_with_the_charts_rbac(
    api: KubeClient, control_plane: launcher.LocalControlPlane, tmp_path: Path
) -> None:
    ns, release, profile = unique("chart"), unique("psch"), unique("py-scheduler-chart")
    helm = releases.default_bin_dir() / "helm"
    done = await asyncio.to_thread(
        subprocess.run,
        [
            str(helm),
            "install",
            release,
            str(CHART),
            "--namespace",
            ns,
            "--create-namespace",
            "--kubeconfig",
            str(control_plane.kubeconfig),
            "--set",
            "image.registry=registry.invalid",
            "--set",
            f"config.profiles[0].schedulerName={profile}",
            "--set",
            "explain.annotations=true",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "HELM_CACHE_HOME": str(tmp_path / "helm")},
    )
    assert done.returncode == 0, done.stderr

    selector = {"labelSelector": f"app.kubernetes.io/instance={release}"}
    accounts = await api.get(f"/api/v1/namespaces/{ns}/serviceaccounts", selector)
    (account,) = [
        a["metadata"]["name"]
        for a in accounts["items"]
        if not a["metadata"]["name"].endswith("-metrics")  # the metrics reader
    ]
    maps = await api.get(f"/api/v1/namespaces/{ns}/configmaps", selector)
    config = next(m["data"]["config.yaml"] for m in maps["items"] if "config.yaml" in m["data"])
    assert yaml.safe_load(config)["profiles"][0]["schedulerName"] == profile
    token = await api.post(
        f"/api/v1/namespaces/{ns}/serviceaccounts/{account}/token",
        {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 3600},
        },
    )
    kubeconfig = token_kubeconfig(
        tmp_path / "kubeconfig", control_plane.server, account, token["status"]["token"]
    )
    config_path = tmp_path / "config.yaml"
    config_path.write_text(config)

    group = unique("grp")
    node = unique("node")
    await create_node(api, node, labels={"test-group": group})
    running = start_scheduler(
        control_plane,
        config_path,
        name=f"chart-{release}",
        env={"KUBECONFIG": str(kubeconfig), "POD_NAMESPACE": ns, "POD_NAME": f"{release}-0"},
        secure=True,
        extra_args=["--explain-annotations"],  # as the chart passes it with the value on
    )
    try:
        pod_ns = unique("chart-pods")
        await api.post("/api/v1/namespaces", {"metadata": {"name": pod_ns}})
        await create_pod(
            api, "web", pod_ns, scheduler_name=profile, node_selector={"test-group": group}
        )
        bound = await eventually(
            lambda: read_pod(api, "web", pod_ns),
            lambda p: (
                "nodeName" in p["spec"] and SELECTED_NODE in p["metadata"].get("annotations", {})
            ),
            within=60,
            what="bound and annotated by the scheduler running with the chart's ServiceAccount",
        )
        assert bound["spec"]["nodeName"] == node
        assert bound["metadata"]["annotations"][SELECTED_NODE] == node
        leases = await api.get(f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases")
        assert [lease["spec"]["holderIdentity"] for lease in leases["items"]] == [f"{release}-0"]
        # The secure port, as the chart's monitors scrape it: the metrics reader's token
        # (its Secret, filled by the token controller) is let in, the scheduler's own
        # ServiceAccount may review it (TokenReview, SubjectAccessReview).
        secrets = await eventually(
            lambda: api.get(f"/api/v1/namespaces/{ns}/secrets", selector),
            lambda found: any(
                s["type"] == "kubernetes.io/service-account-token"
                and s.get("data", {}).get("token")
                for s in found["items"]
            ),
            what="the metrics reader's token",
        )
        reader = next(
            s for s in secrets["items"] if s["type"] == "kubernetes.io/service-account-token"
        )
        reader_token = base64.b64decode(reader["data"]["token"]).decode()
        status, _, body = await asyncio.to_thread(fetch, f"{running.base}/metrics", reader_token)
        assert status == 200, body
        assert (await asyncio.to_thread(fetch, f"{running.base}/metrics"))[0] == 401
        await _diagnosis_for_the_reader(api, running.base, pod_ns, profile, group, reader_token)
        reader_config = token_kubeconfig(
            tmp_path / "reader", control_plane.server, f"{release}-metrics", reader_token
        )
        anonymous = token_kubeconfig(tmp_path / "anonymous", control_plane.server, "nobody", None)
        await _explain_reads_it_over_https(running.base, pod_ns, reader_config, anonymous)
    finally:
        code = running.stop()
    log = running.log.read_text()
    # The client reports refusals as "<METHOD> <path>: 403 <message>".
    assert ": 403 " not in log, f"RBAC refused something; see {running.log}"
    assert "Forbidden" not in log, f"RBAC refused something; see {running.log}"
    assert code == 0


async def _diagnosis_for_the_reader(
    api: KubeClient, base: str, ns: str, profile: str, group: str, token: str
) -> None:
    await create_pod(
        api,
        "waits",
        ns,
        scheduler_name=profile,
        requests={"cpu": "1000"},
        node_selector={"test-group": group},
    )
    url = f"{base}/debug/pods/{ns}/waits"
    _, _, body = await eventually(
        lambda: asyncio.to_thread(fetch, url, token),
        lambda answer: answer[0] == 200,
        within=60,
        what="the pending pod's diagnosis, served to the metrics reader",
    )
    assert json.loads(body)["source"] == "live"
    assert (await asyncio.to_thread(fetch, url))[0] == 401


async def _explain_reads_it_over_https(
    base: str, ns: str, kubeconfig: Path, anonymous: Path
) -> None:
    common = [f"{ns}/waits", "--scheduler-url", base, "--insecure-skip-tls-verify"]
    # A user without a token has nothing the secure port could review.
    done = await asyncio.to_thread(explain, *common, "--kubeconfig", str(anonymous))
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: not allowed: GET {base}/debug/pods/{ns}/waits: 401 ")
    assert done.stderr.endswith("(the kubeconfig's user has no bearer token to send)\n")
    common = [f"{ns}/waits", "--kubeconfig", str(kubeconfig), "--scheduler-url", base]
    done = await asyncio.to_thread(explain, *common, "--insecure-skip-tls-verify", "-o", "json")
    assert done.returncode == 0, done.stderr
    served = json.loads(done.stdout)
    assert (served["pod"], served["source"]) == (f"{ns}/waits", "live")
    assert "Insufficient cpu" in served["message"]
    # The serving certificate is self-signed: verified, it is refused, in one line.
    refused = await asyncio.to_thread(explain, *common)
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert refused.stderr.count("\n") == 1
    assert "certificate verify failed" in refused.stderr
    assert "--insecure-skip-tls-verify" in refused.stderr
