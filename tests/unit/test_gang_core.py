"""Gang scheduling through the whole core (queue, scheduling and binding cycles,
event handlers) on the default profile, for both group APIs: all of a gang's
pods or none; a node added lets a held gang through; two gangs that fit alone
but not together never both hold capacity; a PodGroup's status and the held
members' conditions. Timers are manual and the cluster a recording fake."""

from __future__ import annotations

from typing import Any

import pytest

from py_scheduler.cluster import PodCondition
from py_scheduler.framework.custom_resources import CustomResource
from py_scheduler.model import PodInfo
from py_scheduler.model.budgets import DisruptionBudget, decode_budget
from py_scheduler.model.podgroups import POD_GROUP_LABEL
from py_scheduler.plugins.gangscheduling import GangScheduling
from py_scheduler.plugins.gangscheduling import messages as words
from py_scheduler.scheduling.queue import ACTIVE, GATED
from tests.builders import make_node, make_pod
from tests.unit.helpers_core import Core, build_core

PLUGINS = "plugins"
WORKLOAD = "workload"
APIS = [
    pytest.param(PLUGINS, id="scheduler-plugins PodGroup"),
    pytest.param(WORKLOAD, id="Workload API PodGroup"),
]
RESOURCES = {
    PLUGINS: CustomResource("scheduling.x-k8s.io", "v1alpha1", "podgroups"),
    WORKLOAD: CustomResource("scheduling.k8s.io", "v1beta1", "podgroups"),
}


def node(name: str) -> Any:
    return make_node(name, allocatable={"cpu": "1", "memory": "1Gi", "pods": "110"})


def member(api: str, name: str, group: str, **kwargs: Any) -> PodInfo:
    kwargs.setdefault("requests", {"cpu": "1"})
    if api == PLUGINS:
        return make_pod(name, labels={POD_GROUP_LABEL: group}, **kwargs)
    return make_pod(name, scheduling_group=group, **kwargs)


def add_group(core: Core, api: str, name: str, min_member: int, **spec: Any) -> None:
    meta = {"name": name, "namespace": "default", "uid": f"uid-{name}", "resourceVersion": "1"}
    if api == PLUGINS:
        obj = {
            "apiVersion": "scheduling.x-k8s.io/v1alpha1",
            "kind": "PodGroup",
            "metadata": meta,
            "spec": {"minMember": min_member, **spec},
        }
    else:
        obj = {
            "apiVersion": "scheduling.k8s.io/v1beta1",
            "kind": "PodGroup",
            "metadata": meta,
            "spec": {"schedulingPolicy": {"gang": {"minCount": min_member}}},
        }
    store = core.scheduler.custom_objects
    for resource in store.resources():
        store.set_served(resource, True)
    change = store.upsert(RESOURCES[api], obj)
    if change is not None:
        core.scheduler.on_custom_objects([change])


async def run(core: Core) -> None:
    """Schedule until the queue has nothing ready and every task has settled."""
    for _ in range(1000):
        queued = core.queue.pop_nowait()
        if queued is None:
            await core.settle()
            queued = core.queue.pop_nowait()
            if queued is None:
                return
        core.scheduler.schedule_one(queued)
        await core.settle()
    raise AssertionError("the queue never emptied")


async def one_cycle(core: Core) -> None:
    queued = core.queue.pop_nowait()
    assert queued is not None
    core.scheduler.schedule_one(queued)
    await core.settle()


def bound(core: Core) -> dict[str, str]:
    return {call[1]: str(call[2]) for call in core.cluster.calls if call[0] == "bind"}


def gang(core: Core) -> GangScheduling:
    plugin = core.frameworks["py-scheduler"].plugins["GangScheduling"]
    assert isinstance(plugin, GangScheduling)
    return plugin


@pytest.mark.parametrize("api", APIS)
async def test_a_gang_of_four_on_room_for_four_binds_all_four(api: str) -> None:
    core = build_core([node(f"n{i}") for i in range(4)])
    add_group(core, api, "train", 4)
    for i in range(4):
        core.scheduler.on_pod(member(api, f"w{i}", "train"))
    await run(core)
    assert sorted(bound(core)) == [f"default/w{i}" for i in range(4)]
    assert sorted(bound(core).values()) == ["n0", "n1", "n2", "n3"]


