"""The pending-pod sweep: lost pods are found and requeued, held ones left
alone, and the listing's documents are not kept while the sweep waits."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Mapping
from typing import Any

from py_scheduler.cluster import NotFound
from py_scheduler.kube.client import KubeClient
from py_scheduler.kube.sweep import PendingSweep
from py_scheduler.model import PodUID, decode_pod
from tests.builders import raw_pod
from tests.unit.helpers_core import build_core, small


class _Document(dict[str, Any]):
    """A listed pod that a test can watch being freed (a dict has no weak references)."""


class FakeApi:
    """The unassigned pods, listed ``page`` at a time as the API server pages them."""

    def __init__(self, pods: list[dict[str, Any]], *, page: int) -> None:
        self.pods = pods
        self.page = page
        self.listed: list[weakref.ref[_Document]] = []
        self.alive_at_reread: list[int] = []
        self.list_calls = 0

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        if path == "/api/v1/pods":
            assert params is not None
            assert params["fieldSelector"] == "spec.nodeName=,status.phase=Pending"
            self.list_calls += 1
            start = int(params.get("continue", "0"))
            items = [_Document(pod) for pod in self.pods[start : start + self.page]]
            self.listed.extend(weakref.ref(item) for item in items)
            more = start + self.page < len(self.pods)
            meta = {"continue": str(start + self.page)} if more else {}
            return {"metadata": meta, "items": items}
        gc.collect()
        self.alive_at_reread.append(sum(ref() is not None for ref in self.listed))
        name = path.rsplit("/", 1)[1]
        for pod in self.pods:
            if pod["metadata"]["name"] == name:
                return dict(pod)
        raise NotFound(f"pods {name!r} not found")


def _sweep(api: FakeApi, scheduler: Any) -> PendingSweep:
    kube: KubeClient = api  # type: ignore[assignment]
    return PendingSweep(kube, scheduler, leading=lambda: True, grace=0.0)


def _pods(count: int, prefix: str = "p", **kwargs: Any) -> list[dict[str, Any]]:
    return [raw_pod(f"{prefix}{i}", uid=f"{prefix}-uid-{i}", **kwargs) for i in range(count)]


async def test_a_pod_no_queue_holds_is_requeued() -> None:
    core = build_core([small("n1")])
    api = FakeApi(_pods(3), page=2)
    held = decode_pod(api.pods[0])
    core.scheduler.on_pod(held)

    lost = await _sweep(api, core.scheduler).sweep()

    assert lost == 2
    assert api.list_calls == 2  # every page was read
    for uid in ("p-uid-0", "p-uid-1", "p-uid-2"):
        assert core.scheduler.holds(PodUID(uid))


async def test_pods_of_other_schedulers_are_left_alone() -> None:
    core = build_core([small("n1")])
    api = FakeApi(_pods(2, scheduler_name="someone-else"), page=500)

    lost = await _sweep(api, core.scheduler).sweep()

    assert lost == 0
    assert api.alive_at_reread == []  # nothing was read again
    assert not core.scheduler.holds(PodUID("p-uid-0"))


async def test_the_listed_documents_are_not_kept_while_the_sweep_rereads() -> None:
    # A scheduler starting behind a backlog lists thousands of pending pods:
    # holding every document until the end would double its memory.
    core = build_core([small("n1")])
    api = FakeApi(_pods(30), page=4)

    lost = await _sweep(api, core.scheduler).sweep()

    assert lost == 30
    assert len(api.listed) == 30
    assert len(api.alive_at_reread) == 30  # one re-read per lost pod
    assert max(api.alive_at_reread) == 0
