"""The explanation of one pod's scheduling, as values and as JSON.

``Explanation`` is what ``py-scheduler explain`` prints (``--output json``
is ``to_json()``), what the running scheduler serves on
``/debug/pods/NAMESPACE/NAME`` and what the text view (:mod:`.text`) renders;
``from_json`` reads it back. docs/explain.md documents every field.
Built by :mod:`.diagnose` from a cycle; suggestions come from :mod:`.suggest`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from py_scheduler.model.resources import CPU, EPHEMERAL_STORAGE, MEMORY

SCHEMA_VERSION: Final = 1

_BYTES: Final = frozenset({MEMORY, EPHEMERAL_STORAGE})
_BINARY: Final = (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20))


def quantity(resource: str, amount: int) -> str:
    """A resource amount as Kubernetes writes it: cpu from millicores, the
    rest from whole units (binary suffixes where they divide evenly)."""
    if resource == CPU:
        return str(amount // 1000) if amount % 1000 == 0 else f"{amount}m"
    if resource not in _BYTES and not resource.startswith("hugepages-"):
        return str(amount)
    for suffix, size in _BINARY:
        if amount and amount % size == 0:
            return f"{amount // size}{suffix}"
    if amount and amount % 1024 == 0:
        return f"{amount // 1024}Ki"
    return str(amount)


@dataclass(frozen=True, slots=True)
class Verdict:
    """One plugin's status: a Filter rejection, or what kube-scheduler counts."""

    plugin: str
    code: str
    reasons: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return _verdict_json(self)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Verdict:
        return cls(str(raw["plugin"]), str(raw["code"]), tuple(raw.get("reasons") or ()))


@functools.lru_cache(maxsize=4096)
def _verdict_json(v: Verdict) -> dict[str, Any]:
    # Shared by every node with the same verdict; serialised, never changed.
    return {"plugin": v.plugin, "code": v.code, "reasons": list(v.reasons)}


@dataclass(frozen=True, slots=True)
class PluginScore:
    raw: int
    normalized: int
    weighted: int

    def to_json(self) -> dict[str, int]:
        return {"raw": self.raw, "normalized": self.normalized, "weighted": self.weighted}


@dataclass(slots=True)
class NodeReport:
    """One node: why it was rejected (every Filter plugin that rejects it,
    in plugin order, and the status kube-scheduler counts for it), or how
    it scored."""

    name: str
    filters: list[Verdict] = field(default_factory=list)
    status: Verdict | None = None
    scores: dict[str, PluginScore] = field(default_factory=dict)
    total: int | None = None
    # For a node NodeResourcesFit rejects: how much of each resource is missing.
    shortfall: dict[str, str] = field(default_factory=dict)

    @property
    def feasible(self) -> bool:
        return self.status is None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "filters": [v.to_json() for v in self.filters],
            "status": self.status.to_json() if self.status is not None else None,
            "scores": {name: s.to_json() for name, s in self.scores.items()},
            "total": self.total,
        }
        if self.shortfall:
            out["shortfall"] = dict(self.shortfall)
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> NodeReport:
        status = raw.get("status")
        return cls(
            name=str(raw["name"]),
            filters=[Verdict.from_json(v) for v in raw.get("filters") or ()],
            status=Verdict.from_json(status) if status else None,
            scores={
                name: PluginScore(int(s["raw"]), int(s["normalized"]), int(s["weighted"]))
                for name, s in (raw.get("scores") or {}).items()
            },
            total=raw.get("total"),
            shortfall=dict(raw.get("shortfall") or {}),
        )


