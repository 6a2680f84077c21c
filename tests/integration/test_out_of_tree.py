"""Out-of-tree plugins live on the real control plane: the example packages
(installed in the test environment by ``make venv``) and a throw-away one are
named in a profile, and py-scheduler runs with them.

We test these aspects:
- pods land by price (CheapestNode);
- pods of a namespace whose MaintenanceWindow is closed are held at Permit
  (nominated to their node, not bound) and bind within seconds of it opening;
- a Permit timeout rejects the pod with upstream's message, event and condition;
- a plugin that raises fails only the pods it raises for: others bind;
- each broken entry point, and a plugin that fails to build, stops start-up
  with exit code 2 and one line;
- ``simulate --config`` with the same plugins decides as the live run did.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from controlplane import launcher
from py_scheduler.cluster import NotFound
from py_scheduler.kube.client import JSON, KubeClient
from tests.conftest import start_scheduler
from tests.distributions import filter_module, make_distribution
from tests.integration.kube import (
    create_namespace,
    create_node,
    create_pod,
    eventually,
    read_pod,
    unique,
)

ROOT = Path(__file__).resolve().parents[2]
CRD = ROOT / "examples" / "plugins" / "maintenance-window" / "deploy" / "crd.yaml"
WINDOWS = "/apis/maintenance.example.com/v1"
PRICE = "pricing.example.com/hourly"
MAIN, SHORT = "py-scheduler-plugins", "py-scheduler-plugins-short"

EXPLODER = '''
from typing import ClassVar

from py_scheduler.framework import CycleState, NodeInfo, PluginSpec, PodInfo, Status, no_args


class Exploder:
    """Raises at Filter for pods labelled explode=yes."""

    name: ClassVar[str] = "Exploder"

    def __init__(self, args: object, handle: object) -> None:
        pass

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if pod.labels.get("explode") == "yes":
            raise RuntimeError("boom")
        return Status()


SPEC = PluginSpec("Exploder", no_args, Exploder)
'''


def configuration() -> dict[str, Any]:
    def profile(name: str, max_wait: str) -> dict[str, Any]:
        return {
            "schedulerName": name,
            "plugins": {
                "multiPoint": {
                    "enabled": [
                        {"name": "CheapestNode", "weight": 20},
                        {"name": "MaintenanceWindow"},
                        {"name": "Exploder"},
                    ]
                }
            },
            "pluginConfig": [
                {"name": "CheapestNode", "args": {"label": PRICE}},
                {"name": "MaintenanceWindow", "args": {"maxWait": max_wait}},
            ],
        }

    return {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "leaderElection": {"leaderElect": False},
        "clientConnection": {"qps": 5000, "burst": 5000},
        "podInitialBackoffSeconds": 1,
        "podMaxBackoffSeconds": 2,
        "profiles": [profile(MAIN, "15m"), profile(SHORT, "3s")],
    }


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throw-away package with the Exploder plugin, for PYTHONPATH."""
    root = tmp_path_factory.mktemp("exploder")
    make_distribution(
        root,
        "exploder",
        entry_points={"Exploder": "exploder_plugin:SPEC"},
        modules={"exploder_plugin": EXPLODER},
    )
    return root


@pytest.fixture(scope="module")
def config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "scheduler-config.yaml"
    path.write_text(yaml.safe_dump(configuration()))
    return path


@pytest.fixture(scope="module")
async def windows_crd(api: KubeClient) -> None:
    body = yaml.safe_load(CRD.read_text())
    try:
        await api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body)
    except Exception as exc:  # already there from an earlier module
        if "409" not in str(exc):
            raise

    async def served() -> bool:
        try:
            listing = await api.get(WINDOWS)
        except NotFound:
            return False
        return any(r.get("name") == "maintenancewindows" for r in listing.get("resources", []))

    await eventually(served, bool, what="the MaintenanceWindow CRD served")


@pytest.fixture(scope="module")
def plugins_scheduler(
    control_plane: launcher.LocalControlPlane,
    config_path: Path,
    plugin_path: Path,
    windows_crd: None,
) -> Iterator[str]:
    running = start_scheduler(
        control_plane,
        config_path,
        name="py-scheduler-plugins",
        env={"PYTHONPATH": str(plugin_path)},
    )
    try:
        yield running.base
    finally:
        code = running.stop()
        assert code == 0, f"exited with {code}; see {running.log}"


