"""DynamicResources, point by point, after upstream's ``dynamicresources`` plugin
tests (TestPlugin, TestIsSchedulableAfterClaimChange, Test_computesScore)."""

from __future__ import annotations

from typing import Any

import pytest

from py_scheduler.cluster import Conflict, Unavailable
from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.status import SKIP, SUCCESS, Code, Status
from py_scheduler.framework.types import NodeToStatus, QueueingHint
from py_scheduler.model import NodeInfo, NodeName, PodInfo
from py_scheduler.model.dra.objects import FINALIZER, ResourceClaim
from py_scheduler.model.server import OFFLINE, ServerInfo, ServerVersion, offline
from py_scheduler.plugins.dynamicresources import SPEC, DynamicResources
from py_scheduler.plugins.dynamicresources.plugin import (
    DEALLOCATED,
    NO_NEW_CLAIMS,
    STILL_NOT_SCHEDULABLE,
)
from tests.builders import make_pod, node_info
from tests.builders_dra import (
    allocation,
    exactly,
    first_available,
    local_selector,
    make_claim,
    make_class,
    make_slice,
    node_slice,
    raw_device,
)
from tests.fakes import FakeCluster, FakeHandle, FakeObjects

POD_UID = "pod-uid"
NODE = "worker"


def pod_with_claim(name: str = "claim-0", **kwargs: Any) -> PodInfo:
    return make_pod(
        "my-pod",
        uid=POD_UID,
        resource_claims=[{"name": "my-resource", "resourceClaimName": name}],
        **kwargs,
    )


def pod_with_template(*, generated: str | None = "my-pod-my-resource") -> PodInfo:
    statuses = (
        [] if generated is None else [{"name": "my-resource", "resourceClaimName": generated}]
    )
    return make_pod(
        "my-pod",
        uid=POD_UID,
        resource_claims=[{"name": "my-resource", "resourceClaimTemplateName": "tmpl"}],
        claim_statuses=statuses,
    )


def setup(
    *claims: ResourceClaim,
    devices: tuple[str, ...] = ("instance-1",),
    classes: tuple[str, ...] = ("class-a",),
    pods: tuple[PodInfo, ...] = (),
    server: ServerInfo = OFFLINE,
) -> tuple[DynamicResources, FakeHandle, NodeInfo]:
    node = node_info(NODE, pods=pods)
    objects = FakeObjects(
        resource_claims=list(claims),
        device_classes=[make_class(c) for c in classes],
        slices=[node_slice(NODE, *devices)],
    )
    cluster = FakeCluster(resource_claims={c.key: c for c in claims})
    handle = FakeHandle([node], objects=objects, cluster=cluster, server=server)
    plugin = SPEC.build(SPEC.args(None), handle)
    assert isinstance(plugin, DynamicResources)
    return plugin, handle, node


def cycle(
    plugin: DynamicResources, pod: PodInfo, node: NodeInfo
) -> tuple[CycleState, Status, Status]:
    state = CycleState()
    _, pre = plugin.pre_filter(state, pod, [node])
    filtered = plugin.filter(state, pod, node) if pre.is_success else pre
    return state, pre, filtered


# -- PreFilter ------------------------------------------------------------------------


PRE_FILTER = [
    pytest.param(make_pod("p"), (), SKIP, id="a pod without claims is skipped"),
    pytest.param(
        pod_with_template(generated=None),
        (),
        Status.unresolvable('pod "default/my-pod": ResourceClaim not created yet'),
        id="missing-claim: the template's claim does not exist yet",
    ),
    pytest.param(
        pod_with_template(),
        (make_claim("my-pod-my-resource", owner_pod=POD_UID, deleting=True),),
        Status.unresolvable('resourceclaim "my-pod-my-resource" is being deleted'),
        id="deleted-claim",
    ),
    pytest.param(
        pod_with_template(),
        (make_claim("my-pod-my-resource", owner_pod="someone-else"),),
        Status.unresolvable(
            "ResourceClaim default/my-pod-my-resource was not created for Pod default/my-pod "
            "(Pod is not owner)"
        ),
        id="wrong-claim: generated for another pod",
    ),
    pytest.param(
        pod_with_claim("gone"),
        (),
        Status.unresolvable('resourceclaim.resource.k8s.io "gone" not found'),
        id="a named claim that does not exist",
    ),
    pytest.param(
        pod_with_claim(),
        (make_claim(requests=[exactly("req-1", "no-such-class")]),),
        Status.unresolvable("request req-1: device class no-such-class does not exist"),
        id="missing-class",
    ),
    pytest.param(
        pod_with_claim(),
        (
            make_claim(
                requests=[
                    first_available("req-1", exactly("sub-0", "class-a"), exactly("sub-1", "x"))
                ]
            ),
        ),
        Status.unresolvable("request req-1/sub-1: device class x does not exist"),
        id="claim-with-prioritized-list-unknown-device-class",
    ),
    pytest.param(
        pod_with_template(),
        (make_claim("my-pod-my-resource", owner_pod=POD_UID),),
        SUCCESS,
        id="claim-template: the generated claim is used",
    ),
]


