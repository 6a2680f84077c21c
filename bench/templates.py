"""Node and pod manifests, shaped after scheduler_perf's templates.

Nodes are plain Node objects (4 CPU, 32Gi, 110 pods, Ready); nothing manages
them, so bound pods simply stay Pending-phase. Every pod has
``terminationGracePeriodSeconds: 0`` so that a preemption or a clean-up
delete removes it at once: there is no kubelet to confirm a graceful stop.
"""

from __future__ import annotations

from typing import Any, Final

JSON = dict[str, Any]

BENCH_LABEL: Final = "py-scheduler.bench/node"
ZONE_LABEL: Final = "topology.kubernetes.io/zone"
HOSTNAME_LABEL: Final = "kubernetes.io/hostname"
NODE_MILLI_CPU: Final = 4000
HIGH_PRIORITY: Final = "bench-high"
LOW_PRIORITY: Final = "bench-low"

# kind -> (milli CPU, priority class, labels)
_POD_KINDS: Final[dict[str, tuple[int, str, dict[str, str]]]] = {
    "default": (100, "", {}),
    "spread": (100, "", {"color": "blue"}),
    "anti": (100, "", {"color": "green"}),
    "low": (900, LOW_PRIORITY, {"tier": "low"}),
    "high": (3000, HIGH_PRIORITY, {"tier": "high"}),
    "large": (9000, HIGH_PRIORITY, {"tier": "large"}),
}


def milli_cpu(kind: str) -> int:
    return _POD_KINDS[kind][0]


def node(name: str, zone: str | None) -> JSON:
    labels = {BENCH_LABEL: "true", HOSTNAME_LABEL: name}
    if zone is not None:
        labels[ZONE_LABEL] = zone
    capacity = {"cpu": "4", "memory": "32Gi", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {},
        "status": {
            "capacity": capacity,
            "allocatable": capacity,
            "conditions": [{"type": "Ready", "status": "True", "reason": "Bench"}],
            "phase": "Running",
        },
    }


def pod(
    name: str, namespace: str, kind: str, scheduler_name: str, node_name: str | None = None
) -> JSON:
    cpu, priority_class, labels = _POD_KINDS[kind]
    resources = {"cpu": f"{cpu}m", "memory": "500Mi"}
    spec: JSON = {
        "schedulerName": scheduler_name,
        "terminationGracePeriodSeconds": 0,
        "containers": [
            {
                "name": "pause",
                "image": "registry.k8s.io/pause:3.10",
                "ports": [{"containerPort": 80}],
                "resources": {"requests": resources, "limits": resources},
            }
        ],
    }
    if priority_class:
        spec["priorityClassName"] = priority_class
    if kind == "spread":
        spec["topologySpreadConstraints"] = [
            {
                "maxSkew": 5,
                "topologyKey": ZONE_LABEL,
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": labels},
            }
        ]
    elif kind == "anti":
        spec["affinity"] = {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": labels}, "topologyKey": HOSTNAME_LABEL}
                ]
            }
        }
    if node_name is not None:
        spec["nodeName"] = node_name  # init pods: placed by the runner, not scheduled
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": spec,
    }


def priority_class(name: str, value: int) -> JSON:
    return {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": name},
        "value": value,
        "preemptionPolicy": "PreemptLowerPriority",
    }