async def _nodes(api: KubeClient, group: str, prices: Mapping[str, str | None], cpu: str) -> None:
    for name, price in prices.items():
        labels = {"test-group": group, **({PRICE: price} if price else {})}
        await create_node(
            api, name, labels=labels, allocatable={"cpu": cpu, "memory": "8Gi", "pods": "20"}
        )


async def _bound(api: KubeClient, name: str, ns: str) -> str:
    pod = await eventually(
        lambda: read_pod(api, name, ns), lambda p: "nodeName" in p["spec"], what=f"{name} bound"
    )
    return str(pod["spec"]["nodeName"])


async def _window(api: KubeClient, ns: str, *, open_: bool) -> None:
    path = f"{WINDOWS}/namespaces/{ns}/maintenancewindows"
    body = {
        "apiVersion": "maintenance.example.com/v1",
        "kind": "MaintenanceWindow",
        "metadata": {"name": "nightly"},
        "spec": {"open": open_, "reason": "upgrade"},
    }
    try:
        current = await api.get(f"{path}/nightly")
    except NotFound:
        await api.post(path, body)
        return
    await api.put(f"{path}/nightly", {**current, "spec": body["spec"]})


async def _events(api: KubeClient, ns: str, pod: str) -> list[JSON]:
    events = await api.get(f"/apis/events.k8s.io/v1/namespaces/{ns}/events")
    return [e for e in events["items"] if e["regarding"]["name"] == pod]


def _condition(pod: JSON) -> JSON:
    for cond in pod.get("status", {}).get("conditions", []):
        if cond["type"] == "PodScheduled":
            return dict(cond)
    return {}


async def test_pods_land_by_price(api: KubeClient, plugins_scheduler: str) -> None:
    ns, group = unique("price"), unique("grp")
    await create_namespace(api, ns)
    names = {unique("dear"): "0.90", unique("cheap"): "0.10", unique("mid"): "0.40"}
    await _nodes(api, group, names, cpu="2")
    by_price = sorted(names, key=lambda n: float(names[n] or 0))
    placed = []
    for i in range(3):
        await create_pod(
            api,
            f"p{i}",
            ns,
            requests={"cpu": "1500m"},
            node_selector={"test-group": group},
            scheduler_name=MAIN,
        )
        placed.append(await _bound(api, f"p{i}", ns))
    # Each pod fills a node: the cheapest free one each time.
    assert placed == by_price


async def test_held_pods_bind_within_seconds_of_the_window_opening(
    api: KubeClient, plugins_scheduler: str
) -> None:
    ns, group = unique("maint"), unique("grp")
    await create_namespace(api, ns)
    (node,) = [unique("node")]
    await _nodes(api, group, {node: "0.10"}, cpu="4")
    await _window(api, ns, open_=False)
    for name in ("a", "b"):
        await create_pod(api, name, ns, node_selector={"test-group": group}, scheduler_name=MAIN)
    # Held at Permit: nominated to the node, not bound.
    for name in ("a", "b"):
        held = await eventually(
            lambda name=name: read_pod(api, name, ns),  # type: ignore[misc]
            lambda p: p.get("status", {}).get("nominatedNodeName") == node,
            what=f"{name} nominated while held",
        )
        assert "nodeName" not in held["spec"]
    opened = time.monotonic()
    await _window(api, ns, open_=True)
    assert {await _bound(api, "a", ns), await _bound(api, "b", ns)} == {node}
    assert time.monotonic() - opened < 5.0


async def test_a_permit_timeout_rejects_with_upstreams_message(
    api: KubeClient, plugins_scheduler: str
) -> None:
    ns, group = unique("timeout"), unique("grp")
    await create_namespace(api, ns)
    await _nodes(api, group, {unique("node"): "0.10"}, cpu="4")
    await _window(api, ns, open_=False)
    await create_pod(api, "late", ns, node_selector={"test-group": group}, scheduler_name=SHORT)
    message = (
        "0/1 nodes are available: 1 rejected due to timeout after waiting 3s at plugin "
        "MaintenanceWindow."
    )
    events = await eventually(
        lambda: _events(api, ns, "late"),
        lambda e: any(x["reason"] == "FailedScheduling" for x in e),
        what="FailedScheduling after the timeout",
    )
    failed = next(x for x in events if x["reason"] == "FailedScheduling")
    assert (failed["type"], failed["note"], failed["reportingController"]) == (
        "Warning",
        message,
        SHORT,
    )
    pod = await eventually(
        lambda: read_pod(api, "late", ns),
        lambda p: _condition(p).get("message") == message,
        what="PodScheduled=False with the timeout message",
    )
    assert (_condition(pod)["status"], _condition(pod)["reason"]) == ("False", "Unschedulable")
    assert "nodeName" not in pod["spec"]
    assert not pod["status"].get("nominatedNodeName")
    # Opening the window brings it back through the queueing hint.
    await _window(api, ns, open_=True)
    await _bound(api, "late", ns)


