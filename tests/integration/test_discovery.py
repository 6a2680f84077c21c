"""Discovery reads the release and the served API versions of the real API server.

The release discovered is the one the control plane was built from (and so, under
`make test-matrix`, each supported release in turn), with the groups the scheduler
relies on served. Unavailable and refusing servers: tests/unit/test_discovery.py.
"""

from __future__ import annotations

from controlplane import releases
from py_scheduler.kube import discovery
from py_scheduler.kube.client import KubeClient

# What every supported release serves and py-scheduler reads or writes.
NEEDED = (
    "v1",
    "policy/v1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1",
    "coordination.k8s.io/v1",
    "events.k8s.io/v1",
    "resource.k8s.io/v1",
)


async def test_discovery_reads_the_release_under_test(api: KubeClient) -> None:
    info = await discovery.discover(api)
    release = releases.kube_version()
    assert str(info.version) == release
    assert (info.version.major, info.version.minor) == (1, releases.minor(release))
    missing = [gv for gv in NEEDED if not info.serves(gv)]
    assert not missing, f"{release} does not serve {missing}"
    assert info.preferred["apps"] == "v1"
    assert info.preferred[""] == "v1"
