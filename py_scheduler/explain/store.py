"""The running scheduler's diagnoses: each pending pod's last explanation.

``Diagnoser`` is a ``CycleObserver``: when a cycle leaves a pod pending it
builds the explanation from that very cycle (:func:`.diagnose.explain_cycle`,
with every Filter plugin's verdict on every rejected node), and when the pod
is bound it forgets it. ``DiagnosisStore`` keeps them as compressed JSON,
least recently written first out once ``max_bytes`` is reached, so memory
stays bounded whatever the number of pending pods.

A diagnosis costs about one more Filter pass over the nodes and a report of
each, on the scheduling loop. A pod retried with the same FailedScheduling
message within ``min_interval`` keeps its diagnosis, and all diagnoses
together take at most a set share of the loop's time (``Diagnoser``); past
it a pod gets only the summary its cycle already wrote, so a crowd of pods
that fit nowhere, or retried on every cluster event, does not slow
scheduling down.
"""

from __future__ import annotations

import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import orjson
import structlog

from py_scheduler.explain.diagnose import explain_cycle, summarize_cycle
from py_scheduler.explain.report import Explanation
from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.runtime import Framework
from py_scheduler.framework.types import FitError, PostFilterResult
from py_scheduler.model import NodeName, PodInfo

log = structlog.get_logger("py_scheduler.explain")

DEFAULT_MAX_BYTES: Final = 32 * 1024 * 1024
DEFAULT_MIN_INTERVAL: Final = 10.0
# Share of the scheduling loop's time diagnoses may take, and the burst allowed.
DEFAULT_BUDGET: Final = 0.05
DEFAULT_BURST: Final = 1.0
OVER_BUDGET: Final = (
    "the scheduler's time for diagnoses was spent: this is the cycle's message only, "
    "without a report per node (py-scheduler explain shows every node)"
)


@dataclass(slots=True)
class _Entry:
    uid: str
    blob: bytes  # zlib-compressed JSON
    message: str
    at: float
    complete: bool


class DiagnosisStore:
    """Diagnoses by ``namespace/name``, under a byte cap (compressed size)."""

    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes <= 0:
            raise ValueError(f"the diagnosis store needs a positive size, got {max_bytes}")
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def put(
        self, key: str, uid: str, message: str, body: bytes, *, at: float, complete: bool = True
    ) -> None:
        """``complete``: a full diagnosis, not a summary (which is never fresh)."""
        blob = zlib.compress(body, 1)
        self.drop(key)
        if len(blob) > self.max_bytes:
            log.warning("diagnosis larger than the store; not kept", pod=key, bytes=len(blob))
            return
        self._entries[key] = _Entry(uid, blob, message, at, complete)
        self.bytes += len(blob)
        while self.bytes > self.max_bytes:
            _, oldest = self._entries.popitem(last=False)
            self.bytes -= len(oldest.blob)

    def fresh(self, key: str, uid: str, message: str, *, now: float, within: float) -> bool:
        """Whether the pod's full diagnosis still says this, and is recent enough."""
        entry = self._entries.get(key)
        return (
            entry is not None
            and entry.complete
            and entry.uid == uid
            and entry.message == message
            and now - entry.at < within
        )

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def get(self, key: str) -> tuple[str, bytes] | None:
        """(pod UID, JSON) of the pod's last diagnosis."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        return entry.uid, zlib.decompress(entry.blob)

    def drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.bytes -= len(entry.blob)


class Diagnoser:
    """The ``CycleObserver`` that fills a ``DiagnosisStore``.

    Diagnoses may take at most ``budget`` of the scheduling loop's time (a
    token bucket of ``burst`` seconds). Past it, a pod that has a diagnosis
    keeps it, and one that has none gets a summary (``summarize_cycle``: the
    cycle's message, no report per node), said so in its warnings; a summary
    is replaced at the pod's next attempt within the budget. Any report per
    node would cost time in proportion to the nodes, which is what the budget
    bounds: a pod that fits nowhere in a large cluster is where a diagnosis
    costs most.
    """

    def __init__(
        self,
        store: DiagnosisStore,
        *,
        min_interval: float = DEFAULT_MIN_INTERVAL,
        budget: float = DEFAULT_BUDGET,
        burst: float = DEFAULT_BURST,
        clock: Callable[[], float] = time.time,  # replaced in tests
        timer: Callable[[], float] = time.perf_counter,  # replaced in tests
    ) -> None:
        self.store = store
        self.min_interval = min_interval
        self.budget = budget
        self.burst = burst
        self.clock = clock
        self.timer = timer
        self._tokens = burst
        self._refilled = timer()

    def _within_budget(self) -> bool:
        now = self.timer()
        self._tokens = min(self.burst, self._tokens + (now - self._refilled) * self.budget)
        self._refilled = now
        return self._tokens > 0

    def unschedulable(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        fit: FitError,
        result: PostFilterResult | None,
    ) -> None:
        now = self.clock()
        message = str(fit)
        if self.store.fresh(pod.key, pod.uid, message, now=now, within=self.min_interval):
            return
        if not self._within_budget():
            if pod.key in self.store:
                return  # over budget: the last diagnosis stands
            summary = summarize_cycle(fwk, pod, fit=fit, message=message, result=result)
            summary.warnings.append(OVER_BUDGET)
            self._put(pod, summary, now, complete=False)
            return
        began = self.timer()
        explanation = explain_cycle(
            fwk,
            state,
            pod,
            fwk.snapshot,
            node=None,
            fit=fit,
            result=result,
            exhaustive=True,
        )
        self._put(pod, explanation, now, complete=True)
        self._tokens -= self.timer() - began

    def _put(self, pod: PodInfo, explanation: Explanation, now: float, *, complete: bool) -> None:
        explanation.source = "live"
        explanation.observed_at = now
        body = orjson.dumps(explanation.to_json())
        self.store.put(pod.key, pod.uid, explanation.message, body, at=now, complete=complete)

    def bound(self, fwk: Framework, state: CycleState, pod: PodInfo, node: NodeName) -> None:
        self.store.drop(pod.key)
