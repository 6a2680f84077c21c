"""DefaultPreemption: when no node fits, find the node where evicting the
fewest and least important lower-priority pods makes room (upstream
``plugins/defaultpreemption`` and ``framework/preemption``).

The plugin only decides: it returns the node to nominate and the victims.
Evicting them, writing the nomination and clearing lower-priority
nominations is the scheduler core's job, so this module does no I/O and a
dry run never touches the cached NodeInfo (it works on clones).

Steps, as upstream:

1. The pod must be eligible: not ``preemptionPolicy: Never``, and not already
   waiting for victims it preempted on its nominated node to terminate.
2. Only nodes whose filter status is Unschedulable are tried; an
   UnschedulableAndUnresolvable or absent node cannot be helped.
3. Starting at a random offset, each node is dry-run until there are enough
   candidates and at least one of them violates no PodDisruptionBudget.
4. On each node every lower-priority pod is removed; if the pod then fits,
   victims are reprieved one by one (PDB-violating ones first, each group
   in importance order) while the pod still fits. A victim that belongs to a
   pod group brings every bound member of its group along (upstream's
   ``DisruptionMode: All``): a gang is never preempted one member at a time,
   and a member of a group with a member not lower in priority is no victim.
5. The best candidate is chosen by ``candidates.pick_one_node``. From
   Kubernetes 1.37 the success says so ("found a potential placement..."),
   and those words end the pod's FailedScheduling message; up to 1.36 it is
   silent (docs/releases.md).

The dry run is sequential: upstream's parallel search returns the same
candidates when run with parallelism 1, which is what its tables pin.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Final

from py_scheduler.framework.cycle_state import CycleState, StateKey
from py_scheduler.framework.interface import Handle
from py_scheduler.framework.registry import ArgsError, PluginSpec
from py_scheduler.framework.status import SUCCESS, Code, Status
from py_scheduler.framework.types import (
    ClusterEventWithHint,
    Diagnosis,
    NodeToStatus,
    PostFilterResult,
    fit_message,
)
from py_scheduler.model import NodeInfo, NodeName, PodInfo
from py_scheduler.model.budgets import DisruptionBudget
from py_scheduler.model.pod import PREEMPT_NEVER
from py_scheduler.model.raw import Fields
from py_scheduler.plugins.defaultpreemption.candidates import (
    BudgetsFor,
    Candidate,
    by_importance,
    pick_one_node,
    split_by_pdb_violation,
)
from py_scheduler.plugins.defaultpreemption.victim_memo import (
    Answer,
    VictimMemo,
    budgets_on,
    keep,
    lookup,
)

NAME: Final = "DefaultPreemption"

EVICT: Final = "Evict"
DELETE: Final = "Delete"
EVICTION_MODES: Final = (EVICT, DELETE)

DEFAULT_MIN_CANDIDATE_NODES_PERCENTAGE: Final = 10
DEFAULT_MIN_CANDIDATE_NODES_ABSOLUTE: Final = 100

MESSAGE_PREFIX: Final = "preemption: "
REASON_NO_VICTIMS: Final = "No preemption victims found for incoming pod"
REASON_NOT_HELPFUL: Final = "Preemption is not helpful for scheduling"
REASON_NO_NODES: Final = "no nodes available"
# Ours: evictions go through the Eviction API, so a budget is never broken.
REASON_WOULD_VIOLATE_PDB: Final = "Preemption would violate a PodDisruptionBudget"
INELIGIBLE_NEVER: Final = "not eligible due to preemptionPolicy=Never."
INELIGIBLE_TERMINATING: Final = "not eligible due to a terminating pod on the nominated node."
# 1.37's words for a nomination (kubernetes framework/preemption Preempt).
FOUND_PLACEMENT: Final = (
    "found a potential placement for pod on node {node}, preempting {count} victims"
)

_ARG_FIELDS: Final = frozenset(
    {
        "minCandidateNodesPercentage",
        "minCandidateNodesAbsolute",
        "evictionMode",
        "apiVersion",
        "kind",
    }
)


# -- arguments -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DefaultPreemptionArgs:
    min_candidate_nodes_percentage: int = DEFAULT_MIN_CANDIDATE_NODES_PERCENTAGE
    min_candidate_nodes_absolute: int = DEFAULT_MIN_CANDIDATE_NODES_ABSOLUTE
    # Evict goes through the Eviction API, so the API server enforces PDBs;
    # Delete bypasses them and exists only as an explicit opt-in.
    eviction_mode: str = EVICT

    def __post_init__(self) -> None:
        problems = []
        pct, absolute = self.min_candidate_nodes_percentage, self.min_candidate_nodes_absolute
        if not 0 <= pct <= 100:
            problems.append(
                f"args.minCandidateNodesPercentage: not in valid range [0, 100], got {pct}"
            )
        if absolute < 0:
            problems.append(
                f"args.minCandidateNodesAbsolute: not in valid range [0, inf), got {absolute}"
            )
        if pct == 0 and absolute == 0:
            problems.append(
                "args.minCandidateNodesPercentage: cannot be zero at the same time as "
                "minCandidateNodesAbsolute"
            )
            problems.append(
                "args.minCandidateNodesAbsolute: cannot be zero at the same time as "
                "minCandidateNodesPercentage"
            )
        if self.eviction_mode not in EVICTION_MODES:
            problems.append(
                f"args.evictionMode: unsupported value {self.eviction_mode!r}, "
                f"must be one of {', '.join(EVICTION_MODES)}"
            )
        if problems:
            raise ArgsError("; ".join(problems))


def decode_args(fields: Fields) -> DefaultPreemptionArgs:
    # Strict, as upstream's decoder: a misspelt evictionMode must not fall
    # back to the default silently.
    for key in fields.raw:
        if key not in _ARG_FIELDS:
            raise fields.error(key, "unknown field")
    return DefaultPreemptionArgs(
        min_candidate_nodes_percentage=fields.int32(
            "minCandidateNodesPercentage", DEFAULT_MIN_CANDIDATE_NODES_PERCENTAGE
        ),
        min_candidate_nodes_absolute=fields.int32(
            "minCandidateNodesAbsolute", DEFAULT_MIN_CANDIDATE_NODES_ABSOLUTE
        ),
        eviction_mode=fields.string("evictionMode") or EVICT,
    )


# -- helpers ---------------------------------------------------------------------------


def aggregate_errors(messages: Sequence[str]) -> str:
    """utilerrors.NewAggregate's text: one error as is, several deduplicated in brackets."""
    if len(messages) == 1:
        return messages[0]
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def terminating_by_preemption(pod: PodInfo) -> bool:
    return pod.deleting and pod.preempted_by_scheduler


