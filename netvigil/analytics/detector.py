"""Per-series online detection with alert hygiene (pure: no I/O, no clock).

Each point is scored *before* it is learned, and memory per series is constant. Which checks a
signal gets is data (:data:`SIGNAL_CHECKS`), not code branches:

- ``status``: a discrete up/down signal (1 = up); a drop to 0 is an anomaly at once.
- ``threshold``: a utilization above ``util_threshold`` (opens) / below ``util_clear`` (clears).
- ``deviation``: a robust z-score against an exponentially weighted mean and variance
  (river's ``EWMean``/``EWVar``), after a warm-up.

An anomaly opens after ``min_points`` consecutive abnormal points and clears after
``clear_points`` consecutive normal ones (hysteresis); one anomaly per series at a time.
Outliers are learned clipped to the expected band, so one spike cannot inflate the variance
enough to hide the next point; a lasting level shift is still adopted within a few points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from river import stats

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


@dataclass
class _Check:
    abnormal: bool
    kind: str
    score: float
    expected: float | None = None
    band: tuple[float, float] | None = None
    z: float | None = None


@dataclass
class SeriesDetector:
    """The detector state of one series. ``observe`` returns a transition or None."""

    checks: tuple[str, ...]
    n: int = 0
    mean: stats.EWMean = field(default=None)  # type: ignore[assignment]
    var: stats.EWVar = field(default=None)  # type: ignore[assignment]
    streak: int = 0
    normal_streak: int = 0
    first_abnormal_ts: float = 0.0
    open_kind: str | None = None

    @classmethod
    def for_signal(cls, signal: str, cfg: DetectorConfig) -> SeriesDetector:
        det = cls(checks=SIGNAL_CHECKS.get(signal, DEFAULT_CHECKS))
        det.mean = stats.EWMean(fading_factor=cfg.ew_alpha)
        det.var = stats.EWVar(fading_factor=cfg.ew_alpha)
        return det

    def _score(self, value: float, cfg: DetectorConfig) -> _Check:
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
                if self.n < cfg.warmup:
                    continue
                mu = self.mean.get()
                sd = math.sqrt(max(self.var.get(), 0.0))
                floor = 1e-9 + 0.01 * abs(mu)
                z = (value - mu) / max(sd, floor)
                limit = cfg.z_threshold / 2 if self.open_kind == "deviation" else cfg.z_threshold
                dev = abs(z) >= limit
                half = cfg.z_threshold * max(sd, floor)
                c = _Check(
                    dev,
                    "deviation",
                    min(1.0, abs(z) / (2 * cfg.z_threshold)) if dev else 0.0,
                    expected=mu,
                    band=(mu - half, mu + half),
                    z=z,
                )
            else:
                raise ValueError(f"unknown check {check!r}")
            if (c.abnormal and c.score >= worst.score) or (
                not worst.abnormal and c.expected is not None
            ):
                worst = c
        return worst

    def observe(self, ts: float, value: float, cfg: DetectorConfig) -> Transition | None:
        check = self._score(value, cfg)  # score first ...
        self.n += 1  # ... then learn, an outlier clipped to the band so it cannot blow it up
        learn = value
        if check.z is not None and check.band is not None:
            learn = min(max(value, check.band[0]), check.band[1])
        self.mean.update(learn)
        self.var.update(learn)
        is_status = "status" in self.checks
        need_open = 1 if is_status else cfg.min_points
        need_clear = 1 if is_status else cfg.clear_points
        if check.abnormal:
            self.normal_streak = 0
            if self.streak == 0:
                self.first_abnormal_ts = ts
            self.streak += 1
            if self.open_kind is None and self.streak >= need_open:
                self.open_kind = check.kind
                return Transition(
                    "active",
                    check.kind,
                    check.score,
                    self.first_abnormal_ts,
                    value,
                    check.expected,
                    check.band,
                    check.z,
                )
            return None
        self.streak = 0
        if self.open_kind is not None:
            self.normal_streak += 1
            if self.normal_streak >= need_clear:
                kind, self.open_kind, self.normal_streak = self.open_kind, None, 0
                return Transition("cleared", kind, 0.0, ts, value, check.expected, check.band)
        return None

    def force(self, ts: float, up: bool, cfg: DetectorConfig) -> Transition | None:
        """A status change reported out of band (a trap, a poller timeout)."""
        return self.observe(ts, 1.0 if up else 0.0, cfg)
