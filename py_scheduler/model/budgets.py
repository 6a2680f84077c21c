"""PodDisruptionBudgets as the scheduler weighs them: decoded from policy/v1,
and which pods a budget protects.

``protects`` is the one rule for that, used by preemption to avoid victims
whose eviction the API server would refuse, and by the simulator's Eviction
API, which refuses them as the API server does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from py_scheduler.model.pod import PodInfo
from py_scheduler.model.raw import Fields
from py_scheduler.model.selectors import LabelSelector, decode_optional_selector


@dataclass(frozen=True, slots=True)
class DisruptionBudget:
    namespace: str
    name: str
    selector: LabelSelector | None
    disruptions_allowed: int
    disrupted_pods: frozenset[str]  # pod names


def protects(budget: DisruptionBudget, pod: PodInfo) -> bool:
    """Whether evicting ``pod`` spends one of ``budget``'s disruptions."""
    # A budget with no selector, or an empty one, protects nothing.
    selector = budget.selector
    return (
        budget.namespace == pod.namespace
        and selector is not None
        and not selector.is_empty
        and selector.matches(pod.labels)
    )


def decode_budget(raw: Mapping[str, object]) -> DisruptionBudget:
    """A policy/v1 PodDisruptionBudget as preemption weighs it."""
    fields = Fields(raw)
    meta = fields.obj("metadata")
    spec = fields.obj("spec")
    status = fields.obj("status")
    return DisruptionBudget(
        namespace=meta.string("namespace") or "default",
        name=meta.string("name"),
        selector=decode_optional_selector(spec, "selector"),
        disruptions_allowed=status.integer("disruptionsAllowed"),
        disrupted_pods=frozenset(status.raw_map("disruptedPods")),
    )
