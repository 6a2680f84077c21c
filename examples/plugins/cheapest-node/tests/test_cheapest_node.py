"""CheapestNode's table tests, with py-scheduler's plugin kit: the default
profile plus the plugin, over nodes with prices."""

from __future__ import annotations

import random
from typing import Any

import pytest
from cheapest_node import SPEC, CheapestNode, CheapestNodeArgs, read_price

from py_scheduler.framework import Node, NodeColumns, NodeInfo
from py_scheduler.testing import ConfigError, PluginKit, node, pod

KEY = "pricing.example.com/hourly"


def priced(name: str, price: str | None, *, label: bool = False, **fields: Any) -> Node:
    if price is None:
        return node(name, **fields)
    where = {"labels": {KEY: price}} if label else {"annotations": {KEY: price}}
    return node(name, **where, **fields)


PRICES = [
    pytest.param("0.42", 420_000, id="a decimal price"),
    pytest.param("3", 3_000_000, id="a whole price"),
    pytest.param(" 1.5 ", 1_500_000, id="spaces around"),
    pytest.param("0", 0, id="free"),
    pytest.param("-1", -1, id="negative is unknown"),
    pytest.param("cheap", -1, id="not a number is unknown"),
    pytest.param("NaN", -1, id="NaN is unknown"),
    pytest.param("1e12", -1, id="beyond a billion an hour is unknown"),
    pytest.param(None, -1, id="absent is unknown"),
]


@pytest.mark.parametrize(("text", "micros"), PRICES)
def test_read_price(text: str | None, micros: int) -> None:
    assert read_price(text) == micros


SCORES = [
    pytest.param(
        [("a", "0.10"), ("b", "0.20"), ("c", "0.30")],
        {},
        {"a": 100, "b": 50, "c": 0},
        "a",
        id="the cheapest scores 100, the dearest 0, linearly between",
    ),
    pytest.param(
        [("a", "1.00"), ("b", "1.00")],
        {},
        {"a": 100, "b": 100},
        None,
        id="equal prices all score 100",
    ),
    pytest.param(
        [("a", None), ("b", "0.50"), ("c", "bogus")],
        {},
        {"a": 0, "b": 100, "c": 0},
        "b",
        id="a missing or unreadable price is least preferred",
    ),
    pytest.param(
        [("a", None), ("b", "0.50"), ("c", "0.90")],
        {"unknownPriceScore": 50},
        {"a": 50, "b": 100, "c": 0},
        "b",
        id="unknownPriceScore sets the score of unpriced nodes",
    ),
]


@pytest.mark.parametrize(("prices", "args", "scores", "chosen"), SCORES)
def test_scores(
    prices: list[tuple[str, str | None]],
    args: dict[str, object],
    scores: dict[str, int],
    chosen: str | None,
) -> None:
    kit = PluginKit(SPEC, args=args, weight=10, nodes=[priced(n, p) for n, p in prices])
    decision = kit.decide(pod("web", cpu="100m"))
    assert decision.scores == scores
    if chosen is not None:
        assert decision.node == chosen


def test_the_annotation_wins_over_the_label_and_the_label_is_read_without_one() -> None:
    kit = PluginKit(
        SPEC,
        weight=10,
        nodes=[
            node("both", labels={KEY: "0.01"}, annotations={KEY: "0.90"}),
            priced("label-only", "0.45", label=True),
        ],
    )
    assert kit.decide(pod("web")).scores == {"both": 0, "label-only": 100}


def test_the_weight_scales_the_price_among_the_default_profiles_scores() -> None:
    def margin(weight: int) -> int:
        kit = PluginKit(
            SPEC,
            weight=weight,
            nodes=[priced("cheap", "0.10", cpu="4"), priced("dear", "0.11", cpu="4")],
        )
        kit.place(pod("busy", cpu="3500m"), "cheap")
        decision = kit.decide(pod("web", cpu="200m"))
        assert decision.scores == {"cheap": 100, "dear": 0}
        return decision.totals["cheap"] - decision.totals["dear"]

    # The in-tree scorers prefer the emptier (dear) node; the price counts weight x 100.
    assert margin(10) - margin(1) == 9 * 100
    assert 0 < margin(1) < 100