@pytest.mark.parametrize(("pod", "claims", "want"), PRE_FILTER)
def test_pre_filter(pod: PodInfo, claims: tuple[ResourceClaim, ...], want: Status) -> None:
    plugin, _, node = setup(*claims)
    _, status = plugin.pre_filter(CycleState(), pod, [node])
    assert status == want


def test_a_claim_reserved_by_another_cycle_waits_for_its_allocation() -> None:
    claim = make_claim()
    plugin, _, node = setup(claim)
    first = make_pod(
        "first", uid="first", resource_claims=[{"name": "r", "resourceClaimName": "claim-0"}]
    )
    state, pre, filtered = cycle(plugin, first, node)
    assert (pre, filtered) == (SUCCESS, SUCCESS)
    assert plugin.reserve(state, first, NodeName(NODE)) == SUCCESS
    _, status = plugin.pre_filter(CycleState(), pod_with_claim(), [node])
    assert status == Status.unresolvable(
        "resource claim default/claim-0 is in the process of being allocated"
    )


# -- Filter ---------------------------------------------------------------------------


def test_filter_allocates_a_free_device() -> None:
    plugin, _, node = setup(make_claim())
    _, pre, status = cycle(plugin, pod_with_claim(), node)
    assert (pre, status) == (SUCCESS, SUCCESS)


def test_exhausted_resources_in_informer_cache() -> None:
    other = make_claim(
        "other",
        allocation=allocation(("req-0", "driver-a", NODE, "instance-1"), node=NODE),
        reserved_for=["someone"],
    )
    plugin, _, node = setup(make_claim(), other)
    _, _, status = cycle(plugin, pod_with_claim(), node)
    assert status == Status.unresolvable("cannot allocate all claims")


def test_exhausted_resources_in_flight_claim() -> None:
    plugin, _, node = setup(make_claim(), make_claim("other"))
    other_pod = make_pod(
        "o", uid="o", resource_claims=[{"name": "r", "resourceClaimName": "other"}]
    )
    state, _, _ = cycle(plugin, other_pod, node)
    assert plugin.reserve(state, other_pod, NodeName(NODE)) == SUCCESS
    _, _, status = cycle(plugin, pod_with_claim(), node)
    assert status == Status.unresolvable("cannot allocate all claims")


def test_wrong_topology_of_an_allocated_claim() -> None:
    claim = make_claim(allocation=allocation(("req-0", "driver-a", "p", "d"), node="elsewhere"))
    plugin, _, node = setup(claim)
    _, _, status = cycle(plugin, pod_with_claim(), node)
    assert status == Status.unresolvable("resourceclaim not available on the node")


def test_good_topology_of_an_allocated_claim() -> None:
    claim = make_claim(allocation=allocation(("req-0", "driver-a", "p", "d"), node=NODE))
    plugin, _, node = setup(claim)
    _, _, status = cycle(plugin, pod_with_claim(), node)
    assert status == SUCCESS


def test_claim_parameters_cel_runtime_error() -> None:
    broken = make_claim(
        requests=[exactly("req-0", selectors=['device.attributes["driver-a"].healthy'])]
    )
    plugin, _, node = setup(broken)
    _, _, status = cycle(plugin, pod_with_claim(), node)
    assert status == Status.error(
        "claim default/claim-0: selector #0 on device driver-a/worker/instance-1: CEL runtime "
        "error: no such key: healthy. consider using CEL optional chaining (.? followed by "
        "orValue()) or guarding the check with has() for optional fields"
    )


def test_a_slice_with_duplicate_devices_is_reported() -> None:
    plugin, handle, node = setup(make_claim())
    handle.objects.slices = [
        make_slice("dup", node=NODE, pool=NODE, devices=[raw_device("d"), raw_device("d")])
    ]
    _, _, status = cycle(plugin, pod_with_claim(), node)
    assert status == Status.unresolvable("invalid resource pools were encountered")


def held_by(pod: PodInfo, device: str, claim_name: str) -> ResourceClaim:
    return make_claim(
        claim_name,
        allocation=allocation(("req-0", "driver-a", NODE, device), node=NODE),
        reserved_for=[pod.uid],
    )


