"""InterPodAffinity's arguments (``InterPodAffinityArgs``), decoded and validated."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from py_scheduler.framework.registry import ArgsError
from py_scheduler.model.raw import DecodeError, Fields

DEFAULT_HARD_POD_AFFINITY_WEIGHT: Final = 1
MAX_HARD_POD_AFFINITY_WEIGHT: Final = 100


@dataclass(frozen=True, slots=True)
class InterPodAffinityArgs:
    # Score an existing pod's required affinity term that the incoming pod
    # matches with this weight (0 turns the symmetry off).
    hard_pod_affinity_weight: int = DEFAULT_HARD_POD_AFFINITY_WEIGHT
    # Skip scoring when the incoming pod has no preferred terms of its own.
    ignore_preferred_terms_of_existing_pods: bool = False


_ARGS_FIELDS: Final = frozenset(
    {"apiVersion", "kind", "hardPodAffinityWeight", "ignorePreferredTermsOfExistingPods"}
)


def decode_args(fields: Fields) -> InterPodAffinityArgs:
    prefix = f"{fields.path}." if fields.path else ""
    problems = [f"{prefix}{key}: unknown field" for key in fields.raw if key not in _ARGS_FIELDS]
    try:
        weight = fields.int32("hardPodAffinityWeight", DEFAULT_HARD_POD_AFFINITY_WEIGHT)
        ignore = fields.boolean("ignorePreferredTermsOfExistingPods")
    except DecodeError as exc:
        raise ArgsError(str(exc)) from None
    if not 0 <= weight <= MAX_HARD_POD_AFFINITY_WEIGHT:
        problems.append(
            f"{prefix}hardPodAffinityWeight: Invalid value: {weight}: "
            f"not in valid range [0-{MAX_HARD_POD_AFFINITY_WEIGHT}]"
        )
    if problems:
        raise ArgsError("; ".join(problems))
    return InterPodAffinityArgs(weight, ignore)
