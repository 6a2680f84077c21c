"""The example scenarios, live and simulated, agree.

Runs the demo's flow on a control plane of its own (it clears nodes between
scenarios): every pending pod of every example is either placed by the live
scheduler or left pending exactly when ``simulate`` says so; where the
scenario leaves no tie, the node is the same too. A Deployment's live pods
have random names, so for 09 and 10 only what does not depend on names is
compared: which nodes and zones the replicas take, how many stay pending and
with what message.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
import yaml

from controlplane import launcher
from controlplane.demo import PENDING, Placement, run_demo
from py_scheduler.model.server import ServerInfo
from tests.integration.kube import dra_words

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ZONE = "topology.kubernetes.io/zone"


def anti_affinity_rejection(server: ServerInfo) -> str:
    return (
        "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. "
        f"{dra_words(server)}"
        "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    )


def no_gpu_left(server: ServerInfo) -> str:
    return (
        "0/2 nodes are available: 2 cannot allocate all claims. "
        f"{dra_words(server, 'still not schedulable')}"
        "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    )


@pytest.fixture(scope="module")
def placements(control_plane: launcher.LocalControlPlane) -> dict[str, Placement]:
    del control_plane  # only to share the skip/fail rule for missing binaries
    with launcher.running() as plane:
        return asyncio.run(run_demo(plane, EXAMPLES, quiet=True))


def of(placements: dict[str, Placement], example: str) -> list[Placement]:
    return [p for key, p in placements.items() if key.startswith(f"{example}:")]


def test_every_example_pod_is_decided_the_same_way_live_and_simulated(
    placements: dict[str, Placement],
) -> None:
    assert placements, "no example pods were found"
    for pod, p in placements.items():
        assert (p.live == PENDING) == (p.simulated == PENDING), (pod, p)


def test_scenarios_without_ties_land_on_the_same_node(
    placements: dict[str, Placement],
) -> None:
    def nodes(key: str) -> tuple[str, str]:
        return placements[key].live, placements[key].simulated

    # 01 spreads three pods over three equal nodes, so only the set of nodes
    # is determined; 03 may pick any of three equal victims.
    spread = of(placements, "01-spread")
    assert sorted(p.live for p in spread) == ["node1", "node2", "node3"]
    assert sorted(p.simulated for p in spread) == ["node1", "node2", "node3"]
    assert nodes("02-no-room:default/d") == (PENDING, PENDING)
    assert placements["03-preempt:default/d"].live != PENDING
    assert nodes("04-anti-affinity:default/d") == ("node3", "node3")
    assert nodes("05-fewest-victims:default/testpc") == ("node-a", "node-a")
    assert nodes("06-pdb-steers:default/vip") == ("node2", "node2")
    assert nodes("07-pdb-forbids:default/vip") == (PENDING, PENDING)
    # 08: only node1 and node3 hold local volumes big enough for a replica.
    replicas = of(placements, "08-statefulset-wffc")
    assert sorted(p.live for p in replicas) == ["node1", "node3"]
    assert sorted(p.simulated for p in replicas) == ["node1", "node3"]


def test_anti_affinity_replicas_take_a_node_each_and_the_fourth_waits(
    placements: dict[str, Placement], server: ServerInfo
) -> None:
    replicas = of(placements, "09-anti-affinity-deployment")
    assert len(replicas) == 4
    for side in ("live", "simulated"):
        nodes = sorted(getattr(p, side) for p in replicas)
        assert nodes == sorted(["node1", "node2", "node3", PENDING]), side
    waiting = [p for p in replicas if p.live == PENDING]
    assert [p.reason for p in waiting] == [anti_affinity_rejection(server)]
    assert [p.predicted for p in waiting] == [anti_affinity_rejection(server)]


def test_zone_spread_replicas_are_two_per_zone(placements: dict[str, Placement]) -> None:
    docs = yaml.safe_load_all((EXAMPLES / "10-zone-spread-deployment.yaml").read_text())
    zones = {
        d["metadata"]["name"]: d["metadata"]["labels"][ZONE] for d in docs if d["kind"] == "Node"
    }
    replicas = of(placements, "10-zone-spread-deployment")
    assert len(replicas) == 6
    for side in ("live", "simulated"):
        per_zone = Counter(zones.get(getattr(p, side), PENDING) for p in replicas)
        assert per_zone == {"zone-a": 2, "zone-b": 2, "zone-c": 2}, side


def test_gpu_pods_take_one_a100_each_and_the_one_asking_too_much_waits(
    placements: dict[str, Placement], server: ServerInfo
) -> None:
    # train-1 and train-2 tie between the nodes: only the pair is determined.
    pair = [placements[f"11-dra-gpu:default/train-{i}"] for i in (1, 2)]
    for side in ("live", "simulated"):
        assert sorted(getattr(p, side) for p in pair) == ["node1", "node2"], side
    waiting = placements["11-dra-gpu:default/train-3"]
    assert (waiting.live, waiting.simulated) == (PENDING, PENDING)
    assert (waiting.reason, waiting.predicted) == (no_gpu_left(server), no_gpu_left(server))
