"""Workloads in example files: the pods (and claims) their controllers create.

Live, kube-controller-manager's StatefulSet controller creates replica
``<set>-<i>`` and, per volumeClaimTemplate ``t``, claim ``t-<set>-<i>``; its
Deployment and ReplicaSet controllers create ``replicas`` pods from the
template, under random names. For ``simulate``, which reads a snapshot of pods
and claims, the demo expands each workload the same way, so both sides judge
the same pending pods; a Deployment's replicas are named ``<deployment>-<i>``,
so only what does not depend on names can be compared with the live ones.
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


def _pod(doc: Doc, pod_name: str, labels: dict[str, str], volumes: list[Doc]) -> Doc:
    template = (doc.get("spec") or {}).get("template") or {}
    pod_spec = copy.deepcopy(template.get("spec") or {})
    if volumes:
        pod_spec["volumes"] = [*(pod_spec.get("volumes") or []), *volumes]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name,
            "namespace": _namespace(doc),
            "labels": {**((template.get("metadata") or {}).get("labels") or {}), **labels},
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


def expand(docs: list[Doc]) -> list[Doc]:
    """The documents with each StatefulSet replaced by its replicas and claims
    and each Deployment by its replicas."""
    out: list[Doc] = []
    for doc in docs:
        kind = doc.get("kind")
        if kind == "StatefulSet":
            for ordinal in range(replicas(doc)):
                out.extend(_stateful_replica(doc, ordinal))
        elif kind == "Deployment":
            name = doc["metadata"]["name"]
            out.extend(_pod(doc, f"{name}-{i}", {}, []) for i in range(replicas(doc)))
        else:
            out.append(doc)
    return out
