"""ResourceClaims, DeviceClasses, ResourceSlices and ResourceClaimTemplates
(``resource.k8s.io/v1``) as the scheduler reads them.

Decoding follows :mod:`py_scheduler.model.raw`: a malformed object fails
once, here, with the path of the offending field. What the scheduler writes
back (an allocation, a class's configuration) keeps its raw JSON beside the
decoded form, so nothing is lost on the way out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from functools import total_ordering
from typing import Final, NamedTuple

from py_scheduler.model.quantity import QuantityError, parse_quantity
from py_scheduler.model.raw import DecodeError, Fields, RawObject
from py_scheduler.model.selectors import NodeSelector, decode_node_selector
from py_scheduler.model.taints import Taint, Toleration

GROUP: Final = "resource.k8s.io"
VERSION: Final = "v1"
EXACT_COUNT: Final = "ExactCount"
ALL: Final = "All"
FINALIZER: Final = "resource.kubernetes.io/delete-protection"
# Upstream's API limits the allocator honours.
ALLOCATION_RESULTS_MAX_SIZE: Final = 32
FIRST_AVAILABLE_MAX_SIZE: Final = 8
_TAINT_EFFECTS: Final = frozenset({"NoSchedule", "NoExecute", "None"})


class DeviceID(NamedTuple):
    driver: str
    pool: str
    device: str

    def __str__(self) -> str:
        return f"{self.driver}/{self.pool}/{self.device}"


# -- attribute values -----------------------------------------------------------------

_SEMVER: Final = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


class SemverError(ValueError):
    pass


@total_ordering
@dataclass(frozen=True, slots=True)
class Semver:
    """A semantic version; equality and order ignore build metadata (semver 2.0)."""

    major: int
    minor: int
    patch: int
    pre: tuple[str, ...] = ()
    build: str = field(default="", compare=False)

    def __str__(self) -> str:
        out = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            out += "-" + ".".join(self.pre)
        if self.build:
            out += "+" + self.build
        return out

    def _key(self) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
        # A release sorts after its pre-releases; numeric identifiers before others.
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.pre)
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, pre)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Semver):
            return NotImplemented
        return self._key() < other._key()


def parse_semver(text: str, *, normalize: bool = False) -> Semver:
    """``semver.Parse`` (strict); ``normalize`` accepts a "v" prefix and missing
    minor/patch parts as the Kubernetes CEL library's ``semver(s, true)`` does."""
    if normalize:
        text = text.removeprefix("v")
        core, sep, rest = text.partition("-") if "-" in text else text.partition("+")
        parts = core.split(".")
        while len(parts) < 3:
            parts.append("0")
        parts = [(p.lstrip("0") or "0") if p.isdigit() else p for p in parts]
        text = ".".join(parts) + (sep + rest if sep else "")
    match = _SEMVER.match(text)
    if match is None:
        raise SemverError(f"invalid semantic version {text!r}")
    pre = tuple(match[4].split(".")) if match[4] else ()
    return Semver(int(match[1]), int(match[2]), int(match[3]), pre, match[5] or "")


AttributeValue = bool | int | str | Semver


def _attribute(fields: Fields) -> AttributeValue:
    set_fields = [k for k in ("bool", "int", "string", "version") if fields.raw.get(k) is not None]
    if len(set_fields) != 1:
        raise DecodeError(fields.path, "exactly one of bool, int, string or version must be set")
    kind = set_fields[0]
    if kind == "bool":
        return fields.boolean("bool")
    if kind == "int":
        return fields.integer("int")
    if kind == "string":
        return fields.string("string")
    try:
        return parse_semver(fields.string("version"))
    except SemverError as exc:
        raise fields.error("version", str(exc)) from None


def _quantity(fields: Fields, key: str) -> Fraction:
    raw = fields.raw.get(key)
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        raise fields.error(key, f"expected a quantity, got {raw!r}")
    try:
        return parse_quantity(raw)
    except QuantityError as exc:
        raise fields.error(key, str(exc)) from None


