"""Turn one scheduling cycle into an ``Explanation``.

The cycle itself is the scheduler's own (:mod:`py_scheduler.scheduling`):
this module only reads what it left behind. The algorithm's ``Diagnosis``
(the status kube-scheduler counts for each rejected node), the evaluator's
``Trace`` when it kept one (``Explaining`` offline: every Filter plugin's
verdict and every Score plugin's scores; ``Recording`` live), the PostFilter
result and DefaultPreemption's dry run. A live cycle keeps no trace of its
rejections; ``exhaustive`` then asks ``Framework.filter_verdicts`` for them,
so the live diagnosis and the offline explanation say the same.

Used by :mod:`.offline` (``explain``) and :mod:`.store` (the running
scheduler's diagnoses).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from py_scheduler.explain.report import (
    BlockingBudget,
    Candidate,
    Explanation,
    NodeReport,
    PluginScore,
    Preemption,
    Verdict,
    quantity,
)
from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.interface import SharedLister
from py_scheduler.framework.runtime import Framework
from py_scheduler.framework.status import Code, Status
from py_scheduler.framework.types import Diagnosis, FitError, PostFilterResult
from py_scheduler.model import NodeInfo, PodInfo
from py_scheduler.model.budgets import protects
from py_scheduler.plugins.defaultpreemption import default_preemption as preemption
from py_scheduler.scheduling.algorithm import DIAGNOSIS_KEY
from py_scheduler.scheduling.evaluation import TRACE_KEY, Trace

FIT: Final = "NodeResourcesFit"
_INSUFFICIENT: Final = "Insufficient "
_TOO_MANY_PODS: Final = "Too many pods"
# Preemption candidates listed in full; the rest are counted.
MAX_CANDIDATES: Final = 20


@functools.lru_cache(maxsize=4096)
def verdict(status: Status) -> Verdict:
    """The report's form of a status; thousands of nodes share a few of them."""
    return Verdict(status.plugin or "", status.code.value, status.reasons)


def explain_cycle(
    fwk: Framework,
    state: CycleState,
    pod: PodInfo,
    snapshot: SharedLister,
    *,
    node: str | None,
    fit: FitError | None,
    result: PostFilterResult | None,
    exhaustive: bool,
) -> Explanation:
    """The explanation of the cycle that chose ``node``, or raised ``fit``."""
    trace = state.get(TRACE_KEY)
    diagnosis = fit.diagnosis if fit is not None else state.get(DIAGNOSIS_KEY)
    all_nodes = snapshot.node_infos()
    reports, short = _node_reports(
        fwk, state, pod, all_nodes, trace, diagnosis, fit=fit, exhaustive=exhaustive
    )
    feasible = [r for r in reports if r.feasible]
    out = Explanation(
        pod=pod.key,
        profile=fwk.profile_name,
        node=node,
        message=str(fit) if fit is not None else "",
        nodes=_ordered(reports, short),
        filter_plugins=[p.name for p in fwk.filter if p.name not in state.skip_filter],
        score_weights={
            p.name: fwk.weights[p.name] for p in fwk.score if p.name not in state.skip_score
        },
        total_nodes=len(all_nodes),
        feasible_nodes=len(feasible),
    )
    if fit is not None:
        _pending(out, result)
        if fwk.post_filter:
            out.preemption = _preemption(fwk, state, pod, fit, result)
    else:
        _winner(out, node, feasible, trace)
        if trace is not None and trace.candidates is None and node is not None:
            out.warnings.append(
                f"the pod's nominated node {node} passed every filter, so the scheduler "
                "took it without judging the other nodes (as kube-scheduler does)"
            )
    return out


def summarize_cycle(
    fwk: Framework,
    pod: PodInfo,
    *,
    fit: FitError,
    message: str,
    result: PostFilterResult | None,
) -> Explanation:
    """What a cycle that raised ``fit`` said, without a report per node: its
    FailedScheduling ``message`` (``str(fit)``: the counted rejections per
    reason), the condition and the nomination. Nothing here grows with the
    cluster, so a scheduler past its diagnosis budget can afford it."""
    out = Explanation(
        pod=pod.key,
        profile=fwk.profile_name,
        node=None,
        message=message,
        total_nodes=fit.num_all_nodes,
    )
    _pending(out, result)
    return out


