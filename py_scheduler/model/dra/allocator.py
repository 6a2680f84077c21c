"""The structured-parameters allocator (upstream ``dynamic-resource-allocation/
structured``, the variant kube-scheduler runs with its default features).

``Allocator.allocate(node, claims)`` searches, for one node, devices for every
request of every claim: an exhaustive depth-first search that takes the
first full solution, trying devices in pool, slice and device order and,
within one request, only combinations (never permutations). A device is a
candidate when it is not allocated already (unless the request asks for
admin access), every selector of the request's DeviceClass and of the
request matches, per-device node selection admits the node, its taints are
tolerated, the shared counters it consumes are still available, and every
``matchAttribute``/``distinctAttribute`` constraint of the claim still holds.

Supported: ``exactly`` with ``count`` or ``allocationMode: All``,
``firstAvailable`` (the first subrequest that can be satisfied), class and
request selectors (CEL), constraints, ``adminAccess``, device taints and
tolerations, and partitionable devices (shared counters). Not supported, with
upstream's behaviour when the feature is off: consumable capacity (a request
with ``capacity`` is an error; a device shared by several allocations is
allocated once), devices with binding conditions (never selected) and
derived attributes (an error).

Outcomes: a list of :class:`AllocationResult` (one per claim), None when the
node cannot satisfy them, :class:`NodeAllocationError` when only invalid
pools could have, or :class:`AllocationError` for a claim or class that no
node can serve (a bad selector, a missing class), with upstream's message.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Final

from py_scheduler.model.dra import cel
from py_scheduler.model.dra.objects import (
    ALL,
    ALLOCATION_RESULTS_MAX_SIZE,
    AttributeValue,
    Device,
    DeviceClass,
    DeviceID,
    Request,
    ResourceClaim,
    ResourceSlice,
)
from py_scheduler.model.dra.pools import Pool, gather_pools, node_matches
from py_scheduler.model.node import Node
from py_scheduler.model.taints import Taint

_BLOCKING_TAINTS: Final = frozenset({"NoSchedule", "NoExecute"})


class AllocationError(Exception):
    """The claims cannot be allocated on any node: scheduling must stop (Error)."""


class NodeAllocationError(Exception):
    """Allocation failed on this node only (upstream ``ErrFailedAllocationOnNode``)."""


class _Stop(Exception):
    """Every subrequest would exceed the per-claim result limit."""


@dataclass(frozen=True, slots=True)
class ChosenDevice:
    request: str  # "<request>" or "<request>/<subrequest>"
    id: DeviceID
    admin_access: bool | None
    tolerations: tuple[Mapping[str, Any], ...]
    slice: ResourceSlice
    device: Device


class AllocationResult:
    """One claim's allocation. ``raw``, the shape of ``status.allocation``, is
    built on first use: Filter finds one per node, only the chosen is written."""

    __slots__ = ("_build", "_raw", "devices")

    def __init__(
        self, devices: tuple[ChosenDevice, ...], build: Callable[[], Mapping[str, Any]]
    ) -> None:
        self.devices = devices
        self._build: Callable[[], Mapping[str, Any]] | None = build
        self._raw: Mapping[str, Any] | None = None

    @property
    def raw(self) -> Mapping[str, Any]:
        if self._raw is None:
            assert self._build is not None
            self._raw = self._build()
            self._build = None
        return self._raw


@dataclass(slots=True)
class _RequestData:
    request: Request
    parent: str  # the parent request's name for a subrequest, else ""
    cls: DeviceClass
    num_devices: int
    all_devices: list[tuple[Pool, ResourceSlice, Device]] | None = None

    @property
    def name(self) -> str:
        return f"{self.parent}/{self.request.name}" if self.parent else self.request.name


@dataclass(slots=True)
class _Constraint:
    requests: frozenset[str]
    attribute: str
    distinct: bool
    values: list[AttributeValue] = field(default_factory=list)

    def applies(self, base: str, sub: str) -> bool:
        if not self.requests:
            return True
        return base in self.requests or (bool(sub) and f"{base}/{sub}" in self.requests)

    def add(self, base: str, sub: str, device: Device, device_id: DeviceID) -> bool:
        if not self.applies(base, sub):
            return True
        value = lookup_attribute(device, device_id, self.attribute)
        if value is None:
            return False
        if self.distinct:
            if any(_same(value, v) for v in self.values):
                return False
        elif self.values and not _same(value, self.values[0]):
            return False
        self.values.append(value)
        return True

    def remove(self, base: str, sub: str) -> None:
        if self.applies(base, sub):
            self.values.pop()


def _same(a: AttributeValue, b: AttributeValue) -> bool:
    return type(a) is type(b) and a == b


def lookup_attribute(device: Device, device_id: DeviceID, name: str) -> AttributeValue | None:
    """A fully qualified attribute; the driver's own may be published unqualified."""
    if name in device.attributes:
        return device.attributes[name]
    domain, sep, ident = name.partition("/")
    if not sep or domain != device_id.driver:
        return None
    return device.attributes.get(ident)


