"""Faults the scheduler must ride out on the real control plane.

We test these aspects:
- the API server restarted mid-run: watches resume (a fresh watch cache
  answers the old resourceVersion with 410 Gone, so they relist), no pod is
  lost, none is bound twice, and scheduling resumes;
- a burst of 2000 pods arriving at once: all are scheduled, none is lost,
  and no node is overcommitted.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import orjson

from controlplane.launcher import LocalControlPlane
from py_scheduler.kube.client import JSON, KubeClient
from tests.integration.kube import create_namespace, create_node, create_pod, eventually, unique


async def _pods(api: KubeClient, ns: str) -> list[JSON]:
    pods = await api.get(f"/api/v1/namespaces/{ns}/pods")
    return list(pods["items"])


async def _scheduled_events(api: KubeClient, ns: str) -> Counter[str]:
    events = await api.get(f"/apis/events.k8s.io/v1/namespaces/{ns}/events")
    return Counter(e["regarding"]["name"] for e in events["items"] if e["reason"] == "Scheduled")


async def test_api_server_restart_loses_no_pod_and_binds_none_twice(
    api: KubeClient, control_plane: LocalControlPlane, scheduler_process: str
) -> None:
    ns, group = unique("restart"), unique("grp")
    await create_namespace(api, ns)
    for _ in range(3):
        await create_node(api, unique("node"), labels={"test-group": group})
    for i in range(30):
        await create_pod(api, f"before-{i}", ns, node_selector={"test-group": group})
    await asyncio.to_thread(control_plane.restart_apiserver)
    for i in range(30):
        await create_pod(api, f"after-{i}", ns, node_selector={"test-group": group})
    pods = await eventually(
        lambda: _pods(api, ns),
        lambda items: len(items) == 60 and all("nodeName" in p["spec"] for p in items),
        within=60,
        what="all 60 pods bound after the restart",
    )
    assert len(pods) == 60
    # Events are best effort (one written while the server was down is lost),
    # but no pod may have two: that would mean two binds.
    events = await _scheduled_events(api, ns)
    assert max(events.values()) == 1, "a pod was bound twice"
    lines = [
        orjson.loads(line)
        for line in (control_plane.logs / "py-scheduler.log").read_text().splitlines()
        if line.startswith("{")
    ]
    binds = Counter(
        e["pod"] for e in lines if e.get("event") == "pod bound" and e["pod"].startswith(ns)
    )
    assert len(binds) <= 60
    assert max(binds.values()) == 1, "a pod was bound twice"
    assert any(
        e.get("event") in ("watch expired; relisting", "watch failed; retrying") for e in lines
    )


async def test_a_burst_of_2000_pods_is_scheduled_without_loss(
    api: KubeClient, scheduler_process: str
) -> None:
    ns, group = unique("burst"), unique("grp")
    await create_namespace(api, ns)
    nodes = [unique("node") for _ in range(20)]
    for name in nodes:
        await create_node(api, name, labels={"test-group": group})
    start = time.monotonic()
    semaphore = asyncio.Semaphore(50)

    async def one(i: int) -> None:
        async with semaphore:
            await create_pod(
                api, f"p-{i}", ns, requests={"cpu": "10m"}, node_selector={"test-group": group}
            )

    await asyncio.gather(*(one(i) for i in range(2000)))
    pods = await eventually(
        lambda: _pods(api, ns),
        lambda items: len(items) == 2000 and all("nodeName" in p["spec"] for p in items),
        within=240,
        what="2000 pods bound",
    )
    elapsed = time.monotonic() - start
    per_node = Counter(p["spec"]["nodeName"] for p in pods)
    assert set(per_node) <= set(nodes)
    assert max(per_node.values()) <= 110, "a node got more pods than it allows"
    print(f"\n2000 pods created and bound in {elapsed:.1f}s")
