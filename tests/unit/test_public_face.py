"""py_scheduler.framework is the public face: a plugin written against it
alone registers, runs in a profile next to the in-tree plugins, and is
scheduled with."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import ClassVar, Final

import py_scheduler.framework as fw
from py_scheduler import config, plugins
from py_scheduler.framework import (
    MAX_NODE_SCORE,
    SUCCESS,
    ActionType,
    ClusterEventWithHint,
    CycleState,
    Handle,
    NoArgs,
    NodeInfo,
    PluginSpec,
    PodInfo,
    Resource,
    StateKey,
    Status,
    event,
    no_args,
)
from py_scheduler.framework.runtime import Framework, PluginRef
from py_scheduler.scheduling.algorithm import Algorithm
from tests.builders import make_node, make_pod, node_info
from tests.fakes import FakeCluster, FakeNominator, FakeObjects, FakeSnapshot

_RACK: Final = StateKey[str]("PreferRack/rack")


class PreferRack:
    """Out of tree: rejects nodes without a rack label, prefers the pod's rack."""

    name: ClassVar[str] = "PreferRack"

    def __init__(self, args: NoArgs, handle: Handle) -> None:
        del args, handle

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if "rack" not in node.node.labels:
            return Status.unresolvable("node(s) had no rack")
        return SUCCESS

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        state.write(_RACK, pod.labels.get("rack", ""))
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return MAX_NODE_SCORE if node.node.labels.get("rack") == state.read(_RACK) else 0

    def events_to_register(self) -> Sequence[ClusterEventWithHint]:
        return (ClusterEventWithHint(event(Resource.NODE, ActionType.ADD)),)


def test_every_public_name_is_exported_and_importable() -> None:
    assert sorted(fw.__all__) == sorted(set(fw.__all__))
    for name in fw.__all__:
        assert getattr(fw, name) is not None, name


def test_a_plugin_built_on_the_public_face_schedules_alongside_the_in_tree_ones() -> None:
    spec = PluginSpec(PreferRack.name, no_args, PreferRack)
    profile = config.parse({}).profiles[0]
    profile = type(profile)(
        profile.scheduler_name,
        multi_point=(*profile.multi_point, PluginRef(PreferRack.name, 50)),
        points=profile.points,
        args=profile.args,
    )
    nodes = [
        node_info("a", labels={"rack": "r1"}),
        node_info("b", labels={"rack": "r2"}),
        NodeInfo(make_node("c")),
    ]
    snapshot = FakeSnapshot(nodes)
    fwk = Framework(
        profile,
        {**plugins.IN_TREE, spec.name: spec},
        snapshot=snapshot,
        objects=FakeObjects(),
        cluster=FakeCluster(),
        nominator=FakeNominator(),
    )
    assert "PreferRack" in {p.name for p in fwk.filter} & {p.name for p in fwk.score}
    algorithm = Algorithm(percentage_of_nodes_to_score=0, rng=random.Random(0))
    pod = make_pod("p", labels={"rack": "r2"})
    result = algorithm.schedule(fwk, CycleState(), pod, snapshot)
    assert (result.node, result.evaluated, result.feasible) == ("b", 3, 2)


def test_every_public_name_is_documented() -> None:
    """The public face is a contract: each class and function says what it is,
    and each extension-point method what it must do."""
    import inspect

    missing = []
    for name in fw.__all__:
        obj = getattr(fw, name)
        own = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
        if (inspect.isclass(obj) or inspect.isfunction(obj)) and not (own or "").strip():
            missing.append(name)
        if inspect.isclass(obj) and name.endswith("Plugin"):
            for attr, member in vars(obj).items():
                if (
                    inspect.isfunction(member)
                    and not attr.startswith("_")
                    and not (member.__doc__ or "").strip()
                ):
                    missing.append(f"{name}.{attr}")
    assert missing == []
