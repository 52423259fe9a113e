"""ARTime, an adaptive-resonance anomaly detector, written from its description.

Algorithm: Mark Hampton's ARTime (2021; NAB scoreboard, whole corpus: 74.9 standard, the
best published), open-source edition ``markNZed/ARTimeNAB.jl`` (Julia, AGPL-3), built on a
dual-vigilance fuzzy ART (DVFA) derived from AdaptiveResonance.jl. Why hand-written: it
exists only as that Julia package, called from NAB through juliacall; this module is
NetVigil's own Python from the algorithm as described and as the reference behaves, typed,
in bounded memory, and without NAB's look-ahead (see *Online range*). No code is copied.

How it scores a stream:

1. **Downsampling.** Every ``step`` points (``step`` = probation / (window x 13)), the last
   ``step`` values become one sample: their maximum, or their minimum when it lies further
   from a running average (a spike down), or their mean when that extreme is within 10 % of
   the mean.
2. **Levels.** The sample is normalised to the range and quantised to 80 levels; a
   histogram of levels tracks an approximate running median, and a sample within 0.075 of
   it is set to the median (small wobbles vanish).
3. **Features.** The last 8 samples, min-max normalised, go through a 3-level Haar wavelet
   transform (min-max normalised again); the feature vector is those 8 coefficients plus
   the 8 levels (16 values in [0, 1]).
4. **Dual-vigilance fuzzy ART.** Each feature vector (complement coded) is matched against
   the categories: match = (|min(x, w)| / |w|)^3 x (energy match)^2, where the energy
   match compares the newest level and its complement alone. A best match at or above the
   upper vigilance ``rho_ub`` refines every such category (w <- min(x, w)); at or above the
   lower vigilance ``rho_lb`` the input becomes a new category of a known cluster; below
   it, a new cluster: the only event that can be an anomaly.
5. **Vigilance adapts.** During the probation the samples are collected and the initial
   vigilance is the mean match of the probation's later half when a fresh DVFA at 0.80
   learns them ordered by their summed cosine similarity. Afterwards, every half probation
   (and 12 samples after each anomaly), ``rho_ub`` becomes the running mean match (capped
   at 0.97) and ``rho_lb`` rises by 19 % of its gap to the window's lowest match, or falls
   by half the mean shortfall of recent matches (each capped at 0.37), not below the mean
   match of past anomalies.
6. **Score.** A new cluster after the probation that is not masked (a new cluster or a
   vigilance update in the last 12 samples masks, unless the match is well below the last
   anomaly's) scores ``0.35 * ub + 0.65 * lb + 1.5 * (1 - energy match)`` (``ub``, ``lb``:
   how far the match falls below each vigilance, relative to 1 - match), capped at 1; every
   other point scores 0. So a report is rare and sparse by construction: ARTime needs no
   rest period.

**Published constants, all kept** (nothing here was tuned on NetVigil's data): window 8,
13 windows per probation, 80 levels, median snap 0.075, initial vigilance 0.80, mask
1.5 x window, ``rho_ub`` cap 0.97, ``rho_lb`` gain 0.19, shortfall floor 0.05, cap 0.37 and
minimum 0.01, anomaly-masking ratios 0.90 / 0.70, confidence weights 0.35 / 0.65 / 1.5,
match exponents 3 and 2, spike margin 10 %, probation = NAB's (15 % of the file, at most
750 rows, made even).

**Details of the reference kept for faithfulness to the published scores:** the first
ART category is an all-ones weight that is never learned (so the first sample is not
learned either); samples before a full feature window are matched but not learned; the
running median is the reference's approximate one (one bin move per sample); the running
mean match behind ``rho_ub`` is over every sample since the start; wavelet detail
coefficients are (second - first) / sqrt(2), coarsest first (Wavelets.jl's convention and
layout: the other sign changes the scores).

**Online range** (:class:`OnlineARTime`, what ``netvigil detect`` runs). NAB hands ARTime
the min and max of the whole file and its length (which sets the probation): a look-ahead a
stream does not have. Online, the probation is 750 points (NAB's longest); their range sets
the levels; they score 0 and are then replayed into the detector (ARTime learns its
probation as a batch anyway). Later values beyond the range are clipped to it (the ART
input must lie in [0, 1]): an excursion past it is the extreme level, still a new shape.
:func:`artime_scores` runs the look-ahead variant, as NAB did (a check only).

**Bounded memory.** The reference keeps every category and every past match; here the
windows are fixed-size rings, the past anomalies' matches a sum and a count, and the
categories at most ``max_categories`` (a full store replaces its least recently matched
category). Per series: at most ``max_categories`` x 32 float64 weights (1,024 categories:
256 KiB) plus the probation buffer (750 values, then the ~100 feature vectors of the
batch, freed after it). Time per point: one array operation over the categories every
``step`` points.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from netvigil.analytics.warmstart import ReplayStart

__all__ = ["ARTime", "ARTimeConfig", "OnlineARTime", "artime_scores", "nab_probation"]

_SQRT_HALF = 1.0 / math.sqrt(2.0)


@dataclass(frozen=True)
class ARTimeConfig:
    """ARTime's published constants and NetVigil's online bounds."""

    window: int = 8
    """Downsampled samples per feature window (a power of two: Haar transform)."""
    windows_per_probation: int = 13
    """Feature windows per probation (sets the downsampling step)."""
    levels: int = 80
    """Quantisation levels of the range."""
    median_snap: float = 0.075
    """A level this close to the running median becomes the median."""
    initial_rho: float = 0.80
    """Vigilance of the DVFA that sets the initial vigilance."""
    probation: int = 750
    """Online: points whose range sets the levels (NAB's longest probation)."""
    max_categories: int = 1024
    """ART categories kept (memory bound); a full store replaces the least recently matched."""

    def __post_init__(self) -> None:
        if self.window < 2 or self.window & (self.window - 1):
            raise ValueError("window must be a power of two, at least 2")
        if self.probation < 2 * self.window or self.max_categories < 2 or self.levels < 1:
            raise ValueError("probation must be >= 2 x window, max_categories >= 2, levels >= 1")


def nab_probation(n: int) -> int:
    """NAB's probation for ARTime: 15 % of the file (750 rows from 5,000 on), made even."""
    p = math.floor(0.15 * n) if n < 5000 else 750
    return p - p % 2


def _haar(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Full Haar DWT of a length-2^k vector: [approximation, details coarsest .. finest],
    each detail (second - first) / sqrt(2)."""
    out = np.empty_like(x)
    a = x
    end = len(x)
    while len(a) > 1:
        even, odd = a[0::2], a[1::2]
        half = len(a) // 2
        out[end - half : end] = (odd - even) * _SQRT_HALF
        a = (even + odd) * _SQRT_HALF
        end -= half
    out[0] = a[0]
    return out


def _unit(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``x`` shifted to a minimum of 0 and scaled to a maximum of 1 (unless constant)."""
    y: NDArray[np.float64] = x - x.min()
    top = float(y.max())
    return y / top if top != 0 else y


def _cosine(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """The reference's similarity: cosine, or 1 - the other norm when one vector is zero."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0:
        return 1.0 - nb
    if nb == 0.0:
        return 1.0 - na
    return float(a @ b) / (na * nb)


class _DVFA:
    """Dual-vigilance fuzzy ART on complement-coded inputs, at most ``capacity`` categories."""

    def __init__(self, dim: int, capacity: int, rho_lb: float, rho_ub: float) -> None:
        self.dim = dim
        self.capacity = capacity
        self.rho_lb = rho_lb
        self.rho_ub = rho_ub
        self.weights = np.empty((min(capacity, 64), 2 * dim))
        self.used = np.zeros(self.weights.shape[0], dtype=np.int64)
        self.size = 0
        self.clock = 0

    def _add(self, x: NDArray[np.float64]) -> None:
        if self.size == self.capacity:  # replace the least recently matched (not the first)
            slot = 1 + int(np.argmin(self.used[1 : self.size]))
        else:
            if self.size == self.weights.shape[0]:
                grow = min(self.capacity, 2 * self.size)
                self.weights = np.resize(self.weights, (grow, 2 * self.dim))
                self.used = np.resize(self.used, grow)
            slot = self.size
            self.size += 1
        self.weights[slot] = x
        self.used[slot] = self.clock

    def train(self, features: NDArray[np.float64], learn: bool = True) -> tuple[bool, float, float]:
        """Match ``features`` (and learn them): (new cluster?, best match, its energy match)."""
        x = np.concatenate((features, 1.0 - features))
        self.clock += 1
        if self.size == 0:  # the reference's first category: all ones, the input not learned
            self.weights[0] = 1.0
            self.used[0] = self.clock
            self.size = 1
            return False, 0.0, 0.0
        w = self.weights[: self.size]
        em = np.minimum(x, w)
        w_norm = w.sum(axis=1)
        w_norm[w_norm == 0] = 0.001
        feature_match = em.sum(axis=1) / w_norm
        d = self.dim - 1
        e_norm = w[:, d] + w[:, -1]
        energy = np.divide(em[:, d] + em[:, -1], e_norm, out=np.zeros(self.size), where=e_norm != 0)
        match = feature_match**3 * energy**2
        top = int(np.argmax(match))
        best = float(match[top])
        best_energy = float(energy[top]) if best > 0 else 0.0
        if not learn:
            return True, best, best_energy
        if best >= self.rho_ub:
            hit = match >= self.rho_ub
            w[hit] = em[hit]
            self.used[: self.size][hit] = self.clock
            return False, best, best_energy
        self._add(x)
        return best < self.rho_lb, best, best_energy


class _Ring:
    """A fixed-size window of floats (the oldest value drops out)."""

    def __init__(self, size: int, fill: float) -> None:
        self.values: deque[float] = deque([fill] * size, maxlen=size)

    def push(self, v: float) -> None:
        self.values.append(v)


class ARTime:
    """ARTime on one series with a known range ``[lo, hi]`` and probation (see the module doc).

    :meth:`score` takes one raw value and returns its anomaly score in [0, 1]."""

    def __init__(
        self,
        lo: float,
        hi: float,
        probation: int,
        config: ARTimeConfig | None = None,
        *,
        clip: bool = False,
    ) -> None:
        c = self.config = config or ARTimeConfig()
        self.lo, self.hi, self.clip = lo, hi, clip
        self.step = max(1, round(probation // (c.window * c.windows_per_probation)))
        self.trend = probation // self.step
        if self.trend < 2 * c.window:
            raise ValueError(f"probation {probation} too short for a window of {c.window}")
        self.mask = int(c.window * 1.5)
        self.i = 0
        self.dsi = 0
        self.raw: deque[float] = deque([0.0] * self.step, maxlen=self.step)
        self.moving = 0.0
        self.bins = np.zeros(c.levels + 1, dtype=np.int64)
        self.med = 0
        self.below = 0
        self.above = 0
        self.levels: deque[float] = deque([0.0] * c.window, maxlen=c.window)
        self.batch: list[NDArray[np.float64]] | None = []
        self.art = _DVFA(2 * c.window, c.max_categories, 0.0, 0.0)
        self.last_anomaly = 0
        self.last_anomaly_sim = 0.0
        self.last_update = 0
        self.mask_after_cat = False
        self.no_new_cat = 0
        self.match_sum = 0.0
        self.sims = _Ring(self.trend // 2 + 1, 1.0)
        self.shortfalls = _Ring(self.trend + 1, 0.0)
        self.anomaly_sims_sum = 0.0
        """Sum of the matches of past anomalies, the last one excluded."""
        self.anomaly_sims_n = 0
        self.anomaly_sim_last = 0.0

    def score(self, value: float) -> float:
        """Score ``value`` and learn it; a value that is not finite is refused (ValueError)."""
        if not math.isfinite(value):
            raise ValueError(f"not a finite value: {value!r}")
        self.i += 1
        self.raw.append(value)
        if self.i % self.step:
            return 0.0
        self.dsi += 1
        return self._features(self._sample())

    def _sample(self) -> float:
        """The downsampled, normalised, quantised sample (steps 1 and 2 of the module doc)."""
        c = self.config
        raw = self.raw
        mean = sum(raw) / len(raw)
        if not math.isfinite(mean):  # huge values: the same mean without overflow
            mean = sum(v / len(raw) for v in raw)
        hi, lo = max(raw), min(raw)
        if self.dsi == 1:
            self.moving = mean
        self.moving = self.moving / 2 + mean / 2
        ds = lo if abs(hi / 2 - self.moving / 2) < abs(lo / 2 - self.moving / 2) else hi
        if abs(ds - mean) < 0.1 * mean:
            ds = mean
        # halves: exact for normal floats, and no overflow between huge values
        ds = ds / 2 - self.lo / 2
        if self.hi != self.lo:
            ds /= self.hi / 2 - self.lo / 2
        else:
            ds *= 2
        if self.clip:
            ds = min(1.0, max(0.0, ds))
        level = round(ds * c.levels)
        ds = level / c.levels
        self._median(min(c.levels, max(0, level)))
        med = self.med / c.levels
        return med if abs(ds - med) < c.median_snap else ds

    def _median(self, level: int) -> None:
        """The reference's approximate running median of the levels (one bin move a sample)."""
        bins = self.bins
        bins[level] += 1
        if self.dsi == 1:
            self.med = level
        if self.med > level:
            self.below += 1
        elif self.med < level:
            self.above += 1
        half = self.dsi // 2
        top = len(bins) - 1
        if half < self.above and self.med < top:
            self.below += int(bins[self.med])
            self.med += 1
            while bins[self.med] == 0 and self.med < top:
                self.med += 1
            self.above -= int(bins[self.med])
        elif half < self.below and self.med > 0:
            self.above += int(bins[self.med])
            self.med -= 1
            while bins[self.med] == 0 and self.med > 0:
                self.med -= 1
            self.below -= int(bins[self.med])

    def _features(self, ds: float) -> float:
        c = self.config
        self.levels.append(ds)
        if self.dsi >= c.window:
            window = np.fromiter(self.levels, dtype=np.float64, count=c.window)
            f = np.concatenate((_unit(_haar(_unit(window))), window))
        else:
            f = np.zeros(2 * c.window)
        if self.batch is None:
            return self._detect(f, self.dsi)
        self.batch.append(f)
        if self.dsi == self.trend:
            batch, self.batch = self.batch, None
            rho = self._initial_rho(np.asarray(batch[c.window - 1 :]))
            self.art.rho_lb = self.art.rho_ub = rho
            for k, g in enumerate(batch, start=1):
                self._detect(g, k)
        return 0.0

    def _initial_rho(self, samples: NDArray[np.float64]) -> float:
        """Mean best match over the later half of the probation's samples when a fresh DVFA
        at ``initial_rho`` learns them, least similar to the others first."""
        n = len(samples)
        sim = np.ones((n, n))
        for a in range(n):
            for b in range(a):
                sim[a, b] = sim[b, a] = _cosine(samples[a], samples[b])
        order = np.argsort(sim.sum(axis=0), kind="stable")
        rho = self.config.initial_rho
        art = _DVFA(2 * self.config.window, max(n + 1, 2), rho, rho)
        matches = [art.train(samples[k])[1] for k in order]
        return float(np.mean(matches[self.trend // 2 - 1 :]))

    def _detect(self, f: NDArray[np.float64], i: int) -> float:
        """One ART step on the features of downsampled sample ``i`` (1-based)."""
        art, c, mask = self.art, self.config, self.mask
        since = i - self.last_anomaly
        update_after_anomaly = since == mask
        update_for_trend = i - self.last_update >= self.trend // 2
        masked_by_anomaly = since <= mask
        if i > self.trend + mask and self.mask_after_cat and self.no_new_cat >= mask:
            self.mask_after_cat = False
        learn = i >= c.window  # before a full window: matched, not learned, not a category
        new_cluster, sim, energy = art.train(f, learn=learn)
        new_cluster = new_cluster or not learn
        self.no_new_cat = 0 if new_cluster else self.no_new_cat + 1
        self.match_sum += sim
        self.sims.push(sim)
        self.shortfalls.push(art.rho_ub - sim)
        if since < mask and self.anomaly_sims_n:
            self.anomaly_sim_last = min(self.anomaly_sim_last, sim)
        masking = self.mask_after_cat or masked_by_anomaly
        below_last = sim < self.last_anomaly_sim * (0.90 if masked_by_anomaly else 0.70)
        score = 0.0
        if i > self.trend and new_cluster and (not masking or below_last):
            score = self._confidence(sim, energy)
            if self.anomaly_sims_n:
                self.anomaly_sims_sum += self.anomaly_sim_last
            self.anomaly_sims_n += 1
            self.anomaly_sim_last = sim
            self.last_anomaly_sim = sim
            self.last_anomaly = i
        self.mask_after_cat = new_cluster or self.mask_after_cat
        if i > self.trend and (update_after_anomaly or update_for_trend):
            self._update_vigilance(i)
        return score

    def _update_vigilance(self, i: int) -> None:
        art = self.art
        lowest = min(self.sims.values)
        ub = min(0.97, self.match_sum / i)
        lb = art.rho_lb
        if lb <= lowest:
            lb += (lowest - lb) * 0.19
        else:
            drop = 0.0
            if i > 2 * self.trend:
                short = [min(0.37, s) for s in self.shortfalls.values if s > 0.05]
                if short:
                    drop = sum(short) / len(short)
            lb -= max(0.01, drop) / 2
            if self.anomaly_sims_n:
                past = (self.anomaly_sims_sum + self.anomaly_sim_last) / self.anomaly_sims_n
                lb = max(past, lb)
        art.rho_lb, art.rho_ub = min(ub, lb), ub
        self.last_update = i
        self.mask_after_cat = True

    def _confidence(self, sim: float, energy: float) -> float:
        art = self.art
        s = min(0.999, sim)
        gap = 1.0 - s
        ub = (gap - (1.0 - art.rho_ub)) / gap
        lb = (gap - (1.0 - art.rho_lb)) / gap
        return round(min(1.0, max(0.0, 0.35 * ub + 0.65 * lb + 1.5 * (1.0 - energy))), 6)


def artime_scores(values: Sequence[float], config: ARTimeConfig | None = None) -> list[float]:
    """ARTime as NAB runs it: range and probation from the whole series (a look-ahead)."""
    det = ARTime(min(values), max(values), nab_probation(len(values)), config)
    return [det.score(v) for v in values]


class OnlineARTime(ReplayStart[ARTime]):
    """ARTime on a stream: the first ``probation`` points (scored 0) set the range and are
    then replayed into the detector; later values are clipped to that range."""

    def __init__(self, config: ARTimeConfig | None = None) -> None:
        self.config = cfg = config or ARTimeConfig()
        super().__init__(
            cfg.probation, lambda buf: ARTime(min(buf), max(buf), len(buf), cfg, clip=True)
        )
