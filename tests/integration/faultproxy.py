"""A fault-injecting loopback proxy in front of the real kube-apiserver.

The scheduler under test talks plain HTTP to this proxy, which forwards every
request to the API server over HTTPS with the admin token and streams watch
responses back chunk by chunk. Tests change its behaviour at run time:

- answer the next matching requests with a given HTTP status and a proper
  ``Status`` body instead of forwarding them (``answer``);
- hold a request until the test releases it, then forward or answer it
  (``hold``), so the test can change the cluster in between;
- end open watches with an ``ERROR`` event carrying 410 Gone
  (``expire_watches``), cut them off mid-stream (``cut_watches``), or let
  them go silent with the connection open (``stall_watches``); the
  next watch can be held and answered 410, as HTTP status or ERROR event;
- add objects to the list and watch responses of pods or nodes (``inject``);
- leave the next watch events about one object out (``drop_events``);
- reset every connection as it is accepted (``reset_all``), or answer nothing
  with connections left open (``go_silent``), until ``heal``.

It records every request it saw (``seen``), so tests can count binds. It runs
its own event loop in a daemon thread: the test's loop may block (urllib,
``time.sleep`` in fixtures) without stalling the scheduler's API traffic.
"""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import threading
from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
import orjson
from aiohttp import web

from controlplane.launcher import free_port

JSON = dict[str, Any]
Resource = Literal["pods", "nodes"]
_COLLECTIONS: dict[str, re.Pattern[str]] = {
    "pods": re.compile(r"^/api/v1/(namespaces/[^/]+/)?pods$"),
    "nodes": re.compile(r"^/api/v1/nodes$"),
}
_REASONS = {
    404: "NotFound",
    409: "Conflict",
    410: "Expired",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
}
_FORWARDED_HEADERS = ("Content-Type", "Accept", "User-Agent")


def status_body(code: int, message: str) -> JSON:
    """The ``metav1.Status`` the API server sends with an error."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": _REASONS.get(code, "InternalError"),
        "code": code,
    }


def binding_path(namespace: str, pod: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods/{pod}/binding"


@dataclass
class Seen:
    """A request, recorded as it arrives (before the API server acts on it)."""

    method: str
    path: str
    watch: bool
    status: int = 0  # what the client got back, once answered


class Gate:
    """A held request: ``arrived`` is set when it reaches the proxy; the test
    calls ``release`` to let it go on (forwarded, or answered by the rule)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.arrived = threading.Event()
        self.body: JSON = {}
        self._loop = loop
        self._released = asyncio.Event()  # only touched in the proxy's loop

    def release(self) -> None:
        self._loop.call_soon_threadsafe(self._released.set)

    async def wait_released(self) -> None:
        await self._released.wait()

    async def reached(self, timeout: float = 30) -> JSON:
        """Wait (from any event loop) until the request arrives; returns its body."""
        if not await asyncio.to_thread(self.arrived.wait, timeout):
            raise AssertionError(f"no held request arrived within {timeout}s")
        return self.body


@dataclass
class _Rule:
    method: str
    pattern: re.Pattern[str]
    watch: bool | None  # None matches both
    statuses: list[int]  # one per matching request; 0 forwards it
    gate: Gate | None = None
    event_form: bool = False  # a 410 goes out as an ERROR event in a 200 stream
    message: str = ""  # the Status message; empty: "injected fault: ..."

    def matches(self, method: str, path: str, watch: bool) -> bool:
        return (
            method == self.method
            and self.pattern.search(path) is not None
            and (self.watch is None or self.watch == watch)
        )


@dataclass
class _Stream:
    resource: str
    response: web.StreamResponse
    request: web.Request
    task: asyncio.Task[Any] | None
    pending: list[bytes] = field(default_factory=list)  # lines to slip in
    # Lines are slipped in only between whole upstream lines, under the lock.
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    ending: bool = False  # close once the pending lines are out
    stalled: bool = False  # relays nothing more, keeps the connection open


