"""Event series after client-go's tools/events broadcaster: the first repeat
of an isomorphic event patches the existing Event with series count 2; later
repeats count in memory until the series is refreshed or finished; a patch
that finds the Event gone creates it again."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from py_scheduler.cluster import NotFound
from py_scheduler.kube import events


class FakeApi:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.gone: set[str] = set()

    async def post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        self.calls.append(("POST", path, body))
        return {"metadata": {"name": body["metadata"]["name"]}}

    async def patch(self, path: str, body: Mapping[str, Any], *, kind: str = "merge") -> Any:
        self.calls.append(("PATCH", path, body))
        if path.rsplit("/", 1)[1] in self.gone:
            raise NotFound(path)
        return {}


def failed(note: str = "0/3 nodes are available: 3 Insufficient cpu.", name: str = "p") -> Any:
    return {
        "metadata": {"name": f"{name}.abc", "namespace": "ns"},
        "action": "Scheduling",
        "reason": "FailedScheduling",
        "reportingController": "py-scheduler",
        "type": "Warning",
        "note": note,
        "regarding": {"kind": "Pod", "namespace": "ns", "name": name, "uid": "u"},
    }


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_repeats_fold_into_one_event_with_a_series() -> None:
    api, clock = FakeApi(), Clock()
    recorder = events.EventRecorder(api, clock=clock)  # type: ignore[arg-type]
    for _ in range(4):
        await recorder.record(failed())
    await recorder.record(failed(note="another reason"))
    methods = [(m, p.rsplit("/", 1)[1]) for m, p, _ in api.calls]
    assert methods == [("POST", "events"), ("PATCH", "p.abc"), ("POST", "events")]
    assert api.calls[1][2]["series"]["count"] == 2
    # Not observed for 6 minutes: the final count is written and the series ends.
    clock.now += events.FINISH_TIME
    await recorder.flush()
    assert api.calls[-1][0] == "PATCH"
    assert api.calls[-1][2]["series"]["count"] == 4
    await recorder.record(failed())
    assert api.calls[-1][0] == "POST", "a finished series starts a new Event"


async def test_a_refresh_writes_open_series_only_when_they_grew() -> None:
    api, clock = FakeApi(), Clock()
    recorder = events.EventRecorder(api, clock=clock)  # type: ignore[arg-type]
    for _ in range(3):
        await recorder.record(failed())
    before = len(api.calls)
    await recorder.flush(refresh=True)
    assert api.calls[before:][0][2]["series"]["count"] == 3
    await recorder.flush(refresh=True)
    assert len(api.calls) == before + 1


async def test_a_series_whose_event_is_gone_is_created_again() -> None:
    api, clock = FakeApi(), Clock()
    recorder = events.EventRecorder(api, clock=clock)  # type: ignore[arg-type]
    await recorder.record(failed())
    api.gone.add("p.abc")
    await recorder.record(failed())
    assert [m for m, _, _ in api.calls] == ["POST", "PATCH", "POST"]
    assert api.calls[-1][2]["series"]["count"] == 2
