"""``make demo``: the scheduler on a local control plane, scenario by scenario.

For each example file: clear the cluster, create its nodes, priority classes,
storage and running pods, then its pending pods (or the StatefulSets and
Deployments whose controllers create them), and wait until py-scheduler (a
real ``python -m py_scheduler run`` process) has placed each one or said why not.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from controlplane import launcher
from py_scheduler import config as scheduler_config
from py_scheduler import logs
from py_scheduler.cluster import ClusterError, NotFound
from py_scheduler.kube import discovery
from py_scheduler.kube.client import JSON, KubeClient, load_configuration
from py_scheduler.simulation import snapshot as snapshots
from py_scheduler.simulation import workloads
from py_scheduler.simulation.run import Result, simulate

SETTLE_TIMEOUT = 30.0
# A rejection counts as the decision once it has stood this long: a pod
# rejected before a watch caught up (its claim, say) is retried within the
# 1 s initial backoff once the event arrives.
SETTLE_GRACE = 2.5
DEFAULT_NS = "/api/v1/namespaces/default"
PODS = f"{DEFAULT_NS}/pods"
STATEFULSETS = "/apis/apps/v1/namespaces/default/statefulsets"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
REPLICASETS = "/apis/apps/v1/namespaces/default/replicasets"
STORAGE_CLASSES = "/apis/storage.k8s.io/v1/storageclasses"
RESOURCE = "/apis/resource.k8s.io/v1"
PATHS = {
    "Node": "/api/v1/nodes",
    "PriorityClass": "/apis/scheduling.k8s.io/v1/priorityclasses",
    "StorageClass": STORAGE_CLASSES,
    "PersistentVolume": "/api/v1/persistentvolumes",
    "PersistentVolumeClaim": f"{DEFAULT_NS}/persistentvolumeclaims",
    "PodDisruptionBudget": "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
    "DeviceClass": f"{RESOURCE}/deviceclasses",
    "ResourceSlice": f"{RESOURCE}/resourceslices",
    "ResourceClaimTemplate": f"{RESOURCE}/namespaces/default/resourceclaimtemplates",
    "ResourceClaim": f"{RESOURCE}/namespaces/default/resourceclaims",
    "StatefulSet": STATEFULSETS,
    "Deployment": DEPLOYMENTS,
}
# Created with the pending pods, once the running pods are in place.
WORKLOADS = ("StatefulSet", "Deployment")
# Creation order: what pods need exists before the pods (or their owners).
ORDER = {kind: index for index, kind in enumerate(PATHS)}
PENDING = "<pending>"


class Placement(NamedTuple):
    """One pending pod's outcome: node names, or ``PENDING``, and the messages."""

    live: str
    simulated: str
    reason: str
    predicted: str


@dataclass
class Pending:
    """Pods judged together. A pod or StatefulSet replica has the same name
    live and in ``simulate``; a Deployment's replicas do not, so its pods are
    paired by outcome instead."""

    live: list[str]
    simulated: list[str]
    deployment: str = ""


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
    # Owners first, or they would recreate the pods deleted below; the
    # ReplicaSets too, or theirs would until the garbage collector caught up.
    for owners in (STATEFULSETS, DEPLOYMENTS, REPLICASETS):
        for owner in (await kube.get(owners)).get("items", []):
            with contextlib.suppress(NotFound):
                await kube.delete(f"{owners}/{owner['metadata']['name']}")
    pods = await kube.get(PODS)
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
    for kind in (
        "PersistentVolumeClaim",
        "PersistentVolume",
        "StorageClass",
        "ResourceClaim",
        "ResourceClaimTemplate",
        "ResourceSlice",
        "DeviceClass",
    ):
        for item in (await kube.get(PATHS[kind])).get("items", []):
            with contextlib.suppress(NotFound):
                await kube.delete(f"{PATHS[kind]}/{item['metadata']['name']}")


def _is_pending(doc: dict[str, Any]) -> bool:
    if doc.get("kind") == "Pod":
        return not (doc.get("spec") or {}).get("nodeName")
    return doc.get("kind") in WORKLOADS


