"""List-and-watch (a reflector) straight into the scheduler's own types.

Each watch line is parsed with orjson and decoded into ``PodInfo``/``Node``;
no client model objects are built. The watch resumes from the last
resourceVersion it saw (bookmarks keep that fresh). When the API answers 410
Gone, the reflector relists and hands the complete list to ``on_replace``,
which rebuilds the cache without losing or double-counting anything. A
malformed object is skipped with a logged reason and handed to ``on_invalid``
(pods of ours still get a decision there); it never stops the watch.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Generic, Protocol, TypeVar

import orjson
import structlog

from py_scheduler.cluster import ClusterError
from py_scheduler.kube import errors
from py_scheduler.kube.client import KubeClient
from py_scheduler.model import DecodeError

log = structlog.get_logger("py_scheduler.watch")

T = TypeVar("T")

LIST_PAGE: Final = 500
# The server ends each watch after 8-12 s and sends a bookmark 2 s before, so a
# healthy watch is never silent for long: one silent for IDLE_TIMEOUT is dead
# (a peer gone without a FIN or RST, a stalled proxy) and is replaced. The
# cost is one cheap watch request per resource every ~10 s, served from the
# API server's watch cache from the last resourceVersion.
WATCH_TIMEOUT: Final = 8
WATCH_TIMEOUT_JITTER: Final = 4
IDLE_TIMEOUT: Final = 15.0
BACKOFF_START: Final = 0.5
# Low, so that a watch resumes within seconds once the API server is back.
BACKOFF_MAX: Final = 5.0


# (raw object, why it could not be decoded, deleted?)
OnInvalid = Callable[[Mapping[str, Any], DecodeError, bool], None]


@dataclass(frozen=True)
class Handlers(Generic[T]):
    decode: Callable[[Mapping[str, Any]], T]
    on_replace: Callable[[list[T]], None]  # a complete, fresh list
    on_upsert: Callable[[T], None]  # ADDED or MODIFIED
    on_delete: Callable[[T], None]
    # Objects the decoder refused (after on_replace, for those of a relist).
    on_invalid: OnInvalid | None = None


class Watch(Protocol):
    """What the app runs and waits for: a reflector, or a watch wrapping one
    (:mod:`py_scheduler.kube.custom_resources`)."""

    name: str
    synced: asyncio.Event

    async def run(self) -> None: ...


class Reflector(Generic[T]):
    def __init__(
        self,
        kube: KubeClient,
        path: str,
        handlers: Handlers[T],
        *,
        name: str,
        field_selector: str | None = None,
    ) -> None:
        self.kube = kube
        self.path = path
        self.handlers = handlers
        self.name = name
        self.field_selector = field_selector
        self.synced = asyncio.Event()
        self.resource_version: str | None = None
        self.relists = 0
        self.skipped = 0
        self._progressed = False  # the current watch delivered at least one event

    async def run(self) -> None:
        delay = BACKOFF_START
        while True:
            self._progressed = False
            try:
                if self.resource_version is None:
                    await self._relist()
                await self._watch()
                delay = BACKOFF_START
            except errors.Gone:
                log.info("watch expired; relisting", watch=self.name)
                self.resource_version = None
            except ClusterError as exc:
                if self._progressed:
                    # A watch that worked for a while and was then cut is not a failing
                    # server: start the backoff afresh.
                    delay = BACKOFF_START
                log.warning("watch failed; retrying", watch=self.name, error=str(exc), delay=delay)
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, BACKOFF_MAX)

    async def _relist(self) -> None:
        items: list[T] = []
        invalid: list[tuple[Mapping[str, Any], DecodeError]] = []
        params: dict[str, str] = {"limit": str(LIST_PAGE)}
        if self.field_selector:
            params["fieldSelector"] = self.field_selector
        while True:
            page = await self.kube.get(self.path, params)
            for raw in page.get("items", []):
                decoded = self._decode(raw, invalid)
                if decoded is not None:
                    items.append(decoded)
            meta = page.get("metadata", {})
            if meta.get("continue"):
                params["continue"] = meta["continue"]
                continue
            self.resource_version = meta.get("resourceVersion") or None
            break
        self.handlers.on_replace(items)
        if self.handlers.on_invalid is not None:
            for raw, exc in invalid:
                self.handlers.on_invalid(raw, exc, False)
        self.relists += 1
        self.synced.set()
        log.info("listed", watch=self.name, objects=len(items), rv=self.resource_version)

    async def _watch(self) -> None:
        params = {
            "watch": "1",
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(WATCH_TIMEOUT + random.randint(0, WATCH_TIMEOUT_JITTER)),
            "resourceVersion": self.resource_version or "",
        }
        if self.field_selector:
            params["fieldSelector"] = self.field_selector
        async for line in self.kube.stream(self.path, params, idle_timeout=IDLE_TIMEOUT):
            try:
                event = orjson.loads(line)
                kind = event["type"]
                obj = event["object"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                log.warning("undecodable watch line skipped", watch=self.name, line=line[:200])
                continue
            if kind == "ERROR":
                code = obj.get("code") if isinstance(obj, dict) else None
                if code == 410:
                    raise errors.Gone(f"watch {self.path}: {obj.get('message', '')}", status=410)
                raise errors.Unavailable(f"watch {self.path}: error event {obj!r}")
            self._progressed = True
            rv = obj.get("metadata", {}).get("resourceVersion") if isinstance(obj, dict) else None
            if rv:
                self.resource_version = rv
            if kind == "BOOKMARK":
                continue
            invalid: list[tuple[Mapping[str, Any], DecodeError]] = []
            decoded = self._decode(obj, invalid)
            if decoded is None:
                if invalid and self.handlers.on_invalid is not None:
                    self.handlers.on_invalid(*invalid[0], kind == "DELETED")
                continue
            if kind == "DELETED":
                self.handlers.on_delete(decoded)
            else:
                self.handlers.on_upsert(decoded)

    def _decode(
        self, raw: object, invalid: list[tuple[Mapping[str, Any], DecodeError]]
    ) -> T | None:
        if not isinstance(raw, dict):
            self.skipped += 1
            return None
        try:
            return self.handlers.decode(raw)
        except DecodeError as exc:
            invalid.append((raw, exc))
            self.skipped += 1
            meta = raw.get("metadata") or {}
            log.warning(
                "malformed object skipped",
                watch=self.name,
                object=f"{meta.get('namespace', '')}/{meta.get('name', '?')}",
                field=exc.path,
                reason=exc.problem,
            )
            return None
