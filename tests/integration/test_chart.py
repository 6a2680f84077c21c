"""The Helm chart installed into the real control plane.

We test these aspects:
- ``helm install`` succeeds: the API server accepts every object;
- the RBAC the chart creates is enough: py-scheduler, run out of the cluster
  with a token of the chart's ServiceAccount and the configuration the chart
  rendered, takes its lease, binds a pod and writes its events, and is
  never refused (403).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import yaml

from controlplane import launcher, releases
from py_scheduler.kube.client import KubeClient
from tests.conftest import start_scheduler
from tests.integration.kube import create_node, create_pod, eventually, read_pod, unique

CHART = Path(__file__).resolve().parents[2] / "charts" / "py-scheduler"


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
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "HELM_CACHE_HOME": str(tmp_path / "helm")},
    )
    assert done.returncode == 0, done.stderr

    selector = {"labelSelector": f"app.kubernetes.io/instance={release}"}
    accounts = await api.get(f"/api/v1/namespaces/{ns}/serviceaccounts", selector)
    (account,) = [a["metadata"]["name"] for a in accounts["items"]]
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
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "local",
                        "cluster": {
                            "server": control_plane.server,
                            "insecure-skip-tls-verify": True,
                        },
                    }
                ],
                "users": [{"name": account, "user": {"token": token["status"]["token"]}}],
                "contexts": [{"name": "sa", "context": {"cluster": "local", "user": account}}],
                "current-context": "sa",
            }
        )
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
    )
    try:
        pod_ns = unique("chart-pods")
        await api.post("/api/v1/namespaces", {"metadata": {"name": pod_ns}})
        await create_pod(
            api, "web", pod_ns, scheduler_name=profile, node_selector={"test-group": group}
        )
        bound = await eventually(
            lambda: read_pod(api, "web", pod_ns),
            lambda p: "nodeName" in p["spec"],
            within=60,
            what="bound by the scheduler running with the chart's ServiceAccount",
        )
        assert bound["spec"]["nodeName"] == node
        leases = await api.get(f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases")
        assert [lease["spec"]["holderIdentity"] for lease in leases["items"]] == [f"{release}-0"]
    finally:
        code = running.stop()
    log = running.log.read_text()
    # The client reports refusals as "<METHOD> <path>: 403 <message>".
    assert ": 403 " not in log, f"RBAC refused something; see {running.log}"
    assert "Forbidden" not in log, f"RBAC refused something; see {running.log}"
    assert code == 0
