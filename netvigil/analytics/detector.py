"""Per-series online detection with alert hygiene (pure: no I/O, no clock).

Each point is scored *before* it is learned, and memory per series is constant. Which checks a
signal gets is data (:data:`SIGNAL_CHECKS`), not code branches:

- ``status``: a discrete up/down signal (1 = up); a drop to 0 is an anomaly at once.
- ``threshold``: a utilization above ``util_threshold`` (opens) / below ``util_clear`` (clears).
- ``deviation``: the calibrated, seasonal score of :class:`~netvigil.analytics.seasonal.
  SeasonalScorer` (daily/weekly profiles, spikes, level shifts, drift), abnormal when the score
  reaches ``score_open`` *and* the residual is at least ``z_threshold`` robust sigmas; it stays
  abnormal down to ``score_clear`` / half the z threshold (hysteresis). The anomaly's score is
  the calibrated score scaled by the size of the deviation (full at twice the z threshold), so
  a barely significant change weighs less as evidence than a large one.

An anomaly opens after ``min_points`` consecutive abnormal points and clears after
``clear_points`` consecutive normal ones (:class:`~netvigil.analytics.hygiene.Hysteresis`);
status changes open and clear at once. One anomaly per series at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from netvigil.analytics.hygiene import Hysteresis
from netvigil.analytics.seasonal import ScorerConfig, SeasonalScorer

__all__ = ["SIGNAL_CHECKS", "DetectorConfig", "SeriesDetector", "Transition"]

SIGNAL_CHECKS: dict[str, tuple[str, ...]] = {
    "if.oper_status": ("status",),
    "reachability": ("status",),
    "if.out_util": ("threshold",),
    "if.out_bps": ("deviation",),
    "if.in_bps": (),  # the far end's out_bps says the same
    "if.out_discards": (),
    "cpu.util": ("deviation",),
}
DEFAULT_CHECKS: tuple[str, ...] = ("deviation",)


@dataclass(frozen=True)
class DetectorConfig:
    warmup: int = 30
    z_threshold: float = 6.0
    min_points: int = 2
    clear_points: int = 3
    util_threshold: float = 0.9
    util_clear: float = 0.8
    ew_alpha: float = 0.05
    score_open: float = 0.5
    score_clear: float = 0.3

    def scorer(self) -> ScorerConfig:
        return ScorerConfig(warmup=self.warmup, level_alpha=self.ew_alpha)


@dataclass(frozen=True)
class Transition:
    """An anomaly opening or clearing on a series."""

    state: Literal["active", "cleared"]
    kind: str
    score: float
    onset_ts: float
    value: float
    expected: float | None = None
    band: tuple[float, float] | None = None
    z: float | None = None
    explain: dict[str, str] = field(default_factory=dict)


@dataclass
class _Check:
    abnormal: bool
    kind: str
    score: float
    expected: float | None = None
    band: tuple[float, float] | None = None
    z: float | None = None
    explain: dict[str, str] | None = None


@dataclass
class SeriesDetector:
    """The detector state of one series. ``observe`` returns a transition or None."""

    checks: tuple[str, ...]
    gate: Hysteresis
    scorer: SeasonalScorer | None = None
    open_kind: str | None = None
    open_check: _Check | None = None

    @classmethod
    def for_signal(cls, signal: str, cfg: DetectorConfig) -> SeriesDetector:
        checks = SIGNAL_CHECKS.get(signal, DEFAULT_CHECKS)
        status = "status" in checks
        gate = Hysteresis(
            min_points=1 if status else cfg.min_points,
            clear_points=1 if status else cfg.clear_points,
        )
        scorer = SeasonalScorer(cfg.scorer()) if "deviation" in checks else None
        return cls(checks=checks, gate=gate, scorer=scorer)

    def _check(self, ts: float, value: float, cfg: DetectorConfig) -> _Check:
        """Score the point with every check of the series (the scorer then learns it)."""
        worst = _Check(False, "", 0.0)
        for check in self.checks:
            if check == "status":
                down = value < 0.5
                c = _Check(down, "down", 1.0 if down else 0.0, expected=1.0)
            elif check == "threshold":
                limit = cfg.util_clear if self.open_kind == "threshold" else cfg.util_threshold
                high = value >= limit
                c = _Check(
                    high,
                    "threshold",
                    min(1.0, value) if high else 0.0,
                    band=(0.0, cfg.util_threshold),
                )
            elif check == "deviation":
                assert self.scorer is not None
                v = self.scorer.update(ts, value)
                held = self.open_kind == "deviation"
                s_lim = cfg.score_clear if held else cfg.score_open
                z_lim = cfg.z_threshold / 2 if held else cfg.z_threshold
                dev = v.score >= s_lim and abs(v.z) >= z_lim
                # the evidence an anomaly carries: its calibrated probability, scaled down
                # for deviations that are significant but small (a barely-there reroute)
                strength = v.score * min(1.0, abs(v.z) / (2 * cfg.z_threshold))
                c = _Check(
                    dev,
                    "deviation",
                    strength if dev else 0.0,
                    expected=v.expected,
                    band=v.band,
                    z=v.z,
                    explain={"model": v.model, "detector": v.horizon, "score": f"{v.score:.3f}"},
                )
            else:
                raise ValueError(f"unknown check {check!r}")
            if (c.abnormal and c.score >= worst.score) or (
                not worst.abnormal and c.expected is not None
            ):
                worst = c
        return worst

    def observe(self, ts: float, value: float, cfg: DetectorConfig) -> Transition | None:
        check = self._check(ts, value, cfg)
        step = self.gate.step(ts, check.abnormal)
        if step == "open":
            self.open_kind = check.kind
            return Transition(
                "active",
                check.kind,
                check.score,
                self.gate.onset_ts,
                value,
                check.expected,
                check.band,
                check.z,
                check.explain or {},
            )
        if step == "clear" and self.open_kind is not None:
            kind, self.open_kind = self.open_kind, None
            return Transition("cleared", kind, 0.0, ts, value, check.expected, check.band)
        return None

    def force(self, ts: float, up: bool, cfg: DetectorConfig) -> Transition | None:
        """A status change reported out of band (a trap, a poller timeout)."""
        return self.observe(ts, 1.0 if up else 0.0, cfg)
