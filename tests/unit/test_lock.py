"""The lock files (requirements*.lock, made by ``make lock``) agree with pyproject.toml.

We test these aspects, offline:
- every pin in pyproject.toml (dependencies and each locked extra) is in the lock file at
  the same version, and the lock's top-level packages are exactly those pins;
- every locked package carries hashes, so pip installs it with --require-hashes;
- the runtime lock holds no development tool, and the dev lock holds the runtime pins.

tests/packaging/run.sh also re-resolves the locks with uv against the package index.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCKS = {
    "requirements.lock": (),
    "requirements-dev.lock": ("dev",),
    "requirements-bench.lock": ("bench",),
}
_ENTRY = re.compile(r"^([A-Za-z0-9._-]+)==(\S+)(?: ;.*)?\s*\\$")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(requirements: list[str]) -> dict[str, str]:
    out = {}
    for requirement in requirements:
        name, _, version = requirement.partition("==")
        assert version, f"pyproject.toml: {requirement!r} is not pinned with =="
        out[normalise(name)] = version
    return out


def parse_lock(path: Path) -> tuple[dict[str, str], dict[str, int], set[str]]:
    """(versions, hash counts, packages pyproject asked for) of one lock file."""
    versions: dict[str, str] = {}
    hashes: dict[str, int] = {}
    direct: set[str] = set()
    current = ""
    for line in path.read_text().splitlines():
        entry = _ENTRY.match(line)
        if entry:
            current = normalise(entry.group(1))
            versions[current] = entry.group(2)
            hashes[current] = 0
        elif line.strip().startswith("--hash=sha256:"):
            hashes[current] += 1
        elif current and "py-scheduler (pyproject.toml)" in line:
            direct.add(current)
    return versions, hashes, direct


def expected(extras: tuple[str, ...]) -> dict[str, str]:
    wanted = pins(PYPROJECT["project"]["dependencies"])
    for extra in extras:
        wanted |= pins(PYPROJECT["project"]["optional-dependencies"][extra])
    return wanted


@pytest.mark.parametrize(("lock", "extras"), LOCKS.items())
def test_lock_pins_what_pyproject_pins(lock: str, extras: tuple[str, ...]) -> None:
    versions, _, direct = parse_lock(ROOT / lock)
    wanted = expected(extras)
    wrong = {
        name: (version, versions.get(name))
        for name, version in wanted.items()
        if versions.get(name) != version
    }
    assert not wrong, f"{lock} is stale (pyproject, lock): {wrong}; run `make lock`"
    assert direct == set(wanted), (
        f"{lock} top-level packages differ from pyproject.toml: "
        f"only in lock {sorted(direct - set(wanted))}, "
        f"only in pyproject {sorted(set(wanted) - direct)}; run `make lock`"
    )


@pytest.mark.parametrize("lock", LOCKS)
def test_every_locked_package_has_hashes(lock: str) -> None:
    versions, hashes, _ = parse_lock(ROOT / lock)
    assert len(versions) >= len(PYPROJECT["project"]["dependencies"])
    unhashed = sorted(name for name, count in hashes.items() if count == 0)
    assert not unhashed, f"{lock}: no hashes for {unhashed}"


def test_runtime_lock_is_only_the_runtime() -> None:
    runtime, _, _ = parse_lock(ROOT / "requirements.lock")
    dev, _, _ = parse_lock(ROOT / "requirements-dev.lock")
    tools = set(pins(PYPROJECT["project"]["optional-dependencies"]["dev"]))
    assert not tools & set(runtime), f"dev tools in the runtime lock: {tools & set(runtime)}"
    # The venv that runs the tests has the image's versions of everything the image has.
    differing = {name: (v, dev.get(name)) for name, v in runtime.items() if dev.get(name) != v}
    assert not differing, f"runtime and dev locks disagree: {differing}"


def test_parse_lock_reads_hashes_and_annotations(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    lock.write_text(
        "foo-bar==1.0 ; python_full_version < '3.13' \\\n"
        "    --hash=sha256:aa \\\n"
        "    --hash=sha256:bb\n"
        "    # via py-scheduler (pyproject.toml)\n"
        "baz==2 \\\n"
        "    --hash=sha256:cc\n"
        "    # via foo-bar\n"
    )
    assert parse_lock(lock) == (
        {"foo-bar": "1.0", "baz": "2"},
        {"foo-bar": 2, "baz": 1},
        {"foo-bar"},
    )
