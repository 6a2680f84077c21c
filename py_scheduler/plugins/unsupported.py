"""UnsupportedFeatures: refuse pods that ask for what this release cannot judge.

Placing such a pod while ignoring part of its spec would be a silent wrong
placement; instead it stays pending with a reason naming the field. Each
check goes away as the feature lands.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.interface import Handle, PreFilterExtensions
from py_scheduler.framework.registry import NoArgs, PluginSpec, no_args
from py_scheduler.framework.status import SUCCESS, Status
from py_scheduler.framework.types import PreFilterResult
from py_scheduler.model import NodeInfo, PodInfo

NAME: Final = "UnsupportedFeatures"
REASON_RESOURCE_CLAIMS: Final = (
    "pod uses spec.resourceClaims (dynamic resource allocation), "
    "which py-scheduler does not support yet"
)


def unsupported_reasons(pod: PodInfo) -> list[str]:
    reasons = []
    if pod.resource_claims:
        reasons.append(REASON_RESOURCE_CLAIMS)
    return reasons


class UnsupportedFeatures:
    name: ClassVar[str] = NAME

    def __init__(self, args: NoArgs, handle: Handle) -> None:
        del args, handle

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        reasons = unsupported_reasons(pod)
        if reasons:
            return None, Status.unresolvable(*reasons)
        return None, SUCCESS

    def pre_filter_extensions(self) -> PreFilterExtensions | None:
        return None


SPEC: Final = PluginSpec(NAME, no_args, UnsupportedFeatures)
