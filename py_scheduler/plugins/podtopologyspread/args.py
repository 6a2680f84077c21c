"""PodTopologySpread's arguments (``PodTopologySpreadArgs``): the defaulting
type and the default constraints, decoded and validated."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from py_scheduler.framework.registry import ArgsError
from py_scheduler.model.pod import SpreadConstraint
from py_scheduler.model.raw import DecodeError, Fields
from py_scheduler.plugins.podtopologyspread.common import (
    DO_NOT_SCHEDULE,
    HONOR,
    IGNORE,
    LIST_DEFAULTING,
    SCHEDULE_ANYWAY,
    SYSTEM_DEFAULTING,
)


@dataclass(frozen=True, slots=True)
class PodTopologySpreadArgs:
    defaulting_type: str = SYSTEM_DEFAULTING
    # Only with defaulting_type List; their selectors are deduced per pod.
    default_constraints: tuple[SpreadConstraint, ...] = ()


_ARGS_FIELDS: Final = frozenset({"apiVersion", "kind", "defaultingType", "defaultConstraints"})
_CONSTRAINT_FIELDS: Final = frozenset(
    {
        "maxSkew",
        "topologyKey",
        "whenUnsatisfiable",
        "labelSelector",
        "minDomains",
        "nodeAffinityPolicy",
        "nodeTaintsPolicy",
        "matchLabelKeys",
    }
)


def _decode_default(item: Fields, problems: list[str]) -> SpreadConstraint:
    path = item.path
    problems += [
        f"{path}.{key}: unknown field" for key in item.raw if key not in _CONSTRAINT_FIELDS
    ]
    max_skew = item.int32("maxSkew")
    if max_skew <= 0:
        problems.append(f"{path}.maxSkew: Invalid value: {max_skew}: must be greater than zero")
    key = item.string("topologyKey")
    if not key:
        problems.append(f"{path}.topologyKey: Required value: can not be empty")
    when = item.string("whenUnsatisfiable")
    if when not in (DO_NOT_SCHEDULE, SCHEDULE_ANYWAY):
        problems.append(
            f'{path}.whenUnsatisfiable: Unsupported value: "{when}": '
            f'supported values: "{DO_NOT_SCHEDULE}", "{SCHEDULE_ANYWAY}"'
        )
    if item.raw.get("labelSelector") is not None:
        problems.append(
            f"{path}.labelSelector: Forbidden: constraint must not define a selector, "
            "as they deduced for each pod"
        )
    min_domains = item.opt_integer("minDomains", bits=32)
    if min_domains is not None and min_domains < 1:
        problems.append(f"{path}.minDomains: Invalid value: {min_domains}: must be at least 1")
    policies = []
    for field, default in (("nodeAffinityPolicy", HONOR), ("nodeTaintsPolicy", IGNORE)):
        policy = item.string(field) or default
        if policy not in (HONOR, IGNORE):
            problems.append(
                f'{path}.{field}: Unsupported value: "{policy}": '
                f'supported values: "{HONOR}", "{IGNORE}"'
            )
        policies.append(policy)
    return SpreadConstraint(max_skew, key, when, None, min_domains, policies[0], policies[1])


def decode_args(fields: Fields) -> PodTopologySpreadArgs:
    prefix = f"{fields.path}." if fields.path else ""
    problems = [f"{prefix}{key}: unknown field" for key in fields.raw if key not in _ARGS_FIELDS]
    try:
        defaulting = fields.string("defaultingType") or SYSTEM_DEFAULTING
        constraints: list[SpreadConstraint] = []
        for item in fields.objects("defaultConstraints"):
            constraints.append(_decode_default(item, problems))
    except DecodeError as exc:
        raise ArgsError(str(exc)) from None
    if defaulting not in (SYSTEM_DEFAULTING, LIST_DEFAULTING):
        problems.append(
            f'{prefix}defaultingType: Unsupported value: "{defaulting}": '
            f'supported values: "{LIST_DEFAULTING}", "{SYSTEM_DEFAULTING}"'
        )
    seen: set[tuple[str, str]] = set()
    for i, c in enumerate(constraints):
        pair = (c.topology_key, c.when_unsatisfiable)
        if pair in seen:
            problems.append(
                f"{prefix}defaultConstraints[{i}]: Duplicate value: "
                f'"{{{c.topology_key}, {c.when_unsatisfiable}}}"'
            )
        seen.add(pair)
    if defaulting == SYSTEM_DEFAULTING and constraints:
        problems.append(
            f"{prefix}defaultConstraints: Invalid value: {len(constraints)} constraint(s): "
            'when .defaultingType is "System"'
        )
    if problems:
        raise ArgsError("; ".join(problems))
    return PodTopologySpreadArgs(defaulting, tuple(constraints))
