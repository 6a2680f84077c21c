"""The kube layer's watch of a kind a plugin asked for, against the real API
server: a kind not served yet counts as synced with no objects, its CRD
installed later is picked up without a restart, and every change reaches the
store and the cluster-event callback."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from py_scheduler.cluster import NotFound
from py_scheduler.framework import ActionType, CustomResource
from py_scheduler.framework.custom_resources import Change, CustomObjects
from py_scheduler.kube.client import KubeClient
from py_scheduler.kube.custom_resources import CustomResourceWatch
from tests.integration.kube import create_namespace, eventually, unique

GROUP = "watch-test.py-scheduler.io"


def crd(plural: str, kind: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "x-kubernetes-preserve-unknown-fields": True,
                                }
                            },
                        }
                    },
                }
            ],
        },
    }


@contextlib.asynccontextmanager
async def running(watch: CustomResourceWatch) -> AsyncIterator[None]:
    task = asyncio.create_task(watch.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def served(api: KubeClient, plural: str) -> bool:
    try:
        listing = await api.get(f"/apis/{GROUP}/v1")
    except NotFound:
        return False
    return any(r.get("name") == plural for r in listing.get("resources", []))


async def test_a_kind_served_later_is_picked_up_and_followed(api: KubeClient) -> None:
    suffix = unique("w").split("-")[1]
    plural, kind = f"widgets{suffix}", f"Widget{suffix}"
    resource = CustomResource(GROUP, "v1", plural)
    store = CustomObjects()
    lister = store.lister(resource)
    seen: list[Change] = []

    def record(changes: Sequence[Change]) -> None:
        seen.extend(changes)

    watch = CustomResourceWatch(api, resource, store, record, recheck=0.5)
    async with running(watch):
        # Not served: synced at once, with nothing in it.
        await asyncio.wait_for(watch.synced.wait(), 10)
        assert not lister.served
        assert len(lister) == 0
        await api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd(plural, kind))
        try:
            await eventually(lambda: served(api, plural), bool, what="the CRD served")
            await eventually(
                lambda: _served(lister.served), bool, what="the watch to notice the CRD"
            )
            namespace = unique("cr")
            await create_namespace(api, namespace)
            path = f"/apis/{GROUP}/v1/namespaces/{namespace}/{plural}"
            body = {
                "apiVersion": f"{GROUP}/v1",
                "kind": kind,
                "metadata": {"name": "one"},
                "spec": {"open": False},
            }
            await api.post(path, body)
            await eventually(
                lambda: _get(lister.get("one", namespace)), bool, what="the object in the store"
            )
            current = await api.get(f"{path}/one")
            await api.put(f"{path}/one", {**current, "spec": {"open": True}})
            await eventually(
                lambda: _get(lister.get("one", namespace)),
                lambda obj: obj is not None and obj["spec"]["open"] is True,
                what="the update in the store",
            )
            await api.delete(f"{path}/one")
            await eventually(
                lambda: _get(lister.get("one", namespace)),
                lambda obj: obj is None,
                what="the deletion in the store",
            )
            actions = [action for res, action, _, _ in seen if res == resource]
            assert actions == [ActionType.ADD, ActionType.UPDATE, ActionType.DELETE]
        finally:
            await api.delete(
                f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{plural}.{GROUP}"
            )


async def test_objects_present_before_the_watch_arrive_with_the_first_list(
    api: KubeClient,
) -> None:
    suffix = unique("l").split("-")[1]
    plural, kind = f"gadgets{suffix}", f"Gadget{suffix}"
    await api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd(plural, kind))
    try:
        await eventually(lambda: served(api, plural), bool, what="the CRD served")
        namespace = unique("cr")
        await create_namespace(api, namespace)
        path = f"/apis/{GROUP}/v1/namespaces/{namespace}/{plural}"
        for name in ("a", "b"):
            body = {"apiVersion": f"{GROUP}/v1", "kind": kind, "metadata": {"name": name}}
            await api.post(path, body)
        resource = CustomResource(GROUP, "v1", plural)
        store = CustomObjects()
        lister = store.lister(resource, lambda raw: str(raw["metadata"]["name"]))
        seen: list[Change] = []
        watch = CustomResourceWatch(api, resource, store, seen.extend)
        async with running(watch):
            await asyncio.wait_for(watch.synced.wait(), 10)
            assert lister.served
            assert lister.list(namespace) == ["a", "b"]
            assert sorted(action.name or "" for _, action, _, _ in seen) == ["ADD", "ADD"]
    finally:
        await api.delete(
            f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{plural}.{GROUP}"
        )


async def _served(value: bool) -> bool:
    return value


async def _get(value: Any) -> Any:
    return value
