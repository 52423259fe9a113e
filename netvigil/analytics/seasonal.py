"""One online anomaly score per series, calibrated to [0, 1], with an explanation.

Strictly online: every point is scored against what the series learned *before* it, then
learned; the state of a series is a fixed number of floats whatever its length.

How the score is made, and why:

1. **Expected value** from three predictors learned side by side: the recent level (an
   exponentially weighted mean), a *daily* profile (``day_buckets`` per day) and a *weekly*
   profile (``week_buckets`` per week), each an additive offset on its own deseasonalised
   level, so that a level shift moves the whole profile at once. A profile only predicts
   once a whole period has been seen. The three are blended by inverse squared running error,
   so a series with no seasonality ends up using its level, and one with a weekly rhythm its
   weekly profile, with one configuration for all (no per-series choice to make).
2. **Surprise** of a point: its absolute residual in units of the blend's running error
   (a robust sigma), capped so that one wild value cannot dominate the statistics.
3. **Calibration**, in the spirit of Numenta's anomaly likelihood: the surprise is averaged
   over a short (spikes) and a longer (level shifts, drift) horizon; each average is compared
   with the long-run distribution of that same average (EW mean and variance), giving a
   Gaussian tail probability; the larger of the two is mapped to [0, 1] on a log scale, where
   0.5 means "one in 10^5 under normal behaviour". A series that is always noisy therefore
   scores low, and the same change scores alike in series of any unit or scale.

Why not river's own detectors: ``HalfSpaceTrees`` runs at ~70,000 points/s and knows no
seasonality; ``PredictiveAnomalyDetection`` with ``SNARIMAX``/``HoltWinters`` needs a fixed
season length in points and keeps a buffer per series. This class *is* a river
``AnomalyDetector`` (``score_one``/``learn_one``, ``clone``), so river's filters and tooling
work with it, while its hot path (:meth:`SeasonalScorer.update`) does both steps in one pass
with plain floats: calling river's Rust-backed ``stats`` objects costs ~230 ns per call from
Python, more than the arithmetic they do here.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from river.base import AnomalyDetector

__all__ = ["ScorerConfig", "SeasonalScorer", "Verdict"]

_DAY = 86400.0
_WEEK = 7 * _DAY
_SQRT2 = math.sqrt(2.0)
_LOG_FLOOR = math.log(1e-10)
_NAN = float("nan")
_MODELS = ("level", "daily", "weekly")
_ABS_NORMAL_VAR = 1.0 - 2.0 / math.pi


@dataclass(frozen=True)
class ScorerConfig:
    """The one configuration every series shares."""

    day_buckets: int = 96
    """Daily profile resolution (96 = 15-minute buckets)."""
    week_buckets: int = 168
    """Weekly profile resolution (168 = hourly buckets)."""
    level_alpha: float = 0.05
    """Weight of a new point in the level of each predictor."""
    season_alpha: float = 0.1
    """Weight of a new point in its profile bucket."""
    error_alpha: float = 0.003
    """Weight of a new point in each predictor's running absolute error (memory ~650 points,
    about two days at 5-minute samples): the robust sigma should describe the series' normal
    noise over more than one daily cycle, not the last few hours, or a slow excursion teaches
    the scale its own noise before it is reported. Measured on nab-dev (see README): 0.01 gave
    66.7, 0.002-0.004 gave 69.1-71.1; chosen once for every series."""
    short_alpha: float = 0.3
    """Averaging of surprise for spikes (about 3 points)."""
    long_alpha: float = 0.05
    """Averaging of surprise for level shifts and drift (about 20 points)."""
    history_alpha: float = 0.005
    """Memory of the distribution of averaged surprise (about 200 points)."""
    warmup: int = 50
    """Points learned before a score other than 0 is given."""
    season_warmup: int = 288
    """Predictions a profile must have made (and been graded on) before it is blended in."""
    max_surprise: float = 12.0
    """Cap on one point's surprise, in robust sigmas."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The score of one point and why."""

    score: float
    """Calibrated anomaly score in [0, 1]; 0.5 is a one-in-10^5 event under normal behaviour."""
    expected: float
    """What the series was expected to be at this time."""
    band: tuple[float, float]
    """Expected value plus or minus four robust sigmas."""
    z: float
    """Signed residual in robust sigmas."""
    model: str
    """The predictor that weighed most: ``level``, ``daily`` or ``weekly``."""
    horizon: str
    """Which averaging fired: ``spike`` (short) or ``shift`` (sustained: level shift, drift)."""


def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / _SQRT2)


