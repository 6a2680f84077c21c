"""The plugin kit (``py_scheduler.testing``): builders, one decision with the
default profile plus a plugin, and whole simulated runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

from py_scheduler import config
from py_scheduler.framework import (
    ArgsError,
    CustomObjectLister,
    CustomResource,
    CycleState,
    Handle,
    NodeInfo,
    PluginSpec,
    PodInfo,
    Status,
    no_args,
)
from py_scheduler.framework.status import Code
from py_scheduler.model import NodeName
from py_scheduler.model.raw import Fields
from py_scheduler.plugins.node_affinity import SPEC as NODE_AFFINITY
from py_scheduler.testing import ObjectError, PluginKit, node, objects, pod


@dataclass(frozen=True)
class LabelArgs:
    label: str


def decode_label_args(fields: Fields) -> LabelArgs:
    label = fields.string("label")
    if not label:
        raise ArgsError("args.label: must be set")
    return LabelArgs(label)


class ByLabel:
    """Filters out nodes without the label; scores the label's number."""

    name: ClassVar[str] = "ByLabel"

    def __init__(self, args: LabelArgs, handle: Handle) -> None:
        self.label = args.label

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if self.label not in node.node.labels:
            return Status.unresolvable(f"node(s) had no {self.label} label")
        return Status()

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return int(node.node.labels[self.label])


BY_LABEL = PluginSpec("ByLabel", decode_label_args, ByLabel)


def test_builders_decode_as_the_api_would() -> None:
    n = node("n1", cpu="8", labels={"zone": "a"}, annotations={"price": "0.4"})
    assert (n.allocatable.milli_cpu, n.labels["zone"], n.annotations) == (
        8000,
        "a",
        {"price": "0.4"},
    )
    p = pod("web", cpu="500m", memory="1Gi", labels={"app": "web"}, priority=7)
    assert (p.key, p.requests.milli_cpu, p.priority, p.scheduler_name) == (
        "default/web",
        500,
        7,
        "py-scheduler",
    )
    with pytest.raises(ObjectError, match="Pod default/bad"):
        pod("bad", cpu="lots")


def test_objects_come_from_yaml_lists_and_documents() -> None:
    text = """
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Node, metadata: {name: a}, status: {allocatable: {cpu: "2"}}}
- {apiVersion: v1, kind: Pod, metadata: {name: p, namespace: ns},
   spec: {schedulerName: py-scheduler, containers: [{name: c, image: i}]}}
---
apiVersion: example.com/v1
kind: Window
metadata: {name: w}
"""
    found = objects(text)
    assert [n.name for n in found.nodes] == ["a"]
    assert [p.key for p in found.pods] == ["ns/p"]
    assert [o["kind"] for o in found.others] == ["Window"]
    with pytest.raises(ObjectError, match="not valid YAML"):
        objects("a: [")


def test_a_decision_shows_statuses_scores_totals_and_the_node() -> None:
    kit = PluginKit(
        BY_LABEL,
        args={"label": "rank"},
        weight=2,
        nodes=[node("low", labels={"rank": "10"}), node("high", labels={"rank": "90"}), node("x")],
    )
    decision = kit.decide(pod("p", cpu="1"))
    assert decision.node == "high"
    assert decision.rejected_by("ByLabel") == ["x"]
    assert decision.statuses["x"].message == "node(s) had no rank label"
    assert decision.statuses["high"].is_success
    assert decision.scores == {"low": 10, "high": 90}
    # The totals add the in-tree scores to ByLabel's, weighted 2.
    assert decision.totals["high"] - decision.totals["low"] == 2 * 80
    assert decision.permit == Status()


def test_decisions_do_not_leak_into_one_another_but_placed_pods_count() -> None:
    kit = PluginKit(
        BY_LABEL, args={"label": "rank"}, nodes=[node("a", cpu="1", labels={"rank": "1"})]
    )
    assert kit.decide(pod("p", cpu="1")).node == "a"
    assert kit.decide(pod("q", cpu="1")).node == "a"
    kit.place(pod("r", cpu="1"), "a")
    decision = kit.decide(pod("q", cpu="1"))
    assert decision.node is None
    assert decision.message.startswith("0/1 nodes are available: 1 Insufficient cpu.")


def test_invalid_args_are_refused_by_the_plugins_decoder() -> None:
    with pytest.raises(config.ConfigError, match=r"plugin ByLabel: args\.label: must be set"):
        PluginKit(BY_LABEL, args={})


def test_a_plugin_may_not_take_an_in_tree_name() -> None:
    impostor = PluginSpec("NodeAffinity", decode_label_args, ByLabel)
    with pytest.raises(ValueError, match="name of an in-tree plugin"):
        PluginKit(impostor)
    assert PluginKit(NODE_AFFINITY).plugin.name == "NodeAffinity"


class Waits:
    name: ClassVar[str] = "Waits"

    def __init__(self, args: object, handle: Handle) -> None:
        pass

    def permit(self, state: CycleState, pod: PodInfo, node: NodeName) -> tuple[Status, float]:
        return Status.wait(), 30.0


async def test_permit_answers_and_simulated_waits() -> None:
    kit = PluginKit(PluginSpec("Waits", no_args, Waits), nodes=[node("a")])
    decision = kit.decide(pod("p"))
    assert decision.node == "a"
    assert decision.permit is not None
    assert decision.permit.code is Code.WAIT
    assert decision.permit_waits == {"Waits": 30.0}
    results = await kit.simulate([pod("p")])
    assert [(r.pod, r.node, r.message) for r in results] == [
        (
            "default/p",
            None,
            "0/1 nodes are available: 1 rejected due to timeout after waiting 30s at plugin Waits.",
        )
    ]


GATES = CustomResource("example.com", "v1", "gates", kind="Gate")


class Gated:
    """Rejects pods whose namespace has a closed Gate (a custom resource)."""

    name: ClassVar[str] = "Gated"

    def __init__(self, args: object, handle: Handle) -> None:
        self.gates: CustomObjectLister[bool] = handle.custom_objects(GATES, self.is_open)

    @staticmethod
    def is_open(raw: Mapping[str, Any]) -> bool:
        return bool(raw["spec"]["open"])

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if False in self.gates.list(pod.namespace):
            return Status.unresolvable("gate closed")
        return Status()

    def events_to_register(self) -> Sequence[object]:
        return ()


def gate(namespace: str, *, open_: bool) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Gate",
        "metadata": {"name": "g", "namespace": namespace},
        "spec": {"open": open_},
    }


def test_custom_objects_reach_the_plugins_lister() -> None:
    kit = PluginKit(
        PluginSpec("Gated", no_args, Gated),
        nodes=[node("a")],
        objects=[gate("shut", open_=False), gate("free", open_=True)],
    )
    assert kit.decide(pod("p", namespace="shut")).node is None
    assert kit.decide(pod("p", namespace="free")).node == "a"
    kit.add_objects([gate("later", open_=False)])
    assert kit.decide(pod("p", namespace="later")).rejected_by("Gated") == ["a"]
