"""ImageLocality after upstream's image_locality_test.go."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.registry import NoArgs
from py_scheduler.model import NodeInfo, PodInfo, decode_pod
from py_scheduler.model.server import ServerVersion, offline
from py_scheduler.plugins.image_locality import (
    MB,
    SPEC,
    ImageLocality,
    calculate_priority,
    normalized_image_name,
)
from tests.builders import node_info, raw_pod
from tests.fakes import FakeHandle

Images = Sequence[tuple[Sequence[str], int]]


def image_pod(*images: str, init: Sequence[str] = (), volumes: Sequence[str] = ()) -> PodInfo:
    raw = raw_pod(
        "p",
        containers=[{} for _ in images],
        images=images,
        init_containers=[({}, False) for _ in init],
        volumes=[
            {"name": f"v{i}", "image": {"reference": ref, "pullPolicy": "IfNotPresent"}}
            for i, ref in enumerate(volumes)
        ],
    )
    for container, image in zip(raw["spec"].get("initContainers", []), init, strict=True):
        container["image"] = image
    return decode_pod(raw)


NODE_40_300_2000: Images = [
    (["gcr.io/40:latest", "gcr.io/40:v1", "gcr.io/40:v1"], 40 * MB),
    (["gcr.io/300:latest", "gcr.io/300:v1"], 300 * MB),
    (["gcr.io/2000:latest"], 2000 * MB),
]
NODE_250_10: Images = [
    (["gcr.io/250:latest"], 250 * MB),
    (["gcr.io/10:latest", "gcr.io/10:v1"], 10 * MB),
]
NODE_600_40_900: Images = [
    (["gcr.io/600:latest"], 600 * MB),
    (["gcr.io/40:latest"], 40 * MB),
    (["gcr.io/900:latest"], 900 * MB),
]
NODE_300_600_900: Images = [
    (["gcr.io/300:latest"], 300 * MB),
    (["gcr.io/600:latest"], 600 * MB),
    (["gcr.io/900:latest"], 900 * MB),
]
NODE_4000_30: Images = [
    (["gcr.io/4000:latest"], 4000 * MB),
    (["gcr.io/30:latest"], 30 * MB),
]
NODE_20_30_40: Images = [
    (["gcr.io/20:latest"], 20 * MB),
    (["gcr.io/30:latest"], 30 * MB),
    (["gcr.io/40:latest"], 40 * MB),
]
NO_IMAGES: Images = []


def image_nodes(*images: Images) -> list[NodeInfo]:
    return [node_info(f"node{i}", images=imgs) for i, imgs in enumerate(images, start=1)]


@pytest.mark.parametrize(
    ("incoming", "nodes", "want"),
    [
        # node2: 100 * (250M/2 - 23M) / (1000M * 2 - 23M) = 5
        pytest.param(
            image_pod("gcr.io/40", "gcr.io/250"), image_nodes(NODE_40_300_2000, NODE_250_10),
            [0, 5], id="two images spread on two nodes, prefer the larger image one"),
        # node1: 100 * ((40M + 300M)/2 - 23M) / (1000M * 2 - 23M) = 7
        pytest.param(
            image_pod("gcr.io/40", "gcr.io/300"), image_nodes(NODE_40_300_2000, NODE_250_10),
            [7, 0], id="two images on one node, prefer this node"),
        # node1: 4000M * 1/2 >= 1000M * 2, the maximum
        pytest.param(
            image_pod("gcr.io/10", "gcr.io/4000"), image_nodes(NODE_4000_30, NODE_250_10),
            [100, 0], id="if exceed limit, use limit"),
        # node1: 100 * (4000M/3 - 23M) / (1000M * 2 - 23M) = 66
        pytest.param(
            image_pod("gcr.io/10", "gcr.io/4000"),
            image_nodes(NODE_4000_30, NODE_250_10, NO_IMAGES),
            [66, 0, 0], id="if exceed limit, use limit (with node which has no images present)"),
        # node1: 100 * (600M * 2/3 + 900M * 2/3 - 23M) / (1000M * 3 - 23M) = 32
        # node2: 100 * (300M * 1/3 + 600M * 2/3 + 900M * 2/3 - 23M) / (1000M * 3 - 23M) = 36
        pytest.param(
            image_pod("gcr.io/300", "gcr.io/600", "gcr.io/900"),
            image_nodes(NODE_600_40_900, NODE_300_600_900, NO_IMAGES),
            [32, 36, 0], id="pod with multiple large images, node2 is preferred"),
        # node1: 100 * (30M + 40M * 1/2 - 23M) / (1000M * 2 - 23M) = 1
        pytest.param(
            image_pod("gcr.io/30", "gcr.io/40"), image_nodes(NODE_20_30_40, NODE_4000_30),
            [1, 0], id="pod with multiple small images"),
        # node1: 100 * (300M * 1/2 - 23M) / (1000M * 2 - 23M) = 6
        pytest.param(
            image_pod("gcr.io/30", init=["gcr.io/300"]),
            image_nodes(NODE_40_300_2000, NODE_20_30_40),
            [6, 0],
            id="include InitContainers: two images spread on two nodes, prefer the larger image "
               "one"),
        # Each container counts: 2 * 300M * 1/1 - 23M over 1000M * 2 - 23M = 29
        pytest.param(
            image_pod("gcr.io/300:v1", "gcr.io/300:v1"), image_nodes(NODE_40_300_2000),
            [29], id="an image shared by two containers counts for each of them"),
    ],
)  # fmt: skip
def test_image_locality_priority(incoming: PodInfo, nodes: list[NodeInfo], want: list[int]) -> None:
    plugin = ImageLocality(NoArgs(), FakeHandle(nodes))
    state = CycleState()
    assert [plugin.score(state, incoming, n) for n in nodes] == want


V1_35, V1_36, V1_37 = ServerVersion(1, 35), ServerVersion(1, 36), ServerVersion(1, 37)


@pytest.mark.parametrize(
    ("release", "incoming", "nodes", "want"),
    [
        # 1.37: node1: 100 * (300M * 1/2 - 23M) / (1000M * 2 - 23M) = 6; node2: 30M * 1/2 < 23M
        pytest.param(V1_37, image_pod("gcr.io/30", volumes=["gcr.io/300"]),
                     image_nodes(NODE_300_600_900, NODE_4000_30), [6, 0],
                     id="1.37: pod with ImageVolume"),
        pytest.param(V1_37, image_pod("gcr.io/30", "gcr.io/300"),
                     image_nodes(NODE_300_600_900, NODE_4000_30), [6, 0],
                     id="1.37: same images as ImageVolume pod but as regular container images"),
        # 1.36: the volume's image scores, but the bound is one container's:
        # node1: 100 * (300M * 1/2 - 23M) / (1000M - 23M) = 12
        pytest.param(V1_36, image_pod("gcr.io/30", volumes=["gcr.io/300"]),
                     image_nodes(NODE_300_600_900, NODE_4000_30), [12, 0],
                     id="1.36: pod with ImageVolume"),
        # 1.35: image volumes are not looked at.
        pytest.param(V1_35, image_pod("gcr.io/30", volumes=["gcr.io/300"]),
                     image_nodes(NODE_300_600_900, NODE_4000_30), [0, 0],
                     id="1.35: an ImageVolume does not count"),
    ],
)  # fmt: skip
def test_image_volumes_by_release(
    release: ServerVersion, incoming: PodInfo, nodes: list[NodeInfo], want: list[int]
) -> None:
    plugin = ImageLocality(NoArgs(), FakeHandle(nodes, server=offline(release)))
    state = CycleState()
    assert [plugin.score(state, incoming, n) for n in nodes] == want


@pytest.mark.parametrize(
    ("release", "skipped"),
    [pytest.param(V1_35, True, id="1.35"), pytest.param(V1_36, False, id="1.36"),
     pytest.param(V1_37, False, id="1.37")],
)  # fmt: skip
def test_pre_score_looks_at_image_volumes_from_1_36(release: ServerVersion, skipped: bool) -> None:
    nodes = image_nodes(NODE_300_600_900)
    plugin = ImageLocality(NoArgs(), FakeHandle(nodes, server=offline(release)))
    status = plugin.pre_score(CycleState(), image_pod("gcr.io/1", volumes=["gcr.io/300"]), nodes)
    assert status.is_skip is skipped


def test_image_volumes_are_decoded_apart_from_container_images() -> None:
    pod = image_pod("gcr.io/30", init=["gcr.io/1"], volumes=["gcr.io/300", "gcr.io/300"])
    assert (pod.images, pod.volume_images) == (
        ("gcr.io/30", "gcr.io/1"),
        ("gcr.io/300", "gcr.io/300"),
    )


def fake_digest(content: str) -> str:
    return "sha256:" + hashlib.sha256(content.encode()).hexdigest()


@pytest.mark.parametrize(
    ("name", "want"),
    [
        pytest.param("root", "root:latest", id="add :latest postfix 1"),
        pytest.param("gcr.io:5000/root", "gcr.io:5000/root:latest", id="add :latest postfix 2"),
        pytest.param("root:tag", "root:tag", id="keep it as is 1"),
        pytest.param(f"root@{fake_digest('root')}", f"root@{fake_digest('root')}",
                     id="keep it as is 2"),
    ],
)  # fmt: skip
def test_normalized_image_name(name: str, want: str) -> None:
    assert normalized_image_name(name) == want


@pytest.mark.parametrize(
    ("sum_scores", "containers", "want"),
    [
        pytest.param(0, 1, 0, id="below the minimum threshold scores zero"),
        pytest.param(23 * MB, 1, 0, id="the minimum threshold scores zero"),
        pytest.param(1000 * MB, 1, 100, id="the per-container maximum scores one hundred"),
        pytest.param(5000 * MB, 2, 100, id="above the maximum is clamped"),
        pytest.param(511 * MB + MB // 2, 1, 50, id="half way scores fifty"),
    ],
)  # fmt: skip
def test_calculate_priority(sum_scores: int, containers: int, want: int) -> None:
    assert calculate_priority(sum_scores, containers) == want


def test_takes_no_args() -> None:
    assert SPEC.args(None) == NoArgs()
