"""Structural checks of the packaging, for tests/packaging/run.sh (no cluster needed).

    python tests/packaging/checks.py chart RENDERED.yaml --namespace NS --fullname NAME ...
    python tests/packaging/checks.py dashboard --promql-rules OUT.yaml
    python tests/packaging/checks.py rules
    python tests/packaging/checks.py dockerfile

Each subcommand prints every problem it finds and exits 1 if there was one. Metric names
are checked against what the scheduler really registers (``py_scheduler.metrics`` plus the
Python client's default collectors), so a renamed metric breaks the dashboard or an alert
here rather than silently in production.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import yaml

ROOT: Final = Path(__file__).resolve().parents[2]
# Importable from the repository root for tests, the demo and benchmarks; never shipped.
DEVELOPMENT_PACKAGES: Final = ("controlplane", "bench", "tests")
CHART: Final = ROOT / "charts" / "py-scheduler"
RULES_FILE: Final = CHART / "files" / "prometheus-rules.yaml"
DASHBOARD_FILE: Final = CHART / "files" / "dashboard.json"

# Kinds that live in a namespace (everything the chart renders except the cluster RBAC).
CLUSTER_SCOPED: Final = frozenset({"ClusterRole", "ClusterRoleBinding", "Namespace"})
COMMON_LABELS: Final = (
    "helm.sh/chart",
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
)
READ: Final = frozenset({"get", "list", "watch"})
SHIPPED_JOB: Final = "py-scheduler"


class Problems:
    """Collects failures so one run reports all of them."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def check(self, ok: object, message: str) -> bool:
        if not ok:
            self.items.append(message)
        return bool(ok)

    def report(self, what: str) -> int:
        for item in self.items:
            print(f"  FAIL {what}: {item}")
        if not self.items:
            print(f"  ok   {what}")
        return 1 if self.items else 0


# ---- metric names -------------------------------------------------------------------


def exported_names() -> frozenset[str]:
    """Every sample name py-scheduler's /metrics can show, from the real registry."""
    from prometheus_client.registry import REGISTRY

    import py_scheduler.metrics  # noqa: F401  (registers the scheduler's metrics)

    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "summary": ("", "_sum", "_count", "_created"),
        "info": ("_info",),
    }
    names: set[str] = set()
    for family in REGISTRY.collect():
        for suffix in suffixes.get(family.type, ("",)):
            names.add(family.name + suffix)
        names.update(sample.name for sample in family.samples)
    return frozenset(names)


def scheduler_families() -> frozenset[str]:
    """The scheduler's own families (not process_* / python_*), as a dashboard must show."""
    from prometheus_client.registry import REGISTRY

    import py_scheduler.metrics  # noqa: F401

    return frozenset(
        family.name
        for family in REGISTRY.collect()
        if family.name.startswith(("scheduler_", "py_scheduler_"))
    )


