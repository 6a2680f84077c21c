"""``py-scheduler explain`` and ``kubectl explain-pod`` from a snapshot.

We test these aspects:
- text and JSON output for a pending pod, with verified suggestions;
- bad input is one line on stderr and a non-zero exit, never a traceback: a
  pod missing from the snapshot (1), an unreadable snapshot or configuration
  (2), a malformed pod argument (2), an unreachable API server (1); ``run``'s
  bad explain flags are one structured log line and exit 2, as its other
  invalid input;
- a pod of another scheduler is explained with a warning, exit 0;
- the kubectl plugin takes kubectl's flags (-n, -o json); krew's manifest
  installs the same executable, and its shim runs the same command.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from py_scheduler.__main__ import main
from py_scheduler.explain.cli import kubectl_main

EXAMPLES = Path(__file__).parents[3] / "examples"
NO_ROOM = str(EXAMPLES / "02-no-room.yaml")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_text_output_explains_and_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["explain", "default/d", "--snapshot", NO_ROOM], capsys)
    assert (code, err) == (0, "")
    assert out.startswith("Pod default/d (profile py-scheduler): Pending\n")
    assert "NodeResourcesFit: Insufficient cpu: 3 nodes (node1, node2, node3)" in out
    assert "[verified] lower the pod's cpu request from 8 to 6 (then it fits node1)" in out


def test_json_output_follows_the_contract(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["explain", "default/d", "--snapshot", NO_ROOM, "-o", "json"], capsys)
    assert code == 0
    doc = orjson.loads(out)
    assert doc["pod"] == "default/d"
    assert doc["node"] is None
    assert doc["message"].startswith("0/3 nodes are available: 3 Insufficient cpu.")
    assert {n["name"] for n in doc["nodes"]} == {"node1", "node2", "node3"}
    assert doc["suggestions"]
    assert all(set(s) >= {"kind", "description", "change", "verified"} for s in doc["suggestions"])


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["explain", "default/ghost", "--snapshot", NO_ROOM], 1, "is not in the snapshot"),
        (["explain", "default/d", "--snapshot", "/nonexistent.yaml"], 2, "cannot read"),
        (["explain", "a/b/c", "--snapshot", NO_ROOM], 2, "expected NAMESPACE/POD"),
        (["explain", "x/d", "-n", "y", "--snapshot", NO_ROOM], 2, "but -n says"),
        (
            ["explain", "default/d", "--snapshot", NO_ROOM, "--config", "/nonexistent.yaml"],
            2,
            "cannot read",
        ),
        (
            ["explain", "default/d", "--snapshot", NO_ROOM, "--kube-version", "1.34"],
            2,
            "--kube-version: py-scheduler follows Kubernetes 1.35 to 1.37, not 1.34",
        ),
    ],
    ids=[
        "a pod the snapshot lacks",
        "a snapshot that cannot be read",
        "a pod that is not NAMESPACE/POD",
        "a namespace given twice, differently",
        "a configuration that cannot be read",
        "a release py-scheduler does not follow",
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(
    argv: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    got, out, err = run(argv, capsys)
    assert got == code
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("error: ")
    assert message in err


def test_an_unreachable_api_server_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
    )
    code, out, err = run(["explain", "default/p", "--kubeconfig", str(kubeconfig)], capsys)
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("error: cannot reach the cluster: ")


def test_a_missing_context_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    code, _, err = run(
        ["explain", "default/p", "--kubeconfig", str(kubeconfig), "--context", "nope"], capsys
    )
    assert code == 1
    assert err.count("\n") == 1
    assert err.startswith("error: cannot load credentials: ")
    code, _, err = run(["explain", "default/p", "--kubeconfig", str(tmp_path / "none")], capsys)
    assert code == 1
    assert err == f"error: cannot load credentials: {tmp_path / 'none'}: no such file\n"


def test_a_kubeconfig_without_a_current_context_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    code, out, err = run(["explain", "default/p", "--kubeconfig", str(kubeconfig)], capsys)
    assert (code, out) == (1, "")
    assert err.count("\n") == 1
    assert err.startswith(f"error: cannot load credentials: kubeconfig {kubeconfig}: ")
    assert "current-context" in err


def test_no_kubeconfig_and_not_in_a_cluster_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    code, out, err = run(["explain", "default/p"], capsys)
    assert (code, out) == (1, "")
    assert err.startswith("error: cannot load credentials: no kubeconfig and not in a cluster")
    assert err.count("\n") == 1


def test_a_pod_of_another_scheduler_is_explained_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot = tmp_path / "snap.yaml"
    snapshot.write_text(
        (EXAMPLES / "02-no-room.yaml")
        .read_text()
        .replace("schedulerName: py-scheduler", "schedulerName: default-scheduler")
    )
    code, out, err = run(["explain", "default/d", "--snapshot", str(snapshot)], capsys)
    assert code == 0
    assert err.startswith("warning: pod default/d asks for scheduler 'default-scheduler'")
    assert "Pending" in out


def test_the_kubectl_plugin_takes_kubectls_flags(capsys: pytest.CaptureFixture[str]) -> None:
    code = kubectl_main(["d", "-n", "default", "--snapshot", NO_ROOM, "-o", "json"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert orjson.loads(out)["pod"] == "default/d"


KREW = Path(__file__).parents[3] / "deploy" / "krew"


def _render_krew(tag: str) -> dict[str, Any]:
    """What krew-release-bot makes of the manifest for a tag."""
    text = (KREW / "explain-pod.yaml").read_text()
    text = re.sub(
        r'\{\{addURIAndSha "([^"]+)" \.TagName \}\}',
        lambda m: f"uri: {m.group(1)}\n      sha256: {'0' * 64}",
        text,
    )
    loaded = yaml.safe_load(text.replace("{{ .TagName }}", tag))
    assert isinstance(loaded, dict)
    return loaded


def test_the_krew_manifest_installs_the_console_script() -> None:
    manifest = _render_krew("v0.1.0")
    assert manifest["apiVersion"] == "krew.googlecontainertools.github.com/v1alpha2"
    assert manifest["kind"] == "Plugin"
    assert manifest["metadata"]["name"] == "explain-pod"
    spec = manifest["spec"]
    assert spec["version"] == "v0.1.0"
    assert spec["shortDescription"]
    assert spec["homepage"].startswith("https://")
    scripts = tomllib.loads((KREW.parents[1] / "pyproject.toml").read_text())["project"]["scripts"]
    for platform in spec["platforms"]:
        assert platform["bin"] == "kubectl-explain_pod"
        assert platform["bin"] in scripts
        assert platform["uri"].endswith("/v0.1.0/kubectl-explain_pod.tar.gz")
        assert {f["from"] for f in platform["files"]} == {"kubectl-explain_pod", "LICENSE"}


def test_the_krew_shim_runs_the_same_command(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(
        [str(KREW / "kubectl-explain_pod"), "d", "-n", "default", "--snapshot", NO_ROOM],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Pod default/d (profile py-scheduler): Pending\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--capacity-shape", "Bad:cpu=1"], "must be a DNS label"),
        (["--capacity-shape", "a:cpu=1", "--capacity-shape", "a:cpu=2"], "given twice"),
        (["--diagnosis-budget", "0"], "--diagnosis-budget must be in (0, 1]"),
        (["--diagnoses-max-bytes", "-1"], "--diagnoses-max-bytes must not be negative"),
    ],
)
def test_run_refuses_bad_explain_flags_before_starting(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["run", "--log-format", "json", *argv], capsys)
    assert out == ""
    assert code == 2
    assert err.count("\n") == 1
    line = orjson.loads(err)
    assert (line["event"], line["level"]) == ("invalid flag", "error")
    assert message in line["error"]
