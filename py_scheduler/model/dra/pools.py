"""Resource pools as one node sees them (upstream ``GatherPools``).

A driver publishes a pool as one or more ResourceSlices of one generation.
For a node, only slices that target it count (its name, all nodes, a node
selector it matches, or per-device node selection with a device for it).
The pool is complete when every slice of its newest generation is seen;
an incomplete pool lends no device (and fails "all" requests), an obsolete
one (a newer generation exists) is ignored. A pool whose slices repeat a
device name, or whose counters do not add up, is invalid: it lends nothing,
and a node that only such pools could serve reports it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from py_scheduler.model.dra.objects import Device, ResourceSlice
from py_scheduler.model.node import Node
from py_scheduler.model.selectors import NodeSelector


@dataclass(frozen=True, slots=True)
class Pool:
    driver: str
    name: str
    incomplete: bool = False
    invalid_reason: str = ""
    slices: tuple[ResourceSlice, ...] = ()  # device slices targeting the node
    # Slices of the pool that do not target the node: their allocated devices
    # still consume shared counters.
    other_slices: tuple[ResourceSlice, ...] = ()
    counter_sets: Mapping[str, Mapping[str, Fraction]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.driver}/{self.name}"

    @property
    def invalid(self) -> bool:
        return bool(self.invalid_reason)


def node_matches(
    node: Node, node_name: str, all_nodes: bool, selector: NodeSelector | None
) -> bool:
    if node_name:
        return node.name == node_name
    if all_nodes:
        return True
    if selector is not None:
        return selector.matches(node.name, node.labels)
    return False


def _targets(slice_: ResourceSlice, node: Node) -> bool:
    if slice_.node_name or slice_.all_nodes or slice_.node_selector is not None:
        return node_matches(node, slice_.node_name, slice_.all_nodes, slice_.node_selector)
    if slice_.per_device_node_selection:
        return any(
            node_matches(node, d.node_name, d.all_nodes, d.node_selector) for d in slice_.devices
        )
    return False


def gather_pools(
    node: Node, for_node: Sequence[ResourceSlice], every: Sequence[ResourceSlice]
) -> list[Pool]:
    """Pools for ``node`` from the slices that may target it (``for_node``: the
    node's own plus the shared ones); ``every`` is all slices, for completeness."""
    newest: dict[tuple[str, str], list[ResourceSlice]] = {}
    for slice_ in for_node:
        if not _targets(slice_, node):
            continue
        key = (slice_.driver, slice_.pool)
        seen = newest.get(key)
        if seen is None or slice_.generation > seen[0].generation:
            newest[key] = [slice_]
        elif slice_.generation == seen[0].generation:
            seen.append(slice_)
    pools = []
    for (driver, name), slices in newest.items():
        generation, wanted = slices[0].generation, slices[0].slice_count
        if len(slices) == wanted:
            pools.append(_build(driver, name, slices, ()))
            continue
        same: list[ResourceSlice] = []
        obsolete = False
        for other in every:
            if other.driver != driver or other.pool != name:
                continue
            if other.generation > generation:
                obsolete = True
                break
            if other.generation == generation:
                same.append(other)
        if obsolete:
            continue
        if len(same) != wanted:
            pools.append(Pool(driver, name, incomplete=True))
            continue
        targeting = {s.name for s in slices}
        pools.append(_build(driver, name, slices, [s for s in same if s.name not in targeting]))
    return sorted(pools, key=lambda p: (p.driver, p.name))


def _build(
    driver: str, name: str, slices: list[ResourceSlice], others: Sequence[ResourceSlice]
) -> Pool:
    ordered = sorted(slices, key=lambda s: s.name)
    device_slices = [s for s in ordered if not s.shared_counters]
    counter_slices = [s for s in ordered if s.shared_counters]
    counter_slices += [s for s in others if s.shared_counters]
    other_devices = tuple(s for s in others if not s.shared_counters)
    names: set[str] = set()
    for slice_ in device_slices:
        for device in slice_.devices:
            if device.name in names:
                return Pool(driver, name, invalid_reason=f"duplicate device name {device.name}")
            names.add(device.name)
    counter_sets: dict[str, Mapping[str, Fraction]] = {}
    for slice_ in counter_slices:
        for set_name, counters in slice_.shared_counters.items():
            if set_name in counter_sets:
                return Pool(driver, name, invalid_reason=f"duplicate counter set name {set_name}")
            counter_sets[set_name] = counters
    for slice_ in (*device_slices, *other_devices):
        problem = _counter_problem(slice_.devices, counter_sets)
        if problem:
            return Pool(driver, name, invalid_reason=problem)
    return Pool(
        driver,
        name,
        slices=tuple(device_slices),
        other_slices=other_devices,
        counter_sets=counter_sets,
    )


def _counter_problem(
    devices: Sequence[Device], counter_sets: Mapping[str, Mapping[str, Fraction]]
) -> str:
    for device in devices:
        for consumption in device.consumes_counters:
            counters = counter_sets.get(consumption.counter_set)
            if counters is None:
                return f"counter set {consumption.counter_set} not found"
            for counter in consumption.counters:
                if counter not in counters:
                    return f"counter {counter} not found in counter set {consumption.counter_set}"
    return ""
