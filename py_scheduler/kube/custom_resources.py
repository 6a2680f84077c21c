"""Watches of the kinds plugins asked for (``framework.custom_resources``).

One ``CustomResourceWatch`` per kind: it asks discovery whether the API
server serves the kind, then lists and watches it with the same
:class:`~py_scheduler.kube.watches.Reflector` as pods and nodes, on the
scheduler's event loop, into the shared ``CustomObjects`` store; every
change, relists included, is handed to ``on_change`` as a cluster event.

A kind the server does not serve (its CRD is not installed) is not an
error: the watch counts as synced with no objects, says so once in the log,
and checks discovery again every ``RECHECK`` seconds, so a CRD installed
later is picked up without a restart. The interface is what the app needs
of any watch: ``run()``, ``synced`` and ``name``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import structlog

from py_scheduler.cluster import ClusterError, NotFound
from py_scheduler.framework.custom_resources import (
    Change,
    CustomObjects,
    CustomResource,
    object_key,
)
from py_scheduler.kube.client import KubeClient
from py_scheduler.kube.watches import Handlers, Reflector
from py_scheduler.model import DecodeError

log = structlog.get_logger("py_scheduler.custom_resources")

# How often discovery is asked again about a kind it did not serve.
RECHECK: Final = 30.0
RETRY: Final = 5.0

OnChanges = Callable[[Sequence[Change]], None]


def _checked(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    try:
        object_key(raw)
    except ValueError as exc:
        raise DecodeError("metadata.name", str(exc)) from None
    return raw


class CustomResourceWatch:
    def __init__(
        self,
        kube: KubeClient,
        resource: CustomResource,
        store: CustomObjects,
        on_changes: OnChanges,
        *,
        recheck: float = RECHECK,
    ) -> None:
        self.kube = kube
        self.resource = resource
        self.name = resource.value
        self.store = store
        self.on_changes = on_changes
        self.recheck = recheck
        self.synced = asyncio.Event()
        self.reflector: Reflector[Mapping[str, Any]] = Reflector(
            kube,
            resource.path,
            Handlers(
                decode=_checked,
                on_replace=self._replace,
                on_upsert=self._upsert,
                on_delete=self._delete,
            ),
            name=self.name,
        )

    async def run(self) -> None:
        told = False
        while not await self._served():
            if not told:
                log.warning(
                    "the API server does not serve this kind; plugins see none of it until it does",
                    resource=self.name,
                    recheck_seconds=self.recheck,
                )
                told = True
            self.store.set_served(self.resource, False)
            self.synced.set()  # nothing to wait for: there are no objects
            await asyncio.sleep(self.recheck)
        log.info("watching custom resource", resource=self.name)
        self.store.set_served(self.resource, True)
        relisted = asyncio.ensure_future(self.reflector.synced.wait())
        relisted.add_done_callback(lambda _: self.synced.set())
        try:
            await self.reflector.run()
        finally:
            relisted.cancel()

    async def _served(self) -> bool:
        """Whether discovery lists the plural in the group version; API
        failures other than 404 are retried until it answers."""
        prefix = f"/apis/{self.resource.group}" if self.resource.group else "/api"
        while True:
            try:
                listing = await self.kube.get(f"{prefix}/{self.resource.version}")
            except NotFound:
                return False
            except ClusterError as exc:
                log.warning("discovery failed; retrying", resource=self.name, error=str(exc))
                await asyncio.sleep(RETRY)
                continue
            resources = listing.get("resources")
            if not isinstance(resources, list):
                return False
            return any(
                isinstance(r, Mapping) and r.get("name") == self.resource.plural for r in resources
            )

    def _replace(self, items: list[Mapping[str, Any]]) -> None:
        self._tell(self.store.replace(self.resource, items))

    def _upsert(self, item: Mapping[str, Any]) -> None:
        change = self.store.upsert(self.resource, item)
        self._tell([change] if change is not None else [])

    def _delete(self, item: Mapping[str, Any]) -> None:
        change = self.store.delete(self.resource, item)
        self._tell([change] if change is not None else [])

    def _tell(self, changes: Sequence[Change]) -> None:
        if changes:
            self.on_changes(changes)


def watches(
    kube: KubeClient, store: CustomObjects, on_changes: OnChanges
) -> list[CustomResourceWatch]:
    """One watch per kind the plugins named; run each as a task (they retry forever)."""
    return [
        CustomResourceWatch(kube, resource, store, on_changes) for resource in store.resources()
    ]