class SeasonalScorer(AnomalyDetector):
    """Online, seasonal, calibrated anomaly scorer for one series (see the module doc)."""

    def __init__(self, config: ScorerConfig | None = None) -> None:
        self.config = config or ScorerConfig()
        c = self.config
        self.n = 0
        self.t0 = 0.0
        self.level = [0.0, 0.0, 0.0]
        self.err = [0.0, 0.0, 0.0]
        self.err_n = [0, 0, 0]
        self.day = array("d", [_NAN]) * c.day_buckets
        self.week = array("d", [_NAN]) * c.week_buckets
        self.avg = [0.0, 0.0]
        self.hist_mean = [0.0, 0.0]
        self.hist_var = [1.0, 1.0]

    # ------------------------------------------------------------------ river API

    def score_one(self, x: dict[Hashable, Any]) -> float:
        """Score ``{"ts": seconds, "value": v}`` without learning it."""
        pred, scale, _, _ = self._predict(float(x["ts"]))
        return self._calibrate(float(x["value"]), pred, scale, learn=False)[0]

    def learn_one(self, x: dict[Hashable, Any]) -> None:
        """Learn ``{"ts": seconds, "value": v}``."""
        self.update(float(x["ts"]), float(x["value"]))

    # ------------------------------------------------------------------ hot path

    def update(self, ts: float, value: float) -> Verdict:
        """Score ``value`` at ``ts`` against the past, then learn it."""
        if value != value or value in (math.inf, -math.inf):
            raise ValueError(f"not a finite value: {value!r}")
        pred, scale, preds, model = self.expect(ts, value)
        score, z, horizon = self._calibrate(value, pred, scale, learn=True)
        self.learn_point(ts, value, preds)
        half = 4.0 * scale
        return Verdict(score, pred, (pred - half, pred + half), z, model, horizon)

    def expect(self, ts: float, value: float) -> tuple[float, float, list[float | None], str]:
        """What the series is expected to be at ``ts``, before ``value`` is learned: the
        blend, its robust sigma, each predictor's own expectation and the heaviest model.
        The first point of a series (``value``) only initialises the levels."""
        if self.n == 0:
            self.t0 = ts
            self.level = [value, value, value]
            self.err = [1e-2 * abs(value) + 1e-9] * 3
        return self._predict(ts)

    def _buckets(self, ts: float) -> tuple[int, int]:
        c = self.config
        return (
            int((ts % _DAY) * c.day_buckets / _DAY) % c.day_buckets,
            int((ts % _WEEK) * c.week_buckets / _WEEK) % c.week_buckets,
        )

    def _predict(self, ts: float) -> tuple[float, float, list[float | None], str]:
        bd, bw = self._buckets(ts)
        elapsed = ts - self.t0
        lv = self.level
        sd = self.day[bd]
        sw = self.week[bw]
        preds: list[float | None] = [
            lv[0],
            lv[1] + sd if elapsed >= _DAY and sd == sd else None,
            lv[2] + sw if elapsed >= _WEEK and sw == sw else None,
        ]
        wsum = psum = esum = 0.0
        best, best_w = 0, -1.0
        err, err_n, warm = self.err, self.err_n, self.config.season_warmup
        for k in range(3):
            p = preds[k]
            if p is None or (k and err_n[k] < warm):
                continue
            e = err[k]
            w = 1.0 / (e * e + 1e-300)
            wsum += w
            psum += w * p
            esum += w * e
            if w > best_w:
                best, best_w = k, w
        # a profile is graded (err_n counts) from its first prediction, blended once warm
        scale = 1.2533 * esum / wsum  # mean absolute error -> sigma of a normal
        return psum / wsum, scale, preds, _MODELS[best]

    def _calibrate(
        self, value: float, pred: float, scale: float, *, learn: bool
    ) -> tuple[float, float, str]:
        c = self.config
        scale += 1e-6 * abs(pred) + 1e-9
        z = (value - pred) / scale
        surprise = min(abs(z), c.max_surprise)
        q_best, horizon = 0.0, "spike"
        avg, mean, var = self.avg, self.hist_mean, self.hist_var
        for j, alpha in enumerate((c.short_alpha, c.long_alpha)):
            a = avg[j] + alpha * (surprise - avg[j])
            d = a - mean[j]
            # never tighter than the spread this average has under Gaussian residuals
            # (|z| has variance 1 - 2/pi; an EW mean of weight a shrinks it by a / (2 - a))
            floor = alpha / (2.0 - alpha) * _ABS_NORMAL_VAR
            q = _phi(d / math.sqrt(var[j] if var[j] > floor else floor))
            if q > q_best:
                q_best, horizon = q, ("spike", "shift")[j]
            if learn:
                avg[j] = a
                h = c.history_alpha
                mean[j] += h * d
                var[j] = (1.0 - h) * (var[j] + h * d * d)
        if self.n < c.warmup:
            return 0.0, z, horizon
        score = math.log(1.0000000001 - q_best) / _LOG_FLOOR
        return min(max(score, 0.0), 1.0), z, horizon

    def learn_point(self, ts: float, value: float, preds: list[float | None]) -> None:
        """Learn ``value`` given what :meth:`expect` returned for it."""
        c = self.config
        err, err_n = self.err, self.err_n
        ea = c.error_alpha
        for k in range(3):
            p = preds[k]
            if p is None:
                continue
            if err_n[k] == 0 and k:
                err[k] = err[0]
            e = abs(value - p)
            cap = 6.0 * err[k] + 1e-12
            err[k] += ea * ((e if e < cap else cap) - err[k])
            err_n[k] += 1
        bd, bw = self._buckets(ts)
        la, sa = c.level_alpha, c.season_alpha
        lv = self.level
        lv[0] += la * (value - lv[0])
        for k, profile, b in ((1, self.day, bd), (2, self.week, bw)):
            s = profile[b]
            lv[k] += la * ((value - s if s == s else value) - lv[k])
            r = value - lv[k]
            profile[b] = r if s != s else s + sa * (r - s)
        self.n += 1
