"""``simulate`` with DRA objects: the live DynamicResources code against a
snapshot, with the simulated cluster playing the resourceclaim controller.

We test these aspects: pods asking for a GPU of a given model through a
ResourceClaimTemplate get distinct matching devices, reported per claim; a
pod no device can serve stays pending with upstream's message; a
higher-priority pod preempts a lower-priority one for its device; a
snapshot with a bad DRA object is refused with the document named; the
simulated API server takes claim writes through the ObjectStore, refuses a
stale one with a Conflict, and shows each on its watch.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from typing import Any

import pytest
import yaml

from py_scheduler import config
from py_scheduler.cluster import Conflict
from py_scheduler.framework.types import ActionType, Resource
from py_scheduler.model.dra.objects import Consumer
from py_scheduler.model.server import OFFLINE, ServerInfo, ServerVersion, offline
from py_scheduler.scheduling.object_store import ObjectStore
from py_scheduler.simulation.run import (
    ObjectChanged,
    Result,
    SimulatedCluster,
    WatchEvent,
    simulate,
)
from py_scheduler.simulation.snapshot import SnapshotError, parse
from tests.builders import raw_node, raw_pod
from tests.builders_dra import allocation, make_claim, raw_class, raw_device, raw_slice

DRIVER = "gpu.example.com"
MODEL = 'device.attributes["gpu.example.com"].model == "{}"'


def gpu_slice(node: str, *models: str) -> dict[str, Any]:
    doc = raw_slice(
        f"{node}-gpus",
        node=node,
        pool=node,
        driver=DRIVER,
        devices=[raw_device(f"gpu-{i}", attributes={"model": m}) for i, m in enumerate(models)],
    )
    return {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice", **doc}


def gpu_class() -> dict[str, Any]:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "DeviceClass",
        **raw_class("gpu", driver=DRIVER),
    }


def template(name: str, model: str) -> dict[str, Any]:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaimTemplate",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "spec": {
                "devices": {
                    "requests": [
                        {
                            "name": "gpu",
                            "exactly": {
                                "deviceClassName": "gpu",
                                "selectors": [{"cel": {"expression": MODEL.format(model)}}],
                            },
                        }
                    ]
                }
            }
        },
    }


def gpu_pod(name: str, tmpl: str = "a100", **kwargs: Any) -> dict[str, Any]:
    return raw_pod(
        name,
        resource_claims=[{"name": "gpu", "resourceClaimTemplateName": tmpl}],
        **kwargs,
    )


async def run(*docs: dict[str, Any], server: ServerInfo = OFFLINE) -> dict[str, Result]:
    snap = parse(yaml.safe_dump_all(docs))
    results = await simulate(snap, config.load(None), seed=0, server=server)
    return {r.pod: r for r in results}


async def test_pods_get_distinct_devices_of_the_model_they_ask_for() -> None:
    got = await run(
        raw_node("n1"),
        raw_node("n2"),
        gpu_class(),
        gpu_slice("n1", "t4", "a100"),
        gpu_slice("n2", "a100", "t4"),
        template("a100", "a100"),
        gpu_pod("a"),
        gpu_pod("b"),
    )
    devices = sorted(
        (r.node, r.claims[f"{r.pod.split('/')[1]}-gpu"][0]["device"]) for r in got.values()
    )
    assert devices == [("n1", "gpu-1"), ("n2", "gpu-0")]
    assert got["default/a"].to_json()["claims"] == {
        "a-gpu": [
            {
                "request": "gpu",
                "driver": DRIVER,
                "pool": got["default/a"].node,
                "device": "gpu-1" if got["default/a"].node == "n1" else "gpu-0",
            }
        ]
    }


@pytest.mark.parametrize(
    ("server", "post_filter_words"),
    [
        pytest.param(offline(ServerVersion(1, 36)), "still not schedulable, ", id="1.36"),
        # 1.37's DynamicResources PostFilter rejects without a word (kubernetes PR 140222).
        pytest.param(offline(ServerVersion(1, 37)), "", id="1.37"),
        pytest.param(OFFLINE, "", id="offline: the newest"),
    ],
)
async def test_a_pod_no_device_can_serve_stays_pending(
    server: ServerInfo, post_filter_words: str
) -> None:
    got = await run(
        raw_node("n1"),
        gpu_class(),
        gpu_slice("n1", "a100"),
        template("a100", "a100"),
        gpu_pod("first"),
        gpu_pod("second"),
        server=server,
    )
    assert got["default/first"].node == "n1"
    second = got["default/second"]
    assert second.node is None
    assert second.claims == {}
    assert second.message == (
        f"0/1 nodes are available: 1 cannot allocate all claims. {post_filter_words}"
        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
    )


async def test_a_higher_priority_pod_preempts_for_a_device() -> None:
    got = await run(
        raw_node("n1"),
        gpu_class(),
        gpu_slice("n1", "a100"),
        template("a100", "a100"),
        gpu_pod(
            "low",
            priority=1,
            node_name="n1",
            claim_statuses=[{"name": "gpu", "resourceClaimName": "low-gpu"}],
        ),
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceClaim",
            "metadata": {
                "name": "low-gpu",
                "namespace": "default",
                "uid": "low-gpu-uid",
                "ownerReferences": [
                    {"kind": "Pod", "name": "low", "uid": "uid-default-low", "controller": True}
                ],
            },
            "spec": template("x", "a100")["spec"]["spec"],
            "status": {
                "allocation": {
                    "devices": {
                        "results": [
                            {"request": "gpu", "driver": DRIVER, "pool": "n1", "device": "gpu-0"}
                        ]
                    }
                },
                "reservedFor": [{"resource": "pods", "name": "low", "uid": "uid-default-low"}],
            },
        },
        gpu_pod("high", priority=100),
    )
    high = got["default/high"]
    assert high.victims == ["default/low"]
    assert high.node == "n1"
    assert high.claims == {
        "high-gpu": [{"request": "gpu", "driver": DRIVER, "pool": "n1", "device": "gpu-0"}]
    }


def test_a_malformed_slice_is_refused_naming_the_document() -> None:
    bad = gpu_slice("n1", "a100")
    bad["spec"]["devices"][0]["capacity"] = {"memory": {"value": "lots"}}
    with pytest.raises(SnapshotError, match=r"document 1 .*spec\.devices\[0\]\.capacity"):
        parse(yaml.safe_dump_all([bad]))


async def test_claim_writes_go_through_the_store_and_show_on_the_watch() -> None:
    objects = ObjectStore()
    claim = make_claim("c")
    objects.put_resource_claim(claim)
    watch: deque[WatchEvent] = deque()
    cluster = SimulatedCluster(objects, watch)
    consumer = Consumer("pods", "p", "uid-p")
    reserved = await cluster.reserve_claim(
        claim, consumer=consumer, allocation=allocation(("req-0", DRIVER, "n1", "gpu-0"))
    )
    assert reserved.resource_version == "2"
    assert reserved.reserved_for == (consumer,)
    assert objects.resource_claim("default", "c") == reserved
    assert [d.device for d in objects.allocated_devices()] == ["gpu-0"]
    assert list(watch) == [
        ObjectChanged(Resource.RESOURCE_CLAIM, ActionType.UPDATE, claim, reserved)
    ]
    with pytest.raises(Conflict, match="the object has been modified"):
        await cluster.deallocate_claim(replace(reserved, resource_version="1"))
    deallocated = await cluster.deallocate_claim(reserved)
    assert deallocated.allocation is None
    assert deallocated.reserved_for == ()
    assert not objects.allocated_devices()
    assert len(watch) == 2
