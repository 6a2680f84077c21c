"""StatefulSets in example files: the pods and claims their controller creates.

Live, kube-controller-manager's StatefulSet controller creates replica
``<set>-<i>`` and, per volumeClaimTemplate ``t``, claim ``t-<set>-<i>``. For
``simulate``, which reads a snapshot of pods and claims, the demo expands each
StatefulSet the same way, so both sides judge the same pending pods.
"""

from __future__ import annotations

import copy
from typing import Any

Doc = dict[str, Any]


def _namespace(doc: Doc) -> str:
    return str((doc.get("metadata") or {}).get("namespace") or "default")


def replica_names(doc: Doc) -> list[str]:
    """``namespace/name`` of each replica, in ordinal order."""
    name = doc["metadata"]["name"]
    replicas = int((doc.get("spec") or {}).get("replicas", 1))
    return [f"{_namespace(doc)}/{name}-{i}" for i in range(replicas)]


def _replica(doc: Doc, ordinal: int) -> list[Doc]:
    spec = doc.get("spec") or {}
    name, ns = doc["metadata"]["name"], _namespace(doc)
    pod_name = f"{name}-{ordinal}"
    template = copy.deepcopy(spec.get("template") or {})
    pod_spec = template.get("spec") or {}
    claims = []
    volumes = list(pod_spec.get("volumes") or [])
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
    labels = {
        **((template.get("metadata") or {}).get("labels") or {}),
        "statefulset.kubernetes.io/pod-name": pod_name,
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod_name, "namespace": ns, "labels": labels},
        "spec": {**pod_spec, "volumes": volumes},
    }
    return [*claims, pod]


def expand(docs: list[Doc]) -> list[Doc]:
    """The documents with each StatefulSet replaced by its replicas and claims."""
    out: list[Doc] = []
    for doc in docs:
        if doc.get("kind") == "StatefulSet":
            replicas = int((doc.get("spec") or {}).get("replicas", 1))
            for ordinal in range(replicas):
                out.extend(_replica(doc, ordinal))
        else:
            out.append(doc)
    return out
