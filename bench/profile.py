"""Own time per function from a py-spy speedscope profile, as a Markdown table."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson


def own_time(speedscope: dict[str, Any]) -> tuple[Counter[str], Counter[str], float]:
    """(own weight, total weight) per frame, and the total weight of all samples."""
    frames = speedscope["shared"]["frames"]
    # Per function, not per line: py-spy's frames carry the sampled line.
    names = [f"{f['name']} ({Path(f.get('file') or '?').name})" for f in frames]
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    weight_sum = 0.0
    for profile in speedscope["profiles"]:
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            if not stack:
                continue
            weight_sum += weight
            own[names[stack[-1]]] += weight
            for name in {names[i] for i in stack}:
                total[name] += weight
    return own, total, weight_sum


def markdown(path: Path, title: str, top: int = 30) -> str:
    own, total, weight_sum = own_time(orjson.loads(path.read_bytes()))
    weight_sum = weight_sum or 1.0
    lines = [
        f"# {title}",
        "",
        f"{weight_sum:.1f} s of samples (py-spy without `--idle`: only while a thread runs).",
        "Own time is where the sample's innermost frame was; total includes callees.",
        "",
        "| # | function (file) | own % | total % |",
        "|---|---|---|---|",
    ]
    for rank, (name, weight) in enumerate(own.most_common(top), 1):
        share, cumulative = 100 * weight / weight_sum, 100 * total[name] / weight_sum
        lines.append(f"| {rank} | `{name}` | {share:.1f} | {cumulative:.1f} |")
    return "\n".join(lines) + "\n"
