"""The status writer: FailedScheduling and Scheduled events and the PodScheduled
condition, their retries, what is not written again, and what is counted."""

from __future__ import annotations

import pytest

from py_scheduler.cluster import Conflict, Invalid, Unavailable
from py_scheduler.framework.recorder import NoMetrics
from py_scheduler.scheduling.status_writer import NOTE_LENGTH_LIMIT, truncate
from tests.builders import make_pod
from tests.unit.helpers_core import (
    build_core,
    failed_scheduling,
    schedule,
    small,
    with_scheduled_condition,
)

NO_ROOM = (
    "0/1 nodes are available: 1 Insufficient cpu."
    " preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
)


class Recorded(NoMetrics):
    def __init__(self) -> None:
        self.attempts: list[tuple[str, str]] = []
        self.writes: list[tuple[str, str]] = []

    def schedule_attempt(self, result: str, profile: str, seconds: float) -> None:
        self.attempts.append((result, profile))

    def api_write(self, kind: str, result: str) -> None:
        self.writes.append((kind, result))


async def test_a_failed_event_write_still_patches_the_condition() -> None:
    core = build_core([small("n1")])
    core.cluster.fail["record_event"] = Unavailable("events are down", status=500)
    await schedule(core, make_pod("p", requests={"cpu": "2"}))
    assert core.cluster.calls == failed_scheduling("default/p", NO_ROOM)


@pytest.mark.parametrize(
    ("error", "times", "patches"),
    [
        pytest.param(Unavailable("down", status=503), 1, 2, id="503 once is retried"),
        pytest.param(Unavailable("down", status=500), 2, 3, id="500 twice is retried twice"),
        pytest.param(Conflict("modified", status=409), 1, 2, id="a conflict is retried"),
        pytest.param(Unavailable("down", status=503), 9, 4, id="gives up after four tries"),
        pytest.param(Unavailable("timeout", status=0), 1, 1, id="a timeout is not retried"),
        pytest.param(Invalid("bad patch", status=422), 1, 1, id="an invalid patch is not retried"),
    ],
)
async def test_a_status_patch_is_retried_as_upstream_retries_it(
    error: Exception, times: int, patches: int
) -> None:
    core = build_core([small("n1")])
    core.cluster.fail["patch_pod_status"] = error
    core.cluster.fail_times["patch_pod_status"] = times
    await schedule(core, make_pod("p", requests={"cpu": "2"}))
    event, patch = failed_scheduling("default/p", NO_ROOM)
    assert core.cluster.calls == [event] + [patch] * patches


async def test_an_unchanged_failure_is_not_patched_again() -> None:
    core = build_core([small("n1")])
    message = (
        "0/1 nodes are available: 1 Insufficient cpu."
        " preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
    )
    await schedule(core, make_pod("p", requests={"cpu": "2"}))
    core.cluster.calls.clear()
    core.scheduler.on_pod(
        with_scheduled_condition(make_pod("p", requests={"cpu": "2"}), "Unschedulable", message)
    )
    core.clock.advance(400)
    core.queue.flush_unschedulable_leftover()
    await core.cycle()
    assert core.cluster.calls == [
        ("record_event", "default/p", ("Warning", "FailedScheduling", message))
    ]


TRUNCATES = [
    pytest.param(
        "x" * NOTE_LENGTH_LIMIT, "x" * NOTE_LENGTH_LIMIT, id="a note at the limit is kept"
    ),
    pytest.param(
        "x" * (NOTE_LENGTH_LIMIT + 1),
        "x" * (NOTE_LENGTH_LIMIT - 4) + " ...",
        id="a note over the limit is cut with an ellipsis",
    ),
]


@pytest.mark.parametrize(("note", "want"), TRUNCATES)
def test_truncate(note: str, want: str) -> None:
    assert truncate(note) == want
    assert len(truncate(note)) <= 1024


async def test_attempts_and_writes_are_reported_to_the_recorder_given() -> None:
    recorder = Recorded()
    core = build_core([small("n1")], recorder=recorder)
    await schedule(core, make_pod("fits", requests={"cpu": "500m"}))
    await schedule(core, make_pod("too-big", requests={"cpu": "2"}))
    assert recorder.attempts == [("scheduled", "py-scheduler"), ("unschedulable", "py-scheduler")]
    assert recorder.writes == [("event", "ok"), ("event", "ok"), ("pod_status", "ok")]


async def test_a_pod_recreated_before_its_failure_is_written_gets_nothing_for_the_old_uid() -> None:
    """kube-scheduler 1.37's handleSchedulingFailure skips a pod deleted and recreated
    under its name (a new UID): the event and the patch go by name and would land on
    the new pod. The old pod is not requeued; the new one is queued on its own."""
    core = build_core([small("n1")])
    old = make_pod("p", uid="old-uid", requests={"cpu": "2"})
    core.scheduler.on_pod(old)
    queued = await core.queue.pop()
    assert queued is not None
    core.scheduler.schedule_one(queued)  # unschedulable; the writes are in the background
    core.scheduler.on_pod_deleted(old)
    new = make_pod("p", uid="new-uid", requests={"cpu": "2"})
    core.scheduler.on_pod(new)
    await core.settle()
    assert core.cluster.calls == []
    assert core.queue.where(old.uid) is None
    assert core.queue.where(new.uid) is not None
    # The new pod's own attempt is reported as usual.
    await core.cycle()
    assert core.cluster.calls == failed_scheduling("default/p", NO_ROOM)


async def test_an_undecodable_pod_is_reported_though_never_pending() -> None:
    core = build_core([small("n1")])
    core.scheduler.reject_undecodable(make_pod("bad"), "spec.containers: a pod needs one")
    await core.settle()
    assert core.cluster.calls == failed_scheduling(
        "default/bad", "spec.containers: a pod needs one", reason="SchedulerError"
    )
