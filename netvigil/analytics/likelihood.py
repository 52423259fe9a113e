"""Anomaly likelihood: how rare a raw score is *for this series*, from the scores it gave before.

A raw deviation is not comparable between series: four robust sigmas are routine on a spiky
count series and unheard of on a smooth temperature. NAB's strongest detectors (HTM, CAD-OSE,
ARTime) therefore judge a raw score against the recent distribution of the same detector's
scores on the same series, and threshold that tail probability, one threshold for all series.

:class:`TailLikelihood` does this in constant memory, online, with a peaks-over-threshold model
(the extreme value theory behind SPOT, Siffer et al., KDD 2017, reduced to O(1) state):

- ``u`` tracks a high quantile of the raw score (level ``1 - rate``) by stochastic
  approximation; the step is proportional to the current tail scale, so it is unit-free;
- ``p_exceed`` is the running share of scores above ``u`` (not assumed equal to ``rate``: a
  discrete score such as a novelty fraction is mostly 0 and exceeds 0 less often);
- ``beta`` is the running mean excess over ``u``: an exponential tail (a generalised Pareto
  tail of shape 0), so ``P(S > s) = p_exceed * exp(-(s - u) / beta)`` for ``s > u``.

:meth:`TailLikelihood.surprisal` returns ``-log10`` of that probability (0 at or below ``u``):
3 means one in a thousand, 5 one in 10^5. The exponential tail is conservative for the
light-tailed scores of a well-predicted series (it over-states their tail probability) and
fits the heavy tails of spiky ones, which is the direction that keeps false alarms down.
Raw scores must be >= 0 (``u`` never goes below 0, so a score that is mostly exactly 0 has
its positive values as the tail).
An excess is learned capped at ``cap`` times ``beta``, so an ongoing anomaly does not teach
the tail its own size in one point. Why not a library: river has no streaming tail estimator,
and SPOT keeps every peak (memory grows); these are three floats.
"""

from __future__ import annotations

import math

__all__ = ["AverageLikelihood", "TailLikelihood", "gaussian_surprisal"]

_LOG10E = 1.0 / math.log(10.0)


class TailLikelihood:
    """Online tail probability of one detector's raw scores on one series (see module doc)."""

    __slots__ = ("alpha", "beta", "cap", "eta", "floor", "p_exceed", "rate", "u")

    def __init__(
        self, *, rate: float = 0.05, alpha: float = 0.01, scale: float = 1.0, cap: float = 8.0
    ) -> None:
        self.rate = rate
        """Target share of scores above ``u``."""
        self.alpha = alpha
        """Memory of ``p_exceed`` and ``beta`` (weight of one point / one exceedance)."""
        self.eta = 0.05
        """Step of the quantile tracker, in units of ``beta``."""
        self.cap = cap
        self.floor = 0.1 * scale
        """Smallest ``beta``: a series that never varied must not make a tiny step infinitely
        rare (raw scores are in units where ``scale`` is an ordinary excess)."""
        self.u = 0.0
        self.beta = scale
        self.p_exceed = rate

    def surprisal(self, s: float) -> float:
        """``-log10 P(S >= s)`` under the learned tail; 0 when ``s`` is not in the tail."""
        d = s - self.u
        if d <= 0.0:
            return 0.0
        return -math.log10(self.p_exceed) + d / self.beta * _LOG10E

    def judge(self, s: float) -> float:
        """Surprisal of ``s``, then learn it."""
        out = self.surprisal(s)
        self.learn(s)
        return out

    def learn(self, s: float) -> None:
        """Learn one raw score (after it was judged)."""
        d = s - self.u
        over = d > 0.0
        self.p_exceed += self.alpha * ((1.0 if over else 0.0) - self.p_exceed)
        if self.p_exceed < 1e-6:
            self.p_exceed = 1e-6
        b = self.beta
        if over:
            cap = self.cap * b
            self.beta = b + self.alpha * ((d if d < cap else cap) - b)
            self.u += self.eta * b * (1.0 - self.rate)
        elif self.u > 0.0:  # raw scores are >= 0: a quantile below 0 means nothing
            u = self.u - self.eta * b * self.rate
            self.u = u if u > 0.0 else 0.0
        if self.beta < self.floor:
            self.beta = self.floor