@dataclass(frozen=True, slots=True)
class BlockingBudget:
    """A PodDisruptionBudget that evicting a candidate's victims would break."""

    name: str  # namespace/name
    disruptions_allowed: int
    victims: int  # victims it protects
    short: int  # disruptions missing

    def to_json(self) -> dict[str, Any]:
        return {
            "pdb": self.name,
            "disruptionsAllowed": self.disruptions_allowed,
            "victims": self.victims,
            "short": self.short,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> BlockingBudget:
        return cls(
            str(raw["pdb"]), int(raw["disruptionsAllowed"]), int(raw["victims"]), int(raw["short"])
        )


@dataclass(frozen=True, slots=True)
class Candidate:
    node: str
    victims: tuple[str, ...]
    pdb_violations: int
    blocking: tuple[BlockingBudget, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "victims": list(self.victims),
            "pdbViolations": self.pdb_violations,
            "blockingPDBs": [b.to_json() for b in self.blocking],
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Candidate:
        return cls(
            node=str(raw["node"]),
            victims=tuple(raw.get("victims") or ()),
            pdb_violations=int(raw.get("pdbViolations") or 0),
            blocking=tuple(BlockingBudget.from_json(b) for b in raw.get("blockingPDBs") or ()),
        )


@dataclass(slots=True)
class Preemption:
    """What PostFilter (DefaultPreemption) made of a pod that fits nowhere."""

    plugin: str
    outcome: str  # nominated | not-eligible | not-helpful | blocked-by-pdb | no-candidates | error
    message: str
    nominated_node: str | None = None
    victims: list[str] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    # Nodes the dry run tried and ruled out: status per node name.
    rejected: dict[str, Verdict] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "plugin": self.plugin,
            "outcome": self.outcome,
            "message": self.message,
            "nominatedNode": self.nominated_node,
            "victims": list(self.victims),
            "candidates": [c.to_json() for c in self.candidates],
            "rejected": {name: v.to_json() for name, v in self.rejected.items()},
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Preemption:
        return cls(
            plugin=str(raw["plugin"]),
            outcome=str(raw["outcome"]),
            message=str(raw.get("message") or ""),
            nominated_node=raw.get("nominatedNode"),
            victims=list(raw.get("victims") or ()),
            candidates=[Candidate.from_json(c) for c in raw.get("candidates") or ()],
            rejected={n: Verdict.from_json(v) for n, v in (raw.get("rejected") or {}).items()},
        )


@dataclass(slots=True)
class Suggestion:
    """A change that would let the pod be scheduled; ``verified`` only once
    the scheduler, re-run on a copy of the snapshot with the change, placed it."""

    kind: str
    description: str
    change: dict[str, Any]
    verified: bool = False
    cost: float = 0.0  # the ranking: lower changes less (docs/explain.md)
    node: str | None = None  # where the re-run placed the pod

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "description": self.description,
            "change": self.change,
            "verified": self.verified,
            "cost": self.cost,
            "node": self.node,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Suggestion:
        return cls(
            kind=str(raw["kind"]),
            description=str(raw["description"]),
            change=dict(raw.get("change") or {}),
            verified=bool(raw.get("verified")),
            cost=float(raw.get("cost") or 0.0),
            node=raw.get("node"),
        )


@dataclass(slots=True)
class Explanation:
    pod: str
    profile: str
    node: str | None
    message: str
    nodes: list[NodeReport] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)
    # The PodScheduled condition the scheduler writes (None for a pod that fits).
    condition: dict[str, str] | None = None
    nominated_node: str | None = None
    # A bound pod: where it is bound (``node`` is where it would go now).
    bound_node: str | None = None
    winner: dict[str, Any] | None = None
    tie_break: dict[str, Any] | None = None
    preemption: Preemption | None = None
    filter_plugins: list[str] = field(default_factory=list)
    score_weights: dict[str, int] = field(default_factory=dict)
    total_nodes: int = 0
    feasible_nodes: int = 0
    warnings: list[str] = field(default_factory=list)
    # "explain" (re-run offline) or "live" (the running scheduler's last attempt).
    source: str = "explain"
    observed_at: float | None = None  # unix time of the attempt (live)

    def to_json(self) -> dict[str, Any]:
        return {
            "schemaVersion": SCHEMA_VERSION,
            "pod": self.pod,
            "profile": self.profile,
            "node": self.node,
            "message": self.message,
            "condition": self.condition,
            "nominatedNode": self.nominated_node,
            "boundNode": self.bound_node,
            "totalNodes": self.total_nodes,
            "feasibleNodes": self.feasible_nodes,
            "filterPlugins": list(self.filter_plugins),
            "scoreWeights": dict(self.score_weights),
            "winner": self.winner,
            "tieBreak": self.tie_break,
            "preemption": self.preemption.to_json() if self.preemption is not None else None,
            "nodes": [n.to_json() for n in self.nodes],
            "suggestions": [s.to_json() for s in self.suggestions],
            "warnings": list(self.warnings),
            "source": self.source,
            "observedAt": self.observed_at,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Explanation:
        preemption = raw.get("preemption")
        return cls(
            pod=str(raw["pod"]),
            profile=str(raw.get("profile") or ""),
            node=raw.get("node"),
            message=str(raw.get("message") or ""),
            nodes=[NodeReport.from_json(n) for n in raw.get("nodes") or ()],
            suggestions=[Suggestion.from_json(s) for s in raw.get("suggestions") or ()],
            condition=raw.get("condition"),
            nominated_node=raw.get("nominatedNode"),
            bound_node=raw.get("boundNode"),
            winner=raw.get("winner"),
            tie_break=raw.get("tieBreak"),
            preemption=Preemption.from_json(preemption) if preemption else None,
            filter_plugins=list(raw.get("filterPlugins") or ()),
            score_weights=dict(raw.get("scoreWeights") or {}),
            total_nodes=int(raw.get("totalNodes") or 0),
            feasible_nodes=int(raw.get("feasibleNodes") or 0),
            warnings=list(raw.get("warnings") or ()),
            source=str(raw.get("source") or "explain"),
            observed_at=raw.get("observedAt"),
        )

    def node_report(self, name: str) -> NodeReport | None:
        return next((n for n in self.nodes if n.name == name), None)

    def rejected(self) -> Sequence[NodeReport]:
        return [n for n in self.nodes if not n.feasible]