async def _apply(kube: KubeClient, docs: list[dict[str, Any]]) -> list[Pending]:
    """Create the scenario's objects; returns the pending pods, in order."""
    pending: list[Pending] = []
    first = [d for d in docs if d.get("kind") != "Pod" and not _is_pending(d)]
    running = [d for d in docs if d.get("kind") == "Pod" and not _is_pending(d)]
    for doc in sorted(first, key=lambda d: ORDER.get(d.get("kind", ""), len(ORDER))) + running:
        await _create(kube, doc)
    await _budgets_observed(kube)
    deployments = []
    for doc in filter(_is_pending, docs):
        created = await _create(kube, doc)
        name = doc["metadata"]["name"]
        if doc["kind"] == "StatefulSet":
            pending += [Pending([key], [key]) for key in workloads.replica_names(doc)]
        elif doc["kind"] == "Deployment":
            deployments.append((len(pending), created))
            pending.append(Pending([], workloads.replica_names(doc), deployment=name))
        else:
            ns = doc.get("metadata", {}).get("namespace", "default")
            pending.append(Pending([f"{ns}/{name}"], [f"{ns}/{name}"]))
    for index, deployment in deployments:
        pending[index].live = await _deployment_pods(kube, deployment)
    return pending


async def _create(kube: KubeClient, doc: dict[str, Any]) -> JSON:
    kind = doc.get("kind", "")
    if kind == "Pod":
        ns = doc.get("metadata", {}).get("namespace", "default")
        return await kube.post(f"/api/v1/namespaces/{ns}/pods", _strip(doc))
    if kind in PATHS:
        return await kube.post(PATHS[kind], _strip(doc))
    return {}


def _controller(obj: JSON) -> str:
    owners = obj["metadata"].get("ownerReferences") or []
    return next((str(o["uid"]) for o in owners if o.get("controller")), "")


async def _deployment_pods(kube: KubeClient, deployment: JSON) -> list[str]:
    """The pods the Deployment's ReplicaSet created, once there are
    ``replicas`` of them; their names are random."""
    name, uid = deployment["metadata"]["name"], deployment["metadata"]["uid"]
    want = workloads.replicas(deployment)
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        sets = {
            rs["metadata"]["uid"]
            for rs in (await kube.get(REPLICASETS)).get("items", [])
            if _controller(rs) == uid
        }
        pods = sorted(
            f"default/{p['metadata']['name']}"
            for p in (await kube.get(PODS)).get("items", [])
            if _controller(p) in sets
        )
        if len(pods) >= want:
            return pods
        if time.monotonic() > deadline:
            raise RuntimeError(f"Deployment {name} has {len(pods)} of {want} pods")
        await asyncio.sleep(0.2)


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


def pair_by_outcome(
    live: list[tuple[str, str, str]], simulated: list[tuple[str, str]]
) -> list[tuple[str, Placement]]:
    """(pod, placement) with live ``(pod, node, reason)`` and simulated
    ``(node, message)`` matched in order of outcome: nodes by name, then the
    pods left pending, so that equal outcomes meet whatever the pods are called."""

    def outcome(node: str, message: str) -> tuple[bool, str, str]:
        return (node == PENDING, node, message)

    live = sorted(live, key=lambda p: outcome(p[1], p[2]))
    simulated = sorted(simulated, key=lambda s: outcome(*s))
    simulated += [(PENDING, "(no prediction)")] * (len(live) - len(simulated))
    return [
        (pod, Placement(node, sim_node, reason, predicted))
        for (pod, node, reason), (sim_node, predicted) in zip(live, simulated, strict=False)
    ]


