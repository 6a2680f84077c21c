"""``simulate`` with volumes: the live VolumeBinding code against a snapshot,
with the simulated cluster playing the PV controller and a provisioner.

We test these aspects: a WaitForFirstConsumer claim lands where its local
volume is and ends bound to it; two pods never get one volume; a claim no
volume can satisfy leaves its pod pending with upstream's message; a claim
of a provisioning class is provisioned on the chosen node.
"""

from __future__ import annotations

from typing import Any

import yaml

from py_scheduler import config
from py_scheduler.simulation.run import simulate
from py_scheduler.simulation.snapshot import parse
from tests.builders import raw_node, raw_pod, raw_pv, raw_pvc, raw_storage_class

HOSTNAME = "kubernetes.io/hostname"


def claimant(name: str, claim: str) -> dict[str, Any]:
    return raw_pod(name, volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": claim}}])


async def run(*docs: dict[str, Any]) -> dict[str, tuple[str | None, str]]:
    snap = parse(yaml.safe_dump_all(docs))
    results = await simulate(snap, config.load(None), seed=0)
    return {r.pod: (r.node, r.message) for r in results}


async def test_a_claim_lands_where_its_local_volume_is() -> None:
    got = await run(
        raw_node("n1"),
        raw_node("n2"),
        raw_storage_class("local"),
        raw_pv("pv-n2", "local", capacity="10Gi", node_affinity={HOSTNAME: ["n2"]}),
        raw_pvc("data", "local", request="5Gi"),
        claimant("app", "data"),
    )
    assert got["default/app"] == ("n2", "")


async def test_two_pods_do_not_share_one_volume() -> None:
    got = await run(
        raw_node("n1"),
        raw_storage_class("local"),
        raw_pv("pv-1", "local", node_affinity={HOSTNAME: ["n1"]}),
        raw_pvc("a", "local"),
        raw_pvc("b", "local"),
        claimant("pod-a", "a"),
        claimant("pod-b", "b"),
    )
    placed = [node for node, _ in got.values() if node]
    assert placed == ["n1"]
    pending = [msg for node, msg in got.values() if not node]
    assert pending == [
        "0/1 nodes are available: 1 node(s) didn't find available persistent volumes to bind. "
        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
    ]


async def test_a_provisioning_class_provisions_on_the_chosen_node() -> None:
    got = await run(
        raw_node("n1", labels={"zone": "a"}),
        raw_node("n2", labels={"zone": "b"}),
        raw_storage_class(
            "zonal", provisioner="example.com/disk", allowed_topologies={"zone": ["b"]}
        ),
        raw_pvc("data", "zonal"),
        claimant("app", "data"),
    )
    assert got["default/app"] == ("n2", "")
