"""Transport failures reach the core as ClusterError, never as a raw exception."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio import client as k8s_client

from py_scheduler.cluster import Unavailable
from py_scheduler.kube.client import KubeClient


class Refusing:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def request(self, *args: Any, **kwargs: Any) -> Refusing:
        return self

    async def __aenter__(self) -> None:
        raise self.exc

    async def __aexit__(self, *exc: object) -> None:
        return None


def client_raising(exc: Exception) -> KubeClient:
    configuration = k8s_client.Configuration()
    configuration.host = "https://127.0.0.1:1"
    kube = KubeClient(configuration)
    kube._session = Refusing(exc)  # type: ignore[assignment]
    return kube


async def test_uvloops_stale_descriptor_is_a_retriable_failure() -> None:
    kube = client_raising(RuntimeError("File descriptor 18 is used by transport <TCPTransport>"))
    with pytest.raises(Unavailable, match="is used by transport"):
        await kube.post("/api/v1/namespaces/a/pods/b/binding", {})


async def test_other_runtime_errors_are_not_hidden() -> None:
    kube = client_raising(RuntimeError("a bug"))
    with pytest.raises(RuntimeError, match="a bug"):
        await kube.get("/api/v1/nodes")
