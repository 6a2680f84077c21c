"""In-tree plugins: the table of contents of what py-scheduler can run.

``IN_TREE`` maps plugin names to their specs; ``DEFAULT_MULTI_POINT`` is the
default profile, in the newest supported kube-scheduler's order and with its
score weights, with gang scheduling on (GangSort in PrioritySort's place,
GangScheduling before DefaultPreemption); ``default_multi_point`` gives it for
any release.
"""

from __future__ import annotations

from typing import Any, Final

from py_scheduler.framework.registry import PluginSpec
from py_scheduler.framework.runtime import PluginRef
from py_scheduler.model.server import ServerVersion
from py_scheduler.plugins import (
    default_binder,
    defaultpreemption,
    dynamicresources,
    gangscheduling,
    image_locality,
    interpodaffinity,
    node_affinity,
    node_declared_features,
    node_name,
    node_ports,
    node_unschedulable,
    node_volume_limits,
    podtopologyspread,
    priority_sort,
    scheduling_gates,
    taint_toleration,
    volume_restrictions,
    volume_zone,
    volumebinding,
)
from py_scheduler.plugins.noderesources import balanced_allocation, fit

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
        fit.SPEC,
        volume_restrictions.SPEC,
        node_volume_limits.SPEC,
        volumebinding.SPEC,
        volume_zone.SPEC,
        podtopologyspread.SPEC,
        interpodaffinity.SPEC,
        balanced_allocation.SPEC,
        image_locality.SPEC,
        dynamicresources.SPEC,
        gangscheduling.SPEC,
        gangscheduling.SORT_SPEC,
        defaultpreemption.SPEC,
        default_binder.SPEC,
        node_declared_features.SPEC,
    )
}

DEFAULT_MULTI_POINT: Final = (
    PluginRef(scheduling_gates.NAME),
    # kube-scheduler has PrioritySort here: GangSort is its order for pods without
    # a group, and keeps each group's pods together (config.py: a queueSort
    # plugin a configuration enables takes its place).
    PluginRef(gangscheduling.SORT_NAME),
    PluginRef(node_name.NAME),
    PluginRef(node_unschedulable.NAME),
    PluginRef(taint_toleration.NAME, 3),
    PluginRef(node_affinity.NAME, 2),
    PluginRef(node_ports.NAME),
    PluginRef(fit.NAME, 1),
    PluginRef(volume_restrictions.NAME),
    PluginRef(node_volume_limits.NAME),
    PluginRef(volumebinding.NAME),
    PluginRef(volume_zone.NAME),
    PluginRef(podtopologyspread.NAME, 2),
    PluginRef(interpodaffinity.NAME, 2),
    PluginRef(dynamicresources.NAME, 2),
    # Upstream appends GangScheduling last (behind the GenericWorkload gate). Here it
    # is on by default and comes before DefaultPreemption: its PostFilter decides for
    # a gang's members before a single member could preempt, and its PreBind barrier
    # comes after every other PreBind.
    PluginRef(gangscheduling.NAME),
    PluginRef(defaultpreemption.NAME),
    PluginRef(balanced_allocation.NAME, 1),
    PluginRef(image_locality.NAME, 1),
    PluginRef(default_binder.NAME),
    # Appended after the list, as upstream does for plugins behind a feature gate.
    PluginRef(node_declared_features.NAME),
)


def default_multi_point(release: ServerVersion) -> tuple[PluginRef, ...]:
    """The default profile of ``release``'s kube-scheduler. Until 1.36 NodeUnschedulable
    ran before NodeName; 1.37 swapped them, which decides the reason a node gets when
    both reject it. NodeDeclaredFeatures is a default from 1.36 (its gate's beta)."""
    if release.at_least(1, 37):
        return DEFAULT_MULTI_POINT
    swapped = {node_name.NAME: node_unschedulable.NAME, node_unschedulable.NAME: node_name.NAME}
    by_name = {ref.name: ref for ref in DEFAULT_MULTI_POINT}
    refs = tuple(by_name[swapped.get(ref.name, ref.name)] for ref in DEFAULT_MULTI_POINT)
    if release.at_least(1, 36):
        return refs
    return tuple(ref for ref in refs if ref.name != node_declared_features.NAME)
