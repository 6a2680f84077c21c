"""controlplane/versions.env and the per-release module graphs agree, and a release is
chosen (or refused) the same way by controlplane.releases and build.sh."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from controlplane import releases

BUILD = Path(releases.__file__).with_name("build.sh")
VALID = """
KUBE_VERSION=v1.37.2
KUBE_RELEASES="v1.35.4 v1.36.3 v1.37.2"
KWOK_VERSION=v0.8.0
HELM_VERSION=v3.22.1
"""


def test_the_selected_release_is_the_newest_of_three_consecutive_minors() -> None:
    versions = releases.read()
    assert versions.selected == versions.newest
    minors = [releases.minor(release) for release in versions.supported]
    assert minors == list(range(minors[0], minors[0] + 3))


@pytest.mark.parametrize("release", releases.read().supported)
def test_each_release_has_a_module_graph_pinning_it(release: str) -> None:
    modfile = releases.modfile(release)
    text = modfile.read_text()
    assert re.search(rf"^\tk8s\.io/kubernetes {re.escape(release)}$", text, re.M)
    staging = f"v0.{releases.minor(release)}.{release.rsplit('.', 1)[1]}"
    replaces = re.findall(r"^\t(k8s\.io/\S+) => (k8s\.io/\S+) (\S+)$", text, re.M)
    assert replaces, f"{modfile} replaces no staging module"
    for module, target, version in replaces:
        assert (target, version) == (module, staging), f"{module} => {target} {version}"
    assert releases.etcd_version(release).startswith("v3.")
    assert modfile.with_suffix(".sum").stat().st_size > 0


@pytest.mark.parametrize(
    ("requested", "want"),
    [
        pytest.param("v1.36.3", "v1.36.3", id="the exact release"),
        pytest.param("1.36.3", "v1.36.3", id="the release without its v"),
        pytest.param("1.35", "v1.35.4", id="a minor"),
        pytest.param("v1.37", "v1.37.2", id="a minor with its v"),
    ],
)
def test_resolve(requested: str, want: str) -> None:
    assert releases.resolve(requested, releases.read(VALID)) == want


@pytest.mark.parametrize("requested", ["1.34", "v1.36.1", "latest", ""])
def test_an_unsupported_release_is_refused_listing_the_supported(requested: str) -> None:
    with pytest.raises(
        releases.ReleaseError, match=re.escape("choose one of v1.35.4 v1.36.3 v1.37.2")
    ):
        releases.resolve(requested, releases.read(VALID))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            VALID.replace("KUBE_VERSION=v1.37.2", "KUBE_VERSION=v1.38.0"),
            "KUBE_VERSION v1.38.0 is not in KUBE_RELEASES",
            id="a selected release outside the supported ones",
        ),
        pytest.param(
            VALID.replace('"v1.35.4 v1.36.3 v1.37.2"', '"v1.37.2 v1.36.3"'),
            "one release per minor, oldest first",
            id="releases out of order",
        ),
        pytest.param(
            VALID.replace('"v1.35.4 v1.36.3 v1.37.2"', '"v1.36.1 v1.36.3 v1.37.2"'),
            "one release per minor, oldest first",
            id="two patch releases of one minor",
        ),
        pytest.param(
            VALID.replace("HELM_VERSION=v3.22.1\n", ""),
            "versions.env has no HELM_VERSION",
            id="a missing tool version",
        ),
        pytest.param(
            VALID.replace("v1.35.4", "1.35"),
            "'1.35' is not a Kubernetes release",
            id="a malformed release",
        ),
    ],
)
def test_an_inconsistent_versions_env_is_refused(text: str, message: str) -> None:
    with pytest.raises(releases.ReleaseError, match=re.escape(message)):
        releases.read(text)


def test_each_release_has_a_cache_folder_of_its_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PY_SCHEDULER_BIN_DIR", raising=False)
    monkeypatch.setenv("PY_SCHEDULER_CACHE", str(tmp_path))
    monkeypatch.delenv(releases.OVERRIDE, raising=False)
    newest = releases.read().newest
    assert releases.default_bin_dir() == tmp_path / f"k8s-{newest}" / "bin"
    monkeypatch.setenv(releases.OVERRIDE, "1.35")
    assert releases.default_bin_dir() == tmp_path / "k8s-v1.35.4" / "bin"
    monkeypatch.setenv("PY_SCHEDULER_BIN_DIR", str(tmp_path / "mine"))
    assert releases.default_bin_dir() == tmp_path / "mine"


def test_build_sh_refuses_an_unsupported_release_before_building(tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", str(BUILD), "v1.34.9"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PY_SCHEDULER_CACHE": str(tmp_path)},
        timeout=30,
    )
    assert done.returncode == 2
    assert "v1.34.9 is not a supported release; choose one of: v1.35.4 v1.36.3 v1.37.2" in (
        done.stderr
    )
    assert list(tmp_path.iterdir()) == []
