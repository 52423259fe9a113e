"""The seasonal scorer for many series at once: the same arithmetic, as numpy arrays.

:class:`~netvigil.analytics.seasonal.SeasonalScorer` scores one point of one series per
call; in Python that costs ~25 us a point, whatever numpy could do. A poller's sweep, though,
brings one point for each of thousands of series at nearly the same time, so
:class:`SeasonalBatch` keeps the state of ``n`` series as arrays (one row per series, the same
floats the scalar scorer keeps) and scores a whole sweep with array operations. It is the
*same* model, step for step and in the same floating-point order, so a series scored in a
batch gets the scores it would get alone (tests compare them); strictly online as well: each
point is scored against its series' past, then learned.

Why not a compiled extension (numba, Cython): numpy is already a dependency, and with
10,000 series per sweep the per-call overhead is spread over the whole sweep.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import erfc

from netvigil.analytics.seasonal import ScorerConfig

__all__ = ["BatchVerdicts", "SeasonalBatch"]

_DAY = 86400.0
_WEEK = 7 * _DAY
_SQRT2 = math.sqrt(2.0)
_LOG_FLOOR = math.log(1e-10)
_ABS_NORMAL_VAR = 1.0 - 2.0 / math.pi

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class BatchVerdicts:
    """The verdicts of one batch, one entry per scored point (see ``Verdict``)."""

    score: F64
    expected: F64
    scale: F64
    """Robust sigma of the residual: the band is ``expected +- 4 * scale``."""
    z: F64
    model: NDArray[np.int64]
    """0 level, 1 daily, 2 weekly."""
    horizon: NDArray[np.int64]
    """0 spike, 1 shift."""


class SeasonalBatch:
    """Seasonal, calibrated anomaly scores for ``n`` series, a batch of points at a time."""

    def __init__(self, n: int, config: ScorerConfig | None = None) -> None:
        self.config = c = config or ScorerConfig()
        self.n = np.zeros(n, dtype=np.int64)
        self.t0 = np.zeros(n)
        self.level = np.zeros((n, 3))
        self.err = np.zeros((n, 3))
        self.err_n = np.zeros((n, 3), dtype=np.int64)
        self.day = np.full((n, c.day_buckets), np.nan)
        self.week = np.full((n, c.week_buckets), np.nan)
        self.avg = np.zeros((n, 2))
        self.hist_mean = np.zeros((n, 2))
        self.hist_var = np.ones((n, 2))

    def __len__(self) -> int:
        return len(self.n)

    def update(self, index: ArrayLike, ts: ArrayLike, value: ArrayLike) -> BatchVerdicts:
        """Score then learn one point for each series in ``index`` (no series twice)."""
        c = self.config
        idx = np.asarray(index, dtype=np.int64)
        t = np.broadcast_to(np.asarray(ts, dtype=float), idx.shape)
        v = np.asarray(value, dtype=float)
        if not np.all(np.isfinite(v)):
            raise ValueError("not a finite value in the batch")
        if len(np.unique(idx)) != len(idx):
            raise ValueError("a series appears twice in one batch")
        first = self.n[idx] == 0
        if first.any():
            fi = idx[first]
            self.t0[fi] = t[first]
            self.level[fi] = v[first, None]
            self.err[fi] = (1e-2 * np.abs(v[first]) + 1e-9)[:, None]
        # ---- predict
        bd = ((t % _DAY) * c.day_buckets / _DAY).astype(np.int64) % c.day_buckets
        bw = ((t % _WEEK) * c.week_buckets / _WEEK).astype(np.int64) % c.week_buckets
        elapsed = t - self.t0[idx]
        lv = self.level[idx]
        sd = self.day[idx, bd]
        sw = self.week[idx, bw]
        avail = np.empty((len(idx), 3), dtype=bool)
        avail[:, 0] = True
        avail[:, 1] = (elapsed >= _DAY) & ~np.isnan(sd)
        avail[:, 2] = (elapsed >= _WEEK) & ~np.isnan(sw)
        preds = np.stack([lv[:, 0], lv[:, 1] + sd, lv[:, 2] + sw], axis=1)
        preds = np.where(avail, preds, 0.0)
        err, err_n = self.err[idx], self.err_n[idx]
        use = avail.copy()
        use[:, 1:] &= err_n[:, 1:] >= c.season_warmup
        w = np.where(use, 1.0 / (err * err + 1e-300), 0.0)
        wp, we = w * preds, w * err
        # summed in the scalar scorer's order (0, 1, 2), skipped terms adding an exact 0.0
        wsum = (w[:, 0] + w[:, 1]) + w[:, 2]
        psum = (wp[:, 0] + wp[:, 1]) + wp[:, 2]
        esum = (we[:, 0] + we[:, 1]) + we[:, 2]
        model = np.argmax(np.where(use, w, -1.0), axis=1)
        pred = psum / wsum
        scale = 1.2533 * esum / wsum
        # ---- calibrate
        scale_c = scale + (1e-6 * np.abs(pred) + 1e-9)
        z = (v - pred) / scale_c
        surprise = np.minimum(np.abs(z), c.max_surprise)
        avg, mean, var = self.avg[idx], self.hist_mean[idx], self.hist_var[idx]
        q = np.empty((len(idx), 2))
        h = c.history_alpha
        for j, alpha in enumerate((c.short_alpha, c.long_alpha)):
            a = avg[:, j] + alpha * (surprise - avg[:, j])
            d = a - mean[:, j]
            floor = alpha / (2.0 - alpha) * _ABS_NORMAL_VAR
            sig = np.sqrt(np.where(var[:, j] > floor, var[:, j], floor))
            q[:, j] = 0.5 * erfc(-(d / sig) / _SQRT2)
            avg[:, j] = a
            mean[:, j] += h * d
            var[:, j] = (1.0 - h) * (var[:, j] + h * d * d)
        self.avg[idx], self.hist_mean[idx], self.hist_var[idx] = avg, mean, var
        horizon = (q[:, 1] > q[:, 0]).astype(np.int64)
        q_best = np.maximum(np.maximum(q[:, 0], q[:, 1]), 0.0)
        score = np.clip(np.log(1.0000000001 - q_best) / _LOG_FLOOR, 0.0, 1.0)
        score[self.n[idx] < c.warmup] = 0.0
        # ---- learn
        ea = c.error_alpha
        for k in range(3):
            ok = avail[:, k]
            if k:
                fresh = ok & (err_n[:, k] == 0)
                err[fresh, k] = err[fresh, 0]
            e = np.abs(v - preds[:, k])
            cap = 6.0 * err[:, k] + 1e-12
            upd = err[:, k] + ea * (np.where(e < cap, e, cap) - err[:, k])
            err[:, k] = np.where(ok, upd, err[:, k])
            err_n[:, k] += ok
        self.err[idx], self.err_n[idx] = err, err_n
        la, sa = c.level_alpha, c.season_alpha
        lv[:, 0] += la * (v - lv[:, 0])
        for k, profile, b, s in ((1, self.day, bd, sd), (2, self.week, bw, sw)):
            missing = np.isnan(s)
            lv[:, k] += la * (np.where(missing, v, v - s) - lv[:, k])
            r = v - lv[:, k]
            profile[idx, b] = np.where(missing, r, s + sa * (r - s))
        self.level[idx] = lv
        self.n[idx] += 1
        return BatchVerdicts(score, pred, scale, z, model, horizon)
