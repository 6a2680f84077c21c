"""Suggestions, one table row per kind.

We test these aspects:
- each kind is proposed where it is the smallest change, says exactly what
  to change, and is verified by scheduling again (the pod is placed where
  the row expects);
- a change that does not help is reported as not verified;
- suggestions come cheapest first, and none is offered for a pod that fits
  or that preemption is already making room for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from py_scheduler import config
from py_scheduler.explain.offline import explain_pod
from py_scheduler.explain.report import Suggestion
from py_scheduler.explain.suggest import _set_request, suggest
from py_scheduler.simulation.run import simulate
from py_scheduler.simulation.snapshot import from_documents
from tests.builders import raw_node, raw_pod
from tests.unit.random_clusters import raw_pdb

Raw = dict[str, Any]
CFG = config.parse({})
TARGET = "default/incoming"


def node(name: str, cpu: str = "4", **kwargs: Any) -> Raw:
    return raw_node(name, allocatable={"cpu": cpu, "memory": "8Gi", "pods": "110"}, **kwargs)


def bound(name: str, on: str, cpu: str, **kwargs: Any) -> Raw:
    return raw_pod(
        name, node_name=on, requests={"cpu": cpu}, start_time="2026-01-01T00:00:00Z", **kwargs
    )


def incoming(cpu: str = "1", **kwargs: Any) -> Raw:
    return raw_pod("incoming", requests={"cpu": cpu}, created="2026-01-02T00:00:00Z", **kwargs)


@dataclass
class Case:
    id: str
    docs: list[Raw]
    kind: str
    change: dict[str, Any] = field(default_factory=dict)
    node: str | None = None  # where the verified change places the pod
    words: str = ""


CASES = [
    Case(
        "lower a request to what the roomiest node has left",
        [node("n1"), node("n2"), bound("a", "n1", "3"), bound("b", "n2", "2500m"), incoming("2")],
        "lower-request",
        {"requests": {"cpu": {"from": "2", "to": "1500m"}}, "fits": "n2"},
        node="n2",
        words="lower the pod's cpu request from 2 to 1500m",
    ),
    Case(
        "tolerate the one taint in the way",
        [
            node("n1", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
            node("n2", cpu="1"),
            incoming("2"),
        ],
        "add-toleration",
        {
            "tolerations": {
                "add": {
                    "key": "dedicated",
                    "operator": "Equal",
                    "value": "gpu",
                    "effect": "NoSchedule",
                }
            },
            "nodes": 1,
        },
        node="n1",
        words="tolerate the taint dedicated=gpu:NoSchedule",
    ),
    Case(
        "drop a nodeSelector no node matches",
        [node("n1"), incoming(node_selector={"disk": "ssd"})],
        "relax-node-affinity",
        {"nodeSelector": {"remove": {"disk": "ssd"}}},
        node="n1",
        words="drop the nodeSelector disk=ssd",
    ),
    Case(
        "drop a required node affinity requirement",
        [
            node("n1", labels={"topology.kubernetes.io/zone": "a"}),
            incoming(
                affinity={
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {
                                            "key": "topology.kubernetes.io/zone",
                                            "operator": "In",
                                            "values": ["b"],
                                        }
                                    ]
                                }
                            ]
                        }
                    }
                }
            ),
        ],
        "relax-node-affinity",
        {
            "nodeAffinity": {
                "term": 0,
                "matchExpressions": 0,
                "remove": {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["b"]},
            }
        },
        node="n1",
        words="drop the requirement topology.kubernetes.io/zone In (b)",
    ),
    Case(
        "raise maxSkew by the least that lets the pod in",
        [
            node("a1", labels={"topology.kubernetes.io/zone": "a"}),
            node("b1", cpu="1", labels={"topology.kubernetes.io/zone": "b"}),
            bound("w1", "a1", "100m", labels={"app": "web"}),
            bound("f", "b1", "1"),
            incoming(
                labels={"app": "web"},
                spread=[
                    {
                        "maxSkew": 1,
                        "topologyKey": "topology.kubernetes.io/zone",
                        "whenUnsatisfiable": "DoNotSchedule",
                        "labelSelector": {"matchLabels": {"app": "web"}},
                    }
                ],
            ),
        ],
        "relax-spread",
        {"topologySpreadConstraints": {"index": 0, "maxSkew": 2}},
        node="a1",
        words="raise maxSkew of the spread constraint on topology.kubernetes.io/zone from 1 to 2",
    ),
    Case(
        "make a required anti-affinity term preferred",
        [
            node("n1"),
            bound("db", "n1", "100m", labels={"app": "db"}),
            incoming(
                affinity={
                    "podAntiAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": [
                            {
                                "topologyKey": "kubernetes.io/hostname",
                                "labelSelector": {"matchLabels": {"app": "db"}},
                            }
                        ]
                    }
                }
            ),
        ],
        "relax-anti-affinity",
        {"podAntiAffinity": {"term": 0, "to": "preferred", "weight": 100}},
        node="n1",
        words="make required podAntiAffinity term 1",
    ),
    Case(
        "a budget that blocks preemption, and by how much",
        [
            node("n1"),
            bound("low", "n1", "4", labels={"app": "batch"}, priority=0),
            raw_pdb("batch", "batch", 0),
            incoming("2", priority=1000),
        ],
        "pdb",
        {"budgets": {"default/batch": {"short": 1}}, "node": "n1", "victims": ["default/low"]},
        node="n1",
        words="PDB default/batch allows 0 disruption(s)",
    ),
    Case(
        "free a node by moving a pod that fits elsewhere",
        [
            node("n1"),
            node("n2", cpu="2"),
            bound("stay", "n1", "1"),
            bound("mover", "n1", "2"),
            incoming("3"),
        ],
        "free-node",
        {},
        node="n1",
        words="free n1 by moving",
    ),
    Case(
        "one more node shaped like the one that is full",
        [node("n1"), bound("a", "n1", "4"), incoming("2")],
        "add-node",
        {
            "node": {
                "like": "n1",
                "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                "labels": {},
                "taints": [],
            }
        },
        node="n1-new-1",
        words="add one more node shaped like n1 (4 cpu, 8Gi memory, 110 pods",
    ),
]


async def _suggestions(docs: list[Raw]) -> list[Suggestion]:
    snap = from_documents(docs)
    ex = await explain_pod(snap, CFG, TARGET)
    assert ex.node is None, "the pod must be pending for these cases"
    return await suggest(snap, CFG, ex, TARGET)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_each_kind_is_proposed_precisely_and_verified(case: Case) -> None:
    suggestions = await _suggestions(case.docs)
    mine = [s for s in suggestions if s.kind == case.kind]
    assert mine, [s.description for s in suggestions]
    first = mine[0]
    assert first.verified, first
    assert first.node == case.node
    assert case.words in first.description
    if case.change:
        assert first.change == case.change
    costs = [s.cost for s in suggestions if s.verified]
    assert costs == sorted(costs)


async def test_a_moved_pod_is_named_with_where_it_goes() -> None:
    [case] = [c for c in CASES if c.kind == "free-node"]
    [moved] = [s for s in await _suggestions(case.docs) if s.kind == "free-node"]
    assert moved.change == {"node": "n1", "move": {"default/mover": "n2"}}
    assert moved.description == "free n1 by moving default/mover to n2"


async def test_a_change_that_does_not_help_is_not_verified() -> None:
    # Two selector keys in the way: dropping either one alone does not do.
    docs = [node("n1"), incoming(node_selector={"disk": "ssd", "gpu": "yes"})]
    suggestions = await _suggestions(docs)
    dropped = [s for s in suggestions if s.kind == "relax-node-affinity"]
    assert [s.change for s in dropped] == [
        {"nodeSelector": {"remove": {"disk": "ssd"}}},
        {"nodeSelector": {"remove": {"gpu": "yes"}}},
    ]
    assert not any(s.verified or s.node for s in dropped)


async def test_no_suggestion_for_a_pod_that_fits_or_is_preempting() -> None:
    assert await _suggestions_for([node("n1"), incoming()]) == []
    preempting = [node("n1"), bound("low", "n1", "4", priority=0), incoming("2", priority=1000)]
    assert await _suggestions_for(preempting) == []


async def _suggestions_for(docs: list[Raw]) -> list[Suggestion]:
    snap = from_documents(docs)
    ex = await explain_pod(snap, CFG, TARGET)
    return await suggest(snap, CFG, ex, TARGET)


@pytest.mark.parametrize(
    ("containers", "target", "want"),
    [
        ([{"cpu": "1500m"}, {"cpu": "500m"}], 1000, ["500m", "500m"]),
        ([{"cpu": "1"}, {"cpu": "1"}], 500, ["0", "500m"]),
        ([{"memory": "2Gi"}], 1024 * 1024 * 1024, ["1Gi"]),
    ],
    ids=["the largest container gives first", "then the next", "memory in binary units"],
)
def test_lowering_a_request_takes_from_the_largest_containers(
    containers: list[dict[str, str]], target: int, want: list[str]
) -> None:
    raw = raw_pod("p", containers=containers)
    resource = next(iter(containers[0]))
    _set_request(raw, resource, target)
    got = [c["resources"]["requests"][resource] for c in raw["spec"]["containers"]]
    assert got == want


async def test_the_verified_change_makes_simulate_place_the_pod() -> None:
    [case] = [c for c in CASES if c.kind == "lower-request"]
    snap = from_documents(case.docs)
    raw = dict(snap.raw_pods[TARGET])
    _set_request(raw, "cpu", 1500)
    changed = from_documents([*case.docs[:-1], raw])
    [result] = [r for r in await simulate(changed, CFG) if r.pod == TARGET]
    assert result.node == "n2"
