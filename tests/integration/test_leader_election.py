"""Two replicas, one leader, on the real control plane.

We test these aspects:
- exactly one replica holds the Lease and only it schedules;
- after the leader is SIGKILLed the follower takes over within
  leaseDuration + retryPeriod, and pods are still bound once;
- after a clean SIGTERM the leader releases the Lease and a standby takes
  over within a few seconds; the stopped replica exits 0.

The replicas use their own profile (py-scheduler-ha) so that the session's
other scheduler never competes for these pods.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
import urllib.request
from pathlib import Path

from controlplane.launcher import LocalControlPlane
from py_scheduler.kube.client import JSON, KubeClient
from tests.conftest import SchedulerProcess, start_scheduler
from tests.integration.kube import create_namespace, create_node, create_pod, eventually, unique

LEASE_DURATION = 15.0
RETRY_PERIOD = 2.0


def _config(tmp_path: Path, lease: str) -> Path:
    path = tmp_path / "ha.yaml"
    path.write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\n"
        "kind: KubeSchedulerConfiguration\n"
        "leaderElection:\n"
        "  leaderElect: true\n"
        f"  resourceName: {lease}\n"
        "  resourceNamespace: default\n"
        f"  leaseDuration: {int(LEASE_DURATION)}s\n"
        "  renewDeadline: 10s\n"
        f"  retryPeriod: {int(RETRY_PERIOD)}s\n"
        "profiles:\n"
        "- schedulerName: py-scheduler-ha\n"
    )
    return path


def _master_status(base: str, lease: str) -> float | None:
    with urllib.request.urlopen(f"{base}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    match = re.search(rf'^leader_election_master_status{{name="{lease}"}} (\S+)$', text, re.M)
    return float(match.group(1)) if match else None


async def _holder(api: KubeClient, lease: str) -> str:
    try:
        body = await api.get(f"/apis/coordination.k8s.io/v1/namespaces/default/leases/{lease}")
    except Exception:
        return ""
    spec: JSON = body.get("spec", {})
    return str(spec.get("holderIdentity") or "")


async def _bound_once(api: KubeClient, ns: str, name: str) -> JSON:
    pod = await eventually(
        lambda: api.get(f"/api/v1/namespaces/{ns}/pods/{name}"),
        lambda p: "nodeName" in p["spec"],
        what=f"{name} bound",
    )

    async def scheduled() -> list[JSON]:
        events = await api.get(f"/apis/events.k8s.io/v1/namespaces/{ns}/events")
        return [
            e
            for e in events["items"]
            if e["regarding"]["name"] == name and e["reason"] == "Scheduled"
        ]

    await eventually(scheduled, bool, what=f"{name} Scheduled event")
    # Only the leader schedules: one decision, one event.
    await asyncio.sleep(0.5)
    assert len(await scheduled()) == 1
    return pod


async def test_failover_after_sigkill_and_after_clean_shutdown(
    api: KubeClient, control_plane: LocalControlPlane, tmp_path: Path
) -> None:
    lease = unique("py-scheduler-ha")
    config_path = _config(tmp_path, lease)
    ns, group = unique("ha"), unique("grp")
    await create_namespace(api, ns)
    await create_node(api, unique("node"), labels={"test-group": group})
    replicas: dict[str, SchedulerProcess] = {}
    try:
        for name in ("replica-a", "replica-b"):
            replicas[name] = start_scheduler(
                control_plane, config_path, name=name, env={"POD_NAME": name}
            )
        leader = await eventually(lambda: _holder(api, lease), bool, what="a leader")
        follower = next(n for n in replicas if n != leader)
        # client-go's gauge, per lease name: 1 on the leader, 0 on the follower.
        for name, expected in ((leader, 1.0), (follower, 0.0)):
            base = replicas[name].base

            async def status(base: str = base) -> float | None:
                return await asyncio.to_thread(_master_status, base, lease)

            def reached(value: float | None, expected: float = expected) -> bool:
                return value == expected

            await eventually(
                status, reached, what=f"leader_election_master_status {expected} on {name}"
            )

        await create_pod(
            api, "first", ns, scheduler_name="py-scheduler-ha", node_selector={"test-group": group}
        )
        await _bound_once(api, ns, "first")

        killed_at = time.monotonic()
        replicas[leader].stop(signal.SIGKILL)
        await eventually(
            lambda: _holder(api, lease),
            lambda h: h == follower,
            within=LEASE_DURATION + RETRY_PERIOD + 10,
            what="the follower to take the lease",
        )
        failover = time.monotonic() - killed_at
        print(f"\nfailover after SIGKILL: {failover:.1f}s")
        assert failover <= LEASE_DURATION + RETRY_PERIOD + 3

        await create_pod(
            api, "second", ns, scheduler_name="py-scheduler-ha", node_selector={"test-group": group}
        )
        await _bound_once(api, ns, "second")

        # A standby for the clean handover.
        replicas["replica-c"] = start_scheduler(
            control_plane, config_path, name="replica-c", env={"POD_NAME": "replica-c"}
        )
        await asyncio.sleep(1.0)
        stopped_at = time.monotonic()
        code = replicas[follower].stop(signal.SIGTERM)
        assert code == 0
        await eventually(
            lambda: _holder(api, lease),
            lambda h: h == "replica-c",
            within=LEASE_DURATION,
            what="the standby to take the released lease",
        )
        handover = time.monotonic() - stopped_at
        print(f"failover after clean shutdown: {handover:.1f}s")
        assert handover <= RETRY_PERIOD + 3

        await create_pod(
            api, "third", ns, scheduler_name="py-scheduler-ha", node_selector={"test-group": group}
        )
        await _bound_once(api, ns, "third")
    finally:
        for replica in replicas.values():
            replica.stop(signal.SIGKILL, timeout=10)
