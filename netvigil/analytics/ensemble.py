"""The metric anomaly score: several online detectors, each calibrated per series, combined.

Per series, strictly online (every point is judged against the past, then learned) and in
constant memory. Steps:

1. **Expectation** (:class:`~netvigil.analytics.seasonal.SeasonalScorer`'s predictor): recent
   level, daily and weekly profiles blended by inverse squared running error; the residual
   ``z`` in robust sigmas (capped at ``max_surprise``).
2. **Detectors**, each a raw score >= 0 from one point of view:

   - ``spike``: ``|z|`` of this point (with ``spike_pair``, an option, the smaller of the
     last two points' ``|z|``);
   - ``shift``: a level shift or change point, the short signed mean of ``z`` (a few points)
     in units of its white-noise spread;
   - ``drift``: how far the deseasonalised level has moved from its own slow average
     (``drift_alpha``), in robust sigmas: a trend the level predictor follows, so that its
     residuals stay small, still moves the level away from where it was;
   - ``noise``: the long mean of ``|z|`` (the series became noisier: variance change);
   - ``context``: CAD-style contextual novelty of the raw value sequence
     (:mod:`~netvigil.analytics.novelty`);
   - ``hst``: river's ``HalfSpaceTrees`` on the last three values scaled to the running range
     (isolation of the recent shape);
   - ``slow``: the mean of each block of ``slow_block`` points against a slow level of block
     means (``slow_alpha``), in units of its own mean absolute error, judged once per block:
     a block mean has ~1/sqrt(block) of the point noise, so a sustained change within the
     point noise (which ``spike`` and ``noise`` miss) stands out; no seasonal profile, so a
     strong daily cycle keeps it quiet.

   By default only ``spike`` and ``noise`` run: chosen by cross-validation on nab-dev, where
   the others did not improve the held-out score (``context`` and ``hst`` added false
   alarms; ``slow`` helped the standard profile and not the low-FP one); see
   docs/evaluation-detection.md. Each is one name in ``detectors`` (the setting
   ``detector.detectors``) away.

3. **Calibration**, an anomaly likelihood per detector and series
   (:class:`~netvigil.analytics.likelihood.AverageLikelihood`): each detector's raw score
   becomes ``-log10`` of its tail probability under that detector's own recent scores on this
   series, so a value routine for a noisy series is not rare, and one threshold serves
   series of any unit and noise level (``calibration="tail"`` and ``"raw"`` exist only to
   measure that choice).
4. **Combination**: the largest surprisal, minus ``log10`` of the number of detectors (a
   Bonferroni correction: with k detectors, k chances of a false alarm). One detector's false
   alarms cannot dominate because each is judged against its own history: a detector that
   fires often on a series makes its own firing unremarkable there.
5. The score in [0, 1] is surprisal / 10 (0.5 = one in 10^5), with the detector that fired,
   the expected value and a band of four robust sigmas: the explanation of the verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from netvigil.analytics.likelihood import AverageLikelihood, TailLikelihood
from netvigil.analytics.novelty import ContextNovelty
from netvigil.analytics.seasonal import ScorerConfig, SeasonalScorer

__all__ = ["DETECTORS", "EnsembleConfig", "EnsembleScorer", "EnsembleVerdict"]

DETECTORS = ("spike", "shift", "drift", "noise", "context", "hst", "slow")


@dataclass(frozen=True)
class EnsembleConfig:
    """The one configuration every series shares (constants chosen by cross-validation on
    nab-dev, see docs/evaluation-detection.md)."""

    seasonal: ScorerConfig = field(default_factory=ScorerConfig)
    """The expectation (its own calibration is not used here)."""
    detectors: tuple[str, ...] = ("spike", "noise")
    """Which detectors run (a subset of :data:`DETECTORS`). The default pair held best out of
    sample on nab-dev; ``shift`` and ``drift`` did not add (docs/evaluation-detection.md)."""
    spike_alpha: float = 0.3
    """Weight of a point in the spike average (about 3 points); also context's and hst's."""
    shift_alpha: float = 0.2
    """Weight of a point in the level-shift mean (about 5 points)."""
    drift_alpha: float = 0.005
    """Weight of a point in the slow level the drift detector compares with (~200 points)."""
    noise_alpha: float = 0.05
    """Weight of a point in the noise (mean |z|) average (about 20 points)."""
    calibration: Literal["average", "tail", "raw"] = "average"
    """How a raw score becomes a tail probability: ``average`` (Numenta's anomaly likelihood,
    :class:`~netvigil.analytics.likelihood.AverageLikelihood`), ``tail`` (peaks over threshold,
    :class:`~netvigil.analytics.likelihood.TailLikelihood`) or ``raw`` (none: the raw score
    over its typical size; only to measure what calibration is worth)."""
    hist_alpha: float = 0.005
    """Memory of each detector's score distribution (about 200 points)."""
    tail_alpha: float = 0.0
    """``average`` calibration: memory of an empirical tail correction (how often the series'
    average went beyond 3 of its sigmas); 0 = off, the Gaussian likelihood only (chosen by
    cross-validation: see docs/evaluation-detection.md)."""
    emp_alpha: float = 0.0
    """``average`` calibration: memory of each likelihood's own record of past excursions
    (``AverageLikelihood``'s empirical reference; 1 / points); 0 = off (see
    docs/evaluation-detection.md, "Tried and not kept" or the calibration section)."""
    emp_gate: float = 0.0
    """``emp_alpha`` > 0: the empirical reference weighs ``E / (E + emp_gate)``, ``E`` the
    forgotten count of the series' past excursions (0 = always fully; see
    :class:`~netvigil.analytics.likelihood.AverageLikelihood`)."""
    budget_alpha: float = 0.0
    """Alarm budget (0 = off; see docs/evaluation-detection.md): memory (1 / points) of the
    forgotten count ``c`` of this series' past alarm onsets (the combined surprisal crossing
    ``budget_level``, at most one per 100 points); the surprisal is divided by
    ``1 + c / budget``, so a series that alarms often needs a larger excursion to alarm."""
    budget: float = 1.0
    """Alarm budget: past onsets (in the memory) that double the surprisal a new alarm needs."""
    budget_level: float = 4.0
    """Alarm budget: the surprisal (after Bonferroni) that counts as an alarm onset."""
    spike_pair: bool = False
    """``spike``'s raw score is the smaller of the last two points' ``|z|`` (an isolated
    one-point deviation is not a spike; off: see docs/evaluation-detection.md)."""
    tail_rate: float = 0.05
    """``tail`` calibration: share of each detector's scores above its tail threshold."""
    bonferroni: bool = True
    """Subtract log10(number of detectors) from the largest surprisal."""
    slow_block: int = 8
    """``slow``: points per block (the detector judges block means, once per block)."""
    slow_alpha: float = 0.05
    """``slow``: weight of a block mean in the slow level it is compared with (~20 blocks)."""
    context_bins: int = 8
    context_len: int = 4
    warmup: int = 50
    """Points learned before any score other than 0 is given (the service's and
    ``netvigil detect``'s alike, ``detector.warmup``). NAB's scorer cannot choose it (its
    probation hides the first 15 % of every file: 10-400 score the same in and out of
    sample); 50 is the shortest that raised no early alarm on the anomaly-free series
    (``bench.nab_warmup``, docs/evaluation-detection.md)."""
    max_surprise: float = 12.0
    """Cap on one point's |z|."""


