"""The object watches' handlers (py_scheduler.kube.objects): each kind keeps
its store table, and every add, change and removal of a budget, storage or DRA
object, from a watch event or a relist, reaches the queue as a cluster event."""

from __future__ import annotations

from typing import Any

from py_scheduler.framework.types import ActionType, Resource
from py_scheduler.kube import objects
from py_scheduler.scheduling.object_store import ObjectStore
from tests.builders import raw_pvc
from tests.builders_dra import allocation, raw_claim, raw_slice
from tests.unit.random_clusters import raw_pdb


def table(name: str, store: ObjectStore, events: list[Any]) -> Any:
    kind = next(k for k in objects.KINDS if k.name == name)
    table = objects._Table(kind, store, lambda *event: events.append(event[:2]))
    return table, table.handlers()


def test_storage_changes_are_cluster_events_from_watch_events_and_relists() -> None:
    store, events = ObjectStore(), list[Any]()
    _, handlers = table("persistentvolumeclaims", store, events)
    a, b = raw_pvc("a", "fast"), raw_pvc("b", "fast")
    handlers.on_replace([handlers.decode(a)])
    handlers.on_upsert(handlers.decode(b))
    changed = raw_pvc("b", "slow")
    handlers.on_upsert(handlers.decode(changed))
    # A relist that no longer holds "a" and keeps "b" as it was.
    handlers.on_replace([handlers.decode(changed)])
    assert events == [
        (Resource.PVC, ActionType.ADD),
        (Resource.PVC, ActionType.ADD),
        (Resource.PVC, ActionType.UPDATE),
        (Resource.PVC, ActionType.DELETE),
    ]
    assert list(store.claims) == [("default", "b")]


def test_budget_changes_are_cluster_events() -> None:
    # A budget's change may let a gang preempt where it stopped one before.
    store, events = ObjectStore(), list[Any]()
    _, budgets = table("poddisruptionbudgets", store, events)
    budgets.on_replace([budgets.decode(raw_pdb("b", "web", 0, namespace="ns"))])
    budgets.on_upsert(budgets.decode(raw_pdb("b", "web", 1, namespace="ns")))
    budget = store.budgets[("ns", "b")]
    assert budget.disruptions_allowed == 1
    budgets.on_delete(budgets.decode(raw_pdb("b", "web", 1, namespace="ns")))
    assert ("ns", "b") not in store.budgets
    assert events == [
        (Resource.PDB, ActionType.ADD),
        (Resource.PDB, ActionType.UPDATE),
        (Resource.PDB, ActionType.DELETE),
    ]


def owner(kind: str, name: str, labels: dict[str, str] | None) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if labels is not None:
        spec["selector"] = labels if kind == "Service" else {"matchLabels": labels}
    return {"kind": kind, "metadata": {"name": name, "namespace": "ns"}, "spec": spec}


def test_owner_kinds_share_one_table_and_a_relist_replaces_only_its_own() -> None:
    store: ObjectStore = ObjectStore()
    _, services = table("services", store, [])
    _, sets = table("statefulsets", store, [])
    services.on_replace([services.decode(owner("Service", "web", {"app": "web"}))])
    sets.on_replace([sets.decode(owner("StatefulSet", "db", {"app": "db"}))])
    # A Service that stops selecting leaves the table.
    services.on_upsert(services.decode(owner("Service", "web", None)))
    assert set(store.selectors) == {("StatefulSet", "ns", "db")}
    services.on_replace([])
    assert set(store.selectors) == {("StatefulSet", "ns", "db")}


def test_every_kind_has_a_watch_path() -> None:
    assert {k.name for k in objects.KINDS} == {
        "poddisruptionbudgets",
        "namespaces",
        "services",
        "replicationcontrollers",
        "replicasets",
        "statefulsets",
        "persistentvolumeclaims",
        "persistentvolumes",
        "storageclasses",
        "csinodes",
        "csidrivers",
        "csistoragecapacities",
        "resourceclaims",
        "deviceclasses",
        "resourceslices",
    }
    assert all(k.path.startswith(("/api/v1/", "/apis/")) for k in objects.KINDS)


def test_claims_are_keyed_namespace_slash_name_and_keep_the_allocated_devices() -> None:
    store, events = ObjectStore(), list[Any]()
    _, claims = table("resourceclaims", store, events)
    result = ("req-0", "gpu.example.com", "pool-1", "dev-0")
    claims.on_replace([claims.decode(raw_claim("c", namespace="ns"))])
    claims.on_upsert(claims.decode(raw_claim("c", namespace="ns", allocation=allocation(result))))
    claim = store.resource_claim("ns", "c")
    assert claim is not None
    assert claim.allocation is not None
    assert len(store.allocated_devices()) == 1
    claims.on_replace([])
    assert store.resource_claim("ns", "c") is None
    assert not store.allocated_devices()
    assert events == [
        (Resource.RESOURCE_CLAIM, ActionType.ADD),
        (Resource.RESOURCE_CLAIM, ActionType.UPDATE),
        (Resource.RESOURCE_CLAIM, ActionType.DELETE),
    ]


def test_slices_are_listed_per_node() -> None:
    store, events = ObjectStore(), list[Any]()
    _, slices = table("resourceslices", store, events)
    slices.on_replace([slices.decode(raw_slice("s1", node="n1"))])
    assert [s.name for s in store.node_slices("n1")] == ["s1"]
    slices.on_delete(slices.decode(raw_slice("s1", node="n1")))
    assert store.node_slices("n1") == []
    assert events == [
        (Resource.RESOURCE_SLICE, ActionType.ADD),
        (Resource.RESOURCE_SLICE, ActionType.DELETE),
    ]
