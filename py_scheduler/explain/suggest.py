"""The smallest changes that would let a pending pod be scheduled.

Candidates come from the explanation: nodes that one Filter plugin alone
keeps out say which single change could open them (a request, a toleration,
a term of node affinity, a spread constraint, a pod (anti-)affinity term);
a preemption blocked by PodDisruptionBudgets says which budget and by how
much; and two cluster changes are always tried: free one node by moving
named pods elsewhere, and one more node shaped like an existing one.

Nothing is claimed on reasoning alone. Each candidate is applied to a copy
of the snapshot and ``simulate`` runs again (:func:`.offline.place`, the same
scheduling code); ``verified`` is true only when the pod was placed (and,
for moved pods, they were too). Candidates are ranked by ``cost``: an edit
of the pod's spec (lowest), a budget, moving pods, a new node (highest);
within a kind by how much changes (docs/explain.md gives the scale).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from py_scheduler.config import SchedulerConfig
from py_scheduler.explain.offline import place
from py_scheduler.explain.report import Explanation, NodeReport, Suggestion, quantity
from py_scheduler.model import HOSTNAME_LABEL, Node, NodeName, PodInfo, decode_pod
from py_scheduler.model.quantity import parse_quantity
from py_scheduler.model.resources import CPU, MEMORY, PODS
from py_scheduler.model.server import OFFLINE, ServerInfo
from py_scheduler.model.taints import NO_EXECUTE, NO_SCHEDULE, Taint, tolerated
from py_scheduler.simulation.snapshot import Snapshot

Raw = dict[str, Any]

# Cost tiers (docs/explain.md): the integer part orders kinds, the fraction
# orders within a kind.
COST_POD_SPEC: Final = 1.0
COST_POD_TERM: Final = 2.0
COST_BUDGET: Final = 3.0
COST_MOVE: Final = 4.0
COST_NODE: Final = 5.0

MAX_VERIFIED: Final = 8  # candidates re-run, cheapest first
MAX_PER_KIND: Final = 3

FIT: Final = "NodeResourcesFit"
TAINTS: Final = "TaintToleration"
NODE_AFFINITY: Final = "NodeAffinity"
SPREAD: Final = "PodTopologySpread"
POD_AFFINITY: Final = "InterPodAffinity"
_HARD: Final = frozenset({NO_SCHEDULE, NO_EXECUTE})
# Labels that name one node: a node "shaped like" another does not copy them.
_OWN_LABELS: Final = frozenset({HOSTNAME_LABEL})
_PRIORITY_CEILING: Final = 1_000_000_000  # above every user priority class


# Applies a change to a snapshot; returns the changed copy and the other
# pods it leaves pending (they must be placed too).
Apply = Callable[[Snapshot], Awaitable[tuple[Snapshot, list[str]]]]


@dataclass
class Candidate:
    """A change to try: how to apply it to a snapshot, and which other pods
    it makes pending (they must be placed too)."""

    kind: str
    description: str
    change: dict[str, Any]
    cost: float
    apply: Apply
    # Alternatives for one thing (one spread constraint, say): once one of
    # them is verified, the costlier ones are not tried.
    group: str = ""

    def suggestion(self) -> Suggestion:
        return Suggestion(self.kind, self.description, self.change, cost=round(self.cost, 4))


@dataclass
class Context:
    snap: Snapshot
    cfg: SchedulerConfig
    ex: Explanation
    key: str
    pod: PodInfo  # as the cycle saw it
    raw: Mapping[str, Any]
    seed: int
    nodes: dict[str, Node] = field(default_factory=dict)
    server: ServerInfo = OFFLINE

    def only(self, plugin: str) -> list[NodeReport]:
        """Rejected nodes that ``plugin`` alone keeps out."""
        return [
            n
            for n in self.ex.rejected()
            if n.filters and all(v.plugin == plugin for v in n.filters)
        ]


async def suggest(
    snap: Snapshot,
    cfg: SchedulerConfig,
    ex: Explanation,
    key: str,
    *,
    seed: int = 0,
    max_verified: int = MAX_VERIFIED,
    server: ServerInfo = OFFLINE,
) -> list[Suggestion]:
    """Verified changes first, cheapest first; then what was tried in vain."""
    tried = await tried_changes(
        snap, cfg, ex, key, seed=seed, max_verified=max_verified, server=server
    )
    return [suggestion for suggestion, _ in tried]


async def tried_changes(
    snap: Snapshot,
    cfg: SchedulerConfig,
    ex: Explanation,
    key: str,
    *,
    seed: int = 0,
    max_verified: int = MAX_VERIFIED,
    server: ServerInfo = OFFLINE,
) -> list[tuple[Suggestion, Snapshot]]:
    """Each suggestion with the changed snapshot it was verified on."""
    if ex.node is not None or ex.nominated_node is not None:
        return []  # it fits, or preemption is already making room
    raw = snap.raw_pods.get(key)
    pod = next((p for p in snap.pods if p.key == key), None)
    if raw is None or pod is None:
        return []
    if pod.scheduler_name not in cfg.scheduler_names:
        # Explained as this configuration's profile would decide: verified so too.
        pod = replace(pod, scheduler_name=ex.profile)
        snap = replace(snap, pods=[pod if p.key == key else p for p in snap.pods])
    ctx = Context(snap, cfg, ex, key, pod, raw, seed, {n.name: n for n in snap.nodes}, server)
    candidates: list[Candidate] = []
    for generate in (
        _lower_request,
        _tolerate,
        _relax_node_affinity,
        _relax_spread,
        _relax_pod_affinity,
        _budget,
        _free_node,
        _add_node,
    ):
        candidates.extend(generate(ctx))
    candidates.sort(key=lambda c: c.cost)
    out: list[tuple[Suggestion, Snapshot]] = []
    settled: set[str] = set()
    tried = 0
    for candidate in candidates:
        if tried >= max_verified:
            break
        if candidate.group and candidate.group in settled:
            continue
        tried += 1
        changed, moved = await candidate.apply(snap)
        if changed is snap:
            continue  # nothing to change after all (e.g. no pods can be moved)
        suggestion = candidate.suggestion()
        placed = await place(changed, cfg, [key, *moved], seed=seed, server=server)
        mine = placed.get(key)
        suggestion.node = mine.node if mine is not None else None
        suggestion.verified = suggestion.node is not None and all(
            m in placed and placed[m].node is not None for m in moved
        )
        out.append((suggestion, changed))
        if suggestion.verified and candidate.group:
            settled.add(candidate.group)
    return sorted(out, key=lambda pair: (not pair[0].verified, pair[0].cost))


# -- applying a change to the pod ---------------------------------------------------------


def _with_pod(ctx: Context, raw: Raw) -> Snapshot:
    """The snapshot with the pod decoded from ``raw`` (as the cycle saw it)."""
    pod = decode_pod(raw)
    pod = replace(pod, scheduler_name=ctx.pod.scheduler_name, node_name="", phase=ctx.pod.phase)
    pods = [pod if p.key == ctx.key else p for p in ctx.snap.pods]
    return replace(ctx.snap, pods=pods, raw_pods={**ctx.snap.raw_pods, ctx.key: raw})


def _edit(
    ctx: Context, edit: Callable[[Raw], None]
) -> Callable[[Snapshot], Awaitable[tuple[Snapshot, list[str]]]]:
    async def apply(snap: Snapshot) -> tuple[Snapshot, list[str]]:
        del snap
        raw = copy.deepcopy(dict(ctx.raw))
        edit(raw)
        return _with_pod(ctx, raw), []

    return apply


def _spec(raw: Raw) -> Raw:
    spec: Raw = raw.setdefault("spec", {})
    return spec


# -- requests -------------------------------------------------------------------------------


def _units(resource: str, text: str) -> int:
    amount = parse_quantity(text)
    return math.ceil(amount * 1000) if resource == CPU else math.ceil(amount)


def _set_request(raw: Raw, resource: str, target: int) -> None:
    """Bring the pod's effective ``resource`` request down to ``target``
    (millicores for cpu), taking from the largest containers first."""
    spec = _spec(raw)
    to_units: Callable[[object], int] = lambda v: _units(resource, str(v))  # noqa: E731
    overhead = to_units((spec.get("overhead") or {}).get(resource, 0))
    pod_level = (spec.get("resources") or {}).get("requests") or {}
    if resource in pod_level:
        pod_level[resource] = quantity(resource, max(target - overhead, 0))
        return
    containers = [c for c in spec.get("containers") or () if isinstance(c, dict)]
    amounts = [
        to_units(((c.get("resources") or {}).get("requests") or {}).get(resource, 0))
        for c in containers
    ]
    excess = sum(amounts) + overhead - target
    for i in sorted(range(len(containers)), key=lambda i: -amounts[i]):
        if excess <= 0:
            break
        cut = min(amounts[i], excess)
        requests = containers[i].setdefault("resources", {}).setdefault("requests", {})
        requests[resource] = quantity(resource, amounts[i] - cut)
        excess -= cut
    for init in spec.get("initContainers") or ():
        requests = (init.get("resources") or {}).get("requests") or {}
        if resource in requests and to_units(requests[resource]) + overhead > target:
            requests[resource] = quantity(resource, max(target - overhead, 0))


def _lower_request(ctx: Context) -> list[Candidate]:
    best: tuple[float, str, dict[str, tuple[int, int]]] | None = None
    for node in ctx.only(FIT):
        if not node.shortfall or PODS in node.shortfall:
            continue
        targets: dict[str, tuple[int, int]] = {}
        worst = 0.0
        for resource, short in node.shortfall.items():
            want = ctx.pod.requests.get(resource)
            new = want - _units(resource, short)
            if new <= 0:
                break
            targets[resource] = (want, new)
            worst = max(worst, (want - new) / want)
        else:
            if best is None or (worst, node.name) < (best[0], best[1]):
                best = (worst, node.name, targets)
    if best is None:
        return []
    worst, name, targets = best
    parts = [
        f"{resource} request from {quantity(resource, old)} to {quantity(resource, new)}"
        for resource, (old, new) in targets.items()
    ]

    def edit(raw: Raw) -> None:
        for resource, (_, new) in targets.items():
            _set_request(raw, resource, new)

    return [
        Candidate(
            kind="lower-request",
            description=f"lower the pod's {' and '.join(parts)} (then it fits {name})",
            change={
                "requests": {
                    r: {"from": quantity(r, old), "to": quantity(r, new)}
                    for r, (old, new) in targets.items()
                },
                "fits": name,
            },
            cost=COST_POD_SPEC + worst,
            apply=_edit(ctx, edit),
        )
    ]


# -- tolerations ------------------------------------------------------------------------


def _untolerated(ctx: Context, name: str) -> list[Taint]:
    node = ctx.nodes.get(name)
    if node is None:
        return []
    return [t for t in node.taints if t.effect in _HARD and not tolerated(t, ctx.pod.tolerations)]


def _tolerate(ctx: Context) -> list[Candidate]:
    opened: dict[Taint, list[str]] = {}
    for node in ctx.only(TAINTS):
        taints = _untolerated(ctx, node.name)
        if len(taints) == 1:
            opened.setdefault(taints[0], []).append(node.name)
    out = []
    ranked = sorted(opened.items(), key=lambda kv: (-len(kv[1]), kv[0].key))
    for taint, names in ranked[:MAX_PER_KIND]:
        toleration: Raw = {"key": taint.key, "effect": taint.effect}
        if taint.value:
            toleration |= {"operator": "Equal", "value": taint.value}
        else:
            toleration["operator"] = "Exists"
        shown = (
            f"{taint.key}={taint.value}:{taint.effect}"
            if taint.value
            else (f"{taint.key}:{taint.effect}")
        )

        def edit(raw: Raw, toleration: Raw = toleration) -> None:
            _spec(raw).setdefault("tolerations", []).append(dict(toleration))

        out.append(
            Candidate(
                kind="add-toleration",
                description=f"tolerate the taint {shown} ({len(names)} node(s) have only it "
                f"in the way: {', '.join(sorted(names)[:3])})",
                change={"tolerations": {"add": toleration}, "nodes": len(names)},
                cost=COST_POD_SPEC + 0.5 + 0.1 / len(names),
                apply=_edit(ctx, edit),
            )
        )
    return out


# -- node affinity ----------------------------------------------------------------------


def _relax_node_affinity(ctx: Context) -> list[Candidate]:
    if not ctx.only(NODE_AFFINITY):
        return []
    spec = ctx.raw.get("spec") or {}
    out: list[Candidate] = []
    for key in sorted(spec.get("nodeSelector") or {}):
        value = spec["nodeSelector"][key]

        def drop(raw: Raw, key: str = key) -> None:
            _spec(raw)["nodeSelector"].pop(key, None)

        out.append(
            Candidate(
                kind="relax-node-affinity",
                description=f"drop the nodeSelector {key}={value}",
                change={"nodeSelector": {"remove": {key: value}}},
                cost=COST_POD_TERM,
                apply=_edit(ctx, drop),
            )
        )
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for t, term in enumerate(required.get("nodeSelectorTerms") or ()):
        for field_name in ("matchExpressions", "matchFields"):
            for e, expr in enumerate(term.get(field_name) or ()):
                values = ",".join(expr.get("values") or ())
                shown = f"{expr.get('key')} {expr.get('operator')} ({values})"

                def drop_expr(raw: Raw, t: int = t, e: int = e, f: str = field_name) -> None:
                    terms = _spec(raw)["affinity"]["nodeAffinity"][
                        "requiredDuringSchedulingIgnoredDuringExecution"
                    ]["nodeSelectorTerms"]
                    del terms[t][f][e]
                    if not any(terms[t].get(k) for k in ("matchExpressions", "matchFields")):
                        del terms[t]
                    if not terms:
                        del _spec(raw)["affinity"]["nodeAffinity"][
                            "requiredDuringSchedulingIgnoredDuringExecution"
                        ]

                out.append(
                    Candidate(
                        kind="relax-node-affinity",
                        description=f"drop the requirement {shown} from required node "
                        f"affinity term {t + 1}",
                        change={"nodeAffinity": {"term": t, field_name: e, "remove": dict(expr)}},
                        cost=COST_POD_TERM + 0.01 * (t + e),
                        apply=_edit(ctx, drop_expr),
                    )
                )
    return out[:MAX_PER_KIND]


# -- topology spread --------------------------------------------------------------------


def _relax_spread(ctx: Context) -> list[Candidate]:
    if not ctx.only(SPREAD):
        return []
    out: list[Candidate] = []
    constraints = (ctx.raw.get("spec") or {}).get("topologySpreadConstraints") or ()
    for i, constraint in enumerate(constraints):
        if constraint.get("whenUnsatisfiable") != "DoNotSchedule":
            continue
        skew = int(constraint.get("maxSkew") or 1)
        key = constraint.get("topologyKey")
        for more in (1, 2):

            def raise_skew(raw: Raw, i: int = i, to: int = skew + more) -> None:
                _spec(raw)["topologySpreadConstraints"][i]["maxSkew"] = to

            out.append(
                Candidate(
                    kind="relax-spread",
                    description=f"raise maxSkew of the spread constraint on {key} "
                    f"from {skew} to {skew + more}",
                    change={"topologySpreadConstraints": {"index": i, "maxSkew": skew + more}},
                    cost=COST_POD_TERM + 0.1 * more,
                    apply=_edit(ctx, raise_skew),
                    group=f"spread-{i}",
                )
            )

        def anyway(raw: Raw, i: int = i) -> None:
            _spec(raw)["topologySpreadConstraints"][i]["whenUnsatisfiable"] = "ScheduleAnyway"

        out.append(
            Candidate(
                kind="relax-spread",
                description=f"make the spread constraint on {key} ScheduleAnyway",
                change={
                    "topologySpreadConstraints": {
                        "index": i,
                        "whenUnsatisfiable": "ScheduleAnyway",
                    }
                },
                cost=COST_POD_TERM + 0.5,
                apply=_edit(ctx, anyway),
                group=f"spread-{i}",
            )
        )
    return out


# -- pod (anti-)affinity ----------------------------------------------------------------


def _relax_pod_affinity(ctx: Context) -> list[Candidate]:
    if not ctx.only(POD_AFFINITY):
        return []
    out: list[Candidate] = []
    affinity = (ctx.raw.get("spec") or {}).get("affinity") or {}
    for kind, section, extra in (
        ("relax-anti-affinity", "podAntiAffinity", 0.0),
        ("relax-affinity", "podAffinity", 0.2),
    ):
        required = (affinity.get(section) or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        ) or ()
        for i, term in enumerate(required):
            selector = term.get("labelSelector")

            def soften(raw: Raw, section: str = section, i: int = i) -> None:
                block = _spec(raw)["affinity"][section]
                moved = block["requiredDuringSchedulingIgnoredDuringExecution"].pop(i)
                block.setdefault("preferredDuringSchedulingIgnoredDuringExecution", []).append(
                    {"weight": 100, "podAffinityTerm": moved}
                )

            out.append(
                Candidate(
                    kind=kind,
                    description=f"make required {section} term {i + 1} "
                    f"(topologyKey {term.get('topologyKey')}, selector {selector}) preferred",
                    change={section: {"term": i, "to": "preferred", "weight": 100}},
                    cost=COST_POD_TERM + extra + 0.01 * i,
                    apply=_edit(ctx, soften),
                )
            )
    return out


# -- PodDisruptionBudgets ----------------------------------------------------------------


def _budget(ctx: Context) -> list[Candidate]:
    p = ctx.ex.preemption
    if p is None or p.outcome != "blocked-by-pdb":
        return []
    blocked = sorted(
        (c for c in p.candidates if c.blocking),
        key=lambda c: (sum(b.short for b in c.blocking), len(c.victims), c.node),
    )
    if not blocked:
        return []
    best = blocked[0]
    more = {b.name: b.short for b in best.blocking}

    async def apply(snap: Snapshot) -> tuple[Snapshot, list[str]]:
        budgets = [
            replace(b, disruptions_allowed=b.disruptions_allowed + more[f"{b.namespace}/{b.name}"])
            if f"{b.namespace}/{b.name}" in more
            else b
            for b in snap.budgets
        ]
        return replace(snap, budgets=budgets), []

    words = "; ".join(
        f"PDB {b.name} allows {b.disruptions_allowed} disruption(s), evicting "
        f"{', '.join(best.victims)} needs {b.victims}: {b.short} more (raise maxUnavailable "
        f"or lower minAvailable by {b.short})"
        for b in best.blocking
    )
    return [
        Candidate(
            kind="pdb",
            description=f"preemption on {best.node} is blocked: {words}",
            change={
                "budgets": {b.name: {"short": b.short} for b in best.blocking},
                "node": best.node,
                "victims": list(best.victims),
            },
            cost=COST_BUDGET + 0.1 * sum(more.values()),
            apply=apply,
        )
    ]


# -- moving pods off one node ----------------------------------------------------------------


def _free_node(ctx: Context) -> list[Candidate]:
    movable = [
        n for n in ctx.ex.rejected() if n.status is not None and n.status.code == "Unschedulable"
    ]
    if not movable:
        return []

    async def apply(snap: Snapshot) -> tuple[Snapshot, list[str]]:
        # Which node and pods: preemption's own choice, for a pod above every priority.
        boosted = replace(
            ctx.pod, priority=_PRIORITY_CEILING, preemption_policy="PreemptLowerPriority"
        )
        probe = replace(snap, pods=[boosted if p.key == ctx.key else p for p in snap.pods])
        result = (await place(probe, ctx.cfg, [ctx.key], seed=ctx.seed, server=ctx.server)).get(
            ctx.key
        )
        if result is None or not result.victims or not result.nominated_node:
            return snap, []
        node = result.nominated_node
        victims = set(result.victims)
        if any(_pinned(p) for p in snap.pods if p.key in victims):
            return snap, []  # a DaemonSet's or static pod would come back to the same node
        # The pod holds the freed node; the moved pods (recreated by their
        # controllers) are scheduled again, and go elsewhere.
        holder = replace(ctx.pod, node_name=node, phase="Running")
        pods = [
            holder
            if p.key == ctx.key
            else replace(p, node_name="", phase="Pending", nominated_node="")
            if p.key in victims
            else p
            for p in snap.pods
        ]
        placed = await place(
            replace(snap, pods=pods), ctx.cfg, sorted(victims), seed=ctx.seed, server=ctx.server
        )
        destinations = {k: r.node for k, r in placed.items()}
        if len(destinations) != len(victims) or any(d is None for d in destinations.values()):
            return snap, []
        # The change itself: those pods already where they went; the pod pending.
        settled = [
            replace(p, node_name=destinations[p.key] or "", phase="Running")
            if p.key in victims
            else p
            for p in snap.pods
        ]
        _describe_move(candidate, node, destinations)
        return replace(snap, pods=settled), []

    candidate = Candidate(
        kind="free-node",
        description="free one node by moving pods off it",
        change={},
        cost=COST_MOVE,
        apply=apply,
    )
    return [candidate]


def _pinned(pod: PodInfo) -> bool:
    return any(o.controller and o.kind in ("DaemonSet", "Node") for o in pod.owners)


def _describe_move(candidate: Candidate, node: str, destinations: Mapping[str, str | None]) -> None:
    moves = ", ".join(f"{k} to {d}" for k, d in sorted(destinations.items()))
    candidate.description = f"free {node} by moving {moves}"
    candidate.change = {"node": node, "move": dict(destinations)}
    candidate.cost = COST_MOVE + 0.1 * len(destinations)


# -- one more node ------------------------------------------------------------------------


def _shape(node: Node) -> tuple[object, ...]:
    alloc = node.allocatable
    labels = tuple(sorted((k, v) for k, v in node.labels.items() if k not in _OWN_LABELS))
    return (
        alloc.milli_cpu,
        alloc.memory,
        alloc.ephemeral_storage,
        tuple(sorted(alloc.scalars.items())),
        node.allowed_pods,
        labels,
        node.taints,
        node.unschedulable,
    )


def _fits_empty(pod: PodInfo, node: Node) -> bool:
    want, alloc = pod.requests, node.allocatable
    return all(want.get(r) <= alloc.get(r) for r in want.names()) and node.allowed_pods >= 1


# Plugins an empty node of the same shape could satisfy: what they reject
# depends on the pods already there. The others judge the node itself.
_CROWDING: Final = frozenset(
    {FIT, "NodePorts", POD_AFFINITY, SPREAD, "NodeVolumeLimits", "VolumeRestrictions"}
)


def _add_node(ctx: Context) -> list[Candidate]:
    crowded = {n.name for n in ctx.ex.rejected() if all(v.plugin in _CROWDING for v in n.filters)}
    shapes: dict[tuple[object, ...], Node] = {}
    for node in sorted(ctx.snap.nodes, key=lambda n: n.name):
        if node.name in crowded and _fits_empty(ctx.pod, node):
            shapes.setdefault(_shape(node), node)
    ranked = sorted(
        shapes.values(), key=lambda n: (n.allocatable.milli_cpu, n.allocatable.memory, n.name)
    )
    taken = {str(n.name) for n in ctx.snap.nodes}
    out: list[Candidate] = []
    for rank, like in enumerate(ranked[:MAX_PER_KIND]):
        name = _new_name(like.name, taken)
        labels = (
            {**like.labels, HOSTNAME_LABEL: name}
            if HOSTNAME_LABEL in like.labels
            else dict(like.labels)
        )
        new = replace(like, name=NodeName(name), labels=labels, resource_version="")

        async def apply(snap: Snapshot, new: Node = new) -> tuple[Snapshot, list[str]]:
            return replace(snap, nodes=[*snap.nodes, new]), []

        out.append(
            Candidate(
                kind="add-node",
                description=f"add one more node shaped like {like.name} ({_describe(like)})",
                change={"node": {"like": like.name, **_shape_json(like)}},
                cost=COST_NODE + 0.1 * rank,
                apply=apply,
                group="add-node",
            )
        )
    return out


def _new_name(base: str, taken: set[str]) -> str:
    i = 1
    while f"{base}-new-{i}" in taken:
        i += 1
    return f"{base}-new-{i}"


def _shape_json(node: Node) -> dict[str, Any]:
    alloc = node.allocatable
    allocatable = {CPU: quantity(CPU, alloc.milli_cpu), MEMORY: quantity(MEMORY, alloc.memory)}
    if alloc.ephemeral_storage:
        allocatable["ephemeral-storage"] = quantity("ephemeral-storage", alloc.ephemeral_storage)
    allocatable |= {name: str(amount) for name, amount in alloc.scalars.items()}
    allocatable[PODS] = str(node.allowed_pods)
    return {
        "allocatable": allocatable,
        "labels": {k: v for k, v in node.labels.items() if k not in _OWN_LABELS},
        "taints": [{"key": t.key, "value": t.value, "effect": t.effect} for t in node.taints],
    }


def _describe(node: Node) -> str:
    shape = _shape_json(node)
    alloc = ", ".join(f"{v} {k}" for k, v in shape["allocatable"].items())
    labels = ", ".join(f"{k}={v}" for k, v in sorted(shape["labels"].items())) or "none"
    taints = ", ".join(f"{t['key']}:{t['effect']}" for t in shape["taints"]) or "none"
    return f"{alloc}; labels {labels}; taints {taints}"
