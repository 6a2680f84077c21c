"""Custom resources for plugins (``framework/custom_resources.py``): naming a
kind, the shared store and its listers, the cluster events its changes
become, and the snapshot objects ``simulate`` hands to plugins."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import pytest

from py_scheduler import config, plugins
from py_scheduler.framework import (
    ActionType,
    ClusterEventWithHint,
    CustomObjectLister,
    CustomResource,
    CycleState,
    Handle,
    NoArgs,
    NodeInfo,
    PluginSpec,
    PodInfo,
    QueueingHint,
    Status,
    event,
    no_args,
)
from py_scheduler.framework.custom_resources import CustomObjects
from py_scheduler.scheduling.queue import UNSCHEDULABLE
from py_scheduler.simulation.run import simulate
from py_scheduler.simulation.snapshot import Snapshot, SnapshotError, parse
from tests.builders import make_node, make_pod
from tests.unit.helpers_core import build_core

WINDOWS = CustomResource("example.com", "v1", "maintenancewindows", kind="MaintenanceWindow")


def window(name: str, namespace: str = "ns", *, open_: bool, rv: str = "1") -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "MaintenanceWindow",
        "metadata": {"name": name, "namespace": namespace, "resourceVersion": rv},
        "spec": {"open": open_},
    }


# -- naming a kind ---------------------------------------------------------------------------


def test_upstreams_event_resource_form_parses() -> None:
    parsed = CustomResource.parse("podgroups.v1alpha1.scheduling.x-k8s.io")
    assert parsed == CustomResource("scheduling.x-k8s.io", "v1alpha1", "podgroups")
    assert parsed.value == "podgroups.v1alpha1.scheduling.x-k8s.io"
    assert parsed.api_version == "scheduling.x-k8s.io/v1alpha1"
    assert parsed.path == "/apis/scheduling.x-k8s.io/v1alpha1/podgroups"


def test_the_core_group_is_allowed() -> None:
    config_maps = CustomResource("", "v1", "configmaps")
    assert (config_maps.path, config_maps.value) == ("/api/v1/configmaps", "configmaps.v1")


@pytest.mark.parametrize(
    "text", ["podgroups", "podgroups.v1", "podgroups..example.com", ".v1.example.com"]
)
def test_a_malformed_event_resource_is_refused_with_the_expected_form(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape("<plural>.<version>.<group>")):
        CustomResource.parse(text)


@pytest.mark.parametrize(
    ("group", "version", "plural"),
    [("example.com", "", "things"), ("example.com", "v1", "Things"), ("a/b", "v1", "things")],
)
def test_an_invalid_kind_is_refused(group: str, version: str, plural: str) -> None:
    with pytest.raises(ValueError, match="custom resource"):
        CustomResource(group, version, plural)


def test_kind_takes_no_part_in_equality() -> None:
    assert CustomResource("example.com", "v1", "maintenancewindows") == WINDOWS


DESCRIBES = [
    ({"apiVersion": "example.com/v1", "kind": "Policy"}, "policies", True),
    ({"apiVersion": "example.com/v1", "kind": "Box"}, "boxes", True),
    ({"apiVersion": "example.com/v1", "kind": "Gang"}, "gangs", True),
    ({"apiVersion": "example.com/v2", "kind": "Gang"}, "gangs", False),
    ({"apiVersion": "example.com/v1", "kind": "Goose"}, "geese", False),
]


@pytest.mark.parametrize(("doc", "plural", "describes"), DESCRIBES)
def test_which_documents_are_of_a_kind(doc: dict[str, str], plural: str, describes: bool) -> None:
    assert CustomResource("example.com", "v1", plural).describes(doc) is describes


def test_an_irregular_plural_needs_its_kind() -> None:
    geese = CustomResource("example.com", "v1", "geese", kind="Goose")
    assert geese.describes({"apiVersion": "example.com/v1", "kind": "Goose"})


# -- the store and its listers ---------------------------------------------------------------


def is_open(raw: Mapping[str, Any]) -> bool:
    return bool(raw["spec"]["open"])


def test_changes_are_reported_and_listers_follow() -> None:
    store = CustomObjects()
    raw = store.lister(WINDOWS)
    decoded = store.lister(WINDOWS, is_open)
    first = window("w", open_=False)
    assert store.upsert(WINDOWS, first) == (WINDOWS, ActionType.ADD, None, first)
    assert store.upsert(WINDOWS, first) is None  # nothing changed
    assert (raw.get("w", "ns"), decoded.get("w", "ns")) == (first, False)
    second = window("w", open_=True, rv="2")
    assert store.upsert(WINDOWS, second) == (WINDOWS, ActionType.UPDATE, first, second)
    assert decoded.list("ns") == [True]
    assert decoded.list("other") == []
    assert store.delete(WINDOWS, second) == (WINDOWS, ActionType.DELETE, second, None)
    assert (len(raw), len(decoded)) == (0, 0)
    assert store.delete(WINDOWS, second) is None


def test_a_late_lister_sees_what_is_held_already() -> None:
    store = CustomObjects()
    store.upsert(WINDOWS, window("w", open_=True))
    assert store.lister(WINDOWS, is_open).list() == [True]


def test_a_relist_reports_deletions_additions_and_changes_only() -> None:
    store = CustomObjects()
    store.upsert(WINDOWS, window("kept", open_=False))
    store.upsert(WINDOWS, window("changed", open_=False))
    store.upsert(WINDOWS, window("gone", open_=False))
    changes = store.replace(
        WINDOWS,
        [
            window("kept", open_=False),
            window("changed", open_=True, rv="2"),
            window("new", open_=True),
        ],
    )
    named = [(action, new or old) for _, action, old, new in changes]
    assert [(action, obj["metadata"]["name"]) for action, obj in named if obj] == [
        (ActionType.DELETE, "gone"),
        (ActionType.UPDATE, "changed"),
        (ActionType.ADD, "new"),
    ]


def test_an_object_that_does_not_decode_is_left_out_of_that_lister_only() -> None:
    store = CustomObjects()
    raw = store.lister(WINDOWS)
    decoded = store.lister(WINDOWS, is_open)
    store.upsert(WINDOWS, window("good", open_=True))
    broken = {**window("broken", open_=True), "spec": None}
    store.upsert(WINDOWS, broken)
    assert len(raw) == 2
    assert decoded.list() == [True]
    # A good object that turns bad disappears from the decoded view.
    store.upsert(WINDOWS, {**window("good", open_=True, rv="2"), "spec": {}})
    assert decoded.list() == []


def test_handlers_hear_each_change_of_their_listers_view() -> None:
    store = CustomObjects()
    lister = store.lister(WINDOWS, is_open)
    heard: list[tuple[ActionType, bool | None, bool | None]] = []
    lister.on_change(lambda action, old, new: heard.append((action, old, new)))

    def broken(action: ActionType, old: bool | None, new: bool | None) -> None:
        raise RuntimeError("handler bug")

    lister.on_change(broken)  # logged; the others still hear every change
    store.upsert(WINDOWS, window("w", open_=False))
    store.upsert(WINDOWS, window("w", open_=True, rv="2"))
    store.upsert(WINDOWS, {**window("w", open_=True, rv="3"), "spec": None})  # stops decoding
    store.upsert(WINDOWS, window("w", open_=False, rv="4"))
    store.delete(WINDOWS, window("w", open_=False))
    assert heard == [
        (ActionType.ADD, None, False),
        (ActionType.UPDATE, False, True),
        (ActionType.DELETE, True, None),
        (ActionType.ADD, None, False),
        (ActionType.DELETE, False, None),
    ]


def test_an_object_without_a_name_is_refused() -> None:
    with pytest.raises(ValueError, match="metadata"):
        CustomObjects().upsert(WINDOWS, {"apiVersion": "example.com/v1", "metadata": {}})


# -- a plugin that watches a kind --------------------------------------------------------------


class Windows:
    """Rejects pods of namespaces whose MaintenanceWindow is closed; a window
    that opens brings them back (a queueing hint on the custom resource)."""

    name: ClassVar[str] = "Windows"

    def __init__(self, args: NoArgs, handle: Handle) -> None:
        self.windows: CustomObjectLister[bool] = handle.custom_objects(WINDOWS, is_open)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if self.windows.list(pod.namespace) == [False]:
            return Status.unresolvable("maintenance window closed")
        return Status()

    def events_to_register(self) -> Sequence[ClusterEventWithHint]:
        return (
            ClusterEventWithHint(event(WINDOWS, ActionType.ADD | ActionType.UPDATE), self._opened),
        )

    def _opened(self, pod: PodInfo, old: object, new: object) -> QueueingHint:
        if isinstance(new, Mapping) and new["metadata"]["namespace"] == pod.namespace:
            return QueueingHint.QUEUE if new["spec"]["open"] else QueueingHint.SKIP
        return QueueingHint.SKIP


class Watcher:
    """Registers an event on a kind and nothing else: that alone makes the
    scheduler watch it, as upstream."""

    name: ClassVar[str] = "Watcher"

    def __init__(self, args: NoArgs, handle: Handle) -> None:
        del args, handle

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        return Status()

    def events_to_register(self) -> Sequence[ClusterEventWithHint]:
        groups = CustomResource.parse("podgroups.v1alpha1.scheduling.x-k8s.io")
        return (ClusterEventWithHint(event(groups, ActionType.ADD)),)


REGISTRY = {
    **plugins.IN_TREE,
    "Windows": PluginSpec("Windows", no_args, Windows),
    "Watcher": PluginSpec("Watcher", no_args, Watcher),
}


def windows_config(*names: str) -> dict[str, object]:
    return {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "profiles": [{"plugins": {"multiPoint": {"enabled": [{"name": name} for name in names]}}}],
    }


def test_kinds_named_by_a_lister_or_an_event_are_watched() -> None:
    from py_scheduler.scheduling.build import build_scheduler
    from tests.fakes import FakeCluster, FakeObjects

    cfg = config.parse(windows_config("Windows", "Watcher"), registry=REGISTRY)
    scheduler = build_scheduler(cfg, cluster=FakeCluster(), objects=FakeObjects())
    assert [r.value for r in scheduler.custom_objects.resources()] == [
        "maintenancewindows.v1.example.com",
        "podgroups.v1alpha1.scheduling.x-k8s.io",
    ]


async def test_an_opening_window_requeues_the_pods_its_plugin_rejected() -> None:
    core = build_core(
        [make_node("n1")],
        raw_config=windows_config("Windows"),
        extra=[],
        registry=REGISTRY,
    )
    store = core.scheduler.custom_objects

    def put(obj: dict[str, Any]) -> None:
        change = store.upsert(WINDOWS, obj)
        assert change is not None
        core.scheduler.on_custom_objects([change])

    put(window("w", open_=False))
    put(window("w", "elsewhere", open_=False))
    pod = make_pod("p", namespace="ns")
    other = make_pod("q", namespace="elsewhere")
    for p in (pod, other):
        core.scheduler.on_pod(p)
        await core.cycle()
        assert core.queue.where(p.uid) == UNSCHEDULABLE
    # The window of "ns" opens, after both pods' backoff: only its pod moves.
    core.clock.advance(20)
    put(window("w", open_=True, rv="2"))
    assert core.queue.where(pod.uid) == "active"
    assert core.queue.where(other.uid) == UNSCHEDULABLE
    await core.cycle()
    assert [c[1:] for c in core.cluster.calls if c[0] == "bind"] == [("ns/p", "n1")]


# -- simulate ---------------------------------------------------------------------------------

SNAPSHOT = """
apiVersion: v1
kind: Node
metadata: {name: n1}
status: {allocatable: {cpu: "4", memory: 8Gi, pods: "110"}}
---
apiVersion: v1
kind: Pod
metadata: {name: held, namespace: closed}
spec: {schedulerName: py-scheduler, containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: free, namespace: open}
spec: {schedulerName: py-scheduler, containers: [{name: c, image: i}]}
---
apiVersion: example.com/v1
kind: MaintenanceWindow
metadata: {name: w, namespace: closed}
spec: {open: false}
---
apiVersion: example.com/v1
kind: MaintenanceWindow
metadata: {name: w, namespace: open}
spec: {open: true}
---
apiVersion: example.com/v1
kind: Unwatched
metadata: {name: x}
"""


async def test_simulate_hands_plugins_the_snapshots_objects_of_their_kinds() -> None:
    cfg = config.parse(windows_config("Windows"), registry=REGISTRY)
    notes: list[str] = []
    results = await simulate(parse(SNAPSHOT), cfg, notes=notes.append)
    assert {r.pod: (r.node, r.message) for r in results} == {
        "closed/held": (
            None,
            # The newest release's words: DynamicResources adds none from 1.37.
            "0/1 nodes are available: 1 maintenance window closed."
            " preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
        ),
        "open/free": ("n1", ""),
    }
    assert notes == ["ignoring snapshot: document 6 (Unwatched x)"]


async def test_simulate_refuses_a_watched_object_without_a_name() -> None:
    cfg = config.parse(windows_config("Windows"), registry=REGISTRY)
    snapshot = Snapshot(
        others={"doc 1": {"apiVersion": "example.com/v1", "kind": "MaintenanceWindow"}}
    )
    with pytest.raises(
        SnapshotError, match=re.escape("maintenancewindows.v1.example.com: metadata")
    ):
        await simulate(snapshot, cfg)
