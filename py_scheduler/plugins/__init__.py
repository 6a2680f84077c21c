"""In-tree plugins: the table of contents of what py-scheduler can run.

``IN_TREE`` maps plugin names to their specs; ``DEFAULT_MULTI_POINT`` is the
default profile, in kube-scheduler's order and with its score weights.
"""

from __future__ import annotations

from typing import Any, Final

from py_scheduler.framework.registry import PluginSpec
from py_scheduler.framework.runtime import PluginRef
from py_scheduler.plugins import (
    balanced_allocation,
    default_binder,
    default_preemption,
    dynamicresources,
    image_locality,
    inter_pod_affinity,
    node_affinity,
    node_name,
    node_ports,
    node_resources_fit,
    node_unschedulable,
    node_volume_limits,
    pod_topology_spread,
    priority_sort,
    scheduling_gates,
    taint_toleration,
    volume_binding,
    volume_restrictions,
    volume_zone,
)

IN_TREE: Final[dict[str, PluginSpec[Any]]] = {
    spec.name: spec
    for spec in (
        scheduling_gates.SPEC,
        priority_sort.SPEC,
        node_unschedulable.SPEC,
        node_name.SPEC,
        taint_toleration.SPEC,
        node_affinity.SPEC,
        node_ports.SPEC,
        node_resources_fit.SPEC,
        volume_restrictions.SPEC,
        node_volume_limits.SPEC,
        volume_binding.SPEC,
        volume_zone.SPEC,
        pod_topology_spread.SPEC,
        inter_pod_affinity.SPEC,
        balanced_allocation.SPEC,
        image_locality.SPEC,
        dynamicresources.SPEC,
        default_preemption.SPEC,
        default_binder.SPEC,
    )
}

DEFAULT_MULTI_POINT: Final = (
    PluginRef(scheduling_gates.NAME),
    PluginRef(priority_sort.NAME),
    PluginRef(node_unschedulable.NAME),
    PluginRef(node_name.NAME),
    PluginRef(taint_toleration.NAME, 3),
    PluginRef(node_affinity.NAME, 2),
    PluginRef(node_ports.NAME),
    PluginRef(node_resources_fit.NAME, 1),
    PluginRef(volume_restrictions.NAME),
    PluginRef(node_volume_limits.NAME),
    PluginRef(volume_binding.NAME),
    PluginRef(volume_zone.NAME),
    PluginRef(pod_topology_spread.NAME, 2),
    PluginRef(inter_pod_affinity.NAME, 2),
    PluginRef(dynamicresources.NAME, 2),
    PluginRef(default_preemption.NAME),
    PluginRef(balanced_allocation.NAME, 1),
    PluginRef(image_locality.NAME, 1),
    PluginRef(default_binder.NAME),
)
