"""The explanation of one cycle.

We test these aspects:
- the message and condition are the scheduler's own (simulate's message);
- every Filter plugin that rejects a node is listed, the counted status first
  in plugin order, with the shortfall of each missing resource;
- scores: weighted = normalized x weight, the total their sum, the winner the
  best total with its margin, and a tie reported with every tied node;
- preemption: candidates, victims, and the budgets that block, by how much;
- a bound pod, a pod of another scheduler, a gated pod, a PreFilter
  rejection and a pod held at Permit are each explained as such;
- the JSON reads back as it was written, and the text stays short for
  hundreds of nodes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from py_scheduler import config, plugins
from py_scheduler.explain import text
from py_scheduler.explain.offline import ExplainError, explain_pod
from py_scheduler.explain.report import Explanation
from py_scheduler.framework import CycleState, Handle, NoArgs, PluginSpec, PodInfo, Status, no_args
from py_scheduler.model import NodeName
from py_scheduler.simulation.run import simulate
from py_scheduler.simulation.snapshot import from_documents, load
from tests.builders import raw_node, raw_pod
from tests.unit.random_clusters import raw_pdb

Raw = dict[str, Any]
CFG = config.parse({})
EXAMPLES = Path(__file__).parents[3] / "examples"
TAINT = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}


def node(name: str, cpu: str = "4", **kwargs: Any) -> Raw:
    return raw_node(name, allocatable={"cpu": cpu, "memory": "8Gi", "pods": "110"}, **kwargs)


def pod(name: str = "incoming", cpu: str = "1", **kwargs: Any) -> Raw:
    return raw_pod(name, requests={"cpu": cpu}, **kwargs)


async def explain(docs: list[Raw], key: str = "default/incoming") -> Explanation:
    return await explain_pod(from_documents(docs), CFG, key)


async def test_the_message_is_the_schedulers_own() -> None:
    snap = load(EXAMPLES / "02-no-room.yaml")
    ex = await explain_pod(snap, CFG, "default/d")
    [result] = [r for r in await simulate(snap, CFG) if r.pod == "default/d"]
    assert ex.node is None
    assert ex.message == result.message
    assert ex.condition == {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": result.message,
    }
    assert ex.preemption is not None
    assert ex.preemption.outcome == "not-helpful"
    for report in ex.nodes:
        assert [v.plugin for v in report.filters] == ["NodeResourcesFit"]
        assert report.shortfall == {"cpu": "2"}


async def test_every_rejecting_plugin_is_listed_the_counted_one_first() -> None:
    ex = await explain([node("n1", cpu="1", taints=[TAINT]), node("n2"), pod(cpu="2")])
    n1 = ex.node_report("n1")
    assert n1 is not None
    assert n1.status is not None
    assert [(v.plugin, v.reasons) for v in n1.filters] == [
        ("TaintToleration", ("node(s) had untolerated taint(s)",)),
        ("NodeResourcesFit", ("Insufficient cpu",)),
    ]
    assert n1.status == n1.filters[0]
    assert n1.shortfall == {"cpu": "1"}
    assert ex.node == "n2"
    assert [r.name for r in ex.nodes] == ["n2", "n1"]  # the feasible first


async def test_scores_add_up_and_the_winner_leads_by_its_margin() -> None:
    docs = [node("n1"), node("n2"), node("n3", cpu="8"), pod(cpu="1")]
    docs.append(raw_pod("busy", node_name="n1", requests={"cpu": "3"}))
    ex = await explain(docs)
    scored = [r for r in ex.nodes if r.feasible]
    for report in scored:
        for plugin, score in report.scores.items():
            assert score.weighted == score.normalized * ex.score_weights[plugin]
        assert report.total == sum(s.weighted for s in report.scores.values())
    assert ex.winner is not None
    assert ex.node == ex.winner["node"] == "n3"
    totals = sorted((r.total or 0 for r in scored), reverse=True)
    assert ex.winner["total"] == totals[0]
    assert ex.winner["margin"] == totals[0] - totals[1]
    assert ex.tie_break is None


async def test_a_tie_names_every_tied_node() -> None:
    ex = await explain([node("n1"), node("n2"), node("n3"), pod()])
    assert ex.tie_break is not None
    assert ex.tie_break["nodes"] == ["n1", "n2", "n3"]
    assert ex.node in ex.tie_break["nodes"]


async def test_preemption_names_candidates_victims_and_blocking_budgets() -> None:
    docs = [
        node("n1"),
        raw_pod(
            "low",
            node_name="n1",
            labels={"app": "batch"},
            requests={"cpu": "4"},
            priority=0,
            start_time="2026-01-01T00:00:00Z",
        ),
        raw_pdb("batch", "batch", 0),
        pod(cpu="2", priority=100),
    ]
    ex = await explain(docs)
    assert ex.preemption is not None
    assert ex.preemption.outcome == "blocked-by-pdb"
    assert ex.nominated_node is None
    [candidate] = ex.preemption.candidates
    assert candidate.node == "n1"
    assert candidate.victims == ("default/low",)
    assert [b.to_json() for b in candidate.blocking] == [
        {"pdb": "default/batch", "disruptionsAllowed": 0, "victims": 1, "short": 1}
    ]
    allowed = await explain([*docs[:2], raw_pdb("batch", "batch", 1), docs[3]])
    assert allowed.preemption is not None
    assert allowed.preemption.outcome == "nominated"
    assert allowed.nominated_node == "n1"
    assert allowed.preemption.victims == ["default/low"]


async def test_a_bound_pod_is_explained_as_if_pending_now() -> None:
    ex = await explain([node("n1"), node("n2", cpu="8"), pod(node_name="n1")])
    assert ex.bound_node == "n1"
    assert ex.node == "n2"
    assert any("bound to n1" in w for w in ex.warnings)
    n1 = ex.node_report("n1")
    assert n1 is not None
    assert f"  bound to n1: it totals {n1.total} now, rank 2 of 2\n" in text.render(ex)


async def test_a_pod_of_another_scheduler_is_explained_as_ours_with_a_warning() -> None:
    ex = await explain([node("n1"), pod(scheduler_name="default-scheduler")])
    assert ex.node == "n1"
    assert ex.profile == "py-scheduler"
    assert any("default-scheduler" in w for w in ex.warnings)


async def test_a_gated_pod_is_not_attempted() -> None:
    ex = await explain([node("n1"), pod(gates=["example.com/wait"])])
    assert ex.node is None
    assert ex.condition is not None
    assert ex.condition["reason"] == "SchedulingGated"
    assert ex.message == "waiting for scheduling gates: [example.com/wait]"


async def test_nodes_a_prefilter_ruled_out_say_so() -> None:
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}
                ]
            }
        }
    }
    ex = await explain([node("n1"), node("n2", cpu="1"), pod(cpu="2", affinity=affinity)])
    n1 = ex.node_report("n1")
    assert n1 is not None
    assert n1.status is not None
    assert n1.status.reasons == ("node(s) didn't satisfy plugin(s) [NodeAffinity]",)
    n2 = ex.node_report("n2")
    assert n2 is not None
    assert [v.plugin for v in n2.filters] == ["NodeResourcesFit"]


async def test_a_pod_missing_from_the_snapshot_is_an_error() -> None:
    with pytest.raises(ExplainError, match="pod default/ghost is not in the snapshot"):
        await explain([node("n1")], "default/ghost")


async def test_the_json_reads_back_as_written() -> None:
    ex = await explain_pod(load(EXAMPLES / "03-preempt.yaml"), CFG, "default/d")
    first = ex.to_json()
    assert Explanation.from_json(first).to_json() == first
    assert set(first) >= {"pod", "node", "message", "nodes", "suggestions"}
    for node_json in first["nodes"]:
        assert set(node_json) >= {"name", "filters", "scores", "total"}


async def test_the_text_stays_short_for_hundreds_of_nodes() -> None:
    docs: list[Raw] = [
        node(f"n{i:03d}", cpu="1", taints=[TAINT] if i % 3 else ()) for i in range(400)
    ]
    docs.append(pod(cpu="2"))
    ex = await explain(docs)
    assert len(ex.nodes) == 400
    rendered = text.render(ex)
    assert len(rendered.splitlines()) < 30
    assert "NodeResourcesFit: Insufficient cpu: 400 nodes" in rendered
    assert "TaintToleration: node(s) had untolerated taint(s): 266 nodes" in rendered


async def test_a_finished_pod_is_an_error() -> None:
    with pytest.raises(ExplainError, match=r"has finished \(phase Succeeded\)"):
        await explain([node("n1"), pod(node_name="n1", phase="Succeeded")])


class Holds:
    """An out-of-tree Permit plugin that holds every pod for a minute."""

    name: ClassVar[str] = "Holds"

    def __init__(self, args: NoArgs, handle: Handle) -> None:
        del args, handle

    def permit(self, state: CycleState, pod: PodInfo, node: NodeName) -> tuple[Status, float]:
        return Status.wait(), 60.0


async def test_a_pod_held_at_permit_is_explained_as_allowed_and_says_who_holds_it() -> None:
    registry = {**plugins.IN_TREE, "Holds": PluginSpec("Holds", no_args, Holds)}
    cfg = config.parse(
        {
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "KubeSchedulerConfiguration",
            "profiles": [{"plugins": {"multiPoint": {"enabled": [{"name": "Holds"}]}}}],
        },
        registry=registry,
    )
    ex = await explain_pod(from_documents([node("n1"), pod()]), cfg, "default/incoming")
    assert ex.node == "n1"
    assert ex.warnings == [
        "Permit plugin(s) Holds hold the pod at node n1 until they allow it (or it times "
        "out); explained as if allowed"
    ]
