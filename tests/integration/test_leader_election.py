"""Two replicas, one leader, on the real control plane.

We test these aspects:
- exactly one replica holds the Lease and only it schedules;
- after the leader is SIGKILLed the follower takes over within
  leaseDuration + retryPeriod, and pods are still bound once;
- after a clean SIGTERM the leader releases the Lease and a standby takes
  over within a few seconds; the stopped replica exits 0;
- a leader paused (SIGSTOP) until another took over runs no scheduling cycle
  when resumed (SIGCONT), and exits.

The replicas use their own profile (py-scheduler-ha) so that the session's
other scheduler never competes for these pods.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from controlplane.launcher import LocalControlPlane
from py_scheduler.kube.client import JSON, KubeClient
from tests.conftest import SchedulerProcess, start_scheduler
from tests.integration.kube import create_namespace, create_node, create_pod, eventually, unique

LEASE_DURATION = 15.0
RETRY_PERIOD = 2.0


def _config(
    tmp_path: Path,
    lease: str,
    *,
    durations: tuple[float, float, float] = (LEASE_DURATION, 10.0, RETRY_PERIOD),
) -> Path:
    lease_duration, renew_deadline, retry_period = durations
    path = tmp_path / "ha.yaml"
    path.write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\n"
        "kind: KubeSchedulerConfiguration\n"
        "leaderElection:\n"
        "  leaderElect: true\n"
        f"  resourceName: {lease}\n"
        "  resourceNamespace: default\n"
        f"  leaseDuration: {lease_duration}s\n"
        f"  renewDeadline: {renew_deadline}s\n"
        f"  retryPeriod: {retry_period}s\n"
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


PROFILES = [
    pytest.param((LEASE_DURATION, 10.0, RETRY_PERIOD), id="default lease 15s, renew 10s, retry 2s"),
    pytest.param((5.0, 3.0, 1.0), id="fast lease 5s, renew 3s, retry 1s"),
]


@pytest.mark.parametrize("durations", PROFILES)
async def test_failover_after_sigkill_and_after_clean_shutdown(
    api: KubeClient,
    control_plane: LocalControlPlane,
    tmp_path: Path,
    durations: tuple[float, float, float],
) -> None:
    lease_duration, _, retry_period = durations
    lease = unique("py-scheduler-ha")
    config_path = _config(tmp_path, lease, durations=durations)
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
            within=lease_duration + retry_period + 10,
            what="the follower to take the lease",
        )
        failover = time.monotonic() - killed_at
        print(f"\nfailover after SIGKILL: {failover:.1f}s (lease {lease_duration}s)")
        assert failover <= lease_duration + retry_period + 3

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
            within=lease_duration + 5,
            what="the standby to take the released lease",
        )
        handover = time.monotonic() - stopped_at
        print(f"failover after clean shutdown: {handover:.1f}s")
        assert handover <= retry_period + 3

        await create_pod(
            api, "third", ns, scheduler_name="py-scheduler-ha", node_selector={"test-group": group}
        )
        await _bound_once(api, ns, "third")
    finally:
        for replica in replicas.values():
            replica.stop(signal.SIGKILL, timeout=10)


async def test_a_paused_leader_resumes_without_scheduling_and_steps_down(
    api: KubeClient, control_plane: LocalControlPlane, tmp_path: Path
) -> None:
    lease = unique("py-scheduler-ha")
    config_path = _config(tmp_path, lease, durations=(4.0, 3.0, 1.0))
    ns, group = unique("paused"), unique("grp")
    await create_namespace(api, ns)
    await create_node(api, unique("node"), labels={"test-group": group})
    replicas: dict[str, SchedulerProcess] = {}
    try:
        for name in ("paused-a", "paused-b"):
            replicas[name] = start_scheduler(
                control_plane, config_path, name=name, env={"POD_NAME": name}
            )
        leader = await eventually(lambda: _holder(api, lease), bool, what="a leader")
        follower = next(n for n in replicas if n != leader)
        replicas[leader].proc.send_signal(signal.SIGSTOP)
        await eventually(
            lambda: _holder(api, lease), lambda h: h == follower, what="the follower leads"
        )
        # Pods the paused replica will see as soon as it resumes: none fits.
        for i in range(8):
            await create_pod(
                api,
                f"p-{i}",
                ns,
                scheduler_name="py-scheduler-ha",
                node_selector={"test-group": group, "absent": "label"},
            )
        await eventually(
            lambda: api.get(f"/api/v1/namespaces/{ns}/pods"),
            lambda found: all(
                any(c["type"] == "PodScheduled" for c in p["status"].get("conditions", []))
                for p in found["items"]
            ),
            what="the new leader's decisions on every pod",
        )
        resumed = datetime.now(UTC)
        replicas[leader].proc.send_signal(signal.SIGCONT)
        code = await asyncio.to_thread(replicas[leader].proc.wait, 30)
        assert code == 1, "the resumed ex-leader must exit: its lease is gone"
        lines = [
            orjson.loads(line)
            for line in replicas[leader].log.read_text().splitlines()
            if line.startswith("{")
        ]
        after = [
            e
            for e in lines
            if datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")) >= resumed
        ]
        cycles = [e for e in after if e.get("event") == "attempting to schedule pod"]
        assert cycles == [], f"the resumed ex-leader ran {len(cycles)} scheduling cycles"
        assert any(e.get("event") == "exiting: the leader lease was lost" for e in after)
    finally:
        for replica in replicas.values():
            if replica.proc.poll() is None:
                replica.proc.send_signal(signal.SIGCONT)
            replica.stop(signal.SIGKILL, timeout=10)
