"""Which Kubernetes release the local control plane is built from, and where it lives.

``versions.env`` (beside this module, also sourced by ``build.sh``) names the
supported releases and the one selected; ``PY_SCHEDULER_KUBE_VERSION`` selects
another supported release for one run (``make test-matrix``). Each release has
its own Go module graph in ``releases/<minor>.mod`` and ``.sum`` and its own
cache folder ``k8s-<version>/``, so releases never overwrite each other.
:mod:`controlplane.launcher` starts the binaries found here.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

HERE: Final = Path(__file__).resolve().parent
VERSIONS: Final = HERE / "versions.env"
MODFILES: Final = HERE / "releases"
OVERRIDE: Final = "PY_SCHEDULER_KUBE_VERSION"
_RELEASE: Final = re.compile(r"v1\.(\d+)\.(\d+)")


class ReleaseError(RuntimeError):
    """versions.env is inconsistent, or the requested release is not supported."""


@dataclass(frozen=True, slots=True)
class Versions:
    """versions.env, read: the supported releases (oldest first) and the pinned tools."""

    selected: str
    supported: tuple[str, ...]
    kwok: str
    helm: str

    @property
    def newest(self) -> str:
        return self.supported[-1]

    @property
    def oldest(self) -> str:
        return self.supported[0]


def minor(release: str) -> int:
    """``v1.37.2`` -> 37."""
    match = _RELEASE.fullmatch(release)
    if match is None:
        raise ReleaseError(f"{release!r} is not a Kubernetes release such as v1.37.2")
    return int(match.group(1))


def modfile(release: str) -> Path:
    """The release's go.mod, used by ``go build -modfile``."""
    return MODFILES / f"1.{minor(release)}.mod"


def parse_env(text: str) -> dict[str, str]:
    """The ``NAME=value`` lines of a shell env file (quotes stripped, comments skipped)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        values[name.strip()] = value.strip().strip('"').strip("'")
    return values


def read(text: str | None = None) -> Versions:
    """Parse versions.env (or ``text``) and check it is consistent."""
    env = parse_env(VERSIONS.read_text() if text is None else text)
    try:
        selected, releases = env["KUBE_VERSION"], env["KUBE_RELEASES"].split()
        kwok, helm = env["KWOK_VERSION"], env["HELM_VERSION"]
    except KeyError as exc:
        raise ReleaseError(f"versions.env has no {exc.args[0]}") from exc
    minors = [minor(release) for release in releases]
    if minors != sorted(set(minors)):
        raise ReleaseError(f"KUBE_RELEASES must be one release per minor, oldest first: {releases}")
    if selected not in releases:
        raise ReleaseError(f"KUBE_VERSION {selected} is not in KUBE_RELEASES {releases}")
    return Versions(selected=selected, supported=tuple(releases), kwok=kwok, helm=helm)


def resolve(requested: str, versions: Versions) -> str:
    """A supported release from ``v1.36.3``, ``1.36`` or ``v1.36``."""
    wanted = requested.strip()
    for release in versions.supported:
        if wanted in (release, release[1:]) or wanted.lstrip("v") == f"1.{minor(release)}":
            return release
    raise ReleaseError(
        f"{OVERRIDE}={requested} is not a supported release; "
        f"choose one of {' '.join(versions.supported)}"
    )


def kube_version() -> str:
    """The release every control-plane binary of this run is built from."""
    versions = read()
    if requested := os.environ.get(OVERRIDE):
        return resolve(requested, versions)
    return versions.selected


def cache_root() -> Path:
    """``$PY_SCHEDULER_CACHE``, else ``$XDG_CACHE_HOME/py-scheduler``, as build.sh uses."""
    if explicit := os.environ.get("PY_SCHEDULER_CACHE"):
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "py-scheduler"


def default_bin_dir() -> Path:
    """Where ``build.sh`` puts the selected release's binaries (``PY_SCHEDULER_BIN_DIR`` wins)."""
    if explicit := os.environ.get("PY_SCHEDULER_BIN_DIR"):
        return Path(explicit)
    return cache_root() / f"k8s-{kube_version()}" / "bin"


def etcd_version(release: str) -> str:
    """The etcd the release's module graph pins (its go.mod's server/v3 line)."""
    match = re.search(r"go\.etcd\.io/etcd/server/v3 (v\S+)", modfile(release).read_text())
    if match is None:
        raise ReleaseError(f"{modfile(release)} does not require go.etcd.io/etcd/server/v3")
    return match.group(1)
