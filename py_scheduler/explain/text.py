"""``explain --output text``: an ``Explanation`` for people.

Grouped so that 5000 nodes stay readable: node counts per Filter plugin and
reason (every rejection a node has, not only the one kube-scheduler counts),
the few nodes nearest to fitting, the best-scoring nodes with each Score
plugin's part, then preemption and the suggestions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Final

from py_scheduler.explain.report import Explanation, NodeReport

NEAREST: Final = 5
TOP_SCORES: Final = 5
NAMES_SHOWN: Final = 4


def _names(names: Sequence[str], limit: int = NAMES_SHOWN) -> str:
    shown = ", ".join(names[:limit])
    more = len(names) - limit
    return f"{shown}, +{more} more" if more > 0 else shown


def _nodes(count: int) -> str:
    return f"{count} node" if count == 1 else f"{count} nodes"


def render(ex: Explanation) -> str:
    lines: list[str] = []
    state = f"scheduled to {ex.node}" if ex.node else "Pending"
    if ex.bound_node:
        state = f"bound to {ex.bound_node}; now it would go to {ex.node or 'no node'}"
    lines.append(f"Pod {ex.pod} (profile {ex.profile}): {state}")
    for warning in ex.warnings:
        lines.append(f"  warning: {warning}")
    if ex.message:
        lines.append(f"  {ex.message}")
    if ex.condition is not None:
        cond = ex.condition
        lines.append(
            f"  condition: {cond['type']}={cond['status']} reason={cond['reason']}"
            + (f", nominatedNodeName={ex.nominated_node}" if ex.nominated_node else "")
        )
    lines.extend(_filters(ex))
    lines.extend(_scores(ex))
    lines.extend(_preemption(ex))
    lines.extend(_suggestions(ex))
    return "\n".join(lines) + "\n"


def _filters(ex: Explanation) -> list[str]:
    rejected = ex.rejected()
    if not ex.nodes and not ex.total_nodes:
        return []
    out = ["", f"Filter: {ex.feasible_nodes} of {_nodes(ex.total_nodes)} feasible"]
    if not rejected:
        return out
    by_reason: dict[tuple[str, str], list[str]] = {}
    for node in rejected:
        for v in node.filters:
            for reason in v.reasons or ("(no reason given)",):
                by_reason.setdefault((v.plugin or "PreFilter", reason), []).append(node.name)
    per_plugin = Counter[str]()
    for (plugin, _), names in by_reason.items():
        per_plugin[plugin] += len(names)
    for plugin, _ in per_plugin.most_common():
        reasons = sorted(
            ((r, n) for (p, r), n in by_reason.items() if p == plugin), key=lambda rn: -len(rn[1])
        )
        for reason, names in reasons:
            out.append(f"  {plugin}: {reason}: {_nodes(len(names))} ({_names(sorted(names))})")
    out.append("  nearest to fitting:")
    for node in rejected[:NEAREST]:
        out.append(f"    {node.name}: {_why(node)}")
    return out


def _why(node: NodeReport) -> str:
    parts = []
    for v in node.filters:
        parts.append(f"{v.plugin or 'PreFilter'} ({'; '.join(v.reasons) or v.code})")
    text = ", ".join(parts)
    if node.shortfall:
        short = ", ".join(f"{amount} {resource}" for resource, amount in node.shortfall.items())
        text += f"; short of {short}"
    return text


def _scores(ex: Explanation) -> list[str]:
    scored = [n for n in ex.nodes if n.feasible and n.total is not None]
    out: list[str] = []
    if scored:
        plugins = [p for p in ex.score_weights if any(p in n.scores for n in scored)]
        out += ["", f"Score: top {min(TOP_SCORES, len(scored))} of {_nodes(len(scored))}"]
        header = ["NODE", "TOTAL", *(f"{p}(x{ex.score_weights[p]})" for p in plugins)]
        rows = [header]
        for node in scored[:TOP_SCORES]:
            cells = [node.name, str(node.total)]
            for p in plugins:
                s = node.scores.get(p)
                cells.append("-" if s is None else f"{s.weighted} ({s.raw}->{s.normalized})")
            rows.append(cells)
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        for row in rows:
            out.append("  " + "  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip())
        out.append("  cells: weighted (raw->normalized)")
    winner = ex.winner
    if winner is not None:
        if winner.get("total") is None:
            out.append(f"  chosen: {winner['node']} ({winner.get('why', '')})")
        elif winner.get("runnerUp"):
            out.append(
                f"  chosen: {winner['node']} with {winner['total']}, "
                f"{winner['margin']} ahead of {winner['runnerUp']} ({winner['runnerUpTotal']})"
            )
        else:
            out.append(f"  chosen: {winner['node']} with {winner['total']}")
    if ex.bound_node:
        out.append(_bound(ex, ex.bound_node, scored))
    if ex.tie_break is not None:
        out.append(
            f"  tie-break: {_names(ex.tie_break['nodes'])} share {ex.tie_break['total']}; "
            f"{ex.tie_break['rule']}"
        )
    return out


def _bound(ex: Explanation, name: str, scored: Sequence[NodeReport]) -> str:
    """Where a bound pod stands now: the cluster may have moved since it was bound."""
    report = ex.node_report(name)
    if report is None:
        return f"  bound to {name}, which is no longer a node"
    if not report.feasible:
        return f"  bound to {name}, which would reject it now: {_why(report)}"
    if report.total is None:
        return f"  bound to {name}, the only node that fits now"
    rank = 1 + sum(1 for n in scored if (n.total or 0) > report.total)
    return f"  bound to {name}: it totals {report.total} now, rank {rank} of {len(scored)}"


def _preemption(ex: Explanation) -> list[str]:
    p = ex.preemption
    if p is None:
        return []
    out = ["", f"Preemption ({p.plugin}): {p.outcome}"]
    if p.nominated_node:
        out.append(f"  nominated {p.nominated_node}; evicting {_names(p.victims) or 'nobody'}")
    for c in p.candidates[:NEAREST]:
        line = f"  candidate {c.node}: victims {_names(list(c.victims))}"
        if c.blocking:
            line += "; blocked by " + ", ".join(
                f"PDB {b.name} (allows {b.disruptions_allowed}, needs {b.victims})"
                for b in c.blocking
            )
        out.append(line)
    if len(p.candidates) > NEAREST:
        out.append(f"  ... {len(p.candidates) - NEAREST} more candidates")
    return out


def _suggestions(ex: Explanation) -> list[str]:
    if not ex.suggestions:
        return []
    out = ["", "Suggestions (least change first):"]
    for i, s in enumerate(ex.suggestions, 1):
        mark = "verified" if s.verified else "not verified"
        where = f" -> {s.node}" if s.node else ""
        out.append(f"  {i}. [{mark}] {s.description}{where}")
    return out