def holder(priority: int) -> PodInfo:
    return make_pod(
        "holder",
        uid="holder",
        node_name=NODE,
        priority=priority,
        resource_claims=[{"name": "r", "resourceClaimName": "held"}],
    )


@pytest.mark.parametrize(
    ("holder_priority", "code"),
    [
        pytest.param(0, Code.UNSCHEDULABLE, id="a lower-priority holder: preemption may help"),
        pytest.param(100, Code.UNRESOLVABLE, id="an equal-priority holder: it cannot"),
    ],
)
def test_devices_held_by_lower_priority_pods_leave_room_for_preemption(
    holder_priority: int, code: Code
) -> None:
    pod_on_node = holder(holder_priority)
    plugin, _, node = setup(
        make_claim(), held_by(pod_on_node, "instance-1", "held"), pods=(pod_on_node,)
    )
    _, _, status = cycle(plugin, pod_with_claim(priority=100), node)
    assert status == Status(code, ("cannot allocate all claims",))


def test_preemption_dry_run_counts_devices_freed_by_victims() -> None:
    victim = holder(0)
    plugin, _, node = setup(make_claim(), held_by(victim, "instance-1", "held"), pods=(victim,))
    pod = pod_with_claim(priority=100)
    state, _, status = cycle(plugin, pod, node)
    assert not status.is_success
    dry = state.clone()
    assert plugin.remove_pod(dry, pod, victim, node) == SUCCESS
    assert plugin.filter(dry, pod, node) == SUCCESS
    assert plugin.add_pod(dry, pod, victim, node) == SUCCESS
    assert plugin.filter(dry, pod, node) == Status.unschedulable("cannot allocate all claims")
    # The original state saw none of it.
    assert not plugin.filter(state, pod, node).is_success


# -- PostFilter -----------------------------------------------------------------------


# Up to 1.36 PostFilter says why it freed nothing; 1.37 rejects without a word
# (kubernetes PR 140222), on the same paths.
RELEASES = [
    pytest.param(offline(ServerVersion(1, 35)), id="1.35"),
    pytest.param(offline(ServerVersion(1, 36)), id="1.36"),
    pytest.param(offline(ServerVersion(1, 37)), id="1.37"),
]


def words(server: ServerInfo, *reasons: str) -> tuple[str, ...]:
    return () if server.version.at_least(1, 37) else reasons


@pytest.mark.parametrize("server", RELEASES)
async def test_post_filter_words_for_a_pod_without_claims(server: ServerInfo) -> None:
    plugin, _, node = setup(server=server)
    pod = make_pod("p")
    state = CycleState()
    plugin.pre_filter(state, pod, [node])
    _, status = plugin.post_filter(state, pod, NodeToStatus())
    assert status.code is Code.UNSCHEDULABLE
    assert status.reasons == words(server, NO_NEW_CLAIMS)


def test_post_filter_follows_the_newest_release_without_a_server() -> None:
    plugin, _, node = setup()
    pod = make_pod("p")
    state = CycleState()
    plugin.pre_filter(state, pod, [node])
    assert plugin.post_filter(state, pod, NodeToStatus()) == (None, Status.unschedulable())


@pytest.mark.parametrize("server", RELEASES)
async def test_post_filter_deallocates_a_claim_allocated_elsewhere(server: ServerInfo) -> None:
    claim = make_claim(allocation=allocation(("req-0", "driver-a", "p", "d"), node="gone"))
    plugin, handle, node = setup(claim, server=server)
    state, _, _ = cycle(plugin, pod_with_claim(), node)
    assert plugin.post_filter(state, pod_with_claim(), NodeToStatus()) == (
        None,
        Status.unschedulable(DEALLOCATED),
    )
    await plugin.writes.drain()
    assert ("deallocate_claim", "default/claim-0", None) in handle.cluster.calls
    assert handle.cluster.resource_claims["default/claim-0"].allocation is None


@pytest.mark.parametrize("server", RELEASES)
async def test_post_filter_leaves_a_claim_another_pod_uses(server: ServerInfo) -> None:
    claim = make_claim(
        allocation=allocation(("req-0", "driver-a", "p", "d"), node="gone"), reserved_for=["other"]
    )
    plugin, handle, node = setup(claim, server=server)
    state, _, _ = cycle(plugin, pod_with_claim(), node)
    assert plugin.post_filter(state, pod_with_claim(), NodeToStatus()) == (
        None,
        Status(Code.UNSCHEDULABLE, words(server, STILL_NOT_SCHEDULABLE)),
    )
    await plugin.writes.drain()
    assert not handle.cluster.calls


