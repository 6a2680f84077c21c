"""The scheduling cycle end to end (``scheduling/schedule_one.py``): the default
profile over the in-tree plugins, the real cache, queue and algorithm, and a
FakeCluster for the API."""

from __future__ import annotations

import asyncio
from unittest.mock import ANY

import pytest

from py_scheduler.cluster import PodCondition
from py_scheduler.framework import BackgroundWriter
from py_scheduler.model import Node, decode_pod
from py_scheduler.model.server import ServerInfo, ServerVersion, offline
from py_scheduler.plugins.dynamicresources import DynamicResources
from py_scheduler.scheduling.queue import ACTIVE, BACKOFF, UNSCHEDULABLE
from py_scheduler.scheduling.scheduler import NotLeading
from tests.builders import make_node, make_pod, raw_pod
from tests.unit.helpers_core import build_core, failed_scheduling, schedule, small

# -- success --------------------------------------------------------------------------------


async def test_a_pod_is_assumed_then_bound() -> None:
    core = build_core([make_node("n1")])
    pod = make_pod("p", requests={"cpu": "1"})
    core.scheduler.on_pod(pod)
    queued = await core.queue.pop()
    assert queued is not None
    outcome = core.scheduler.schedule_one(queued)
    assert outcome is not None
    assert outcome.node == "n1"
    assert core.cache.is_assumed(pod.uid)
    assert core.queue.where(pod.uid) is None
    await core.settle()
    assert core.cluster.calls == [
        ("bind", "default/p", "n1"),
        (
            "record_event",
            "default/p",
            ("Normal", "Scheduled", "Successfully assigned default/p to n1"),
        ),
    ]
    # The watch confirms the binding.
    core.scheduler.on_pod(make_pod("p", requests={"cpu": "1"}, node_name="n1"))
    assert not core.cache.is_assumed(pod.uid)
    node = core.cache.get("n1")
    assert node is not None
    assert node.requested.milli_cpu == 1000
    assert pod.uid not in core.scheduler.pending


async def test_the_assumed_pod_takes_room_before_the_binding_is_confirmed() -> None:
    core = build_core([small("n1"), small("n2")])
    await schedule(core, make_pod("a", requests={"cpu": "600m"}))
    await schedule(core, make_pod("b", requests={"cpu": "600m"}))
    bound = [call[2] for call in core.cluster.calls if call[0] == "bind"]
    assert sorted(bound) == ["n1", "n2"]  # type: ignore[type-var]


async def test_the_least_allocated_node_wins() -> None:
    core = build_core([make_node("big"), small("tiny")])
    await schedule(core, make_pod("p", requests={"cpu": "500m", "memory": "100Mi"}))
    assert core.cluster.calls[0] == ("bind", "default/p", "big")


# -- no fit ---------------------------------------------------------------------------------

NO_FIT = [
    pytest.param(
        [make_node("n1"), make_node("n2")],
        {"cpu": "100"},
        "0/2 nodes are available: 2 Insufficient cpu."
        " preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
        id="both nodes lack cpu",
    ),
    pytest.param(
        [
            make_node("cordoned", unschedulable=True),
            make_node("tainted", taints=[{"key": "k", "effect": "NoSchedule"}]),
            small("small"),
        ],
        {"cpu": "2"},
        "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint(s), "
        "1 node(s) were unschedulable."
        " preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
        id="every node fails for its own reason, sorted",
    ),
    pytest.param(
        [small("s1"), small("s2")],
        {"cpu": "2", "memory": "2Gi"},
        "0/2 nodes are available: 2 Insufficient cpu, 2 Insufficient memory."
        " preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
        id="a node short of two resources counts both",
    ),
]


@pytest.mark.parametrize(("nodes", "requests", "message"), NO_FIT)
async def test_a_pod_that_does_not_fit(
    nodes: list[Node], requests: dict[str, str], message: str
) -> None:
    core = build_core(nodes)
    pod = make_pod("p", requests=requests)
    core.scheduler.on_pod(pod)
    queued = await core.queue.pop()
    assert queued is not None
    outcome = core.scheduler.schedule_one(queued)
    assert outcome is not None
    assert (outcome.node, outcome.message, outcome.error) == (None, message, False)
    await core.settle()
    assert core.cluster.calls == failed_scheduling("default/p", message)
    assert core.queue.where(pod.uid) == UNSCHEDULABLE
    assert not core.cache.is_assumed(pod.uid)