@pytest.mark.parametrize("api", APIS)
async def test_a_gang_of_four_on_room_for_three_binds_none_until_a_node_is_added(
    api: str,
) -> None:
    core = build_core([node(f"n{i}") for i in range(3)])
    add_group(core, api, "train", 4)
    pods = [member(api, f"w{i}", "train") for i in range(4)]
    for pod in pods:
        core.scheduler.on_pod(pod)
    await run(core)
    assert bound(core) == {}
    assert not any(core.cache.is_assumed(p.uid) for p in pods)
    assert core.cache.assumed_count() == 0
    core.scheduler.on_node(node("n3"))
    await run(core)
    assert sorted(bound(core)) == [f"default/w{i}" for i in range(4)]


@pytest.mark.parametrize("api", APIS)
async def test_members_are_gated_until_the_gang_is_complete_and_told_why(api: str) -> None:
    core = build_core([node(f"n{i}") for i in range(4)])
    add_group(core, api, "train", 3)
    first, second = member(api, "w0", "train"), member(api, "w1", "train")
    core.scheduler.on_pod(first)
    core.scheduler.on_pod(second)
    assert core.queue.where(first.uid) == GATED
    await core.scheduler.drain(5)  # the reporter's batch, written at once on a drain
    conditions = [
        c for c in core.cluster.calls if c[0] == "patch_pod_status" and c[1] == "default/w0"
    ]
    detail = conditions[-1][2]
    assert isinstance(detail, tuple)
    condition = detail[0]
    assert isinstance(condition, PodCondition)
    assert (condition.status, condition.reason) == ("False", "SchedulingGated")
    assert condition.message.startswith(
        f"{words.GATED}: pod group default/train: 2 present, 0 assumed, 0 bound, 3 needed; "
        "waiting since "
    )
    core.scheduler.on_pod(member(api, "w2", "train"))
    assert core.queue.where(first.uid) == ACTIVE
    await run(core)
    assert len(bound(core)) == 3


@pytest.mark.parametrize("api", APIS)
async def test_two_gangs_that_fit_alone_but_not_together_one_completes_the_other_binds_nothing(
    api: str,
) -> None:
    core = build_core([node(f"n{i}") for i in range(4)])
    add_group(core, api, "a", 3)
    add_group(core, api, "b", 3)
    # Interleaved arrival: the queue still keeps each gang together.
    for i in range(3):
        core.scheduler.on_pod(member(api, f"a{i}", "a"))
        core.scheduler.on_pod(member(api, f"b{i}", "b"))
    await run(core)
    names = sorted(bound(core))
    assert names in (
        ["default/a0", "default/a1", "default/a2"],
        ["default/b0", "default/b1", "default/b2"],
    )
    assert core.cache.assumed_count() == 3  # the bound gang (the fake has no watch)
    assert gang(core).pod_group_states()["scheduled"] == 0  # bound per the watch: none yet


@pytest.mark.parametrize("api", APIS)
async def test_a_gang_waiting_when_its_timeout_passes_releases_every_member(api: str) -> None:
    core = build_core([node(f"n{i}") for i in range(3)])
    add_group(core, api, "train", 3)
    # w2 is held by a scheduling gate, so the others wait at Permit for it.
    for i, gates in ((0, ()), (1, ()), (2, ("later",))):
        core.scheduler.on_pod(member(api, f"w{i}", "train", gates=gates))
    await run(core)
    fwk = core.frameworks["py-scheduler"]
    assert sorted(w.pod.name for w in fwk.waiting_pods()) == ["w0", "w1"]
    # The first member's timeout; the other is released with it.
    assert core.timers.fire_next()
    await core.settle()
    assert fwk.waiting_pods() == []
    assert core.cache.assumed_count() == 0
    assert bound(core) == {}
    assert gang(core).pod_group_rounds() == {"allowed": 0, "released": 1}


# -- preemption ------------------------------------------------------------------------


