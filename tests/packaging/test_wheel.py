"""The wheel, built and installed as a user would install it.

We test these aspects:
- ``pip wheel`` builds one wheel that carries every file of the package tracked in git
  (data files included), the LICENSE and the console script, and nothing of the
  development packages beside it (``controlplane``, ``bench``, ``tests``);
- installed into a fresh virtual environment (the locked dependencies, then the wheel),
  outside the source tree, ``py-scheduler --help``, ``run --help``, ``--version`` and
  ``simulate`` on an example snapshot work.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def run(*argv: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, f"{argv}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", out, ROOT, cwd=out)
    (built,) = out.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the locked dependencies and the wheel, as the image installs them."""
    env = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", env, cwd=env)
    pip = (env / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check")
    run(*pip, "--require-hashes", "--no-deps", "-r", ROOT / "requirements.lock", cwd=env)
    run(*pip, "--no-deps", wheel, cwd=env)
    return env


def test_wheel_carries_every_package_file(wheel: Path) -> None:
    assert wheel.name == f"py_scheduler-{VERSION}-py3-none-any.whl"
    tracked = run("git", "ls-files", "py_scheduler", cwd=ROOT).stdout.split()
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"py_scheduler-{VERSION}.dist-info/METADATA").decode()
        entry_points = archive.read(f"py_scheduler-{VERSION}.dist-info/entry_points.txt").decode()
    missing = sorted(path for path in tracked if path not in names)
    assert not missing, f"files missing from the wheel: {missing}"
    assert f"py_scheduler-{VERSION}.dist-info/licenses/LICENSE" in names
    assert "License-Expression: Apache-2.0" in metadata
    assert "py-scheduler = py_scheduler.__main__:main" in entry_points
    # Only the package: no tests, charts or development files, although the checkout holds
    # the development packages (the control plane with its kwok stages, benchmarks, tests)
    # beside it as importable packages.
    assert all(n.startswith(("py_scheduler/", "py_scheduler-")) for n in names), sorted(names)
    for package in ("controlplane", "bench", "tests"):
        assert (ROOT / package / "__init__.py").is_file(), package
    assert (ROOT / "controlplane" / "stages.yaml").is_file()
    assert not [n for n in names if n.endswith(("stages.yaml", "versions.env", ".mod"))]


def test_installed_wheel_runs_outside_the_source_tree(venv: Path, tmp_path: Path) -> None:
    script = venv / "bin" / "py-scheduler"
    assert "schedule pods in a cluster" in run(script, "--help", cwd=tmp_path).stdout
    assert "--config" in run(script, "run", "--help", cwd=tmp_path).stdout
    assert run(script, "--version", cwd=tmp_path).stdout.strip() == f"py-scheduler {VERSION}"
    where = run(
        venv / "bin" / "python",
        "-c",
        "import py_scheduler; print(py_scheduler.__file__)",
        cwd=tmp_path,
    ).stdout
    assert where.startswith(str(venv)), where
    snapshot = ROOT / "examples" / "01-spread.yaml"
    out = run(script, "simulate", "--snapshot", snapshot, "--output", "json", cwd=tmp_path).stdout
    results = json.loads(out)["results"]
    assert len(results) == 3
    assert all(re.fullmatch(r"node\d", r["node"]) for r in results), results
    # Spread: three pods, three nodes.
    assert len({r["node"] for r in results}) == 3
