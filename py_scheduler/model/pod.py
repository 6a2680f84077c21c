"""``PodInfo``: the scheduler's compact view of a pod, decoded once per event.

Decoding goes straight from the watch's JSON to these slotted objects; no
client model objects are built on the hot path. Everything a plugin reads is
precomputed here (requests, ports, affinity, spread), so plugins never look
at raw JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from sys import intern
from typing import Final, NewType

from py_scheduler.model.declared_features import required_features
from py_scheduler.model.podgroups import NO_GROUP, PodGroupRef, pod_group_ref
from py_scheduler.model.raw import DecodeError, Fields, RawObject
from py_scheduler.model.resources import (
    CPU,
    MEMORY,
    NON_ZERO_DEFAULTS,
    Resources,
    decode_amounts,
    pod_requests,
)
from py_scheduler.model.selectors import (
    LabelSelector,
    NodeSelector,
    NodeSelectorTerm,
    Requirement,
    decode_node_selector,
    decode_node_selector_term,
    decode_optional_selector,
)
from py_scheduler.model.taints import Toleration, decode_toleration

PodKey = NewType("PodKey", str)  # "<namespace>/<name>"
PodUID = NewType("PodUID", str)

PREEMPT_NEVER: Final = "Never"
DISRUPTION_TARGET: Final = "DisruptionTarget"
PREEMPTION_BY_SCHEDULER: Final = "PreemptionByScheduler"
# The Eviction API replaces our reason with its own when it accepts an eviction.
EVICTION_BY_EVICTION_API: Final = "EvictionByEvictionAPI"


@dataclass(frozen=True, slots=True)
class HostPort:
    ip: str  # "0.0.0.0" when unset
    protocol: str  # "TCP" when unset
    port: int


@dataclass(frozen=True, slots=True)
class PodAffinityTerm:
    selector: LabelSelector | None  # None selects nothing
    namespaces: frozenset[str]
    namespace_selector: LabelSelector | None
    topology_key: str

    def namespace_matches(self, namespace: str, namespace_labels: dict[str, str] | None) -> bool:
        if namespace in self.namespaces:
            return True
        if self.namespace_selector is None:
            return False
        # An empty namespaceSelector selects every namespace.
        if self.namespace_selector.is_empty:
            return True
        return namespace_labels is not None and self.namespace_selector.matches(namespace_labels)

    def matches(self, pod: PodInfo, namespace_labels: dict[str, str] | None = None) -> bool:
        return (
            self.selector is not None
            and self.namespace_matches(pod.namespace, namespace_labels)
            and self.selector.matches(pod.labels)
        )


@dataclass(frozen=True, slots=True)
class WeightedPodAffinityTerm:
    weight: int
    term: PodAffinityTerm


@dataclass(frozen=True, slots=True)
class WeightedNodeSelectorTerm:
    weight: int
    term: NodeSelectorTerm


@dataclass(frozen=True, slots=True)
class SpreadConstraint:
    max_skew: int
    topology_key: str
    when_unsatisfiable: str  # "DoNotSchedule" | "ScheduleAnyway"
    selector: LabelSelector | None
    min_domains: int | None
    node_affinity_policy: str  # "Honor" | "Ignore"
    node_taints_policy: str  # "Honor" | "Ignore"


@dataclass(frozen=True, slots=True)
class Volume:
    name: str
    claim: str | None = None  # persistentVolumeClaim.claimName
    ephemeral: bool = False  # generic ephemeral volume: claim "<pod>-<volume>"
    disk: tuple[str, ...] | None = None  # identity of an in-line disk, for conflicts
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class PodClaim:
    """An entry of ``spec.resourceClaims``: a claim by name, or from a template."""

    name: str
    claim_name: str = ""
    template_name: str = ""


@dataclass(frozen=True, slots=True)
class OwnerRef:
    kind: str
    name: str
    uid: str
    controller: bool
    api_version: str = ""


@dataclass(slots=True, eq=False)
class PodInfo:
    uid: PodUID
    namespace: str
    name: str
    labels: dict[str, str]
    node_name: str = ""
    scheduler_name: str = "default-scheduler"
    priority: int = 0
    preemption_policy: str = "PreemptLowerPriority"
    created: float = 0.0
    deleting: bool = False
    phase: str = "Pending"
    start_time: float | None = None
    nominated_node: str = ""
    requests: Resources = field(default_factory=Resources)
    non_zero_cpu: int = 0
    non_zero_memory: int = 0
    # The container-level requests when spec.resources sets pod-level ones
    # (None: the same as ``requests`` / ``non_zero_*``); NodeResourcesFit scores these.
    container_requests: Resources | None = None
    container_non_zero_cpu: int | None = None
    container_non_zero_memory: int | None = None
    host_ports: tuple[HostPort, ...] = ()
    node_selector: dict[str, str] = field(default_factory=dict)
    required_node_affinity: NodeSelector | None = None
    preferred_node_affinity: tuple[WeightedNodeSelectorTerm, ...] = ()
    required_affinity: tuple[PodAffinityTerm, ...] = ()
    preferred_affinity: tuple[WeightedPodAffinityTerm, ...] = ()
    required_anti_affinity: tuple[PodAffinityTerm, ...] = ()
    preferred_anti_affinity: tuple[WeightedPodAffinityTerm, ...] = ()
    spread_constraints: tuple[SpreadConstraint, ...] = ()
    tolerations: tuple[Toleration, ...] = ()
    scheduling_gates: tuple[str, ...] = ()
    images: tuple[str, ...] = ()  # of the containers, init containers included
    volume_images: tuple[str, ...] = ()  # references of ``image`` volumes
    volumes: tuple[Volume, ...] = ()
    owners: tuple[OwnerRef, ...] = ()
    resource_claims: tuple[PodClaim, ...] = ()
    # status.resourceClaimStatuses: the claim generated for each template
    # entry (None when the controller decided none was needed).
    claim_statuses: tuple[tuple[str, str | None], ...] = ()
    preempted_by_scheduler: bool = False
    scheduled_condition: tuple[str, str, str] | None = None  # (status, reason, message)
    resource_version: str = ""
    generation: int = 0
    # The pod group it names (label or spec.schedulingGroup / spec.workloadRef).
    pod_group: PodGroupRef = NO_GROUP
    # Node declared features the spec uses (every release's; see model.declared_features).
    required_features: frozenset[str] = frozenset()

    @property
    def key(self) -> PodKey:
        return PodKey(f"{self.namespace}/{self.name}")

    @property
    def has_affinity(self) -> bool:
        return bool(
            self.required_affinity
            or self.preferred_affinity
            or self.required_anti_affinity
            or self.preferred_anti_affinity
        )

    @property
    def has_required_anti_affinity(self) -> bool:
        return bool(self.required_anti_affinity)

    @property
    def is_terminal(self) -> bool:
        return self.phase in ("Succeeded", "Failed")

    def __repr__(self) -> str:
        return f"PodInfo({self.key}, node={self.node_name or '-'}, priority={self.priority})"


def parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _time(fields: Fields, key: str) -> float | None:
    value = fields.string(key)
    if not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise fields.error(key, f"invalid timestamp {value!r}") from None


def _label_key_requirements(
    keys: tuple[str, ...], labels: dict[str, str], operator: str
) -> tuple[Requirement, ...]:
    # matchLabelKeys / mismatchLabelKeys turn into "key in/notin (pod's value)";
    # keys the pod does not carry are ignored, as the API server does.
    return tuple(
        Requirement(key, operator, frozenset({labels[key]})) for key in keys if key in labels
    )


def _affinity_term(fields: Fields, namespace: str, labels: dict[str, str]) -> PodAffinityTerm:
    selector = decode_optional_selector(fields, "labelSelector")
    extra = _label_key_requirements(fields.strings("matchLabelKeys"), labels, "In")
    extra += _label_key_requirements(fields.strings("mismatchLabelKeys"), labels, "NotIn")
    if selector is not None and extra:
        selector = selector.with_requirements(extra)
    namespaces = frozenset(fields.strings("namespaces"))
    ns_selector = decode_optional_selector(fields, "namespaceSelector")
    if not namespaces and ns_selector is None:
        namespaces = frozenset({namespace})
    topology_key = fields.string("topologyKey")
    if not topology_key:
        raise fields.error("topologyKey", "must be set")
    return PodAffinityTerm(selector, namespaces, ns_selector, topology_key)


def _weighted_terms(
    fields: Fields, namespace: str, labels: dict[str, str]
) -> tuple[WeightedPodAffinityTerm, ...]:
    out = []
    for item in fields.objects("preferredDuringSchedulingIgnoredDuringExecution"):
        weight = item.integer("weight")
        if not 1 <= weight <= 100:
            raise item.error("weight", f"must be in 1..100, got {weight}")
        out.append(
            WeightedPodAffinityTerm(
                weight, _affinity_term(item.obj("podAffinityTerm"), namespace, labels)
            )
        )
    return tuple(out)


def _required_terms(
    fields: Fields, namespace: str, labels: dict[str, str]
) -> tuple[PodAffinityTerm, ...]:
    return tuple(
        _affinity_term(f, namespace, labels)
        for f in fields.objects("requiredDuringSchedulingIgnoredDuringExecution")
    )


def _spread(fields: Fields, labels: dict[str, str]) -> SpreadConstraint:
    max_skew = fields.integer("maxSkew")
    if max_skew < 1:
        raise fields.error("maxSkew", f"must be at least 1, got {max_skew}")
    when = fields.string("whenUnsatisfiable")
    if when not in ("DoNotSchedule", "ScheduleAnyway"):
        raise fields.error("whenUnsatisfiable", f"unknown value {when!r}")
    key = fields.string("topologyKey")
    if not key:
        raise fields.error("topologyKey", "must be set")
    selector = decode_optional_selector(fields, "labelSelector")
    extra = _label_key_requirements(fields.strings("matchLabelKeys"), labels, "In")
    if selector is not None and extra:
        selector = selector.with_requirements(extra)
    min_domains = fields.opt_integer("minDomains")
    if min_domains is not None and min_domains < 1:
        raise fields.error("minDomains", f"must be at least 1, got {min_domains}")
    return SpreadConstraint(
        max_skew=max_skew,
        topology_key=key,
        when_unsatisfiable=when,
        selector=selector,
        min_domains=min_domains,
        node_affinity_policy=fields.string("nodeAffinityPolicy") or "Honor",
        node_taints_policy=fields.string("nodeTaintsPolicy") or "Ignore",
    )


def _volume(fields: Fields) -> Volume:
    name = fields.string("name")
    if (pvc := fields.raw.get("persistentVolumeClaim")) is not None:
        claim = fields.obj("persistentVolumeClaim")
        del pvc
        return Volume(name, claim=claim.string("claimName"), read_only=claim.boolean("readOnly"))
    if fields.raw.get("ephemeral") is not None:
        return Volume(name, ephemeral=True)
    for kind, id_fields in (
        ("gcePersistentDisk", ("pdName",)),
        ("awsElasticBlockStore", ("volumeID",)),
        ("iscsi", ("targetPortal", "iqn", "lun")),
        ("rbd", ("pool", "image")),
    ):
        if fields.raw.get(kind) is not None:
            disk = fields.obj(kind)
            ident = tuple(str(disk.raw.get(k, "")) for k in id_fields)
            if kind == "rbd":
                ident += tuple(sorted(disk.strings("monitors")))
            return Volume(name, disk=(kind, *ident), read_only=disk.boolean("readOnly"))
    return Volume(name)


def is_pod_level_resource(resource: str) -> bool:
    """component-helpers' IsSupportedPodLevelResource."""
    return resource in (CPU, MEMORY) or resource.startswith("hugepages-")


