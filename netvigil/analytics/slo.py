"""Service-level objectives and multi-window, multi-burn-rate alerts (pure, event time).

An SLO says what share of events must be good over a window (e.g. 99.9 % of checks succeed
over 30 days); the error budget is the rest. The burn rate is the observed error rate divided
by the budget: 1 spends the budget exactly over the SLO window. Alerts follow the SRE
workbook's multi-window rule: an alert fires when both a long and a short window burn faster
than the rule's factor (the long window makes it significant, the short one makes it stop
soon after recovery). Counts live in fixed rings of time buckets, so memory per SLO is
constant whatever the traffic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["BURN_RULES", "SLO", "BurnAlert", "BurnRateTracker"]


@dataclass(frozen=True)
class SLO:
    service: str
    objective: float
    """Share of good events required, e.g. 0.999."""
    window_s: float = 30 * 86400
    kind: Literal["success", "latency"] = "success"
    latency_ms: float | None = None
    """For a latency SLO: an event is good when faster than this."""

    @property
    def budget(self) -> float:
        return 1.0 - self.objective


#: (severity, long window s, short window s, burn-rate factor) — the SRE workbook's defaults
BURN_RULES: list[tuple[str, float, float, float]] = [
    ("page", 3600, 300, 14.4),
    ("page", 6 * 3600, 1800, 6.0),
    ("ticket", 3 * 86400, 6 * 3600, 1.0),
]


@dataclass(frozen=True)
class BurnAlert:
    severity: str
    long_window_s: float
    short_window_s: float
    factor: float
    long_burn: float
    short_burn: float


@dataclass
class _Ring:
    bucket_s: float
    n: int
    good: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    index: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.good = [0.0] * self.n
        self.total = [0.0] * self.n
        self.index = [-1] * self.n

    def add(self, ts: float, good: float, total: float) -> None:
        b = int(ts // self.bucket_s)
        slot = b % self.n
        if self.index[slot] != b:
            self.index[slot], self.good[slot], self.total[slot] = b, 0.0, 0.0
        self.good[slot] += good
        self.total[slot] += total

    def sums(self, ts: float, window_s: float) -> tuple[float, float]:
        last = int(ts // self.bucket_s)
        first = last - int(window_s // self.bucket_s) + 1
        g = t = 0.0
        for slot in range(self.n):
            if first <= self.index[slot] <= last:
                g += self.good[slot]
                t += self.total[slot]
        return g, t


@dataclass
class BurnRateTracker:
    """Good/total counts of one SLO over time, and the burn-rate alerts they imply."""

    slo: SLO
    fine: _Ring = field(default_factory=lambda: _Ring(60.0, 6 * 60 + 1))
    coarse: _Ring = field(default_factory=lambda: _Ring(3600.0, 31 * 24 + 1))

    def observe(self, ts: float, good: float, total: float = 1.0) -> None:
        self.fine.add(ts, good, total)
        self.coarse.add(ts, good, total)

    def observe_value(self, ts: float, value: float) -> None:
        """One probe result: success (1/0) for a success SLO, milliseconds for latency."""
        if self.slo.kind == "success":
            self.observe(ts, 1.0 if value >= 0.5 else 0.0)
        else:
            limit = self.slo.latency_ms if self.slo.latency_ms is not None else float("inf")
            self.observe(ts, 1.0 if value <= limit else 0.0)

    def error_rate(self, ts: float, window_s: float) -> float | None:
        ring = self.fine if window_s <= self.fine.bucket_s * (self.fine.n - 1) else self.coarse
        good, total = ring.sums(ts, window_s)
        return None if total <= 0 else 1.0 - good / total

    def burn(self, ts: float, window_s: float) -> float:
        rate = self.error_rate(ts, window_s)
        return 0.0 if rate is None else rate / max(self.slo.budget, 1e-12)

    def budget_remaining(self, ts: float) -> float:
        """Share of the error budget left over the SLO window (negative when overspent)."""
        return 1.0 - self.burn(ts, self.slo.window_s) * 1.0

    def alerts(self, ts: float) -> list[BurnAlert]:
        out = []
        for severity, long_s, short_s, factor in BURN_RULES:
            lb, sb = self.burn(ts, long_s), self.burn(ts, short_s)
            if lb >= factor and sb >= factor:
                out.append(BurnAlert(severity, long_s, short_s, factor, lb, sb))
        return out