@dataclass(frozen=True, slots=True)
class EnsembleVerdict:
    """The score of one point and why."""

    score: float
    """Calibrated anomaly score in [0, 1]; 0.5 is a one-in-10^5 event for the detector that
    fired, after the correction for the number of detectors."""
    expected: float
    band: tuple[float, float]
    """Expected value plus or minus four robust sigmas."""
    z: float
    """Signed residual in robust sigmas."""
    model: str
    """The predictor that weighed most: ``level``, ``daily`` or ``weekly``."""
    detector: str
    """The detector with the largest surprisal (see :data:`DETECTORS`)."""


#: per detector: (signed raw score?, variance of its raw score under normal behaviour,
#: typical size of a raw excess) - the calibrators' floors and starting scales
_RAW = {
    "spike": (False, 1.0 - 2.0 / math.pi, 1.0),
    "noise": (False, 1.0 - 2.0 / math.pi, 0.3),
    "shift": (True, 1.0, 1.0),
    "drift": (True, 0.05 / 1.95, 1.0),  # spread of a level of weight 0.05 (ew_alpha)
    "context": (False, 0.01, 0.25),
    "hst": (False, 0.01, 0.2),
    "slow": (False, 1.0 - 2.0 / math.pi, 1.0),
}


class EnsembleScorer:
    """Online, calibrated, multi-detector anomaly score of one series (see module doc)."""

    def __init__(self, config: EnsembleConfig | None = None) -> None:
        self.config = c = config or EnsembleConfig()
        unknown = set(c.detectors) - set(DETECTORS)
        if unknown or not c.detectors:
            raise ValueError(f"detectors must be a non-empty subset of {DETECTORS}: {unknown}")
        self.predictor = SeasonalScorer(c.seasonal)
        self.names = tuple(d for d in DETECTORS if d in c.detectors)
        self.calibrators = [self._calibrator(d) for d in self.names]
        self.context: ContextNovelty | None = None
        if "context" in self.names or "hst" in self.names:  # 2 KB a series: only when used
            self.context = ContextNovelty(bins=c.context_bins, max_len=c.context_len)
        self.hst: Any = None
        self.recent = [0.0, 0.0]
        if "hst" in self.names:
            from river.anomaly import HalfSpaceTrees

            self.hst = HalfSpaceTrees(n_trees=10, height=6, window_size=200, seed=42)
        self.slow = 0.0
        """The drift detector's slow average of the deseasonalised level."""
        self.block = [0.0, 0.0, 0.0, 0.0]
        """The slow detector: sum and count of the current block, slow level of block
        means and its mean absolute error."""
        self.prev_za = 0.0
        """|z| of the previous point (``spike_pair``)."""
        self.alarms = 0.0
        """Alarm budget: the forgotten count of past alarm onsets."""
        self.alarm_gap = 0
        """Alarm budget: points to go before another onset counts."""
        self.n = 0
        self.bonferroni = math.log10(len(self.names)) if c.bonferroni else 0.0

    def _calibrator(self, name: str) -> AverageLikelihood | TailLikelihood | None:
        c = self.config
        signed, var, scale = _RAW[name]
        alpha = {
            "spike": c.spike_alpha,
            "noise": c.noise_alpha,
            "shift": c.shift_alpha,
            "drift": c.spike_alpha,
        }.get(name, c.spike_alpha)
        hist = c.hist_alpha * (0.2 if name == "drift" else 1.0)
        emp = c.emp_alpha
        if name == "slow":  # one score per block: the same memory in points
            alpha, hist = 0.5, min(0.5, c.hist_alpha * c.slow_block)
            emp = min(0.5, emp * c.slow_block)
        if c.calibration == "average":
            return AverageLikelihood(
                avg_alpha=alpha,
                # a drift is slow: judged against a history longer than itself
                hist_alpha=hist,
                var_floor=alpha / (2.0 - alpha) * var,
                two_sided=signed,
                tail_alpha=c.tail_alpha,
                emp_alpha=emp,
                emp_gate=c.emp_gate,
            )
        if c.calibration == "tail":
            return TailLikelihood(rate=c.tail_rate, alpha=c.hist_alpha, scale=scale)
        return None

    def update(self, ts: float, value: float) -> EnsembleVerdict:
        """Score ``value`` at ``ts`` against the past, then learn it."""
        if value != value or value in (math.inf, -math.inf):
            raise ValueError(f"not a finite value: {value!r}")
        c = self.config
        pred, scale, preds, model = self.predictor.expect(ts, value)
        scale += 1e-6 * abs(pred) + 1e-9
        z = (value - pred) / scale
        cap = c.max_surprise
        zc = cap if z > cap else (-cap if z < -cap else z)
        za = zc if zc >= 0.0 else -zc
        best, best_k = 0.0, 0
        for k, name in enumerate(self.names):
            if name == "spike" and c.spike_pair:
                raw = za if za < self.prev_za else self.prev_za
            elif name in ("spike", "noise"):
                raw = za
            elif name == "shift":
                raw = zc
            elif name == "drift":
                lv = self.predictor.level[1]
                if self.n == 0:
                    self.slow = lv
                raw = (lv - self.slow) / scale
                self.slow += c.drift_alpha * (lv - self.slow)
            elif name == "slow":
                b = self.block
                b[0] += value
                b[1] += 1.0
                if b[1] < c.slow_block:
                    continue
                m = b[0] / b[1]
                b[0] = b[1] = 0.0
                if b[3] == 0.0:  # first block: the level starts there, the error at the
                    b[2], b[3] = m, scale  # point residuals' scale
                r = m - b[2]
                raw = abs(r) / (1.2533 * b[3])
                b[2] += c.slow_alpha * r
                e = abs(r)
                cap = 6.0 * b[3]
                b[3] += c.slow_alpha * 0.2 * ((e if e < cap else cap) - b[3])
            elif name == "context":
                assert self.context is not None
                raw = self.context.update(value)
            else:
                raw = self._hst(value)
            cal = self.calibrators[k]
            s = cal.judge(raw) if cal is not None else abs(raw) / _RAW[name][2]
            if s > best:
                best, best_k = s, k
        self.prev_za = za
        self.predictor.learn_point(ts, value, preds)
        self.n += 1
        score = 0.0
        if self.n > c.warmup:
            s = best - self.bonferroni
            if c.budget_alpha > 0.0:
                s = self._budget(s)
            score = 0.0 if s <= 0.0 else (s / 10.0 if s < 10.0 else 1.0)
        half = 4.0 * scale
        return EnsembleVerdict(
            score, pred, (pred - half, pred + half), z, model, self.names[best_k]
        )

    def _budget(self, s: float) -> float:
        """The alarm budget: ``s`` divided by ``1 + c / budget``; counts an onset in ``c``."""
        c = self.config
        out = s / (1.0 + self.alarms / c.budget)
        self.alarms *= 1.0 - c.budget_alpha
        if self.alarm_gap > 0:
            self.alarm_gap -= 1
        elif s >= c.budget_level:  # the raw surprisal: the series' own alarm frequency
            self.alarms += 1.0
            self.alarm_gap = 100
        return out

    def _hst(self, value: float) -> float:
        nov = self.context
        assert nov is not None
        if "context" not in self.names:
            nov.update(value)  # keeps the running range the shape features are scaled to
        width = nov.hi - nov.lo
        x = (value - nov.lo) / width if width > 0 else 0.5
        x = 0.0 if x < 0.0 else (1.0 if x > 1.0 else x)
        feats = {0: x, 1: self.recent[0], 2: self.recent[1]}
        self.recent = [x, self.recent[0]]
        score = float(self.hst.score_one(feats))
        self.hst.learn_one(feats)
        return score
