"""CheapestNode's ``pluginConfig`` args::

- name: CheapestNode
  args:
    annotation: pricing.example.com/hourly   # read first, when the node has it
    label: pricing.example.com/hourly        # else this label
    unknownPriceScore: 0                     # 0..100 for a node with no readable price
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from py_scheduler.framework import MAX_NODE_SCORE, MIN_NODE_SCORE, ArgsError, Fields

DEFAULT_KEY: Final = "pricing.example.com/hourly"


@dataclass(frozen=True, slots=True)
class CheapestNodeArgs:
    annotation: str = DEFAULT_KEY
    label: str = DEFAULT_KEY
    unknown_price_score: int = MIN_NODE_SCORE


def decode_args(fields: Fields) -> CheapestNodeArgs:
    fields.only("annotation", "label", "unknownPriceScore", "apiVersion", "kind")
    args = CheapestNodeArgs(
        annotation=fields.string("annotation", DEFAULT_KEY),
        label=fields.string("label", DEFAULT_KEY),
        unknown_price_score=fields.integer("unknownPriceScore", MIN_NODE_SCORE),
    )
    if not args.annotation and not args.label:
        raise ArgsError("args: set annotation or label (or both)")
    if not MIN_NODE_SCORE <= args.unknown_price_score <= MAX_NODE_SCORE:
        raise ArgsError(
            f"args.unknownPriceScore: must be in {MIN_NODE_SCORE}..{MAX_NODE_SCORE}, "
            f"got {args.unknown_price_score}"
        )
    return args
