"""Load a ``KubeSchedulerConfiguration`` (``kubescheduler.config.k8s.io/v1``).

A file written for kube-scheduler works as is: profiles, plugins enabled or
disabled per extension point or through ``multiPoint``, ``pluginConfig``,
``percentageOfNodesToScore`` and the backoff settings. Decoding is strict,
as upstream's: an unknown field, an unknown plugin or an invalid argument is
a :class:`ConfigError` naming the field, raised before anything starts.

Merge rules follow upstream's ``mergePluginSet``: the default plugins stay in
order unless disabled (``"*"`` disables all of them at that point); a default
plugin enabled again is replaced in place, so its weight can change; other
plugins are appended. A specific extension point overrides ``multiPoint``.

The default plugins are a Kubernetes release's (their order changed in 1.37):
the newest supported release's unless told, and the live scheduler decodes the
file again for the API server's release (``for_release``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from py_scheduler import plugins, yamlinput
from py_scheduler.framework.registry import ArgsError, PluginSpec
from py_scheduler.framework.runtime import POINTS, PluginRef, PluginSet, ProfileSpec
from py_scheduler.model.durations import parse_duration
from py_scheduler.model.raw import DecodeError, Fields, brief
from py_scheduler.model.server import NEWEST, ServerVersion

API_VERSION: Final = "kubescheduler.config.k8s.io/v1"
KIND: Final = "KubeSchedulerConfiguration"
DEFAULT_SCHEDULER_NAME: Final = "py-scheduler"
KUBE_SCHEDULER_NAME: Final = "default-scheduler"

_TOP_LEVEL: Final = frozenset(
    {
        "apiVersion",
        "kind",
        "parallelism",
        "leaderElection",
        "clientConnection",
        "healthzBindAddress",
        "metricsBindAddress",
        "enableProfiling",
        "enableContentionProfiling",
        "percentageOfNodesToScore",
        "podInitialBackoffSeconds",
        "podMaxBackoffSeconds",
        "profiles",
        "extenders",
        "delayCacheUntilActive",
    }
)
# component-base's LeaderElectionConfiguration and ClientConnectionConfiguration.
_LEADER_ELECTION: Final = frozenset(
    {
        "leaderElect",
        "leaseDuration",
        "renewDeadline",
        "retryPeriod",
        "resourceLock",
        "resourceName",
        "resourceNamespace",
    }
)
_CLIENT_CONNECTION: Final = frozenset(
    {"kubeconfig", "acceptContentTypes", "contentType", "qps", "burst"}
)
MIN_QPS: Final = 0.1
_PROFILE_FIELDS: Final = frozenset(
    {"schedulerName", "percentageOfNodesToScore", "plugins", "pluginConfig"}
)
# Pod-group (workload) scheduling's extension points: placementGenerate and
# placementScore joined the v1 API in 1.36, podGroupPostFilter in 1.37. A file written
# for those releases may name them, to disable plugins there; py-scheduler has no
# plugin for them, so enabling one is refused.
POD_GROUP_POINTS: Final = ("placementGenerate", "placementScore", "podGroupPostFilter")
_ALL_POINTS: Final = ("multiPoint", *POINTS, *POD_GROUP_POINTS)


class ConfigError(ValueError):
    """The configuration cannot be used; the message says where and why."""


Profile = ProfileSpec


@dataclass(frozen=True)
class LeaderElection:
    leader_elect: bool = True
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    resource_name: str = DEFAULT_SCHEDULER_NAME
    resource_namespace: str = ""  # empty: the namespace the scheduler runs in


@dataclass(frozen=True)
class ClientConnection:
    qps: float = 50.0
    burst: int = 100
    kubeconfig: str = ""


@dataclass(frozen=True)
class SchedulerConfig:
    profiles: tuple[Profile, ...]
    percentage_of_nodes_to_score: int = 0
    pod_initial_backoff: float = 1.0
    pod_max_backoff: float = 10.0
    parallelism: int = 16
    leader_election: LeaderElection = field(default_factory=LeaderElection)
    client_connection: ClientConnection = field(default_factory=ClientConnection)
    # Accepted, but worth saying at start-up.
    warnings: tuple[str, ...] = ()
    # The release whose default plugins the profiles were merged with, and the decoded
    # document with its name, to merge it again for another release (for_release).
    release: ServerVersion = NEWEST
    document: object = field(default=None, compare=False, repr=False)
    source: str = field(default="configuration", compare=False, repr=False)
    # The plugins the profiles were checked against, and are built from.
    registry: Mapping[str, PluginSpec[Any]] = field(default_factory=lambda: plugins.IN_TREE)

    def profile(self, scheduler_name: str) -> Profile | None:
        return next((p for p in self.profiles if p.scheduler_name == scheduler_name), None)

    @property
    def scheduler_names(self) -> frozenset[str]:
        return frozenset(p.scheduler_name for p in self.profiles)


def _duration(fields: Fields, key: str, default: float) -> float:
    raw = fields.raw.get(key)
    if raw is None:
        return default
    if not isinstance(raw, str):
        raise fields.error(key, f"expected a duration such as '15s', got {brief(raw)}")
    seconds = parse_duration(raw)
    if seconds is None:
        raise fields.error(key, f"invalid duration {brief(raw)}")
    return seconds


def _check_fields(fields: Fields, allowed: frozenset[str]) -> None:
    for key in fields.raw:
        if key not in allowed:
            raise fields.error(key, "unknown field")


def _plugin_set(fields: Fields) -> PluginSet:
    _check_fields(fields, frozenset({"enabled", "disabled"}))
    enabled = []
    seen: set[str] = set()
    for item in fields.objects("enabled"):
        _check_fields(item, frozenset({"name", "weight"}))
        name = item.string("name")
        if not name:
            raise item.error("name", "must be set")
        if name in seen:
            raise item.error("name", f"plugin {name!r} already registered")
        seen.add(name)
        weight = item.int32("weight")
        if weight < 0:
            raise item.error("weight", f"must not be negative, got {weight}")
        enabled.append(PluginRef(name, weight))
    disabled = frozenset(item.string("name") for item in fields.objects("disabled"))
    return PluginSet(tuple(enabled), disabled)


def _merge(defaults: Sequence[PluginRef], custom: PluginSet) -> tuple[PluginRef, ...]:
    """upstream's mergePluginSet."""
    replacements = {ref.name: ref for ref in custom.enabled}
    merged: list[PluginRef] = []
    seen: set[str] = set()
    if "*" not in custom.disabled:
        for ref in defaults:
            if ref.name in custom.disabled:
                continue
            merged.append(replacements.get(ref.name, ref))
            seen.add(ref.name)
    for ref in custom.enabled:
        if ref.name not in seen:
            merged.append(ref)
            seen.add(ref.name)
    return tuple(merged)