async def test_a_raising_plugin_leaves_the_other_pods_unaffected(
    api: KubeClient, plugins_scheduler: str
) -> None:
    ns, group = unique("raise"), unique("grp")
    await create_namespace(api, ns)
    await _nodes(api, group, {unique("node"): "0.10"}, cpu="4")
    selector = {"test-group": group}
    await create_pod(
        api, "bad", ns, labels={"explode": "yes"}, node_selector=selector, scheduler_name=MAIN
    )
    for i in range(3):
        await create_pod(api, f"good{i}", ns, node_selector=selector, scheduler_name=MAIN)
    for i in range(3):
        await _bound(api, f"good{i}", ns)
    pod = await eventually(
        lambda: read_pod(api, "bad", ns),
        lambda p: _condition(p).get("reason") == "SchedulerError",
        what="the raising plugin's error on its pod",
    )
    assert _condition(pod)["message"] == "Filter plugin 'Exploder' raised RuntimeError('boom')"
    assert "nodeName" not in pod["spec"]


BROKEN = [
    pytest.param(
        {"Broken": "broken_import_mod:SPEC"},
        {"broken_import_mod": "import not_installed_anywhere\n"},
        "error: plugin entry point 'Broken = broken_import_mod:SPEC' of package broken 1.0 failed"
        " to import: ModuleNotFoundError: No module named 'not_installed_anywhere'",
        id="fails to import",
    ),
    pytest.param(
        {"Typed": "wrong_type_mod:SPEC"},
        {"wrong_type_mod": "SPEC = object()\n"},
        "error: plugin entry point 'Typed = wrong_type_mod:SPEC' of package broken 1.0 names a"
        " builtins.object, not a py_scheduler.framework.PluginSpec",
        id="wrong type",
    ),
    pytest.param(
        {"NodeName": "clash_mod:SPEC"},
        {"clash_mod": "SPEC = None\n"},
        "error: plugin 'NodeName' from the entry point 'NodeName = clash_mod:SPEC' of package"
        " broken 1.0 clashes with an in-tree plugin; rename one or uninstall a package",
        id="clashes with an in-tree plugin",
    ),
    pytest.param(
        {"CheapestNode": "clash_other_mod:SPEC"},
        {"clash_other_mod": filter_module("CheapestNode")},
        "error: plugin 'CheapestNode' from the entry point 'CheapestNode = clash_other_mod:SPEC'"
        " of package zz-other 1.0 clashes with the entry point 'CheapestNode ="
        " cheapest_node:SPEC' of package py-scheduler-cheapest-node 0.1.0; rename one or"
        " uninstall a package",
        id="clashes with another package",
    ),
]


@pytest.mark.parametrize(("entry_points", "modules", "line"), BROKEN)
@pytest.mark.parametrize("command", ["run", "simulate"])
def test_a_broken_entry_point_exits_2_with_one_line(
    entry_points: dict[str, str],
    modules: dict[str, str],
    line: str,
    command: str,
    tmp_path: Path,
    kubeconfig: Path,
) -> None:
    package = "zz-other" if "CheapestNode" in entry_points else "broken"
    make_distribution(tmp_path, package, entry_points=entry_points, modules=modules)
    code, lines = _start(command, tmp_path, tmp_path / "none.yaml", kubeconfig)
    assert code == 2, lines
    assert_fatal_line(command, "unusable plugin", line, lines)


BUILD_FAILS = """
from typing import ClassVar

from py_scheduler.framework import PluginSpec, no_args


class Unlicensed:
    name: ClassVar[str] = "Unlicensed"

    def __init__(self, args: object, handle: object) -> None:
        raise RuntimeError("no licence key")


SPEC = PluginSpec("Unlicensed", no_args, Unlicensed)
"""


