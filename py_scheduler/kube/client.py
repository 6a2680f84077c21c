"""A lean JSON client for the API server: aiohttp + orjson, no model objects.

kubernetes_asyncio's loaders (:mod:`.loaders`, without the rest of that
package) read the credentials (kubeconfig or in-cluster service account,
including token refresh); requests then go straight through one aiohttp
session. Building client model objects costs about ten times the
JSON parse, and the pod path (watch, bind, status) never needs them.
Every failure leaves this module as a :mod:`py_scheduler.cluster` error.
"""

from __future__ import annotations

import os
import socket
import ssl
import time
from asyncio import sslproto
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Self
from urllib.parse import urlsplit

import aiohttp
import orjson
from aiohttp.connector import AddrInfoType

from py_scheduler import metrics
from py_scheduler.kube import errors, loaders
from py_scheduler.kube.ratelimit import TokenBucket

if TYPE_CHECKING:
    from kubernetes_asyncio.client.configuration import Configuration

JSON = dict[str, Any]
_JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
_PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
}


@dataclass(frozen=True, slots=True)
class Settings:
    """Client limits; ``timeout`` bounds every non-watch request.

    ``max_connections`` bounds the connections requests use (watches have
    their own, one each): over HTTP/1.1 each is one request in flight, and
    each TLS connection holds its buffers and OpenSSL's state for its life
    (270 KiB with asyncio's read buffer, below), so a burst of evictions and
    status writes that opened a hundred of them kept 25 MiB.
    Past the bound a request waits for a connection, inside its timeout.
    """

    timeout: float = 30.0
    max_connections: int = 16
    user_agent: str = "py-scheduler"
    # clientConnection.qps / burst; None: no client-side limit.
    qps: float | None = None
    burst: int = 0


# asyncio gives every TLS connection a 256 KiB read buffer, zero-filled and so
# resident from the handshake on: a watch per kind and the request pool held
# 10 MiB in buffers that API responses rarely fill. A TLS record carries at
# most 16 KiB, so a read of that size still takes a whole record at a time;
# a large body takes more reads, which costs nothing measurable.
_TLS_READ_BUFFER: Final = 16 * 1024
if getattr(sslproto.SSLProtocol, "max_size", 0) > _TLS_READ_BUFFER:
    sslproto.SSLProtocol.max_size = _TLS_READ_BUFFER


class CredentialsError(Exception):
    """No usable kubeconfig and not in a cluster, or a kubeconfig that cannot be used."""


def _kubeconfig_source(kubeconfig: str | None) -> str | None:
    """The kubeconfig to load (None: in-cluster); it must exist."""
    default_path = Path.home() / ".kube" / "config"
    source = kubeconfig or os.environ.get("KUBECONFIG")
    if not source:
        return str(default_path) if default_path.exists() else None
    if not any(Path(p).is_file() for p in source.split(os.pathsep) if p):
        raise CredentialsError(f"kubeconfig {source}: no such file")
    return source


async def load_configuration(kubeconfig: str | None = None) -> Configuration:
    """Credentials from ``kubeconfig``, else $KUBECONFIG / ~/.kube/config, else in-cluster.

    Raises :class:`CredentialsError` with a one-line reason."""
    configuration: Configuration = loaders.Configuration()
    source = _kubeconfig_source(kubeconfig)
    try:
        if source is not None:
            await loaders.config.load_kube_config(
                config_file=kubeconfig, client_configuration=configuration
            )
        elif not os.environ.get("KUBERNETES_SERVICE_HOST"):
            raise CredentialsError(
                "no kubeconfig and not in a cluster: pass --kubeconfig, set $KUBECONFIG, "
                "or create ~/.kube/config"
            )
        else:
            loaders.config.load_incluster_config(client_configuration=configuration)
    except (loaders.ConfigException, OSError, ValueError, TypeError, KeyError) as exc:
        where = f"kubeconfig {source}" if source is not None else "in-cluster credentials"
        raise CredentialsError(
            f"{where}: {' '.join(str(exc).split()) or type(exc).__name__}"
        ) from exc
    return configuration


def _ssl_context(configuration: Configuration) -> ssl.SSLContext | bool:
    if not configuration.verify_ssl:
        return False
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file)
    return context


# A peer that vanished (no FIN, no RST) is noticed in about 14 s when idle
# (5 s, then 3 probes 3 s apart), and in 15 s when data is unacknowledged.
KEEPALIVE_IDLE: Final = 5
KEEPALIVE_INTERVAL: Final = 3
KEEPALIVE_PROBES: Final = 3
USER_TIMEOUT_MS: Final = 15_000


def keepalive_socket(addr: AddrInfoType) -> socket.socket:
    """aiohttp's socket factory with TCP keepalive (and a user timeout)."""
    family, type_, proto, _, _ = addr
    sock = socket.socket(family=family, type=type_, proto=proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
        ("TCP_KEEPCNT", KEEPALIVE_PROBES),
        ("TCP_USER_TIMEOUT", USER_TIMEOUT_MS),
    ):
        if hasattr(socket, option):  # Linux; other systems keep their defaults
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
    return sock


def _stale_descriptor(exc: RuntimeError) -> bool:
    """uvloop's "File descriptor N is used by transport" on connect (uvloop
    issue 653): a failed connection, to be retried like any other, not a crash."""
    return "is used by transport" in str(exc)


