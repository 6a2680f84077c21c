"""kube-scheduler-simulator's result annotations, from a live cycle.

Tools built for kubernetes-sigs/kube-scheduler-simulator read a pod's
scheduling results from annotations under ``kube-scheduler-simulator.sigs.k8s.io/``
(its ``simulator/scheduler/plugin/annotation`` keys and ``resultstore``
shapes): JSON maps of strings, per plugin or per node and plugin, with
``"passed"`` for a Filter a node passed, ``"success"`` for other points, and
scores as decimal strings. ``AnnotationWriter`` (opt-in: ``run
--explain-annotations``) is the ``CycleObserver`` that writes them once a pod
is bound or left pending, when they changed.

The cycle is the scheduler's own: the ``Recording`` evaluator keeps what it
judged (its sampling included, as the simulator shows only the nodes its
scheduler judged). Filter results are those of the plugins that ran on a
node: each one passed, up to the one that rejected it. The simulator's
``result-history`` is not written (it needs the pod's current annotations).

Size is bounded: the per-node maps keep the selected node, the best-scoring
nodes and then the rejected ones until ``max_bytes``; dropped nodes are
named by count in ``py-scheduler/results-truncated``.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, Final

import orjson
import structlog

from py_scheduler.cluster import ClusterError
from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.runtime import Framework
from py_scheduler.framework.status import Status
from py_scheduler.framework.types import FitError, PostFilterResult
from py_scheduler.model import NodeName, PodInfo
from py_scheduler.scheduling.algorithm import DIAGNOSIS_KEY, PRE_FILTER_RESULT_KEY
from py_scheduler.scheduling.evaluation import TRACE_KEY

log = structlog.get_logger("py_scheduler.explain")

PREFIX: Final = "kube-scheduler-simulator.sigs.k8s.io/"
PRE_FILTER_STATUS: Final = PREFIX + "prefilter-result-status"
PRE_FILTER_RESULT: Final = PREFIX + "prefilter-result"
FILTER: Final = PREFIX + "filter-result"
POST_FILTER: Final = PREFIX + "postfilter-result"
PRE_SCORE: Final = PREFIX + "prescore-result"
SCORE: Final = PREFIX + "score-result"
FINAL_SCORE: Final = PREFIX + "finalscore-result"
RESERVE: Final = PREFIX + "reserve-result"
PERMIT: Final = PREFIX + "permit-result"
PERMIT_TIMEOUT: Final = PREFIX + "permit-result-timeout"
PRE_BIND: Final = PREFIX + "prebind-result"
BIND: Final = PREFIX + "bind-result"
SELECTED_NODE: Final = PREFIX + "selected-node"
TRUNCATED: Final = "py-scheduler/results-truncated"

PASSED: Final = "passed"
SUCCESS: Final = "success"
PREEMPTION_VICTIM: Final = "preemption victim"

# The API server refuses more than 256 KiB of annotations in all; leave room
# for the pod's own.
DEFAULT_MAX_BYTES: Final = 128 * 1024
_OVERHEAD: Final = 4 * (len(FILTER) + 2) + len(TRUNCATED) + 64
# Pods whose last annotations are remembered, to skip writing the same again.
REMEMBERED: Final = 10_000

Patch = Callable[[PodInfo, Mapping[str, str]], Awaitable[None]]
Spawn = Callable[[Coroutine[Any, Any, None], str], None]


def _message(status: Status) -> str:
    return SUCCESS if status.is_success else status.message


def results(
    fwk: Framework,
    state: CycleState,
    *,
    node: str | None,
    fit: FitError | None,
    result: PostFilterResult | None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> dict[str, str]:
    """The annotations for one cycle: bound to ``node``, or left pending with ``fit``."""
    trace = state.get(TRACE_KEY)
    diagnosis = fit.diagnosis if fit is not None else state.get(DIAGNOSIS_KEY)
    statuses = diagnosis.node_to_status.statuses if diagnosis is not None else {}
    filters = [p.name for p in fwk.filter if p.name not in state.skip_filter]

    rejector = ""
    if diagnosis is not None and diagnosis.pre_filter_msg:
        rejector = diagnosis.node_to_status.absent.plugin
    pre_filter_status = {
        p.name: (
            diagnosis.pre_filter_msg
            if diagnosis is not None and p.name == rejector
            else ("" if p.name in state.skip_filter else SUCCESS)
        )
        for p in fwk.pre_filter
    }
    narrowed = state.get(PRE_FILTER_RESULT_KEY)
    pre_filter_result: dict[str, list[str]] = {}
    if narrowed is not None and narrowed.node_names is not None:
        names = sorted(narrowed.node_names)
        pre_filter_result = dict.fromkeys(narrowed.plugins, names)

    per_node: dict[str, dict[str, str]] = {}
    judged = trace.candidates if trace is not None and trace.candidates is not None else []
    for name in judged:
        status = statuses.get(name)
        per_node[name] = _filter_row(filters, status)
    if node is not None and node not in per_node:
        per_node[node] = _filter_row(filters, None)  # the nominated node, taken at once

    score: dict[str, dict[str, str]] = {}
    final: dict[str, dict[str, str]] = {}
    order: list[str] = []
    if trace is not None and trace.scored:
        ranked = sorted(
            range(len(trace.scored)),
            key=lambda i: -(trace.totals[i] if trace.totals else 0),
        )
        for i in ranked:
            name = trace.scored[i]
            order.append(name)
            score[name] = {p: str(s.raw[i]) for p, s in trace.scores.items()}
            final[name] = {p: str(s.normalized[i] * s.weight) for p, s in trace.scores.items()}

    post_filter: dict[str, dict[str, str]] = {}
    if fit is not None and fwk.post_filter:
        nominated = result.nominated_node if result is not None else None
        plugin = fwk.post_filter[-1].name
        for name in statuses:
            post_filter[name] = {plugin: PREEMPTION_VICTIM} if name == nominated else {}

    out: dict[str, str] = {
        PRE_FILTER_STATUS: _json(pre_filter_status),
        PRE_FILTER_RESULT: _json(pre_filter_result),
        PRE_SCORE: _json(
            {p.name: "" if p.name in state.skip_score else SUCCESS for p in fwk.pre_score}
            if fit is None
            else {}
        ),
        SELECTED_NODE: node or "",
    }
    bound = node is not None
    out[RESERVE] = _json({p.name: SUCCESS for p in fwk.reserve} if bound else {})
    out[PERMIT] = _json({p.name: SUCCESS for p in fwk.permit} if bound else {})
    out[PERMIT_TIMEOUT] = _json({p.name: "0s" for p in fwk.permit} if bound else {})
    out[PRE_BIND] = _json({p.name: SUCCESS for p in fwk.pre_bind} if bound else {})
    out[BIND] = _json({fwk.bind[0].name: SUCCESS} if bound and fwk.bind else {})

    # Per-node maps, most telling nodes first, within what is left of the budget.
    first = [node] if node is not None else []
    rejected = [n for n in per_node if n not in score and n not in first]
    keep = list(dict.fromkeys([*first, *order, *rejected]))
    # What the four maps' braces and the truncation note add, on top of each row.
    budget = max_bytes - sum(len(k) + len(v) for k, v in out.items()) - _OVERHEAD
    kept, dropped = _within(keep, budget, per_node, score, final, post_filter)
    out[FILTER] = _json({n: per_node[n] for n in kept if n in per_node})
    out[SCORE] = _json({n: score[n] for n in kept if n in score})
    out[FINAL_SCORE] = _json({n: final[n] for n in kept if n in final})
    out[POST_FILTER] = _json({n: post_filter[n] for n in kept if n in post_filter})
    if dropped:
        out[TRUNCATED] = f"{dropped} node(s) left out of the per-node results"
    return out


def _filter_row(filters: Sequence[str], status: Status | None) -> dict[str, str]:
    row: dict[str, str] = {}
    for plugin in filters:
        if status is not None and plugin == status.plugin:
            row[plugin] = status.message
            break
        row[plugin] = PASSED
    return row


def _within(
    names: Sequence[str], budget: int, *tables: Mapping[str, Mapping[str, str]]
) -> tuple[list[str], int]:
    kept: list[str] = []
    used = 0
    for i, name in enumerate(names):
        cost = sum(len(_json(t[name])) + len(name) + 4 for t in tables if name in t)
        if used + cost > budget:
            return kept, len(names) - i
        kept.append(name)
        used += cost
    return kept, 0


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


class AnnotationWriter:
    """The ``CycleObserver`` that writes the annotations through ``patch``."""

    def __init__(self, patch: Patch, spawn: Spawn, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.patch = patch
        self.spawn = spawn
        self.max_bytes = max_bytes
        self._written: OrderedDict[str, bytes] = OrderedDict()  # pod UID -> digest

    def unschedulable(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        fit: FitError,
        result: PostFilterResult | None,
    ) -> None:
        self._write(
            pod, results(fwk, state, node=None, fit=fit, result=result, max_bytes=self.max_bytes)
        )

    def bound(self, fwk: Framework, state: CycleState, pod: PodInfo, node: NodeName) -> None:
        self._write(
            pod, results(fwk, state, node=node, fit=None, result=None, max_bytes=self.max_bytes)
        )

    def _write(self, pod: PodInfo, annotations: Mapping[str, str]) -> None:
        digest = hashlib.sha256(_json(annotations).encode()).digest()
        if self._written.get(pod.uid) == digest:
            return  # the same results again: no write
        self._written[pod.uid] = digest
        self._written.move_to_end(pod.uid)
        while len(self._written) > REMEMBERED:
            self._written.popitem(last=False)
        self.spawn(self._patch(pod, annotations), f"annotate {pod.key}")

    async def _patch(self, pod: PodInfo, annotations: Mapping[str, str]) -> None:
        try:
            await self.patch(pod, annotations)
        except ClusterError as exc:
            self._written.pop(pod.uid, None)
            log.warning("result annotations not written", pod=pod.key, error=str(exc))
