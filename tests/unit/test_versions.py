"""One version everywhere: .ci/set-version writes it and checks it.

We test these aspects:
- in this tree, pyproject.toml, py_scheduler/__init__.py, the chart's version and
  appVersion and the Dockerfile's VERSION agree, and are a semantic version;
- set-version writes a new version into every place and leaves the rest of each file;
- a place that disagrees, or a version that is not semantic, is refused.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest

import py_scheduler

ROOT = Path(__file__).resolve().parents[2]


def load() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("set_version", str(ROOT / ".ci" / "set-version"))
    spec = importlib.util.spec_from_loader("set_version", loader)
    assert spec
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


set_version = load()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name, _, _ in set_version.PLACES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_this_tree_agrees(capsys: pytest.CaptureFixture[str]) -> None:
    assert set_version.main(["--check"]) == 0
    assert capsys.readouterr().out.strip() == py_scheduler.__version__


def test_set_version_writes_every_place(tree: Path) -> None:
    before = {name: (tree / name).read_text() for name, _, _ in set_version.PLACES}
    assert set_version.main(["--root", str(tree), "2.3.4-rc.1"]) == 0
    places = set_version.found(tree)
    assert {version for _, _, version in places} == {"2.3.4-rc.1"}
    assert len(places) == 5
    for name, text in before.items():
        # Only the version lines changed.
        old = text.splitlines()
        new = (tree / name).read_text().splitlines()
        assert len(old) == len(new)
        changed = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
        assert changed
        assert all("2.3.4-rc.1" in b for _, b in changed), changed


def test_disagreement_is_reported(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chart = tree / "charts" / "py-scheduler" / "Chart.yaml"
    chart.write_text(chart.read_text().replace('appVersion: "', 'appVersion: "9', 1))
    assert set_version.main(["--root", str(tree), "--check"]) == 1
    assert "Chart.yaml (the image tag the chart deploys): 9" in capsys.readouterr().out


@pytest.mark.parametrize("version", ["1.2", "v1.2.3", "01.2.3", "1.2.3-", "1.2.3.4"])
def test_a_version_that_is_not_semantic_is_refused(tree: Path, version: str) -> None:
    assert set_version.main(["--root", str(tree), version]) == 2
    assert set_version.main(["--root", str(tree), "--check"]) == 0
