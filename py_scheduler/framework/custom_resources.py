"""Objects of kinds the scheduler does not know, watched for plugins.

A plugin names a kind (a CRD's group, version and plural) in two ways, both
upstream's: by registering cluster events on it (``events_to_register`` with
``event(CustomResource(...), ActionType.ADD)``, the ``<plural>.<version>.<group>``
events kube-scheduler builds dynamic informers for), and by asking its
``Handle`` for a lister (``handle.custom_objects(resource)``, as upstream
plugins take an informer from ``DynInformerFactory``). Either way the
scheduler watches the kind (:mod:`py_scheduler.kube.custom_resources` live,
the snapshot in ``simulate``), keeps its objects here, and turns each change
into a cluster event that requeues the pods whose rejecting plugin
registered for it.

Objects are kept as the API returns them (read-only mappings). A lister may
take a ``decode`` function: each object is decoded once per change, not once
per cycle, and one that does not decode is left out of that lister with a
logged reason. Everything runs on the scheduler's event loop, between
scheduling cycles, so a cycle never sees a kind change under it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar, overload

import structlog

from py_scheduler.framework.types import ActionType

log = structlog.get_logger("py_scheduler.custom_resources")

T = TypeVar("T")
Raw = Mapping[str, Any]
Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped kinds

# What a decode function may raise for an object it cannot read.
DECODE_ERRORS: Final = (ValueError, KeyError, TypeError, AttributeError)


@dataclass(frozen=True, slots=True)
class CustomResource:
    """A kind by API group, version and plural resource name, e.g.
    ``CustomResource("example.com", "v1", "maintenancewindows", kind="MaintenanceWindow")``.

    ``kind`` is only needed by ``simulate`` to pick the kind's objects out of a
    snapshot when the plural is not the kind's lower case plus "s", "es" or
    "ies"; it takes no part in equality."""

    group: str
    version: str
    plural: str
    kind: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        for name, value in (("version", self.version), ("plural", self.plural)):
            if not value or "/" in value or "." in value or value != value.strip():
                raise ValueError(f"custom resource: invalid {name} {value!r}")
        if self.plural != self.plural.lower():
            raise ValueError(f"custom resource: plural {self.plural!r} must be lower case")
        if "/" in self.group or self.group != self.group.strip():
            raise ValueError(f"custom resource: invalid group {self.group!r}")

    @classmethod
    def parse(cls, text: str, kind: str = "") -> CustomResource:
        """From upstream's event resource form ``<plural>.<version>.<group>``."""
        plural, _, rest = text.partition(".")
        version, _, group = rest.partition(".")
        if not (plural and version and group):
            raise ValueError(
                f"custom resource {text!r}: expected <plural>.<version>.<group>, "
                "e.g. podgroups.v1alpha1.scheduling.x-k8s.io"
            )
        return cls(group, version, plural, kind)

    @property
    def value(self) -> str:
        """``<plural>.<version>.<group>``: the event resource and label prefix."""
        if not self.group:
            return f"{self.plural}.{self.version}"
        return f"{self.plural}.{self.version}.{self.group}"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def path(self) -> str:
        """Where its objects of every namespace are listed and watched."""
        prefix = f"/apis/{self.group}" if self.group else "/api"
        return f"{prefix}/{self.version}/{self.plural}"

    def describes(self, obj: Raw) -> bool:
        """Whether a document (e.g. from a snapshot) is an object of this kind."""
        if obj.get("apiVersion") != self.api_version:
            return False
        kind = obj.get("kind")
        if not isinstance(kind, str) or not kind:
            return False
        if self.kind:
            return kind == self.kind
        lower = kind.lower()
        plurals = {lower + "s", lower + "es"}
        if lower.endswith("y"):
            plurals.add(lower[:-1] + "ies")
        return self.plural in plurals

    def __str__(self) -> str:
        return self.value


def object_key(obj: Raw) -> Key:
    """(namespace, name) of an object; ValueError when it has no name."""
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping):
        raise ValueError("metadata: missing")
    name = meta.get("name")
    namespace = meta.get("namespace") or ""
    if not isinstance(name, str) or not name or not isinstance(namespace, str):
        raise ValueError("metadata.name: missing")
    return namespace, name


def _version(obj: Raw) -> object:
    meta = obj.get("metadata")
    return meta.get("resourceVersion") if isinstance(meta, Mapping) else None


