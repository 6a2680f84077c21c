"""Nodes, pods and other objects for plugin tests, from keywords, dicts or YAML.

Everything goes through the scheduler's own decoders, as the live watches
and ``simulate`` do, so a test also checks that its objects are valid::

    node("n1", cpu="8", labels={"zone": "a"}, annotations={"price": "0.4"})
    pod("web", cpu="500m", labels={"app": "web"})
    nodes, pods, others = objects(Path("cluster.yaml").read_text())
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from py_scheduler.model import Node, PodInfo, decode_node, decode_pod
from py_scheduler.model.raw import DecodeError

Raw = dict[str, Any]
SCHEDULER_NAME = "py-scheduler"


class ObjectError(ValueError):
    """An object the kit cannot build; the message names it and the field."""


def node_object(
    name: str,
    *,
    cpu: str = "4",
    memory: str = "32Gi",
    pods: int = 110,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    taints: Iterable[Mapping[str, str]] = (),
    unschedulable: bool = False,
    allocatable: Mapping[str, str] | None = None,
) -> Raw:
    """A Node as the API returns it. ``allocatable`` adds resources (GPUs, ...)."""
    amounts = {"cpu": cpu, "memory": memory, "pods": str(pods), **(allocatable or {})}
    spec: Raw = {"taints": [dict(t) for t in taints]} if taints else {}
    if unschedulable:
        spec["unschedulable"] = True
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/hostname": name, **(labels or {})},
            "annotations": dict(annotations or {}),
        },
        "spec": spec,
        "status": {"allocatable": amounts, "capacity": amounts},
    }


def pod_object(
    name: str,
    *,
    namespace: str = "default",
    cpu: str | None = None,
    memory: str | None = None,
    requests: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    priority: int | None = None,
    node_name: str = "",
    scheduler_name: str = SCHEDULER_NAME,
    node_selector: Mapping[str, str] | None = None,
    tolerations: Iterable[Mapping[str, Any]] = (),
    affinity: Mapping[str, Any] | None = None,
    uid: str | None = None,
) -> Raw:
    """A Pod as the API returns it, with one container asking for ``cpu``,
    ``memory`` and ``requests``; ``node_name`` makes it an assigned pod."""
    asked = {**({"cpu": cpu} if cpu else {}), **({"memory": memory} if memory else {})}
    asked.update(requests or {})
    container: Raw = {"name": "main", "image": "registry.k8s.io/pause:3.10"}
    if asked:
        container["resources"] = {"requests": asked}
    spec: Raw = {"schedulerName": scheduler_name, "containers": [container]}
    if priority is not None:
        spec["priority"] = priority
    if node_name:
        spec["nodeName"] = node_name
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)
    if tolerations:
        spec["tolerations"] = [dict(t) for t in tolerations]
    if affinity:
        spec["affinity"] = dict(affinity)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid or f"{namespace}-{name}",
            "labels": dict(labels or {}),
            "annotations": dict(annotations or {}),
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": spec,
        "status": {"phase": "Running" if node_name else "Pending"},
    }


def node(name: str, **fields: Any) -> Node:
    """A decoded Node; keywords as :func:`node_object`."""
    return as_node(node_object(name, **fields))


def pod(name: str, **fields: Any) -> PodInfo:
    """A decoded pod; keywords as :func:`pod_object`."""
    return as_pod(pod_object(name, **fields))


def as_node(raw: Mapping[str, Any]) -> Node:
    try:
        return decode_node(raw)
    except DecodeError as exc:
        raise ObjectError(f"{_label(raw)}: {exc}") from None


def as_pod(raw: Mapping[str, Any]) -> PodInfo:
    try:
        return decode_pod(raw)
    except DecodeError as exc:
        raise ObjectError(f"{_label(raw)}: {exc}") from None


@dataclass
class Objects:
    """What a YAML text or a list of dicts held, by kind."""

    nodes: list[Node] = field(default_factory=list)
    pods: list[PodInfo] = field(default_factory=list)
    others: list[Mapping[str, Any]] = field(default_factory=list)


def objects(source: str | Iterable[Mapping[str, Any]]) -> Objects:
    """Nodes, pods and any other objects (custom resources, say) from YAML
    text (several documents, or a ``v1 List``) or from dicts."""
    if isinstance(source, str):
        try:
            docs = [d for d in yaml.safe_load_all(source) if d is not None]
        except yaml.YAMLError as exc:
            raise ObjectError(f"not valid YAML: {exc}") from None
    else:
        docs = list(source)
    out = Objects()
    for doc in _flattened(docs):
        kind = doc.get("kind")
        if kind == "Node":
            out.nodes.append(as_node(doc))
        elif kind == "Pod":
            out.pods.append(as_pod(doc))
        else:
            out.others.append(doc)
    return out


def _flattened(docs: Iterable[object]) -> Iterable[Mapping[str, Any]]:
    for doc in docs:
        if not isinstance(doc, Mapping):
            raise ObjectError(f"expected a Kubernetes object, got {type(doc).__name__}")
        if str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
            yield from _flattened(doc["items"])
        else:
            yield doc


def _label(raw: Mapping[str, Any]) -> str:
    meta = raw.get("metadata")
    if not isinstance(meta, Mapping):
        meta = {}
    namespace = meta.get("namespace")
    return (
        f"{raw.get('kind', 'object')} {namespace + '/' if namespace else ''}{meta.get('name', '?')}"
    )