def _one_queue_sort(multi: tuple[PluginRef, ...], queue_sort: PluginSet) -> tuple[PluginRef, ...]:
    """GangSort stands where kube-scheduler's default profile has PrioritySort. A
    configuration that enables a queue sort itself (at queueSort, or PrioritySort
    in multiPoint, as one written for kube-scheduler may) gets that one instead:
    a profile has exactly one."""
    default = plugins.gangscheduling.SORT_NAME
    named = {ref.name for ref in queue_sort.enabled}
    named.update(ref.name for ref in multi if ref.name == plugins.priority_sort.NAME)
    if named - {default}:
        return tuple(ref for ref in multi if ref.name != default)
    return multi


def _profile(
    fields: Fields,
    default_name: str | None,
    release: ServerVersion,
    registry: Mapping[str, PluginSpec[Any]],
) -> Profile:
    _check_fields(fields, _PROFILE_FIELDS)
    name = fields.string("schedulerName") or default_name
    if not name:
        raise fields.error("schedulerName", "must be set when there are several profiles")
    plugin_fields = fields.obj("plugins")
    _check_fields(plugin_fields, frozenset(_ALL_POINTS))
    multi = _merge(
        plugins.default_multi_point(release), _plugin_set(plugin_fields.obj("multiPoint"))
    )
    points = {point: _plugin_set(plugin_fields.obj(point)) for point in POINTS}
    multi = _one_queue_sort(multi, points["queueSort"])
    for point in POD_GROUP_POINTS:
        for ref in _plugin_set(plugin_fields.obj(point)).enabled:
            raise ConfigError(
                f"{plugin_fields.path}.{point}: cannot enable {ref.name!r}: py-scheduler "
                "schedules a pod group's pods one by one (GangScheduling), so no plugin "
                "serves this extension point"
            )

    used = {ref.name for ref in multi}
    for point, plugin_set in points.items():
        for ref in plugin_set.enabled:
            used.add(ref.name)
            if ref.name not in registry:
                raise ConfigError(
                    f"{plugin_fields.path}.{point}: unknown plugin {ref.name!r} "
                    f"(known: {', '.join(sorted(registry))})"
                )
    for ref in multi:
        if ref.name not in registry:
            raise ConfigError(
                f"{plugin_fields.path}.multiPoint: unknown plugin {ref.name!r} "
                f"(known: {', '.join(sorted(registry))})"
            )

    args: dict[str, object] = {}
    for item in fields.objects("pluginConfig"):
        _check_fields(item, frozenset({"name", "args"}))
        plugin_name = item.string("name")
        spec = registry.get(plugin_name)
        if spec is None:
            raise item.error("name", f"unknown plugin {plugin_name!r}")
        if plugin_name in args:
            raise item.error("name", f"repeated pluginConfig for {plugin_name!r}")
        raw_args = item.raw_map("args")
        raw_args.pop("apiVersion", None)
        raw_args.pop("kind", None)
        try:
            args[plugin_name] = spec.args(raw_args)
        except ArgsError as exc:
            raise ConfigError(f"{item.path}: {exc}") from None
    # Every plugin gets decoded args, so defaults are validated the same way.
    for plugin_name in used:
        if plugin_name not in args:
            args[plugin_name] = registry[plugin_name].args(None)

    pct = fields.opt_integer("percentageOfNodesToScore", bits=32)
    if pct is not None and not 0 <= pct <= 100:
        raise fields.error("percentageOfNodesToScore", f"must be in 0..100, got {pct}")
    return ProfileSpec(name, multi, points, args, pct)


