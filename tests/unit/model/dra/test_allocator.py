"""The structured allocator, table-driven after upstream's allocator tests
(``structured/internal/allocatortesting``), for the features py-scheduler runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from py_scheduler.model.dra import cel
from py_scheduler.model.dra.allocator import AllocationError, Allocator, NodeAllocationError
from py_scheduler.model.dra.objects import (
    DeviceClass,
    DeviceID,
    ResourceClaim,
    ResourceSlice,
    decode_resource_slice,
)
from tests.builders import make_node
from tests.builders_dra import (
    DRIVER,
    exactly,
    first_available,
    local_selector,
    make_claim,
    make_class,
    make_slice,
    raw_device,
    raw_slice,
)

NODE = "node-1"
REGION = {"region": "region-1"}
MEM = 'device.capacity["driver-a"].memory.compareTo(quantity("{}")) >= 0'

Expected = list[list[tuple[str, str, str]]] | None  # per claim: (request, pool, device)


@dataclass
class Case:
    claims: Sequence[ResourceClaim]
    slices: Sequence[ResourceSlice]
    expect: Expected = None
    classes: Sequence[DeviceClass] = (make_class("class-a"),)
    allocated: Sequence[tuple[str, str, str]] = ()
    error: str = ""
    node_error: str = ""
    node_selectors: list[Any] = field(default_factory=list)  # per claim, when checked


def one(*devices: str, pool: str = "pool-1", node: str = NODE, **kwargs: Any) -> ResourceSlice:
    return make_slice(
        "slice-1", node=node, pool=pool, devices=[raw_device(d) for d in devices], **kwargs
    )


def mem(name: str, size: str, **attrs: Any) -> dict[str, Any]:
    return raw_device(name, capacity={"memory": size}, attributes=attrs or None)


def claim(*requests: dict[str, Any], name: str = "claim-0", **kwargs: Any) -> ResourceClaim:
    return make_claim(name, requests=requests or [exactly("req-0")], **kwargs)


CASES: dict[str, Case] = {
    "simple": Case([claim()], [one("device-1")], [[("req-0", "pool-1", "device-1")]]),
    "other-node": Case(
        [claim()],
        [one("device-1", node="node-2"), make_slice("s2", node=NODE, devices=[raw_device("d2")])],
        [[("req-0", "pool-1", "d2")]],
    ),
    "no-slices": Case([claim()], [], None),
    "not-enough-suitable-devices": Case([claim(exactly("req-0", count=2))], [one("d1")], None),
    "small-and-large": Case(
        [
            claim(
                exactly("req-0", selectors=[MEM.format("1Gi")]),
                exactly("req-1", selectors=[MEM.format("2Gi")]),
            )
        ],
        [make_slice("s", node=NODE, devices=[mem("device-1", "1Gi"), mem("device-2", "2Gi")])],
        [[("req-0", "pool-1", "device-1"), ("req-1", "pool-1", "device-2")]],
    ),
    "small-and-large-backtrack-requests": Case(
        [
            claim(
                exactly("req-0", selectors=[MEM.format("1Gi")]),
                exactly("req-1", selectors=[MEM.format("2Gi")]),
            )
        ],
        [make_slice("s", node=NODE, devices=[mem("device-2", "2Gi"), mem("device-1", "1Gi")])],
        [[("req-0", "pool-1", "device-1"), ("req-1", "pool-1", "device-2")]],
    ),
    "small-and-large-backtrack-claims": Case(
        [
            claim(exactly("req-0", selectors=[MEM.format("1Gi")]), name="claim-0"),
            claim(exactly("req-1", selectors=[MEM.format("2Gi")]), name="claim-1"),
        ],
        [make_slice("s", node=NODE, devices=[mem("device-2", "2Gi"), mem("device-1", "1Gi")])],
        [[("req-0", "pool-1", "device-1")], [("req-1", "pool-1", "device-2")]],
    ),
    "devices-split-across-different-slices": Case(
        [claim(exactly("req-0", count=2))],
        [
            make_slice("s1", node=NODE, count=2, devices=[raw_device("device-1")]),
            make_slice("s2", node=NODE, count=2, devices=[raw_device("device-2")]),
        ],
        [[("req-0", "pool-1", "device-1"), ("req-0", "pool-1", "device-2")]],
    ),
    "obsolete-slice": Case(
        [claim()],
        [
            make_slice("s1", node=NODE, count=2, devices=[raw_device("device-1")]),
            make_slice("s2", node=NODE, count=2, generation=2, devices=[raw_device("device-2")]),
        ],
        None,
    ),
    "duplicate-slice": Case(
        [claim()],
        [
            make_slice("s1", node=NODE, count=2, devices=[raw_device("device-1")]),
            make_slice("s1-2", node=NODE, count=2, devices=[raw_device("device-1")]),
        ],
        node_error="invalid resource pools were encountered",
    ),
    "no-classes": Case([claim()], [one("d1")], classes=(), error="could not retrieve device class"),
    "unknown-class": Case(
        [claim(exactly("req-0", "unknown-class"))],
        [one("d1")],
        error="could not retrieve device class unknown-class",
    ),
    "empty-class": Case(
        [claim()],
        [one("device-1")],
        [[("req-0", "pool-1", "device-1")]],
        classes=(make_class("class-a", driver=None),),
    ),
    "all-devices-single": Case(
        [claim(exactly("req-0", all_devices=True))],
        [one("device-1")],
        [[("req-0", "pool-1", "device-1")]],
    ),
    "all-devices-many": Case(
        [claim(exactly("req-0", all_devices=True))],
        [one("device-1", "device-2")],
        [[("req-0", "pool-1", "device-1"), ("req-0", "pool-1", "device-2")]],
    ),
    "all-devices-of-the-incomplete-pool": Case(
        [claim(exactly("req-0", all_devices=True))],
        [one("device-1", count=2)],
        error="claim default/claim-0, request req-0: asks for all devices, but resource pool "
        "driver-a/pool-1 is currently being updated",
    ),
    "all-devices-plus-another": Case(
        [claim(exactly("req-0", all_devices=True), name="claim-0"), claim(name="claim-1")],
        [one("device-1")],
        None,
    ),
    "all-devices-no-slices": Case([claim(exactly("req-0", all_devices=True))], [], None),
    "all-devices-some-allocated": Case(
        [claim(exactly("req-0", all_devices=True))],
        [one("device-1", "device-2")],
        None,
        allocated=[(DRIVER, "pool-1", "device-1")],
    ),
    "all-devices-some-allocated-admin-access": Case(
        [claim(exactly("req-0", all_devices=True, admin=True))],
        [one("device-1", "device-2")],
        [[("req-0", "pool-1", "device-1"), ("req-0", "pool-1", "device-2")]],
        allocated=[(DRIVER, "pool-1", "device-1")],
    ),
    "network-attached-device": Case(
        [claim()],
        [
            make_slice(
                "s",
                pool="pool-1",
                node_selector={
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "region", "operator": "In", "values": ["region-1"]}
                            ]
                        }
                    ]
                },
                devices=[raw_device("device-1")],
            )
        ],
        [[("req-0", "pool-1", "device-1")]],
        node_selectors=[
            {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": "region", "operator": "In", "values": ["region-1"]}
                        ]
                    }
                ]
            }
        ],
    ),
    "unsuccessful-allocation-network-attached-device": Case(
        [claim()],
        [
            make_slice(
                "s",
                node_selector={
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "region", "operator": "In", "values": ["other"]}
                            ]
                        }
                    ]
                },
                devices=[raw_device("device-1")],
            )
        ],
        None,
    ),
    "all-nodes-device": Case(
        [claim()],
        [make_slice("s", all_nodes=True, devices=[raw_device("device-1")])],
        [[("req-0", "pool-1", "device-1")]],
        node_selectors=[None],
    ),
    "several-different-drivers": Case(
        [claim(exactly("req-0", "class-a"), exactly("req-1", "class-b"))],
        [
            one("device-1"),
            make_slice("s-b", node=NODE, driver="driver-b", devices=[raw_device("device-1")]),
        ],
        [[("req-0", "pool-1", "device-1"), ("req-1", "pool-1", "device-1")]],
        classes=(make_class("class-a"), make_class("class-b", driver="driver-b")),
    ),
    "already-allocated-devices": Case(
        [claim()], [one("device-1")], None, allocated=[(DRIVER, "pool-1", "device-1")]
    ),
    "admin-access-enabled": Case(
        [claim(exactly("req-0", admin=True))],
        [one("device-1")],
        [[("req-0", "pool-1", "device-1")]],
        allocated=[(DRIVER, "pool-1", "device-1")],
    ),
    "with-constraint": Case(
        [
            claim(
                exactly("req-0"),
                exactly("req-1"),
                constraints=[{"matchAttribute": "driver-a/model"}],
            )
        ],
        [
            make_slice(
                "s",
                node=NODE,
                devices=[
                    raw_device("device-1", attributes={"model": "a"}),
                    raw_device("device-2", attributes={"model": "b"}),
                    raw_device("device-3", attributes={"model": "b"}),
                ],
            )
        ],
        [[("req-0", "pool-1", "device-2"), ("req-1", "pool-1", "device-3")]],
    ),
    "with-constraint-non-existent-attribute": Case(
        [claim(exactly("req-0"), constraints=[{"matchAttribute": "driver-a/missing"}])],
        [one("device-1")],
        None,
    ),
    "with-constraint-not-matching-version-attribute": Case(
        [
            claim(
                exactly("req-0"),
                exactly("req-1"),
                constraints=[{"matchAttribute": "driver-a/driverVersion"}],
            )
        ],
        [
            make_slice(
                "s",
                node=NODE,
                devices=[
                    raw_device("device-1", attributes={"driverVersion": "v:1.0.0"}),
                    raw_device("device-2", attributes={"driverVersion": "v:2.0.0"}),
                ],
            )
        ],
        None,
    ),
    "with-constraint-not-matching-int-attribute-all-devices": Case(
        [
            claim(
                exactly("req-0", all_devices=True),
                constraints=[{"matchAttribute": "driver-a/numa"}],
            )
        ],
        [
            make_slice(
                "s",
                node=NODE,
                devices=[
                    raw_device("device-1", attributes={"numa": 1}),
                    raw_device("device-2", attributes={"numa": 2}),
                ],
            )
        ],
        error="claim default/claim-0, request req-0: cannot add device driver-a/pool-1/device-2 "
        "because a claim constraint would not be satisfied",
    ),
    "with-constraint-for-request-retry": Case(
        [
            claim(
                exactly("req-0"),
                exactly("req-1"),
                constraints=[
                    {"requests": ["req-0"], "matchAttribute": "driver-a/driverVersion"},
                    {"matchAttribute": "driver-a/stringAttribute"},
                ],
            )
        ],
        [
            make_slice(
                "s",
                node=NODE,
                devices=[
                    raw_device(
                        "device-1", attributes={"driverVersion": "v:1.0.0", "stringAttribute": "a"}
                    ),
                    raw_device(
                        "device-2", attributes={"driverVersion": "v:2.0.0", "stringAttribute": "b"}
                    ),
                    raw_device(
                        "device-3", attributes={"driverVersion": "v:3.0.0", "stringAttribute": "b"}
                    ),
                ],
            )
        ],
        [[("req-0", "pool-1", "device-2"), ("req-1", "pool-1", "device-3")]],
    ),
    "with-distinct-attribute": Case(
        [claim(exactly("req-0", count=2), constraints=[{"distinctAttribute": "driver-a/numa"}])],
        [
            make_slice(
                "s",
                node=NODE,
                devices=[
                    raw_device("device-1", attributes={"numa": 1}),
                    raw_device("device-2", attributes={"numa": 1}),
                    raw_device("device-3", attributes={"numa": 2}),
                ],
            )
        ],
        [[("req-0", "pool-1", "device-1"), ("req-0", "pool-1", "device-3")]],
    ),
    "invalid-CEL-one-device": Case(
        [claim(exactly("req-0", selectors=["noSuchVar"]))],
        [one("device-1")],
        error="undeclared reference",
    ),
    "invalid-CEL-one-device-class": Case(
        [claim()],
        [one("device-1")],
        classes=(make_class("class-a", driver=None, selectors=["noSuchVar"]),),
        error="class class-a: selector #0: CEL compile error: compilation failed",
    ),
    "runtime-CEL-error": Case(
        [claim(exactly("req-0", selectors=['device.attributes["driver-a"].missing']))],
        [make_slice("s", node=NODE, devices=[raw_device("device-1", attributes={"x": 1})])],
        error="claim default/claim-0: selector #0 on device driver-a/pool-1/device-1: CEL "
        "runtime error: no such key: missing",
    ),
    "cost-limit-exceeded": Case(
        [
            claim(
                exactly(
                    "req-0",
                    selectors=[
                        "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, "
                        "[1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, "
                        "[1,2,3,4,5,6,7,8,9,10].all(e, [1,2,3,4,5,6,7,8,9,10].all(f, true))))))"
                    ],
                )
            )
        ],
        [one("device-1")],
        error="CEL runtime error: operation cancelled: actual cost limit exceeded",
    ),
    "too-many-devices-single-request": Case(
        [claim(exactly("req-0", count=500))], [one("d1")], error="exceeds the claim limit"
    ),
    "prioritized-list-first-unavailable": Case(
        [claim(first_available("req-0", exactly("sub-0", "class-b"), exactly("sub-1", "class-a")))],
        [one("device-1")],
        [[("req-0/sub-1", "pool-1", "device-1")]],
        classes=(make_class("class-a"), make_class("class-b", driver="driver-b")),
    ),
    "prioritized-list-non-available": Case(
        [claim(first_available("req-0", exactly("sub-0", count=2), exactly("sub-1", count=3)))],
        [one("device-1")],
        None,
    ),
    "prioritized-list-with-backtracking": Case(
        [
            claim(
                first_available(
                    "req-0",
                    exactly("sub-0", selectors=[MEM.format("8Gi")]),
                    exactly("sub-1", selectors=[MEM.format("4Gi")]),
                ),
                exactly("req-1", selectors=[MEM.format("8Gi")]),
            )
        ],
        [
            make_slice("s1", node=NODE, pool="pool-1", devices=[mem("device-1", "8Gi")]),
            make_slice("s2", node=NODE, pool="pool-2", devices=[mem("device-2", "4Gi")]),
        ],
        [[("req-0/sub-1", "pool-2", "device-2"), ("req-1", "pool-1", "device-1")]],
    ),
    "partitionable-devices-single-device": Case(
        [claim()],
        [
            make_slice(
                "counters", node=NODE, shared_counters={"gpu-0": {"memory": "8Gi"}}, count=2
            ),
            make_slice(
                "devices",
                node=NODE,
                count=2,
                devices=[raw_device("device-1", consumes=[("gpu-0", {"memory": "4Gi"})])],
            ),
        ],
        [[("req-0", "pool-1", "device-1")]],
    ),
    "partitionable-devices-no-capacity-available": Case(
        [claim(exactly("req-0", count=2))],
        [
            make_slice(
                "counters", node=NODE, shared_counters={"gpu-0": {"memory": "8Gi"}}, count=2
            ),
            make_slice(
                "devices",
                node=NODE,
                count=2,
                devices=[
                    raw_device("whole", consumes=[("gpu-0", {"memory": "8Gi"})]),
                    raw_device("half", consumes=[("gpu-0", {"memory": "4Gi"})]),
                ],
            ),
        ],
        None,
    ),
    "partitionable-devices-multiple-devices": Case(
        [claim(exactly("req-0", count=2))],
        [
            make_slice(
                "counters", node=NODE, shared_counters={"gpu-0": {"memory": "8Gi"}}, count=2
            ),
            make_slice(
                "devices",
                node=NODE,
                count=2,
                devices=[
                    raw_device("whole", consumes=[("gpu-0", {"memory": "8Gi"})]),
                    raw_device("half-0", consumes=[("gpu-0", {"memory": "4Gi"})]),
                    raw_device("half-1", consumes=[("gpu-0", {"memory": "4Gi"})]),
                ],
            ),
        ],
        [[("req-0", "pool-1", "half-0"), ("req-0", "pool-1", "half-1")]],
    ),
    "partitionable-devices-overallocated-capacity-pool": Case(
        [claim()],
        [
            make_slice(
                "counters", node=NODE, shared_counters={"gpu-0": {"memory": "8Gi"}}, count=2
            ),
            make_slice(
                "devices",
                node=NODE,
                count=2,
                devices=[
                    raw_device("whole", consumes=[("gpu-0", {"memory": "8Gi"})]),
                    raw_device("half-0", consumes=[("gpu-0", {"memory": "4Gi"})]),
                ],
            ),
        ],
        None,
        allocated=[(DRIVER, "pool-1", "whole")],
    ),
    "partitionable-devices-per-device-node-selection-nodename": Case(
        [claim()],
        [
            make_slice(
                "s",
                per_device=True,
                devices=[
                    raw_device("other", node_name="node-2"),
                    raw_device("mine", node_name=NODE),
                ],
            )
        ],
        [[("req-0", "pool-1", "mine")]],
        node_selectors=[local_selector(NODE)],
    ),
    "tainted-two-devices": Case(
        [claim()],
        [
            make_slice(
                "s",
                node=NODE,
                devices=[
                    raw_device(
                        "device-1", taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}]
                    ),
                    raw_device(
                        "device-2", taints=[{"key": "k", "value": "v", "effect": "NoExecute"}]
                    ),
                ],
            )
        ],
        None,
    ),
    "tainted-two-devices-tolerated": Case(
        [claim(exactly("req-0", tolerations=[{"key": "k", "operator": "Exists"}]))],
        [
            make_slice(
                "s",
                node=NODE,
                devices=[
                    raw_device(
                        "device-1", taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}]
                    ),
                ],
            )
        ],
        [[("req-0", "pool-1", "device-1")]],
    ),
    "tainted-no-effect": Case(
        [claim()],
        [
            make_slice(
                "s",
                node=NODE,
                devices=[raw_device("device-1", taints=[{"key": "k", "effect": "None"}])],
            )
        ],
        [[("req-0", "pool-1", "device-1")]],
    ),
    "device-binding-conditions": Case(
        [claim()],
        [make_slice("s", node=NODE, devices=[raw_device("d", bindingConditions=["attached"])])],
        None,
    ),
    "consumable-capacity-disabled": Case(
        [
            make_claim(
                requests=[
                    {
                        "name": "req-0",
                        "exactly": {
                            "deviceClassName": "class-a",
                            "capacity": {"requests": {"memory": "1Gi"}},
                        },
                    }
                ]
            )
        ],
        [one("device-1")],
        error="has capacity requests, but the DRAConsumableCapacity feature is disabled",
    ),
}


def run(case: Case) -> list[Any] | None:
    classes = {c.name: c for c in case.classes}
    allocator = Allocator(
        allocated={DeviceID(*d) for d in case.allocated},
        classes=classes.get,
        slices=case.slices,
        selectors=cel.SelectorCache(),
    )
    return allocator.allocate(make_node(NODE, labels=REGION), case.claims)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_allocate(case: Case) -> None:
    if case.error:
        with pytest.raises(AllocationError, match=None) as info:
            run(case)
        assert case.error in str(info.value)
        return
    if case.node_error:
        with pytest.raises(NodeAllocationError) as node_info:
            run(case)
        assert str(node_info.value) == case.node_error
        return
    results = run(case)
    if case.expect is None:
        assert results is None
        return
    assert results is not None
    got = [[(d.request, d.id.pool, d.id.device) for d in r.devices] for r in results]
    assert got == case.expect
    for result in results:
        raw = result.raw["devices"]["results"]
        assert [(r["request"], r["pool"], r["device"]) for r in raw] == [
            (d.request, d.id.pool, d.id.device) for d in result.devices
        ]
    for result, selector in zip(results, case.node_selectors, strict=False):
        assert result.raw.get("nodeSelector") == selector


def test_node_local_allocation_is_pinned_to_the_node() -> None:
    results = run(Case([claim()], [one("device-1")]))
    assert results is not None
    assert results[0].raw["nodeSelector"] == local_selector(NODE)


def test_admin_access_result_says_so() -> None:
    results = run(Case([claim(exactly("req-0", admin=True))], [one("device-1")]))
    assert results is not None
    assert results[0].raw["devices"]["results"][0]["adminAccess"] is True


def test_class_and_claim_config_are_copied_in_order() -> None:
    opaque_class = {"opaque": {"driver": DRIVER, "parameters": {"from": "class"}}}
    opaque_claim = {"requests": ["req-0"], "opaque": {"driver": DRIVER, "parameters": {"x": 1}}}
    case = Case(
        [claim(config=[opaque_claim])],
        [one("device-1")],
        classes=(make_class("class-a", config=[opaque_class]),),
    )
    results = run(case)
    assert results is not None
    # Both apply to every request, so neither names requests ("empty means all").
    assert results[0].raw["devices"]["config"] == [
        {"source": "FromClass", **opaque_class},
        {"source": "FromClaim", "opaque": opaque_claim["opaque"]},
    ]


def test_slice_with_a_duplicate_device_decodes_but_its_pool_is_invalid() -> None:
    dup = decode_resource_slice(
        raw_slice("s", node=NODE, devices=[raw_device("d"), raw_device("d")])
    )
    with pytest.raises(NodeAllocationError, match="invalid resource pools were encountered"):
        run(Case([claim()], [dup]))
