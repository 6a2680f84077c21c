"""``simulate`` with pod groups of both APIs: the snapshot's PodGroups are read
as the live watches would, a gang that fits is placed whole, and a gang that
cannot be placed whole leaves every member pending with the group's message."""

from __future__ import annotations

import pytest

from py_scheduler import config
from py_scheduler.simulation.run import simulate
from py_scheduler.simulation.snapshot import parse

NODES = "".join(
    f"""
---
apiVersion: v1
kind: Node
metadata: {{name: n{i}}}
status: {{allocatable: {{cpu: "1", memory: 1Gi, pods: "10"}}}}
"""
    for i in range(3)
)


def group(api: str, name: str, min_member: int) -> str:
    if api == "plugins":
        return f"""
---
apiVersion: scheduling.x-k8s.io/v1alpha1
kind: PodGroup
metadata: {{name: {name}, namespace: default}}
spec: {{minMember: {min_member}}}
"""
    return f"""
---
apiVersion: scheduling.k8s.io/v1beta1
kind: PodGroup
metadata: {{name: {name}, namespace: default}}
spec: {{schedulingPolicy: {{gang: {{minCount: {min_member}}}}}}}
"""


def pods(api: str, name: str, count: int) -> str:
    out = ""
    for i in range(count):
        joins = (
            f"metadata: {{name: {name}-{i}, namespace: default, labels: "
            f"{{scheduling.x-k8s.io/pod-group: {name}}}}}\nspec:\n"
            if api == "plugins"
            else f"metadata: {{name: {name}-{i}, namespace: default}}\nspec:\n"
            f"  schedulingGroup: {{podGroupName: {name}}}\n"
        )
        out += f"""
---
apiVersion: v1
kind: Pod
{joins}  schedulerName: py-scheduler
  containers: [{{name: c, image: pause, resources: {{requests: {{cpu: "1"}}}}}}]
"""
    return out


@pytest.mark.parametrize("api", ["plugins", "workload"])
async def test_a_gang_that_cannot_be_placed_whole_leaves_every_member_pending(api: str) -> None:
    snapshot = parse(NODES + group(api, "big", 4) + pods(api, "big", 4))
    results = await simulate(snapshot, config.parse({}))
    assert [r.node for r in results] == [None] * 4
    for r in results:
        assert "pod group default/big" in r.message, r.message
        assert "the cluster's free capacity cannot hold the pod group (cpu short)" in r.message


@pytest.mark.parametrize("api", ["plugins", "workload"])
async def test_a_gang_that_fits_is_placed_whole_beside_one_that_does_not(api: str) -> None:
    text = NODES + group(api, "small", 2) + pods(api, "small", 2)
    text += group(api, "big", 3) + pods(api, "big", 3)
    results = {r.pod: r for r in await simulate(parse(text), config.parse({}))}
    assert [results[f"default/small-{i}"].node is not None for i in range(2)] == [True, True]
    # One node is left: the gang of three cannot complete, so none of it is placed.
    assert [results[f"default/big-{i}"].node for i in range(3)] == [None, None, None]
    assert all("pod group default/big" in results[f"default/big-{i}"].message for i in range(3))