def _quantities(fields: Fields, key: str, inner: str | None = None) -> dict[str, Fraction]:
    out = {}
    block = fields.obj(key)
    for name in block.raw:
        entry = block.obj(str(name)) if inner else block
        out[str(name)] = _quantity(entry, inner or str(name))
    return out


def _node_selector(fields: Fields, key: str) -> NodeSelector | None:
    if fields.raw.get(key) is None:
        return None
    return decode_node_selector(fields.obj(key))


# -- ResourceSlice --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CounterConsumption:
    counter_set: str
    counters: Mapping[str, Fraction]


@dataclass(frozen=True, slots=True)
class Device:
    name: str
    attributes: Mapping[str, AttributeValue]  # qualified names as published
    capacity: Mapping[str, Fraction]
    consumes_counters: tuple[CounterConsumption, ...] = ()
    node_name: str = ""
    node_selector: NodeSelector | None = None
    all_nodes: bool = False
    taints: tuple[Taint, ...] = ()
    binding_conditions: tuple[str, ...] = ()
    binds_to_node: bool = False
    allow_multiple_allocations: bool = False


@dataclass(frozen=True, slots=True)
class ResourceSlice:
    name: str
    driver: str
    pool: str
    generation: int
    slice_count: int
    devices: tuple[Device, ...]
    node_name: str = ""
    node_selector: NodeSelector | None = None
    all_nodes: bool = False
    per_device_node_selection: bool = False
    shared_counters: Mapping[str, Mapping[str, Fraction]] = field(default_factory=dict)
    resource_version: str = ""


def _device_taint(fields: Fields) -> Taint:
    effect = fields.string("effect")
    if effect not in _TAINT_EFFECTS:
        raise fields.error("effect", f"unknown device taint effect {effect!r}")
    return Taint(fields.string("key"), fields.string("value"), effect)


def _device(fields: Fields) -> Device:
    name = fields.string("name")
    if not name:
        raise fields.error("name", "must be set")
    attrs = fields.obj("attributes")
    return Device(
        name=name,
        attributes={str(k): _attribute(attrs.obj(str(k))) for k in attrs.raw},
        capacity=_quantities(fields, "capacity", "value"),
        consumes_counters=tuple(
            CounterConsumption(c.string("counterSet"), _quantities(c, "counters", "value"))
            for c in fields.objects("consumesCounters")
        ),
        node_name=fields.string("nodeName"),
        node_selector=_node_selector(fields, "nodeSelector"),
        all_nodes=fields.boolean("allNodes"),
        taints=tuple(_device_taint(t) for t in fields.objects("taints")),
        binding_conditions=fields.strings("bindingConditions"),
        binds_to_node=fields.boolean("bindsToNode"),
        allow_multiple_allocations=fields.boolean("allowMultipleAllocations"),
    )


def decode_resource_slice(raw: RawObject) -> ResourceSlice:
    root = Fields(raw)
    meta = root.obj("metadata")
    spec = root.obj("spec")
    pool = spec.obj("pool")
    driver = spec.string("driver")
    if not driver:
        raise spec.error("driver", "must be set")
    counters = {
        c.string("name"): _quantities(c, "counters", "value")
        for c in spec.objects("sharedCounters")
    }
    return ResourceSlice(
        name=meta.string("name"),
        driver=driver,
        pool=pool.string("name"),
        generation=pool.integer("generation"),
        slice_count=pool.integer("resourceSliceCount", 1),
        devices=tuple(_device(d) for d in spec.objects("devices")),
        node_name=spec.string("nodeName"),
        node_selector=_node_selector(spec, "nodeSelector"),
        all_nodes=spec.boolean("allNodes"),
        per_device_node_selection=spec.boolean("perDeviceNodeSelection"),
        shared_counters=counters,
        resource_version=meta.string("resourceVersion"),
    )