_SQRT2 = math.sqrt(2.0)
_PRIOR_POINTS = 100
_LOG10_SQRT_2PI = math.log10(math.sqrt(2.0 * math.pi))


def gaussian_surprisal(x: float) -> float:
    """``-log10 P(N(0,1) > x)``, exact where ``erfc`` is, asymptotic beyond (no underflow)."""
    if x < 5.0:
        return -math.log10(0.5 * math.erfc(x / _SQRT2))
    return x * x / 2.0 * _LOG10E + math.log10(x) + _LOG10_SQRT_2PI - math.log10(1.0 - 1.0 / (x * x))


class AverageLikelihood:
    """Numenta's anomaly likelihood, in O(1) state, with an empirical tail: a short moving
    average of a raw score judged against the long-run mean and spread of that same average
    on this series, and against how often this series' average went that far before.

    - ``avg_alpha`` sets the short average (a spike detector averages over ~3 points, a shift
      detector over ~20); ``hist_alpha`` the memory of its mean and spread; the spread is
      never taken tighter than ``var_floor`` (the average's spread when the series behaves as
      it should, e.g. Gaussian residuals), so a quiet spell does not make an ordinary wobble
      look impossible.
    - The standardised deviation ``x`` has a Gaussian tail only if the series does. So the
      share of points with ``x > tail_k`` is learned too (memory ``tail_alpha``; prior: the
      Gaussian share, worth 100 points), and when the series goes beyond ``tail_k`` more
      often than a Gaussian one would, every surprisal is lowered by ``log10`` of that ratio:
      on a series with ten times the Gaussian share of large deviations, a large deviation
      is ten times less rare. A series with Gaussian tails keeps the Gaussian surprisal, so
      scores stay comparable between light- and heavy-tailed series (one threshold).
    - ``two_sided``: a signed raw score, rare in either direction (a level shift up or down).
    - ``emp_alpha`` > 0 (off by default: see docs/evaluation-detection.md): the reference
      distribution of ``x`` beyond 3 is also the series' own. Each *excursion* (a run of
      points with ``x`` >= 3) is remembered once, by its peak, in one of 13 log-spaced bins
      (3 x 1.25^k) with exponential forgetting (memory ``1 / emp_alpha`` points); a point is
      then as rare as the larger of its Gaussian tail probability and the share of past
      excursions that peaked at least as high, ``(N0 * p_gauss + peaks beyond) / (N0 +
      points)`` with a Gaussian prior worth ``N0`` = 100 points. A series whose large
      deviations are routine (heavy tails, bursts) stops finding its next one of the same
      size rare; one larger than any it has had keeps the Gaussian surprisal, and so does a
      series without excursions. Counting excursions, not points, keeps an anomaly's own
      run of high averages from silencing it. ``emp_gate`` > 0 (off by default) mixes the
      Gaussian and the empirical reference by how many excursions were seen: the empirical
      share is weighed ``E / (E + emp_gate)``, ``E`` the forgotten count of past excursions,
      so one or two past anomalies lower a series' surprisal less than the ungated record
      does, and a series whose excursions are routine gets its own tail (not kept either:
      see docs/evaluation-detection.md). Why hand-written: a decayed 13-bin histogram and
      three floats; no streaming library keeps a tail this cheaply per series.
    """

    __slots__ = (
        "avg",
        "avg_alpha",
        "emp",
        "emp_alpha",
        "emp_gate",
        "emp_peak",
        "emp_total",
        "emp_w",
        "hist_alpha",
        "mean",
        "n",
        "rate",
        "rate0",
        "tail_alpha",
        "tail_k",
        "two_sided",
        "var",
        "var_floor",
    )

    def __init__(
        self,
        *,
        avg_alpha: float,
        hist_alpha: float,
        var_floor: float,
        two_sided: bool = False,
        tail_k: float = 3.0,
        tail_alpha: float = 0.001,
        emp_alpha: float = 0.0,
        emp_gate: float = 0.0,
    ) -> None:
        self.avg_alpha = avg_alpha
        self.emp_alpha = emp_alpha
        self.emp_gate = emp_gate
        """> 0: the empirical reference weighs ``E / (E + emp_gate)``, ``E`` = the (forgotten)
        count of past excursions: the fewer excursions, the nearer the Gaussian tail."""
        self.emp = [0.0] * len(_EMP_EDGES) if emp_alpha > 0.0 else []
        self.emp_w = 1.0
        """Weight of the newest point (grows by 1 / (1 - emp_alpha) a point: forgetting
        without touching every bin; all weights are rescaled when it grows large)."""
        self.emp_total = 0.0
        self.emp_peak = 0.0
        """Peak ``x`` of the excursion under way (0 = none)."""
        self.hist_alpha = hist_alpha
        self.var_floor = var_floor
        self.two_sided = two_sided
        self.tail_k = tail_k
        self.tail_alpha = tail_alpha
        self.avg = 0.0
        self.mean = 0.0
        self.n = _PRIOR_POINTS
        self.var = var_floor / (avg_alpha / (2.0 - avg_alpha)) if var_floor > 0 else 1.0
        # Gaussian prior: P(x > k) and the mean excess over k of a standard normal
        q = 0.5 * math.erfc(tail_k / _SQRT2)
        self.rate = q * (2.0 if two_sided else 1.0)
        self.rate0 = self.rate

    def judge(self, s: float) -> float:
        """Surprisal (``-log10`` tail probability) of raw score ``s``, then learn it."""
        a = self.avg + self.avg_alpha * (s - self.avg)
        d = a - self.mean
        v = self.var if self.var > self.var_floor else self.var_floor
        x = d / math.sqrt(v)
        if self.two_sided:
            x = x if x >= 0.0 else -x
        out = gaussian_surprisal(x) - (math.log10(2.0) if self.two_sided else 0.0)
        k = self.tail_k
        over = x - k
        ta = self.tail_alpha
        if ta > 0.0:
            # a running mean from the Gaussian prior (worth _PRIOR_POINTS points) until the
            # memory is reached: the tail is learned in hundreds of points, not 1 / ta
            self.n += 1
            if ta < 1.0 / self.n:
                ta = 1.0 / self.n
            heavier = self.rate / self.rate0
            if heavier > 1.0:
                out -= math.log10(heavier)
            self.rate += ta * ((1.0 if over > 0.0 else 0.0) - self.rate)
        if self.emp_alpha > 0.0:
            out = self._empirical(x, out)
        self.avg = a
        h = self.hist_alpha
        self.mean += h * d
        self.var = (1.0 - h) * (self.var + h * d * d)
        return out if out > 0.0 else 0.0

    def _empirical(self, x: float, out: float) -> float:
        """The surprisal ``out`` of ``x`` against this series' past excursions; learns."""
        w = self.emp_w / (1.0 - self.emp_alpha)
        total = self.emp_total + w
        emp = self.emp
        if w > 1e12:  # rescale: only ratios of weights matter
            for k in range(len(emp)):
                emp[k] /= w
            total /= w
            w = 1.0
        self.emp_w, self.emp_total = w, total
        if x >= _EMP_EDGES[0]:
            if x > self.emp_peak:
                self.emp_peak = x
            beyond = sum(emp[_emp_bin(x) :])
            if beyond > 0.0:
                prior = _PRIOR_POINTS * w
                if self.emp_gate > 0.0:  # trust the series' own tail as its excursions recur
                    seen = sum(emp) / w
                    beyond *= seen / (seen + self.emp_gate)
                p = (prior * 10.0 ** (-out) + beyond) / (prior + total)
                s = -math.log10(p)
                return s if s < out else out
        elif self.emp_peak > 0.0:  # an excursion ended: remember it once, by its peak
            emp[_emp_bin(self.emp_peak)] += w
            self.emp_peak = 0.0
        return out


_EMP_EDGES = tuple(3.0 * 1.25**k for k in range(13))
"""Lower edges of the excursion-peak bins of :class:`AverageLikelihood` (3 to ~44)."""
_LOG_EMP_STEP = math.log(1.25)


def _emp_bin(x: float) -> int:
    k = int(math.log(x / _EMP_EDGES[0]) / _LOG_EMP_STEP)
    return k if k < len(_EMP_EDGES) else len(_EMP_EDGES) - 1
