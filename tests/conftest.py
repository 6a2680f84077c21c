"""Shared fixtures: a real local control plane for integration tests.

The control plane (etcd, kube-apiserver, kube-controller-manager, kwok) is
started once per session on 127.0.0.1 and stopped at the end, failed tests
included. When its binaries are missing the integration tests are skipped,
unless ``PY_SCHEDULER_REQUIRE_CONTROLPLANE=1`` (set by ``make test``), which
turns the skip into an error so CI can never pass without them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from scheduler.devcluster import controlplane
from scheduler.kube.client import KubeClient, load_configuration


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def control_plane() -> Iterator[controlplane.LocalControlPlane]:
    if not controlplane.binaries_present():
        message = (
            f"control-plane binaries missing in {controlplane.default_bin_dir()}; "
            "run `make controlplane`"
        )
        if os.environ.get("PY_SCHEDULER_REQUIRE_CONTROLPLANE") == "1":
            pytest.fail(message)
        pytest.skip(message)
    workdir = Path(tempfile.mkdtemp(prefix="py-scheduler-test-"))
    plane = controlplane.LocalControlPlane(workdir=workdir, bin_dir=controlplane.default_bin_dir())
    plane.start()
    try:
        yield plane
    finally:
        plane.stop()
        print(f"\ncontrol-plane logs kept in {plane.logs}")


@pytest.fixture(scope="session")
def kubeconfig(control_plane: controlplane.LocalControlPlane) -> Path:
    return control_plane.kubeconfig


@pytest.fixture(scope="session")
async def api(kubeconfig: Path) -> AsyncIterator[KubeClient]:
    """The scheduler's own JSON client, as admin."""
    async with KubeClient(await load_configuration(str(kubeconfig))) as kube:
        yield kube