# -- Reserve, PreBind, Unreserve ------------------------------------------------------


async def test_prebind_writes_finalizer_allocation_and_reservation() -> None:
    plugin, handle, node = setup(make_claim())
    pod = pod_with_claim()
    state, _, _ = cycle(plugin, pod, node)
    assert plugin.reserve(state, pod, NodeName(NODE)) == SUCCESS
    assert await plugin.pre_bind(state, pod, NodeName(NODE)) == SUCCESS
    methods = [c[0] for c in handle.cluster.calls]
    assert methods == ["add_claim_finalizer", "reserve_claim"]
    written = handle.cluster.resource_claims["default/claim-0"]
    assert FINALIZER in written.finalizers
    assert [c.uid for c in written.reserved_for] == [POD_UID]
    assert written.allocation is not None
    assert [(r.pool, r.device) for r in written.allocation.results] == [(NODE, "instance-1")]
    assert written.allocation.raw["nodeSelector"] == local_selector(NODE)
    # Nothing is left in flight; the written claim stands in until the watch shows it.
    assert plugin.tracker.pending_allocation(written.uid) is None
    assert plugin.tracker.get("default", "claim-0") == written


async def test_prebind_of_an_allocated_shared_claim_only_reserves() -> None:
    claim = make_claim(
        allocation=allocation(("req-0", "driver-a", NODE, "instance-1"), node=NODE),
        reserved_for=["other"],
        finalizers=[FINALIZER],
    )
    plugin, handle, node = setup(claim)
    pod = pod_with_claim()
    state, _, status = cycle(plugin, pod, node)
    assert status == SUCCESS
    assert plugin.reserve(state, pod, NodeName(NODE)) == SUCCESS
    assert await plugin.pre_bind(state, pod, NodeName(NODE)) == SUCCESS
    assert [(c[0], c[2]) for c in handle.cluster.calls] == [("reserve_claim", (POD_UID, None))]
    assert [c.uid for c in handle.cluster.resource_claims[claim.key].reserved_for] == [
        "other",
        POD_UID,
    ]


async def test_prebind_retries_a_conflict_on_a_fresh_copy() -> None:
    plugin, handle, node = setup(make_claim())
    handle.cluster.fail = {"reserve_claim": Conflict("changed", status=409)}
    handle.cluster.fail_times = {"reserve_claim": 1}
    pod = pod_with_claim()
    state, _, _ = cycle(plugin, pod, node)
    plugin.reserve(state, pod, NodeName(NODE))
    assert await plugin.pre_bind(state, pod, NodeName(NODE)) == SUCCESS
    methods = [c[0] for c in handle.cluster.calls]
    assert methods == [
        "add_claim_finalizer",
        "reserve_claim",
        "get_resource_claim",
        "reserve_claim",
    ]


async def test_bind_failure_unreserve_takes_the_pod_off_the_claim() -> None:
    claim = make_claim(
        allocation=allocation(("req-0", "driver-a", NODE, "instance-1"), node=NODE),
        finalizers=[FINALIZER],
    )
    plugin, handle, node = setup(claim)
    pod = pod_with_claim()
    state, _, _ = cycle(plugin, pod, node)
    plugin.reserve(state, pod, NodeName(NODE))
    assert await plugin.pre_bind(state, pod, NodeName(NODE)) == SUCCESS
    # Bind failed afterwards: the binding cycle runs Unreserve.
    plugin.unreserve(state, pod, NodeName(NODE))
    await plugin.writes.drain()
    assert handle.cluster.calls[-1] == ("unreserve_claim", claim.key, POD_UID)
    assert handle.cluster.resource_claims[claim.key].reserved_for == ()


async def test_a_failed_write_fails_prebind_and_unreserve_forgets_the_allocation() -> None:
    plugin, handle, node = setup(make_claim())
    handle.cluster.fail = {"add_claim_finalizer": Unavailable("apiserver down", status=503)}
    pod = pod_with_claim()
    state, _, _ = cycle(plugin, pod, node)
    plugin.reserve(state, pod, NodeName(NODE))
    status = await plugin.pre_bind(state, pod, NodeName(NODE))
    assert status == Status.error(
        "add allocation and reservation to claim default/claim-0: apiserver down"
    )
    plugin.unreserve(state, pod, NodeName(NODE))
    assert len(plugin.tracker) == 0
    # The device is free again for the next attempt.
    _, _, again = cycle(plugin, pod, node)
    assert again == SUCCESS


