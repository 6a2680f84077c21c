"""The example scenarios, live and simulated, agree.

Runs the demo's flow on a control plane of its own (it clears nodes between
scenarios): every pending pod of every example is either placed by the live
scheduler or left pending exactly when ``simulate`` says so; where the
scenario leaves no tie, the node is the same too.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from scheduler.devcluster import controlplane
from scheduler.devcluster.demo import run_demo

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def placements(control_plane: controlplane.LocalControlPlane) -> dict[str, tuple[str, str]]:
    del control_plane  # only to share the skip/fail rule for missing binaries
    with controlplane.running() as plane:
        return asyncio.run(run_demo(plane, EXAMPLES, quiet=True))


def test_every_example_pod_is_decided_the_same_way_live_and_simulated(
    placements: dict[str, tuple[str, str]],
) -> None:
    assert placements, "no example pods were found"
    for pod, (live, simulated) in placements.items():
        assert (live == "<pending>") == (simulated == "<pending>"), (pod, live, simulated)


def test_scenarios_without_ties_land_on_the_same_node(
    placements: dict[str, tuple[str, str]],
) -> None:
    # 01 spreads three pods over three equal nodes, so only the set of nodes
    # is determined; 03 may pick any of three equal victims.
    spread = [v for k, v in placements.items() if k.startswith("01-spread:")]
    assert sorted(live for live, _ in spread) == ["node1", "node2", "node3"]
    assert sorted(sim for _, sim in spread) == ["node1", "node2", "node3"]
    assert placements["02-no-room:default/d"] == ("<pending>", "<pending>")
    assert placements["03-preempt:default/d"][0] != "<pending>"
    assert placements["04-anti-affinity:default/d"] == ("node3", "node3")
    assert placements["05-fewest-victims:default/testpc"] == ("node-a", "node-a")
    assert placements["06-pdb-steers:default/vip"] == ("node2", "node2")
    assert placements["07-pdb-forbids:default/vip"] == ("<pending>", "<pending>")
    # 08: only node1 and node3 hold local volumes big enough for a replica.
    replicas = [v for k, v in placements.items() if k.startswith("08-statefulset-wffc:")]
    assert sorted(live for live, _ in replicas) == ["node1", "node3"]
    assert sorted(sim for _, sim in replicas) == ["node1", "node3"]