async def _settle(kube: KubeClient, pending: list[str]) -> dict[str, JSON]:
    deadline = time.monotonic() + SETTLE_TIMEOUT
    rejected_since: dict[str, float] = {}
    while True:
        pods = {
            f"default/{p['metadata']['name']}": p for p in (await kube.get(PODS)).get("items", [])
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
    plane: launcher.LocalControlPlane, examples: Path, *, quiet: bool = False
) -> dict[str, Placement]:
    """Run every example; returns the placement of each pending pod, keyed
    ``<example>:<namespace>/<pod>`` with the pod's live name.

    Raises RuntimeError when the scheduler process dies or the API fails.
    """
    cfg_path = examples / "scheduler-config.yaml"
    cfg = scheduler_config.load(cfg_path if cfg_path.exists() else None)
    env = {**os.environ, "KUBECONFIG": str(plane.kubeconfig)}
    log = (plane.logs / "py-scheduler.log").open("w")
    args = [
        sys.executable,
        "-m",
        "py_scheduler",
        "run",
        "--port",
        str(launcher.free_port()),
        "--log-format",
        "json",
    ]
    if cfg_path.exists():
        args += ["--config", str(cfg_path)]
    proc = subprocess.Popen(args, env=env, stdout=log, stderr=log)  # noqa: ASYNC220
    say = (lambda *_: None) if quiet else print
    say(f"py-scheduler running (pid {proc.pid}); its log: {plane.logs / 'py-scheduler.log'}")
    placements: dict[str, Placement] = {}
    try:
        async with KubeClient(await load_configuration(str(plane.kubeconfig))) as kube:
            # simulate behaves as the kube-scheduler of the control plane's release, as
            # the live scheduler does.
            server = await discovery.discover(kube)
            say(f"Kubernetes {server.version}; simulate follows the same release")
            for path in sorted(examples.glob("[0-9]*.yaml")):  # noqa: ASYNC240 - a handful of files
                docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
                await _clear(kube)
                pending = await _apply(kube, docs)
                pods = await _settle(kube, [key for group in pending for key in group.live])
                events = (await kube.get("/apis/events.k8s.io/v1/namespaces/default/events")).get(
                    "items", []
                )
                # simulate sees what the workload controllers create live.
                snap = snapshots.parse(yaml.safe_dump_all(workloads.expand(docs)), str(path))
                predicted = {r.pod: r for r in await simulate(snap, cfg, seed=0, server=server)}
                say(f"\n== {path.name}")
                nodes = sorted(
                    n["metadata"]["name"]
                    for n in (await kube.get("/api/v1/nodes")).get("items", [])
                )
                say(f"   nodes: {', '.join(nodes)}")
                width = max([22, *(len(key) for group in pending for key in group.live)])
                for group in pending:
                    if group.deployment:
                        say(
                            f"   Deployment {group.deployment}: live replicas are paired "
                            "with simulate's by outcome, not by name"
                        )
                    for key, placement in pair_by_outcome(
                        [_live(key, pods, events) for key in group.live],
                        [_predicted(predicted.get(key)) for key in group.simulated],
                    ):
                        same = (placement.live == PENDING) == (placement.simulated == PENDING)
                        agree = "agrees" if same else "DIFFERS"
                        placements[f"{path.stem}:{key}"] = placement
                        say(f"   {key:<{width}} -> {placement.live:<10} {placement.reason}")
                        say(f"   {'':<{width}}    simulate: {placement.simulated} ({agree})")
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


def _live(key: str, pods: dict[str, JSON], events: list[JSON]) -> tuple[str, str, str]:
    pod = pods.get(key, {"metadata": {"uid": ""}, "spec": {}})
    return key, pod["spec"].get("nodeName") or PENDING, _why(pod, events)


def _predicted(result: Result | None) -> tuple[str, str]:
    if result is None:
        return PENDING, "(no prediction)"
    return result.node or PENDING, result.message


def main(examples: Path) -> int:
    logs.configure(level="warning", fmt="console")
    with launcher.running() as plane:
        print(f"local control plane at {plane.server} (logs: {plane.logs})")
        try:
            placements = asyncio.run(run_demo(plane, examples))
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    differ = sum(1 for p in placements.values() if (p.live == PENDING) != (p.simulated == PENDING))
    print("\nEvery example pod was placed or given the scheduler's reason.")
    if differ:
        print(f"{differ} placement(s) differ from simulate.")
    return 0