def taint_prevents(taints: Sequence[Taint], request: Request) -> bool:
    if not taints:
        return False
    return any(
        t.effect in _BLOCKING_TAINTS and not any(tol.tolerates(t) for tol in request.tolerations)
        for t in taints
    )


class Allocator:
    """Allocation for one pod's claims against one view of the cluster.

    Built once per scheduling cycle (PreFilter) and asked once per node
    (Filter); ``allocated`` holds every device already allocated or in flight.
    """

    def __init__(
        self,
        *,
        allocated: Set[DeviceID],
        classes: Callable[[str], DeviceClass | None],
        slices: Sequence[ResourceSlice],
        node_slices: Callable[[str], Sequence[ResourceSlice]] | None = None,
        selectors: cel.SelectorCache,
        timeout: float = 0.0,
        pool_cache: PoolCache | None = None,
    ) -> None:
        self.allocated = allocated
        self.classes = classes
        self.all_slices = slices
        self.selectors = selectors
        self.timeout = timeout
        self.slices_for = node_slices or self._slices_for
        self.pool_cache = pool_cache
        # The requests' classes and counts are the same on every node (unless a
        # request wants "all" devices): checked on the first node, then kept.
        self.prepared: tuple[Sequence[ResourceClaim], _Prepared] | None = None

    def _slices_for(self, node: str) -> list[ResourceSlice]:
        return [s for s in self.all_slices if not s.node_name or s.node_name == node]

    def _pools(self, node: Node) -> list[Pool]:
        for_node = self.slices_for(node.name)
        cache = self.pool_cache
        if cache is None:
            return gather_pools(node, for_node, self.all_slices)
        hit = cache.get(node.name)
        if (
            hit is not None
            and hit[0] == node.labels
            and len(hit[1]) == len(for_node)
            and all(a is b for a, b in zip(hit[1], for_node, strict=True))
        ):
            return hit[2]
        pools = gather_pools(node, for_node, self.all_slices)
        # A pool judged with other nodes' slices may change without this node's.
        if all(not p.incomplete and not p.other_slices for p in pools):
            cache[node.name] = (dict(node.labels), tuple(for_node), pools)
        return pools

    def allocate(
        self, node: Node, claims: Sequence[ResourceClaim]
    ) -> list[AllocationResult] | None:
        """Pass the same ``claims`` object for every node to reuse their checks."""
        pools = self._pools(node)
        run = _Run(self, node, claims, pools)
        if not run.solve():
            if any(p.invalid for p in pools):
                raise NodeAllocationError("invalid resource pools were encountered")
            return None
        return run.results()


# node name -> (its labels, the slices it was judged on, its pools)
PoolCache = dict[str, tuple[dict[str, str], tuple[ResourceSlice, ...], list[Pool]]]


@dataclass(frozen=True, slots=True)
class _Prepared:
    data: dict[tuple[int, int, int], _RequestData]
    constraints: tuple[tuple[tuple[frozenset[str], str, bool], ...], ...]