class _Requests:
    """A pod's container-level requests (exact, and with the non-zero defaults)."""

    def __init__(
        self,
        containers: list[dict[str, Fraction]],
        inits: list[tuple[dict[str, Fraction], bool]],
        overhead: dict[str, Fraction],
    ) -> None:
        self._containers = containers
        self._inits = inits
        self._overhead = overhead
        self.exact = self.with_defaults(None)
        self.non_zero = self.with_defaults(NON_ZERO_DEFAULTS)

    def with_defaults(self, defaults: Mapping[str, Fraction] | None) -> dict[str, Fraction]:
        return pod_requests(
            containers=self._containers,
            init_containers=self._inits,
            overhead=self._overhead,
            defaults=defaults,
        )


def decode_pod(raw: RawObject) -> PodInfo:
    """Decode a pod; raise :class:`DecodeError` naming the field on bad input."""
    root = Fields(raw)
    meta = root.obj("metadata")
    spec = root.obj("spec")
    status = root.obj("status")
    name = meta.string("name")
    if not name:
        raise meta.error("name", "must be set")
    # Strings every pod of a namespace, node, profile or image repeats are
    # interned: one copy for thousands of pods instead of one per pod.
    namespace = intern(meta.string("namespace") or "default")
    labels = meta.str_map("labels")

    containers = []
    ports: list[HostPort] = []
    images: list[str] = []
    for c in spec.objects("containers"):
        containers.append(decode_amounts(c.obj("resources"), "requests"))
        images.append(intern(c.string("image")))
        for p in c.objects("ports"):
            if (host_port := p.integer("hostPort")) > 0:
                ports.append(
                    HostPort(
                        p.string("hostIP") or "0.0.0.0", p.string("protocol") or "TCP", host_port
                    )
                )
    if not containers:
        raise spec.error("containers", "a pod needs at least one container")
    inits = []
    for c in spec.objects("initContainers"):
        sidecar = c.string("restartPolicy") == "Always"
        inits.append((decode_amounts(c.obj("resources"), "requests"), sidecar))
        images.append(intern(c.string("image")))
        if sidecar:
            # Sidecars keep running, so their host ports stay taken.
            for p in c.objects("ports"):
                if (host_port := p.integer("hostPort")) > 0:
                    ip = p.string("hostIP") or "0.0.0.0"
                    ports.append(HostPort(ip, p.string("protocol") or "TCP", host_port))
    overhead = decode_amounts(spec, "overhead")
    requests = _Requests(containers, inits, overhead)
    pod_level = {
        resource: amount
        for resource, amount in decode_amounts(spec.obj("resources"), "requests").items()
        if is_pod_level_resource(resource)
    }
    exact, non_zero = requests.exact, requests.non_zero
    if pod_level:
        # PodLevelResources (on by default since 1.34): the pod-level requests
        # replace the container sums, overhead still on top.
        exact = {**exact, **{k: v + overhead.get(k, 0) for k, v in pod_level.items()}}
        # A default only for what neither level requests (getNonMissingContainerRequests).
        missing = {k: v for k, v in NON_ZERO_DEFAULTS.items() if k not in exact}
        non_zero = {
            **requests.with_defaults(missing),
            **{k: v for k, v in exact.items() if k in (CPU, MEMORY)},
        }
    non_zero_res = Resources.from_amounts({k: v for k, v in non_zero.items() if k in (CPU, MEMORY)})
    # NodeResourcesFit's scorer is built without pod-level resources upstream
    # (v1.35 and v1.37): it scores the container requests, defaults included.
    container_res = container_non_zero = None
    if pod_level:
        container_res = Resources.from_amounts(requests.exact)
        container_non_zero = Resources.from_amounts(
            {k: v for k, v in requests.non_zero.items() if k in (CPU, MEMORY)}
        )

    affinity = spec.obj("affinity")
    node_aff = affinity.obj("nodeAffinity")
    required_node = None
    if node_aff.raw.get("requiredDuringSchedulingIgnoredDuringExecution") is not None:
        required_node = decode_node_selector(
            node_aff.obj("requiredDuringSchedulingIgnoredDuringExecution")
        )
    preferred_node = []
    for item in node_aff.objects("preferredDuringSchedulingIgnoredDuringExecution"):
        weight = item.integer("weight")
        if not 1 <= weight <= 100:
            raise item.error("weight", f"must be in 1..100, got {weight}")
        preferred_node.append(
            WeightedNodeSelectorTerm(weight, decode_node_selector_term(item.obj("preference")))
        )
    pod_aff = affinity.obj("podAffinity")
    pod_anti = affinity.obj("podAntiAffinity")

    scheduled: tuple[str, str, str] | None = None
    preempted = False
    for cond in status.objects("conditions"):
        kind = cond.string("type")
        if kind == "PodScheduled":
            scheduled = (
                intern(cond.string("status")),
                intern(cond.string("reason")),
                cond.string("message"),
            )
        elif kind == DISRUPTION_TARGET:
            # Being evicted frees room just as a scheduler preemption does, so a
            # preemptor waits for either instead of choosing more victims.
            preempted = cond.string("status") == "True" and cond.string("reason") in (
                PREEMPTION_BY_SCHEDULER,
                EVICTION_BY_EVICTION_API,
            )

    owners = tuple(
        OwnerRef(
            o.string("kind"),
            o.string("name"),
            o.string("uid"),
            o.boolean("controller"),
            o.string("apiVersion"),
        )
        for o in meta.objects("ownerReferences")
    )
    priority = spec.opt_integer("priority")
    created = _time(meta, "creationTimestamp")
    workload_ref = spec.obj("workloadRef")
    return PodInfo(
        uid=PodUID(meta.string("uid") or f"{namespace}/{name}"),
        namespace=namespace,
        name=name,
        labels=labels,
        node_name=intern(spec.string("nodeName")),
        scheduler_name=intern(spec.string("schedulerName") or "default-scheduler"),
        priority=priority if priority is not None else 0,
        preemption_policy=intern(spec.string("preemptionPolicy") or "PreemptLowerPriority"),
        created=created if created is not None else 0.0,
        deleting=meta.raw.get("deletionTimestamp") is not None,
        phase=intern(status.string("phase") or "Pending"),
        start_time=_time(status, "startTime"),
        nominated_node=intern(status.string("nominatedNodeName")),
        requests=Resources.from_amounts(exact),
        non_zero_cpu=non_zero_res.milli_cpu,
        non_zero_memory=non_zero_res.memory,
        container_requests=container_res,
        container_non_zero_cpu=container_non_zero.milli_cpu if container_non_zero else None,
        container_non_zero_memory=container_non_zero.memory if container_non_zero else None,
        host_ports=tuple(ports),
        node_selector=spec.str_map("nodeSelector"),
        required_node_affinity=required_node,
        preferred_node_affinity=tuple(preferred_node),
        required_affinity=_required_terms(pod_aff, namespace, labels),
        preferred_affinity=_weighted_terms(pod_aff, namespace, labels),
        required_anti_affinity=_required_terms(pod_anti, namespace, labels),
        preferred_anti_affinity=_weighted_terms(pod_anti, namespace, labels),
        spread_constraints=tuple(
            _spread(f, labels) for f in spec.objects("topologySpreadConstraints")
        ),
        tolerations=tuple(decode_toleration(f) for f in spec.objects("tolerations")),
        scheduling_gates=tuple(g.string("name") for g in spec.objects("schedulingGates")),
        images=tuple(images),
        volume_images=tuple(
            v.obj("image").string("reference")
            for v in spec.objects("volumes")
            if v.raw.get("image") is not None
        ),
        volumes=tuple(_volume(f) for f in spec.objects("volumes")),
        owners=owners,
        resource_claims=tuple(
            PodClaim(
                c.string("name"),
                c.string("resourceClaimName"),
                c.string("resourceClaimTemplateName"),
            )
            for c in spec.objects("resourceClaims")
        ),
        claim_statuses=tuple(
            (c.string("name"), c.string("resourceClaimName") or None)
            for c in status.objects("resourceClaimStatuses")
        ),
        preempted_by_scheduler=preempted,
        scheduled_condition=scheduled,
        resource_version=meta.string("resourceVersion"),
        generation=meta.integer("generation"),
        pod_group=pod_group_ref(
            namespace=namespace,
            labels=labels,
            scheduling_group=spec.obj("schedulingGroup").string("podGroupName"),
            workload=workload_ref.string("name"),
            workload_group=workload_ref.string("podGroup"),
            replica_key=workload_ref.string("podGroupReplicaKey"),
        ),
        required_features=required_features(spec),
    )


__all__ = [
    "DecodeError",
    "HostPort",
    "OwnerRef",
    "PodAffinityTerm",
    "PodClaim",
    "PodInfo",
    "PodKey",
    "PodUID",
    "SpreadConstraint",
    "Volume",
    "WeightedNodeSelectorTerm",
    "WeightedPodAffinityTerm",
    "decode_pod",
    "parse_time",
]
