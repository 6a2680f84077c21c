"""The kopf operator shell: watches of low-rate cluster objects.

PodDisruptionBudgets, Namespaces, the Services, ReplicationControllers,
ReplicaSets and StatefulSets whose selectors define default spread
constraints, the storage objects (PersistentVolumeClaims,
PersistentVolumes, StorageClasses, CSINodes) and the DRA objects
(ResourceClaims, DeviceClasses, ResourceSlices) change rarely, so kopf's
``on.event`` handlers keep them in the
:class:`~py_scheduler.scheduling.object_store.ObjectStore`. Storage and DRA
changes are also cluster events: ``on_change`` requeues the pods the volume
plugins or DynamicResources rejected.
kopf's own API writes are off: no log lines posted as Events, and
``on.event`` persists no progress or diff-base annotations. Pods and nodes,
the hot path, use the lean watches.

A budget seen late or stale here cannot cause a violation: evictions go
through the Eviction API, where the API server enforces every budget.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import kopf
import structlog
from kubernetes_asyncio import client as k8s_client

from py_scheduler.framework.types import ActionType, Resource
from py_scheduler.model import DecodeError
from py_scheduler.model import volumes as vol
from py_scheduler.model.budgets import decode_budget
from py_scheduler.model.dra import objects as dra
from py_scheduler.model.selectors import decode_owner_selector
from py_scheduler.scheduling.object_store import ObjectStore

log = structlog.get_logger("py_scheduler.objects")

_OWNERS = (
    ("", "v1", "services", "Service"),
    ("", "v1", "replicationcontrollers", "ReplicationController"),
    ("apps", "v1", "replicasets", "ReplicaSet"),
    ("apps", "v1", "statefulsets", "StatefulSet"),
)


# (resource, action, old, new): the scheduler's ``on_object``.
OnChange = Callable[[Resource, ActionType, object, object], None]


@dataclass(frozen=True, slots=True)
class _Storage:
    group: str
    version: str
    plural: str
    resource: Resource
    decode: Callable[[Mapping[str, Any]], object]
    table: Callable[[ObjectStore], MutableMapping[Any, Any]]
    namespaced: bool = False
    joined_key: bool = False  # "namespace/name" rather than a (namespace, name) tuple


_STORAGE = (
    _Storage(
        "", "v1", "persistentvolumeclaims", Resource.PVC, vol.decode_pvc, lambda s: s.claims, True
    ),
    _Storage("", "v1", "persistentvolumes", Resource.PV, vol.decode_pv, lambda s: s.volumes),
    _Storage(
        "storage.k8s.io",
        "v1",
        "storageclasses",
        Resource.STORAGE_CLASS,
        vol.decode_storage_class,
        lambda s: s.classes,
    ),
    _Storage(
        "storage.k8s.io",
        "v1",
        "csinodes",
        Resource.CSI_NODE,
        vol.decode_csi_node,
        lambda s: s.csi_nodes,
    ),
    _Storage(
        dra.GROUP,
        dra.VERSION,
        "resourceclaims",
        Resource.RESOURCE_CLAIM,
        dra.decode_resource_claim,
        lambda s: s.resource_claims,
        namespaced=True,
        joined_key=True,
    ),
    _Storage(
        dra.GROUP,
        dra.VERSION,
        "deviceclasses",
        Resource.DEVICE_CLASS,
        dra.decode_device_class,
        lambda s: s.device_classes,
    ),
    _Storage(
        dra.GROUP,
        dra.VERSION,
        "resourceslices",
        Resource.RESOURCE_SLICE,
        dra.decode_resource_slice,
        lambda s: s.slices,
    ),
)


def settings() -> kopf.OperatorSettings:
    out = kopf.OperatorSettings()
    out.posting.enabled = False  # no log lines as Kubernetes Events
    out.scanning.disabled = True  # no CRD or namespace scanning: fixed resources
    out.watching.server_timeout = 300
    out.watching.client_timeout = 330
    out.networking.error_backoffs = [1, 2, 5, 10, 30]
    return out


def registry(
    store: ObjectStore,
    configuration: k8s_client.Configuration,
    on_change: OnChange | None = None,
) -> kopf.OperatorRegistry:
    reg = kopf.OperatorRegistry()

    @kopf.on.login(registry=reg)
    async def login(**_: Any) -> kopf.ConnectionInfo:
        token: str = await configuration.get_api_key_with_prefix("BearerToken") or ""
        scheme, _sep, value = token.partition(" ")
        return kopf.ConnectionInfo(
            server=str(configuration.host),
            ca_path=configuration.ssl_ca_cert,
            insecure=not configuration.verify_ssl,
            scheme=scheme or None,
            token=value or None,
            certificate_path=configuration.cert_file,
            private_key_path=configuration.key_file,
        )

    # async, as the storage handlers: a budget's change requeues pods (a gang whose
    # preemption a budget stopped), and requeueing happens on the scheduler's loop.
    @kopf.on.event("policy", "v1", "poddisruptionbudgets", registry=reg)
    async def on_budget(type: str | None, body: Mapping[str, Any], **_: Any) -> None:
        key = (body["metadata"].get("namespace", ""), body["metadata"]["name"])
        old = store.budgets.get(key)
        if type == "DELETED":
            store.budgets.pop(key, None)
            if on_change is not None and old is not None:
                on_change(Resource.PDB, ActionType.DELETE, old, None)
            return
        try:
            new = store.budgets[key] = decode_budget(body)
        except DecodeError as exc:
            log.warning(
                "malformed PodDisruptionBudget skipped", budget="/".join(key), reason=str(exc)
            )
            return
        if on_change is not None and new != old:
            action = ActionType.ADD if old is None else ActionType.UPDATE
            on_change(Resource.PDB, action, old, new)

    @kopf.on.event("", "v1", "namespaces", registry=reg)
    def on_namespace(type: str | None, body: Mapping[str, Any], **_: Any) -> None:
        name = body["metadata"]["name"]
        if type == "DELETED":
            store.namespaces.pop(name, None)
        else:
            store.namespaces[name] = dict(body["metadata"].get("labels") or {})

    for group, version, plural, kind in _OWNERS:
        _watch_owner(reg, store, group, version, plural, kind)
    for storage in _STORAGE:
        _watch_storage(reg, store, storage, on_change)
    return reg


def _watch_storage(
    reg: kopf.OperatorRegistry, store: ObjectStore, kind: _Storage, on_change: OnChange | None
) -> None:
    # async, unlike the other handlers: kopf runs sync handlers in a thread,
    # and requeueing must happen on the scheduler's own event loop.
    @kopf.on.event(kind.group, kind.version, kind.plural, registry=reg, id=f"storage-{kind.plural}")
    async def on_storage(type: str | None, body: Mapping[str, Any], **_: Any) -> None:
        meta = body["metadata"]
        key: Any = meta["name"]
        if kind.joined_key:
            key = f"{meta.get('namespace', '')}/{meta['name']}"
        elif kind.namespaced:
            key = (meta.get("namespace", ""), meta["name"])
        table = kind.table(store)
        old = table.get(key)
        if type == "DELETED":
            table.pop(key, None)
            if on_change is not None and old is not None:
                on_change(kind.resource, ActionType.DELETE, old, None)
            return
        try:
            new = kind.decode(body)
        except DecodeError as exc:
            log.warning(
                "malformed storage object skipped",
                kind=kind.resource.value,
                object=key if isinstance(key, str) else "/".join(key),
                reason=str(exc),
            )
            return
        table[key] = new
        if on_change is not None:
            action = ActionType.ADD if old is None else ActionType.UPDATE
            on_change(kind.resource, action, old, new)


def _watch_owner(
    reg: kopf.OperatorRegistry, store: ObjectStore, group: str, version: str, plural: str, kind: str
) -> None:
    @kopf.on.event(group, version, plural, registry=reg, id=f"owner-{plural}")
    def on_owner(type: str | None, body: Mapping[str, Any], **_: Any) -> None:
        meta = body["metadata"]
        key = (kind, meta.get("namespace", ""), meta["name"])
        if type == "DELETED":
            store.selectors.pop(key, None)
            return
        try:
            selector = decode_owner_selector(kind, body)
        except DecodeError as exc:
            log.warning("malformed selector skipped", owner="/".join(key), reason=str(exc))
            return
        if selector is None:
            store.selectors.pop(key, None)
        else:
            store.selectors[key] = selector


def quiet_kopf_logs(level: int) -> None:
    # kopf logs every handler invocation at INFO; keep them at DEBUG unless asked.
    logging.getLogger("kopf").setLevel(max(level, logging.WARNING))
