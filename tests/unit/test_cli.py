"""``python -m py_scheduler run`` on bad input: one structured line, the right
exit code, never a traceback. Runs the real entry point in a subprocess; no
cluster is needed, since every case fails before the first API request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.unit.test_config import BILLION_LAUGHS

HEADER = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"


def run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    clean = {
        k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST")
    }
    proc = subprocess.run(
        [sys.executable, "-m", "py_scheduler", "run", "--log-format", "json", *args],
        env={**clean, "HOME": str(tmp_path), **(env or {})},
        capture_output=True,
        timeout=60,
        check=False,
    )
    return proc.returncode, proc.stderr.decode().splitlines()


def config_file(tmp_path: Path, content: bytes) -> str:
    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    return str(path)


@pytest.mark.parametrize(
    ("content", "error"),
    [
        pytest.param(b"kind: \xff\n", "not UTF-8 text", id="not UTF-8"),
        pytest.param(("a: " + "[" * 3000 + "]" * 3000).encode(), "nested deeper", id="deep"),
        pytest.param(BILLION_LAUGHS.encode(), "aliases expand", id="alias bomb"),
        pytest.param(
            (HEADER + "leaderElection: {leaderElekt: true}\n").encode(),
            "leaderElection.leaderElekt: unknown field",
            id="a nested unknown field",
        ),
        pytest.param(
            (HEADER + "clientConnection: {kubeconfig: /nonexistent/kubeconfig}\n").encode(),
            "clientConnection.kubeconfig: cannot read /nonexistent/kubeconfig",
            id="a missing clientConnection.kubeconfig",
        ),
        pytest.param(
            (HEADER + "profiles: [{plugins: {score: {enabled: [{name: ImageLocality, weight: "
             + "9" * 400 + "}]}}}]\n").encode(),
            "weight: expected a 32-bit integer",
            id="a weight of 400 digits",
        ),
        pytest.param(
            (HEADER + "profiles: [{pluginConfig: [{name: NodeResourcesFit, args: "
             "{scoringStrategy: {type: MostAllocated, requestedToCapacityRatio: "
             "{shape: [{utilization: 0, score: 10}]}}}}]}]\n").encode(),
            "args.scoringStrategy.requestedToCapacityRatio: Forbidden: must be nil when type "
            "is not RequestedToCapacityRatio",
            id="a NodeResourcesFit shape with MostAllocated",
        ),
    ],
)  # fmt: skip
def test_invalid_configuration_is_one_line_and_exit_2(
    tmp_path: Path, content: bytes, error: str
) -> None:
    code, lines = run(tmp_path, "--config", config_file(tmp_path, content))
    assert code == 2
    assert len(lines) == 1, lines
    line = orjson.loads(lines[0])
    assert (line["event"], line["level"]) == ("invalid configuration", "error")
    assert error in line["error"]
    assert len(lines[0]) < 2000


def test_a_missing_kubeconfig_flag_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    code, lines = run(tmp_path, "--kubeconfig", str(tmp_path / "nope"))
    assert code == 2
    assert [orjson.loads(line)["error"] for line in lines] == [
        f"--kubeconfig: cannot read {tmp_path / 'nope'}: No such file or directory"
    ]


def test_no_kubeconfig_and_not_in_a_cluster_is_one_line_and_exit_1(tmp_path: Path) -> None:
    code, lines = run(tmp_path)
    assert code == 1
    assert len(lines) == 1, lines
    line = orjson.loads(lines[0])
    assert line["event"] == "cannot load credentials"
    assert line["error"].startswith("no kubeconfig and not in a cluster")


def test_a_profile_named_default_scheduler_is_warned_about(tmp_path: Path) -> None:
    content = (HEADER + "profiles: [{schedulerName: default-scheduler}]\n").encode()
    code, lines = run(tmp_path, "--config", config_file(tmp_path, content))
    events = [orjson.loads(line) for line in lines]
    assert events[0]["level"] == "warning"
    assert "default-scheduler is kube-scheduler's name" in events[0]["warning"]
    assert (code, events[-1]["event"]) == (1, "cannot load credentials")