def _pending(out: Explanation, result: PostFilterResult | None) -> None:
    out.condition = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": out.message,
    }
    if result is not None and result.nominated_node:
        out.nominated_node = result.nominated_node


def _node_reports(
    fwk: Framework,
    state: CycleState,
    pod: PodInfo,
    nodes: Sequence[NodeInfo],
    trace: Trace | None,
    diagnosis: Diagnosis | None,
    *,
    fit: FitError | None,
    exhaustive: bool,
) -> tuple[list[NodeReport], dict[str, float]]:
    statuses = diagnosis.node_to_status if diagnosis is not None else None
    scored: dict[str, int] = {}
    if trace is not None:
        scored = {name: i for i, name in enumerate(trace.scored)}
    judged = set(trace.candidates) if trace is not None and trace.candidates is not None else None
    reports: list[NodeReport] = []
    short: dict[str, float] = {}
    for node_info in nodes:
        name = node_info.name
        report = NodeReport(name)
        if name in scored:
            _scores(report, trace, scored[name])
            reports.append(report)
            continue
        decisive: Status | None = None
        judged_here = False  # Filter ran on it (not ruled out by PreFilter)
        if statuses is not None and name in statuses.statuses:
            decisive = statuses.statuses[name]
            judged_here = True
        elif fit is not None and statuses is not None:
            decisive = statuses.absent  # PreFilter rejected or narrowed the candidates
        elif judged is not None and name not in judged and statuses is not None:
            decisive = statuses.absent if statuses.absent.reasons else None
            if decisive is None:
                continue  # not judged: the cycle stopped sampling before it
        elif judged is None and trace is not None and fit is None:
            continue  # the nominated node fit at once; the others were not judged
        if decisive is None:
            reports.append(report)  # feasible, not scored (the only feasible node)
            continue
        report.status = verdict(decisive)
        report.filters = _filters(
            fwk, state, pod, node_info, decisive, trace, exhaustive and judged_here
        )
        report.shortfall = _shortfall(pod, node_info, report.filters)
        if report.shortfall:
            short[name] = _short_share(pod, node_info)
        reports.append(report)
    return reports, short


def _filters(
    fwk: Framework,
    state: CycleState,
    pod: PodInfo,
    node_info: NodeInfo,
    decisive: Status,
    trace: Trace | None,
    exhaustive: bool,
) -> list[Verdict]:
    if trace is not None and node_info.name in trace.verdicts:
        verdicts: Iterable[Status] = trace.verdicts[node_info.name]
    elif exhaustive and decisive.plugin in fwk.plugins:
        later = fwk.filter_verdicts(state, pod, node_info, after=decisive.plugin)
        verdicts = [decisive, *(v for v in later if v.plugin != decisive.plugin)]
    else:
        verdicts = (decisive,)
    return [verdict(s) for s in verdicts if s.code is not Code.SUCCESS]


def _resource_of(reason: str) -> str | None:
    if reason == _TOO_MANY_PODS:
        return "pods"
    if reason.startswith(_INSUFFICIENT):
        return reason[len(_INSUFFICIENT) :]
    return None


def _short_share(pod: PodInfo, node_info: NodeInfo) -> float:
    """How far the node is from the pod's requests: the missing share of each
    resource it lacks, added up (0 when nothing is missing)."""
    alloc, used, want = node_info.node.allocatable, node_info.requested, pod.requests
    total = 0.0
    for resource in want.names():
        asked = want.get(resource)
        if asked > 0:
            free = alloc.get(resource) - used.get(resource)
            if free < asked:
                total += (asked - max(free, 0)) / asked
    return total


def _shortfall(pod: PodInfo, node_info: NodeInfo, filters: Sequence[Verdict]) -> dict[str, str]:
    out: dict[str, str] = {}
    alloc = node_info.node.allocatable
    used = node_info.requested
    for v in filters:
        if v.plugin != FIT:
            continue
        for reason in v.reasons:
            resource = _resource_of(reason)
            if resource is None:
                continue
            if resource == "pods":
                out["pods"] = str(len(node_info.pods) + 1 - node_info.node.allowed_pods)
                continue
            want = pod.requests.get(resource)
            free = alloc.get(resource) - used.get(resource)
            if want > free:
                out[resource] = quantity(resource, want - max(free, 0))
    return out


