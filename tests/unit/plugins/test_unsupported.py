"""UnsupportedFeatures: only ``resourceClaims`` are still refused; volumes
are VolumeBinding's to judge."""

from __future__ import annotations

import pytest

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.status import SUCCESS, Status
from py_scheduler.model import PodInfo, decode_pod
from py_scheduler.plugins.unsupported import REASON_RESOURCE_CLAIMS, SPEC, UnsupportedFeatures
from tests.builders import make_pod, raw_pod
from tests.fakes import FakeHandle


def plugin() -> UnsupportedFeatures:
    built = SPEC.build(SPEC.args(None), FakeHandle())
    assert isinstance(built, UnsupportedFeatures)
    return built


def with_claims() -> PodInfo:
    raw = raw_pod("p")
    raw["spec"]["resourceClaims"] = [{"name": "gpu", "resourceClaimName": "gpu-claim"}]
    return decode_pod(raw)


@pytest.mark.parametrize(
    ("pod", "want"),
    [
        pytest.param(make_pod("p"), SUCCESS, id="a plain pod"),
        pytest.param(
            make_pod("p", volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "c"}}]),
            SUCCESS,
            id="a claim is no longer refused",
        ),
        pytest.param(
            make_pod("p", volumes=[{"name": "d", "ephemeral": {"volumeClaimTemplate": {}}}]),
            SUCCESS,
            id="a generic ephemeral volume is no longer refused",
        ),
        pytest.param(
            make_pod("p", volumes=[{"name": "d", "gcePersistentDisk": {"pdName": "x"}}]),
            SUCCESS,
            id="an in-line disk is no longer refused",
        ),
        pytest.param(
            with_claims(), Status.unresolvable(REASON_RESOURCE_CLAIMS), id="resourceClaims"
        ),
    ],
)
def test_pre_filter(pod: PodInfo, want: Status) -> None:
    _, status = plugin().pre_filter(CycleState(), pod, [])
    assert status == want
