"""Delegated authentication and authorization, as kube-scheduler's secure port.

A bearer token is checked with a ``TokenReview``; the user it names is then
checked with a ``SubjectAccessReview`` for the request's non-resource path
and verb (``get /metrics``). Answers are cached briefly, as the API server's
delegating authenticator and authorizer cache them (10 s for each answer),
so a scraper costs the API server at most two requests per cache period.
Neighbours: :mod:`py_scheduler.app.server` asks; the API server answers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from py_scheduler.cluster import ClusterError
from py_scheduler.kube.client import KubeClient

CACHE_TTL: Final = 10.0
CACHE_SIZE: Final = 1024


@dataclass(frozen=True, slots=True)
class User:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass
class _Cache:
    ttl: float
    clock: Callable[[], float]
    entries: dict[Any, tuple[float, Any]] = field(default_factory=dict)

    def get(self, key: Any) -> tuple[bool, Any]:
        found = self.entries.get(key)
        if found is None or self.clock() - found[0] > self.ttl:
            return False, None
        return True, found[1]

    def put(self, key: Any, value: Any) -> None:
        if len(self.entries) >= CACHE_SIZE:
            self.entries.clear()  # bounded; answers are cheap to get again
        self.entries[key] = (self.clock(), value)


class Delegation:
    def __init__(
        self,
        kube: KubeClient,
        *,
        ttl: float = CACHE_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kube = kube
        self._users = _Cache(ttl, clock)
        self._decisions = _Cache(ttl, clock)

    async def authenticate(self, token: str) -> User | None:
        """The user a bearer token belongs to, or None; raises ClusterError when
        the API server cannot tell (then nobody is let in)."""
        hit, user = self._users.get(token)
        if hit:
            return user  # type: ignore[no-any-return]
        review = await self.kube.post(
            "/apis/authentication.k8s.io/v1/tokenreviews",
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenReview",
                "spec": {"token": token},
            },
        )
        status = review.get("status") or {}
        found: User | None = None
        if status.get("authenticated"):
            info = status.get("user") or {}
            found = User(
                name=str(info.get("username", "")),
                uid=str(info.get("uid", "")),
                groups=tuple(info.get("groups") or ()),
                extra=tuple(sorted((k, tuple(v)) for k, v in (info.get("extra") or {}).items())),
            )
        self._users.put(token, found)
        return found

    async def authorize(self, user: User, *, verb: str, path: str) -> tuple[bool, str]:
        """Whether ``user`` may ``verb`` the non-resource ``path``, and why not."""
        key = (user, verb, path)
        hit, decision = self._decisions.get(key)
        if hit:
            return decision  # type: ignore[no-any-return]
        spec: dict[str, Any] = {
            "user": user.name,
            "groups": list(user.groups),
            "nonResourceAttributes": {"path": path, "verb": verb},
        }
        if user.uid:
            spec["uid"] = user.uid
        if user.extra:
            spec["extra"] = {k: list(v) for k, v in user.extra}
        review = await self.kube.post(
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": spec,
            },
        )
        status = review.get("status") or {}
        decision = (bool(status.get("allowed")), str(status.get("reason", "")))
        self._decisions.put(key, decision)
        return decision


__all__ = ["CACHE_TTL", "ClusterError", "Delegation", "User"]
