"""Label selectors and node selector terms, compiled once at decode time.

``LabelSelector`` is metav1's (pods, PDBs, topology spread, affinity);
``NodeSelector`` is core/v1's (required node affinity: terms ORed,
expressions ANDed, ``matchFields`` only on ``metadata.name``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from py_scheduler.model.raw import DecodeError, Fields

_SELECTOR_OPS: Final = frozenset({"In", "NotIn", "Exists", "DoesNotExist"})
_NODE_OPS: Final = _SELECTOR_OPS | {"Gt", "Lt"}


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    operator: str
    values: frozenset[str]

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op == "In":
            return labels.get(self.key) in self.values
        if op == "NotIn":
            return labels.get(self.key) not in self.values
        if op == "Exists":
            return self.key in labels
        if op == "DoesNotExist":
            return self.key not in labels
        value = labels.get(self.key)
        if value is None:
            return False
        try:
            have = int(value)
            want = int(next(iter(self.values)))
        except (ValueError, StopIteration):
            return False
        return have > want if op == "Gt" else have < want


def _requirement(fields: Fields, allowed: frozenset[str]) -> Requirement:
    key = fields.string("key")
    op = fields.string("operator")
    if op not in allowed:
        raise fields.error("operator", f"unsupported operator {op!r}")
    values = frozenset(fields.strings("values"))
    if op in ("In", "NotIn") and not values:
        raise fields.error("values", f"must be non-empty for operator {op}")
    if op in ("Exists", "DoesNotExist") and values:
        raise fields.error("values", f"must be empty for operator {op}")
    if op in ("Gt", "Lt") and len(values) != 1:
        raise fields.error("values", f"must have exactly one value for operator {op}")
    # A Gt/Lt value that is not an integer is accepted by the API server, so it
    # is kept: NodeAffinity judges it as upstream's lazy-error selector does.
    return Requirement(key, op, values)


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """metav1.LabelSelector; ``None`` in a spec (no selector) is not this type."""

    match_labels: tuple[tuple[str, str], ...] = ()
    expressions: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        for key, value in self.match_labels:
            if labels.get(key) != value:
                return False
        return all(req.matches(labels) for req in self.expressions)

    @property
    def is_empty(self) -> bool:
        return not self.match_labels and not self.expressions

    def with_requirements(self, extra: tuple[Requirement, ...]) -> LabelSelector:
        return LabelSelector(self.match_labels, self.expressions + extra)


NOTHING: Final = LabelSelector(expressions=(Requirement("", "In", frozenset({"\0"})),))


def decode_label_selector(fields: Fields) -> LabelSelector:
    labels = tuple(sorted(fields.str_map("matchLabels").items()))
    exprs = tuple(_requirement(f, _SELECTOR_OPS) for f in fields.objects("matchExpressions"))
    return LabelSelector(labels, exprs)


def decode_optional_selector(fields: Fields, key: str) -> LabelSelector | None:
    """``None`` when the field is absent; a present-but-empty selector matches all."""
    if fields.raw.get(key) is None:
        return None
    return decode_label_selector(fields.obj(key))


@dataclass(frozen=True, slots=True)
class NodeSelectorTerm:
    expressions: tuple[Requirement, ...]
    fields: tuple[Requirement, ...]

    def matches(self, name: str, labels: Mapping[str, str]) -> bool:
        # An empty term matches nothing (core/v1 semantics).
        if not self.expressions and not self.fields:
            return False
        if not all(req.matches(labels) for req in self.expressions):
            return False
        if self.fields:
            as_labels = {"metadata.name": name}
            return all(req.matches(as_labels) for req in self.fields)
        return True

    @property
    def node_names(self) -> frozenset[str] | None:
        """The node names a term pins through ``metadata.name In``, if it only does that."""
        if self.expressions or len(self.fields) != 1:
            return None
        req = self.fields[0]
        return req.values if req.operator == "In" else None


@dataclass(frozen=True, slots=True)
class NodeSelector:
    terms: tuple[NodeSelectorTerm, ...]

    def matches(self, name: str, labels: Mapping[str, str]) -> bool:
        return any(term.matches(name, labels) for term in self.terms)


def decode_node_selector_term(fields: Fields) -> NodeSelectorTerm:
    exprs = tuple(_requirement(f, _NODE_OPS) for f in fields.objects("matchExpressions"))
    match_fields = []
    for f in fields.objects("matchFields"):
        req = _requirement(f, _NODE_OPS)
        if req.key != "metadata.name":
            raise DecodeError(f"{f.path}.key", f"unsupported field {req.key!r}")
        match_fields.append(req)
    return NodeSelectorTerm(exprs, tuple(match_fields))


def decode_node_selector(fields: Fields) -> NodeSelector:
    return NodeSelector(
        tuple(decode_node_selector_term(f) for f in fields.objects("nodeSelectorTerms"))
    )


def decode_owner_selector(kind: str, raw: Mapping[str, object]) -> LabelSelector | None:
    """The selector of a Service, RC (plain maps) or RS/StatefulSet (LabelSelector)."""
    spec = Fields(raw).obj("spec")
    if kind in ("Service", "ReplicationController"):
        labels = spec.str_map("selector")
        return LabelSelector(tuple(sorted(labels.items()))) if labels else None
    return decode_optional_selector(spec, "selector")
