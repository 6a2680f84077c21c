"""Node declared features: which features a pod's spec needs from its node.

A kubelet publishes the features it supports in ``status.declaredFeatures``
(decoded into :class:`~py_scheduler.model.node.Node`); a pod that uses one of them
may only run on a node that declares it. ``FEATURES`` is the registry of the
features whose use is visible in a pod's spec, each with the first Kubernetes
release that registers it, as kube-scheduler's inference table
(``component-helpers/nodedeclaredfeatures``). The other features upstream registers
(in-place resize of pod-level resources, of non-sidecar init containers and of
memory-backed volumes, WebSockets to the kubelet, DRA node-allocatable resources and
optional node operations) are inferred only for pod updates, never for scheduling.

:func:`required_features` runs at decode time (``model.pod``) over every registered
feature; the NodeDeclaredFeatures plugin keeps the ones of the server's release.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from py_scheduler.model.raw import Fields
from py_scheduler.model.server import OLDEST, ServerVersion

RESTART_ALL_CONTAINERS: Final = "RestartAllContainersOnContainerExits"
USER_NAMESPACES_HOST_NETWORK: Final = "UserNamespacesHostNetworkSupport"
VOLUME_BIND_MOUNT_OPTIONS: Final = "VolumeBindMountOptions"


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    since_minor: int  # first 1.x release whose scheduler infers it
    needed_by: Callable[[Fields], bool]  # over the pod's spec


def _containers(spec: Fields, *kinds: str) -> Iterator[Fields]:
    for kind in kinds:
        yield from spec.objects(kind)


def _restarts_all_containers(spec: Fields) -> bool:
    return any(
        rule.string("action") == "RestartAllContainers"
        for container in _containers(spec, "containers", "initContainers")
        for rule in container.objects("restartPolicyRules")
    )


def _host_network_in_user_namespace(spec: Fields) -> bool:
    # hostUsers unset means the host's user namespace: only an explicit false counts.
    return spec.boolean("hostNetwork") and spec.raw.get("hostUsers") is False


def _bind_mount_options(spec: Fields) -> bool:
    return any(
        bool(mount.array("bindMountOptions"))
        for container in _containers(spec, "containers", "initContainers", "ephemeralContainers")
        for mount in container.objects("volumeMounts")
    )


# Sorted by name, as upstream keeps its registry.
FEATURES: Final = (
    Feature(RESTART_ALL_CONTAINERS, 35, _restarts_all_containers),
    Feature(USER_NAMESPACES_HOST_NETWORK, 36, _host_network_in_user_namespace),
    Feature(VOLUME_BIND_MOUNT_OPTIONS, 37, _bind_mount_options),
)


def required_features(spec: Fields) -> frozenset[str]:
    """The registered features (of any release) that ``spec`` uses."""
    used = [f.name for f in FEATURES if f.needed_by(spec)]
    # Most pods use none: they share the one empty set instead of each holding its own.
    return frozenset(used) if used else _NONE


_NONE: Final[frozenset[str]] = frozenset()


def registered(release: ServerVersion) -> frozenset[str]:
    """The features ``release``'s scheduler infers for a pod (a release older than
    the oldest supported is followed as that one)."""
    return frozenset(
        f.name
        for f in FEATURES
        if f.since_minor <= OLDEST.minor or release.at_least(1, f.since_minor)
    )