@pytest.mark.parametrize("command", ["run", "simulate"])
def test_a_plugin_that_fails_to_build_exits_2_with_one_line(
    command: str, tmp_path: Path, kubeconfig: Path
) -> None:
    make_distribution(
        tmp_path,
        "unlicensed",
        entry_points={"Unlicensed": "unlicensed_mod:SPEC"},
        modules={"unlicensed_mod": BUILD_FAILS},
    )
    config = tmp_path / "config.yaml"
    profile = {"plugins": {"filter": {"enabled": [{"name": "Unlicensed"}]}}}
    config.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kubescheduler.config.k8s.io/v1",
                "kind": "KubeSchedulerConfiguration",
                "leaderElection": {"leaderElect": False},
                "profiles": [profile],
            }
        )
    )
    snapshot = tmp_path / "snapshot.yaml"
    snapshot.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": []}))
    code, lines = _start(command, tmp_path, config, kubeconfig, snapshot=snapshot)
    assert code == 2, lines
    message = (
        "error: profile 'py-scheduler': plugin 'Unlicensed' failed to build:"
        " RuntimeError: no licence key"
    )
    assert_fatal_line(command, "invalid profile", message, lines)


def _start(
    command: str, path: Path, config: Path, kubeconfig: Path, *, snapshot: Path | None = None
) -> tuple[int, list[str]]:
    """Run ``command`` with ``path`` on PYTHONPATH; its exit code and stderr lines."""
    args = ["--config", str(config)]
    if command == "simulate":
        args += ["--snapshot", str(snapshot or path / "none.yaml")]
    else:
        args += ["--log-format", "json"]
    done = subprocess.run(
        [sys.executable, "-m", "py_scheduler", command, *args],
        env={**os.environ, "PYTHONPATH": str(path), "KUBECONFIG": str(kubeconfig)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stderr.splitlines()


def assert_fatal_line(command: str, event: str, line: str, lines: list[str]) -> None:
    """stderr holds the one line: ``run`` logs a fatal error as one structured
    line; ``simulate`` prints it."""
    if command == "simulate":
        assert lines == [line]
        return
    # A failing build comes after discovery, whose info line may precede it.
    logged = [json.loads(text) for text in lines]
    errors = [f for f in logged if f["level"] != "info"]
    assert len(errors) == 1, lines
    fields = errors[0]
    got = (fields["event"], fields["level"], fields["error"])
    assert got == (event, "error", line.removeprefix("error: "))


async def test_simulate_decides_as_the_live_run(
    api: KubeClient, plugins_scheduler: str, config_path: Path, plugin_path: Path, tmp_path: Path
) -> None:
    ns, held_ns, group = unique("sim"), unique("simheld"), unique("grp")
    for namespace in (ns, held_ns):
        await create_namespace(api, namespace)
    prices = {unique("a"): "0.30", unique("b"): "0.05", unique("c"): None, unique("d"): "0.20"}
    await _nodes(api, group, prices, cpu="2")
    await _window(api, held_ns, open_=False)
    selector = {"test-group": group}
    pods = [(ns, f"p{i}", "1200m") for i in range(4)] + [(held_ns, "held", "100m")]
    live: dict[str, str | None] = {}
    for namespace, name, cpu in pods:
        await create_pod(
            api,
            name,
            namespace,
            requests={"cpu": cpu},
            node_selector=selector,
            scheduler_name=MAIN,
        )
        if namespace == held_ns:
            pod = await eventually(
                lambda: read_pod(api, "held", held_ns),
                lambda p: bool(p.get("status", {}).get("nominatedNodeName")),
                what="held at Permit",
            )
            live[f"{held_ns}/held"] = pod["spec"].get("nodeName")
        else:
            live[f"{namespace}/{name}"] = await _bound(api, name, namespace)

    # The same cluster as a snapshot: the nodes, the window and the pods, pending.
    docs: list[dict[str, Any]] = []
    for name in prices:
        docs.append(await api.get(f"/api/v1/nodes/{name}"))
    docs.append(await api.get(f"{WINDOWS}/namespaces/{held_ns}/maintenancewindows/nightly"))
    for namespace, name, _ in pods:
        pod = await read_pod(api, name, namespace)
        pod["spec"].pop("nodeName", None)
        pod["status"] = {"phase": "Pending"}
        docs.append(pod)
    snapshot = tmp_path / "snapshot.yaml"
    snapshot.write_text(yaml.safe_dump_all(docs))
    done = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "py_scheduler",
            "simulate",
            "--config",
            str(config_path),
            "--snapshot",
            str(snapshot),
            "--output",
            "json",
        ],
        env={**os.environ, "PYTHONPATH": str(plugin_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    simulated = {r["pod"]: r["node"] for r in json.loads(done.stdout)["results"]}
    assert simulated == live
    assert live[f"{held_ns}/held"] is None
    # Cheapest first, the unpriced node last.
    order = [live[f"{ns}/p{i}"] for i in range(4)]
    assert order == sorted(prices, key=lambda n: float(prices[n] or 99))
