"""Workloads in example files: the pods (and claims) their controllers create.

Live, kube-controller-manager's StatefulSet controller creates replica
``<set>-<i>`` and, per volumeClaimTemplate ``t``, claim ``t-<set>-<i>``; its
Deployment and ReplicaSet controllers create ``replicas`` pods from the
template, under random names. For ``simulate``, which reads a snapshot of pods
and claims, each workload is expanded the same way, so both sides judge the
same pending pods; a Deployment's replicas are named ``<deployment>-<i>``, so
only what does not depend on names can be compared with the live ones.

Each replica carries the controller reference its controller would set (a
Deployment's points to a ReplicaSet standing for its current revision), so
the system default spreading follows it as it does live.

A snapshot taken from a live cluster holds the controllers' pods already:
``expand`` adds only the StatefulSet replicas (and claims) missing from it, and
a Deployment's replicas only when no pod of the snapshot matches its selector.
"""

from __future__ import annotations

import copy
from typing import Any

Doc = dict[str, Any]


def _namespace(doc: Doc) -> str:
    return str((doc.get("metadata") or {}).get("namespace") or "default")


def replicas(doc: Doc) -> int:
    """``spec.replicas``, which the API server defaults to 1."""
    value = (doc.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def replica_names(doc: Doc) -> list[str]:
    """``namespace/name`` of each replica as ``expand`` names it: live too for
    a StatefulSet, not for a Deployment, whose pods are named at random."""
    name = doc["metadata"]["name"]
    return [f"{_namespace(doc)}/{name}-{i}" for i in range(replicas(doc))]


def replica_set_name(deployment: Doc) -> str:
    """The ReplicaSet standing for a Deployment's current revision here."""
    return f"{deployment['metadata']['name']}-simulated"


def _controller(kind: str, name: str, namespace: str) -> Doc:
    """The controller reference the owning controller sets on its pods."""
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "name": name,
        "uid": f"simulated-{kind}-{namespace}-{name}",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _pod(doc: Doc, pod_name: str, labels: dict[str, str], volumes: list[Doc]) -> Doc:
    template = (doc.get("spec") or {}).get("template") or {}
    pod_spec = copy.deepcopy(template.get("spec") or {})
    if volumes:
        pod_spec["volumes"] = [*(pod_spec.get("volumes") or []), *volumes]
    ns = _namespace(doc)
    if doc.get("kind") == "Deployment":
        owner = _controller("ReplicaSet", replica_set_name(doc), ns)
    else:
        owner = _controller(str(doc.get("kind")), doc["metadata"]["name"], ns)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name,
            "namespace": ns,
            "labels": {**((template.get("metadata") or {}).get("labels") or {}), **labels},
            "ownerReferences": [owner],
        },
        "spec": pod_spec,
    }


def _stateful_replica(doc: Doc, ordinal: int) -> list[Doc]:
    spec = doc.get("spec") or {}
    name, ns = doc["metadata"]["name"], _namespace(doc)
    pod_name = f"{name}-{ordinal}"
    claims = []
    volumes = []
    for claim_template in spec.get("volumeClaimTemplates") or []:
        template_name = claim_template["metadata"]["name"]
        claim_name = f"{template_name}-{pod_name}"
        volumes.append({"name": template_name, "persistentVolumeClaim": {"claimName": claim_name}})
        claims.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": claim_name, "namespace": ns},
                "spec": copy.deepcopy(claim_template.get("spec") or {}),
            }
        )
    labels = {"statefulset.kubernetes.io/pod-name": pod_name}
    return [*claims, _pod(doc, pod_name, labels, volumes)]


WORKLOAD_KINDS = ("StatefulSet", "Deployment")


def _key(doc: Doc) -> tuple[str, str, str]:
    return (str(doc.get("kind")), _namespace(doc), str((doc.get("metadata") or {}).get("name")))


def _selected(doc: Doc, pods: list[Doc]) -> bool:
    """Whether any pod in the workload's namespace carries its matchLabels."""
    selector = ((doc.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    if not selector:
        return False
    return any(
        _namespace(pod) == _namespace(doc)
        and all(
            ((pod.get("metadata") or {}).get("labels") or {}).get(k) == v
            for k, v in selector.items()
        )
        for pod in pods
    )


def replicas_of(doc: Doc, docs: list[Doc]) -> list[Doc]:
    """What a StatefulSet or Deployment among ``docs`` adds to them: its
    replicas (and claims) that ``docs`` does not hold already."""
    pods = [d for d in docs if d.get("kind") == "Pod"]
    if doc.get("kind") == "Deployment":
        if _selected(doc, pods):
            return []
        name = doc["metadata"]["name"]
        return [_pod(doc, f"{name}-{i}", {}, []) for i in range(replicas(doc))]
    present = {_key(d) for d in docs if d.get("kind") in ("Pod", "PersistentVolumeClaim")}
    return [
        d
        for ordinal in range(replicas(doc))
        for d in _stateful_replica(doc, ordinal)
        if _key(d) not in present
    ]


def expand(docs: list[Doc]) -> list[Doc]:
    """The documents with each StatefulSet replaced by its replicas and claims
    and each Deployment by its replicas, leaving out what the snapshot holds."""
    out: list[Doc] = []
    for doc in docs:
        if doc.get("kind") in WORKLOAD_KINDS:
            out.extend(replicas_of(doc, docs))
        else:
            out.append(doc)
    return out
