"""Start and stop a real local control plane: etcd, kube-apiserver,
kube-controller-manager and kwok, on 127.0.0.1 with free ports.

The binaries come from ``controlplane/build.sh`` (Go modules, no images), for
the release :mod:`controlplane.releases` selects.
Everything runs as child processes of the caller; each child is asked to die
with its parent (``PR_SET_PDEATHSIG``), so a killed test run leaves nothing
behind. Component logs stay in ``<workdir>/logs`` for failing tests to point
at. This module is development tooling: the scheduler itself never imports it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from controlplane import releases

STAGES: Final = Path(__file__).with_name("stages.yaml")
COMPONENTS: Final = ("etcd", "kube-apiserver", "kube-controller-manager", "kwok")


class ControlPlaneError(RuntimeError):
    """A component is missing, failed to start, or did not become ready in time."""


def binaries_present(bin_dir: Path | None = None) -> bool:
    directory = bin_dir or releases.default_bin_dir()
    return all(os.access(directory / name, os.X_OK) for name in COMPONENTS)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: if the test process is killed,
    # the kernel kills the component too instead of leaving an orphan server.
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


@dataclass
class Options:
    """How the control plane is started; the defaults suit the tests."""

    with_controller_manager: bool = True
    with_kwok: bool = True
    # Benchmarks lift the API server's own rate limits, as scheduler_perf does.
    unlimited_inflight: bool = False
    ready_timeout: float = 90.0
    extra_apiserver_args: Sequence[str] = ()


@dataclass
class _Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path


@dataclass
class LocalControlPlane:
    """A running control plane; use :func:`start` or as a context manager."""

    workdir: Path
    bin_dir: Path
    options: Options = field(default_factory=Options)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    apiserver_port: int = 0
    _processes: list[_Process] = field(default_factory=list)
    _etcd_dir: Path | None = None

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.apiserver_port}"

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"

    def log_of(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        missing = [c for c in COMPONENTS if not os.access(self.bin_dir / c, os.X_OK)]
        if missing:
            raise ControlPlaneError(
                f"missing control-plane binaries {missing} in {self.bin_dir}; "
                "run `make controlplane` (controlplane/build.sh) first"
            )
        self.logs.mkdir(parents=True, exist_ok=True)
        try:
            self._start_etcd()
            self._start_apiserver()
            self._write_kubeconfig()
            if self.options.with_controller_manager:
                self._start_controller_manager()
            if self.options.with_kwok:
                self._start_kwok()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every component, newest first; safe to call twice."""
        for proc in reversed(self._processes):
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in reversed(self._processes):
            try:
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()
        self._processes.clear()
        if self._etcd_dir is not None:
            shutil.rmtree(self._etcd_dir, ignore_errors=True)
            self._etcd_dir = None

    def __enter__(self) -> LocalControlPlane:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def check_alive(self) -> None:
        """Raise if a component has exited, naming its log."""
        for proc in self._processes:
            code = proc.popen.poll()
            if code is not None:
                raise ControlPlaneError(f"{proc.name} exited with {code}; see {proc.log}")

    def restart_apiserver(self) -> None:
        """Crash kube-apiserver (SIGKILL) and start it again on the same port."""
        for proc in list(self._processes):
            if proc.name == "kube-apiserver":
                proc.popen.kill()
                proc.popen.wait(timeout=30)
                self._processes.remove(proc)
        self._start_apiserver(port=self.apiserver_port)

    # -- components -------------------------------------------------------------

    def _spawn(self, name: str, args: list[str]) -> _Process:
        log = self.log_of(name)
        with log.open("ab") as out:
            popen = subprocess.Popen(
                [str(self.bin_dir / name), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )
        proc = _Process(name, popen, log)
        self._processes.append(proc)
        return proc

    def _start_etcd(self) -> None:
        shm = Path("/dev/shm")
        # tmpfs keeps fsync off the disk: etcd on a slow disk dominates API latency.
        base = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
        self._etcd_dir = Path(tempfile.mkdtemp(prefix="py-scheduler-etcd-", dir=base))
        client, peer = free_port(), free_port()
        self._etcd_url = f"http://127.0.0.1:{client}"
        proc = self._spawn(
            "etcd",
            [
                "--name=node0",
                f"--data-dir={self._etcd_dir}",
                f"--listen-client-urls={self._etcd_url}",
                f"--advertise-client-urls={self._etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=node0=http://127.0.0.1:{peer}",
                "--listen-metrics-urls=",
                "--unsafe-no-fsync",
                "--quota-backend-bytes=8589934592",
                "--auto-compaction-retention=1",
                "--log-level=warn",
            ],
        )
        self._wait_http(proc, f"{self._etcd_url}/health", expect=b'"health":"true"')

    def _start_apiserver(self, port: int | None = None) -> None:
        pki = self.workdir / "pki"
        pki.mkdir(exist_ok=True)
        sa_key = pki / "sa.key"
        if not sa_key.exists():
            subprocess.run(
                ["openssl", "genrsa", "-out", str(sa_key), "2048"],
                check=True,
                capture_output=True,
            )
        tokens = pki / "tokens.csv"
        tokens.write_text(f"{self.token},admin,admin,system:masters\n")
        self.apiserver_port = port or free_port()
        args = [
            f"--etcd-servers={self._etcd_url}",
            "--bind-address=127.0.0.1",
            f"--secure-port={self.apiserver_port}",
            f"--cert-dir={pki}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={sa_key}",
            f"--service-account-signing-key-file={sa_key}",
            f"--token-auth-file={tokens}",
            "--authorization-mode=RBAC",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--allow-privileged=true",
            # ServiceAccount admission would reject pods until the controller
            # manager creates each namespace's default account; TaintNodesByCondition
            # would taint every new node not-ready until the node controller
            # notices kwok's heartbeat. Neither matters to scheduling tests.
            "--disable-admission-plugins=ServiceAccount,TaintNodesByCondition",
            "--profiling=false",
            "--v=1",
        ]
        if self.options.unlimited_inflight:
            args += [
                "--enable-priority-and-fairness=false",
                "--max-requests-inflight=0",
                "--max-mutating-requests-inflight=0",
            ]
        args += list(self.options.extra_apiserver_args)
        proc = self._spawn("kube-apiserver", args)
        self._wait_http(proc, f"{self.server}/readyz", expect=b"ok", token=self.token)

    def _write_kubeconfig(self) -> None:
        self.kubeconfig.write_text(
            "apiVersion: v1\n"
            "kind: Config\n"
            "clusters:\n"
            "- name: local\n"
            "  cluster:\n"
            f"    server: {self.server}\n"
            "    insecure-skip-tls-verify: true\n"
            "users:\n"
            "- name: admin\n"
            "  user:\n"
            f"    token: {self.token}\n"
            "contexts:\n"
            "- name: local\n"
            "  context: {cluster: local, user: admin}\n"
            "current-context: local\n"
        )

    def _start_controller_manager(self) -> None:
        port = free_port()
        proc = self._spawn(
            "kube-controller-manager",
            [
                f"--kubeconfig={self.kubeconfig}",
                "--leader-elect=false",
                f"--service-account-private-key-file={self.workdir / 'pki' / 'sa.key'}",
                f"--root-ca-file={self.workdir / 'pki' / 'apiserver.crt'}",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
                f"--cert-dir={self.workdir / 'pki' / 'kcm'}",
                "--kube-api-qps=500",
                "--kube-api-burst=1000",
                "--v=1",
            ],
        )
        self._wait_http(proc, f"https://127.0.0.1:{port}/healthz", expect=b"ok")

    def _start_kwok(self) -> None:
        port = free_port()
        proc = self._spawn(
            "kwok",
            [
                f"--kubeconfig={self.kubeconfig}",
                f"--config={STAGES}",
                "--manage-all-nodes=true",
                # Without leases kwok sends no heartbeats and the node controller
                # would mark every node NotReady after its grace period.
                "--node-lease-duration-seconds=40",
                f"--server-address=127.0.0.1:{port}",
            ],
        )
        self._wait_http(proc, f"http://127.0.0.1:{port}/healthz", expect=b"ok")

    # -- waiting ------------------------------------------------------------------

    def _wait_http(
        self, proc: _Process, url: str, *, expect: bytes, token: str | None = None
    ) -> None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        deadline = time.monotonic() + self.options.ready_timeout
        last_error = "no answer"
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                raise ControlPlaneError(
                    f"{proc.name} exited with {proc.popen.returncode} while starting; "
                    f"see {proc.log}:\n{tail(proc.log)}"
                )
            request = urllib.request.Request(url)
            if token:
                request.add_header("Authorization", f"Bearer {token}")
            try:
                with urllib.request.urlopen(request, timeout=2, context=context) as resp:
                    body: bytes = resp.read()
                    if expect in body:
                        return
                    last_error = body[:200].decode(errors="replace")
            except (urllib.error.URLError, OSError, ssl.SSLError) as exc:
                last_error = str(exc)
            time.sleep(0.2)
        raise ControlPlaneError(
            f"{proc.name} not ready after {self.options.ready_timeout:.0f}s at {url} "
            f"({last_error}); see {proc.log}:\n{tail(proc.log)}"
        )


def tail(path: Path, lines: int = 15) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


@contextlib.contextmanager
def running(
    workdir: Path | None = None, *, options: Options | None = None, bin_dir: Path | None = None
) -> Iterator[LocalControlPlane]:
    """Start a control plane for the duration of a ``with`` block."""
    directory = workdir or Path(tempfile.mkdtemp(prefix="py-scheduler-cp-"))
    plane = LocalControlPlane(
        workdir=directory,
        bin_dir=bin_dir or releases.default_bin_dir(),
        options=options or Options(),
    )
    with plane:
        yield plane
