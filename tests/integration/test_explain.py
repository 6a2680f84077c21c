"""explain against the live scheduler on the real control plane.

We test these aspects:
- the running scheduler's diagnosis on /debug/pods/NAMESPACE/NAME equals what
  ``py-scheduler explain`` works out offline from a listing of the same
  cluster; ``--scheduler-url`` prints the served one; once the pod is bound
  the scheduler holds no diagnosis (404);
- the command line's errors on a live cluster: a missing pod is one line;
- the result annotations (kube-scheduler-simulator's keys and shapes) are
  written by a scheduler run with --explain-annotations, for bound and
  pending pods, and never by one without it;
- the capacity and diagnosis gauges are exported.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controlplane import launcher
from py_scheduler.kube.client import KubeClient
from tests.conftest import start_scheduler
from tests.integration.kube import (
    create_namespace,
    create_node,
    create_pod,
    eventually,
    read_pod,
    unique,
)

SIMULATOR = "kube-scheduler-simulator.sigs.k8s.io/"
NODE = {"cpu": "1", "memory": "4Gi", "pods": "10"}
# What differs between a diagnosis served live and one worked out offline.
OWN_FIELDS = ("source", "observedAt", "warnings")


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def _served(base: str, ns: str, name: str) -> tuple[int, Any]:
    return await asyncio.to_thread(_get, f"{base}/debug/pods/{ns}/{name}")


def _explain(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "py_scheduler", "explain", *args, "--kubeconfig", str(kubeconfig)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _comparable(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in OWN_FIELDS}


async def _condition_message(api: KubeClient, ns: str, name: str) -> str:
    pod = await read_pod(api, name, ns)
    for condition in pod.get("status", {}).get("conditions", []):
        if condition["type"] == "PodScheduled" and condition.get("reason") == "Unschedulable":
            return str(condition["message"])
    return ""


async def test_the_live_diagnosis_equals_explain_offline_on_the_same_state(
    api: KubeClient, scheduler_process: str, kubeconfig: Path
) -> None:
    ns, group = unique("explain"), unique("grp")
    await create_namespace(api, ns)
    taint = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    await create_node(api, unique("node"), labels={"test-group": group}, allocatable=NODE)
    tainted = unique("node")
    await create_node(api, tainted, labels={"test-group": group}, allocatable=NODE, taints=[taint])
    try:
        await _live_equals_offline(api, scheduler_process, kubeconfig, ns, group)
    finally:
        # The control plane is shared: a tainted node would change other tests' messages.
        await api.delete(f"/api/v1/nodes/{tainted}")


async def _live_equals_offline(
    api: KubeClient, scheduler_process: str, kubeconfig: Path, ns: str, group: str
) -> None:
    await create_pod(api, "waits", ns, requests={"cpu": "2"}, node_selector={"test-group": group})
    message = await eventually(
        lambda: _condition_message(api, ns, "waits"), bool, what="PodScheduled=False"
    )

    async def both() -> tuple[dict[str, Any], dict[str, Any]]:
        status, served = await _served(scheduler_process, ns, "waits")
        assert status == 200, served
        done = await asyncio.to_thread(
            _explain, kubeconfig, f"{ns}/waits", "-o", "json", "--no-suggestions"
        )
        assert done.returncode == 0, done.stderr
        return served, json.loads(done.stdout)

    # The scheduler may retry the pod meanwhile; equal once both saw one state.
    served, offline = await eventually(
        both, lambda pair: _comparable(pair[0]) == _comparable(pair[1]), what="equal diagnoses"
    )
    assert served["source"] == "live"
    assert offline["source"] == "explain"
    assert served["message"] == message
    ours = [n for n in served["nodes"] if n["status"]["plugin"] != "NodeAffinity"]
    assert len(ours) == 2
    plugins = sorted(v["plugin"] for n in ours for v in n["filters"])
    assert plugins == ["NodeResourcesFit", "NodeResourcesFit", "TaintToleration"]

    through = await asyncio.to_thread(
        _explain, kubeconfig, f"{ns}/waits", "-o", "json", "--scheduler-url", scheduler_process
    )
    assert through.returncode == 0, through.stderr
    assert json.loads(through.stdout)["source"] == "live"

    await create_node(api, unique("node"), labels={"test-group": group})
    await eventually(
        lambda: read_pod(api, "waits", ns), lambda p: "nodeName" in p["spec"], what="bound"
    )
    status, body = await _served(scheduler_process, ns, "waits")
    assert status == 404
    assert "not pending" in body["error"]


async def test_explain_on_a_live_cluster_says_a_missing_pod_in_one_line(
    kubeconfig: Path,
) -> None:
    done = await asyncio.to_thread(_explain, kubeconfig, "default/no-such-pod")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == "error: pod default/no-such-pod not found\n"


@pytest.fixture(scope="module")
def annotating(control_plane: launcher.LocalControlPlane) -> Iterator[str]:
    """A second scheduler, profile py-scheduler-annotated, with --explain-annotations."""
    workdir = Path(tempfile.mkdtemp(prefix="annotating-"))
    config = workdir / "config.yaml"
    config.write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\n"
        "kind: KubeSchedulerConfiguration\n"
        "leaderElection: {leaderElect: false}\n"
        "podInitialBackoffSeconds: 1\n"
        "podMaxBackoffSeconds: 2\n"
        "profiles:\n"
        "- schedulerName: py-scheduler-annotated\n"
    )
    running = start_scheduler(
        control_plane,
        config,
        name="annotating",
        extra_args=["--explain-annotations", "--capacity-shape", "small:cpu=500m,memory=1Gi"],
    )
    try:
        yield running.base
    finally:
        assert running.stop() == 0


def _simulator_keys(pod: dict[str, Any]) -> dict[str, str]:
    annotations = pod["metadata"].get("annotations") or {}
    return {k: v for k, v in annotations.items() if k.startswith(SIMULATOR)}


async def test_result_annotations_appear_only_when_enabled(
    api: KubeClient, scheduler_process: str, annotating: str
) -> None:
    ns, group = unique("annot"), unique("grp")
    await create_namespace(api, ns)
    nodes = [unique("node") for _ in range(2)]
    for name in nodes:
        await create_node(api, name, labels={"test-group": group}, allocatable=NODE)
    selector = {"test-group": group}
    await create_pod(api, "plain", ns, requests={"cpu": "100m"}, node_selector=selector)
    await create_pod(
        api,
        "annotated",
        ns,
        requests={"cpu": "100m"},
        node_selector=selector,
        scheduler_name="py-scheduler-annotated",
    )
    await create_pod(
        api,
        "too-big",
        ns,
        requests={"cpu": "2"},
        node_selector=selector,
        scheduler_name="py-scheduler-annotated",
    )
    plain = await eventually(
        lambda: read_pod(api, "plain", ns), lambda p: "nodeName" in p["spec"], what="bound"
    )
    annotated = await eventually(
        lambda: read_pod(api, "annotated", ns),
        lambda p: SIMULATOR + "bind-result" in (p["metadata"].get("annotations") or {}),
        what="result annotations on a bound pod",
    )
    got = _simulator_keys(annotated)
    assert got[SIMULATOR + "selected-node"] == annotated["spec"]["nodeName"]
    assert json.loads(got[SIMULATOR + "bind-result"]) == {"DefaultBinder": "success"}
    filters = json.loads(got[SIMULATOR + "filter-result"])
    assert set(filters[annotated["spec"]["nodeName"]].values()) == {"passed"}
    scores = json.loads(got[SIMULATOR + "score-result"])
    final = json.loads(got[SIMULATOR + "finalscore-result"])
    assert set(scores) == set(final) == set(nodes)
    for name in nodes:
        assert all(v.isdigit() for v in scores[name].values())
    for key in ("prefilter-result-status", "prefilter-result", "postfilter-result",
                "prescore-result", "reserve-result", "permit-result", "permit-result-timeout",
                "prebind-result"):  # fmt: skip
        assert isinstance(json.loads(got[SIMULATOR + key]), dict), key

    pending = await eventually(
        lambda: read_pod(api, "too-big", ns),
        lambda p: SIMULATOR + "filter-result" in (p["metadata"].get("annotations") or {}),
        what="result annotations on a pending pod",
    )
    got = _simulator_keys(pending)
    assert got[SIMULATOR + "selected-node"] == ""
    filters = json.loads(got[SIMULATOR + "filter-result"])
    assert {filters[n]["NodeResourcesFit"] for n in nodes} == {"Insufficient cpu"}

    # The plain scheduler bound its pod before the annotating one finished: it wrote none.
    assert _simulator_keys(await read_pod(api, "plain", ns)) == {}
    assert plain["spec"]["nodeName"] in nodes


def _scrape(base: str) -> str:
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as resp:
        return str(resp.read().decode())


async def test_capacity_and_diagnosis_gauges_are_exported(annotating: str) -> None:
    text = await asyncio.to_thread(_scrape, annotating)
    assert (
        'py_scheduler_capacity_pods{requests="cpu=500m,memory=1Gi",shape="small",'
        'source="configured"}'
    ) in text
    for line in (
        "# TYPE py_scheduler_diagnoses gauge",
        "# TYPE py_scheduler_diagnoses_bytes gauge",
        'py_scheduler_capacity_free{resource="cpu"}',
        'py_scheduler_capacity_stranded{resource="memory"}',
    ):
        assert line in text, line