async def test_a_pod_waiting_for_its_victims_keeps_its_nomination() -> None:
    # schedule_one.go: a PostFilter without a result (the pod is not eligible to
    # preempt while a victim on its nominated node terminates) is ModeNoop, so
    # neither the nominator nor status.nominatedNodeName lose the node.
    core = build_core([small("n1")])
    raw = raw_pod("victim", requests={"cpu": "1"}, node_name="n1", priority=0, deleting=True)
    raw["status"]["conditions"] = [
        {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI"}
    ]
    core.scheduler.on_pod(decode_pod(raw))
    pod = make_pod("p", requests={"cpu": "1"}, priority=100, nominated_node="n1")
    await schedule(core, pod)
    await core.settle()
    assert core.scheduler.nominator.node_of(pod.uid) == "n1"
    patches = [detail for method, _, detail in core.cluster.calls if method == "patch_pod_status"]
    assert len(patches) == 1
    assert patches == [(PodCondition("PodScheduled", "False", "Unschedulable", ANY), None)]


@pytest.mark.parametrize(
    ("server", "message"),
    [
        pytest.param(
            offline(ServerVersion(1, 36)), "0/1 nodes are available: 1 Insufficient cpu.", id="1.36"
        ),
        pytest.param(
            offline(ServerVersion(1, 37)),
            "0/1 nodes are available: 1 Insufficient cpu. preemption: found a potential "
            "placement for pod on node n1, preempting 1 victims",
            id="1.37",
        ),
    ],
)
async def test_a_nominated_preemptors_message_ends_with_its_placement_from_1_37(
    server: ServerInfo, message: str
) -> None:
    core = build_core([small("n1")], server=server)
    core.scheduler.on_pod(make_pod("low", requests={"cpu": "1"}, node_name="n1", priority=0))
    preemptor = make_pod("high", requests={"cpu": "1"}, priority=100)
    core.scheduler.on_pod(preemptor)
    queued = await core.queue.pop()
    assert queued is not None
    outcome = core.scheduler.schedule_one(queued)
    assert outcome is not None
    assert (outcome.nominated_node, outcome.message) == ("n1", message)
    await core.settle()
    events = [detail for method, _, detail in core.cluster.calls if method == "record_event"]
    assert sorted(events, key=str) == [
        ("Normal", "Preempted", "Preempted by pod uid-default-high on node n1"),
        ("Warning", "FailedScheduling", message),
    ]


# -- preemption settles, metrics go to the recorder ----------------------------------------


async def test_a_preemptor_is_activated_once_its_victims_have_settled() -> None:
    settling, released = asyncio.Event(), asyncio.Event()

    async def settle() -> None:
        settling.set()
        await released.wait()

    core = build_core([small("n1")], settle=settle)
    core.scheduler.on_pod(make_pod("low", requests={"cpu": "1"}, node_name="n1", priority=0))
    preemptor = make_pod("high", requests={"cpu": "1"}, priority=100)
    core.scheduler.on_pod(preemptor)
    queued = await core.queue.pop()
    assert queued is not None
    outcome = core.scheduler.schedule_one(queued)
    assert outcome is not None
    assert [v.name for v in outcome.victims] == ["low"]
    drained = asyncio.ensure_future(core.scheduler.drain(5))
    # The eviction is issued, then the preemption task waits for the settle signal.
    await asyncio.wait_for(settling.wait(), 5)
    assert [c for c in core.cluster.calls if c[0] == "evict"] == [("evict", "default/low", None)]
    assert not drained.done()
    assert core.queue.where(preemptor.uid) == UNSCHEDULABLE
    released.set()
    await drained
    assert core.queue.where(preemptor.uid) == ACTIVE


async def test_drain_waits_for_the_writes_a_plugin_runs_as_its_own_tasks() -> None:
    core = build_core([small("n1")])
    plugin = next(iter(core.frameworks.values())).plugins["DynamicResources"]
    assert isinstance(plugin, DynamicResources)
    assert isinstance(plugin, BackgroundWriter)
    started, released = asyncio.Event(), asyncio.Event()
    written: list[str] = []

    async def unreserve() -> None:
        started.set()
        await released.wait()
        written.append("unreserved")

    # As Unreserve starts one: from a synchronous point, owned by the plugin.
    plugin.writes.spawn(unreserve(), "unreserve default/claim")
    drained = asyncio.ensure_future(core.scheduler.drain(5))
    await asyncio.wait_for(started.wait(), 5)
    assert not drained.done()
    released.set()
    await drained
    assert written == ["unreserved"]


# -- leadership -------------------------------------------------------------------------------


async def test_a_replica_whose_lease_went_stale_runs_no_cycle() -> None:
    core = build_core([make_node("n1")])
    core.scheduler.leading = lambda: False
    pod = make_pod("p")
    core.scheduler.on_pod(pod)
    with pytest.raises(NotLeading):
        await core.scheduler.run()
    await core.settle()
    assert core.cluster.calls == []
    assert not core.cache.is_assumed(pod.uid)
    assert core.queue.where(pod.uid) == BACKOFF  # kept, should this replica lead again
