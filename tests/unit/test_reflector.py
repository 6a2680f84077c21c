"""The reflector's retry pacing, over an in-memory stand-in for the API."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
import pytest

from py_scheduler.kube import errors, watches
from py_scheduler.model import DecodeError


class FlakyApi:
    """Lists fine; each watch yields ``events[i]`` lines, then fails with 503."""

    def __init__(self, events: list[int]) -> None:
        self.events = events
        self.watches = 0

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        return {"items": [], "metadata": {"resourceVersion": "1"}}

    async def stream(
        self, path: str, params: Mapping[str, str], *, idle_timeout: float
    ) -> AsyncIterator[bytes]:
        count = self.events[self.watches] if self.watches < len(self.events) else 0
        self.watches += 1
        for i in range(count):
            obj = {"metadata": {"name": f"n{i}", "resourceVersion": str(2 + i)}}
            yield orjson.dumps({"type": "BOOKMARK", "object": obj})
        raise errors.Unavailable("cut", status=503)


async def delays_for(events: list[int], monkeypatch: pytest.MonkeyPatch) -> list[float]:
    api = FlakyApi(events)
    seen: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(delay: float) -> None:
        seen.append(delay)
        if len(seen) >= len(events):
            raise asyncio.CancelledError
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    monkeypatch.setattr(random, "random", lambda: 0.5)  # no jitter
    handlers = watches.Handlers[object](
        decode=lambda raw: raw,
        on_replace=lambda _: None,
        on_upsert=lambda _: None,
        on_delete=lambda _: None,
    )
    reflector = watches.Reflector[object](
        api,  # type: ignore[arg-type]  # the stand-in has the two methods used
        "/api/v1/nodes",
        handlers,
        name="nodes",
    )
    with pytest.raises(asyncio.CancelledError):
        await reflector.run()
    return seen


async def test_failing_watches_back_off_exponentially(monkeypatch: pytest.MonkeyPatch) -> None:
    assert await delays_for([0, 0, 0, 0], monkeypatch) == [0.5, 1.0, 2.0, 4.0]


async def test_a_watch_that_delivered_events_restarts_the_backoff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two failures, then a watch that worked for a while before it was cut.
    assert await delays_for([0, 0, 3, 0], monkeypatch) == [0.5, 1.0, 0.5, 1.0]


class ScriptedApi:
    """Lists ``listed``, then one watch of ``events`` (type, object), then blocks."""

    def __init__(self, listed: list[Any], events: list[tuple[str, Any]]) -> None:
        self.listed = listed
        self.events = events

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        return {"items": self.listed, "metadata": {"resourceVersion": "1"}}

    async def stream(
        self, path: str, params: Mapping[str, str], *, idle_timeout: float
    ) -> AsyncIterator[bytes]:
        for kind, obj in self.events:
            yield orjson.dumps({"type": kind, "object": obj})
        await asyncio.Event().wait()


def _decode(raw: Mapping[str, Any]) -> str:
    name = raw["metadata"]["name"]
    if name.startswith("bad"):
        raise DecodeError("spec.x", "broken")
    return str(name)


async def test_objects_the_decoder_refuses_are_handed_to_on_invalid() -> None:
    def obj(name: str) -> dict[str, Any]:
        return {"metadata": {"name": name, "resourceVersion": "2"}}

    seen: list[tuple[str, str, bool]] = []
    order: list[str] = []
    handlers = watches.Handlers[str](
        decode=_decode,
        on_replace=lambda items: order.append(f"replace {items}"),
        on_upsert=lambda item: order.append(f"upsert {item}"),
        on_delete=lambda item: order.append(f"delete {item}"),
        on_invalid=lambda raw, exc, deleted: seen.append(
            (raw["metadata"]["name"], exc.path, deleted)
        ),
    )
    api = ScriptedApi(
        [obj("good-1"), obj("bad-1")],
        [("ADDED", obj("bad-2")), ("MODIFIED", obj("good-2")), ("DELETED", obj("bad-1"))],
    )
    reflector = watches.Reflector[str](
        api,  # type: ignore[arg-type]  # the stand-in has the two methods used
        "/api/v1/pods",
        handlers,
        name="pods",
    )
    task = asyncio.create_task(reflector.run())
    for _ in range(100):
        if len(seen) == 3:
            break
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert order == ["replace ['good-1']", "upsert good-2"]
    assert seen == [
        ("bad-1", "spec.x", False),
        ("bad-2", "spec.x", False),
        ("bad-1", "spec.x", True),
    ]
    assert reflector.skipped == 3