class FaultProxy:
    def __init__(self, upstream: str, token: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.token = token
        self.port = free_port()
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._injected: dict[str, list[JSON]] = {"pods": [], "nodes": []}
        self._dropped: dict[tuple[str, str], int] = {}  # (resource, name) -> events to drop
        self._mode = ""  # "", "reset" or "silent"
        self._healthy: asyncio.Event | None = None  # set unless silent (the proxy's loop)
        self._streams: list[_Stream] = []
        self._seen: list[Seen] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_kubeconfig(self, path: str) -> None:
        """A kubeconfig for the scheduler: plain HTTP, no credentials."""
        with open(path, "w") as out:
            out.write(
                "apiVersion: v1\nkind: Config\n"
                f"clusters:\n- name: proxy\n  cluster:\n    server: {self.url}\n"
                "users:\n- name: anonymous\n  user: {}\n"
                "contexts:\n- name: proxy\n  context: {cluster: proxy, user: anonymous}\n"
                "current-context: proxy\n"
            )

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self) -> None:
        self._healthy = asyncio.Event()
        self._healthy.set()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=False, limit=0),
            headers={"Authorization": f"Bearer {self.token}"},
        )
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # A client that gives up ends its request here too, as the API server
        # cancels a request's context: nothing is forwarded late, after a heal.
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=1, handler_cancellation=True
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _stop(self) -> None:
        for stream in list(self._streams):
            _abort(stream)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            # A graceful TLS shutdown needs the loop that is about to stop: a
            # connection still in use (a stalled watch, a request held while
            # silent) would leave its socket open.
            if self._session.connector is not None:
                await self._session.connector.close(abort_ssl=True)
            await self._session.close()
        # Handlers of connections the client never closed would outlive the loop.
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        await asyncio.sleep(0)  # aborted transports close their sockets on the next turn

    # -- rules, set by tests (any thread) ----------------------------------------------

    def reset(self) -> None:
        """Forward everything again; held requests are let go."""
        with self._lock:
            for rule in self._rules:
                if rule.gate is not None:
                    rule.gate.release()
            self._rules.clear()
            self._injected = {"pods": [], "nodes": []}
            self._dropped.clear()
        self.heal()

    def answer(
        self,
        method: str,
        path_regex: str,
        *statuses: int,
        watch: bool | None = False,
        message: str = "",
    ) -> None:
        """Answer the next ``len(statuses)`` matching requests with these statuses
        (and ``message`` in the Status body, if given)."""
        self._add(_Rule(method, re.compile(path_regex), watch, list(statuses), message=message))

    def hold(
        self,
        method: str,
        path_regex: str,
        *,
        then: int = 0,
        watch: bool | None = False,
        event_form: bool = False,
    ) -> Gate:
        """Hold the next matching request until released; then forward it
        (``then=0``) or answer it with status ``then`` (for a watch, with
        ``event_form``, as an ERROR event in a 200 stream)."""
        gate = Gate(self._loop)
        rule = _Rule(method, re.compile(path_regex), watch, [then], gate, event_form)
        self._add(rule)
        return gate

    def expire_watches(self, resource: Resource, *, event_form: bool) -> None:
        """End the open watches of ``resource``: with an ERROR event carrying
        410 Gone (``event_form``), or else cut off, so that the retry meets
        whatever ``hold``/``answer`` rules the test has set."""
        line = _error_event(410) if event_form else None
        self._loop.call_soon_threadsafe(self._end_streams, resource, line)

    def reset_all(self) -> None:
        """Accept every connection and reset it (RST) at once, open watches too,
        as a load balancer with no healthy backend does, until ``heal``."""
        with self._lock:
            self._mode = "reset"
        self._loop.call_soon_threadsafe(self._reset_streams)

    def go_silent(self) -> None:
        """Answer nothing more, on open watches or new requests, keeping the
        connections open (packets silently dropped), until ``heal``."""
        with self._lock:
            self._mode = "silent"
            for stream in self._streams:
                stream.stalled = True
        self._loop.call_soon_threadsafe(self._set_healthy, False)

    def heal(self) -> None:
        with self._lock:
            self._mode = ""
        self._loop.call_soon_threadsafe(self._set_healthy, True)

    def _set_healthy(self, healthy: bool) -> None:
        if self._healthy is not None:
            (self._healthy.set if healthy else self._healthy.clear)()

    def stall_watches(self, resource: Resource) -> None:
        """Open watches of ``resource`` go silent: the connection stays open and
        nothing more arrives on it, as on a connection that died unnoticed."""
        with self._lock:
            for stream in self._streams:
                if stream.resource == resource:
                    stream.stalled = True

    def cut_watches(self, resource: Resource) -> None:
        """Close the open watch streams of ``resource`` mid-response."""
        self._loop.call_soon_threadsafe(self._end_streams, resource, None)

    def inject(self, resource: Resource, objects: Iterable[JSON]) -> None:
        """Add ``objects`` to every list of ``resource`` from now on, and as
        ADDED events to its open watches (at once, between two upstream lines)
        and to new ones."""
        added = list(objects)
        with self._lock:
            self._injected[resource].extend(added)
            lines = [orjson.dumps({"type": "ADDED", "object": obj}) + b"\n" for obj in added]
            for stream in self._streams:
                if stream.resource == resource:
                    stream.pending.extend(lines)
        self._loop.call_soon_threadsafe(self._kick, resource)

    def drop_events(self, resource: Resource, name: str, count: int = 1) -> None:
        """Leave the next ``count`` watch events about the object ``name`` out of
        every watch of ``resource`` (lists still show it), as a lost event would."""
        with self._lock:
            self._dropped[(resource, name)] = count

    def _keep(self, resource: str, line: bytes) -> bool:
        with self._lock:
            if not any(r == resource for r, _ in self._dropped):
                return True
            try:
                name = orjson.loads(line)["object"]["metadata"]["name"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                return True
            left = self._dropped.get((resource, name), 0)
            if left <= 0:
                return True
            self._dropped[(resource, name)] = left - 1
            return False

    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    def count(self, method: str, path: str, *, watch: bool = False) -> int:
        return sum(1 for s in self.seen() if (s.method, s.path, s.watch) == (method, path, watch))

    def _add(self, rule: _Rule) -> None:
        with self._lock:
            self._rules.append(rule)

    def _take(self, method: str, path: str, watch: bool) -> tuple[_Rule, int] | None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path, watch):
                    status = rule.statuses.pop(0)
                    if not rule.statuses:
                        self._rules.remove(rule)
                    return rule, status
        return None

    def _arrived(self, method: str, path: str, watch: bool) -> Seen:
        seen = Seen(method, path, watch)
        with self._lock:
            self._seen.append(seen)
        return seen

    # -- serving (the proxy's loop) ----------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            mode = self._mode
        if mode == "reset":
            _reset(request)
            return web.Response(status=502)  # never sent: the connection is gone
        if mode == "silent" and self._healthy is not None:
            await self._healthy.wait()
        path = request.path
        watch = request.query.get("watch") in ("1", "true")
        body = await request.read()
        seen = self._arrived(request.method, path, watch)
        taken = self._take(request.method, path, watch)
        status = 0
        message = f"injected fault: {request.method} {path}"
        if taken is not None:
            rule, status = taken
            message = rule.message or message
            if rule.gate is not None:
                rule.gate.body = orjson.loads(body) if body else {}
                rule.gate.arrived.set()
                await rule.gate.wait_released()
            if status and rule.event_form and watch:
                seen.status = 200
                return web.Response(body=_error_event(status), content_type="application/json")
        if status:
            seen.status = status
            return web.json_response(status_body(status, message), status=status)
        resource = next((r for r, p in _COLLECTIONS.items() if p.match(path)), None)
        if watch:
            return await self._stream(request, body, resource, seen)
        return await self._forward(request, body, resource, seen)

    def _upstream(
        self, request: web.Request, body: bytes, *, timeout: float | None
    ) -> AbstractAsyncContextManager[aiohttp.ClientResponse]:
        assert self._session is not None
        headers = {h: request.headers[h] for h in _FORWARDED_HEADERS if h in request.headers}
        return self._session.request(
            request.method,
            self.upstream + request.path_qs,
            data=body or None,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
        )

    async def _forward(
        self, request: web.Request, body: bytes, resource: str | None, seen: Seen
    ) -> web.StreamResponse:
        async with self._upstream(request, body, timeout=60) as upstream:
            raw = await upstream.read()
            status = upstream.status
            content_type = upstream.headers.get("Content-Type", "application/json")
        seen.status = status
        if resource is not None and request.method == "GET" and status == 200:
            with self._lock:
                extra = list(self._injected[resource])
            if extra:
                page = orjson.loads(raw)
                page["items"] = [*page.get("items", []), *extra]
                raw = orjson.dumps(page)
        return web.Response(
            body=raw, status=status, headers={"Content-Type": content_type.split(";")[0]}
        )

    async def _stream(
        self, request: web.Request, body: bytes, resource: str | None, seen: Seen
    ) -> web.StreamResponse:
        async with self._upstream(request, body, timeout=None) as upstream:
            seen.status = upstream.status
            response = web.StreamResponse(status=upstream.status)
            response.content_type = "application/json"
            await response.prepare(request)
            stream = _Stream(resource or "", response, request, asyncio.current_task())
            with self._lock:
                if resource is not None:
                    stream.pending.extend(
                        orjson.dumps({"type": "ADDED", "object": obj}) + b"\n"
                        for obj in self._injected[resource]
                    )
                self._streams.append(stream)
            try:
                await self._flush(stream)
                partial = b""
                async for chunk in upstream.content.iter_any():
                    if stream.stalled:
                        # Relay nothing until the client gives up: its handler is
                        # then cancelled, which lets the upstream watch go.
                        await asyncio.Event().wait()
                    # Whole lines only, so a line can be dropped or slipped in between.
                    *lines, partial = (partial + chunk).split(b"\n")
                    kept = [
                        line + b"\n" for line in lines if line and self._keep(stream.resource, line)
                    ]
                    if kept:
                        async with stream.write_lock:
                            await response.write(b"".join(kept))
                    await self._flush(stream)
                if partial:
                    await response.write(partial)
                await response.write_eof()
            except (ConnectionResetError, aiohttp.ClientError):
                pass
            finally:
                with self._lock:
                    if stream in self._streams:
                        self._streams.remove(stream)
            return response

    async def _flush(self, stream: _Stream) -> None:
        """Write the pending lines (upstream lines are written whole, so this
        always falls between two of them)."""
        async with stream.write_lock:
            with self._lock:
                lines, stream.pending = stream.pending, []
            for line in lines:
                await stream.response.write(line)
            if stream.ending:
                # close() sends what is buffered first; the stream then just ends.
                if stream.request.transport is not None:
                    stream.request.transport.close()
                if stream.task is not None:
                    stream.task.cancel()

    def _kick(self, resource: str) -> None:
        with self._lock:
            streams = [s for s in self._streams if s.resource == resource]
        for stream in streams:
            self._loop.create_task(self._flush(stream))

    def _reset_streams(self) -> None:
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            _reset(stream.request)
            if stream.task is not None:
                stream.task.cancel()

    def _end_streams(self, resource: str, last_line: bytes | None) -> None:
        with self._lock:
            streams = [s for s in self._streams if s.resource == resource]
        for stream in streams:
            if last_line is not None:
                # As the API server does: one ERROR event, then the end of the stream.
                with self._lock:
                    stream.pending.append(last_line)
                    stream.ending = True
                self._loop.create_task(self._flush(stream))
            else:
                _abort(stream)


def _error_event(code: int) -> bytes:
    status = status_body(code, "too old resource version (injected fault)")
    return orjson.dumps({"type": "ERROR", "object": status}) + b"\n"


def _reset(request: web.Request) -> None:
    """Close with RST (SO_LINGER 0), not FIN."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _abort(stream: _Stream) -> None:
    if stream.request.transport is not None:
        stream.request.transport.abort()
    if stream.task is not None:
        stream.task.cancel()