class _Run:
    """One ``allocate`` call: the search state, as upstream's ``allocator``."""

    def __init__(
        self, owner: Allocator, node: Node, claims: Sequence[ResourceClaim], pools: list[Pool]
    ) -> None:
        self.a = owner
        self.node = node
        self.claims = claims
        self.pools = [p for p in pools if not p.incomplete and not p.invalid]
        self.all_pools = pools
        self.deadline = time.monotonic() + owner.timeout if owner.timeout > 0 else 0.0
        self.data: dict[tuple[int, int, int], _RequestData] = {}
        self.chosen_sub: dict[tuple[int, int], int] = {}
        self.constraints: list[list[_Constraint]] = []
        self.chosen: list[list[ChosenDevice]] = [[] for _ in claims]
        self.allocating: dict[DeviceID, set[int]] = {}
        self.matches: dict[tuple[DeviceID, tuple[int, int, int]], bool] = {}
        self.consumed: dict[str, dict[str, dict[str, Fraction]]] = {}
        self.available: dict[str, dict[str, dict[str, Fraction]]] = {}
        cached = owner.prepared
        if cached is not None and cached[0] is claims:
            prepared = cached[1]
            self.data = prepared.data  # read-only from here on
            self.constraints = [
                [_Constraint(r, a, distinct=d) for r, a, d in specs]
                for specs in prepared.constraints
            ]
            return
        for ci, claim in enumerate(claims):
            self._prepare(ci, claim)
        if all(d.all_devices is None for d in self.data.values()):
            specs = tuple(
                tuple((c.requests, c.attribute, c.distinct) for c in per_claim)
                for per_claim in self.constraints
            )
            owner.prepared = (claims, _Prepared(self.data, specs))

    # -- preparation ---------------------------------------------------------------------

    def _prepare(self, ci: int, claim: ResourceClaim) -> None:
        min_devices = 0
        for ri, request in enumerate(claim.requests):
            if request.first_available:
                least = None
                for si, sub in enumerate(request.first_available):
                    data = self._validate(claim, sub, request.name, (ci, ri, si))
                    self.data[(ci, ri, si)] = data
                    least = data.num_devices if least is None else min(least, data.num_devices)
                wanted = least or 0
            elif request.exactly is not None:
                data = self._validate(claim, request.exactly, "", (ci, ri, 0))
                self.data[(ci, ri, 0)] = data
                wanted = data.num_devices
            else:
                raise AllocationError(
                    f"claim {claim.key}, request {request.name}: missing device class name "
                    "(unsupported request type?)"
                )
            if wanted > ALLOCATION_RESULTS_MAX_SIZE - min_devices:
                raise AllocationError(
                    f"claim {claim.key}, request {request.name}: adding {wanted} devices "
                    f"exceeds the claim limit of {ALLOCATION_RESULTS_MAX_SIZE}, with "
                    f"{min_devices} already accounted for"
                )
            min_devices += wanted
        constraints = []
        for i, c in enumerate(claim.constraints):
            if not c.match_attribute and not c.distinct_attribute:
                raise AllocationError(
                    f"claim {claim.key}, constraint #{i}: empty constraint "
                    "(unsupported constraint type?)"
                )
            constraints.append(
                _Constraint(
                    frozenset(c.requests),
                    c.match_attribute or c.distinct_attribute,
                    distinct=not c.match_attribute,
                )
            )
        self.constraints.append(constraints)

    def _validate(
        self, claim: ResourceClaim, request: Request, parent: str, key: tuple[int, int, int]
    ) -> _RequestData:
        if request.has_derived_attributes:
            raise AllocationError(
                f"claim {claim.key}, request {request.name}: cannot handle request with "
                "derived attributes, the feature is disabled"
            )
        if request.has_capacity:
            what = "subrequest" if parent else "request"
            raise AllocationError(
                f"claim {claim.key}, {what} {request.name}: has capacity requests, but the "
                "DRAConsumableCapacity feature is disabled"
            )
        for i, selector in enumerate(request.selectors):
            if selector is None:
                raise AllocationError(
                    f"claim {claim.key}, request {request.name}, selector #{i}: CEL expression "
                    "empty (unsupported selector type?)"
                )
        if not request.device_class_name:
            raise AllocationError(
                f"claim {claim.key}, request {request.name}: missing device class name "
                "(unsupported request type?)"
            )
        cls = self.a.classes(request.device_class_name)
        if cls is None:
            raise AllocationError(
                f"claim {claim.key}, request {request.name}: could not retrieve device class "
                f'{request.device_class_name}: deviceclass.resource.k8s.io "'
                f'{request.device_class_name}" not found'
            )
        data = _RequestData(request, parent, cls, request.count)
        if request.allocation_mode != ALL:
            return data
        devices: list[tuple[Pool, ResourceSlice, Device]] = []
        for pool in self.all_pools:
            if pool.incomplete:
                raise AllocationError(
                    f"claim {claim.key}, request {request.name}: asks for all devices, but "
                    f"resource pool {pool.id} is currently being updated"
                )
            if pool.invalid:
                raise AllocationError(
                    f"claim {claim.key}, request {request.name}: asks for all devices, but "
                    f"resource pool {pool.id} is currently invalid"
                )
            for slice_ in pool.slices:
                for device in slice_.devices:
                    if self._selectable(key, data, slice_, device):
                        devices.append((pool, slice_, device))
        data.all_devices = devices
        data.num_devices = len(devices)
        return data

    # -- selection -----------------------------------------------------------------------

    def _selectable(
        self, key: tuple[int, int, int], data: _RequestData, slice_: ResourceSlice, device: Device
    ) -> bool:
        if device.binding_conditions:
            return False  # DRADeviceBindingConditions is not supported
        device_id = DeviceID(slice_.driver, slice_.pool, device.name)
        cached = self.matches.get((device_id, key))
        if cached is not None:
            return cached
        ok = self._selectors_match(key, slice_.driver, device, device_id, data, True)
        ok = ok and self._selectors_match(key, slice_.driver, device, device_id, data, False)
        if ok and slice_.per_device_node_selection:
            ok = node_matches(self.node, device.node_name, device.all_nodes, device.node_selector)
        self.matches[(device_id, key)] = ok
        return ok

    def _selectors_match(
        self,
        key: tuple[int, int, int],
        driver: str,
        device: Device,
        device_id: DeviceID,
        data: _RequestData,
        of_class: bool,
    ) -> bool:
        claim = self.claims[key[0]]
        owner = f"class {data.cls.name}" if of_class else f"claim {claim.key}"
        expressions = data.cls.selectors if of_class else data.request.selectors
        for i, expression in enumerate(expressions):
            if expression is None:
                raise AllocationError(
                    f"{owner}: selector #{i}: CEL expression empty (unsupported selector type?)"
                )
            selector = self.a.selectors.get(expression)
            if selector.program is None:
                raise AllocationError(
                    f"{owner}: selector #{i}: CEL compile error: {selector.error}"
                )
            try:
                matched = self.a.selectors.matches(selector, driver, device)
            except cel.CelError as exc:
                raise AllocationError(
                    f"{owner}: selector #{i} on device {device_id}: CEL runtime error: {exc}"
                ) from None
            if not matched:
                return False
        return True

    # -- the search ----------------------------------------------------------------------

    def solve(self) -> bool:
        try:
            return self._one(0, 0, 0, 0, False, (0, 0, 0))
        except _Stop:
            return False

    def _check_deadline(self) -> None:
        if self.deadline and time.monotonic() > self.deadline:
            raise TimeoutError("timed out trying to allocate devices")

    def _one(
        self, ci: int, ri: int, si: int, di: int, in_sub: bool, start: tuple[int, int, int]
    ) -> bool:
        self._check_deadline()
        if ci >= len(self.claims):
            return True
        claim = self.claims[ci]
        if ri >= len(claim.requests):
            try:
                return self._one(ci + 1, 0, 0, 0, False, (0, 0, 0))
            except _Stop:
                return False
        data = self.data[(ci, ri, si)]
        if not in_sub and data.parent:
            exceeded_all = True
            sub = 0
            while (ci, ri, sub) in self.data:
                try:
                    done = self._one(ci, ri, sub, 0, True, (0, 0, 0))
                except _Stop:
                    sub += 1
                    continue
                exceeded_all = False
                if done:
                    self.chosen_sub[(ci, ri)] = sub
                    return True
                sub += 1
            if exceeded_all:
                raise _Stop
            return False
        request = data.request
        if request.allocation_mode == ALL and not data.all_devices:
            return False
        if di >= data.num_devices:
            return self._one(ci, ri + 1, 0, 0, False, (0, 0, 0))
        if data.num_devices - di > ALLOCATION_RESULTS_MAX_SIZE - len(self.chosen[ci]):
            raise _Stop
        if data.all_devices is not None:
            pool, slice_, device = data.all_devices[di]
            undo = self._allocate_device(ci, (ci, ri, si), pool, slice_, device, must=True)
            if undo is None:
                return False
            try:
                done = self._one(ci, ri, si, di + 1, in_sub, (0, 0, 0))
            except BaseException:
                undo()
                raise
            if not done:
                undo()
            return done
        key = (ci, ri, si)
        admin = bool(request.admin_access)
        for pi in range(start[0], len(self.pools)):
            pool = self.pools[pi]
            for li in range(start[1] if pi == start[0] else 0, len(pool.slices)):
                slice_ = pool.slices[li]
                first = start[2] if (pi, li) == start[:2] else 0
                for xi in range(first, len(slice_.devices)):
                    device = slice_.devices[xi]
                    device_id = DeviceID(pool.driver, pool.name, device.name)
                    if admin and ci in self.allocating.get(device_id, ()):
                        continue
                    if not admin and self._in_use(device_id):
                        continue
                    if not self._selectable(key, data, slice_, device):
                        continue
                    undo = self._allocate_device(ci, key, pool, slice_, device, must=False)
                    if undo is None:
                        continue
                    try:
                        done = self._one(ci, ri, si, di + 1, in_sub, (pi, li, xi + 1))
                    except BaseException:
                        undo()
                        raise
                    if done:
                        return True
                    undo()
        return False

    def _in_use(self, device_id: DeviceID) -> bool:
        return device_id in self.a.allocated or bool(self.allocating.get(device_id))

    def _allocate_device(
        self,
        ci: int,
        key: tuple[int, int, int],
        pool: Pool,
        slice_: ResourceSlice,
        device: Device,
        *,
        must: bool,
    ) -> Callable[[], None] | None:
        """Take the device for the request; the undo, or None if it cannot be taken."""
        data = self.data[key]
        request = data.request
        admin = bool(request.admin_access)
        device_id = DeviceID(pool.driver, pool.name, device.name)
        if admin and ci in self.allocating.get(device_id, ()):
            return None
        if not admin and self._in_use(device_id):
            return None
        counters = bool(device.consumes_counters)
        if counters and not self._take_counters(pool, device):
            return None
        base, sub = (data.parent, request.name) if data.parent else (request.name, "")
        if taint_prevents(device.taints, request):
            if counters:
                self._release_counters(pool, device)
            return None
        added = 0
        for constraint in self.constraints[ci]:
            if not constraint.add(base, sub, device, device_id):
                for c in reversed(self.constraints[ci][:added]):
                    c.remove(base, sub)
                if counters:
                    self._release_counters(pool, device)
                if must:
                    claim = self.claims[ci]
                    raise AllocationError(
                        f"claim {claim.key}, request {request.name}: cannot add device "
                        f"{device_id} because a claim constraint would not be satisfied"
                    )
                return None
            added += 1
        self.allocating.setdefault(device_id, set()).add(ci)
        self.chosen[ci].append(
            ChosenDevice(
                request=data.name,
                id=device_id,
                admin_access=True if admin else None,
                tolerations=request.tolerations_raw,
                slice=slice_,
                device=device,
            )
        )
        size = len(self.chosen[ci])

        def undo() -> None:
            del self.chosen[ci][size - 1 :]
            self.allocating[device_id].discard(ci)
            for c in reversed(self.constraints[ci][:added]):
                c.remove(base, sub)
            if counters:
                self._release_counters(pool, device)

        return undo

    # -- shared counters (partitionable devices) -------------------------------------

    def _available(self, pool: Pool) -> dict[str, dict[str, Fraction]]:
        found = self.available.get(pool.id)
        if found is not None:
            return found
        available = {name: dict(counters) for name, counters in pool.counter_sets.items()}
        for slice_ in (*pool.slices, *pool.other_slices):
            for device in slice_.devices:
                if DeviceID(pool.driver, pool.name, device.name) not in self.a.allocated:
                    continue
                for use in device.consumes_counters:
                    counters = available.get(use.counter_set, {})
                    for name, amount in use.counters.items():
                        if name in counters:
                            counters[name] -= amount
        self.available[pool.id] = available
        return available

    def _take_counters(self, pool: Pool, device: Device) -> bool:
        available = self._available(pool)
        consumed = self.consumed.setdefault(pool.id, {})
        for use in device.consumes_counters:
            counters = consumed.setdefault(use.counter_set, {})
            for name, amount in use.counters.items():
                counters[name] = counters.get(name, Fraction(0)) + amount
        for set_name, counters in available.items():
            for name, amount in counters.items():
                if amount < consumed.get(set_name, {}).get(name, Fraction(0)):
                    self._release_counters(pool, device)
                    return False
        return True

    def _release_counters(self, pool: Pool, device: Device) -> None:
        consumed = self.consumed[pool.id]
        for use in device.consumes_counters:
            for name, amount in use.counters.items():
                consumed[use.counter_set][name] -= amount

    # -- the result ----------------------------------------------------------------------

    def results(self) -> list[AllocationResult]:
        out = []
        for ci, claim in enumerate(self.claims):
            devices = tuple(self.chosen[ci])
            out.append(AllocationResult(devices, functools.partial(self._raw, ci, claim, devices)))
        return out

    def _raw(
        self, ci: int, claim: ResourceClaim, devices: tuple[ChosenDevice, ...]
    ) -> Mapping[str, Any]:
        results = []
        for chosen in devices:
            entry: dict[str, Any] = {
                "request": chosen.request,
                "driver": chosen.id.driver,
                "pool": chosen.id.pool,
                "device": chosen.id.device,
            }
            if chosen.admin_access is not None:
                entry["adminAccess"] = chosen.admin_access
            if chosen.tolerations:
                entry["tolerations"] = [dict(t) for t in chosen.tolerations]
            results.append(entry)
        raw: dict[str, Any] = {"devices": {"results": results}}
        config = self._config(ci, claim)
        if config:
            raw["devices"]["config"] = config
        selector = self._node_selector(devices)
        if selector is not None:
            raw["nodeSelector"] = selector
        return raw

    def _request_data(self, ci: int, ri: int) -> _RequestData:
        return self.data[(ci, ri, self.chosen_sub.get((ci, ri), 0))]

    def _config(self, ci: int, claim: ResourceClaim) -> list[dict[str, Any]]:
        config: list[dict[str, Any]] = []
        by_class: dict[str, list[dict[str, Any]]] = {}
        for ri in range(len(claim.requests)):
            data = self._request_data(ci, ri)
            if data.cls.name in by_class:
                for entry in by_class[data.cls.name]:
                    entry["requests"].append(data.name)
                continue
            entries = [
                {"source": "FromClass", "requests": [data.name], **_opaque(c)}
                for c in data.cls.config
            ]
            by_class[data.cls.name] = entries
            config += entries
        names = {}
        for ri, request in enumerate(claim.requests):
            data = self._request_data(ci, ri)
            names[request.name] = data.name
        for c in claim.config:
            listed = c.get("requests")
            wanted = [str(r) for r in listed] if isinstance(listed, list) else []
            entry = {"source": "FromClaim", "requests": wanted, **_opaque(c)}
            if not wanted or any(
                r in (name, chosen) for name, chosen in names.items() for r in wanted
            ):
                config.append(entry)
        for entry in config:
            wanted = entry["requests"]
            if wanted and all(name in wanted or chosen in wanted for name, chosen in names.items()):
                entry["requests"] = []
        for entry in config:
            if not entry["requests"]:
                del entry["requests"]
        return config

    def _node_selector(self, devices: Sequence[ChosenDevice]) -> dict[str, Any] | None:
        fields: list[dict[str, Any]] = []
        expressions: list[dict[str, Any]] = []
        for chosen in devices:
            slice_, device = chosen.slice, chosen.device
            per_device = slice_.per_device_node_selection
            node_name = device.node_name if per_device else slice_.node_name
            selector = device.node_selector if per_device else slice_.node_selector
            if node_name or device.binds_to_node:
                return {
                    "nodeSelectorTerms": [
                        {
                            "matchFields": [
                                {
                                    "key": "metadata.name",
                                    "operator": "In",
                                    "values": [self.node.name],
                                }
                            ]
                        }
                    ]
                }
            if selector is not None and len(selector.terms) == 1:
                only = selector.terms[0]
                for req in only.fields:
                    _add_requirement(fields, req.key, req.operator, req.values)
                for req in only.expressions:
                    _add_requirement(expressions, req.key, req.operator, req.values)
        if not fields and not expressions:
            return None
        term: dict[str, Any] = {}
        if expressions:
            term["matchExpressions"] = expressions
        if fields:
            term["matchFields"] = fields
        return {"nodeSelectorTerms": [term]}


def _opaque(config: Mapping[str, Any]) -> dict[str, Any]:
    return {"opaque": config["opaque"]} if "opaque" in config else {}


def _add_requirement(
    into: list[dict[str, Any]], key: str, operator: str, values: frozenset[str] | None
) -> None:
    entry: dict[str, Any] = {"key": key, "operator": operator}
    if values:
        entry["values"] = sorted(values)
    if entry not in into:
        into.append(entry)
