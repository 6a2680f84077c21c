"""What ``simulate`` sees of the workloads in the example files.

We test these aspects: a Deployment becomes ``replicas`` pods of its template
(1 when unset), a StatefulSet its replicas and their claims; and the two
Deployment examples, expanded and simulated, end as the examples say: four
replicas repelling each other on three nodes leave one pending with
upstream's message, and six replicas spread over unequal zones two per zone
(where, without the constraint, zone-a would take three). The demo pairs
live replicas, named at random, with simulated ones by outcome.
"""

from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from controlplane.demo import PENDING, Placement, pair_by_outcome
from py_scheduler import config
from py_scheduler.simulation import workloads
from py_scheduler.simulation.run import Result, simulate
from py_scheduler.simulation.snapshot import parse

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ZONE = "topology.kubernetes.io/zone"


def deployment(replicas: int | None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"schedulerName": "py-scheduler", "containers": [{"name": "web"}]},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": spec,
    }


def example(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if d]


async def simulated(docs: list[dict[str, Any]]) -> list[Result]:
    snap = parse(yaml.safe_dump_all(workloads.expand(docs)))
    return await simulate(snap, config.load(EXAMPLES / "scheduler-config.yaml"), seed=0)


def test_a_deployment_becomes_its_replicas_from_the_template() -> None:
    pods = workloads.expand([deployment(3)])
    assert [p["metadata"]["name"] for p in pods] == ["web-0", "web-1", "web-2"]
    assert {p["kind"] for p in pods} == {"Pod"}
    assert {p["metadata"]["namespace"] for p in pods} == {"shop"}
    assert all(p["metadata"]["labels"] == {"app": "web"} for p in pods)
    assert all(p["spec"]["schedulerName"] == "py-scheduler" for p in pods)
    # Each replica has a spec of its own.
    pods[0]["spec"]["containers"].append({"name": "extra"})
    assert len(pods[1]["spec"]["containers"]) == 1


def test_replicas_default_to_one() -> None:
    assert len(workloads.expand([deployment(None)])) == 1
    assert workloads.replica_names(deployment(None)) == ["shop/web-0"]
    assert workloads.expand([deployment(0)]) == []


def test_a_statefulset_becomes_its_replicas_and_their_claims() -> None:
    sts = {
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "replicas": 2,
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": []}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"x": 1}}],
        },
    }
    docs = workloads.expand([sts])
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [
        ("PersistentVolumeClaim", "data-db-0"),
        ("Pod", "db-0"),
        ("PersistentVolumeClaim", "data-db-1"),
        ("Pod", "db-1"),
    ]
    assert docs[1]["spec"]["volumes"] == [
        {"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}}
    ]
    assert docs[3]["metadata"]["labels"] == {
        "app": "db",
        "statefulset.kubernetes.io/pod-name": "db-1",
    }
    assert workloads.replica_names(sts) == ["default/db-0", "default/db-1"]


def test_other_documents_pass_through() -> None:
    node = {"kind": "Node", "metadata": {"name": "n1"}}
    assert workloads.expand([node]) == [node]


async def test_the_anti_affinity_deployment_leaves_one_replica_pending() -> None:
    results = await simulated(example("09-anti-affinity-deployment.yaml"))
    assert len(results) == 4
    placed = sorted(r.node for r in results if r.node)
    assert placed == ["node1", "node2", "node3"]
    assert [r.message for r in results if not r.node] == [
        "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. "
        "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    ]


async def test_the_zone_spread_deployment_puts_two_replicas_in_each_zone() -> None:
    docs = example("10-zone-spread-deployment.yaml")
    zones = {
        d["metadata"]["name"]: d["metadata"]["labels"][ZONE] for d in docs if d["kind"] == "Node"
    }
    results = await simulated(docs)
    assert all(r.node for r in results), [r.message for r in results]
    assert Counter(zones[str(r.node)] for r in results) == {
        "zone-a": 2,
        "zone-b": 2,
        "zone-c": 2,
    }


async def test_without_the_constraint_zone_a_would_take_three() -> None:
    docs = copy.deepcopy(example("10-zone-spread-deployment.yaml"))
    zones = {
        d["metadata"]["name"]: d["metadata"]["labels"][ZONE] for d in docs if d["kind"] == "Node"
    }
    for doc in docs:
        if doc["kind"] == "Deployment":
            del doc["spec"]["template"]["spec"]["topologySpreadConstraints"]
    results = await simulated(docs)
    assert Counter(zones[str(r.node)] for r in results)["zone-a"] == 3


def test_live_replicas_meet_the_simulated_ones_with_the_same_outcome() -> None:
    live = [("web-x", PENDING, "why"), ("web-y", "n2", "ok"), ("web-z", "n1", "ok")]
    simulated = [("n1", ""), (PENDING, "predicted why"), ("n2", "")]
    assert pair_by_outcome(live, simulated) == [
        ("web-z", Placement("n1", "n1", "ok", "")),
        ("web-y", Placement("n2", "n2", "ok", "")),
        ("web-x", Placement(PENDING, PENDING, "why", "predicted why")),
    ]


def test_a_replica_simulate_did_not_judge_shows_as_pending() -> None:
    assert pair_by_outcome([("web-x", "n1", "ok")], []) == [
        ("web-x", Placement("n1", PENDING, "ok", "(no prediction)"))
    ]


DEPLOYMENT_AND_SET = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {schedulerName: py-scheduler, containers: [{name: c, image: pause}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {schedulerName: py-scheduler, containers: [{name: c, image: pause}]}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
"""


def test_simulate_expands_workloads_into_the_pods_their_controllers_create() -> None:
    snap = parse(DEPLOYMENT_AND_SET, "snap.yaml")
    assert sorted(p.key for p in snap.pods) == ["default/db-0", "default/db-1", *WEB]
    assert sorted(f"{c.namespace}/{c.name}" for c in snap.claims) == [
        "default/data-db-0",
        "default/data-db-1",
    ]
    assert not snap.ignored


WEB = ["shop/web-0", "shop/web-1"]

LIVE_PODS = """
---
apiVersion: v1
kind: Pod
metadata: {name: web-7f9c-abcde, namespace: shop, labels: {app: web}}
spec: {nodeName: n1, containers: [{name: c, image: pause}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, namespace: default, labels: {app: db}}
spec: {nodeName: n1, containers: [{name: c, image: pause}]}
"""


def test_simulate_adds_only_the_replicas_a_live_snapshot_lacks() -> None:
    snap = parse(DEPLOYMENT_AND_SET + LIVE_PODS, "snap.yaml")
    # The Deployment's pods are there already (its selector matches one); the
    # StatefulSet lacks db-1 and both claims.
    assert sorted(p.key for p in snap.pods) == [
        "default/db-0",
        "default/db-1",
        "shop/web-7f9c-abcde",
    ]
    assert len(snap.claims) == 2