def _scores(report: NodeReport, trace: Trace | None, i: int) -> None:
    if trace is None:
        return
    for plugin, scores in trace.scores.items():
        report.scores[plugin] = PluginScore(
            scores.raw[i], scores.normalized[i], scores.normalized[i] * scores.weight
        )
    if trace.totals:
        report.total = trace.totals[i]


def _ordered(reports: list[NodeReport], short: Mapping[str, float]) -> list[NodeReport]:
    """Feasible nodes best first; then the rejected, nearest to fitting first:
    fewest plugins against them, then the least missing."""
    feasible = sorted(
        (r for r in reports if r.feasible),
        key=lambda r: (-(r.total if r.total is not None else -1), r.name),
    )
    rejected = sorted(
        (r for r in reports if not r.feasible),
        key=lambda r: (len(r.filters), short.get(r.name, 0.0), r.name),
    )
    return feasible + rejected


def _winner(
    out: Explanation, node: str | None, feasible: Sequence[NodeReport], trace: Trace | None
) -> None:
    if node is None:
        return
    chosen = next((r for r in feasible if r.name == node), None)
    total = chosen.total if chosen is not None else None
    winner: dict[str, object] = {"node": node, "total": total}
    if total is None:
        winner["why"] = (
            "the only feasible node" if len(feasible) <= 1 else "the nominated node fit at once"
        )
    else:
        others = sorted(
            (r for r in feasible if r.name != node and r.total is not None),
            key=lambda r: (-(r.total or 0), r.name),
        )
        if others:
            runner = others[0]
            winner["runnerUp"] = runner.name
            winner["runnerUpTotal"] = runner.total
            winner["margin"] = total - (runner.total or 0)
        tied = sorted(r.name for r in feasible if r.total == total)
        if len(tied) > 1:
            out.tie_break = {
                "nodes": tied,
                "total": total,
                "rule": "a uniform random choice among the nodes with the highest total",
            }
    out.winner = winner


def _preemption(
    fwk: Framework,
    state: CycleState,
    pod: PodInfo,
    fit: FitError,
    result: PostFilterResult | None,
) -> Preemption:
    names = [p.name for p in fwk.post_filter]
    plugin = preemption.NAME if preemption.NAME in names else names[0]
    message = fit.diagnosis.post_filter_msg
    dry_run = state.get(preemption.DRY_RUN_KEY)
    out = Preemption(plugin=plugin, outcome="no-candidates", message=message)
    if result is None:
        out.outcome = "not-eligible" if "not eligible" in message else "error"
    elif result.nominated_node:
        out.outcome = "nominated"
        out.nominated_node = result.nominated_node
        out.victims = [v.key for v in result.victims]
    elif preemption.REASON_WOULD_VIOLATE_PDB in message:
        out.outcome = "blocked-by-pdb"
    elif dry_run is not None and not dry_run.candidates:
        out.outcome = "not-helpful"
    if dry_run is not None:
        for candidate in dry_run.candidates[:MAX_CANDIDATES]:
            out.candidates.append(
                Candidate(
                    node=candidate.node,
                    victims=tuple(v.key for v in candidate.victims),
                    pdb_violations=candidate.num_pdb_violations,
                    blocking=blocking_budgets(fwk, candidate.victims),
                )
            )
        out.rejected = {
            name: verdict(s.with_plugin(s.plugin or preemption.NAME))
            for name, s in dry_run.statuses.items()
        }
    return out


def blocking_budgets(fwk: Framework, victims: Sequence[PodInfo]) -> tuple[BlockingBudget, ...]:
    """The budgets evicting ``victims`` would break, and by how much."""
    counts: dict[tuple[str, str], int] = {}
    allowed: dict[tuple[str, str], int] = {}
    for victim in victims:
        for budget in fwk.objects.pdbs(victim.namespace):
            if protects(budget, victim) and victim.name not in budget.disrupted_pods:
                key = (budget.namespace, budget.name)
                counts[key] = counts.get(key, 0) + 1
                allowed[key] = budget.disruptions_allowed
    return tuple(
        BlockingBudget(f"{ns}/{name}", allowed[(ns, name)], count, count - allowed[(ns, name)])
        for (ns, name), count in sorted(counts.items())
        if count > allowed[(ns, name)]
    )