def parse(
    raw: object,
    *,
    source: str = "configuration",
    release: ServerVersion = NEWEST,
    registry: Mapping[str, PluginSpec[Any]] | None = None,
) -> SchedulerConfig:
    """Decode a configuration object (already parsed from YAML), with ``release``'s
    default plugins, against ``registry`` (the in-tree plugins by default)."""
    document = raw if raw is not None else {}
    known = registry or plugins.IN_TREE
    try:
        return replace(
            _parse(Fields(document), release, known),
            release=release,
            document=document,
            source=source,
            registry=known,
        )
    except DecodeError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except (ConfigError, ArgsError) as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _parse(
    root: Fields, release: ServerVersion, registry: Mapping[str, PluginSpec[Any]]
) -> SchedulerConfig:
    _check_fields(root, _TOP_LEVEL)
    if root.raw:
        if root.string("apiVersion") != API_VERSION:
            raise root.error("apiVersion", f"must be {API_VERSION!r}")
        if root.string("kind") != KIND:
            raise root.error("kind", f"must be {KIND!r}")
    if root.array("extenders"):
        raise root.error("extenders", "scheduler extenders are not supported")
    profile_fields = list(root.objects("profiles"))
    if not profile_fields:
        profiles: tuple[Profile, ...] = (
            _profile(Fields({}, "profiles[0]"), DEFAULT_SCHEDULER_NAME, release, registry),
        )
    else:
        default_name = DEFAULT_SCHEDULER_NAME if len(profile_fields) == 1 else None
        profiles = tuple(_profile(f, default_name, release, registry) for f in profile_fields)
    names = [p.scheduler_name for p in profiles]
    if len(set(names)) != len(names):
        raise root.error("profiles", f"duplicate schedulerName in {names}")

    pct = root.int32("percentageOfNodesToScore")
    if not 0 <= pct <= 100:
        raise root.error("percentageOfNodesToScore", f"must be in 0..100, got {pct}")
    initial = root.integer("podInitialBackoffSeconds", 1)
    maximum = root.integer("podMaxBackoffSeconds", 10)
    if initial <= 0:
        raise root.error("podInitialBackoffSeconds", "must be greater than 0")
    if maximum < initial:
        raise root.error("podMaxBackoffSeconds", "must be at least podInitialBackoffSeconds")
    parallelism = root.int32("parallelism", 16)
    if parallelism <= 0:
        raise root.error("parallelism", "must be greater than 0")

    le = root.obj("leaderElection")
    _check_fields(le, _LEADER_ELECTION)
    lock = le.string("resourceLock", "leases")
    if lock != "leases":
        raise le.error("resourceLock", f"must be 'leases', got {brief(lock)}")
    election = LeaderElection(
        leader_elect=le.boolean("leaderElect", True),
        lease_duration=_duration(le, "leaseDuration", 15.0),
        renew_deadline=_duration(le, "renewDeadline", 10.0),
        retry_period=_duration(le, "retryPeriod", 2.0),
        resource_name=le.string("resourceName") or DEFAULT_SCHEDULER_NAME,
        resource_namespace=le.string("resourceNamespace"),
    )
    if election.leader_elect and not (
        election.lease_duration > election.renew_deadline > election.retry_period > 0
    ):
        raise root.error("leaderElection", "need leaseDuration > renewDeadline > retryPeriod > 0")
    if election.resource_namespace == "kube-system" and election.resource_name == "kube-scheduler":
        raise root.error(
            "leaderElection.resourceName",
            "kube-system/kube-scheduler is the default scheduler's lease; use our own",
        )
    cc = root.obj("clientConnection")
    _check_fields(cc, _CLIENT_CONNECTION)
    qps = cc.raw.get("qps", 50)
    if isinstance(qps, bool) or not isinstance(qps, int | float) or not qps >= 0:
        raise cc.error("qps", f"must be a non-negative number, got {brief(qps)}")
    if 0 < qps < MIN_QPS or qps == float("inf"):
        # One request every ten seconds or less cannot schedule anything.
        raise cc.error(
            "qps", f"must be 0 (the client default) or at least {MIN_QPS}, got {brief(qps)}"
        )
    burst = cc.int32("burst", 100)
    if burst < 0:
        raise cc.error("burst", f"must not be negative, got {burst}")
    connection = ClientConnection(qps=float(qps), burst=burst, kubeconfig=cc.string("kubeconfig"))
    warnings = tuple(
        f"profiles[{i}].schedulerName: {KUBE_SCHEDULER_NAME} is kube-scheduler's name; both "
        "schedulers would place the same pods"
        for i, p in enumerate(profiles)
        if p.scheduler_name == KUBE_SCHEDULER_NAME
    )
    return SchedulerConfig(
        warnings=warnings,
        profiles=profiles,
        percentage_of_nodes_to_score=pct,
        pod_initial_backoff=float(initial),
        pod_max_backoff=float(maximum),
        parallelism=parallelism,
        leader_election=election,
        client_connection=connection,
        registry=registry,
    )


