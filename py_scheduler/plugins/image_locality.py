"""ImageLocality: prefer nodes that already hold the pod's images (upstream
``imagelocality/image_locality.go``).

Each container image (init containers included) found on the node adds its
size scaled by the fraction of nodes that have it, so an image present
everywhere counts fully and a rare one barely: otherwise pods of one image
would pile onto the few nodes that pulled it first. The sum is clamped to
[23MiB, 1000MiB per container] and mapped linearly onto 0..100. A pod none
of whose images any node holds scores 0 everywhere, so PreScore skips it.

Images of ``image`` volumes follow the server's release (``Handle.server``): 1.35
ignores them, 1.36 adds them to the sum, 1.37 also counts each as a container in
the upper bound.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.interface import MAX_NODE_SCORE, Handle
from py_scheduler.framework.registry import NoArgs, PluginSpec, no_args
from py_scheduler.framework.status import SKIP, SUCCESS, Status
from py_scheduler.model import NodeInfo, PodInfo
from py_scheduler.model.raw import Fields

NAME: Final = "ImageLocality"

MB: Final = 1024 * 1024
# The usual range of compressed image sizes in registries.
MIN_THRESHOLD: Final = 23 * MB
MAX_CONTAINER_THRESHOLD: Final = 1000 * MB


def decode_args(fields: Fields) -> NoArgs:
    """ImageLocality takes no arguments."""
    return no_args(fields)


def normalized_image_name(name: str) -> str:
    """The name a node reports: ``:latest`` is implied when there is no tag.

    A ``:`` before the last ``/`` is a registry port, not a tag; a digest
    (``@sha256:...``) counts as tagged.
    """
    if name.rfind(":") <= name.rfind("/"):
        return name + ":latest"
    return name


def scaled_image_score(size: int, nodes_with_image: int, total_nodes: int) -> int:
    spread = nodes_with_image / total_nodes if total_nodes else 0.0
    return int(size * spread)


def calculate_priority(sum_scores: int, num_containers: int) -> int:
    max_threshold = MAX_CONTAINER_THRESHOLD * num_containers
    if max_threshold <= MIN_THRESHOLD:  # no containers: nothing to be local to
        return 0
    clamped = min(max(sum_scores, MIN_THRESHOLD), max_threshold)
    return MAX_NODE_SCORE * (clamped - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)


class ImageLocality:
    name: ClassVar[str] = NAME

    def __init__(self, args: NoArgs, handle: Handle) -> None:
        del args
        self._handle = handle
        release = handle.server.version
        self._volumes_scored = release.at_least(1, 36)
        self._volumes_counted = release.at_least(1, 37)

    def _images(self, pod: PodInfo) -> tuple[str, ...]:
        if self._volumes_scored and pod.volume_images:
            return pod.images + pod.volume_images
        return pod.images

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        # Images no node reports score 0 everywhere (the sum stays under the
        # lower threshold): skipping Score adds the same 0 to every total.
        snapshot = self._handle.snapshot
        if any(snapshot.image_nodes(normalized_image_name(i)) for i in self._images(pod)):
            return SUCCESS
        return SKIP

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        # The handle's snapshot is this cycle's view; never keep it across cycles.
        snapshot = self._handle.snapshot
        total_nodes = len(snapshot.node_infos())
        images = node.node.images
        sum_scores = 0
        # One term per container, so an image shared by two containers counts twice.
        for image in self._images(pod):
            normalized = normalized_image_name(image)
            size = images.get(normalized)
            if size is not None:
                sum_scores += scaled_image_score(
                    size, snapshot.image_nodes(normalized), total_nodes
                )
        count = len(pod.images)
        if self._volumes_counted:
            count += len(pod.volume_images)
        return calculate_priority(sum_scores, count)


SPEC: Final = PluginSpec(NAME, decode_args, ImageLocality)
