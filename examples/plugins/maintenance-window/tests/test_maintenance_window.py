"""MaintenanceWindow's tests, with py-scheduler's plugin kit: pods of a
namespace whose window is closed are held at Permit, released when it opens,
and rejected with upstream's message when they wait too long."""

from __future__ import annotations

from typing import Any

import pytest
from maintenance_window import NAME, SPEC, MaintenanceWindow

from py_scheduler.framework import ActionType, Code, QueueingHint, Status
from py_scheduler.testing import ConfigError, PluginKit, node, pod


def window(namespace: str, name: str = "nightly", *, open_: bool, reason: str = "") -> Any:
    spec: dict[str, Any] = {"open": open_}
    if reason:
        spec["reason"] = reason
    return {
        "apiVersion": "maintenance.example.com/v1",
        "kind": "MaintenanceWindow",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def kit(*windows: Any, args: dict[str, Any] | None = None) -> PluginKit:
    return PluginKit(SPEC, args=args, nodes=[node("n1")], objects=windows)


PERMITS = [
    pytest.param([], Status(), 0.0, id="no window: allowed"),
    pytest.param([window("batch", open_=True)], Status(), 0.0, id="an open window: allowed"),
    pytest.param(
        [window("batch", open_=False, reason="database upgrade")],
        Status(
            Code.WAIT,
            (
                "maintenance window batch/nightly is closed: database upgrade",
                "one or more plugins asked to wait and no plugin rejected pod",
            ),
        ),
        900.0,
        id="a closed window: held up to 15 minutes",
    ),
    pytest.param(
        [window("batch", "a", open_=True), window("batch", "b", open_=False)],
        Status(
            Code.WAIT,
            (
                "maintenance window batch/b is closed",
                "one or more plugins asked to wait and no plugin rejected pod",
            ),
        ),
        900.0,
        id="one closed window among open ones holds",
    ),
    pytest.param([window("other", open_=False)], Status(), 0.0, id="another namespace's window"),
]


@pytest.mark.parametrize(("windows", "permit", "wait"), PERMITS)
def test_permit(windows: list[Any], permit: Status, wait: float) -> None:
    decision = kit(*windows).decide(pod("job", namespace="batch"))
    assert decision.node == "n1"
    assert decision.permit == permit
    assert decision.permit_waits == ({NAME: wait} if wait else {})


def test_held_pods_go_as_soon_as_the_window_opens() -> None:
    k = kit(window("batch", open_=False), window("web", open_=False))
    first = k.permit(pod("job-1", namespace="batch"), "n1")
    second = k.permit(pod("job-2", namespace="batch"), "n1")
    web = k.permit(pod("site", namespace="web"), "n1")
    assert [h.permit.code for h in (first, second, web)] == [Code.WAIT] * 3
    assert k.advance(60) == 0
    assert first.outcome is None
    k.add_objects([window("batch", open_=True)])  # the same window, opened
    assert first.outcome == second.outcome == Status()
    assert web.outcome is None  # its namespace is still closed
    assert [w.pod.name for w in k.framework.waiting_pods()] == ["site"]


def test_deleting_the_last_closed_window_releases_too() -> None:
    k = kit(window("batch", open_=False))
    held = k.permit(pod("job", namespace="batch"), "n1")
    k.remove_objects([window("batch", open_=False)])
    assert held.outcome == Status()


def test_a_pod_held_too_long_is_rejected_with_upstreams_message() -> None:
    k = kit(window("batch", open_=False), args={"maxWait": "90s"})
    held = k.permit(pod("job", namespace="batch"), "n1")
    assert held.waits == {NAME: 90.0}
    assert k.advance(89) == 0
    assert k.advance(1) == 1
    assert held.outcome == Status(
        Code.UNSCHEDULABLE,
        ("rejected due to timeout after waiting 1m30s at plugin MaintenanceWindow",),
        NAME,
    )
    assert held.waited == 90.0


def test_a_timed_out_pod_is_requeued_only_when_its_namespace_opens() -> None:
    k = kit(window("batch", open_=False), window("web", open_=False))
    plugin = k.plugin
    assert isinstance(plugin, MaintenanceWindow)
    (registered,) = plugin.events_to_register()
    assert registered.event.action == ActionType.ADD | ActionType.UPDATE | ActionType.DELETE
    hint = registered.hint
    assert hint is not None
    job = pod("job", namespace="batch")
    assert hint(job, None, window("web", open_=True)) is QueueingHint.SKIP
    assert hint(job, None, window("batch", open_=False)) is QueueingHint.SKIP
    k.add_objects([window("batch", open_=True)])
    assert hint(job, window("batch", open_=False), window("batch", open_=True)) is (
        QueueingHint.QUEUE
    )


async def test_a_simulated_run_holds_the_closed_namespace_until_the_wait_runs_out() -> None:
    k = kit(window("batch", open_=False, reason="upgrade"))
    results = await k.simulate([pod("job", namespace="batch"), pod("site", namespace="web")])
    assert {r.pod: (r.node, r.message) for r in results} == {
        "batch/job": (
            None,
            "0/1 nodes are available: 1 rejected due to timeout after waiting 15m0s at plugin "
            "MaintenanceWindow.",
        ),
        "web/site": ("n1", ""),
    }


ARGS_ERRORS = [
    pytest.param(
        {"maxWait": "16m"}, "args.maxWait: must be more than 0s and at most 15m, got 960s"
    ),
    pytest.param({"maxWait": "0s"}, "args.maxWait: must be more than 0s and at most 15m, got 0s"),
    pytest.param({"maxWait": "soon"}, "args.maxWait: time: invalid duration 'soon'"),
    pytest.param({"maxWait": 60}, "args.maxWait: expected a duration such as '10s', got 60"),
    pytest.param({"wait": "1m"}, "args.wait: unknown field"),
]


@pytest.mark.parametrize(("args", "message"), ARGS_ERRORS)
def test_invalid_args(args: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        kit(args=args)
    assert f"plugin MaintenanceWindow: {message}" in str(caught.value)


def test_a_malformed_window_is_left_out_and_holds_nothing() -> None:
    broken = window("batch", open_=False)
    broken["spec"] = {"open": "no"}
    decision = kit(broken).decide(pod("job", namespace="batch"))
    assert decision.permit == Status()
