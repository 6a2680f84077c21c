"""The kopf operator shell: watches of low-rate cluster objects.

PodDisruptionBudgets, Namespaces, and the Services, ReplicationControllers,
ReplicaSets and StatefulSets whose selectors define default spread
constraints change rarely, so kopf's ``on.event`` handlers keep them in the
:class:`~scheduler.scheduling.objects.ObjectStore`. kopf's own API writes are
off: no log lines posted as Events, and ``on.event`` persists no progress or
diff-base annotations. Pods and nodes, the hot path, use the lean watches.

A budget seen late or stale here cannot cause a violation: evictions go
through the Eviction API, where the API server enforces every budget.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import kopf
import structlog
from kubernetes_asyncio import client as k8s_client

from scheduler.model import DecodeError
from scheduler.scheduling.objects import ObjectStore, decode_budget, decode_owner_selector

log = structlog.get_logger("scheduler.objects")

_OWNERS = (
    ("", "v1", "services", "Service"),
    ("", "v1", "replicationcontrollers", "ReplicationController"),
    ("apps", "v1", "replicasets", "ReplicaSet"),
    ("apps", "v1", "statefulsets", "StatefulSet"),
)


def settings() -> kopf.OperatorSettings:
    out = kopf.OperatorSettings()
    out.posting.enabled = False  # no log lines as Kubernetes Events
    out.scanning.disabled = True  # no CRD or namespace scanning: fixed resources
    out.watching.server_timeout = 300
    out.watching.client_timeout = 330
    out.networking.error_backoffs = [1, 2, 5, 10, 30]
    return out


def registry(store: ObjectStore, configuration: k8s_client.Configuration) -> kopf.OperatorRegistry:
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

    @kopf.on.event("policy", "v1", "poddisruptionbudgets", registry=reg)
    def on_budget(type: str | None, body: Mapping[str, Any], **_: Any) -> None:
        key = (body["metadata"].get("namespace", ""), body["metadata"]["name"])
        if type == "DELETED":
            store.budgets.pop(key, None)
            return
        try:
            store.budgets[key] = decode_budget(body)
        except DecodeError as exc:
            log.warning(
                "malformed PodDisruptionBudget skipped", budget="/".join(key), reason=str(exc)
            )

    @kopf.on.event("", "v1", "namespaces", registry=reg)
    def on_namespace(type: str | None, body: Mapping[str, Any], **_: Any) -> None:
        name = body["metadata"]["name"]
        if type == "DELETED":
            store.namespaces.pop(name, None)
        else:
            store.namespaces[name] = dict(body["metadata"].get("labels") or {})

    for group, version, plural, kind in _OWNERS:
        _watch_owner(reg, store, group, version, plural, kind)
    return reg


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