class CustomObjectLister(Generic[T]):
    """One plugin's view of a watched kind: its objects, decoded if the
    plugin gave a ``decode`` function, by namespace and name."""

    def __init__(self, table: _Table, decode: Callable[[Raw], T]) -> None:
        self._table = table
        self._decode = decode
        self._objects: dict[Key, T] = {}
        self._handlers: list[Callable[[ActionType, T | None, T | None], None]] = []
        for key, raw in table.raw.items():
            self._put(key, raw)

    def on_change(self, handler: Callable[[ActionType, T | None, T | None], None]) -> None:
        """Call ``handler(action, old, new)`` after each change this lister
        sees (ADD, UPDATE, DELETE; decoded objects), as an informer's event
        handler: e.g. to allow pods a Permit plugin holds once an object
        says so. It runs on the scheduler's loop between cycles; an
        exception is logged and does not stop the watch."""
        self._handlers.append(handler)

    @property
    def resource(self) -> CustomResource:
        return self._table.resource

    @property
    def served(self) -> bool:
        """False while the API server does not serve the kind (its CRD is not
        installed): the lister is then empty, and fills once it is."""
        return self._table.served

    def get(self, name: str, namespace: str = "") -> T | None:
        """The object ``namespace/name`` (namespace "" for cluster-scoped kinds)."""
        return self._objects.get((namespace, name))

    def list(self, namespace: str | None = None) -> list[T]:
        """Every object, or those of one namespace, in (namespace, name) order."""
        keys = sorted(self._objects)
        if namespace is not None:
            keys = [k for k in keys if k[0] == namespace]
        return [self._objects[k] for k in keys]

    def __len__(self) -> int:
        return len(self._objects)

    def _put(self, key: Key, raw: Raw) -> None:
        old = self._objects.get(key)
        try:
            new = self._objects[key] = self._decode(raw)
        except DECODE_ERRORS as exc:
            self._objects.pop(key, None)
            if old is not None:
                self._tell(ActionType.DELETE, old, None)
            log.warning(
                "custom object left out: it does not decode",
                resource=self._table.resource.value,
                object="/".join(k for k in key if k),
                decoder=getattr(self._decode, "__qualname__", repr(self._decode)),
                reason=repr(exc),
            )
            return
        self._tell(ActionType.ADD if old is None else ActionType.UPDATE, old, new)

    def _drop(self, key: Key) -> None:
        old = self._objects.pop(key, None)
        if old is not None:
            self._tell(ActionType.DELETE, old, None)

    def _tell(self, action: ActionType, old: T | None, new: T | None) -> None:
        for handler in self._handlers:
            try:
                handler(action, old, new)
            except Exception:
                log.exception(
                    "custom object handler raised",
                    resource=self._table.resource.value,
                    handler=getattr(handler, "__qualname__", repr(handler)),
                )


def _as_is(raw: Raw) -> Raw:
    return raw


class _Table:
    def __init__(self, resource: CustomResource) -> None:
        self.resource = resource
        self.raw: dict[Key, Raw] = {}
        self.listers: list[CustomObjectLister[Any]] = []
        self.served = False


# (resource, action, old, new): a change, for the scheduler's ``on_object``.
Change = tuple[CustomResource, ActionType, Raw | None, Raw | None]


class CustomObjects:
    """Every watched kind's objects; one store shared by all profiles."""

    def __init__(self) -> None:
        self._tables: dict[CustomResource, _Table] = {}

    # -- registration (plugins, through the Handle) ---------------------------------

    def register(self, resource: CustomResource) -> None:
        """Watch ``resource`` (idempotent)."""
        self._table(resource)

    @overload
    def lister(self, resource: CustomResource) -> CustomObjectLister[Raw]: ...

    @overload
    def lister(
        self, resource: CustomResource, decode: Callable[[Raw], T]
    ) -> CustomObjectLister[T]: ...

    def lister(
        self, resource: CustomResource, decode: Callable[[Raw], Any] | None = None
    ) -> CustomObjectLister[Any]:
        table = self._table(resource)
        lister: CustomObjectLister[Any] = CustomObjectLister(table, decode or _as_is)
        table.listers.append(lister)
        return lister

    def resources(self) -> list[CustomResource]:
        """The watched kinds, in the order they were first named."""
        return list(self._tables)

    def _table(self, resource: CustomResource) -> _Table:
        table = self._tables.get(resource)
        if table is None:
            table = self._tables[resource] = _Table(resource)
        return table

    # -- writes (the kube layer's watches, the simulator) ---------------------------

    def set_served(self, resource: CustomResource, served: bool) -> None:
        self._table(resource).served = served

    def upsert(self, resource: CustomResource, obj: Raw) -> Change | None:
        """Hold ``obj`` (added or changed); None when nothing changed."""
        table = self._table(resource)
        key = object_key(obj)
        old = table.raw.get(key)
        if old is not None and old == obj:
            return None
        table.raw[key] = obj
        for lister in table.listers:
            lister._put(key, obj)
        return resource, ActionType.ADD if old is None else ActionType.UPDATE, old, obj

    def delete(self, resource: CustomResource, obj: Raw) -> Change | None:
        table = self._table(resource)
        key = object_key(obj)
        old = table.raw.pop(key, None)
        if old is None:
            return None
        for lister in table.listers:
            lister._drop(key)
        return resource, ActionType.DELETE, old, None

    def replace(self, resource: CustomResource, objects: Iterable[Raw]) -> list[Change]:
        """A complete list (a relist): the changes it makes, deletions first."""
        table = self._table(resource)
        fresh = {object_key(obj): obj for obj in objects}
        changes: list[Change] = []
        for key in [k for k in table.raw if k not in fresh]:
            change = self.delete(resource, table.raw[key])
            if change is not None:
                changes.append(change)
        for key, obj in fresh.items():
            old = table.raw.get(key)
            if old is not None and _version(old) is not None and _version(old) == _version(obj):
                continue
            change = self.upsert(resource, obj)
            if change is not None:
                changes.append(change)
        return changes

    def objects(self, resource: CustomResource) -> Sequence[Raw]:
        table = self._tables.get(resource)
        return list(table.raw.values()) if table is not None else []