def test_two_pods_never_get_one_device() -> None:
    plugin, _, node = setup(make_claim("a"), make_claim("b"))
    first = make_pod("first", uid="1", resource_claims=[{"name": "r", "resourceClaimName": "a"}])
    second = make_pod("second", uid="2", resource_claims=[{"name": "r", "resourceClaimName": "b"}])
    state, _, status = cycle(plugin, first, node)
    assert status == SUCCESS
    plugin.reserve(state, first, NodeName(NODE))
    _, _, status = cycle(plugin, second, node)
    assert status == Status.unresolvable("cannot allocate all claims")


# -- Score ----------------------------------------------------------------------------


def test_first_available_scores_the_earlier_choice_higher() -> None:
    claim = make_claim(
        requests=[
            first_available(
                "req-0",
                exactly("big", selectors=['device.attributes["driver-a"].big']),
                exactly("any"),
            )
        ]
    )
    plugin, handle, node = setup(claim)
    handle.objects.slices = [
        make_slice("s", node=NODE, pool=NODE, devices=[raw_device("d", attributes={"big": False})])
    ]
    pod = pod_with_claim()
    state, _, status = cycle(plugin, pod, node)
    assert status == SUCCESS
    assert plugin.pre_score(state, pod, [node]) == SUCCESS
    assert plugin.score(state, pod, node) == 7  # the second of eight choices
    scores = [7, 0, 3]
    plugin.normalize_scores(state, pod, scores)
    assert scores == [100, 0, 42]


def test_pods_without_first_available_requests_skip_scoring() -> None:
    plugin, _, node = setup(make_claim())
    state, _, _ = cycle(plugin, pod_with_claim(), node)
    assert plugin.pre_score(state, pod_with_claim(), [node]) == SKIP


# -- queueing hints (isSchedulableAfterClaimChange) -----------------------------------

ALLOCATED = make_claim(allocation=allocation(("req-0", "driver-a", NODE, "instance-1"), node=NODE))
PENDING = make_claim()
OTHER = make_claim("other")

HINTS = [
    pytest.param(PENDING, None, QueueingHint.SKIP, id="skip-deletes without an allocation"),
    pytest.param(ALLOCATED, None, QueueingHint.QUEUE, id="queue-on-delete-with-allocation"),
    pytest.param(None, OTHER, QueueingHint.SKIP, id="skip-unrelated-claim"),
    pytest.param(None, PENDING, QueueingHint.QUEUE, id="queue-on-add"),
    pytest.param(
        PENDING,
        make_claim(finalizers=[FINALIZER]),
        QueueingHint.SKIP,
        id="skip-adding-finalizer",
    ),
    pytest.param(PENDING, ALLOCATED, QueueingHint.QUEUE, id="queue-on-status-change"),
    pytest.param(
        make_claim("other", allocation=allocation(("req-0", "driver-a", NODE, "x"))),
        OTHER,
        QueueingHint.QUEUE,
        id="claim-deallocate frees devices for anyone",
    ),
]


@pytest.mark.parametrize(("old", "new", "want"), HINTS)
def test_is_schedulable_after_claim_change(
    old: ResourceClaim | None, new: ResourceClaim | None, want: QueueingHint
) -> None:
    plugin, handle, _ = setup(PENDING, OTHER)
    if new is not None:
        handle.objects.put_claim(new)
    registered = plugin.events_to_register()
    (claim_event,) = [e for e in registered if e.event.resource.value == "ResourceClaim"]
    assert claim_event.hint is not None
    assert claim_event.hint(pod_with_claim(), old, new) is want


def test_hint_skips_while_the_template_claim_is_not_named_yet() -> None:
    plugin, _, _ = setup()
    generated = make_claim("my-pod-my-resource", owner_pod=POD_UID)
    hint = plugin._after_claim_change
    assert hint(pod_with_template(generated=None), None, generated) is QueueingHint.SKIP


def test_pre_enqueue_holds_a_pod_until_its_template_claim_exists() -> None:
    plugin, handle, _ = setup()
    waiting = pod_with_template(generated=None)
    assert plugin.pre_enqueue(waiting) == Status.unresolvable(
        'pod "default/my-pod": ResourceClaim not created yet'
    )
    named = pod_with_template()
    assert plugin.pre_enqueue(named) == Status.unresolvable(
        'resourceclaim.resource.k8s.io "my-pod-my-resource" not found'
    )
    handle.objects.put_claim(make_claim("my-pod-my-resource", owner_pod=POD_UID))
    assert plugin.pre_enqueue(named) == SUCCESS
    assert plugin.pre_enqueue(make_pod("plain")) == SUCCESS