# -- DeviceClass ----------------------------------------------------------------------


def _selectors(fields: Fields) -> tuple[str | None, ...]:
    """CEL expressions; None for a selector of a kind this release does not know."""
    out: list[str | None] = []
    for selector in fields.objects("selectors"):
        cel = selector.raw.get("cel")
        out.append(selector.obj("cel").string("expression") if cel is not None else None)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class DeviceClass:
    name: str
    selectors: tuple[str | None, ...] = ()
    config: tuple[RawObject, ...] = ()  # spec.config[], copied into allocations
    extended_resource_name: str = ""
    resource_version: str = ""


def decode_device_class(raw: RawObject) -> DeviceClass:
    root = Fields(raw)
    meta = root.obj("metadata")
    spec = root.obj("spec")
    return DeviceClass(
        name=meta.string("name"),
        selectors=_selectors(spec),
        config=tuple(c.raw for c in spec.objects("config")),
        extended_resource_name=spec.string("extendedResourceName"),
        resource_version=meta.string("resourceVersion"),
    )


# -- ResourceClaim --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    """An exactly-specified request, or one subrequest of ``firstAvailable``."""

    name: str
    device_class_name: str
    selectors: tuple[str | None, ...] = ()
    allocation_mode: str = EXACT_COUNT
    count: int = 1
    admin_access: bool | None = None
    tolerations: tuple[Toleration, ...] = ()
    tolerations_raw: tuple[RawObject, ...] = ()
    has_capacity: bool = False  # consumable capacity requests
    has_derived_attributes: bool = False


@dataclass(frozen=True, slots=True)
class DeviceRequest:
    name: str
    exactly: Request | None = None
    first_available: tuple[Request, ...] = ()


@dataclass(frozen=True, slots=True)
class Constraint:
    requests: tuple[str, ...] = ()
    match_attribute: str = ""
    distinct_attribute: str = ""


@dataclass(frozen=True, slots=True)
class DeviceResult:
    request: str
    driver: str
    pool: str
    device: str
    admin_access: bool = False
    share_id: str = ""

    @property
    def id(self) -> DeviceID:
        return DeviceID(self.driver, self.pool, self.device)


@dataclass(frozen=True, slots=True)
class Allocation:
    results: tuple[DeviceResult, ...]
    node_selector: NodeSelector | None
    raw: RawObject  # as written to status.allocation

    @property
    def binding_conditions(self) -> bool:
        results = Fields(self.raw).obj("devices")
        return any(r.strings("bindingConditions") for r in results.objects("results"))


@dataclass(frozen=True, slots=True)
class Consumer:
    """An entry of ``status.reservedFor``."""

    resource: str
    name: str
    uid: str
    api_group: str = ""


