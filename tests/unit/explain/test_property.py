"""explain agrees with simulate, over generated clusters.

We test these aspects, for every seed of ``random_clusters.scenario``:
- the explanation's decision is simulate's: the node it chose (or, on a tie,
  a node of the tie it reports), the node preemption nominated, or none;
- every suggestion marked verified makes simulate place the pod on the
  changed snapshot it was verified on, and every one not verified does not;
- the explanation accounts for every node exactly once.
"""

from __future__ import annotations

import random

import pytest

from py_scheduler import config
from py_scheduler.explain.offline import explain_pod
from py_scheduler.explain.suggest import tried_changes
from py_scheduler.simulation.run import simulate
from py_scheduler.simulation.snapshot import from_documents
from tests.unit import random_clusters

SEEDS = 120
CFG = config.parse({})


@pytest.mark.parametrize("seed", range(SEEDS))
async def test_explanation_and_verified_suggestions_agree_with_simulate(seed: int) -> None:
    snap = from_documents(random_clusters.scenario(random.Random(seed)))
    ex = await explain_pod(snap, CFG, random_clusters.TARGET, seed=seed)
    assert sorted(n.name for n in ex.nodes) == sorted(n.name for n in snap.nodes)
    assert ex.feasible_nodes == sum(1 for n in ex.nodes if n.feasible)

    [result] = [r for r in await simulate(snap, CFG, seed=seed) if r.pod == random_clusters.TARGET]
    if result.victims:
        # Preemption: simulate binds on the node it nominated once the victims left.
        assert ex.nominated_node is not None
        assert ex.preemption is not None
        assert result.node in {c.node for c in ex.preemption.candidates}
    elif ex.tie_break is not None:
        assert ex.node == result.node
        assert result.node in ex.tie_break["nodes"]
    else:
        assert ex.node == result.node
        assert ex.nominated_node is None
    if ex.node is None:
        assert ex.message.startswith(f"0/{len(snap.nodes)} nodes are available")
        assert ex.condition is not None
        assert ex.condition["reason"] == "Unschedulable"

    for suggestion, changed in await tried_changes(
        snap, CFG, ex, random_clusters.TARGET, seed=seed
    ):
        placed = [
            r for r in await simulate(changed, CFG, seed=seed) if r.pod == random_clusters.TARGET
        ]
        assert bool(placed and placed[0].node) == suggestion.verified, suggestion
