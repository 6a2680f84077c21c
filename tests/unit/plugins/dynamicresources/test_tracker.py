"""DynamicResources' ClaimTracker and arguments: in-flight allocations and
assumed claims (upstream's assume cache and ``inFlightAllocations``), and
``DynamicResourcesArgs`` as ``ValidateDynamicResourcesArgs`` checks them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from py_scheduler.framework.registry import ArgsError
from py_scheduler.model.dra.objects import DeviceID
from py_scheduler.model.durations import parse_duration
from py_scheduler.plugins.dynamicresources import SPEC
from py_scheduler.plugins.dynamicresources.args import DynamicResourcesArgs
from py_scheduler.plugins.dynamicresources.tracker import ClaimTracker
from tests.builders_dra import allocation, make_claim
from tests.fakes import FakeObjects

DEVICE = DeviceID("driver-a", "node-1", "gpu-0")


def test_an_in_flight_allocation_takes_its_devices_until_the_last_sharer_goes() -> None:
    objects = FakeObjects(resource_claims=[make_claim()])
    tracker = ClaimTracker(objects)
    claim = make_claim(allocation=allocation(("req-0", *DEVICE), node="node-1"))
    tracker.signal_pending(claim)
    tracker.signal_pending(claim)  # a second pod shares the claim
    assert DEVICE in tracker.allocated()
    assert tracker.pending_allocation(claim.uid) is claim
    assert not tracker.maybe_remove_pending(claim.uid)
    assert DEVICE in tracker.allocated()
    assert tracker.maybe_remove_pending(claim.uid)
    assert DEVICE not in tracker.allocated()
    assert not tracker.maybe_remove_pending(claim.uid), "idempotent"


def test_an_assumed_claim_stands_in_until_the_watch_moves_on() -> None:
    watched = make_claim()
    objects = FakeObjects(resource_claims=[watched])
    tracker = ClaimTracker(objects)
    written = replace(
        make_claim(allocation=allocation(("req-0", *DEVICE), node="node-1")),
        resource_version="2",
    )
    tracker.assume(written)
    assert tracker.get("default", "claim-0") is written
    assert DEVICE in tracker.allocated()
    # The watch shows our write: the watched copy is the truth again.
    objects.put_claim(written)
    assert tracker.get("default", "claim-0") is written
    assert len(tracker) == 0
    tracker.assume(written)
    tracker.restore(written.key)
    assert tracker.get("default", "claim-0") is written  # the watched one


def test_freed_devices_are_excluded_from_the_union() -> None:
    objects = FakeObjects(resource_claims=[make_claim(allocation=allocation(("r", *DEVICE)))])
    union = ClaimTracker(objects).allocated()
    assert DEVICE in union
    assert DEVICE not in union.without({DEVICE})
    assert list(union.without({DEVICE})) == []


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("10s", 10.0, id="seconds"),
        pytest.param("1m30s", 90.0, id="minutes and seconds"),
        pytest.param("250ms", 0.25, id="milliseconds"),
        pytest.param("0", 0.0, id="zero disables the limit"),
    ],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


def test_default_args_are_upstreams() -> None:
    assert SPEC.args(None) == DynamicResourcesArgs(filter_timeout=10.0, binding_timeout=600.0)
    assert SPEC.args({"filterTimeout": "5s"}).filter_timeout == 5.0


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        pytest.param({"filterTimeout": "-1s"}, "must be zero or positive", id="negative filter"),
        pytest.param({"bindingTimeout": "500ms"}, "must be at least 1 second", id="short binding"),
        pytest.param({"filterTimout": "1s"}, "unknown field", id="a misspelt field"),
        pytest.param({"filterTimeout": "soon"}, "invalid duration", id="not a duration"),
    ],
)
def test_bad_args_stop_start_up(raw: dict[str, str], problem: str) -> None:
    with pytest.raises(ArgsError, match=problem):
        SPEC.args(raw)
