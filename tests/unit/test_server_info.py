"""Decoding /version, /api and /apis into the plain ServerInfo the scheduler branches on,
and the releases it follows."""

from __future__ import annotations

import re
from typing import Any

import pytest

from py_scheduler.model.raw import DecodeError
from py_scheduler.model.server import (
    NEWEST,
    OFFLINE,
    OLDEST,
    ServerVersion,
    decode_server_info,
    decode_version,
    offline,
    parse_release,
    supported,
)

CORE: dict[str, Any] = {"kind": "APIVersions", "versions": ["v1"]}
GROUPS: dict[str, Any] = {
    "kind": "APIGroupList",
    "groups": [
        {
            "name": "scheduling.k8s.io",
            "versions": [
                {"groupVersion": "scheduling.k8s.io/v1", "version": "v1"},
                {"groupVersion": "scheduling.k8s.io/v1alpha2", "version": "v1alpha2"},
            ],
            "preferredVersion": {"groupVersion": "scheduling.k8s.io/v1", "version": "v1"},
        },
        {
            "name": "resource.k8s.io",
            "versions": [{"version": "v1"}, {"version": "v1beta2"}],
            "preferredVersion": {"version": "v1"},
        },
    ],
}


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        pytest.param(
            {"major": "1", "minor": "37", "gitVersion": "v1.37.2"},
            ServerVersion(1, 37, 2, "v1.37.2"),
            id="a release build says its major, minor and patch",
        ),
        pytest.param(
            {"major": "1", "minor": "36+", "gitVersion": "v1.36.3-eks-4a1c2f"},
            ServerVersion(1, 36, 3, "v1.36.3-eks-4a1c2f"),
            id="a provider build's minor carries a plus and its gitVersion a suffix",
        ),
        pytest.param(
            {"major": "", "minor": "", "gitVersion": "v1.35.4"},
            ServerVersion(1, 35, 4, "v1.35.4"),
            id="a build without major and minor takes them from gitVersion",
        ),
    ],
)
def test_decode_version(raw: dict[str, str], want: ServerVersion) -> None:
    got = decode_version(raw)
    assert got == want
    assert got.git_version == want.git_version
    assert str(got) == want.git_version


def test_a_version_without_any_release_is_refused_naming_the_field() -> None:
    with pytest.raises(DecodeError, match=r"gitVersion: no release in 'v0.0.0-master"):
        decode_version({"major": "", "minor": "", "gitVersion": "v0.0.0-master+$Format:%H$"})


def test_release_comparisons() -> None:
    version = ServerVersion(1, 36, 3)
    assert version.at_least(1, 36)
    assert version.at_least(1, 35)
    assert not version.at_least(1, 37)
    assert ServerVersion(1, 35, 9) < version < ServerVersion(1, 37, 0)


def test_served_group_versions_and_preferences() -> None:
    info = decode_server_info(
        version={"major": "1", "minor": "37", "gitVersion": "v1.37.2"}, core=CORE, groups=GROUPS
    )
    assert info.group_versions == {
        "v1",
        "scheduling.k8s.io/v1",
        "scheduling.k8s.io/v1alpha2",
        "resource.k8s.io/v1",
        "resource.k8s.io/v1beta2",
    }
    assert info.preferred == {"": "v1", "scheduling.k8s.io": "v1", "resource.k8s.io": "v1"}
    assert info.serves("scheduling.k8s.io/v1alpha2")
    assert not info.serves("scheduling.k8s.io/v1alpha3")
    assert info.first_served("scheduling.k8s.io", ["v1alpha3", "v1alpha2", "v1alpha1"]) == (
        "v1alpha2"
    )
    assert info.first_served("scheduling.k8s.io", ["v1alpha3"]) is None
    assert info.first_served("", ["v1"]) == "v1"


def test_a_group_without_a_name_is_refused_with_its_path() -> None:
    with pytest.raises(DecodeError, match=r"^/apis\.groups\[0\]\.name: empty group name"):
        decode_server_info(
            version={"gitVersion": "v1.37.2"}, core=CORE, groups={"groups": [{"versions": []}]}
        )


def test_a_list_where_an_object_belongs_is_refused() -> None:
    with pytest.raises(DecodeError, match=r"/apis\.groups"):
        decode_server_info(version={"gitVersion": "v1.37.2"}, core=CORE, groups={"groups": {}})


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("1.36", ServerVersion(1, 36, 0)),
        ("v1.36", ServerVersion(1, 36, 0)),
        ("v1.35.4", ServerVersion(1, 35, 4)),
        (" 1.37.2 ", ServerVersion(1, 37, 2)),
    ],
)
def test_a_release_as_a_person_writes_it(text: str, want: ServerVersion) -> None:
    assert parse_release(text) == want


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("1.34", "py-scheduler follows Kubernetes 1.35 to 1.37, not 1.34"),
        ("v1.38.0", "py-scheduler follows Kubernetes 1.35 to 1.37, not v1.38.0"),
        ("2.0", "py-scheduler follows Kubernetes 1.35 to 1.37, not 2.0"),
        ("1", "'1' is not a Kubernetes release such as 1.36 or v1.36.3"),
        ("1.36-eks", "'1.36-eks' is not a Kubernetes release"),
    ],
)
def test_a_release_outside_the_range_or_malformed_is_refused(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=re.escape(error)):
        parse_release(text)


def test_the_supported_range_and_the_offline_assumption() -> None:
    assert (ServerVersion(1, 35), ServerVersion(1, 37)) == (OLDEST, NEWEST)
    assert [supported(ServerVersion(1, minor, 9)) for minor in (34, 35, 36, 37, 38)] == [
        False,
        True,
        True,
        True,
        False,
    ]
    assert OFFLINE.version == NEWEST
    assert not OFFLINE.group_versions
    assert offline(ServerVersion(1, 36)).version == ServerVersion(1, 36)