class KubeClient:
    """JSON in, JSON out; use as an async context manager."""

    def __init__(self, configuration: Configuration, settings: Settings | None = None):
        self.configuration = configuration
        self.settings = settings or Settings()
        self.base = str(configuration.host).rstrip("/")
        # The host label of client-go's rest_client_* metrics.
        self.host = urlsplit(self.base).netloc
        self._session: aiohttp.ClientSession | None = None
        # Watches hold their connection for minutes: never waiting behind requests
        # for one, nor making requests wait behind them.
        self._watch_session: aiohttp.ClientSession | None = None
        # When the API server last answered anything (monotonic), for /livez.
        self.last_contact = time.monotonic()
        self._timeout = aiohttp.ClientTimeout(total=self.settings.timeout)
        # Built once per (content type, token): a token rotates, the rest never changes.
        self._header_cache: dict[tuple[str, str | None], dict[str, str]] = {}
        self.limiter = (
            TokenBucket(self.settings.qps, self.settings.burst)
            if self.settings.qps is not None
            else None
        )

    async def __aenter__(self) -> Self:
        context = _ssl_context(self.configuration)
        self._session = self._new_session(context, limit=self.settings.max_connections)
        self._watch_session = self._new_session(context, limit=0)
        return self

    def _new_session(self, context: ssl.SSLContext | bool, *, limit: int) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(ssl=context, limit=limit, socket_factory=keepalive_socket)
        return aiohttp.ClientSession(
            connector=connector,
            json_serialize=lambda obj: orjson.dumps(obj).decode(),
            headers={"User-Agent": self.settings.user_agent},
            # The API server sets no cookies: a jar would only be searched on every request.
            cookie_jar=aiohttp.DummyCookieJar(),
            # One deadline per request, waiting for a connection and reading the body included.
            timeout=self._timeout,
        )

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        for session in (self._session, self._watch_session):
            if session is not None:
                await session.close()
        self._session = self._watch_session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("KubeClient used outside its context")
        return self._session

    @property
    def watch_session(self) -> aiohttp.ClientSession:
        if self._watch_session is None:
            raise RuntimeError("KubeClient used outside its context")
        return self._watch_session

    async def _headers(self, content_type: str = "application/json") -> dict[str, str]:
        # Runs the refresh hook first: exec plugins and projected tokens rotate.
        token = await self.configuration.get_api_key_with_prefix("BearerToken")
        key = (content_type, token or None)
        headers = self._header_cache.get(key)
        if headers is None:
            if len(self._header_cache) > len(_PATCH_TYPES) + 1:
                self._header_cache.clear()  # entries of a rotated token
            headers = {**_JSON_HEADERS, "Content-Type": content_type}
            if token:
                headers["Authorization"] = token
            self._header_cache[key] = headers
        return headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: object = None,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        timeout: float | None = None,
    ) -> JSON:
        """Send one request; return the decoded JSON body or raise a ClusterError."""
        data = orjson.dumps(body) if body is not None else None
        if self.limiter is not None:
            await self.limiter.acquire()
        headers = await self._headers(content_type)
        status = 0
        started = time.perf_counter()
        deadline = aiohttp.ClientTimeout(total=timeout) if timeout else self._timeout
        try:
            async with self.session.request(
                method,
                self.base + path,
                data=data,
                params=params,
                headers=headers,
                timeout=deadline,
            ) as resp:
                raw = await resp.read()
                self.last_contact = time.monotonic()
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
        except TimeoutError:
            raise errors.Unavailable(f"{method} {path}: timed out", status=0) from None
        except aiohttp.ClientError as exc:
            raise errors.Unavailable(f"{method} {path}: {exc}", status=0) from exc
        except RuntimeError as exc:
            if not _stale_descriptor(exc):
                raise
            raise errors.Unavailable(f"{method} {path}: {exc}", status=0) from exc
        finally:
            metrics.observe_request(method, self.host, status, time.perf_counter() - started)
        if 200 <= status < 300:
            return orjson.loads(raw) if raw else {}
        raise errors.from_response(method, path, status, raw, retry_after)

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> JSON:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, body: object) -> JSON:
        return await self.request("POST", path, body=body)

    async def put(self, path: str, body: object) -> JSON:
        return await self.request("PUT", path, body=body)

    async def delete(self, path: str, body: object = None) -> JSON:
        return await self.request("DELETE", path, body=body)

    async def patch(self, path: str, body: object, *, kind: str = "merge") -> JSON:
        return await self.request("PATCH", path, body=body, content_type=_PATCH_TYPES[kind])

    async def stream(
        self, path: str, params: Mapping[str, str], *, idle_timeout: float
    ) -> AsyncGenerator[bytes, None]:
        """Lines of a watch response; ``idle_timeout`` bounds the gap between lines."""
        if self.limiter is not None:
            await self.limiter.acquire()
        headers = await self._headers()
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=idle_timeout)
        started = time.perf_counter()
        connected = False
        try:
            async with self.watch_session.get(
                self.base + path, params=params, headers=headers, timeout=timeout
            ) as resp:
                self.last_contact = time.monotonic()
                # A watch counts once, when its response starts, as client-go counts it.
                connected = True
                metrics.observe_request(
                    "GET", self.host, resp.status, time.perf_counter() - started
                )
                if resp.status != 200:
                    raise errors.from_response(
                        "GET", path, resp.status, await resp.read(), resp.headers.get("Retry-After")
                    )
                buffer = b""
                async for chunk in resp.content.iter_any():
                    self.last_contact = time.monotonic()
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    for line in lines:
                        if line:
                            yield line
        except TimeoutError:
            raise errors.Unavailable(f"watch {path}: no data for {idle_timeout}s") from None
        except aiohttp.ClientError as exc:
            raise errors.Unavailable(f"watch {path}: {exc}") from exc
        except RuntimeError as exc:
            if not _stale_descriptor(exc):
                raise
            raise errors.Unavailable(f"watch {path}: {exc}") from exc
        finally:
            if not connected:
                metrics.observe_request("GET", self.host, 0, time.perf_counter() - started)
