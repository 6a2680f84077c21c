"""Map API-server responses to the :mod:`py_scheduler.cluster` error tree.

The one place where HTTP statuses become meaning; nothing outside
``py_scheduler.kube`` sees an HTTP status or a client-library exception.
"""

from __future__ import annotations

import orjson

from py_scheduler.cluster import (
    ClusterError,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    TooManyRequests,
    Unavailable,
)

__all__ = [
    "ClusterError",
    "Conflict",
    "Forbidden",
    "Gone",
    "Invalid",
    "NotFound",
    "TooManyRequests",
    "Unavailable",
    "from_response",
]


class Gone(ClusterError):
    """410: the watch's resourceVersion was compacted; relist."""


def _message(raw: bytes) -> str:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw[:300].decode(errors="replace")
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return raw[:300].decode(errors="replace")


def from_response(
    method: str, path: str, status: int, raw: bytes, retry_after: str | None = None
) -> ClusterError:
    text = f"{method} {path}: {status} {_message(raw)}"
    if status == 404:
        return NotFound(text, status=status)
    if status == 409:
        return Conflict(text, status=status)
    if status == 410:
        return Gone(text, status=status)
    if status == 429:
        try:
            delay = float(retry_after) if retry_after else 0.0
        except ValueError:
            delay = 0.0
        return TooManyRequests(text, retry_after=delay)
    if status in (401, 403):
        return Forbidden(text, status=status)
    if status in (400, 422):
        return Invalid(text, status=status)
    if status >= 500:
        return Unavailable(text, status=status)
    return ClusterError(text, status=status)
