"""Requests mapped onto RBAC terms, as the API server's authorizer sees them;
the requests of explain's listing and result annotations fall within their
tables, and use every grant."""

from __future__ import annotations

from typing import Any, cast

import pytest

from py_scheduler.kube import listing, rbac
from py_scheduler.kube.annotations import patch_annotations
from py_scheduler.kube.client import KubeClient
from tests.builders import make_pod


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
        ("PATCH", "/api/v1/namespaces/a/pods/p", False, ("", "pods", "patch")),
        ("GET", "/apis/apps/v1/statefulsets", False, ("apps", "statefulsets", "list")),
        ("GET", "/apis/resource.k8s.io/v1/resourceclaimtemplates", False,
         ("resource.k8s.io", "resourceclaimtemplates", "list")),
        ("GET", "/api", False, None),
    ],
)  # fmt: skip
def test_permission(method: str, path: str, watch: bool, want: tuple[str, str, str] | None) -> None:
    assert rbac.permission(method, path, watch=watch) == want


def test_the_lease_is_read_and_replaced_never_patched() -> None:
    assert {("coordination.k8s.io", "leases"): {"create", "get", "update"}} == rbac.LEASE


class Recording:
    """Stands in for the kube client: keeps each request's method and path, and
    answers with one empty page."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []

    async def get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        self.requests.append(("GET", path))
        return {"metadata": {"name": "p"}, "items": []}

    async def patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(("PATCH", path))
        return {}


def used(requests: list[tuple[str, str]]) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for method, path in requests:
        found = rbac.permission(method, path)
        assert found is not None, path
        out.setdefault(found[:2], set()).add(found[2])
    return out


async def test_explain_from_a_cluster_needs_exactly_its_table() -> None:
    kube = Recording()
    await listing.read_pod(cast(KubeClient, kube), "a", "p")
    await listing.list_cluster(cast(KubeClient, kube))
    assert used(kube.requests) == {key: set(verbs) for key, verbs in rbac.EXPLAIN.items()}


async def test_result_annotations_need_exactly_their_table() -> None:
    kube = Recording()
    await patch_annotations(cast(KubeClient, kube), make_pod("p", namespace="a"), {"k": "v"})
    assert used(kube.requests) == {key: set(verbs) for key, verbs in rbac.ANNOTATIONS.items()}


def test_the_metrics_reader_may_get_metrics_and_every_pods_diagnosis() -> None:
    assert rbac.METRICS_READER == ("/metrics", "/debug/pods/*")
