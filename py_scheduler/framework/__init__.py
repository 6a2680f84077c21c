"""The plugin framework: what a plugin author needs, and all of it.

Everything exported here (``__all__``) is py-scheduler's public face: the
extension-point protocols, the optional columnar (batch) protocols, the
plugin registry types, statuses, cycle state, the ``Handle`` and listers a
plugin receives (with ``ServerInfo``, the API server's release), the pod and
node views it judges, and the cluster events that requeue the pods it
rejected. Everything else in ``py_scheduler``, including the submodules of
this package, is internal and may change between releases: import from
``py_scheduler.framework`` only.

Layering (checked by import-linter): ``framework`` depends only on ``model``
and the ``cluster`` port; plugins depend on ``framework`` and ``model``, never
on each other, the scheduling core, the API client or the metrics library.
"""

from py_scheduler.framework.batch import (
    BatchFilterPlugin,
    BatchScorePlugin,
    Bools,
    Column,
    Int64s,
    NodeColumns,
)
from py_scheduler.framework.custom_resources import CustomObjectLister, CustomResource
from py_scheduler.framework.cycle_state import CycleState, StateKey
from py_scheduler.framework.interface import (
    MAX_NODE_SCORE,
    MIN_NODE_SCORE,
    BackgroundWriter,
    BindPlugin,
    EnqueueExtensions,
    FilterPlugin,
    Handle,
    Nominator,
    ObjectLister,
    PermitPlugin,
    Plugin,
    PostBindPlugin,
    PostFilterPlugin,
    PreBindPlugin,
    PreEnqueuePlugin,
    PreFilterExtensions,
    PreFilterPlugin,
    PreScorePlugin,
    QueueSortPlugin,
    ReservePlugin,
    ScoreNormalizer,
    ScorePlugin,
    SharedLister,
)
from py_scheduler.framework.registry import ArgsError, NoArgs, PluginSpec, no_args
from py_scheduler.framework.status import SKIP, SUCCESS, Code, Status
from py_scheduler.framework.types import (
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    NodeToStatus,
    PostFilterResult,
    PreFilterResult,
    QueuedPodInfo,
    QueueingHint,
    Resource,
    event,
)
from py_scheduler.framework.waiting_pods import MAX_PERMIT_WAIT, WaitingPod
from py_scheduler.model import Node, NodeInfo, PodInfo
from py_scheduler.model.raw import DecodeError, Fields
from py_scheduler.model.server import ServerInfo, ServerVersion

__all__ = [
    "MAX_NODE_SCORE",
    "MAX_PERMIT_WAIT",
    "MIN_NODE_SCORE",
    "SKIP",
    "SUCCESS",
    "ActionType",
    "ArgsError",
    "BackgroundWriter",
    "BatchFilterPlugin",
    "BatchScorePlugin",
    "BindPlugin",
    "Bools",
    "ClusterEvent",
    "ClusterEventWithHint",
    "Code",
    "Column",
    "CustomObjectLister",
    "CustomResource",
    "CycleState",
    "DecodeError",
    "EnqueueExtensions",
    "Fields",
    "FilterPlugin",
    "Handle",
    "Int64s",
    "NoArgs",
    "Node",
    "NodeColumns",
    "NodeInfo",
    "NodeToStatus",
    "Nominator",
    "ObjectLister",
    "PermitPlugin",
    "Plugin",
    "PluginSpec",
    "PodInfo",
    "PostBindPlugin",
    "PostFilterPlugin",
    "PostFilterResult",
    "PreBindPlugin",
    "PreEnqueuePlugin",
    "PreFilterExtensions",
    "PreFilterPlugin",
    "PreFilterResult",
    "PreScorePlugin",
    "QueueSortPlugin",
    "QueuedPodInfo",
    "QueueingHint",
    "ReservePlugin",
    "Resource",
    "ScoreNormalizer",
    "ScorePlugin",
    "ServerInfo",
    "ServerVersion",
    "SharedLister",
    "StateKey",
    "Status",
    "WaitingPod",
    "event",
    "no_args",
]
