"""API faults the scheduler must ride out, injected by a proxy in front of
the real API server (tests/integration/faultproxy.py).

We test these aspects:
- a bind answered 409 because the pod was bound elsewhere meanwhile is
  dropped, never retried, and frees the node the scheduler had assumed;
- a bind answered 409 while the pod is neither bound nor gone (etcd
  unavailable) is not final: it is rolled back and retried until bound;
- a bind answered 500 then 503 is rolled back, retried with backoff, and the
  pod is bound exactly once, with a FailedScheduling event for the failure;
- a pod deleted between assume and bind leaves nothing assumed behind;
- a watch ended with 410 Gone (as an ERROR event or as HTTP 410) relists:
  objects created meanwhile are seen, nothing is counted twice, and a pod
  bound while the watch was down stays counted;
- watch streams cut off mid-response resume without losing anything, and a
  watch that goes silent with its connection open is replaced within ~15 s;
- malformed objects in lists and watches are skipped with a logged reason,
  and absurd but valid quantities do not break the loop;
- event and pod-status writes answered 500/503 neither stop binds nor lose
  the PodScheduled condition;
- a pod the decoder refuses gets PodScheduled=False (SchedulerError) naming
  the field, and a pod whose watch event was lost is found by the pending-pod
  sweep and scheduled;
- an endpoint that silently drops everything fails /livez, and scheduling
  resumes once it answers again;
- an endpoint that resets every connection for a minute is survived by a
  running scheduler (whose /livez fails meanwhile) and by one starting
  during it; both resume within seconds once it heals;
- after every test, every pending pod of ours has a decision (a fixture);
- every request the scheduler sent through the proxy, DynamicResources' claim
  writes included, is one the code-derived RBAC table grants.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from controlplane.launcher import LocalControlPlane
from py_scheduler.kube import rbac
from py_scheduler.kube.client import JSON, KubeClient
from tests.builders import raw_node, raw_pod
from tests.builders_dra import exactly, raw_claim, raw_class, raw_device, raw_slice
from tests.conftest import SchedulerProcess, start_scheduler
from tests.integration.faultproxy import FaultProxy, binding_path
from tests.integration.kube import (
    create_namespace,
    create_node,
    create_pod,
    eventually,
    for_create,
    read_pod,
    unique,
)

PROFILE = "py-scheduler-faults"
SMALL = {"cpu": "1", "memory": "4Gi", "pods": "110"}
LIVE_PODS = "status.phase!=Succeeded,status.phase!=Failed"
SWEEP_INTERVAL = 2.0
LIVEZ_API_TIMEOUT = 10.0
OUTAGE = 60.0  # seconds the API endpoint resets every connection


@pytest.fixture(scope="module")
def proxy(control_plane: LocalControlPlane) -> Iterator[FaultProxy]:
    running = FaultProxy(control_plane.server, control_plane.token)
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def faulty(
    control_plane: LocalControlPlane, proxy: FaultProxy, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SchedulerProcess]:
    """A scheduler of its own profile that reaches the API only through the proxy."""
    workdir = tmp_path_factory.mktemp("faults")
    kubeconfig = workdir / "kubeconfig"
    proxy.write_kubeconfig(str(kubeconfig))
    config = workdir / "config.yaml"
    config.write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\n"
        "kind: KubeSchedulerConfiguration\n"
        "leaderElection: {leaderElect: false}\n"
        "podInitialBackoffSeconds: 1\n"
        "podMaxBackoffSeconds: 2\n"
        f"profiles:\n- schedulerName: {PROFILE}\n"
    )
    running = start_scheduler(
        control_plane,
        config,
        name=PROFILE,
        env={"KUBECONFIG": str(kubeconfig)},
        extra_args=(
            "--pending-sweep-interval",
            str(SWEEP_INTERVAL),
            "--livez-api-timeout",
            str(LIVEZ_API_TIMEOUT),
        ),
    )
    try:
        yield running
    finally:
        proxy.reset()
        code = running.stop(signal.SIGTERM)
        assert code == 0, f"{PROFILE} exited with {code} on SIGTERM; see {running.log}"


@pytest.fixture(autouse=True)
async def _every_pending_pod_decided(api: KubeClient) -> AsyncIterator[None]:
    """After each fault, every pending pod of ours gets a decision: a node, or
    PodScheduled=False with a reason (gated pods carry the API's own)."""
    yield

    async def undecided() -> list[str]:
        found = await api.get(
            "/api/v1/pods",
            {"fieldSelector": f"spec.schedulerName={PROFILE},spec.nodeName=,status.phase=Pending"},
        )
        return [
            f"{p['metadata']['namespace']}/{p['metadata']['name']}"
            for p in found["items"]
            if not p["metadata"].get("deletionTimestamp")
            and not any(
                c["type"] == "PodScheduled" and c["status"] == "False" and c.get("reason")
                for c in p["status"].get("conditions", [])
            )
        ]

    await eventually(undecided, lambda pods: not pods, what="every pending pod decided")


@pytest.fixture(autouse=True)
def _forward_everything_after(
    proxy: FaultProxy, _every_pending_pod_decided: None
) -> Iterator[None]:
    # Torn down before the sweep above, so that the writes it waits for get through.
    yield
    proxy.reset()


# -- reading the scheduler and the cluster ----------------------------------------------


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.status, resp.read().decode()


async def metrics(running: SchedulerProcess) -> dict[str, float]:
    """Every sample of /metrics, keyed by name and labels as exposed."""
    _status, text = await asyncio.to_thread(_get, f"{running.base}/metrics")
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            samples[key] = float(value)
    return samples


def assumed(samples: dict[str, float]) -> float:
    return samples['scheduler_cache_size{type="assumed_pods"}']


def bind_failures(samples: dict[str, float], reason: str) -> float:
    return samples.get(f'py_scheduler_bind_failures_total{{reason="{reason}"}}', 0.0)


def log_events(running: SchedulerProcess, event: str) -> list[JSON]:
    lines = running.log.read_text().splitlines()
    decoded = (orjson.loads(line) for line in lines if line.startswith("{"))
    return [e for e in decoded if e.get("event") == event]


async def node_of(api: KubeClient, ns: str, name: str, within: float = 30) -> str:
    pod = await eventually(
        lambda: read_pod(api, name, ns),
        lambda p: bool(p["spec"].get("nodeName")),
        within=within,
        what=f"{ns}/{name} bound",
    )
    return str(pod["spec"]["nodeName"])


async def events_of(api: KubeClient, ns: str, pod: str) -> list[JSON]:
    found = await api.get(f"/apis/events.k8s.io/v1/namespaces/{ns}/events")
    return [e for e in found["items"] if e["regarding"]["name"] == pod]


async def failed_scheduling(api: KubeClient, ns: str, name: str) -> list[JSON]:
    return await eventually(
        lambda: events_of(api, ns, name),
        lambda found: any(e["reason"] == "FailedScheduling" for e in found),
        what=f"a FailedScheduling event for {ns}/{name}",
    )


async def counts_agree(api: KubeClient, running: SchedulerProcess) -> None:
    """The cache holds exactly the API's nodes and live assigned pods: a relist
    that lost or double-counted anything would show here."""

    async def both() -> tuple[tuple[int, int], tuple[float, float, float]]:
        pods = await api.get("/api/v1/pods", {"fieldSelector": LIVE_PODS})
        nodes = await api.get("/api/v1/nodes")
        assigned = sum(1 for p in pods["items"] if p["spec"].get("nodeName"))
        samples = await metrics(running)
        cached = (
            samples['scheduler_cache_size{type="pods"}'],
            samples['scheduler_cache_size{type="nodes"}'],
            assumed(samples),
        )
        return (assigned, len(nodes["items"])), cached

    await eventually(
        both,
        lambda seen: (*seen[0], 0) == seen[1],
        within=20,
        what="cache sizes (pods, nodes, assumed) equal to the API's (assigned pods, nodes, 0)",
    )


async def group(api: KubeClient, count: int = 1, **allocatable: str) -> tuple[str, list[str]]:
    name = unique("grp")
    nodes = [unique("node") for _ in range(count)]
    for node in nodes:
        await create_node(api, node, labels={"test-group": name}, allocatable=allocatable or SMALL)
    return name, nodes


async def pod(api: KubeClient, name: str, ns: str, grp: str, cpu: str, **kwargs: Any) -> JSON:
    return await create_pod(
        api,
        name,
        ns,
        scheduler_name=PROFILE,
        requests={"cpu": cpu},
        node_selector={"test-group": grp},
        **kwargs,
    )


async def namespace(api: KubeClient, prefix: str) -> str:
    ns = unique(prefix)
    await create_namespace(api, ns)
    return ns


# -- binds ------------------------------------------------------------------------------


async def test_a_bind_answered_409_is_dropped_and_frees_the_assumed_node(
    api: KubeClient, proxy: FaultProxy, faulty: SchedulerProcess
) -> None:
    ns = await namespace(api, "conflict")
    grp, nodes = await group(api, 2)
    before = bind_failures(await metrics(faulty), "Conflict")
    gate = proxy.hold("POST", re.escape(binding_path(ns, "a")) + "$")
    await pod(api, "a", ns, grp, "600m")
    chosen = (await gate.reached())["target"]["name"]
    other = next(n for n in nodes if n != chosen)
    # /metrics may answer from its one-second render cache: wait for a render
    # of this moment (the bind is held, so nothing changes meanwhile).
    await eventually(
        lambda: metrics(faulty), lambda s: assumed(s) == 1, within=5, what="the pod assumed"
    )
    # Someone else binds the pod while our bind is on its way.
    await api.post(
        f"/api/v1/namespaces/{ns}/pods/a/binding",
        {"metadata": {"name": "a"}, "target": {"kind": "Node", "name": other}},
    )
    gate.release()
    assert await node_of(api, ns, "a") == other
    samples = await eventually(
        lambda: metrics(faulty),
        lambda s: bind_failures(s, "Conflict") == before + 1 and assumed(s) == 0,
        what="the 409 counted and the assumed pod forgotten",
    )
    assert assumed(samples) == 0
    # Only the node it was assumed on can take a pod that needs a whole node.
    await pod(api, "whole", ns, grp, "1")
    assert await node_of(api, ns, "whole") == chosen
    assert [s.status for s in proxy.seen() if s.path == binding_path(ns, "a")] == [409]


async def test_a_bind_answered_500_then_503_is_rolled_back_and_retried_until_bound(
    api: KubeClient, proxy: FaultProxy, faulty: SchedulerProcess
) -> None:
    ns = await namespace(api, "bind5xx")
    grp, [node] = await group(api, 1)
    before = bind_failures(await metrics(faulty), "Error")
    path = binding_path(ns, "p")
    proxy.answer("POST", re.escape(path) + "$", 500, 503)
    third = proxy.hold("POST", re.escape(path) + "$")
    await pod(api, "p", ns, grp, "600m")
    # Between attempts (backoff of 1 s, then 2 s) nothing stays assumed.
    rolled_back = 0
    deadline = time.monotonic() + 30
    while not third.arrived.is_set():
        samples = await metrics(faulty)
        if bind_failures(samples, "Error") > before and assumed(samples) == 0:
            rolled_back += 1
        assert time.monotonic() < deadline, "no third bind attempt within 30s"
        await asyncio.sleep(0.05)
    assert rolled_back > 0, "the pod stayed assumed after a failed bind"
    # The third attempt is held at the proxy: this state holds until released,
    # so waiting out the render cache of /metrics loses nothing.
    samples = await eventually(
        lambda: metrics(faulty),
        lambda s: assumed(s) == 1,
        within=5,
        what="the third attempt assumed",
    )
    assert bind_failures(samples, "Error") == before + 2
    third.release()
    assert await node_of(api, ns, "p") == node
    await eventually(
        lambda: asyncio.to_thread(lambda: [s.status for s in proxy.seen() if s.path == path]),
        lambda statuses: statuses == [500, 503, 201],
        what="three bind attempts: 500, 503, then bound",
    )
    events = await eventually(
        lambda: events_of(api, ns, "p"),
        lambda found: any(e["reason"] == "Scheduled" for e in found),
        what="the Scheduled event",
    )
    failed = [e for e in events if e["reason"] == "FailedScheduling"]
    assert failed, "no FailedScheduling event for the failed binds"
    assert all(e["type"] == "Warning" for e in failed)
    assert any("binding rejected" in e["note"] and "500" in e["note"] for e in failed)
    assert sum(e["reason"] == "Scheduled" for e in events) == 1


async def test_a_bind_answered_409_while_etcd_is_unavailable_is_retried_until_bound(
    api: KubeClient, proxy: FaultProxy, faulty: SchedulerProcess
) -> None:
    # What the API server answered a bind during an etcd restart: a 409 that
    # does not mean "already bound". The pod is neither bound nor gone.
    ns = await namespace(api, "conflict-etcd")
    grp, [node] = await group(api, 1)
    path = binding_path(ns, "p")
    proxy.answer(
        "POST",
        re.escape(path) + "$",
        409,
        message='Operation cannot be fulfilled on pods/binding "p": rpc error: '
        "code = Unavailable desc = error reading from server: EOF",
    )
    await pod(api, "p", ns, grp, "600m")
    assert await node_of(api, ns, "p") == node
    assert [s.status for s in proxy.seen() if s.path == path] == [409, 201]
    failed = await failed_scheduling(api, ns, "p")
    assert any("rpc error" in e["note"] for e in failed)
    await eventually(lambda: metrics(faulty), lambda s: assumed(s) == 0, what="nothing assumed")


async def test_a_pod_deleted_between_assume_and_bind_leaves_nothing_assumed(
    api: KubeClient, proxy: FaultProxy, faulty: SchedulerProcess
) -> None:
    ns = await namespace(api, "deleted")
    grp, [node] = await group(api, 1)
    path = binding_path(ns, "gone")
    gate = proxy.hold("POST", re.escape(path) + "$")
    await pod(api, "gone", ns, grp, "600m")
    await gate.reached()
    await api.delete(f"/api/v1/namespaces/{ns}/pods/gone", {"gracePeriodSeconds": 0})
    await eventually(
        lambda: api.get(f"/api/v1/namespaces/{ns}/pods"),
        lambda found: not found["items"],
        what="the pod deleted",
    )
    gate.release()
    await eventually(
        lambda: asyncio.to_thread(lambda: proxy.count("POST", path)),
        lambda n: n == 1,
        what="the held bind answered",
    )
    await eventually(lambda: metrics(faulty), lambda s: assumed(s) == 0, what="nothing assumed")
    await pod(api, "whole", ns, grp, "1")
    assert await node_of(api, ns, "whole") == node
    await asyncio.sleep(2)  # longer than the first backoff: a retry would show
    assert proxy.count("POST", path) == 1
    assert await asyncio.to_thread(_get, f"{faulty.base}/healthz") == (200, "ok")


# -- watches ----------------------------------------------------------------------------


@pytest.mark.parametrize("event_form", [True, False], ids=["error-event", "http-410"])
async def test_a_watch_ended_with_410_gone_relists_and_counts_nothing_twice(
    api: KubeClient, proxy: FaultProxy, faulty: SchedulerProcess, event_form: bool
) -> None:
    ns = await namespace(api, "gone")
    grp, [node] = await group(api, 1)
    await pod(api, "first", ns, grp, "600m")
    assert await node_of(api, ns, "first") == node
    relists = len(log_events(faulty, "watch expired; relisting"))

    # Pods: the open watch ends with 410; the next watch is held, pods are
    # created meanwhile, then it too is answered 410, so they reach the
    # scheduler only through the relist.
    held = proxy.hold("GET", r"^/api/v1/pods$", then=410, watch=True, event_form=event_form)
    proxy.expire_watches("pods", event_form=event_form)
    await held.reached()
    await pod(api, "second", ns, grp, "400m")  # fits only if "first" is counted once
    lists = proxy.count("GET", "/api/v1/pods")
    held.release()

    # Nodes: the same, with a node created while its watch fails.
    late_grp = unique("grp")
    held = proxy.hold("GET", r"^/api/v1/nodes$", then=410, watch=True, event_form=event_form)
    proxy.expire_watches("nodes", event_form=event_form)
    await held.reached()
    late = unique("node")
    await create_node(api, late, labels={"test-group": late_grp}, allocatable=SMALL)
    held.release()
    await pod(api, "third", ns, late_grp, "100m")

    assert await node_of(api, ns, "second") == node
    assert await node_of(api, ns, "third") == late
    assert proxy.count("GET", "/api/v1/pods") > lists, "no relist after the 410"
    gone = log_events(faulty, "watch expired; relisting")[relists:]
    assert {e["watch"] for e in gone} == {"pods", "nodes"}
    await counts_agree(api, faulty)


async def test_a_pod_bound_while_the_watch_is_down_stays_counted_after_the_relist(
    api: KubeClient, proxy: FaultProxy, faulty: SchedulerProcess
) -> None:
    ns = await namespace(api, "unseen")
    grp, [node] = await group(api, 1)
    path = binding_path(ns, "a")
    bind = proxy.hold("POST", re.escape(path) + "$")
    await pod(api, "a", ns, grp, "600m")
    await bind.reached()
    # The pod watch breaks before the bind lands, so its update is never
    # watched: the scheduler learns of it only from the relist.
    rewatch = proxy.hold("GET", r"^/api/v1/pods$", then=410, watch=True)
    proxy.cut_watches("pods")
    await rewatch.reached()
    bind.release()
    assert await node_of(api, ns, "a") == node
    await eventually(
        lambda: asyncio.to_thread(lambda: [s.status for s in proxy.seen() if s.path == path]),
        lambda statuses: statuses == [201],
        what="the held bind answered",
    )
    rewatch.release()
    await counts_agree(api, faulty)
    # Forgetting "a" would overcommit its node with this one.
    await pod(api, "b", ns, grp, "600m")
    await failed_scheduling(api, ns, "b")
    assert not (await read_pod(api, "b", ns))["spec"].get("nodeName")


async def test_watches_cut_off_mid_stream_resume_and_lose_nothing(
    api: KubeClient, proxy: FaultProxy, faulty: SchedulerProcess
) -> None:
    ns = await namespace(api, "cut")
    grp, nodes = await group(api, 2)
    watches = sum(1 for s in proxy.seen() if s.watch)
    for i in range(5):
        proxy.cut_watches("pods")
        proxy.cut_watches("nodes")
        await pod(api, f"p-{i}", ns, grp, "100m")
        await asyncio.sleep(0.5)
    for i in range(5):
        assert await node_of(api, ns, f"p-{i}", within=60) in nodes
        assert proxy.count("POST", binding_path(ns, f"p-{i}")) == 1
    assert sum(1 for s in proxy.seen() if s.watch) - watches >= 2, "no watch was cut"
    assert log_events(faulty, "watch failed; retrying")
    await counts_agree(api, faulty)


async def test_a_silently_dead_watch_is_replaced_within_about_15_seconds(
    api: KubeClient, proxy: FaultProxy, faulty: SchedulerProcess
) -> None:
    ns = await namespace(api, "stalled")
    grp, [node] = await group(api, 1)
    await pod(api, "before", ns, grp, "100m")
    assert await node_of(api, ns, "before") == node
    watches = proxy.count("GET", "/api/v1/pods", watch=True)
    proxy.stall_watches("pods")
    stalled_at = time.monotonic()
    await eventually(
        lambda: asyncio.to_thread(proxy.count, "GET", "/api/v1/pods", watch=True),
        lambda n: n > watches,
        within=30,
        what="a new pod watch in place of the silent one",
    )
    replaced = time.monotonic() - stalled_at
    print(f"\nsilent pod watch replaced after {replaced:.1f}s")
    assert replaced < 20
    await pod(api, "after", ns, grp, "100m")
    assert await node_of(api, ns, "after") == node


# -- malformed and absurd objects --------------------------------------------------------


async def test_malformed_objects_from_the_api_are_skipped_with_a_reason(
    api: KubeClient, proxy: FaultProxy, faulty: SchedulerProcess
) -> None:
    ns = await namespace(api, "malformed")
    grp, [node] = await group(api, 1)
    bad_node = raw_node(unique("bad-node"), allocatable={"cpu": "absurd", "pods": "110"})
    nameless = raw_pod("nameless", namespace=ns, scheduler_name=PROFILE)
    del nameless["metadata"]["name"]
    bad_quantity = raw_pod(
        "bad-quantity", namespace=ns, scheduler_name=PROFILE, requests={"cpu": "12xyz"}
    )
    # Into the open watches at once, and into every list after the relists below.
    proxy.inject("nodes", [bad_node])
    proxy.inject("pods", [nameless, bad_quantity])
    await asyncio.sleep(0.5)
    proxy.expire_watches("nodes", event_form=True)
    proxy.expire_watches("pods", event_form=True)
    await pod(api, "valid", ns, grp, "100m")
    assert await node_of(api, ns, "valid") == node

    skipped = await eventually(
        lambda: asyncio.to_thread(log_events, faulty, "malformed object skipped"),
        lambda found: (
            {e["object"] for e in found}
            >= {f"/{bad_node['metadata']['name']}", f"{ns}/?", f"{ns}/bad-quantity"}
        ),
        what="a skip logged for each malformed object",
    )
    by_object = {e["object"]: e for e in skipped}
    assert "allocatable.cpu" in by_object[f"/{bad_node['metadata']['name']}"]["field"]
    assert by_object[f"{ns}/?"]["field"].endswith("metadata.name")
    assert "12xyz" in by_object[f"{ns}/bad-quantity"]["reason"]
    # Each was seen twice: once as a watch event, once in the relist.
    assert sum(e["object"] == f"{ns}/bad-quantity" for e in skipped) >= 2
    assert faulty.proc.poll() is None
    assert await asyncio.to_thread(_get, f"{faulty.base}/healthz") == (200, "ok")
    proxy.reset()
    await counts_agree(api, faulty)


async def test_absurd_but_valid_quantities_do_not_break_the_loop(
    api: KubeClient, faulty: SchedulerProcess
) -> None:
    ns = await namespace(api, "absurd")
    huge_grp, [huge] = await group(api, 1, cpu="100000000", memory="1E", pods="1000000")
    small_grp, _ = await group(api, 1)
    await pod(api, "big", ns, huge_grp, "50000000")
    await pod(api, "impossible", ns, small_grp, "999999")
    await pod(api, "too-big", ns, huge_grp, "999999999")
    assert await node_of(api, ns, "big") == huge
    for name in ("impossible", "too-big"):
        events = await failed_scheduling(api, ns, name)
        assert any("Insufficient cpu" in e["note"] for e in events)
    await pod(api, "after", ns, small_grp, "100m")
    await node_of(api, ns, "after")
    assert faulty.proc.poll() is None
    assert await asyncio.to_thread(_get, f"{faulty.base}/healthz") == (200, "ok")


# -- writes besides binds -----------------------------------------------------------------


async def test_failed_event_and_status_writes_neither_stop_binds_nor_lose_conditions(
    api: KubeClient, proxy: FaultProxy, faulty: SchedulerProcess
) -> None:
    ns = await namespace(api, "writes")
    grp, [node] = await group(api, 1)
    events = rf"^/apis/events\.k8s\.io/v1/namespaces/{ns}/events$"
    status = rf"^/api/v1/namespaces/{ns}/pods/[^/]+/status$"

    proxy.answer("POST", events, 500)
    await pod(api, "bound", ns, grp, "100m")
    assert await node_of(api, ns, "bound") == node

    # An event write that fails must not cost the pod its PodScheduled condition,
    # and a status patch answered 503 once is retried.
    proxy.answer("POST", events, 503)
    proxy.answer("PATCH", status, 503)
    await pod(api, "stuck", ns, grp, "2")
    stuck = await eventually(
        lambda: read_pod(api, "stuck", ns),
        lambda p: any(
            c["type"] == "PodScheduled" and c["status"] == "False"
            for c in p["status"].get("conditions", [])
        ),
        what="PodScheduled=False on the unschedulable pod",
    )
    [condition] = [c for c in stuck["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert condition["reason"] == "Unschedulable"
    faults = [s.status for s in proxy.seen() if s.status in (500, 503) and ns in s.path]
    assert sorted(faults) == [500, 503, 503], "the injected faults were not all hit"
    assert faulty.proc.poll() is None
    assert await asyncio.to_thread(_get, f"{faulty.base}/healthz") == (200, "ok")


# -- every pending pod of ours gets a decision -----------------------------------------------


async def test_a_pod_whose_watch_event_was_lost_is_found_by_the_sweep_and_bound(
    api: KubeClient, proxy: FaultProxy, faulty: SchedulerProcess
) -> None:
    ns = await namespace(api, "lost")
    grp, [node] = await group(api, 1)
    before = (await metrics(faulty)).get("py_scheduler_requeued_by_sweep_total", 0.0)
    proxy.drop_events("pods", "lost")  # its ADDED event never reaches the scheduler
    await pod(api, "lost", ns, grp, "100m")
    assert await node_of(api, ns, "lost", within=4 * SWEEP_INTERVAL + 30) == node
    found = log_events(faulty, "pending pod unknown to the queue; requeued")
    assert any(e["pod"] == f"{ns}/lost" for e in found)
    samples = await eventually(
        lambda: metrics(faulty),
        lambda s: s.get("py_scheduler_requeued_by_sweep_total", 0.0) > before,
        within=5,
        what="the sweep's requeue counted",
    )
    assert samples["py_scheduler_requeued_by_sweep_total"] == before + 1
    await counts_agree(api, faulty)


async def test_a_pod_the_decoder_refuses_gets_a_scheduler_error_naming_the_field(
    api: KubeClient, proxy: FaultProxy, faulty: SchedulerProcess
) -> None:
    ns = await namespace(api, "invalid")
    # Gated, so that only the invalid copy below leads to a decision.
    created = await create_pod(api, "odd", ns, scheduler_name=PROFILE, gates=["example.com/wait"])
    malformed = {
        **created,
        "spec": {
            **created["spec"],
            "containers": [
                {**created["spec"]["containers"][0], "resources": {"requests": {"cpu": "12xyz"}}}
            ],
        },
    }
    proxy.inject("pods", [malformed])
    odd = await eventually(
        lambda: read_pod(api, "odd", ns),
        lambda p: any(
            c["type"] == "PodScheduled" and c.get("reason") == "SchedulerError"
            for c in p["status"].get("conditions", [])
        ),
        what="PodScheduled=False (SchedulerError) on the pod the decoder refused",
    )
    [condition] = [c for c in odd["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert condition["status"] == "False"
    assert condition["message"].startswith(
        "invalid pod: spec.containers[0].resources.requests.cpu: quantity '12xyz'"
    )
    events = await failed_scheduling(api, ns, "odd")
    assert any(e["note"] == condition["message"] for e in events)
    samples = await metrics(faulty)
    assert samples["py_scheduler_invalid_pods"] >= 1
    proxy.reset()


# -- an API endpoint that resets every connection ------------------------------------------------


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


async def test_an_endpoint_resetting_every_connection_for_a_minute_is_survived(
    api: KubeClient,
    proxy: FaultProxy,
    faulty: SchedulerProcess,
    control_plane: LocalControlPlane,
    tmp_path: Path,
) -> None:
    # A running scheduler and one starting while the endpoint resets every
    # connection (a load balancer with no healthy backend), for a minute.
    kubeconfig = tmp_path / "kubeconfig"
    proxy.write_kubeconfig(str(kubeconfig))
    config = tmp_path / "config.yaml"
    config.write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\n"
        "kind: KubeSchedulerConfiguration\n"
        "leaderElection: {leaderElect: false}\n"
        "profiles: [{schedulerName: py-scheduler-starting}]\n"
    )
    proxy.reset_all()
    started_at = time.monotonic()
    starting = start_scheduler(
        control_plane,
        config,
        name="starting-during-outage",
        env={"KUBECONFIG": str(kubeconfig)},
        wait_ready=False,
    )
    try:
        # The running one notices: /livez fails once the API is silent too long.
        await eventually(
            lambda: asyncio.to_thread(_status, f"{faulty.base}/livez"),
            lambda code: code == 503,
            within=LIVEZ_API_TIMEOUT + 20,
            what="/livez failing without the API server",
        )
        retried = await eventually(
            lambda: asyncio.to_thread(
                lambda: (
                    # Discovery comes first at start-up, then the watches: both retry.
                    len(log_events(starting, "discovery failed; retrying"))
                    + len(log_events(starting, "watch failed; retrying")),
                    starting.proc.poll(),
                )
            ),
            lambda seen: time.monotonic() - started_at >= OUTAGE or seen[1] is not None,
            within=OUTAGE + 10,
            what="a minute of resets",
        )
        assert retried[1] is None, f"the starting scheduler exited; see {starting.log}"
        assert faulty.proc.poll() is None, f"the running scheduler exited; see {faulty.log}"
        assert retried[0] > 10, "the starting scheduler did not keep retrying"
        assert await asyncio.to_thread(_status, f"{starting.base}/readyz") == 503

        proxy.heal()
        healed_at = time.monotonic()
        await eventually(
            lambda: asyncio.to_thread(_status, f"{starting.base}/readyz"),
            lambda code: code == 200,
            what="the scheduler started during the outage becoming ready",
        )
        ready = time.monotonic() - healed_at
        await eventually(
            lambda: asyncio.to_thread(_status, f"{faulty.base}/livez"),
            lambda code: code == 200,
            what="/livez passing again",
        )
        ns = await namespace(api, "healed")
        grp, [node] = await group(api, 1)
        await pod(api, "after-outage", ns, grp, "100m")
        assert await node_of(api, ns, "after-outage", within=20) == node
        print(f"\nready {ready:.1f}s after the endpoint healed")
        assert ready < 15
    finally:
        proxy.heal()
        code = starting.stop()
    assert code == 0, f"exit {code}; see {starting.log}"


async def test_an_endpoint_that_silently_drops_everything_fails_livez_then_recovers(
    api: KubeClient, proxy: FaultProxy, faulty: SchedulerProcess
) -> None:
    # Nothing answered, connections left open: only timeouts tell. /livez fails
    # once the API has been silent for --livez-api-timeout; once it answers
    # again, the watches are back within seconds.
    proxy.go_silent()
    try:
        await eventually(
            lambda: asyncio.to_thread(_status, f"{faulty.base}/livez"),
            lambda code: code == 503,
            within=LIVEZ_API_TIMEOUT + 30,
            what="/livez failing while the endpoint drops everything",
        )
        assert faulty.proc.poll() is None
    finally:
        proxy.heal()
    healed_at = time.monotonic()
    await eventually(
        lambda: asyncio.to_thread(_status, f"{faulty.base}/livez"),
        lambda code: code == 200,
        what="/livez passing again",
    )
    ns = await namespace(api, "silent")
    grp, [node] = await group(api, 1)
    await pod(api, "after-silence", ns, grp, "100m")
    assert await node_of(api, ns, "after-silence", within=30) == node
    print(f"\nbound {time.monotonic() - healed_at:.1f}s after the endpoint answered again")


# -- RBAC: every request the scheduler sent is one the code-derived table grants ------------------


async def test_a_pod_with_a_resource_claim_is_bound_through_the_proxy(
    api: KubeClient, proxy: FaultProxy, faulty: SchedulerProcess
) -> None:
    # DynamicResources writes the claim (its finalizer) and its status
    # (allocation, reservedFor); through the proxy, the RBAC check below sees them.
    ns = await namespace(api, "claims")
    grp, [node] = await group(api, 1)
    driver, cls = f"{unique('gpu')}.example.com", unique("gpu-class")
    resource = "/apis/resource.k8s.io/v1"
    await api.post(f"{resource}/deviceclasses", for_create(raw_class(cls, driver=driver)))
    published = raw_slice(
        unique("slice"), node=node, pool=node, driver=driver, devices=[raw_device("gpu-0")]
    )
    await api.post(f"{resource}/resourceslices", for_create(published))
    claim = raw_claim("gpu", namespace=ns, requests=[exactly("gpu", cls)])
    await api.post(f"{resource}/namespaces/{ns}/resourceclaims", for_create(claim))
    await pod(
        api,
        "with-claim",
        ns,
        grp,
        "100m",
        resource_claims=[{"name": "gpu", "resourceClaimName": "gpu"}],
    )
    assert await node_of(api, ns, "with-claim") == node
    path = f"{resource}/namespaces/{ns}/resourceclaims/gpu"
    patched = {(s.path, s.status) for s in proxy.seen() if s.method == "PATCH"}
    assert {(path, 200), (f"{path}/status", 200)} <= patched


def test_every_request_sent_is_granted_by_the_code_derived_rbac(proxy: FaultProxy) -> None:
    # Runs last in this module: by now the scheduler behind the proxy has listed,
    # watched, bound, patched, written events and re-read pods. The chart's RBAC
    # equals these tables (tests/packaging), so a request the chart would refuse
    # shows here, and a grant no request uses shows there.
    granted = {**rbac.CLUSTER}
    for mode in rbac.EVICTION_MODES.values():
        for key, verbs in mode.items():
            granted[key] = granted.get(key, frozenset()) | verbs
    used: set[tuple[str, str, str]] = set()
    for seen in proxy.seen():
        found = rbac.permission(seen.method, seen.path, watch=seen.watch)
        if found is not None:
            used.add(found)
    refused = sorted(p for p in used if p[2] not in granted.get((p[0], p[1]), frozenset()))
    assert not refused, f"requests the chart's RBAC would refuse: {refused}"
    # The suite exercised the core of the table.
    assert {
        ("", "pods", "watch"),
        ("", "pods/binding", "create"),
        ("", "pods/status", "patch"),
        ("events.k8s.io", "events", "create"),
        ("policy", "poddisruptionbudgets", "watch"),
        ("resource.k8s.io", "resourceclaims", "patch"),
        ("resource.k8s.io", "resourceclaims/status", "patch"),
        ("resource.k8s.io", "resourceslices", "watch"),
    } <= used
