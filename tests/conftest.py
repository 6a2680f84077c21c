"""Shared fixtures: a real local control plane for integration tests.

The control plane (etcd, kube-apiserver, kube-controller-manager, kwok) is
started once per session on 127.0.0.1 and stopped at the end, failed tests
included. When its binaries are missing the integration tests are skipped,
unless ``PY_SCHEDULER_REQUIRE_CONTROLPLANE=1`` (set by ``make test``), which
turns the skip into an error so CI can never pass without them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
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


@pytest.fixture(scope="session")
def scheduler_process(
    control_plane: controlplane.LocalControlPlane,
) -> Iterator[str]:
    """A real ``python -m scheduler run`` against the control plane; yields its
    base URL (metrics and probes). Stopped with SIGTERM, which must exit 0."""
    port = controlplane.free_port()
    log_path = control_plane.logs / "py-scheduler.log"
    config_path = Path(__file__).parent / "integration" / "scheduler-config.yaml"
    env = {**os.environ, "KUBECONFIG": str(control_plane.kubeconfig)}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "scheduler",
                "run",
                "--config",
                str(config_path),
                "--bind-address",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-format",
                "json",
                "--log-level",
                "debug",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            pytest.fail(f"py-scheduler exited with {proc.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=1) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"py-scheduler not ready in 30s; see {log_path}")
        time.sleep(0.2)
    try:
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("py-scheduler did not stop within 30s of SIGTERM")
        assert code == 0, f"py-scheduler exited with {code} on SIGTERM; see {log_path}"
