"""Congestion forecasting per interface: time to threshold, with an uncertainty (pure).

Each utilisation series feeds river's Holt linear-trend model (``time_series.HoltWinters``
without a season: a level and a per-step trend). The time to reach ``threshold`` is where the
trend line crosses it; its uncertainty comes from the spread of one-step-ahead errors (EW
variance): the crossing times of the line shifted up and down by ``band_sigmas`` of that
spread bound the estimate. A crossing is *predicted* when it lies within ``horizon_s`` and
the rise is real: the mean change per step (EW over ~100 samples) must be
``min_trend_sigmas`` standard errors above zero, so a flat noisy series, whose Holt trend
wanders either way, does not predict congestion. Samples are assumed roughly
regular; the step length is learned (EW of the time between samples).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from river import time_series

__all__ = ["ForecastConfig", "Prediction", "ThresholdForecaster"]


@dataclass(frozen=True)
class ForecastConfig:
    threshold: float = 0.9
    """Utilisation at which the interface is congested."""
    horizon_s: float = 1800.0
    """Predict crossings up to this far ahead (default 30 minutes)."""
    alpha: float = 0.3
    """Holt level smoothing."""
    beta: float = 0.05
    """Holt trend smoothing: low, so that noise does not read as a trend."""
    warmup: int = 30
    """Samples learned before predicting."""
    band_sigmas: float = 2.0
    min_trend_sigmas: float = 3.0
    """The mean rise per step must be this many standard errors above zero."""
    drift_alpha: float = 0.02
    """Memory of the rise-per-step statistics (about 100 samples)."""
    clear_margin: float = 1.5
    """A prediction clears when the crossing moves beyond horizon x this margin."""


@dataclass(frozen=True, slots=True)
class Prediction:
    predicted_ts: float
    lead_time_s: float
    uncertainty_s: float
    level: float
    trend_per_s: float


class ThresholdForecaster:
    """Online forecaster of one utilisation series (see the module doc)."""

    def __init__(self, config: ForecastConfig | None = None) -> None:
        self.config = c = config or ForecastConfig()
        self.model = time_series.HoltWinters(alpha=c.alpha, beta=c.beta)  # type: ignore[no-untyped-call]
        self.n = 0
        self.last_ts: float | None = None
        self.step_s = 0.0
        self.err_var = 0.0
        self.prev: float | None = None
        self.d_mean = 0.0
        self.d_var = 0.0

    def update(self, ts: float, value: float) -> Prediction | None:
        """Learn a sample; return the predicted crossing if one lies within the horizon."""
        c = self.config
        if self.n >= 2:
            # the one-step forecast, read off the components (cheaper than forecast())
            trend = self.model.trend
            expected = self.model.level[-1] + (trend[-1] if trend is not None else 0.0)
            e = value - expected
            self.err_var += 0.05 * (e * e - self.err_var)
        if self.last_ts is not None and ts > self.last_ts:
            dt = ts - self.last_ts
            self.step_s = dt if self.step_s == 0.0 else self.step_s + 0.05 * (dt - self.step_s)
        self.last_ts = ts
        if self.prev is not None:  # the rise per step and its spread: is the trend real?
            d = value - self.prev
            dm = d - self.d_mean
            self.d_mean += c.drift_alpha * dm
            self.d_var = (1 - c.drift_alpha) * (self.d_var + c.drift_alpha * dm * dm)
        self.prev = value
        self.model.learn_one(value)  # type: ignore[no-untyped-call]
        self.n += 1
        if self.n < c.warmup or self.step_s <= 0.0:
            return None
        return self.predict(ts)

    def predict(self, ts: float) -> Prediction | None:
        c = self.config
        level = float(self.model.level[-1])
        trend = float(self.model.trend[-1]) if self.model.trend else 0.0
        if level >= c.threshold or trend <= 0.0:
            return None
        per_s = trend / self.step_s
        sd = math.sqrt(max(self.err_var, 0.0))
        lead = (c.threshold - level) / per_s
        if lead > c.horizon_s:
            return None
        # the mean rise per step must stand out of its noise (a t statistic over the ~2/a
        # steps the EW mean covers): a flat noisy series shows Holt trends of either sign
        n_eff = 2.0 / c.drift_alpha
        if self.d_mean * math.sqrt(n_eff) < c.min_trend_sigmas * math.sqrt(self.d_var):
            return None
        early = max((c.threshold - level - c.band_sigmas * sd) / per_s, 0.0)
        late = (c.threshold - level + c.band_sigmas * sd) / per_s
        return Prediction(ts + lead, lead, (late - early) / 2, level, per_s)