@dataclass(frozen=True, slots=True)
class ResourceClaim:
    namespace: str
    name: str
    uid: str
    requests: tuple[DeviceRequest, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    config: tuple[RawObject, ...] = ()
    allocation: Allocation | None = None
    reserved_for: tuple[Consumer, ...] = ()
    deleting: bool = False
    finalizers: tuple[str, ...] = ()
    controller_uid: str = ""  # the owner with controller: true (a pod, for template claims)
    resource_version: str = ""

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def reserved_for_pod(self, uid: str) -> bool:
        return any(c.uid == uid for c in self.reserved_for)


def _request_fields(fields: Fields, name: str) -> Request:
    mode = fields.string("allocationMode") or EXACT_COUNT
    if mode not in (EXACT_COUNT, ALL):
        raise fields.error("allocationMode", f"unsupported value {mode!r}")
    admin = fields.raw.get("adminAccess")
    tolerations = []
    for t in fields.objects("tolerations"):
        operator = t.string("operator") or "Equal"
        if operator not in ("Equal", "Exists"):
            raise t.error("operator", f"unknown toleration operator {operator!r}")
        tolerations.append(
            Toleration(t.string("key"), operator, t.string("value"), t.string("effect"))
        )
    return Request(
        name=name,
        device_class_name=fields.string("deviceClassName"),
        selectors=_selectors(fields),
        allocation_mode=mode,
        count=fields.integer("count", 1) if mode == EXACT_COUNT else 0,
        admin_access=fields.boolean("adminAccess") if admin is not None else None,
        tolerations=tuple(tolerations),
        tolerations_raw=tuple(t.raw for t in fields.objects("tolerations")),
        has_capacity=fields.raw.get("capacity") is not None,
        has_derived_attributes=bool(fields.array("derivedAttributes")),
    )


def _device_request(fields: Fields) -> DeviceRequest:
    name = fields.string("name")
    if not name:
        raise fields.error("name", "must be set")
    exactly = None
    if fields.raw.get("exactly") is not None:
        exactly = _request_fields(fields.obj("exactly"), name)
    subs = tuple(
        _request_fields(sub, sub.string("name")) for sub in fields.objects("firstAvailable")
    )
    return DeviceRequest(name, exactly, subs)


def _allocation(fields: Fields) -> Allocation:
    devices = fields.obj("devices")
    results = tuple(
        DeviceResult(
            request=r.string("request"),
            driver=r.string("driver"),
            pool=r.string("pool"),
            device=r.string("device"),
            admin_access=r.boolean("adminAccess"),
            share_id=r.string("shareID"),
        )
        for r in devices.objects("results")
    )
    return Allocation(results, _node_selector(fields, "nodeSelector"), fields.raw)


def decode_resource_claim(raw: RawObject) -> ResourceClaim:
    root = Fields(raw)
    meta = root.obj("metadata")
    spec = root.obj("spec").obj("devices")
    status = root.obj("status")
    name = meta.string("name")
    if not name:
        raise meta.error("name", "must be set")
    controller = ""
    for owner in meta.objects("ownerReferences"):
        if owner.boolean("controller"):
            controller = owner.string("uid")
    allocation = None
    if status.raw.get("allocation") is not None:
        allocation = _allocation(status.obj("allocation"))
    return ResourceClaim(
        namespace=meta.string("namespace") or "default",
        name=name,
        uid=meta.string("uid") or f"{meta.string('namespace')}/{name}",
        requests=tuple(_device_request(r) for r in spec.objects("requests")),
        constraints=tuple(
            Constraint(
                c.strings("requests"),
                c.string("matchAttribute"),
                c.string("distinctAttribute"),
            )
            for c in spec.objects("constraints")
        ),
        config=tuple(c.raw for c in spec.objects("config")),
        allocation=allocation,
        reserved_for=tuple(
            Consumer(c.string("resource"), c.string("name"), c.string("uid"), c.string("apiGroup"))
            for c in status.objects("reservedFor")
        ),
        deleting=meta.raw.get("deletionTimestamp") is not None,
        finalizers=meta.strings("finalizers"),
        controller_uid=controller,
        resource_version=meta.string("resourceVersion"),
    )


# -- ResourceClaimTemplate (simulation only: the controller manager expands them) ------


@dataclass(frozen=True, slots=True)
class ResourceClaimTemplate:
    namespace: str
    name: str
    spec: RawObject  # spec.spec: the claim spec to copy
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


def decode_resource_claim_template(raw: RawObject) -> ResourceClaimTemplate:
    root = Fields(raw)
    meta = root.obj("metadata")
    template = root.obj("spec")
    inner_meta = template.obj("metadata")
    # Decode the claim spec once so a malformed template fails here, not later.
    decode_resource_claim(
        {"metadata": {"name": "template-check"}, "spec": template.raw_map("spec")}
    )
    return ResourceClaimTemplate(
        namespace=meta.string("namespace") or "default",
        name=meta.string("name"),
        spec=template.raw_map("spec"),
        labels=inner_meta.str_map("labels"),
        annotations=inner_meta.str_map("annotations"),
    )
