"""NodeDeclaredFeatures: a pod that uses a node feature (restart-all-containers rules,
host network in a user namespace, bind mount options...) runs only on a node whose
kubelet declares it in ``status.declaredFeatures``.

Which spec fields need which feature is the model's table
(:mod:`py_scheduler.model.declared_features`); this plugin keeps the features the
server's release registers (``Handle.server``) and compares them with the node's.
In the default profile from 1.36 (``plugins.default_multi_point``). 1.35 had it off by
default; enabled there, it words its reason as 1.35 did, naming the missing features.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final

from py_scheduler.framework.cycle_state import CycleState, StateKey
from py_scheduler.framework.interface import Handle, PreFilterExtensions
from py_scheduler.framework.registry import NoArgs, PluginSpec, no_args
from py_scheduler.framework.status import SUCCESS, Status
from py_scheduler.framework.types import (
    ActionType,
    ClusterEventWithHint,
    PreFilterResult,
    QueueingHint,
    Resource,
    event,
)
from py_scheduler.model import Node, NodeInfo, PodInfo
from py_scheduler.model.declared_features import registered

NAME: Final = "NodeDeclaredFeatures"
REASON_UNSATISFIED: Final = "node(s) didn't match Pod's required features"
REASON_UNSATISFIED_1_35: Final = "node declared features check failed - unsatisfied requirements: "

# Unresolvable: evicting pods cannot give a node a feature.
_REJECTED: Final = Status.unresolvable(REASON_UNSATISFIED)

# PreFilter -> Filter: the features the pod needs, in this release.
_REQUIRED: Final = StateKey[frozenset[str]](f"PreFilter{NAME}")


class NodeDeclaredFeatures:
    name: ClassVar[str] = NAME

    def __init__(self, args: NoArgs, handle: Handle) -> None:
        del args
        version = handle.server.version
        self._registered = registered(version)
        self._reason_names_features = not version.at_least(1, 36)

    def required(self, pod: PodInfo) -> frozenset[str]:
        """The features ``pod`` needs from its node in the server's release."""
        return pod.required_features & self._registered

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        required = self.required(pod)
        if not required:
            return None, Status.skip()
        state.write(_REQUIRED, required)
        return None, SUCCESS

    def pre_filter_extensions(self) -> PreFilterExtensions | None:
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        required = state.get(_REQUIRED)
        if required is None:
            required = self.required(pod)
        missing = required - node.node.declared_features
        if not missing:
            return SUCCESS
        if self._reason_names_features:
            return Status.unresolvable(REASON_UNSATISFIED_1_35 + ", ".join(sorted(missing)))
        return _REJECTED

    def events_to_register(self) -> Sequence[ClusterEventWithHint]:
        return (
            ClusterEventWithHint(
                event(Resource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_DECLARED_FEATURE),
                self._after_node_change,
            ),
            ClusterEventWithHint(event(Resource.POD, ActionType.UPDATE), self._after_pod_update),
        )

    def _after_node_change(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        if not isinstance(new, Node) or not isinstance(old, Node | None):
            return QueueingHint.QUEUE
        if old is not None and old.declared_features == new.declared_features:
            return QueueingHint.SKIP
        return QueueingHint.QUEUE

    def _after_pod_update(
        self, pod: PodInfo, old: object | None, new: object | None
    ) -> QueueingHint:
        if not isinstance(new, PodInfo) or not isinstance(old, PodInfo):
            return QueueingHint.QUEUE
        # Only the pending pod's own requirements matter (1.37's TargetPod event).
        if new.uid != pod.uid:
            return QueueingHint.SKIP
        if self.required(old) == self.required(new):
            return QueueingHint.SKIP
        return QueueingHint.QUEUE


SPEC: Final = PluginSpec(NAME, no_args, NodeDeclaredFeatures)
