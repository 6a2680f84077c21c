"""``make demo``: the scheduler on a local control plane, scenario by scenario.

For each example file: clear the cluster, create its nodes, priority classes,
storage and running pods, then its pending pods (or the StatefulSets that
create them), and wait until py-scheduler (a real
``python -m scheduler run`` process) has placed each one or said why not.
The table shows where each pod landed, the scheduler's own words, and what
``simulate`` predicted for the same snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from scheduler import config as scheduler_config
from scheduler import logs
from scheduler.cluster import ClusterError, NotFound
from scheduler.devcluster import controlplane, workloads
from scheduler.kube.client import JSON, KubeClient, load_configuration
from scheduler.simulation import snapshot as snapshots
from scheduler.simulation.run import simulate

SETTLE_TIMEOUT = 30.0
# A rejection counts as the decision once it has stood this long: a pod
# rejected before a watch caught up (its claim, say) is retried within the
# 1 s initial backoff once the event arrives.
SETTLE_GRACE = 2.5
DEFAULT_NS = "/api/v1/namespaces/default"
STATEFULSETS = "/apis/apps/v1/namespaces/default/statefulsets"
STORAGE_CLASSES = "/apis/storage.k8s.io/v1/storageclasses"
PATHS = {
    "Node": "/api/v1/nodes",
    "PriorityClass": "/apis/scheduling.k8s.io/v1/priorityclasses",
    "StorageClass": STORAGE_CLASSES,
    "PersistentVolume": "/api/v1/persistentvolumes",
    "PersistentVolumeClaim": f"{DEFAULT_NS}/persistentvolumeclaims",
    "PodDisruptionBudget": "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
    "StatefulSet": STATEFULSETS,
}
# Creation order: what pods need exists before the pods (or their owners).
ORDER = {kind: index for index, kind in enumerate(PATHS)}


def _strip(doc: dict[str, Any]) -> dict[str, Any]:
    meta = {
        k: v
        for k, v in (doc.get("metadata") or {}).items()
        if k not in ("resourceVersion", "uid", "creationTimestamp")
    }
    out = {**doc, "metadata": meta}
    if doc.get("kind") != "Node":
        out.pop("status", None)
    return out


async def _clear(kube: KubeClient) -> None:
    # Owners first, or they would recreate the pods deleted below.
    for sts in (await kube.get(STATEFULSETS)).get("items", []):
        await kube.delete(f"{STATEFULSETS}/{sts['metadata']['name']}")
    pods = await kube.get("/api/v1/namespaces/default/pods")
    for pod in pods.get("items", []):
        name = pod["metadata"]["name"]
        with contextlib.suppress(NotFound):
            await kube.delete(f"/api/v1/namespaces/default/pods/{name}", {"gracePeriodSeconds": 0})
    deadline = time.monotonic() + 30
    while (await kube.get("/api/v1/namespaces/default/pods")).get("items"):
        if time.monotonic() > deadline:
            raise RuntimeError("pods of the previous scenario did not go away")
        await asyncio.sleep(0.2)
    for node in (await kube.get("/api/v1/nodes")).get("items", []):
        await kube.delete(f"/api/v1/nodes/{node['metadata']['name']}")
    classes = await kube.get("/apis/scheduling.k8s.io/v1/priorityclasses")
    for pc in classes.get("items", []):
        name = pc["metadata"]["name"]
        if not name.startswith("system-"):
            await kube.delete(f"/apis/scheduling.k8s.io/v1/priorityclasses/{name}")
    budgets = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"
    for pdb in (await kube.get(budgets)).get("items", []):
        await kube.delete(f"{budgets}/{pdb['metadata']['name']}")
    for kind in ("PersistentVolumeClaim", "PersistentVolume", "StorageClass"):
        for item in (await kube.get(PATHS[kind])).get("items", []):
            with contextlib.suppress(NotFound):
                await kube.delete(f"{PATHS[kind]}/{item['metadata']['name']}")


async def _apply(kube: KubeClient, docs: list[dict[str, Any]]) -> list[str]:
    """Create the scenario's objects; returns the pending pods' names, in order."""
    pending = []
    running = [d for d in docs if d.get("kind") == "Pod" and d.get("spec", {}).get("nodeName")]
    others = [d for d in docs if d.get("kind") != "Pod"]
    waiting = [d for d in docs if d.get("kind") == "Pod" and not d.get("spec", {}).get("nodeName")]
    for doc in sorted(others, key=lambda d: ORDER.get(d.get("kind", ""), len(ORDER))) + running:
        await _create(kube, doc)
        if doc.get("kind") == "StatefulSet":
            pending += workloads.replica_names(doc)
    await _budgets_observed(kube)
    for doc in waiting:
        await _create(kube, doc)
        ns = doc.get("metadata", {}).get("namespace", "default")
        pending.append(f"{ns}/{doc['metadata']['name']}")
    return pending


async def _create(kube: KubeClient, doc: dict[str, Any]) -> None:
    kind = doc.get("kind", "")
    if kind == "Pod":
        ns = doc.get("metadata", {}).get("namespace", "default")
        await kube.post(f"/api/v1/namespaces/{ns}/pods", _strip(doc))
    elif kind in PATHS:
        await kube.post(PATHS[kind], _strip(doc))


async def _budgets_observed(kube: KubeClient) -> None:
    """Wait until the disruption controller has counted each budget's pods,
    so that preemption sees what the API server will enforce."""
    deadline = time.monotonic() + 30
    path = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"
    while time.monotonic() < deadline:
        budgets = (await kube.get(path)).get("items", [])
        if all(
            b.get("status", {}).get("observedGeneration") == b["metadata"]["generation"]
            and b["status"].get("currentHealthy", 0) == b["status"].get("expectedPods", -1)
            and b["status"].get("expectedPods", 0) > 0
            for b in budgets
        ):
            return
        await asyncio.sleep(0.3)


def _why(pod: JSON, events: list[JSON]) -> str:
    mine = [
        e
        for e in events
        if e.get("regarding", {}).get("uid") == pod["metadata"]["uid"]
        and e.get("reason") in ("Scheduled", "FailedScheduling")
    ]
    if mine:
        mine.sort(key=lambda e: e.get("eventTime") or "")
        return str(mine[-1].get("note", ""))
    for cond in pod.get("status", {}).get("conditions", []):
        if cond["type"] == "PodScheduled" and cond["status"] == "False":
            return str(cond.get("message", ""))
    return "(no decision yet)"


async def _settle(kube: KubeClient, pending: list[str]) -> dict[str, JSON]:
    deadline = time.monotonic() + SETTLE_TIMEOUT
    rejected_since: dict[str, float] = {}
    while True:
        pods = {
            f"default/{p['metadata']['name']}": p
            for p in (await kube.get("/api/v1/namespaces/default/pods")).get("items", [])
        }
        decided = 0
        for key in pending:
            pod = pods.get(key)
            if pod is None:
                continue
            status = pod.get("status", {})
            rejected = any(
                c["type"] == "PodScheduled" and c["status"] == "False"
                for c in status.get("conditions", [])
            )
            if pod["spec"].get("nodeName"):
                decided += 1
            # A nominated pod is waiting for its victims to leave: not decided yet.
            elif rejected and not status.get("nominatedNodeName"):
                since = rejected_since.setdefault(key, time.monotonic())
                if time.monotonic() - since >= SETTLE_GRACE:
                    decided += 1
        if decided == len(pending) or time.monotonic() > deadline:
            return pods
        await asyncio.sleep(0.3)


async def run_demo(
    plane: controlplane.LocalControlPlane, examples: Path, *, quiet: bool = False
) -> dict[str, tuple[str, str]]:
    """Run every example; returns {pod: (live node, simulated node)} ("<pending>" if none).

    Raises RuntimeError when the scheduler process dies or the API fails.
    """
    cfg_path = examples / "scheduler-config.yaml"
    cfg = scheduler_config.load(cfg_path if cfg_path.exists() else None)
    env = {**os.environ, "KUBECONFIG": str(plane.kubeconfig)}
    log = (plane.logs / "py-scheduler.log").open("w")
    args = [
        sys.executable,
        "-m",
        "scheduler",
        "run",
        "--port",
        str(controlplane.free_port()),
        "--log-format",
        "json",
    ]
    if cfg_path.exists():
        args += ["--config", str(cfg_path)]
    proc = subprocess.Popen(args, env=env, stdout=log, stderr=log)  # noqa: ASYNC220
    say = (lambda *_: None) if quiet else print
    say(f"py-scheduler running (pid {proc.pid}); its log: {plane.logs / 'py-scheduler.log'}")
    placements: dict[str, tuple[str, str]] = {}
    try:
        async with KubeClient(await load_configuration(str(plane.kubeconfig))) as kube:
            for path in sorted(examples.glob("[0-9]*.yaml")):  # noqa: ASYNC240 - a handful of files
                docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
                await _clear(kube)
                pending = await _apply(kube, docs)
                pods = await _settle(kube, pending)
                events = (await kube.get("/apis/events.k8s.io/v1/namespaces/default/events")).get(
                    "items", []
                )
                # simulate sees what the StatefulSet controller creates live.
                snap = snapshots.parse(yaml.safe_dump_all(workloads.expand(docs)), str(path))
                predicted = {r.pod: r for r in await simulate(snap, cfg, seed=0)}
                say(f"\n== {path.name}")
                nodes = sorted(
                    n["metadata"]["name"]
                    for n in (await kube.get("/api/v1/nodes")).get("items", [])
                )
                say(f"   nodes: {', '.join(nodes)}")
                for key in pending:
                    pod = pods.get(key, {"metadata": {"uid": ""}, "spec": {}})
                    node = pod["spec"].get("nodeName") or "<pending>"
                    sim = predicted.get(key)
                    sim_node = (sim.node if sim else None) or "<pending>"
                    same = (sim_node == "<pending>") == (node == "<pending>")
                    agree = "agrees" if same else "DIFFERS"
                    placements[f"{path.stem}:{key}"] = (node, sim_node)
                    say(f"   {key:<22} -> {node:<10} {_why(pod, events)}")
                    say(f"   {'':<22}    simulate: {sim_node} ({agree})")
            if proc.poll() is not None:
                raise RuntimeError(f"py-scheduler exited early with {proc.returncode}")
    except ClusterError as exc:
        raise RuntimeError(f"API error: {exc}") from exc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=25)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    return placements


def main(examples: Path) -> int:
    logs.configure(level="warning", fmt="console")
    with controlplane.running() as plane:
        print(f"local control plane at {plane.server} (logs: {plane.logs})")
        try:
            placements = asyncio.run(run_demo(plane, examples))
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    differ = sum(
        1 for live, sim in placements.values() if (live == "<pending>") != (sim == "<pending>")
    )
    print("\nEvery example pod was placed or given the scheduler's reason.")
    if differ:
        print(f"{differ} placement(s) differ from simulate.")
    return 0