def test_a_node_that_does_not_fit_is_not_scored() -> None:
    kit = PluginKit(
        SPEC,
        weight=10,
        nodes=[
            priced("cheap", "0.10", cpu="1"),
            priced("mid", "0.30", cpu="8"),
            priced("dear", "0.50", cpu="8"),
        ],
    )
    decision = kit.decide(pod("big", cpu="2"))
    assert decision.node == "mid"
    assert decision.scores == {"mid": 100, "dear": 0}
    assert decision.statuses["cheap"].message == "Insufficient cpu"


ARGS_ERRORS = [
    pytest.param({"unknownPriceScore": 101}, "args.unknownPriceScore: must be in 0..100, got 101"),
    pytest.param({"annotation": "", "label": ""}, "args: set annotation or label (or both)"),
    pytest.param({"lable": "x"}, "args.lable: unknown field"),
    pytest.param({"label": 3}, "args.label: expected a string, got int"),
]


@pytest.mark.parametrize(("args", "message"), ARGS_ERRORS)
def test_invalid_args_stop_start_up_with_the_field(args: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        PluginKit(SPEC, args=args)
    assert f"plugin CheapestNode: {message}" in str(caught.value)


def test_many_nodes_are_scored_by_the_columnar_form_with_the_same_scores() -> None:
    rng = random.Random(7)
    prices = [None if i % 7 == 0 else f"{rng.randint(5, 500) / 100:.2f}" for i in range(120)]
    nodes = [priced(f"n{i:03}", p) for i, p in enumerate(prices)]
    kit = PluginKit(SPEC, weight=5, nodes=nodes, configuration=None)
    columnar = kit.decide(pod("web"))
    # The same scores per node, computed one node at a time.
    plugin = kit.plugin
    assert isinstance(plugin, CheapestNode)
    infos = [NodeInfo(n) for n in nodes if n.name in columnar.scores]
    raw = [plugin.score(None, None, n) for n in infos]  # type: ignore[arg-type]
    plugin.normalize_scores(None, None, raw)  # type: ignore[arg-type]
    assert columnar.scores == dict(zip([n.name for n in infos], raw, strict=True))


@pytest.mark.parametrize("seed", range(5))
def test_the_columnar_form_equals_the_per_node_form(seed: int) -> None:
    rng = random.Random(seed)
    args = CheapestNodeArgs(unknown_price_score=rng.choice([0, 30]))
    plugin = CheapestNode(args, None)  # type: ignore[arg-type]
    infos = []
    for i in range(60):
        price = rng.choice([None, "junk", f"{rng.randint(0, 10_000) / 1000}"])
        infos.append(NodeInfo(priced(f"n{i}", price)))
    columns = NodeColumns()
    columns.sync(infos, object())
    rows = columns.rows_of(infos[10:50])
    assert rows is not None
    batch = plugin.score_batch(None, None, columns, rows)  # type: ignore[arg-type]
    assert batch is not None
    per_node = [plugin.score(None, None, n) for n in infos[10:50]]  # type: ignore[arg-type]
    plugin.normalize_scores(None, None, per_node)  # type: ignore[arg-type]
    assert batch.tolist() == per_node


async def test_a_simulated_run_fills_the_cheapest_nodes_first() -> None:
    kit = PluginKit(
        SPEC,
        weight=20,
        nodes=[priced("dear", "0.90", cpu="2"), priced("cheap", "0.10", cpu="2")],
    )
    results = await kit.simulate([pod(f"p{i}", cpu="1") for i in range(3)])
    assert [r.node for r in results] == ["cheap", "cheap", "dear"]
