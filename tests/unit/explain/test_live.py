"""The running scheduler's side: diagnoses, result annotations, capacity.

We test these aspects:
- the diagnosis a live cycle leaves (Columnar evaluation, sampling and all)
  equals explain's offline explanation of the same state;
- the store keeps at most its byte cap, least recently written out first,
  forgets a pod once it is bound, and a pod retried with the same message
  within the interval keeps its diagnosis;
- past the diagnosis budget a pod gets its cycle's summary, no report per
  node (what grows with the cluster), replaced at its next attempt within it;
- the annotations use kube-scheduler-simulator's keys and shapes, stay
  within their size, are written only when they change, and their writer
  survives a failed patch;
- capacity per shape counts what fits on schedulable nodes and the free
  room no listed shape can use; bad shapes are refused with the reason.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Coroutine, Mapping
from typing import Any

import orjson
import pytest

from py_scheduler import config
from py_scheduler.cluster import Unavailable
from py_scheduler.explain import annotations as ann
from py_scheduler.explain.capacity import Capacity, ShapeError, parse_shape, parse_shapes
from py_scheduler.explain.offline import explain_pod
from py_scheduler.explain.store import OVER_BUDGET, Diagnoser, DiagnosisStore
from py_scheduler.model import PodInfo
from py_scheduler.scheduling.build import build_scheduler
from py_scheduler.scheduling.evaluation import Columnar, Recording
from py_scheduler.scheduling.object_store import ObjectStore
from py_scheduler.scheduling.observer import Observers
from py_scheduler.scheduling.scheduler import Scheduler
from py_scheduler.simulation.run import SimulatedCluster, WatchEvent, deliver
from py_scheduler.simulation.snapshot import Snapshot, from_documents
from tests.builders import make_pod, raw_node, raw_pod

Raw = dict[str, Any]
CFG = config.parse({})
TAINT = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}


def node(name: str, cpu: str = "4", **kwargs: Any) -> Raw:
    return raw_node(name, allocatable={"cpu": cpu, "memory": "8Gi", "pods": "110"}, **kwargs)


async def _no_wait() -> None:
    pass


def live(snap: Snapshot, observer: Any, **kwargs: Any) -> tuple[Scheduler, deque[WatchEvent]]:
    objects = ObjectStore()
    objects.load(snap)
    watch: deque[WatchEvent] = deque()
    scheduler = build_scheduler(
        CFG,
        cluster=SimulatedCluster(objects, watch),
        objects=objects,
        rng=random.Random(0),
        settle=_no_wait,
        observer=observer,
        **kwargs,
    )
    scheduler.replace_nodes(snap.nodes)
    scheduler.replace_pods(snap.pods)
    return scheduler, watch


async def run_all(scheduler: Scheduler, watch: deque[WatchEvent]) -> None:
    while (queued := scheduler.queue.pop_nowait()) is not None:
        scheduler.schedule_one(queued)
        await scheduler.drain(5)
        deliver(watch, scheduler)


SAME_FIELDS = ("source", "observedAt")


def comparable(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in SAME_FIELDS}


async def test_a_live_diagnosis_equals_the_offline_explanation() -> None:
    docs = [node(f"n{i:03d}", cpu="1", taints=[TAINT] if i % 4 == 0 else ()) for i in range(150)]
    docs.append(raw_pod("incoming", requests={"cpu": "2"}, tolerations=[]))
    snap = from_documents(docs)
    store = DiagnosisStore()
    scheduler, watch = live(snap, Diagnoser(store))
    await run_all(scheduler, watch)
    found = store.get("default/incoming")
    assert found is not None
    served = orjson.loads(found[1])
    assert served["source"] == "live"
    offline = (await explain_pod(snap, CFG, "default/incoming")).to_json()
    assert comparable(served) == comparable(offline)
    assert len(served["nodes"]) == 150


async def test_a_bound_pod_is_forgotten_and_a_retry_keeps_a_fresh_diagnosis() -> None:
    now = [1000.0]
    store = DiagnosisStore()
    diagnoser = Diagnoser(store, min_interval=10, clock=lambda: now[0])
    snap = from_documents([node("n1", cpu="1"), raw_pod("p", requests={"cpu": "2"})])
    scheduler, watch = live(snap, diagnoser)
    await run_all(scheduler, watch)
    first = store.get("default/p")
    assert first is not None
    scheduler.queue.activate([scheduler.pending[next(iter(scheduler.pending))]])
    now[0] += 5
    await run_all(scheduler, watch)
    assert store.get("default/p") == first  # same message, within the interval
    assert orjson.loads(first[1])["observedAt"] == 1000.0
    now[0] += 10
    scheduler.queue.activate(list(scheduler.pending.values()))
    await run_all(scheduler, watch)
    again = store.get("default/p")
    assert again is not None
    assert orjson.loads(again[1])["observedAt"] == 1015.0
    scheduler.on_node(raw_node_decoded("n2"))
    await run_all(scheduler, watch)
    assert store.get("default/p") is None  # bound: nothing to explain any more
    assert len(store) == 0
    assert store.bytes == 0


def raw_node_decoded(name: str) -> Any:
    from py_scheduler.model import decode_node

    return decode_node(node(name))


def test_the_store_keeps_within_its_cap_newest_first() -> None:
    store = DiagnosisStore(max_bytes=2000)
    noise = random.Random(1)
    for i in range(20):
        body = bytes(noise.getrandbits(8) for _ in range(300))  # incompressible
        store.put(f"ns/p{i}", f"uid{i}", "m", body, at=float(i))
        assert store.bytes <= 2000
    kept = [i for i in range(20) if store.get(f"ns/p{i}") is not None]
    assert kept == list(range(20 - len(kept), 20))
    assert 3 <= len(kept) < 20
    store.drop("ns/p19")
    assert store.get("ns/p19") is None
    with pytest.raises(ValueError, match="positive size"):
        DiagnosisStore(max_bytes=0)


def test_fresh_needs_the_same_pod_and_message_within_the_interval() -> None:
    store = DiagnosisStore()
    store.put("ns/p", "uid1", "0/3 nodes", b"{}", at=100.0)
    assert store.fresh("ns/p", "uid1", "0/3 nodes", now=105.0, within=10)
    assert not store.fresh("ns/p", "uid1", "0/3 nodes", now=111.0, within=10)
    assert not store.fresh("ns/p", "uid1", "0/4 nodes", now=105.0, within=10)
    assert not store.fresh("ns/p", "uid2", "0/3 nodes", now=105.0, within=10)
    store.put("ns/p", "uid1", "0/3 nodes", b"{}", at=100.0, complete=False)
    assert "ns/p" in store
    assert not store.fresh("ns/p", "uid1", "0/3 nodes", now=105.0, within=10)  # a summary


# -- annotations ----------------------------------------------------------------------


class Patches:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.fail = fail
        self.tasks: list[asyncio.Task[None]] = []

    async def patch(self, pod: PodInfo, annotations: Mapping[str, str]) -> None:
        self.calls.append((pod.key, dict(annotations)))
        if self.fail:
            raise Unavailable("503")

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self.tasks.append(asyncio.get_running_loop().create_task(coro, name=name))


async def annotated(docs: list[Raw], patches: Patches) -> dict[str, dict[str, str]]:
    writer = ann.AnnotationWriter(patches.patch, patches.spawn)
    scheduler, watch = live(from_documents(docs), writer, evaluator=Recording(Columnar()))
    await run_all(scheduler, watch)
    await asyncio.gather(*patches.tasks)
    return dict(patches.calls)


async def test_annotations_follow_the_simulators_keys_and_shapes() -> None:
    docs = [
        node("n1", cpu="1", taints=[TAINT]),
        node("n2"),
        node("n3", cpu="8"),
        raw_pod("fits", requests={"cpu": "1"}),
        raw_pod("big", requests={"cpu": "16"}),
    ]
    got = await annotated(docs, Patches())
    fits = got["default/fits"]
    assert fits[ann.SELECTED_NODE] == "n3"
    filters = orjson.loads(fits[ann.FILTER])
    assert filters["n1"]["NodeUnschedulable"] == "passed"
    assert filters["n1"]["TaintToleration"] == "node(s) had untolerated taint(s)"
    assert "NodeResourcesFit" not in filters["n1"]  # not run after the rejection
    assert set(filters["n3"].values()) == {"passed"}
    scores = orjson.loads(fits[ann.SCORE])
    final = orjson.loads(fits[ann.FINAL_SCORE])
    assert set(scores) == set(final) == {"n2", "n3"}
    assert all(isinstance(v, str) and v.isdigit() for v in scores["n3"].values())
    assert final["n3"]["TaintToleration"] == str(3 * 100)
    assert orjson.loads(fits[ann.BIND]) == {"DefaultBinder": "success"}
    assert orjson.loads(fits[ann.RESERVE]) == {
        "DynamicResources": "success",
        "GangScheduling": "success",
        "VolumeBinding": "success",
    }
    assert orjson.loads(fits[ann.PERMIT_TIMEOUT]) == {"GangScheduling": "0s"}
    big = got["default/big"]
    assert big[ann.SELECTED_NODE] == ""
    assert orjson.loads(big[ann.FILTER])["n3"]["NodeResourcesFit"] == "Insufficient cpu"
    assert orjson.loads(big[ann.SCORE]) == {}
    assert set(orjson.loads(big[ann.POST_FILTER])) == {"n1", "n2", "n3"}
    assert all(len(k) + len(v) for k, v in big.items())
    assert sum(len(k) + len(v) for k, v in fits.items()) <= ann.DEFAULT_MAX_BYTES


async def test_annotations_are_cut_to_their_size_and_say_so() -> None:
    docs = [node(f"n{i:03d}", cpu="1") for i in range(300)]
    docs.append(raw_pod("big", requests={"cpu": "2"}))
    patches = Patches()
    writer = ann.AnnotationWriter(patches.patch, patches.spawn, max_bytes=8 * 1024)
    scheduler, watch = live(from_documents(docs), writer, evaluator=Recording(Columnar()))
    await run_all(scheduler, watch)
    await asyncio.gather(*patches.tasks)
    [(_, values)] = patches.calls
    assert sum(len(k) + len(v) for k, v in values.items()) <= 8 * 1024
    kept = len(orjson.loads(values[ann.FILTER]))
    assert 0 < kept < 300
    assert values[ann.TRUNCATED] == f"{300 - kept} node(s) left out of the per-node results"


async def test_the_same_results_are_written_once_and_a_failed_write_is_retried() -> None:
    patches = Patches(fail=True)
    docs = [node("n1", cpu="1"), raw_pod("big", requests={"cpu": "2"})]
    writer = ann.AnnotationWriter(patches.patch, patches.spawn)
    scheduler, watch = live(
        from_documents(docs), Observers([writer]), evaluator=Recording(Columnar())
    )
    for _ in range(3):
        scheduler.queue.activate(list(scheduler.pending.values()))
        await run_all(scheduler, watch)
        await asyncio.gather(*patches.tasks)
    assert len(patches.calls) == 3  # each failed, so each attempt writes again
    patches.fail = False
    for _ in range(3):
        scheduler.queue.activate(list(scheduler.pending.values()))
        await run_all(scheduler, watch)
        await asyncio.gather(*patches.tasks)
    assert len(patches.calls) == 4  # written once, then unchanged


# -- capacity -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("cpu=1", "expected NAME:RESOURCE=QUANTITY"),
        ("Small:cpu=1", "must be a DNS label"),
        ("s:cpu", "expected RESOURCE=QUANTITY"),
        ("s:cpu=lots", "not a valid Kubernetes quantity"),
        ("s:cpu=0", "must be more than zero"),
        ("s:pods=1", "'pods' is not a request"),
        ("s:cpu=1,cpu=2", "given twice"),
        ("s:bad name=1", "resource 'bad name'"),
    ],
)
def test_a_bad_shape_is_refused_with_the_reason(text: str, error: str) -> None:
    with pytest.raises(ShapeError, match=error):
        parse_shape(text)


def test_shapes_are_named_once_and_labelled_canonically() -> None:
    shape = parse_shape("gpu:nvidia.com/gpu=1,memory=2048Mi,cpu=500m")
    assert shape.label == "cpu=500m,memory=2Gi,nvidia.com/gpu=1"
    with pytest.raises(ShapeError, match="given twice"):
        parse_shapes(["a:cpu=1", "a:cpu=2"])


def test_capacity_counts_what_fits_and_the_room_no_shape_uses() -> None:
    docs = [
        node("n1"),  # 4 cpu, 8Gi: free 3 cpu after "a"
        node("n2", cpu="1"),  # free 1 cpu: no room for 2 cpu
        node("n3", taints=[TAINT]),  # not schedulable for a shape
        node("n4", unschedulable=True),
        raw_pod("a", node_name="n1", requests={"cpu": "1"}),
    ]
    snap = from_documents(docs)
    scheduler, _ = live(snap, None)
    pending = [make_pod("w", requests={"cpu": "500m", "memory": "1Gi"})]
    capacity = Capacity(scheduler.cache, parse_shapes(["two:cpu=2"]), lambda: pending)
    report = capacity.compute()
    assert report.fits == [
        ("two", "configured", "cpu=2", 1),
        ("cpu=500m,memory=1Gi", "pending", "cpu=500m,memory=1Gi", 6 + 2),
    ]
    assert report.free == {"cpu": 4.0, "memory": float(16 * 2**30)}
    assert report.stranded == {"cpu": 1.0, "memory": float(8 * 2**30)}  # n2's room


def test_capacity_is_computed_at_most_once_per_interval() -> None:
    scheduler, _ = live(from_documents([node("n1")]), None)
    now = [0.0]
    capacity = Capacity(scheduler.cache, [], list, min_interval=10, clock=lambda: now[0])
    first = capacity.report()
    now[0] = 5
    assert capacity.report() is first
    now[0] = 10
    assert capacity.report() is not first


async def test_past_its_budget_a_diagnosis_stands_or_is_a_summary() -> None:
    ticks = [0.0]
    store = DiagnosisStore()

    def timer() -> float:
        ticks[0] += 0.5  # every reading of the timer: half a second of diagnosing
        return ticks[0]

    diagnoser = Diagnoser(store, min_interval=0, budget=0.01, burst=0.2, timer=timer)
    docs: list[Raw] = [node(f"n{i}", cpu="1", taints=[TAINT]) for i in range(40)]
    docs += [raw_pod(name, requests={"cpu": "2"}) for name in ("a", "b")]
    scheduler, watch = live(from_documents(docs), diagnoser)
    await run_all(scheduler, watch)
    first, second = (orjson.loads(store.get(f"default/{n}")[1]) for n in ("a", "b"))  # type: ignore[index]
    assert first["warnings"] == []
    assert len(first["nodes"]) == 40
    assert [v["plugin"] for v in first["nodes"][0]["filters"]] == [
        "TaintToleration",
        "NodeResourcesFit",
    ]
    # The first one spent the budget: the second is its cycle's message, no node
    # reported (a report per node is the cost that grows with the cluster).
    assert second["nodes"] == []
    assert second["preemption"] is None
    assert second["message"] == second["condition"]["message"]
    assert second["message"].startswith("0/40 nodes are available: 40 node(s) had untolerated")
    assert second["totalNodes"] == 40
    assert second["warnings"] == [OVER_BUDGET]
    scheduler.queue.activate(list(scheduler.pending.values()))
    await run_all(scheduler, watch)
    # Still past it: both stand (the summary too: it says what the cycle said).
    assert orjson.loads(store.get("default/a")[1]) == first  # type: ignore[index]
    assert orjson.loads(store.get("default/b")[1]) == second  # type: ignore[index]


async def test_a_summary_is_replaced_at_the_next_attempt_within_the_budget() -> None:
    now = [1000.0]
    ticks, step = [0.0], [0.5]
    store = DiagnosisStore()

    def timer() -> float:
        ticks[0] += step[0]
        return ticks[0]

    diagnoser = Diagnoser(
        store, min_interval=60, budget=0.01, burst=0.2, clock=lambda: now[0], timer=timer
    )
    docs = [node("n1", cpu="1")] + [raw_pod(n, requests={"cpu": "2"}) for n in ("a", "p")]
    scheduler, watch = live(from_documents(docs), diagnoser)
    await run_all(scheduler, watch)
    summary = orjson.loads(store.get("default/p")[1])  # type: ignore[index]
    assert summary["nodes"] == []
    assert summary["warnings"] == [OVER_BUDGET]
    step[0] = 100.0  # a long quiet spell: the budget is back
    now[0] += 1  # same message, well within the interval
    scheduler.queue.activate(list(scheduler.pending.values()))
    await run_all(scheduler, watch)
    full = orjson.loads(store.get("default/p")[1])  # type: ignore[index]
    assert full["warnings"] == []
    assert [n["name"] for n in full["nodes"]] == ["n1"]
    assert full["message"] == summary["message"]
    assert full["observedAt"] == 1001.0