class _BudgetCache:
    """PDBs per namespace, listed at most once per PostFilter call."""

    def __init__(self, handle: Handle) -> None:
        self._handle = handle
        self._by_namespace: dict[str, Sequence[DisruptionBudget]] = {}

    def __call__(self, namespace: str) -> Sequence[DisruptionBudget]:
        budgets = self._by_namespace.get(namespace)
        if budgets is None:
            budgets = self._by_namespace[namespace] = self._handle.objects.pdbs(namespace)
        return budgets


@dataclass(slots=True)
class DryRun:
    """What the dry run found: candidates (non-violating first) and why the others failed."""

    candidates: list[Candidate]
    statuses: dict[NodeName, Status]
    errors: list[str]


# What the last dry run found, kept in the cycle state for ``explain``; the
# decision never reads it back.
DRY_RUN_KEY: Final[StateKey[DryRun]] = StateKey("DefaultPreemption/dry-run")


# -- plugin ----------------------------------------------------------------------------


class DefaultPreemption:
    name: ClassVar[str] = NAME

    def __init__(self, args: DefaultPreemptionArgs, handle: Handle) -> None:
        self.args = args
        self.handle = handle
        self._says_placement = handle.server.version.at_least(1, 37)
        # Replaceable in tests, for a fixed starting offset and a fixed "now".
        self.rng = random.Random()
        self.clock: Callable[[], float] = time.time
        self.memo = VictimMemo()

    def events_to_register(self) -> Sequence[ClusterEventWithHint]:
        # It rejects no pod itself (there is no PreEnqueue), so no event can help one.
        return ()

    def post_filter(
        self, state: CycleState, pod: PodInfo, statuses: NodeToStatus
    ) -> tuple[PostFilterResult | None, Status]:
        result, status = self._preempt(state, pod, statuses)
        if status.message:
            status = Status(status.code, (MESSAGE_PREFIX + status.message,))
        return result, status

    def _preempt(
        self, state: CycleState, pod: PodInfo, statuses: NodeToStatus
    ) -> tuple[PostFilterResult | None, Status]:
        nominated_status = statuses.get(NodeName(pod.nominated_node))
        eligible, why = self.eligible_to_preempt_others(pod, nominated_status)
        if not eligible:
            # No result, as upstream: this attempt says nothing about the nomination.
            return None, Status.unschedulable(why)

        all_nodes = self.handle.snapshot.node_infos()
        if not all_nodes:
            return None, Status.error(REASON_NO_NODES)
        now = self.clock()
        potential = [n for n in all_nodes if statuses.get(n.name).code is Code.UNSCHEDULABLE]
        found = DryRun([], {}, [])
        if potential:
            offset, count = self.offset_and_num_candidates(len(potential))
            found = self.dry_run(state, pod, potential, offset, count, now=now)
        state.write(DRY_RUN_KEY, found)

        if not found.candidates:
            if found.errors:
                return None, Status.error(aggregate_errors(found.errors))
            tried = NodeToStatus(found.statuses, Status.unresolvable(REASON_NOT_HELPFUL))
            message = fit_message(len(all_nodes), Diagnosis(node_to_status=tried))
            # An empty nominated node clears a stale nomination.
            return PostFilterResult(NodeName("")), Status.unschedulable(message)

        best = pick_one_node(found.candidates, now)
        if best is None:  # unreachable: candidates is not empty
            return None, Status.unschedulable("no candidate node for preemption")
        if best.num_pdb_violations and self.args.eviction_mode != DELETE:
            # PodDisruptionBudgets are a hard limit here, not upstream's preference:
            # every candidate would break one, so evict nothing and say why.
            tried = NodeToStatus(dict(found.statuses), Status.unresolvable(REASON_NOT_HELPFUL))
            for candidate in found.candidates:
                tried[candidate.node] = Status.unschedulable(REASON_WOULD_VIOLATE_PDB)
            message = fit_message(len(all_nodes), Diagnosis(node_to_status=tried))
            return PostFilterResult(NodeName("")), Status.unschedulable(message)
        placed = SUCCESS
        if self._says_placement:
            words = FOUND_PLACEMENT.format(node=best.node, count=len(best.victims))
            placed = Status(Code.SUCCESS, (words,))
        return (
            PostFilterResult(best.node, best.victims, eviction_mode=self.args.eviction_mode),
            placed,
        )

    # -- eligibility -------------------------------------------------------------------

    def eligible_to_preempt_others(
        self, pod: PodInfo, nominated_status: Status
    ) -> tuple[bool, str]:
        """``PodEligibleToPreemptOthers``: (eligible, why not)."""
        if pod.preemption_policy == PREEMPT_NEVER:
            return False, INELIGIBLE_NEVER
        if not pod.nominated_node:
            return True, ""
        # Filters now rule the nominated node out for good: look elsewhere.
        if nominated_status.code is Code.UNRESOLVABLE:
            return True, ""
        node = self.handle.snapshot.get(pod.nominated_node)
        if node is not None and any(
            p.priority < pod.priority and terminating_by_preemption(p) for p in node.pods.values()
        ):
            # Victims it already preempted are leaving: wait rather than evict more.
            return False, INELIGIBLE_TERMINATING
        return True, ""

    # -- candidates --------------------------------------------------------------------

    def num_candidates(self, num_nodes: int) -> int:
        """How many candidates to collect before choosing, at most ``num_nodes``."""
        n = num_nodes * self.args.min_candidate_nodes_percentage // 100
        n = min(max(n, self.args.min_candidate_nodes_absolute), num_nodes)
        if n == 0 and num_nodes > 0:
            # A small percentage with minCandidateNodesAbsolute 0 rounds down to
            # zero; upstream then keeps room for no candidate and discards every
            # one it finds. One is the least that can nominate anything.
            n = 1
        return n

    def offset_and_num_candidates(self, num_nodes: int) -> tuple[int, int]:
        return self.rng.randrange(num_nodes), self.num_candidates(num_nodes)

    def dry_run(
        self,
        state: CycleState,
        pod: PodInfo,
        nodes: Sequence[NodeInfo],
        offset: int,
        count: int,
        *,
        budgets_for: BudgetsFor | None = None,
        now: float | None = None,
    ) -> DryRun:
        """``DryRunPreemption``: try nodes from ``offset`` on, on clones."""
        budgets = budgets_for if budgets_for is not None else _BudgetCache(self.handle)
        when = now if now is not None else self.clock()
        non_violating: list[Candidate] = []
        violating: list[Candidate] = []
        statuses: dict[NodeName, Status] = {}
        errors: list[str] = []
        shape = self.memo.shape(self.handle.filter_signature(state, pod), pod)
        nominator = self.handle.nominator
        node_count = len(self.handle.snapshot.node_infos())
        snapshot = self.handle.snapshot
        nominated: tuple[PodInfo, ...] = ()
        pdbs: tuple[DisruptionBudget, ...] = ()
        for i in range(len(nodes)):
            node = nodes[(offset + i) % len(nodes)]
            answer = None
            # Kept answers are for the snapshot's own NodeInfos, whose generation says it all.
            kept = shape if shape is not None and snapshot.get(node.name) is node else None
            if kept is not None:
                nominated = tuple(
                    p
                    for p in nominator.nominated_pods_for(node.name)
                    if p.priority >= pod.priority and p.uid != pod.uid
                )
                pdbs = budgets_on(node, pod, budgets)
                answer = lookup(kept, node, nominated, pdbs)
                if answer is not None:
                    self.memo.hits += 1
            if answer is None:
                found_victims, found_violations, found_status = self.select_victims_on_node(
                    state.clone(), pod, node.clone(), budgets, when
                )
                answer = Answer(tuple(found_victims), found_violations, found_status)
                if kept is not None:
                    keep(kept, node, pod, nominated, pdbs, answer, node_count=node_count, now=when)
            victims, violations, status = answer.victims, answer.violations, answer.status
            if status.is_success and victims:
                bucket = violating if violations else non_violating
                # Each list holds at most ``count``, as upstream's fixed-size lists.
                if len(bucket) < count:
                    bucket.append(Candidate(node.name, victims, violations))
                if non_violating and len(non_violating) + len(violating) >= count:
                    break
                continue
            if status.is_success:
                status = Status.error(f'expected at least one victim pod on node "{node.name}"')
            if status.code is Code.ERROR:
                errors.append(status.message)
            statuses[node.name] = status
        return DryRun(non_violating + violating, statuses, errors)

    # -- one node ----------------------------------------------------------------------

    def select_victims_on_node(
        self,
        state: CycleState,
        pod: PodInfo,
        node: NodeInfo,
        budgets_for: BudgetsFor,
        now: float,
    ) -> tuple[list[PodInfo], int, Status]:
        """``SelectVictimsOnNode`` on a cloned ``state`` and ``node`` it may change.

        Returns the victims (most important first), how many of them violate
        a PDB, and Success, or the status that rules the node out.
        """
        potential = [
            p
            for p in node.pods.values()
            if p.priority < pod.priority and self._group_may_go(p, pod.priority)
        ]
        for victim in potential:
            status = self._remove(state, pod, victim, node)
            if not status.is_success:
                return [], 0, status
        if not potential:
            return [], 0, Status.unresolvable(REASON_NO_VICTIMS)
        # Affinity of the pod *to* victims is deliberately not considered:
        # such a pod would not fit here once they are gone anyway.
        status = self.handle.run_filters_with_nominated(state, pod, node)
        if not status.is_success:
            return [], 0, status

        ordered = by_importance(potential, now)
        violating, non_violating = split_by_pdb_violation(ordered, budgets_for)
        victims: list[PodInfo] = []
        violations = 0
        for group, group_violates in ((violating, True), (non_violating, False)):
            for victim in group:
                fits, status = self._reprieve(state, pod, victim, node)
                if not status.is_success:
                    return [], 0, status
                if not fits:
                    victims.append(victim)
                    violations += group_violates
        if violating and non_violating:
            victims = by_importance(victims, now)
        with_groups = self._with_groups(victims)
        if len(with_groups) != len(victims):
            # A member of a pod group takes its group along: recount the budgets.
            violating, _ = split_by_pdb_violation(by_importance(with_groups, now), budgets_for)
            return with_groups, len(violating), SUCCESS
        return victims, violations, SUCCESS

    # -- pod groups --------------------------------------------------------------------

    def _bound_members(self, pod: PodInfo) -> list[PodInfo]:
        key = pod.pod_group.key
        if key is None:
            return []
        members = self.handle.pod_groups.members(key)
        return [p for p in members.pods if p.uid in members.bound]

    def _group_may_go(self, victim: PodInfo, priority: int) -> bool:
        """A pod of a group is a victim only if its whole group may be: a gang is
        never preempted one member at a time."""
        return all(p.priority < priority for p in self._bound_members(victim))

    def _with_groups(self, victims: list[PodInfo]) -> list[PodInfo]:
        """``victims`` and every bound member of their groups, on any node."""
        out = list(victims)
        seen = {v.uid for v in victims}
        for victim in victims:
            for member in self._bound_members(victim):
                if member.uid not in seen:
                    seen.add(member.uid)
                    out.append(member)
        return out

    def _remove(self, state: CycleState, pod: PodInfo, victim: PodInfo, node: NodeInfo) -> Status:
        node.remove_pod(victim)
        status = self.handle.run_pre_filter_remove_pod(state, pod, victim, node)
        return status if status.is_success else Status.error(status.message)

    def _reprieve(
        self, state: CycleState, pod: PodInfo, victim: PodInfo, node: NodeInfo
    ) -> tuple[bool, Status]:
        """Put ``victim`` back; keep it if the pod still fits, else take it out again."""
        node.add_pod(victim)
        status = self.handle.run_pre_filter_add_pod(state, pod, victim, node)
        if not status.is_success:
            return False, Status.error(status.message)
        if self.handle.run_filters_with_nominated(state, pod, node).is_success:
            return True, SUCCESS
        return False, self._remove(state, pod, victim, node)


SPEC: Final = PluginSpec(NAME, decode_args, DefaultPreemption)
