"""Preemption for a whole gang: evict only if every member needed fits after.

DefaultPreemption makes room for one pod; a gang member preempting alone
would evict pods for a gang that may never complete. Here the members a
quorum still needs are placed one after another on copies of the nodes
(the pod that failed first): where a member fits as things are, it takes
that room; where it does not, the node that fits it once the fewest and
least important lower-priority pods are gone is chosen, as DefaultPreemption
chooses one. Only if every needed member finds a place is anything evicted,
and then all the victims at once.

PodDisruptionBudgets are a hard limit, as in DefaultPreemption's Evict mode:
a placement that would break one is not taken. A victim that belongs to
another gang takes its whole gang with it (every bound member is evicted),
so no gang is left running with fewer members than its quorum. Pods already
terminating count as gone. Nothing here evicts: the plan goes back as the
PostFilter result and the scheduler carries it out.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.interface import Handle
from py_scheduler.framework.pod_groups import GroupMembers
from py_scheduler.framework.status import Code
from py_scheduler.framework.types import NodeToStatus
from py_scheduler.model import NodeInfo, NodeName, PodInfo, PodUID
from py_scheduler.model.budgets import DisruptionBudget, protects
from py_scheduler.model.pod import PREEMPT_NEVER
from py_scheduler.model.podgroups import GroupKey, GroupPolicy
from py_scheduler.plugins.gangscheduling.messages import NEVER, NOT_HELPFUL, WOULD_VIOLATE_PDB


@dataclass(frozen=True, slots=True)
class Plan:
    """Where the preempting pod goes, whom to evict, and where every member would go."""

    node: NodeName
    victims: tuple[PodInfo, ...]
    placements: dict[PodUID, NodeName]


@dataclass(slots=True)
class _Option:
    node: NodeName
    clone: NodeInfo
    victims: list[PodInfo]
    max_priority: int


@dataclass(slots=True)
class _Planner:
    handle: Handle
    group: GroupKey
    now: float
    clones: dict[NodeName, NodeInfo] = field(default_factory=dict)
    victims: dict[PodUID, PodInfo] = field(default_factory=dict)
    # Budget (namespace, name) -> disruptions still allowed.
    left: dict[tuple[str, str], int] = field(default_factory=dict)
    budgets: dict[str, Sequence[DisruptionBudget]] = field(default_factory=dict)
    blocked_by_budget: bool = False

    def clone(self, node_info: NodeInfo) -> NodeInfo:
        copy = self.clones.get(node_info.name)
        if copy is None:
            copy = self.clones[node_info.name] = node_info.clone()
            for pod in list(copy.pods.values()):
                if pod.deleting:
                    copy.remove_pod(pod)  # leaving already: its room is as good as free
        return copy

    def fits(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> bool:
        free_cpu = node.node.allocatable.milli_cpu - node.requested.milli_cpu
        free_memory = node.node.allocatable.memory - node.requested.memory
        if pod.requests.milli_cpu > free_cpu or pod.requests.memory > free_memory:
            return False
        return self.handle.run_filters_with_nominated(state, pod, node).is_success

    # -- victims -----------------------------------------------------------------------

    def _budgets(self, namespace: str) -> Sequence[DisruptionBudget]:
        found = self.budgets.get(namespace)
        if found is None:
            found = self.budgets[namespace] = self.handle.objects.pdbs(namespace)
        return found

    def violates(self, pods: Sequence[PodInfo]) -> bool:
        """Whether evicting ``pods`` on top of the victims chosen would break a budget."""
        spent: dict[tuple[str, str], int] = {}
        for pod in pods:
            if not pod.labels:
                continue
            for budget in self._budgets(pod.namespace):
                if not protects(budget, pod) or pod.name in budget.disrupted_pods:
                    continue
                key = (budget.namespace, budget.name)
                spent[key] = spent.get(key, 0) + 1
                if self.left.get(key, budget.disruptions_allowed) - spent[key] < 0:
                    return True
        return False

    def covered(self, pod: PodInfo) -> bool:
        """Whether any budget protects ``pod``."""
        return bool(pod.labels) and any(protects(b, pod) for b in self._budgets(pod.namespace))

    def spend(self, pods: Sequence[PodInfo]) -> None:
        for pod in pods:
            if not pod.labels:
                continue
            for budget in self._budgets(pod.namespace):
                if protects(budget, pod) and pod.name not in budget.disrupted_pods:
                    key = (budget.namespace, budget.name)
                    self.left[key] = self.left.get(key, budget.disruptions_allowed) - 1

    def with_gang(self, pod: PodInfo, priority: int) -> list[PodInfo] | None:
        """``pod`` and, when it belongs to another gang, every bound member of that
        gang; None when one of them may not be evicted for ``priority``."""
        key = pod.pod_group.key
        if key is None or key == self.group:
            return [pod] if key is None else None
        members = self.handle.pod_groups.members(key)
        bound = [p for p in members.pods if p.uid in members.bound]
        if any(p.priority >= priority for p in bound):
            return None
        return bound or [pod]

    def option(self, state: CycleState, pod: PodInfo, node_info: NodeInfo) -> _Option | None:
        """The fewest, least important victims on this node that make ``pod`` fit."""
        base = self.clone(node_info)
        potential = [
            p for p in base.pods.values() if p.priority < pod.priority and p.uid not in self.victims
        ]
        if not potential:
            return None
        freeable_cpu = sum(p.requests.milli_cpu for p in potential)
        freeable_memory = sum(p.requests.memory for p in potential)
        if (
            pod.requests.milli_cpu
            > base.node.allocatable.milli_cpu - base.requested.milli_cpu + freeable_cpu
            or pod.requests.memory
            > base.node.allocatable.memory - base.requested.memory + freeable_memory
        ):
            return None
        trial = base.clone()
        trial_state = state.clone()
        for victim in potential:
            trial.remove_pod(victim)
            if not self.handle.run_pre_filter_remove_pod(
                trial_state, pod, victim, trial
            ).is_success:
                return None
        if not self.fits(trial_state, pod, trial):
            return None
        # Reprieve the most important first, as DefaultPreemption does.
        chosen: list[PodInfo] = []
        for victim in sorted(potential, key=lambda p: (-p.priority, p.start_time or self.now)):
            trial.add_pod(victim)
            self.handle.run_pre_filter_add_pod(trial_state, pod, victim, trial)
            if self.fits(trial_state, pod, trial):
                continue
            trial.remove_pod(victim)
            self.handle.run_pre_filter_remove_pod(trial_state, pod, victim, trial)
            chosen.append(victim)
        evicted: list[PodInfo] = []
        for victim in chosen:
            whole = self.with_gang(victim, pod.priority)
            if whole is None:
                return None
            evicted.extend(v for v in whole if v.uid not in {e.uid for e in evicted})
        if self.violates(evicted):
            self.blocked_by_budget = True
            return None
        return _Option(node_info.name, trial, evicted, max(v.priority for v in evicted))

    def take(self, option: _Option) -> None:
        self.clones[option.node] = option.clone
        for victim in option.victims:
            self.victims[victim.uid] = victim
            if victim.node_name and victim.node_name != option.node:
                node_info = self.handle.snapshot.get(victim.node_name)
                if node_info is not None:
                    self.clone(node_info).remove_pod(victim)
        self.spend(option.victims)


def plan(
    handle: Handle,
    state: CycleState,
    pod: PodInfo,
    members: GroupMembers,
    policy: GroupPolicy,
    *,
    statuses: NodeToStatus,
) -> tuple[Plan | None, str]:
    """A placement for the members the gang still needs (``pod`` first), and the
    victims it takes; or None and why not."""
    if pod.preemption_policy == PREEMPT_NEVER:
        return None, NEVER
    needed = max(policy.min_member - members.scheduled, 1)
    others = [m for m in members.unscheduled() if m.uid != pod.uid]
    placing = [pod, *others][:needed]
    planner = _Planner(handle, policy.key, time.time())
    nodes = handle.snapshot.node_infos()
    placements: dict[PodUID, NodeName] = {}
    for member in placing:
        member_state = state
        if member is not pod:
            member_state = CycleState()
            status = handle.run_pre_filter_plugins(member_state, member)
            if status.code is Code.UNRESOLVABLE or status.code is Code.ERROR:
                return None, NOT_HELPFUL.format(group=policy.key)
        candidates = nodes
        if member is pod:
            candidates = [n for n in nodes if statuses.get(n.name).code is not Code.UNRESOLVABLE]
        where = next(
            (n.name for n in candidates if planner.fits(member_state, member, planner.clone(n))),
            None,
        )
        if where is None:
            best: _Option | None = None
            for node_info in candidates:
                option = planner.option(member_state, member, node_info)
                if option is None:
                    continue
                rank = (len(option.victims), option.max_priority)
                if best is None or rank < (len(best.victims), best.max_priority):
                    best = option
            if best is None:
                why = WOULD_VIOLATE_PDB if planner.blocked_by_budget else NOT_HELPFUL
                return None, why.format(group=policy.key)
            planner.take(best)
            where = best.node
        planner.clones[where].add_pod(replace(member, node_name=where))
        placements[member.uid] = where
    if not planner.victims:
        # Everything fits without eviction: nothing to preempt, the members just retry.
        return None, NOT_HELPFUL.format(group=policy.key)
    # Victims a budget covers first: if the API server refuses one (a budget this
    # scheduler has not seen yet), the evictions stop before any other went for nothing.
    victims = sorted(planner.victims.values(), key=lambda v: not planner.covered(v))
    return Plan(placements[pod.uid], tuple(victims), placements), ""
