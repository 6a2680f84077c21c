"""The schedulers under test, each started as its own process.

kube-scheduler and py-scheduler get the same profile semantics: one profile
(default plugins, default ``percentageOfNodesToScore`` and backoff), client
QPS/burst 5000 as in scheduler_perf, leader election off, admin credentials.
The ceiling is :mod:`bench.ceiling`, which binds without deciding anything.
py-scheduler runs as shipped, from the runtime lock alone (:mod:`bench.runtime`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench import runtime
from controlplane.launcher import LocalControlPlane, free_port
from controlplane.releases import scheduler_feature_gates

SCHEDULER_NAME: Final = "bench-scheduler"
KUBE: Final = "kube-scheduler"
PY: Final = "py-scheduler"
CEILING: Final = "ceiling"


# Profile settings per workload configuration, the same for every contender.
# "batching" is scheduler_perf's batching/scheduler-config-no-topology.yaml:
# no default spreading constraints, so upstream's opportunistic batching applies.
CONFIGS: Final = {
    "default": "",
    "batching": (
        "  pluginConfig:\n"
        "  - name: PodTopologySpread\n"
        "    args:\n"
        "      defaultingType: List\n"
        "      defaultConstraints: []\n"
    ),
}
# kube-scheduler's feature gates per configuration. OpportunisticBatching is
# beta and on by default since v1.35; it is set anyway, so a contender
# release that ships it off still runs it.
GATES: Final = {"default": "", "batching": "OpportunisticBatching=true"}


def _config(plane: LocalControlPlane, config: str = "default") -> str:
    return (
        "apiVersion: kubescheduler.config.k8s.io/v1\n"
        "kind: KubeSchedulerConfiguration\n"
        "clientConnection:\n"
        f"  kubeconfig: {plane.kubeconfig}\n"
        "  qps: 5000\n"
        "  burst: 5000\n"
        "leaderElection:\n"
        "  leaderElect: false\n"
        "profiles:\n"
        f"- schedulerName: {SCHEDULER_NAME}\n"
        f"{CONFIGS[config]}"
    )


@dataclass
class Running:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def command(
    name: str,
    plane: LocalControlPlane,
    workdir: Path,
    py_log_level: str,
    config: str = "default",
    *,
    gangs: bool = False,
) -> list[str]:
    """``gangs``: kube-scheduler with its gang scheduling on (the Workload API's feature
    gates; py-scheduler has it on by default)."""
    path = workdir / f"{name}-{config}-config.yaml"
    path.write_text(_config(plane, config))
    if name == KUBE:
        named = [GATES[config]] if GATES[config] else []
        if gangs:
            named.append(scheduler_feature_gates(plane.release()))
        gates = [f"--feature-gates={','.join(named)}"] if named else []
        return [
            str(plane.bin_dir / "kube-scheduler"),
            f"--config={path}",
            "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}",
            f"--authentication-kubeconfig={plane.kubeconfig}",
            f"--authorization-kubeconfig={plane.kubeconfig}",
            "--v=1",
            *gates,
        ]
    if name == PY:
        return [
            str(runtime.python()),
            "-m",
            "py_scheduler",
            "run",
            "--config",
            str(path),
            "--kubeconfig",
            str(plane.kubeconfig),
            "--bind-address=127.0.0.1",
            f"--port={free_port()}",
            "--log-format=json",
            f"--log-level={py_log_level}",
        ]
    if name == CEILING:
        return [
            sys.executable,
            "-m",
            "bench.ceiling",
            "--kubeconfig",
            str(plane.kubeconfig),
            "--scheduler-name",
            SCHEDULER_NAME,
        ]
    raise ValueError(f"unknown scheduler {name!r}")


def start(
    name: str,
    plane: LocalControlPlane,
    workdir: Path,
    tag: str,
    py_log_level: str = "warning",
    *,
    config: str = "default",
    gangs: bool = False,
) -> Running:
    log = workdir / "logs" / f"{tag}-{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "KUBECONFIG": str(plane.kubeconfig)}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command(name, plane, workdir, py_log_level, config, gangs=gangs),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=runtime.environment(env) if name == PY else env,
        )
    return Running(name, proc, log)
