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
    "saturation": (3000, "", {}),
    "dra": (100, "", {}),
    "gang": (100, "", {}),
}
# The gang workload's PodGroups: the Workload API version kube-scheduler 1.37 reads.
POD_GROUP_API: Final = "scheduling.k8s.io/v1beta1"
DRA_DRIVER: Final = "gpu.bench.example.com"
DRA_CLASS: Final = "bench-gpu"
DRA_LABEL: Final = "py-scheduler.bench/dra"


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


# Memory other than the 500Mi most kinds ask for (scheduler_perf's pod-saturation: 1Gi).
_POD_MEMORY: Final = {"saturation": "1Gi"}


def pod(
    name: str,
    namespace: str,
    kind: str,
    scheduler_name: str,
    node_name: str | None = None,
    extra_labels: dict[str, str] | None = None,
    group: str | None = None,
) -> JSON:
    cpu, priority_class, labels = _POD_KINDS[kind]
    labels = {**labels, **(extra_labels or {})}
    resources = {"cpu": f"{cpu}m", "memory": _POD_MEMORY.get(kind, "500Mi")}
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
    elif kind == "dra":
        spec["resourceClaims"] = [{"name": "gpu", "resourceClaimName": f"{name}-gpu"}]
        spec["containers"][0]["resources"]["claims"] = [{"name": "gpu"}]
    if group is not None:
        spec["schedulingGroup"] = {"podGroupName": group}
    if node_name is not None:
        spec["nodeName"] = node_name  # init pods: placed by the runner, not scheduled
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": spec,
    }


def pod_group(name: str, namespace: str, min_count: int) -> JSON:
    """A Workload API PodGroup whose pods are scheduled all together or not at all."""
    return {
        "apiVersion": POD_GROUP_API,
        "kind": "PodGroup",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"schedulingPolicy": {"gang": {"minCount": min_count}}},
    }


def priority_class(name: str, value: int) -> JSON:
    return {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": name},
        "value": value,
        "preemptionPolicy": "PreemptLowerPriority",
    }


def device_class() -> JSON:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "DeviceClass",
        "metadata": {"name": DRA_CLASS, "labels": {DRA_LABEL: "true"}},
        "spec": {"selectors": [{"cel": {"expression": f'device.driver == "{DRA_DRIVER}"'}}]},
    }


def resource_slice(node_name: str, devices: int) -> JSON:
    """A fake driver's devices on one node, as scheduler_perf's templates publish them."""
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceSlice",
        "metadata": {"name": f"{node_name}-gpus", "labels": {DRA_LABEL: "true"}},
        "spec": {
            "driver": DRA_DRIVER,
            "nodeName": node_name,
            "pool": {"name": node_name, "generation": 1, "resourceSliceCount": 1},
            "devices": [
                {
                    "name": f"gpu-{i}",
                    "attributes": {"model": {"string": "a100"}, "index": {"int": i}},
                    "capacity": {"memory": {"value": "80Gi"}},
                }
                for i in range(devices)
            ],
        },
    }


def claim(pod_name: str, namespace: str) -> JSON:
    """The claim a pod's template would yield: one device of the class whose
    model is "a100" (a class and a request selector). The bench control plane
    runs no controller manager, so the runner creates it, named for the pod."""
    selector = f'device.attributes["{DRA_DRIVER}"].model == "a100"'
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": f"{pod_name}-gpu", "namespace": namespace},
        "spec": {
            "devices": {
                "requests": [
                    {
                        "name": "gpu",
                        "exactly": {
                            "deviceClassName": DRA_CLASS,
                            "selectors": [{"cel": {"expression": selector}}],
                        },
                    }
                ]
            }
        },
    }