def budget(min_disruptions: int, app: str) -> DisruptionBudget:
    return decode_budget(
        {
            "metadata": {"name": "keep", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": app}}},
            "status": {"disruptionsAllowed": min_disruptions},
        }
    )


def evicted(core: Core) -> list[str]:
    return sorted(call[1] for call in core.cluster.calls if call[0] == "evict")


async def fill(core: Core, count: int, **kwargs: Any) -> None:
    for i in range(count):
        core.scheduler.on_pod(
            make_pod(f"filler{i}", requests={"cpu": "1"}, node_name=f"n{i}", priority=1, **kwargs)
        )


@pytest.mark.parametrize("api", APIS)
async def test_a_high_priority_gang_evicts_what_the_whole_gang_needs_and_no_more(
    api: str,
) -> None:
    core = build_core([node(f"n{i}") for i in range(3)])
    await fill(core, 3)
    add_group(core, api, "vip", 2)
    for i in range(2):
        core.scheduler.on_pod(member(api, f"v{i}", "vip", priority=100))
    await run(core)
    assert len(evicted(core)) == 2
    assert set(evicted(core)) <= {"default/filler0", "default/filler1", "default/filler2"}


@pytest.mark.parametrize("api", APIS)
async def test_a_gang_that_fits_only_by_breaking_a_budget_evicts_nothing(api: str) -> None:
    core = build_core([node(f"n{i}") for i in range(3)])
    core.frameworks["py-scheduler"].objects.budgets.append(budget(1, "kept"))  # type: ignore[attr-defined]
    await fill(core, 3, labels={"app": "kept"})
    add_group(core, api, "vip", 2)
    for i in range(2):
        core.scheduler.on_pod(member(api, f"v{i}", "vip", priority=100))
    await run(core)
    assert evicted(core) == []
    assert bound(core) == {}
    messages = [
        call[2][2]
        for call in core.cluster.calls
        if call[0] == "record_event" and isinstance(call[2], tuple)
    ]
    assert any(
        "preemption: pod group default/vip fits only if pods a PodDisruptionBudget protects "
        "are evicted" in str(m)
        for m in messages
    ), messages


async def test_a_single_pod_preempting_a_gang_member_evicts_its_whole_gang() -> None:
    core = build_core([node("n0"), node("n1")])
    add_group(core, PLUGINS, "low", 2)
    for i in range(2):
        core.scheduler.on_pod(member(PLUGINS, f"low{i}", "low", node_name=f"n{i}", priority=1))
    core.scheduler.on_pod(make_pod("vip", requests={"cpu": "1"}, priority=100))
    await one_cycle(core)  # the fake never deletes victims: one attempt says it all
    assert evicted(core) == ["default/low0", "default/low1"]


async def test_a_gang_with_a_member_not_lower_in_priority_is_no_victim() -> None:
    core = build_core([node("n0"), node("n1")])
    add_group(core, PLUGINS, "mixed", 2)
    core.scheduler.on_pod(member(PLUGINS, "low", "mixed", node_name="n0", priority=1))
    core.scheduler.on_pod(member(PLUGINS, "high", "mixed", node_name="n1", priority=500))
    core.scheduler.on_pod(make_pod("vip", requests={"cpu": "1"}, priority=100))
    await one_cycle(core)
    assert evicted(core) == []


@pytest.mark.parametrize("api", APIS)
async def test_group_states_follow_a_gang_from_incomplete_to_scheduled(api: str) -> None:
    core = build_core([node(f"n{i}") for i in range(2)])
    add_group(core, api, "train", 2)
    states = gang(core).pod_group_states
    first = member(api, "w0", "train")
    core.scheduler.on_pod(first)
    assert states() == {"incomplete": 1, "pending": 0, "waiting": 0, "scheduled": 0}
    second = member(api, "w1", "train", gates=["later"])
    core.scheduler.on_pod(second)
    assert states()["pending"] == 1
    await run(core)
    assert states()["waiting"] == 1
    core.scheduler.on_pod(member(api, "w1", "train"))  # the gate is gone
    await run(core)
    # The watch shows both bound.
    for pod in (first, second):
        core.scheduler.on_pod(member(api, pod.name, "train", node_name=bound(core)[pod.key]))
    assert states() == {"incomplete": 0, "pending": 0, "waiting": 0, "scheduled": 1}
    assert gang(core).pod_group_rounds() == {"allowed": 1, "released": 0}


# -- group status ------------------------------------------------------------------------


def status_patches(core: Core) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for call in core.cluster.calls:
        if call[0] == "patch_object_status":
            detail = call[2]
            assert isinstance(detail, dict)
            out.append((str(call[1]), detail))
    return out


@pytest.mark.parametrize("api", APIS)
async def test_a_bound_gang_gets_its_group_status_written(api: str) -> None:
    core = build_core([node("n0"), node("n1")])
    add_group(core, api, "train", 2)
    pods = [member(api, f"w{i}", "train") for i in range(2)]
    for pod in pods:
        core.scheduler.on_pod(pod)
    await run(core)
    where = bound(core)
    for pod in pods:  # the watch shows them bound and running
        core.scheduler.on_pod(
            member(api, pod.name, "train", node_name=where[pod.key], phase="Running")
        )
    await core.scheduler.drain(5)
    path, status = status_patches(core)[-1]
    if api == PLUGINS:
        assert path == "/apis/scheduling.x-k8s.io/v1alpha1/namespaces/default/podgroups/train"
        assert {k: status[k] for k in ("phase", "running", "scheduled", "succeeded", "failed")} == {
            "phase": "Running",
            "running": 2,
            "scheduled": 2,
            "succeeded": 0,
            "failed": 0,
        }
        assert "scheduleStartTime" in status
    else:
        assert path == "/apis/scheduling.k8s.io/v1beta1/namespaces/default/podgroups/train"
        (condition,) = status["conditions"]
        assert (condition["type"], condition["status"], condition["reason"]) == (
            "PodGroupInitiallyScheduled",
            "True",
            "Scheduled",
        )


async def test_a_released_workload_pod_group_says_why_in_its_condition() -> None:
    core = build_core([node("n0"), node("n1")])
    add_group(core, WORKLOAD, "train", 2)
    for i, gates in ((0, ()), (1, ("later",))):
        core.scheduler.on_pod(member(WORKLOAD, f"w{i}", "train", gates=gates))
    await run(core)
    assert core.timers.fire_next()
    await core.settle()
    await core.scheduler.drain(5)
    _, status = status_patches(core)[-1]
    (condition,) = status["conditions"]
    assert (condition["status"], condition["reason"]) == ("False", "Unschedulable")
    assert condition["message"].startswith("pod default/w0 left the gang's scheduling attempt")


async def test_a_workload_pod_group_that_does_not_fit_says_so_in_its_condition() -> None:
    core = build_core([node("n0")])
    add_group(core, WORKLOAD, "train", 2)
    for i in range(2):
        core.scheduler.on_pod(member(WORKLOAD, f"w{i}", "train"))
    await run(core)
    await core.scheduler.drain(5)
    _, status = status_patches(core)[-1]
    (condition,) = status["conditions"]
    assert (condition["status"], condition["reason"], condition["message"]) == (
        "False",
        "Unschedulable",
        "preemption: pod group default/train does not fit even if lower-priority pods are evicted",
    )


def last_condition(core: Core, key: str) -> PodCondition:
    calls = [c for c in core.cluster.calls if c[0] == "patch_pod_status" and c[1] == key]
    detail = calls[-1][2]
    assert isinstance(detail, tuple)
    condition = detail[0]
    assert isinstance(condition, PodCondition)
    return condition


@pytest.mark.parametrize("api", APIS)
async def test_a_member_is_not_left_saying_gated_once_its_gang_is_complete(api: str) -> None:
    core = build_core([node(f"n{i}") for i in range(2)])
    add_group(core, api, "train", 3)
    first = member(api, "w0", "train")
    core.scheduler.on_pod(first)
    core.scheduler.on_pod(member(api, "w1", "train"))
    await core.scheduler.drain(5)
    assert last_condition(core, "default/w0").reason == "SchedulingGated"
    reporter = gang(core).reporter
    key = first.pod_group.key
    assert key is not None
    policy = gang(core).groups.find(first.pod_group).policy
    assert policy is not None
    before = reporter._handle.pod_groups.members(key)
    # The third member completes the gang, which does not fit on two nodes.
    core.scheduler.on_pod(member(api, "w2", "train"))
    await run(core)
    assert last_condition(core, "default/w0").reason == "Unschedulable"

    # A report taken while the gang was incomplete, written late, says nothing.
    await reporter._report_members(before, policy)
    assert last_condition(core, "default/w0").reason == "Unschedulable"

    # One that did say "gated" after the gang completed: attempted again.
    reporter._written[first.uid] = ("SchedulingGated", "stale")
    await reporter._report_members(reporter._handle.pod_groups.members(key), policy)
    assert core.queue.where(first.uid) == ACTIVE
