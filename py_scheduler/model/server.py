"""What the API server is: its Kubernetes release and the API group versions it serves.

Where behaviour differs between Kubernetes releases (an API version, a default, a
message), py-scheduler follows the server it talks to, as the kube-scheduler of that
release would. :mod:`py_scheduler.kube.discovery` reads ``/version``, ``/api`` and
``/apis`` once at start-up and decodes them here into plain data that any layer may
hold; nothing here talks to the API. docs/releases.md lists every branch taken on it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from py_scheduler.model.raw import Fields

_GIT_VERSION: Final = re.compile(r"v(\d+)\.(\d+)\.(\d+)")
_LEADING_DIGITS: Final = re.compile(r"\d+")
_RELEASE: Final = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True, slots=True, order=True)
class ServerVersion:
    """A server's release; ``git_version`` keeps provider suffixes (``v1.36.3-eks-1``)."""

    major: int
    minor: int
    patch: int = 0
    git_version: str = field(default="", compare=False)

    def at_least(self, major: int, minor: int) -> bool:
        return (self.major, self.minor) >= (major, minor)

    def __str__(self) -> str:
        return self.git_version or f"v{self.major}.{self.minor}.{self.patch}"


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """The server's release and its served ``group/version``s (core is ``v1``)."""

    version: ServerVersion
    group_versions: frozenset[str]
    # group -> the version the server prefers ("" is the core group)
    preferred: Mapping[str, str]

    def serves(self, group_version: str) -> bool:
        """``serves("scheduling.k8s.io/v1alpha3")``; the core group is ``"v1"``."""
        return group_version in self.group_versions

    def first_served(self, group: str, versions: Sequence[str]) -> str | None:
        """The first of ``versions`` (ours, in order of preference) the server serves."""
        for version in versions:
            if self.serves(f"{group}/{version}" if group else version):
                return version
        return None


# The Kubernetes releases py-scheduler follows (docs/releases.md). A server older or newer
# is followed as the nearest of them: every branch asks ``at_least``.
OLDEST: Final = ServerVersion(1, 35)
NEWEST: Final = ServerVersion(1, 37)


def supported(version: ServerVersion) -> bool:
    """Whether py-scheduler follows ``version``'s release itself, not a neighbour's."""
    return (
        (OLDEST.major, OLDEST.minor)
        <= (version.major, version.minor)
        <= (
            NEWEST.major,
            NEWEST.minor,
        )
    )


def parse_release(text: str) -> ServerVersion:
    """A supported release as a person writes it: ``1.36``, ``v1.36`` or ``v1.36.3``."""
    match = _RELEASE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a Kubernetes release such as 1.36 or v1.36.3")
    version = ServerVersion(int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))
    if not supported(version):
        raise ValueError(
            f"py-scheduler follows Kubernetes {OLDEST.major}.{OLDEST.minor} to "
            f"{NEWEST.major}.{NEWEST.minor}, not {text}"
        )
    return version


def offline(version: ServerVersion) -> ServerInfo:
    """What py-scheduler assumes of a ``version`` server it does not talk to: that
    release, and no group version known to be served."""
    return ServerInfo(version=version, group_versions=frozenset(), preferred={})


# Without a server to ask (``simulate``, tests of the core), py-scheduler behaves as the
# newest release's kube-scheduler.
OFFLINE: Final = offline(NEWEST)


def decode_version(raw: object) -> ServerVersion:
    """``/version``. ``major``/``minor`` may carry a suffix (``"37+"``) or be empty in
    some builds; ``gitVersion`` then supplies them. An unstamped build
    (``v0.0.0-master``) does not say which release it is, and is refused."""
    fields = Fields(raw)
    git_version = fields.string("gitVersion")
    parsed = _GIT_VERSION.match(git_version)
    major = _leading_int(fields.string("major"))
    minor = _leading_int(fields.string("minor"))
    if parsed is not None:
        major = int(parsed.group(1)) if major is None else major
        minor = int(parsed.group(2)) if minor is None else minor
    if not major or minor is None:
        raise fields.error("gitVersion", f"no release in {git_version!r} nor in major/minor")
    patch = int(parsed.group(3)) if parsed else 0
    return ServerVersion(major=major, minor=minor, patch=patch, git_version=git_version)


def _leading_int(text: str) -> int | None:
    match = _LEADING_DIGITS.match(text)
    return int(match.group()) if match else None


def decode_server_info(*, version: object, core: object, groups: object) -> ServerInfo:
    """``/version``, ``/api`` (an APIVersions) and ``/apis`` (an APIGroupList)."""
    served: set[str] = set()
    preferred: dict[str, str] = {}
    core_versions = Fields(core, "/api").strings("versions")
    served.update(core_versions)
    if core_versions:
        preferred[""] = core_versions[0]
    for group in Fields(groups, "/apis").objects("groups"):
        name = group.string("name")
        if not name:
            raise group.error("name", "empty group name")
        for item in group.objects("versions"):
            served.add(item.string("groupVersion") or f"{name}/{item.string('version')}")
        if best := group.obj("preferredVersion").string("version"):
            preferred[name] = best
    return ServerInfo(
        version=decode_version(version), group_versions=frozenset(served), preferred=preferred
    )
