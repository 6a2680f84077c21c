"""Discovery reads the release and the served API versions of the real API server.

We test these aspects:
- the release discovered is the one the control plane was built from (and so, under
  `make test-matrix`, each supported release in turn), with the groups the
  scheduler relies on served;
- an unavailable server (503) is waited out; a refusal (403) is an error at once.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from controlplane import releases
from controlplane.launcher import LocalControlPlane
from py_scheduler.cluster import Forbidden
from py_scheduler.kube import discovery
from py_scheduler.kube.client import KubeClient, load_configuration
from tests.integration.faultproxy import FaultProxy

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


@pytest.fixture(scope="module")
def proxy(control_plane: LocalControlPlane) -> Iterator[FaultProxy]:
    running = FaultProxy(control_plane.server, control_plane.token)
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def through_proxy(proxy: FaultProxy, tmp_path: Path) -> AsyncIterator[KubeClient]:
    kubeconfig = tmp_path / "kubeconfig"
    proxy.write_kubeconfig(str(kubeconfig))
    try:
        async with KubeClient(await load_configuration(str(kubeconfig))) as kube:
            yield kube
    finally:
        proxy.reset()


async def test_an_unavailable_server_is_waited_out(
    proxy: FaultProxy, through_proxy: KubeClient
) -> None:
    proxy.answer("GET", r"^/version$", 503, 503)
    info = await discovery.discover(through_proxy)
    assert str(info.version) == releases.kube_version()
    answered = [s.status for s in proxy.seen() if s.path == "/version"]
    assert answered[:2] == [503, 503]
    assert len(answered) == 3, answered


async def test_a_refusal_is_an_error_at_once(
    proxy: FaultProxy, through_proxy: KubeClient
) -> None:
    before = proxy.count("GET", "/apis")
    proxy.answer("GET", r"^/apis$", 403)
    with pytest.raises(Forbidden, match=re.escape("GET /apis: 403")):
        await discovery.discover(through_proxy)
    assert proxy.count("GET", "/apis") == before + 1
