"""Gang scheduling on the real control plane, with both PodGroup APIs.

Every test runs for scheduler-plugins' PodGroup (the CRD the chart ships; pods
carry the label) and for upstream's Workload API of the control plane's
release (a ``scheduling.k8s.io`` PodGroup, ``spec.schedulingGroup``; a 1.35
Workload and ``spec.workloadRef``). Each test has its own nodes (a label the
pods select), so "capacity for N" is N one-cpu pods.

We test these aspects:
- a gang of 8 on room for 8 binds all 8;
- on room for 6 none binds, and every member says why; a node added lets the
  whole gang bind;
- two gangs of 6 on room for 8: exactly one completes, no pod of the other is
  bound, and nothing is left assumed;
- a timeout releases every waiting member, none is bound, and the gang binds
  once it can complete;
- a high-priority gang preempts only when the whole gang fits, and never
  evicts what a PodDisruptionBudget protects;
- a scheduler restarted while members wait at Permit binds each exactly once.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from controlplane import launcher
from py_scheduler.cluster import Conflict, NotFound
from py_scheduler.kube.client import JSON, KubeClient
from py_scheduler.model.server import ServerInfo
from tests.conftest import start_scheduler
from tests.integration.kube import create_namespace, create_node, create_pod, eventually, unique

SCHEDULER = "py-scheduler-gang"
CRD = Path(__file__).parents[2] / "charts/py-scheduler/crds/scheduling.x-k8s.io_podgroups.yaml"
LABEL = "scheduling.x-k8s.io/pod-group"
NODE = {"cpu": "2", "memory": "8Gi", "pods": "20"}
PLUGINS, WORKLOAD = "plugins", "workload"
APIS = [
    pytest.param(PLUGINS, id="scheduler-plugins PodGroup"),
    pytest.param(WORKLOAD, id="Workload API"),
]
# Held members wait this long at Permit before the gang is released.
TIMEOUT = 6


def config(path: Path, scheduler_name: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kubescheduler.config.k8s.io/v1",
                "kind": "KubeSchedulerConfiguration",
                "leaderElection": {"leaderElect": False},
                "clientConnection": {"qps": 5000, "burst": 5000},
                "podInitialBackoffSeconds": 1,
                "podMaxBackoffSeconds": 2,
                "profiles": [
                    {
                        "schedulerName": scheduler_name,
                        "pluginConfig": [
                            {
                                "name": "GangScheduling",
                                "args": {"permitWaitingTimeSeconds": TIMEOUT},
                            }
                        ],
                    }
                ],
            }
        )
    )
    return path


async def install_crd(api: KubeClient) -> None:
    with contextlib.suppress(Conflict):
        await api.post(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            yaml.safe_load(CRD.read_text()),
        )

    async def served() -> bool:
        try:
            listing = await api.get("/apis/scheduling.x-k8s.io/v1alpha1")
        except NotFound:
            return False
        return any(r.get("name") == "podgroups" for r in listing.get("resources", []))

    await eventually(served, bool, what="the PodGroup CRD served")


@pytest.fixture(scope="module")
async def gang_scheduler(
    api: KubeClient, control_plane: launcher.LocalControlPlane, tmp_path_factory: Any
) -> AsyncIterator[str]:
    """A scheduler of its own, started once the CRD is served (so it watches it from
    the start) and stopped with SIGTERM, which must exit 0."""
    await install_crd(api)
    path = config(tmp_path_factory.mktemp("gang") / "config.yaml", SCHEDULER)
    running = start_scheduler(control_plane, path, name=SCHEDULER)
    try:
        yield running.base
    finally:
        assert running.stop() == 0, f"see {running.log}"


# -- groups of either API ------------------------------------------------------------


class Gang:
    """One gang: its group object and how its pods name it."""

    def __init__(self, api: KubeClient, server: ServerInfo, which: str, ns: str, name: str):
        self.api, self.server, self.which, self.ns, self.name = api, server, which, ns, name

    async def create(self, min_member: int, **spec: Any) -> None:
        meta = {"name": self.name, "namespace": self.ns}
        if self.which == PLUGINS:
            body = {
                "apiVersion": "scheduling.x-k8s.io/v1alpha1",
                "kind": "PodGroup",
                "metadata": meta,
                "spec": {"minMember": min_member, **spec},
            }
            await self.api.post(self.path("scheduling.x-k8s.io/v1alpha1", "podgroups"), body)
            return
        if not self.server.version.at_least(1, 36):
            body = {
                "apiVersion": "scheduling.k8s.io/v1alpha1",
                "kind": "Workload",
                "metadata": meta,
                "spec": {
                    "podGroups": [{"name": "workers", "policy": {"gang": {"minCount": min_member}}}]
                },
            }
            await self.api.post(self.path("scheduling.k8s.io/v1alpha1", "workloads"), body)
            return
        version = "v1alpha3" if self.server.version.at_least(1, 37) else "v1alpha2"
        policy = {"schedulingPolicy": {"gang": {"minCount": min_member}}}
        body = {
            "apiVersion": f"scheduling.k8s.io/{version}",
            "kind": "PodGroup",
            "metadata": meta,
            "spec": policy,
        }
        await self.api.post(self.path(f"scheduling.k8s.io/{version}", "podgroups"), body)

    def path(self, group_version: str, plural: str) -> str:
        return f"/apis/{group_version}/namespaces/{self.ns}/{plural}"

    def pod_fields(self) -> dict[str, Any]:
        if self.which == PLUGINS:
            return {"labels": {LABEL: self.name}}
        if not self.server.version.at_least(1, 36):
            return {"workload_ref": {"name": self.name, "podGroup": "workers"}}
        return {"scheduling_group": self.name}

    async def pods(
        self, count: int, pool: str, *, prefix: str = "", scheduler: str = SCHEDULER, **kw: Any
    ) -> list[str]:
        names = [f"{prefix or self.name}-{i}" for i in range(count)]
        fields = self.pod_fields()
        for name in names:
            await create_pod(
                self.api,
                name,
                self.ns,
                requests={"cpu": "1"},
                node_selector={"gang-test": pool},
                scheduler_name=scheduler,
                **fields,
                **kw,
            )
        return names

    async def status(self) -> JSON:
        if self.which != PLUGINS:
            return {}
        body = await self.api.get(
            f"{self.path('scheduling.x-k8s.io/v1alpha1', 'podgroups')}/{self.name}"
        )
        return dict(body.get("status") or {})


async def pool_of(api: KubeClient, nodes: int) -> tuple[str, list[str]]:
    pool = unique("pool")
    names = []
    for _ in range(nodes):
        name = unique("gnode")
        await create_node(api, name, labels={"gang-test": pool}, allocatable=NODE)
        names.append(name)
    return pool, names


async def pods_of(api: KubeClient, ns: str) -> dict[str, JSON]:
    listing = await api.get(f"/api/v1/namespaces/{ns}/pods")
    return {p["metadata"]["name"]: p for p in listing["items"]}


def node_of(pod: JSON) -> str:
    return str(pod.get("spec", {}).get("nodeName") or "")


def condition(pod: JSON) -> tuple[str, str, str]:
    for cond in pod.get("status", {}).get("conditions") or []:
        if cond.get("type") == "PodScheduled":
            return cond.get("status", ""), cond.get("reason", ""), cond.get("message", "")
    return "", "", ""


async def setup(api: KubeClient, server: ServerInfo, which: str) -> tuple[str, Gang]:
    ns = unique("gang")
    await create_namespace(api, ns)
    return ns, Gang(api, server, which, ns, unique("job"))


# -- the tests -----------------------------------------------------------------------


@pytest.mark.parametrize("which", APIS)
async def test_a_gang_of_eight_on_room_for_eight_binds_all_eight(
    api: KubeClient, server: ServerInfo, gang_scheduler: str, which: str
) -> None:
    ns, gang = await setup(api, server, which)
    pool, nodes = await pool_of(api, 4)
    await gang.create(8)
    names = await gang.pods(8, pool)
    pods = await eventually(
        lambda: pods_of(api, ns),
        lambda p: all(node_of(p.get(n, {})) for n in names),
        within=60,
        what="all 8 members bound",
    )
    assert sorted(node_of(pods[n]) for n in names) == sorted(nodes * 2)
    if which == PLUGINS:
        status = await eventually(
            gang.status, lambda s: s.get("phase") == "Running", what="PodGroup Running"
        )
        assert (status["running"], status.get("failed", 0)) == (8, 0)


@pytest.mark.parametrize("which", APIS)
async def test_a_gang_of_eight_on_room_for_six_binds_none_until_a_node_is_added(
    api: KubeClient, server: ServerInfo, gang_scheduler: str, which: str
) -> None:
    ns, gang = await setup(api, server, which)
    pool, _ = await pool_of(api, 3)
    await gang.create(8)
    names = await gang.pods(8, pool)
    # Every member says why it is pending (SchedulingGated while the gang was still
    # being created, then why the complete gang waits); none is bound.
    pods = await eventually(
        lambda: pods_of(api, ns),
        lambda p: all(
            condition(p.get(n, {}))[:2] in {("False", "Unschedulable"), ("False", "WaitingForGang")}
            for n in names
        ),
        within=60,
        what="every member with PodScheduled=False, Unschedulable or WaitingForGang",
    )
    assert [n for n in names if node_of(pods[n])] == []
    assert any(
        f"pod group {ns}/" in condition(pods[n])[2] or "cpu" in condition(pods[n])[2] for n in names
    )
    await create_node(api, unique("gnode"), labels={"gang-test": pool}, allocatable=NODE)
    await eventually(
        lambda: pods_of(api, ns),
        lambda p: all(node_of(p.get(n, {})) for n in names),
        within=90,
        what="all 8 members bound once a node is added",
    )


@pytest.mark.parametrize("which", APIS)
async def test_two_gangs_of_six_on_room_for_eight_exactly_one_completes(
    api: KubeClient, server: ServerInfo, gang_scheduler: str, which: str
) -> None:
    ns = unique("gang")
    await create_namespace(api, ns)
    pool, _ = await pool_of(api, 4)
    first = Gang(api, server, which, ns, unique("a"))
    second = Gang(api, server, which, ns, unique("b"))
    await first.create(6)
    await second.create(6)
    a = await first.pods(6, pool)
    b = await second.pods(6, pool)

    def done(pods: dict[str, JSON]) -> bool:
        bound_a = sum(1 for n in a if node_of(pods.get(n, {})))
        bound_b = sum(1 for n in b if node_of(pods.get(n, {})))
        losers = b if bound_a == 6 else a
        told = all(condition(pods.get(n, {}))[0] == "False" for n in losers)
        return 6 in (bound_a, bound_b) and told

    pods = await eventually(lambda: pods_of(api, ns), done, within=60, what="one gang complete")
    bound_a = [n for n in a if node_of(pods[n])]
    bound_b = [n for n in b if node_of(pods[n])]
    assert sorted((len(bound_a), len(bound_b))) == [0, 6], (bound_a, bound_b)


@pytest.mark.parametrize("which", APIS)
async def test_a_timeout_releases_every_waiting_member_then_the_gang_binds_when_it_can(
    api: KubeClient, server: ServerInfo, gang_scheduler: str, which: str
) -> None:
    ns, gang = await setup(api, server, which)
    pool, _ = await pool_of(api, 2)
    extra = {"scheduleTimeoutSeconds": TIMEOUT} if which == PLUGINS else {}
    await gang.create(3, **extra)
    # Two members can be placed; the third is held by a scheduling gate.
    names = await gang.pods(2, pool)
    late = (await gang.pods(1, pool, prefix=f"{gang.name}-late", gates=["hold"]))[0]
    await eventually(
        lambda: pods_of(api, ns),
        lambda p: all(condition(p.get(n, {}))[1] == "WaitingForGang" for n in names),
        within=60,
        what="both members held at Permit, saying so",
    )
    pods = await eventually(
        lambda: pods_of(api, ns),
        lambda p: all(
            "rejected due to timeout" in condition(p.get(n, {}))[2]
            or "released" in condition(p.get(n, {}))[2]
            for n in names
        ),
        within=TIMEOUT + 30,
        what="both members released after the timeout",
    )
    assert [n for n in [*names, late] if node_of(pods[n])] == []
    # The gate goes: the gang can complete now, and does.
    current = await api.get(f"/api/v1/namespaces/{ns}/pods/{late}")
    current["spec"]["schedulingGates"] = []
    await api.put(f"/api/v1/namespaces/{ns}/pods/{late}", current)
    await eventually(
        lambda: pods_of(api, ns),
        lambda p: all(node_of(p.get(n, {})) for n in [*names, late]),
        within=60,
        what="the whole gang bound",
    )


async def _priority_class(api: KubeClient, value: int) -> str:
    name = unique(f"prio-{value}")
    await api.post(
        "/apis/scheduling.k8s.io/v1/priorityclasses", {"metadata": {"name": name}, "value": value}
    )
    return name


@pytest.mark.parametrize("which", APIS)
async def test_a_high_priority_gang_preempts_only_when_the_whole_gang_fits_honouring_a_budget(
    api: KubeClient, server: ServerInfo, gang_scheduler: str, which: str
) -> None:
    ns, gang = await setup(api, server, which)
    pool, nodes = await pool_of(api, 4)
    low, high = await _priority_class(api, 10), await _priority_class(api, 1000)
    # Only 4 of the 8 fillers may go: a gang of 6 must not evict anything. The budget
    # comes first, so the scheduler knows it by the time the gang arrives.
    budget = {
        "metadata": {"name": "keep"},
        "spec": {"minAvailable": 4, "selector": {"matchLabels": {"app": "protected"}}},
    }
    await api.post(f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets", budget)
    fillers = []
    for i, node in enumerate(nodes * 2):
        name = f"filler-{i}"
        protected = i < 4
        await create_pod(
            api,
            name,
            ns,
            node_name=node,
            requests={"cpu": "1"},
            scheduler_name="other-scheduler",
            priority_class=low,
            labels={"app": "protected" if protected else "spare"},
        )
        fillers.append(name)
    await eventually(
        lambda: pods_of(api, ns),
        lambda p: all(p.get(n, {}).get("status", {}).get("phase") == "Running" for n in fillers),
        what="fillers running",
    )
    await eventually(
        lambda: api.get(f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/keep"),
        lambda b: (
            b.get("status", {}).get("currentHealthy") == 4
            and b["status"].get("observedGeneration") == b["metadata"]["generation"]
        ),
        what="the budget observed with its four healthy pods",
    )
    await gang.create(6)
    names = await gang.pods(6, pool, priority_class=high)
    pods = await eventually(
        lambda: pods_of(api, ns),
        lambda p: any(
            "PodDisruptionBudget" in condition(p.get(n, {}))[2]
            or "disruption budget" in condition(p.get(n, {}))[2]
            for n in names
        ),
        within=60,
        what="a member saying a budget stops the preemption",
    )
    assert all(
        n in pods and not pods[n].get("metadata", {}).get("deletionTimestamp") for n in fillers
    ), "no filler evicted"
    assert [n for n in names if node_of(pods[n])] == []
    # Without the budget the whole gang fits once 6 fillers go: it preempts and binds.
    await api.delete(f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/keep")
    pods = await eventually(
        lambda: pods_of(api, ns),
        lambda p: all(node_of(p.get(n, {})) for n in names),
        within=90,
        what="the whole gang bound after preemption",
    )
    assert len([n for n in fillers if n in pods]) == 2


@pytest.mark.parametrize("which", APIS)
async def test_members_are_bound_exactly_once_across_a_scheduler_restart_mid_gang(
    api: KubeClient,
    server: ServerInfo,
    control_plane: launcher.LocalControlPlane,
    tmp_path: Path,
    which: str,
) -> None:
    await install_crd(api)
    name = unique("restart")
    path = config(tmp_path / "config.yaml", name)
    ns, gang = await setup(api, server, which)
    pool, _ = await pool_of(api, 2)
    await gang.create(4)
    first = start_scheduler(control_plane, path, name=name)
    try:
        names = await gang.pods(3, pool, scheduler=name)
        late = (
            await gang.pods(1, pool, prefix=f"{gang.name}-late", scheduler=name, gates=["hold"])
        )[0]
        await eventually(
            lambda: pods_of(api, ns),
            lambda p: all(condition(p.get(n, {}))[1] == "WaitingForGang" for n in names),
            within=60,
            what="three members held at Permit",
        )
    finally:
        first.stop(signal.SIGKILL)
    second = start_scheduler(control_plane, path, name=f"{name}-2")
    try:
        current = await api.get(f"/api/v1/namespaces/{ns}/pods/{late}")
        current["spec"]["schedulingGates"] = []
        await api.put(f"/api/v1/namespaces/{ns}/pods/{late}", current)
        everyone = [*names, late]
        await eventually(
            lambda: pods_of(api, ns),
            lambda p: all(node_of(p.get(n, {})) for n in everyone),
            within=60,
            what="all four bound by the restarted scheduler",
        )
        events = await api.get(f"/apis/events.k8s.io/v1/namespaces/{ns}/events")
        scheduled = [e["regarding"]["name"] for e in events["items"] if e["reason"] == "Scheduled"]
        assert sorted(scheduled) == sorted(everyone)
    finally:
        assert second.stop() == 0
