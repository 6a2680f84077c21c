"""Requests mapped onto RBAC terms, as the API server's authorizer sees them."""

from __future__ import annotations

import pytest

from py_scheduler.kube import rbac


@pytest.mark.parametrize(
    ("method", "path", "watch", "want"),
    [
        ("GET", "/api/v1/pods", True, ("", "pods", "watch")),
        ("GET", "/api/v1/pods", False, ("", "pods", "list")),
        ("GET", "/api/v1/namespaces/a/pods/p", False, ("", "pods", "get")),
        ("POST", "/api/v1/namespaces/a/pods/p/binding", False, ("", "pods/binding", "create")),
        ("PATCH", "/api/v1/namespaces/a/pods/p/status", False, ("", "pods/status", "patch")),
        ("POST", "/api/v1/namespaces/a/pods/p/eviction", False, ("", "pods/eviction", "create")),
        ("DELETE", "/api/v1/namespaces/a/pods/p", False, ("", "pods", "delete")),
        (
            "POST",
            "/apis/events.k8s.io/v1/namespaces/a/events",
            False,
            ("events.k8s.io", "events", "create"),
        ),
        ("PUT", "/apis/coordination.k8s.io/v1/namespaces/a/leases/l", False,
         ("coordination.k8s.io", "leases", "update")),
        ("GET", "/api/v1/namespaces", True, ("", "namespaces", "watch")),
        ("PATCH", "/api/v1/persistentvolumes/pv", False, ("", "persistentvolumes", "patch")),
        ("GET", "/api", False, None),
    ],
)  # fmt: skip
def test_permission(method: str, path: str, watch: bool, want: tuple[str, str, str] | None) -> None:
    assert rbac.permission(method, path, watch=watch) == want


def test_the_lease_is_read_and_replaced_never_patched() -> None:
    assert {("coordination.k8s.io", "leases"): {"create", "get", "update"}} == rbac.LEASE
