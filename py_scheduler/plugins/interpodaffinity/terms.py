"""Affinity terms as InterPodAffinity reads them: re-validated as upstream's
framework.NewPodInfo parses them, and matched against other pods and their
namespaces. Shared by the filtering and scoring halves."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from py_scheduler.framework.interface import (
    ObjectLister,
    SharedLister,
)
from py_scheduler.model import NodeInfo, NodeName, PodInfo, names
from py_scheduler.model.pod import PodAffinityTerm
from py_scheduler.model.selectors import LabelSelector


def _selector_problem(selector: LabelSelector | None) -> str | None:
    if selector is None:
        return None
    requirements: list[tuple[str, tuple[str, ...]]] = [
        (key, (value,)) for key, value in selector.match_labels
    ]
    requirements += [(r.key, tuple(sorted(r.values))) for r in selector.expressions]
    for key, values in requirements:
        if problems := names.qualified_name_problems(key):
            return f'key: Invalid value: "{key}": {"; ".join(problems)}'
        for i, value in enumerate(values):
            if problems := names.label_value_problems(value):
                return f'values[{i}][{key}]: Invalid value: "{value}": {"; ".join(problems)}'
    return None


def parse_problem(pod: PodInfo) -> str | None:
    """Why upstream could not parse the pod's terms, or None."""
    sections: tuple[tuple[str, Iterable[PodAffinityTerm]], ...] = (
        ("requiredAffinityTerms", pod.required_affinity),
        ("requiredAntiAffinityTerms", pod.required_anti_affinity),
        ("preferredAffinityTerms", (w.term for w in pod.preferred_affinity)),
        ("preferredAntiAffinityTerms", (w.term for w in pod.preferred_anti_affinity)),
    )
    found: list[str] = []
    for section, terms in sections:
        for term in terms:
            problem = _selector_problem(term.selector) or _selector_problem(term.namespace_selector)
            if problem is not None:
                found.append(f"{section}: {problem}")
                break  # the first bad term stops its section, as GetAffinityTerms
    unique = list(dict.fromkeys(found))
    if not unique:
        return None
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


class Namespaces:
    """Namespace labels, looked up at most once per namespace per cycle."""

    __slots__ = ("_labels", "_objects")

    def __init__(self, objects: ObjectLister) -> None:
        self._objects = objects
        self._labels: dict[str, Mapping[str, str] | None] = {}

    def labels(self, namespace: str) -> Mapping[str, str] | None:
        try:
            return self._labels[namespace]
        except KeyError:
            found = self._labels[namespace] = self._objects.namespace_labels(namespace)
            return found


def matches_other(term: PodAffinityTerm, other: PodInfo, namespaces: Namespaces) -> bool:
    """The incoming pod's term against another pod.

    Upstream lists the namespaces the selector picks, so a namespace that
    does not exist is never picked; an empty selector picks every namespace.
    """
    if term.selector is None or not term.selector.matches(other.labels):
        return False
    return picks_namespace(term, other.namespace, namespaces)


def picks_namespace(term: PodAffinityTerm, namespace: str, namespaces: Namespaces) -> bool:
    if namespace in term.namespaces:
        return True
    selector = term.namespace_selector
    if selector is None:
        return False
    if selector.is_empty:
        return True
    labels = namespaces.labels(namespace)
    return labels is not None and selector.matches(labels)


def matching_per_node(
    snapshot: SharedLister, terms: Sequence[PodAffinityTerm], namespaces: Namespaces
) -> Iterable[tuple[NodeInfo, int]]:
    """Nodes holding pods that match every one of ``terms`` (``matches_all``
    for several terms, ``matches_other`` for one), with how many."""
    selectors = tuple(t.selector for t in terms)
    if not selectors or any(s is None for s in selectors):
        return
    found = snapshot.matching_pods(tuple(s for s in selectors if s is not None), terminating=True)
    for namespace, per_node in found.items():
        if all(picks_namespace(t, namespace, namespaces) for t in terms):
            yield from on_nodes(snapshot, per_node)


def on_nodes(
    snapshot: SharedLister, per_node: Mapping[NodeName, int]
) -> Iterable[tuple[NodeInfo, int]]:
    for name, found in per_node.items():
        node_info = snapshot.get(name)
        # Pods still on a deleted node count nowhere.
        if node_info is not None:
            yield node_info, found


def matches_incoming(
    term: PodAffinityTerm, incoming: PodInfo, namespace_labels: Mapping[str, str] | None
) -> bool:
    """Another pod's term against the incoming pod; a namespace that cannot be
    found has no labels (upstream's snapshot is then empty, not absent)."""
    if term.selector is None or not term.selector.matches(incoming.labels):
        return False
    if incoming.namespace in term.namespaces:
        return True
    selector = term.namespace_selector
    return selector is not None and selector.matches(namespace_labels or {})


def matches_all(terms: Sequence[PodAffinityTerm], other: PodInfo, namespaces: Namespaces) -> bool:
    # No terms match nothing: a pod without affinity is never "the first of its group".
    return bool(terms) and all(matches_other(t, other, namespaces) for t in terms)
