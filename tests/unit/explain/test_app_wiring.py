"""``run``'s explain wiring (app/explain.py) in the start-up order: the server,
``/debug/pods`` included, starts before discovery and the scheduler's build,
so its routes exist before there is a scheduler; until ``attach`` no pod is
pending there (404), after it a pending pod's diagnosis is served."""

from __future__ import annotations

import random
from collections import deque
from typing import Any, cast

import orjson
from aiohttp.test_utils import TestClient, TestServer

from py_scheduler import config
from py_scheduler.app.explain import Explain, ExplainSettings
from py_scheduler.app.server import Health, make_app
from py_scheduler.kube.client import KubeClient
from py_scheduler.scheduling.build import build_scheduler
from py_scheduler.scheduling.object_store import ObjectStore
from py_scheduler.simulation.run import SimulatedCluster, WatchEvent
from tests.builders import make_pod

# Only the annotations patch through the client; they are off here.
NO_CLIENT = cast(KubeClient, None)
POD = make_pod("p")
DIAGNOSIS = orjson.dumps({"pod": "default/p"})


async def test_the_routes_serve_before_the_scheduler_and_see_its_pods_once_attached() -> None:
    explained = Explain(ExplainSettings(), NO_CLIENT)
    assert explained.store is not None
    explained.store.put(POD.key, POD.uid, "0/0 nodes are available.", DIAGNOSIS, at=0.0)
    server = TestServer(make_app(Health(), None, explained.routes()))
    async with TestClient(server) as client:
        before = await client.get("/debug/pods/default/p")
        assert before.status == 404
        assert (await before.json())["error"].startswith("no diagnosis of pod default/p")

        explained.store.put(POD.key, POD.uid, "0/0 nodes are available.", DIAGNOSIS, at=0.0)
        objects = ObjectStore()
        watch: deque[WatchEvent] = deque()
        scheduler = build_scheduler(
            config.parse({}),
            cluster=SimulatedCluster(objects, watch),
            objects=objects,
            rng=random.Random(0),
            observer=explained.observer,
        )
        scheduler.replace_pods([POD])
        explained.attach(scheduler)
        after = await client.get("/debug/pods/default/p")
        assert after.status == 200
        body: Any = await after.json()
        assert body == {"pod": "default/p"}


def test_no_store_no_routes() -> None:
    assert Explain(ExplainSettings(diagnoses_max_bytes=0), NO_CLIENT).routes() == []
