"""PodTopologySpread's Filter state (upstream ``filtering.go``): matching pods
per topology domain, the global minimum, and the skew check."""

from __future__ import annotations

from dataclasses import dataclass

from py_scheduler.plugins.podtopologyspread.common import NO_DOMAIN_MINIMUM, Constraint


@dataclass(slots=True)
class FilterState:
    constraints: tuple[Constraint, ...]
    # Per constraint: topology value -> matching pods, for every eligible domain.
    counts: list[dict[str, int]]
    # Per constraint: matching-pod count -> how many domains hold it. Keeps the
    # global minimum exact under the ±1 updates of the PreFilter extensions.
    domains_at: list[dict[int, int]]
    minimum: list[int]

    @classmethod
    def build(
        cls, constraints: tuple[Constraint, ...], counts: list[dict[str, int]]
    ) -> FilterState:
        domains_at: list[dict[int, int]] = []
        minimum: list[int] = []
        for by_value in counts:
            histogram: dict[int, int] = {}
            for n in by_value.values():
                histogram[n] = histogram.get(n, 0) + 1
            domains_at.append(histogram)
            minimum.append(min(histogram, default=NO_DOMAIN_MINIMUM))
        return cls(constraints, counts, domains_at, minimum)

    def clone(self) -> FilterState:
        return FilterState(
            self.constraints,
            [dict(c) for c in self.counts],
            [dict(h) for h in self.domains_at],
            list(self.minimum),
        )

    def global_minimum(self, i: int) -> int:
        # Fewer eligible domains than minDomains: the missing ones count as empty.
        if len(self.counts[i]) < self.constraints[i].min_domains:
            return 0
        return self.minimum[i]

    def update(self, i: int, value: str, delta: int) -> None:
        by_value, histogram = self.counts[i], self.domains_at[i]
        old = by_value.get(value)
        new = (old or 0) + delta
        by_value[value] = new
        if old is not None:
            left = histogram[old] - 1
            if left:
                histogram[old] = left
            else:
                del histogram[old]
        histogram[new] = histogram.get(new, 0) + 1
        if new < self.minimum[i]:
            self.minimum[i] = new
        elif old == self.minimum[i] and old not in histogram:
            self.minimum[i] = min(histogram)
