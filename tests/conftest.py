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
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from controlplane import launcher, releases
from py_scheduler.kube import discovery
from py_scheduler.kube.client import KubeClient, load_configuration
from py_scheduler.model.server import ServerInfo

# The secure port's certificate is self-signed, as kube-scheduler's is by default.
UNVERIFIED = ssl.create_default_context()
UNVERIFIED.check_hostname = False
UNVERIFIED.verify_mode = ssl.CERT_NONE


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def control_plane() -> Iterator[launcher.LocalControlPlane]:
    if not launcher.binaries_present():
        message = (
            f"control-plane binaries missing in {releases.default_bin_dir()}; "
            "run `make controlplane`"
        )
        if os.environ.get("PY_SCHEDULER_REQUIRE_CONTROLPLANE") == "1":
            pytest.fail(message)
        pytest.skip(message)
    workdir = Path(tempfile.mkdtemp(prefix="py-scheduler-test-"))
    plane = launcher.LocalControlPlane(workdir=workdir, bin_dir=releases.default_bin_dir())
    plane.start()
    try:
        yield plane
    finally:
        plane.stop()
        print(f"\ncontrol-plane logs kept in {plane.logs}")


@pytest.fixture(scope="session")
def kubeconfig(control_plane: launcher.LocalControlPlane) -> Path:
    return control_plane.kubeconfig


@pytest.fixture(scope="session")
async def api(kubeconfig: Path) -> AsyncIterator[KubeClient]:
    """The scheduler's own JSON client, as admin."""
    async with KubeClient(await load_configuration(str(kubeconfig))) as kube:
        yield kube


@pytest.fixture(scope="session")
async def server(api: KubeClient) -> ServerInfo:
    """The control plane's release, discovered as py-scheduler discovers it: where
    releases differ, the messages the tests expect follow it."""
    return await discovery.discover(api)


@dataclass
class SchedulerProcess:
    proc: subprocess.Popen[bytes]
    base: str
    log: Path

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail(f"py-scheduler did not stop within {timeout}s; see {self.log}")


def start_scheduler(
    plane: launcher.LocalControlPlane,
    config_path: Path,
    *,
    name: str = "py-scheduler",
    env: dict[str, str] | None = None,
    wait_ready: bool = True,
    extra_args: Sequence[str] = (),
    secure: bool = False,
) -> SchedulerProcess:
    """Run ``python -m py_scheduler run`` against the control plane; on plain
    HTTP unless ``secure`` (HTTPS, self-signed, delegated authorization)."""
    port = launcher.free_port()
    log_path = plane.logs / f"{name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "py_scheduler",
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
                *(() if secure else ("--plain-http",)),
                *extra_args,
            ],
            env={**os.environ, "KUBECONFIG": str(plane.kubeconfig), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    scheme = "https" if secure else "http"
    running = SchedulerProcess(proc, f"{scheme}://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + 30
    while wait_ready:
        if proc.poll() is not None:
            pytest.fail(f"py-scheduler exited with {proc.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(
                f"{running.base}/readyz", timeout=1, context=UNVERIFIED
            ) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"py-scheduler not ready in 30s; see {log_path}")
        time.sleep(0.2)
    return running


@pytest.fixture(scope="session")
def scheduler_process(control_plane: launcher.LocalControlPlane) -> Iterator[str]:
    """The session's scheduler (profile py-scheduler); yields its base URL.
    Stopped with SIGTERM, which must exit 0."""
    config_path = Path(__file__).parent / "integration" / "scheduler-config.yaml"
    running = start_scheduler(control_plane, config_path)
    try:
        yield running.base
    finally:
        code = running.stop()
        assert code == 0, f"py-scheduler exited with {code} on SIGTERM; see {running.log}"
