"""``CheapestNode``: a Score plugin that prefers the nodes with the lowest
price per hour, read from a node annotation or label.

Among the nodes that passed Filter, the cheapest scores 100 and the dearest
0, linearly in between; a node whose price is missing or unreadable scores
``unknownPriceScore`` (0 by default: the least preferred). The price is a
decimal number ("0.42"); it is read in millionths, so the scores are exact
integers whichever form (per node or columnar) computes them.

The columnar form (``score_batch``) keeps the prices as a column next to
the scheduler's own (``NodeColumns.derived``), refreshed only for nodes that
changed, and scores every candidate at once; it must and does give the same
scores as ``score`` plus ``normalize_scores``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import ClassVar, Final

import numpy as np

from cheapest_node.args import CheapestNodeArgs, decode_args
from py_scheduler.framework import (
    MAX_NODE_SCORE,
    CycleState,
    Handle,
    Int64s,
    NodeColumns,
    NodeInfo,
    PluginSpec,
    PodInfo,
)

NAME: Final = "CheapestNode"
UNKNOWN: Final = -1  # the raw score of a node without a readable price
MICROS: Final = 1_000_000
# Prices above this (per hour) are treated as unknown: it keeps 100 x price in int64.
MAX_PRICE: Final = Decimal(10**9)


def read_price(text: str | None) -> int:
    """A price per hour in millionths; ``UNKNOWN`` when absent or unreadable."""
    if text is None:
        return UNKNOWN
    try:
        price = Decimal(text.strip())
    except InvalidOperation:
        return UNKNOWN
    if not price.is_finite() or price < 0 or price > MAX_PRICE:
        return UNKNOWN
    return int(price * MICROS)


class CheapestNode:
    name: ClassVar[str] = NAME
    # score_batch returns normalised scores, so the columnar form is used even
    # though the plugin normalises.
    batch_normalizes: ClassVar[bool] = True

    def __init__(self, args: CheapestNodeArgs, handle: Handle) -> None:
        del handle
        self.args = args
        # One column per configuration: another profile may read another key.
        self._column = f"{NAME}/{args.annotation}/{args.label}"

    def price_of(self, node_info: NodeInfo) -> int:
        node = node_info.node
        if self.args.annotation and self.args.annotation in node.annotations:
            return read_price(node.annotations[self.args.annotation])
        if self.args.label:
            return read_price(node.labels.get(self.args.label))
        return UNKNOWN

    # -- per node ------------------------------------------------------------------

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        """The raw price (millionths), normalised below."""
        return self.price_of(node)

    def normalize_scores(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        known = [s for s in scores if s != UNKNOWN]
        low, high = (min(known), max(known)) if known else (0, 0)
        for i, price in enumerate(scores):
            if price == UNKNOWN:
                scores[i] = self.args.unknown_price_score
            elif high == low:
                scores[i] = MAX_NODE_SCORE
            else:
                scores[i] = MAX_NODE_SCORE * (high - price) // (high - low)

    # -- columnar -----------------------------------------------------------------------

    def score_batch(
        self, state: CycleState, pod: PodInfo, columns: NodeColumns, rows: Int64s
    ) -> Int64s | None:
        prices = columns.derived(self._column, self.price_of)
        if prices is None:
            return None
        price = prices[rows]
        known = price != UNKNOWN
        out = np.full(len(rows), self.args.unknown_price_score, dtype=np.int64)
        if not known.any():
            return out
        low, high = price[known].min(), price[known].max()
        if high == low:
            out[known] = MAX_NODE_SCORE
        else:
            out[known] = MAX_NODE_SCORE * (high - price[known]) // (high - low)
        return out


SPEC: Final = PluginSpec(NAME, decode_args, CheapestNode)
