"""GangScheduling over both group APIs (upstream's ``gangscheduling_test.go`` flow
and hints, scheduler-plugins' ``coscheduling_test.go``): PreEnqueue, PreFilter's
capacity check, Permit's quorum, PostFilter's release, Unreserve, the PreBind
barrier, a deleted group, and the queueing hints.

Each case runs for scheduler-plugins' PodGroup (a label) and for the Workload
API's PodGroup (``spec.schedulingGroup``); 1.35's ``workloadRef`` has its own.
The plugin is built on a real cache and pod group index; waiting pods live in
the handle's WaitingPods on a manual clock, as the runtime would hold them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import structlog.testing

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.status import SKIP, SUCCESS, Code, Status
from py_scheduler.framework.types import NodeToStatus, QueueingHint
from py_scheduler.framework.waiting_pods import ManualTimers
from py_scheduler.model import NodeName, PodInfo
from py_scheduler.model.podgroups import POD_GROUP_LABEL
from py_scheduler.model.server import NEWEST, ServerVersion, offline
from py_scheduler.plugins.gangscheduling import SPEC, GangScheduling
from py_scheduler.plugins.gangscheduling import messages as words
from py_scheduler.plugins.gangscheduling.groups import PLUGINS_POD_GROUPS, WORKLOADS
from py_scheduler.scheduling.cache import Cache
from py_scheduler.scheduling.pod_groups import PodGroupIndex
from tests.builders import make_node, make_pod
from tests.fakes import FakeHandle

PLUGINS = "scheduler-plugins PodGroup"
WORKLOAD = "Workload API PodGroup"
APIS = [pytest.param(PLUGINS, id="plugins"), pytest.param(WORKLOAD, id="workload")]
WORKLOAD_POD_GROUPS = "podgroups.v1beta1.scheduling.k8s.io"


def member(api: str, name: str, group: str = "g", **kwargs: Any) -> PodInfo:
    if api == PLUGINS:
        labels = {POD_GROUP_LABEL: group, **kwargs.pop("labels", {})}
        return make_pod(name, labels=labels, **kwargs)
    return make_pod(name, scheduling_group=group, **kwargs)


def group_object(
    api: str, name: str = "g", min_member: int = 3, *, namespace: str = "default", **spec: Any
) -> dict[str, Any]:
    meta = {"name": name, "namespace": namespace, "uid": f"uid-{name}", "resourceVersion": "1"}
    if api == PLUGINS:
        return {
            "apiVersion": "scheduling.x-k8s.io/v1alpha1",
            "kind": "PodGroup",
            "metadata": meta,
            "spec": {"minMember": min_member, **spec},
        }
    policy = spec.pop("policy", {"gang": {"minCount": min_member}})
    return {
        "apiVersion": "scheduling.k8s.io/v1beta1",
        "kind": "PodGroup",
        "metadata": meta,
        "spec": {"schedulingPolicy": policy, **spec},
    }


class Harness:
    """A GangScheduling plugin with a cache, an index and waiting pods around it."""

    def __init__(
        self,
        *,
        nodes: int = 4,
        cpu: str = "4",
        release: ServerVersion = NEWEST,
        served: bool = True,
    ) -> None:
        self.cache = Cache()
        for i in range(nodes):
            self.cache.add_node(make_node(f"n{i}", allocatable={"cpu": cpu, "pods": "110"}))
        self.index = PodGroupIndex(self.cache)
        self.handle = FakeHandle(
            snapshot=self.cache, server=offline(release), pod_groups=self.index
        )
        built = SPEC.build(SPEC.args(None), self.handle)
        assert isinstance(built, GangScheduling)
        self.plugin = built
        for resource in self.handle.custom.resources():
            self.handle.custom.set_served(resource, served)
        self.outcomes: dict[str, Status] = {}

    def add_group(self, obj: Mapping[str, Any]) -> None:
        api_version = obj["apiVersion"]
        resource = (
            next(r for r in self.handle.custom.resources() if r.describes(obj))
            if api_version
            else None
        )
        assert resource is not None
        self.handle.custom.upsert(resource, obj)

    def delete_group(self, obj: Mapping[str, Any]) -> None:
        resource = next(r for r in self.handle.custom.resources() if r.describes(obj))
        self.handle.custom.delete(resource, obj)

    def add(self, *pods: PodInfo) -> None:
        for pod in pods:
            self.index.upsert(pod)

    def assume(self, pod: PodInfo, node: str = "n0") -> PodInfo:
        return self.cache.assume(pod, NodeName(node))

    def permit(self, pod: PodInfo, node: str = "n0") -> tuple[Status, float]:
        """Assume ``pod``, run Permit, and hold it as the runtime would on Wait."""
        assumed = self.assume(pod, node)
        status, timeout = self.plugin.permit(CycleState(), assumed, NodeName(node))
        if status.code is Code.WAIT:

            def done(outcome: Status, waited: float) -> None:
                del waited
                self.outcomes[pod.name] = outcome

            self.handle.waiting.add(assumed, {self.plugin.name: timeout}, done)
        return status, timeout

    def waiting(self) -> list[str]:
        return sorted(w.pod.name for w in self.handle.waiting)


@pytest.fixture
def logs() -> Iterator[list[Any]]:
    with structlog.testing.capture_logs() as captured:
        yield captured


# -- PreEnqueue ------------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
def test_a_pod_naming_no_group_is_admitted_and_never_held(api: str) -> None:
    h = Harness()
    pod = make_pod("plain")
    h.add(pod)
    assert h.plugin.pre_enqueue(pod) == SUCCESS
    assert h.plugin.pre_filter(CycleState(), pod, [])[1] == SKIP
    assert h.plugin.permit(CycleState(), pod, NodeName("n0")) == (SUCCESS, 0.0)


@pytest.mark.parametrize("api", APIS)
def test_a_gang_pod_is_held_until_its_group_exists(api: str) -> None:
    h = Harness()
    pod = member(api, "p1", group="train")
    h.add(pod)
    status = h.plugin.pre_enqueue(pod)
    assert status == Status.unresolvable(
        'waiting for pods\'s pod group "train" to appear in scheduling queue'
    )


@pytest.mark.parametrize("api", APIS)
def test_a_gang_pod_is_held_until_min_member_pods_exist(api: str) -> None:
    h = Harness()
    h.add_group(group_object(api, min_member=3))
    p1, p2, p3 = (member(api, f"p{i}") for i in (1, 2, 3))
    h.add(p1, p2)
    status = h.plugin.pre_enqueue(p1)
    assert status == Status.unresolvable(words.GATED, "pod group default/g: 2 present, 3 needed")
    h.add(p3)
    assert h.plugin.pre_enqueue(p1) == SUCCESS


def test_a_basic_policy_group_holds_nothing() -> None:
    h = Harness()
    h.add_group(group_object(WORKLOAD, policy={"basic": {}}))
    pod = member(WORKLOAD, "p1")
    h.add(pod)
    assert h.plugin.pre_enqueue(pod) == SUCCESS
    assert h.permit(pod)[0] == SUCCESS


@pytest.mark.parametrize("api", APIS)
def test_without_the_api_served_a_pod_naming_a_group_is_scheduled_alone_and_it_is_logged_once(
    api: str, logs: list[Any]
) -> None:
    h = Harness(served=False)
    p1, p2 = member(api, "p1"), member(api, "p2")
    h.add(p1, p2)
    assert h.plugin.pre_enqueue(p1) == SUCCESS
    assert h.plugin.pre_enqueue(p2) == SUCCESS
    assert h.permit(p1)[0] == SUCCESS
    off = [e for e in logs if "group scheduling is off" in e["event"]]
    assert len(off) == 1


@pytest.mark.parametrize("api", APIS)
def test_a_group_with_an_invalid_min_member_is_left_out_so_its_pods_wait_for_a_valid_one(
    api: str, logs: list[Any]
) -> None:
    h = Harness()
    h.add_group(group_object(api, min_member=0))
    pod = member(api, "p1")
    h.add(pod)
    assert h.plugin.pre_enqueue(pod).code is Code.UNRESOLVABLE
    left_out = [e for e in logs if e["event"].startswith("custom object left out")]
    assert "must be at least 1, got 0" in left_out[0]["reason"]


def test_a_pod_naming_two_different_groups_is_held_with_both_names() -> None:
    h = Harness()
    pod = make_pod("p1", labels={POD_GROUP_LABEL: "a"}, scheduling_group="b")
    assert pod.pod_group.key is None
    assert h.plugin.pre_enqueue(pod) == Status.unresolvable(
        "the pod names two pod groups: label scheduling.x-k8s.io/pod-group='a' and "
        "spec.schedulingGroup 'b'; name one"
    )


def test_the_label_and_the_field_naming_the_same_group_are_the_workload_apis_group() -> None:
    pod = make_pod("p1", labels={POD_GROUP_LABEL: "g"}, scheduling_group="g")
    assert pod.pod_group.key is not None
    assert pod.pod_group.key.api == "scheduling.k8s.io"


# -- Permit ----------------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
def test_members_wait_at_permit_until_min_member_are_assumed_then_all_go_at_once(
    api: str,
) -> None:
    h = Harness()
    timeout_field: dict[str, Any] = {"scheduleTimeoutSeconds": 30} if api == PLUGINS else {}
    h.add_group(group_object(api, min_member=3, **timeout_field))
    p1, p2, p3 = (member(api, f"p{i}") for i in (1, 2, 3))
    h.add(p1, p2, p3)
    status, timeout = h.permit(p1)
    assert status == Status(
        Code.WAIT,
        (words.WAITING, "pod group default/g: 3 present, 1 assumed, 0 bound, 3 needed"),
    )
    assert timeout == (30.0 if api == PLUGINS else 300.0)
    # The first member of a round brings the others out of backoff.
    assert sorted(p.name for p in h.handle.activated) == ["p2", "p3"]
    assert h.permit(p2, "n1")[0].code is Code.WAIT
    assert h.waiting() == ["p1", "p2"]
    assert h.permit(p3, "n2") == (SUCCESS, 0.0)
    assert h.waiting() == []
    assert h.outcomes == {"p1": SUCCESS, "p2": SUCCESS}


def test_a_135_server_says_it_waits_on_permit_in_its_own_words() -> None:
    h = Harness(release=ServerVersion(1, 35))
    h.add_group(
        {
            "apiVersion": "scheduling.k8s.io/v1alpha1",
            "kind": "Workload",
            "metadata": {"name": "job", "namespace": "default"},
            "spec": {"podGroups": [{"name": "workers", "policy": {"gang": {"minCount": 2}}}]},
        }
    )
    ref = {"name": "job", "podGroup": "workers"}
    p1, p2 = make_pod("p1", workload_ref=ref), make_pod("p2", workload_ref=ref)
    h.add(p1, p2)
    assert h.plugin.pre_enqueue(p1) == SUCCESS
    status, _ = h.permit(p1)
    assert status.reasons[0] == words.WAITING_135
    assert h.permit(p2, "n1") == (SUCCESS, 0.0)


@pytest.mark.parametrize(
    ("ref", "want"),
    [
        pytest.param(
            {"name": "other", "podGroup": "workers"},
            'waiting for pods\'s workload "other" to appear in scheduling queue',
            id="a missing Workload",
        ),
        pytest.param(
            {"name": "job", "podGroup": "launcher"},
            'pod group "launcher" doesn\'t exist for a workload "job"',
            id="a group the Workload does not have",
        ),
    ],
)
def test_a_135_pod_whose_workload_group_is_missing_is_held_in_upstreams_words(
    ref: dict[str, str], want: str
) -> None:
    h = Harness(release=ServerVersion(1, 35))
    h.add_group(
        {
            "apiVersion": "scheduling.k8s.io/v1alpha1",
            "kind": "Workload",
            "metadata": {"name": "job", "namespace": "default"},
            "spec": {"podGroups": [{"name": "workers", "policy": {"gang": {"minCount": 2}}}]},
        }
    )
    pod = make_pod("p1", workload_ref=ref)
    assert h.plugin.pre_enqueue(pod) == Status.unresolvable(want)


@pytest.mark.parametrize("api", APIS)
def test_a_quorum_counts_bound_members_so_a_late_member_goes_at_once(api: str) -> None:
    h = Harness()
    h.add_group(group_object(api, min_member=2))
    bound = member(api, "p1", node_name="n0")
    h.add(bound)
    h.cache.add_pod(bound)
    late = member(api, "p2")
    h.add(late)
    assert h.permit(late, "n1") == (SUCCESS, 0.0)


# -- Unreserve, timeouts, a deleted group -----------------------------------------------


@pytest.mark.parametrize("api", APIS)
def test_one_member_timing_out_releases_every_waiting_member(api: str) -> None:
    h = Harness()
    h.add_group(group_object(api, min_member=4))
    pods = [member(api, f"p{i}") for i in range(4)]
    h.add(*pods)
    for i, pod in enumerate(pods[:3]):
        assert h.permit(pod, f"n{i}")[0].code is Code.WAIT
    timers = h.handle.waiting.timers
    assert isinstance(timers, ManualTimers)
    timers.fire_next()  # p0's timeout
    assert h.outcomes["p0"].message.startswith("rejected due to timeout after waiting 5m0s")
    # Its binding cycle unreserves it: the rest of the gang goes too.
    h.plugin.unreserve(CycleState(), pods[0], NodeName("n0"))
    assert h.waiting() == []
    assert h.outcomes["p1"] == Status(
        Code.UNSCHEDULABLE,
        (
            "pod group default/g: released with the rest of its gang: "
            "pod default/p0 left the gang's scheduling attempt",
        ),
        "GangScheduling",
    )
    assert h.plugin.pod_group_rounds() == {"allowed": 0, "released": 1}


@pytest.mark.parametrize("api", APIS)
def test_a_group_deleted_while_members_wait_releases_them(api: str) -> None:
    h = Harness()
    obj = group_object(api, min_member=3)
    h.add_group(obj)
    pods = [member(api, f"p{i}") for i in range(3)]
    h.add(*pods)
    h.permit(pods[0])
    h.permit(pods[1], "n1")
    h.delete_group(obj)
    assert h.waiting() == []
    assert {o.message for o in h.outcomes.values()} == {
        "pod group default/g: released with the rest of its gang: the pod group was deleted"
    }
    # Anyone left is held again until the group is back.
    assert h.plugin.pre_enqueue(pods[2]).code is Code.UNRESOLVABLE


# -- PreFilter: does the gang fit at all ---------------------------------------------


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(
    ("requests", "want"),
    [
        pytest.param({"cpu": "2"}, "", id="8 pods of 2 cpu fit 16 free cpu"),
        pytest.param(
            {"cpu": "3"},
            "the cluster's free capacity cannot hold the pod group (cpu short)",
            id="8 pods of 3 cpu do not fit 16 free cpu",
        ),
    ],
)
def test_pre_filter_rejects_a_gang_the_free_capacity_cannot_hold(
    api: str, requests: dict[str, str], want: str
) -> None:
    h = Harness(nodes=4, cpu="4")
    h.add_group(group_object(api, min_member=8))
    pods = [member(api, f"p{i}", requests=requests) for i in range(8)]
    h.add(*pods)
    _, status = h.plugin.pre_filter(CycleState(), pods[0], h.cache.node_infos())
    if not want:
        assert status == SUCCESS
        return
    # Unschedulable, not unresolvable: preemption may still make room.
    assert status == Status.unschedulable(
        want, "pod group default/g: 8 present, 0 assumed, 0 bound, 8 needed"
    )


@pytest.mark.parametrize(
    ("min_resources", "want"),
    [
        pytest.param({"cpu": "16"}, "", id="minResources within the free cpu"),
        pytest.param(
            {"cpu": "20"},
            "the cluster's free capacity cannot hold the pod group's minResources (cpu short)",
            id="minResources beyond the free cpu",
        ),
        pytest.param(
            {"pods": "500"},
            "the cluster's free capacity cannot hold the pod group's minResources (pods short)",
            id="more pods than the nodes take",
        ),
    ],
)
def test_pre_filter_rejects_a_gang_whose_min_resources_the_cluster_cannot_hold(
    min_resources: dict[str, str], want: str
) -> None:
    h = Harness(nodes=4, cpu="4")
    h.add_group(group_object(PLUGINS, min_member=2, minResources=min_resources))
    pods = [member(PLUGINS, f"p{i}", requests={"cpu": "1"}) for i in range(2)]
    h.add(*pods)
    _, status = h.plugin.pre_filter(CycleState(), pods[0], h.cache.node_infos())
    if not want:
        assert status == SUCCESS
        return
    assert status == Status.unschedulable(
        want, "pod group default/g: 2 present, 0 assumed, 0 bound, 2 needed"
    )


@pytest.mark.parametrize("api", APIS)
def test_pre_filter_checks_a_round_once_its_first_member_is_assumed(api: str) -> None:
    h = Harness(nodes=1, cpu="2")
    h.add_group(group_object(api, min_member=2))
    p1, p2 = member(api, "p1", requests={"cpu": "1"}), member(api, "p2", requests={"cpu": "1"})
    h.add(p1, p2)
    h.permit(p1)
    # The node is now full with p1 assumed, yet p2 is part of the same round.
    assert h.plugin.pre_filter(CycleState(), p2, h.cache.node_infos())[1] == SUCCESS


# -- PostFilter: a member that fits nowhere ------------------------------------------


@pytest.mark.parametrize("api", APIS)
def test_a_member_that_fits_nowhere_releases_the_members_waiting(api: str) -> None:
    h = Harness(nodes=2, cpu="1")
    h.add_group(group_object(api, min_member=3))
    pods = [member(api, f"p{i}", requests={"cpu": "1"}) for i in range(3)]
    h.add(*pods)
    h.permit(pods[0], "n0")
    h.permit(pods[1], "n1")
    result, status = h.plugin.post_filter(CycleState(), pods[2], NodeToStatus())
    assert result is None
    assert status == Status.unresolvable(
        "preemption: pod group default/g does not fit even if lower-priority pods are evicted; "
        "2 waiting members released"
    )
    assert h.waiting() == []


@pytest.mark.parametrize("api", APIS)
def test_post_filter_leaves_pods_outside_gangs_to_default_preemption(api: str) -> None:
    h = Harness()
    result, status = h.plugin.post_filter(CycleState(), make_pod("plain"), NodeToStatus())
    assert (result, status.code, status.reasons) == (None, Code.UNSCHEDULABLE, ())


# -- PreBind barrier -------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
async def test_the_members_allowed_together_bind_only_once_all_reach_pre_bind(api: str) -> None:
    h = Harness()
    h.add_group(group_object(api, min_member=2))
    p1, p2 = member(api, "p1"), member(api, "p2")
    h.add(p1, p2)
    h.permit(p1)
    h.permit(p2, "n1")
    first = asyncio.create_task(h.plugin.pre_bind(CycleState(), p1, NodeName("n0")))
    await asyncio.sleep(0)
    assert not first.done()
    assert await h.plugin.pre_bind(CycleState(), p2, NodeName("n1")) == SUCCESS
    assert await first == SUCCESS


@pytest.mark.parametrize("api", APIS)
async def test_a_member_failing_before_bind_fails_the_members_that_wait_at_the_barrier(
    api: str,
) -> None:
    h = Harness()
    h.add_group(group_object(api, min_member=2))
    p1, p2 = member(api, "p1"), member(api, "p2")
    h.add(p1, p2)
    h.permit(p1)
    h.permit(p2, "n1")
    first = asyncio.create_task(h.plugin.pre_bind(CycleState(), p1, NodeName("n0")))
    await asyncio.sleep(0)
    # p2's volume binding failed: its binding cycle unreserves it.
    h.plugin.unreserve(CycleState(), p2, NodeName("n1"))
    assert await first == Status.unschedulable(
        "pod group default/g: pod default/p2 failed before binding, so the gang is retried together"
    )


async def test_a_pod_outside_any_round_passes_pre_bind() -> None:
    assert await Harness().plugin.pre_bind(CycleState(), make_pod("p"), NodeName("n0")) == SKIP


# -- queueing hints --------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(
    ("added", "want"),
    [
        pytest.param(("p3", "g", "default"), QueueingHint.QUEUE, id="the member completing it"),
        pytest.param(("p3", "other", "default"), QueueingHint.SKIP, id="a member of another"),
        pytest.param(("p3", "g", "elsewhere"), QueueingHint.SKIP, id="same name, other ns"),
    ],
)
def test_a_new_pod_requeues_only_members_of_its_own_group_once_it_is_complete(
    api: str, added: tuple[str, str, str], want: QueueingHint
) -> None:
    h = Harness()
    h.add_group(group_object(api, min_member=3))
    name, group, namespace = added
    held, second = member(api, "p1"), member(api, "p2")
    h.add(held, second)
    new = member(api, name, group=group, namespace=namespace)
    hint = h.plugin._after_member_added
    # Two of three: an arrival that does not complete the gang requeues no one.
    assert hint(held, None, member(api, "p2")) is QueueingHint.SKIP
    h.add(new)
    assert hint(held, None, new) is want
    assert hint(make_pod("plain"), None, new) is QueueingHint.SKIP


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(
    ("name", "namespace", "want"),
    [
        pytest.param("g", "default", QueueingHint.QUEUE, id="its own group"),
        pytest.param("other", "default", QueueingHint.SKIP, id="another group"),
        pytest.param("g", "elsewhere", QueueingHint.SKIP, id="its name in another namespace"),
    ],
)
def test_a_group_added_or_changed_requeues_its_own_members(
    api: str, name: str, namespace: str, want: QueueingHint
) -> None:
    h = Harness()
    obj = group_object(api, name, namespace=namespace)
    assert h.plugin._after_group_change(member(api, "p1"), None, obj) is want


def test_every_kind_of_group_object_is_registered_for_its_events() -> None:
    h = Harness()
    labels = {e.event.label for e in h.plugin.events_to_register()}
    assert f"{PLUGINS_POD_GROUPS.value}ADD|UPDATE|DELETE" in labels or any(
        PLUGINS_POD_GROUPS.value in label for label in labels
    )
    assert any(WORKLOAD_POD_GROUPS in label for label in labels)
    assert any(WORKLOADS.value in label for label in labels)