_SELECTOR: Final = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{")


def metric_names(expr: str) -> list[str]:
    """Metric names in an expression; every selector in ours carries label matchers."""
    return _SELECTOR.findall(expr)


def recorded_names(rules: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(
        rule["record"] for group in rules["groups"] for rule in group["rules"] if "record" in rule
    )


# ---- chart --------------------------------------------------------------------------


def load_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def by_kind(docs: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc.get("kind") == kind]


def one(
    docs: list[dict[str, Any]], kind: str, problems: Problems, *, name: str | None = None
) -> dict[str, Any]:
    found = [d for d in by_kind(docs, kind) if name is None or d["metadata"]["name"] == name]
    problems.check(len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}")
    return found[0] if found else {}


def matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def check_restricted(pod_spec: Mapping[str, Any], where: str, problems: Problems) -> None:
    """Pod Security Standards, "restricted" profile (plus a read-only root filesystem)."""
    pod_sc = pod_spec.get("securityContext") or {}
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        problems.check(not pod_spec.get(key), f"{where}: {key} set")
    for volume in pod_spec.get("volumes") or []:
        problems.check("hostPath" not in volume, f"{where}: hostPath volume {volume['name']}")
    for container in pod_spec.get("containers", []) + pod_spec.get("initContainers", []):
        sc = container.get("securityContext") or {}
        name = f"{where} container {container['name']}"

        def effective(key: str, sc: Mapping[str, Any] = sc) -> Any:
            return sc.get(key, pod_sc.get(key))

        problems.check(effective("runAsNonRoot") is True, f"{name}: runAsNonRoot is not true")
        user = effective("runAsUser")
        problems.check(
            isinstance(user, int) and user > 0, f"{name}: runAsUser {user!r} is not a non-root UID"
        )
        seccomp = (effective("seccompProfile") or {}).get("type")
        problems.check(
            seccomp in ("RuntimeDefault", "Localhost"), f"{name}: seccompProfile {seccomp!r}"
        )
        problems.check(
            sc.get("allowPrivilegeEscalation") is False, f"{name}: allowPrivilegeEscalation"
        )
        problems.check(not sc.get("privileged"), f"{name}: privileged")
        problems.check(sc.get("readOnlyRootFilesystem") is True, f"{name}: root fs not read-only")
        caps = sc.get("capabilities") or {}
        problems.check("ALL" in (caps.get("drop") or []), f"{name}: capabilities not dropped")
        problems.check(
            set(caps.get("add") or []) <= {"NET_BIND_SERVICE"}, f"{name}: adds capabilities"
        )


def rule_verbs(rules: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for rule in rules:
        for group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                out.setdefault((group, resource), set()).update(rule.get("verbs", []))
    return out


def check_chart(args: argparse.Namespace) -> int:
    problems = Problems()
    docs = load_documents(Path(args.rendered))
    check_metadata(docs, args, problems)
    pod_labels = check_deployment(docs, args, problems)
    check_scheduler_config(docs, args, problems)
    check_rbac(docs, args, problems)
    check_selection(docs, args, pod_labels, problems)
    check_monitoring(docs, args, pod_labels, problems)
    return problems.report(f"chart {args.label}")


def check_metadata(
    docs: list[dict[str, Any]], args: argparse.Namespace, problems: Problems
) -> None:
    kinds = sorted(doc["kind"] for doc in docs)
    expected = sorted(args.kinds.split(","))
    problems.check(kinds == expected, f"kinds {kinds} != expected {expected}")
    for doc in docs:
        meta = doc.get("metadata") or {}
        what = f"{doc.get('kind')}/{meta.get('name')}"
        problems.check(doc.get("apiVersion") and meta.get("name"), f"{what}: no apiVersion/name")
        labels = meta.get("labels") or {}
        for label in COMMON_LABELS:
            problems.check(label in labels, f"{what}: label {label} missing")
        for pair in filter(None, args.common_labels.split(",")):
            key, _, value = pair.partition("=")
            problems.check(labels.get(key) == value, f"{what}: commonLabels {key} missing")
        if doc["kind"] in CLUSTER_SCOPED:
            problems.check("namespace" not in meta, f"{what}: cluster-scoped with a namespace")
        elif not (doc["kind"] == "ConfigMap" and meta["name"].endswith("-dashboard")):
            problems.check(
                meta.get("namespace") == args.namespace,
                f"{what}: namespace {meta.get('namespace')!r}",
            )


def check_deployment(
    docs: list[dict[str, Any]], args: argparse.Namespace, problems: Problems
) -> dict[str, str]:
    """The Deployment's shape; returns the pod labels the other objects must select."""
    spec = one(docs, "Deployment", problems).get("spec", {})
    template = spec.get("template", {})
    pod_labels: dict[str, str] = template.get("metadata", {}).get("labels", {})
    pod = template.get("spec", {})
    problems.check(
        spec.get("replicas") == args.replicas, f"replicas {spec.get('replicas')} != {args.replicas}"
    )
    selector = spec.get("selector", {}).get("matchLabels", {})
    problems.check(selector and matches(selector, pod_labels), "selector does not match the pods")
    # The scheduler's own pods go through the default scheduler.
    problems.check("schedulerName" not in pod, "pod template sets schedulerName")
    problems.check(
        pod.get("serviceAccountName") == args.service_account,
        f"serviceAccountName {pod.get('serviceAccountName')!r} != {args.service_account!r}",
    )
    problems.check(
        "checksum/config" in template.get("metadata", {}).get("annotations", {}),
        "no checksum/config annotation",
    )
    problems.check(
        pod.get("priorityClassName", "") == args.priority_class,
        f"priorityClassName {pod.get('priorityClassName')!r} != {args.priority_class!r}",
    )
    check_restricted(pod, "Deployment", problems)
    containers = pod.get("containers", [])
    problems.check(len(containers) == 1, "expected one container")
    container = containers[0] if containers else {}
    problems.check(
        container.get("image") == args.image, f"image {container.get('image')!r} != {args.image!r}"
    )
    problems.check(
        pod.get("nodeSelector", {}).get("kubernetes.io/os") == "linux",
        "no kubernetes.io/os: linux node selector",
    )
    if args.extras:
        problems.check(container.get("envFrom"), "envFrom lost")
        extra_mounts = [
            m for m in container.get("volumeMounts", []) if m["name"] not in ("config", "tmp")
        ]
        extra_volumes = {v["name"] for v in pod.get("volumes", [])} - {"config", "tmp"}
        problems.check(extra_mounts, "extraVolumeMounts lost")
        problems.check(
            {m["name"] for m in extra_mounts} <= extra_volumes, "extraVolumeMounts without volume"
        )
    argv = container.get("args", [])
    problems.check(argv[:1] == ["run"], f"args {argv} do not start with run")
    problems.check("--config=/etc/py-scheduler/config.yaml" in argv, "no --config argument")
    problems.check(
        ("--explain-annotations" in argv) == args.explain_annotations,
        f"--explain-annotations {'missing from' if args.explain_annotations else 'in'} {argv}",
    )
    problems.check(
        any(a.startswith("--port=") for a in argv) and "--bind-address=$(POD_IP)" in argv,
        "no --port, or --bind-address not the pod IP",
    )
    env = {e["name"]: e for e in container.get("env", [])}
    for name, path in (
        ("POD_NAME", "metadata.name"),
        ("POD_NAMESPACE", "metadata.namespace"),
        ("POD_IP", "status.podIP"),
    ):
        got = env.get(name, {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
        problems.check(got == path, f"env {name} not from {path}")
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    problems.check("https-metrics" in ports, "no https-metrics container port")
    for probe, path in (("livenessProbe", "/livez"), ("readinessProbe", "/readyz")):
        http = container.get(probe, {}).get("httpGet", {})
        problems.check(
            http.get("path") == path
            and http.get("port") == "https-metrics"
            and http.get("scheme") == "HTTPS",
            f"{probe} is not GET {path} on https-metrics over HTTPS",
        )
    resources = container.get("resources", {})
    problems.check({"cpu", "memory"} <= set(resources.get("requests", {})), "no requests")
    problems.check("memory" in resources.get("limits", {}), "no memory limit")
    mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
    problems.check(
        mounts.get("/etc/py-scheduler", {}).get("readOnly") is True, "config not mounted read-only"
    )
    problems.check("/tmp" in mounts, "no writable /tmp")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    problems.check(
        volumes.get("config", {}).get("configMap", {}).get("name") == args.fullname,
        "config volume is not the chart's ConfigMap",
    )
    if args.default_spreading:
        terms = (
            pod.get("affinity", {})
            .get("podAntiAffinity", {})
            .get("preferredDuringSchedulingIgnoredDuringExecution", [])
        )
        problems.check(
            any(
                t["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
                and matches(t["podAffinityTerm"]["labelSelector"]["matchLabels"], pod_labels)
                for t in terms
            ),
            "no preferred hostname anti-affinity over the replicas",
        )
        problems.check(
            any(
                c["topologyKey"] == "topology.kubernetes.io/zone"
                and matches(c["labelSelector"]["matchLabels"], pod_labels)
                for c in pod.get("topologySpreadConstraints", [])
            ),
            "no zone topologySpreadConstraint over the replicas",
        )
    return pod_labels


def check_scheduler_config(
    docs: list[dict[str, Any]], args: argparse.Namespace, problems: Problems
) -> None:
    """The rendered KubeSchedulerConfiguration: the scheduler itself must accept it,
    with the plugins installed here (the example packages, in the dev venv)."""
    from py_scheduler import config as scheduler_config
    from py_scheduler.plugins import discovery

    config_maps = [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"] == args.fullname]
    problems.check(len(config_maps) == 1, "no ConfigMap named after the release")
    raw = yaml.safe_load(config_maps[0]["data"]["config.yaml"]) if config_maps else {}
    try:
        parsed = scheduler_config.parse(
            raw, source="rendered ConfigMap", registry=discovery.registry()
        )
    except scheduler_config.ConfigError as exc:
        problems.check(False, f"the scheduler rejects the rendered config: {exc}")
    else:
        names = sorted(parsed.scheduler_names)
        problems.check(
            names == sorted(args.profiles.split(",")), f"profiles {names} != {args.profiles}"
        )
    election = raw.get("leaderElection", {})
    if args.lease:
        problems.check(election.get("leaderElect") is True, "leader election is off")
        problems.check(
            election.get("resourceNamespace") == args.namespace,
            f"lease namespace {election.get('resourceNamespace')!r} != {args.namespace!r}",
        )
        problems.check(
            election.get("resourceName") == args.lease,
            f"lease name {election.get('resourceName')!r} != {args.lease!r}",
        )
    else:
        problems.check(election.get("leaderElect") is False, "leader election is on")
    modes = {
        item["args"]["evictionMode"]
        for profile in raw.get("profiles", [])
        for item in profile.get("pluginConfig", [])
        if item["name"] == "DefaultPreemption"
    }
    expected = set() if args.eviction_mode == "none" else {args.eviction_mode}
    problems.check(modes == expected, f"evictionMode {modes} != {expected}")


def plugin_grants(reads: str, rules: str) -> dict[tuple[str, str], set[str]]:
    """``group/resource,...`` (plugins.watch: get, list, watch) and
    ``group/resource=verb+verb,...`` (plugins.extraRules) as (group, resource) -> verbs."""
    grants: dict[tuple[str, str], set[str]] = {}
    for item in filter(None, reads.split(",")):
        group, resource = item.split("/", 1)
        grants.setdefault((group, resource), set()).update(READ)
    for item in filter(None, rules.split(",")):
        target, verbs = item.split("=", 1)
        group, resource = target.split("/", 1)
        grants.setdefault((group, resource), set()).update(verbs.split("+"))
    return grants


def check_rbac(docs: list[dict[str, Any]], args: argparse.Namespace, problems: Problems) -> None:
    """The ClusterRole grants exactly what the kube layer's requests need
    (py_scheduler.kube.rbac), for the eviction mode rendered."""
    from py_scheduler.kube import rbac

    cluster_role = one(docs, "ClusterRole", problems, name=args.fullname)
    granted = rule_verbs(cluster_role.get("rules", []))
    wanted = {key: set(verbs) for key, verbs in rbac.CLUSTER.items()}
    for key, verbs in rbac.EVICTION_MODES.get(args.eviction_mode, {}).items():
        wanted.setdefault(key, set()).update(verbs)
    for key, verbs in (rbac.ANNOTATIONS if args.explain_annotations else {}).items():
        wanted.setdefault(key, set()).update(verbs)
    # Plugins' kinds are the user's extras (plugins.watch, plugins.extraRules): the
    # code cannot know them, so the run names what the values file grants.
    for key, extra in plugin_grants(args.plugin_reads, args.plugin_rules).items():
        wanted.setdefault(key, set()).update(extra)
    for key in sorted(set(granted) | set(wanted)):
        got, want = granted.get(key, set()), wanted.get(key, set())
        problems.check(not want - got, f"ClusterRole: {key} lacks {sorted(want - got)}")
        problems.check(not got - want, f"ClusterRole: {key} grants unused {sorted(got - want)}")
    subject = {"kind": "ServiceAccount", "name": args.service_account, "namespace": args.namespace}
    reader = {
        "kind": "ServiceAccount",
        "name": f"{args.fullname}-metrics",
        "namespace": args.namespace,
    }
    for binding in by_kind(docs, "ClusterRoleBinding") + by_kind(docs, "RoleBinding"):
        subjects = binding.get("subjects", [])
        # The metrics reader may only get /metrics and /debug/pods; everything else is the
        # scheduler's.
        is_reader = binding["roleRef"]["name"] == f"{args.fullname}-metrics-reader"
        problems.check(
            subjects == [reader if is_reader else subject],
            f"{binding['kind']} subjects {subjects}",
        )
    readers = [r for r in by_kind(docs, "ClusterRole") if r["metadata"]["name"].endswith("-reader")]
    for role in readers:
        problems.check(
            role.get("rules") == [{"nonResourceURLs": list(rbac.METRICS_READER), "verbs": ["get"]}],
            f"metrics reader rules {role.get('rules')}",
        )
    roles = by_kind(docs, "Role")
    if not args.lease:
        problems.check(not roles, "a lease Role without leader election")
        return
    problems.check(len(roles) == 1, f"expected one lease Role, found {len(roles)}")
    for rule in roles[0].get("rules", []) if roles else []:
        problems.check(
            rule.get("apiGroups") == ["coordination.k8s.io"]
            and rule.get("resources") == ["leases"],
            f"lease Role has a rule outside leases: {rule}",
        )
        if rule.get("verbs") == ["create"]:
            continue  # create cannot be limited by name
        problems.check(
            rule.get("resourceNames") == [args.lease],
            f"lease Role resourceNames {rule.get('resourceNames')} != [{args.lease!r}]",
        )
        problems.check(
            set(rule.get("verbs", [])) == {"get", "update"},
            f"lease Role verbs {rule.get('verbs')}: the elector gets and updates (PUT) it",
        )


def check_selection(
    docs: list[dict[str, Any]],
    args: argparse.Namespace,
    pod_labels: Mapping[str, str],
    problems: Problems,
) -> None:
    """Service, PDB and NetworkPolicy select the scheduler pods, and the test pod is apart."""
    service = one(docs, "Service", problems)
    service_selector = service.get("spec", {}).get("selector", {})
    problems.check(matches(service_selector, pod_labels), "Service does not select the pods")
    service_ports = {p["name"] for p in service.get("spec", {}).get("ports", [])}
    problems.check("https-metrics" in service_ports, "Service has no https-metrics port")
    pdbs = by_kind(docs, "PodDisruptionBudget")
    problems.check(bool(pdbs) == (args.replicas > 1), "a PDB must exist exactly when replicas > 1")
    for pdb in pdbs:
        problems.check(
            matches(pdb["spec"]["selector"]["matchLabels"], pod_labels),
            "PDB does not select the pods",
        )
    for policy in by_kind(docs, "NetworkPolicy"):
        problems.check(
            matches(policy["spec"]["podSelector"]["matchLabels"], pod_labels),
            "NetworkPolicy does not select the pods",
        )
    for test_pod in by_kind(docs, "Pod"):
        name = test_pod["metadata"]["name"]
        annotations = test_pod["metadata"].get("annotations", {})
        problems.check(annotations.get("helm.sh/hook") == "test", f"Pod {name} is not a test hook")
        problems.check(
            not matches(service_selector, test_pod["metadata"].get("labels", {})),
            f"Pod {name} would be selected by the Service",
        )
        problems.check(
            test_pod["spec"].get("automountServiceAccountToken") is False,
            f"Pod {name} automounts a token (it mounts only the metrics reader's)",
        )
        check_restricted(test_pod["spec"], f"Pod {name}", problems)


def check_monitoring(
    docs: list[dict[str, Any]],
    args: argparse.Namespace,
    pod_labels: Mapping[str, str],
    problems: Problems,
) -> None:
    """Monitors scrape the scheduler as the release's job; the rules are the file's, selecting
    that job; the dashboard is the file."""
    job = args.job or args.fullname
    services = by_kind(docs, "Service")
    service_labels = services[0]["metadata"]["labels"] if services else {}
    for kind, targets in (("ServiceMonitor", service_labels), ("PodMonitor", pod_labels)):
        for monitor in by_kind(docs, kind):
            spec = monitor["spec"]
            problems.check(
                matches(spec["selector"]["matchLabels"], targets),
                f"{kind} does not select the scheduler",
            )
            for endpoint in spec.get("endpoints") or spec.get("podMetricsEndpoints", []):
                problems.check(endpoint.get("port") == "https-metrics", f"{kind} port")
                pinned = any(
                    r.get("targetLabel") == "job" and r.get("replacement") == job
                    for r in endpoint.get("relabelings", [])
                )
                problems.check(pinned, f"{kind} does not set job={job}")
            if args.monitor_labels:
                problems.check(
                    "release" in monitor["metadata"]["labels"], f"{kind}: additionalLabels lost"
                )
    source = yaml.safe_load(
        RULES_FILE.read_text().replace(f'job="{SHIPPED_JOB}"', json.dumps(job).join(("job=", "")))
    )
    disabled = set(filter(None, args.disabled_alerts.split(",")))
    if not args.lease:
        disabled.add("PySchedulerNoLeader")
    expected = [
        {**group, "rules": [r for r in group["rules"] if r.get("alert") not in disabled]}
        for group in source["groups"]
    ]
    for rule_object in by_kind(docs, "PrometheusRule"):
        got = rule_object["spec"]["groups"][: len(expected)]
        problems.check(got == expected, "PrometheusRule groups differ from the rules file")
    for config_map in by_kind(docs, "ConfigMap"):
        if not config_map["metadata"]["name"].endswith("-dashboard"):
            continue
        problems.check(
            config_map["metadata"]["labels"].get("grafana_dashboard") == "1",
            "dashboard ConfigMap lacks grafana_dashboard: '1'",
        )
        embedded = json.loads(next(iter(config_map["data"].values())))
        problems.check(
            embedded == json.loads(DASHBOARD_FILE.read_text()),
            "dashboard ConfigMap differs from files/dashboard.json",
        )


# ---- dashboard ----------------------------------------------------------------------


def panels(dashboard: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # collapsed rows


_BUILTIN_VARS: Final = frozenset({"__rate_interval", "__interval", "__range"})
_SUBSTITUTE: Final = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def grafana_to_promql(expr: str, variables: Mapping[str, str]) -> str:
    """What Prometheus receives: variables replaced as Grafana would."""
    for name, value in _SUBSTITUTE.items():
        expr = expr.replace(name, value)
    for name, value in variables.items():
        expr = expr.replace(f"${{{name}}}", value).replace(f"${name}", value)
    return expr


def check_dashboard(args: argparse.Namespace) -> int:
    problems = Problems()
    try:
        dashboard = json.loads(DASHBOARD_FILE.read_text())
    except json.JSONDecodeError as exc:
        problems.check(False, f"not JSON: {exc}")
        return problems.report("dashboard")
    problems.check(
        isinstance(dashboard.get("schemaVersion"), int) and dashboard["schemaVersion"] >= 36,
        f"schemaVersion {dashboard.get('schemaVersion')}",
    )
    problems.check(dashboard.get("uid") and dashboard.get("title"), "no uid or title")
    variables = {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}
    problems.check(
        variables.get("datasource", {}).get("type") == "datasource"
        and variables["datasource"].get("query") == "prometheus",
        "no Prometheus datasource variable",
    )
    for name in ("cluster", "namespace", "job", "instance"):
        problems.check(variables.get(name, {}).get("type") == "query", f"no {name} query variable")
    # Several releases, namespaces and clusters in one Prometheus: "All" must also match
    # series that lack the label (one cluster, a plain scrape config).
    for name in ("cluster", "namespace"):
        problems.check(
            variables.get(name, {}).get("includeAll") and variables[name].get("allValue") == ".*",
            f"variable {name}: no All matching .*",
        )
    substitutions = {
        "datasource": "prometheus",
        "cluster": ".*",
        "namespace": ".*",
        "job": SHIPPED_JOB,
        "instance": ".+",
    }

    known = exported_names() | {"up"}
    used: set[str] = set()
    ids: set[int] = set()
    promql: list[dict[str, str]] = []
    for panel in panels(dashboard):
        title = panel.get("title", "?")
        problems.check(panel.get("id") not in ids, f"panel {title}: duplicate id")
        ids.add(panel.get("id", -1))
        grid = panel.get("gridPos", {})
        problems.check(
            {"h", "w", "x", "y"} <= set(grid) and grid["x"] + grid["w"] <= 24,
            f"panel {title}: gridPos {grid}",
        )
        if panel.get("type") == "row":
            continue
        problems.check(
            panel.get("datasource", {}).get("uid") == "${datasource}",
            f"panel {title}: datasource is not ${{datasource}}",
        )
        targets = panel.get("targets", [])
        problems.check(targets, f"panel {title}: no targets")
        for target in targets:
            expr = target.get("expr", "")
            where = f"panel {title} {target.get('refId')}"
            problems.check(expr, f"{where}: no expr")
            problems.check(
                target.get("datasource", {}).get("uid") == "${datasource}",
                f"{where}: datasource is not ${{datasource}}",
            )
            for var in re.findall(r"\$\{?(\w+)", expr):
                problems.check(
                    var in variables or var in _BUILTIN_VARS, f"{where}: unknown variable ${var}"
                )
            for selector in ('cluster=~"$cluster"', 'namespace=~"$namespace"', 'job="$job"'):
                problems.check(selector in expr, f"{where}: not filtered by {selector}")
            names = metric_names(expr)
            problems.check(names, f"{where}: no metric selector")
            for name in names:
                problems.check(name in known, f"{where}: {name} is not exported by py-scheduler")
                used.add(name)
            check_legend(expr, target.get("legendFormat", ""), where, problems)
            promql.append(
                {
                    "record": f"dashboard:panel_{panel.get('id')}_{target.get('refId')}",
                    "expr": grafana_to_promql(expr, substitutions),
                }
            )
    # Every family the scheduler exports is on some panel.
    shown = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in used}
    for family in sorted(scheduler_families() - shown):
        problems.check(False, f"no panel shows {family}")
    if args.promql_rules:
        Path(args.promql_rules).write_text(
            yaml.safe_dump({"groups": [{"name": "dashboard", "rules": promql}]}, sort_keys=False)
        )
    return problems.report("dashboard")


def check_legend(expr: str, legend: str, where: str, problems: Problems) -> None:
    """A legend may only name labels the outermost aggregation keeps."""
    wanted = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", legend))
    outer = re.match(r"\s*(?:histogram_quantile\([^,]+,\s*)?(sum|max|min|avg|count)\b", expr)
    if not outer:
        return  # no aggregation: every label of the series is there
    by = re.match(r"\s*(?:histogram_quantile\([^,]+,\s*)?\w+\s+by\s*\(([^)]*)\)", expr)
    kept = {label.strip() for label in by.group(1).split(",")} - {"le"} if by else set()
    problems.check(wanted <= kept, f"{where}: legend names {sorted(wanted - kept)}, not kept")


# ---- rules --------------------------------------------------------------------------


def check_rules(_: argparse.Namespace) -> int:
    problems = Problems()
    rules = yaml.safe_load(RULES_FILE.read_text())
    known = exported_names() | {"up"} | recorded_names(rules)
    alerts = []
    for group in rules["groups"]:
        for rule in group["rules"]:
            name = rule.get("alert") or rule.get("record")
            for metric in metric_names(rule["expr"]):
                problems.check(metric in known, f"{name}: {metric} is not exported by py-scheduler")
            problems.check(
                f'job="{SHIPPED_JOB}"' in rule["expr"], f"{name}: not scoped to job={SHIPPED_JOB}"
            )
            if "alert" in rule:
                alerts.append(rule["alert"])
                problems.check(
                    rule.get("labels", {}).get("severity") in ("critical", "warning", "info"),
                    f"{name}: no severity",
                )
                annotations = rule.get("annotations", {})
                for key in ("summary", "description", "runbook_url"):
                    problems.check(annotations.get(key), f"{name}: no {key} annotation")
                problems.check(
                    annotations.get("runbook_url", "").endswith(f"/docs/runbooks/{name}.md")
                    and (ROOT / "docs" / "runbooks" / f"{name}.md").is_file(),
                    f"{name}: runbook_url is not docs/runbooks/{name}.md, or the page is missing",
                )
                # Per release: every aggregation keeps cluster, namespace and job.
                for kept in re.findall(r"\bby\s*\(([^)]*)\)", rule["expr"]):
                    labels = {label.strip() for label in kept.split(",")}
                    problems.check(
                        {"cluster", "namespace", "job"} <= labels,
                        f"{name}: aggregation by ({kept}) merges releases",
                    )
    problems.check(len(set(alerts)) == len(alerts), "duplicate alert names")
    # Every alert has a promtool case that fires it and one that must not.
    tests = yaml.safe_load((Path(__file__).parent / "rules_test.yaml").read_text())
    fired: set[str] = set()
    silent: set[str] = set()
    for case in tests["tests"]:
        for alert_test in case.get("alert_rule_test", []):
            (fired if alert_test.get("exp_alerts") else silent).add(alert_test["alertname"])
    for alert in alerts:
        problems.check(alert in fired, f"{alert}: no test where it fires")
        problems.check(alert in silent, f"{alert}: no test where it stays silent")
    return problems.report("rules")


# ---- Dockerfile ---------------------------------------------------------------------


def check_dockerfile(_: argparse.Namespace) -> int:
    """The Dockerfile builds what image/build.sh builds: the same Debian packages, the
    locked dependencies into /opt/venv, the same trimming, user, entrypoint and labels.
    (tests/image compares the built image's config with the final stage.)"""
    problems = Problems()
    text = (ROOT / "Dockerfile").read_text()
    lines = [line.strip() for line in re.sub(r"\\\n", " ", text).splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    base = re.search(r"^ARG DEBIAN_IMAGE=(\S+)$", text, re.MULTILINE)
    problems.check(
        base and base.group(1).startswith("debian:bookworm"), "base is not Debian bookworm"
    )
    packages = [
        line.split("#")[0].strip()
        for line in (ROOT / "image" / "debian-packages.txt").read_text().splitlines()
        if line.split("#")[0].strip() and line.split("#")[0].strip() != "base-files"
    ]
    install = next((line for line in instructions if "apt-get install" in line), "")
    for package in packages:
        problems.check(f" {package}" in install, f"base stage does not install {package}")
    problems.check(
        "--require-hashes --no-deps -r requirements.lock" in " ".join(instructions),
        "dependencies not installed from requirements.lock with hashes",
    )
    problems.check("prune-venv.sh /opt/venv" in text, "venv not trimmed by image/prune-venv.sh")
    problems.check("COPY --from=builder /opt/venv /opt/venv" in instructions, "venv not copied")
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    problems.check(
        users and re.fullmatch(r"[1-9][0-9]*(:[0-9]+)?", users[-1]),
        f"final USER {users[-1:]} is not a numeric non-root UID",
    )
    problems.check(
        'ENTRYPOINT ["/opt/venv/bin/python", "-m", "py_scheduler"]' in instructions,
        "ENTRYPOINT not the exec form of the venv's python",
    )
    problems.check('CMD ["run"]' in instructions, 'CMD is not ["run"]')
    problems.check("PYTHONDONTWRITEBYTECODE=1" in text, "PYTHONDONTWRITEBYTECODE not set")
    build = (ROOT / "image" / "build.sh").read_text()
    for label in re.findall(r"^(org\.opencontainers\.image\.[a-z.]+)=", build, re.MULTILINE):
        problems.check(label in text, f"Dockerfile lacks the label {label} image/build.sh sets")
    # The build context must keep what the image needs.
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.MULTILINE)
    for sources in copied:
        for source in sources.split():
            needed = source.rstrip("/") + ("/" if (ROOT / source).is_dir() else "")
            problems.check(
                f"!{needed}" in ignore, f".dockerignore drops {needed}, which the image copies"
            )
    # ...and only that: the development packages stay out of the image.
    admitted = {line[1:].strip("/") for line in ignore if line.startswith("!")}
    leaked = sorted(admitted & set(DEVELOPMENT_PACKAGES))
    problems.check(not leaked, f".dockerignore admits development packages: {leaked}")
    return problems.report("Dockerfile")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    chart = sub.add_parser("chart", help="check `helm template` output")
    chart.add_argument("rendered")
    chart.add_argument("--label", default="defaults")
    chart.add_argument("--namespace", required=True)
    chart.add_argument("--fullname", required=True)
    chart.add_argument("--service-account", required=True)
    chart.add_argument("--replicas", type=int, required=True)
    chart.add_argument("--lease", default="", help="the expected lease name; empty: election off")
    chart.add_argument("--profiles", required=True, help="comma-separated scheduler names")
    chart.add_argument("--eviction-mode", choices=("Evict", "Delete", "none"), required=True)
    chart.add_argument("--kinds", required=True, help="comma-separated kinds, repeated per object")
    chart.add_argument(
        "--plugin-reads", default="", help="comma-separated group/resource plugins.watch grants"
    )
    chart.add_argument(
        "--plugin-rules",
        default="",
        help="comma-separated group/resource=verb+verb plugins.extraRules grants",
    )
    chart.add_argument("--priority-class", default="")
    chart.add_argument("--image", required=True, help="the scheduler container's image")
    chart.add_argument("--job", default="", help="the Prometheus job (default: the fullname)")
    chart.add_argument(
        "--common-labels", default="", help="comma-separated k=v every object must carry"
    )
    chart.add_argument(
        "--extras", action="store_true", help="extraVolumes, extraVolumeMounts, envFrom set"
    )
    chart.add_argument("--default-spreading", action="store_true")
    chart.add_argument(
        "--explain-annotations",
        action="store_true",
        help="explain.annotations on: the flag passed and pods patch granted",
    )
    chart.add_argument("--monitor-labels", action="store_true")
    chart.add_argument("--disabled-alerts", default="")
    dashboard = sub.add_parser("dashboard", help="check files/dashboard.json")
    dashboard.add_argument("--promql-rules", help="write the panel queries as a rule file here")
    sub.add_parser("rules", help="check files/prometheus-rules.yaml")
    sub.add_parser("dockerfile", help="check the Dockerfile and .dockerignore")
    args = parser.parse_args(argv)
    handlers = {
        "chart": check_chart,
        "dashboard": check_dashboard,
        "rules": check_rules,
        "dockerfile": check_dockerfile,
    }
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