def for_release(cfg: SchedulerConfig, release: ServerVersion) -> SchedulerConfig:
    """``cfg`` with the default plugins of ``release``'s kube-scheduler. The document
    decoded once already, and releases differ only in the defaults (their order, and
    NodeDeclaredFeatures from 1.36, which takes no arguments), so this cannot fail. A
    configuration built in code, not decoded, is kept as it is."""
    if cfg.document is None or plugins.default_multi_point(release) == plugins.default_multi_point(
        cfg.release
    ):
        return cfg
    return parse(cfg.document, source=cfg.source, release=release, registry=cfg.registry)


def load(
    path: Path | None,
    *,
    release: ServerVersion = NEWEST,
    registry: Mapping[str, PluginSpec[Any]] | None = None,
) -> SchedulerConfig:
    """Read and decode a configuration file; ``None`` gives the defaults.
    ``registry`` holds the plugins it may name (the in-tree ones by default)."""
    if path is None:
        return parse({}, release=release, registry=registry)
    try:
        raw = yamlinput.load(yamlinput.read_text(path), str(path))
    except yamlinput.YamlInputError as exc:
        raise ConfigError(str(exc)) from None
    cfg = parse(raw, source=str(path), release=release, registry=registry)
    kubeconfig = cfg.client_connection.kubeconfig
    if kubeconfig:
        try:
            with open(kubeconfig, "rb"):
                pass
        except OSError as exc:
            raise ConfigError(
                f"{path}: clientConnection.kubeconfig: cannot read {kubeconfig}: "
                f"{exc.strerror or exc}"
            ) from None
    return cfg
