"""Cluster objects besides pods and nodes, as plugins consult them.

Kept current by the watches; empty until those watches exist for a kind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from scheduler.framework.interface import DisruptionBudget
from scheduler.model import PodInfo
from scheduler.model.selectors import LabelSelector


class ObjectStore:
    def __init__(self) -> None:
        self.budgets: dict[tuple[str, str], DisruptionBudget] = {}
        self.namespaces: dict[str, dict[str, str]] = {}
        self.selectors: dict[tuple[str, str, str], LabelSelector] = {}  # (kind, ns, name)

    def pdbs(self, namespace: str) -> Sequence[DisruptionBudget]:
        return [b for (ns, _), b in self.budgets.items() if ns == namespace]

    def namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        return self.namespaces.get(namespace)

    def owner_selectors(self, pod: PodInfo) -> Sequence[LabelSelector]:
        return [
            selector
            for (_, ns, _), selector in self.selectors.items()
            if ns == pod.namespace and selector.matches(pod.labels)
        ]
