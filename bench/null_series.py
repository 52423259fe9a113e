"""False alarms on anomaly-free series of many shapes: is one threshold right for all of them?

A calibrated score should raise about as many alarms on a heavy-tailed or bursty series as on
a Gaussian one when neither has anomalies. This generates anomaly-free series (seeded, 5-minute
samples, 4,000 points, one week is 2,016) of shapes a network metric takes: Gaussian noise on a
daily cycle, heavy-tailed noise (Laplace, Student-t with 3 degrees of freedom), bursty counts
(Poisson with a log-normal AR(1) rate), a random walk, an integer-valued slow signal, a square
wave, a flat line; and counts, per shape, the alarms ``netvigil detect``'s scores raise at a
threshold (NAB's optimised threshold on nab-dev, standard profile: 0.435 for the ensemble
with its onset level 0.4, 0.508 for the previous single seasonal score with its 0.5).
Nothing here is used to choose a constant.

    python -m bench.null_series [--threshold T] [--series 5] [--json]
        [--detectors A,B] [--set KEY=VALUE ...] [--variant-threshold T]
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.nab_cv import make_config, onset
from bench.nab_nested import parse_set
from netvigil.analytics.seasonal import SeasonalScorer
from netvigil.analytics.series import ONSET_LEVEL, SeriesScores, score_series

N = 4000
STEP = 300.0
Gen = Callable[[np.random.Generator, np.ndarray], np.ndarray]


def _daily(t: np.ndarray) -> np.ndarray:
    return np.sin(2 * math.pi * (t % 86400) / 86400)


def _bursty(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    x = np.zeros(len(t))
    for i in range(1, len(t)):
        x[i] = 0.97 * x[i - 1] + rng.normal(0, 0.15)
    rate = np.exp(2.5 + 0.5 * _daily(t) + x)
    return rng.poisson(rate).astype(float)


SHAPES: dict[str, Gen] = {
    "gaussian_daily": lambda r, t: 50 + 10 * _daily(t) + r.normal(0, 1, len(t)),
    "laplace_daily": lambda r, t: 50 + 10 * _daily(t) + r.laplace(0, 1, len(t)),
    "student3_daily": lambda r, t: 50 + 10 * _daily(t) + r.standard_t(3, len(t)),
    "bursty_counts": _bursty,
    "random_walk": lambda r, t: 100 + np.cumsum(r.normal(0, 1, len(t))),
    "integer_slow": lambda r, t: np.round(20 + 3 * _daily(t) + r.normal(0, 0.3, len(t))),
    "square_wave": lambda r, t: (
        np.where((t % 86400) < 43200, 80.0, 20.0) + r.normal(0, 0.5, len(t))
    ),
    "flat": lambda r, t: np.full(len(t), 42.0),
}


def _single(ts: list[float], vs: list[float]) -> SeriesScores:
    s = SeasonalScorer()
    return SeriesScores([s.update(t, v).score for t, v in zip(ts, vs, strict=True)], [])


def alarms(
    score: Callable[[list[float], list[float]], SeriesScores],
    threshold: float,
    series: int,
    level: float = ONSET_LEVEL,
) -> dict[str, float]:
    """Alarms per 1,000 points after the first 15 % (NAB's probation), per shape."""
    out = {}
    t = 1.7e9 + STEP * np.arange(N)
    skip = int(0.15 * N)
    for name, gen in SHAPES.items():
        hits = 0
        for k in range(series):
            rng = np.random.default_rng(1000 + k)
            raw = score(t.tolist(), gen(rng, t).tolist())
            filt = onset({"s": raw}, level)["s"].scores
            hits += sum(1 for x in filt[skip:] if x >= threshold)
        out[name] = round(1000.0 * hits / (series * (N - skip)), 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threshold", type=float, default=0.435, help="netvigil detect's")
    ap.add_argument(
        "--baseline-threshold", type=float, default=0.508, help="the single seasonal score's"
    )
    ap.add_argument("--series", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--detectors", help="also the ensemble with these detectors (comma list)")
    ap.add_argument("--variant-threshold", type=float, default=0.435, help="its nab-dev one")
    ap.add_argument("--set", nargs="*", default=[], help="the variant: KEY=VALUE ...")
    args = ap.parse_args()
    report: dict[str, Any] = {
        "threshold": args.threshold,
        "netvigil": alarms(
            lambda ts, vs: score_series(ts, vs, onset_level=math.inf), args.threshold, args.series
        ),
        "baseline_threshold": args.baseline_threshold,
        "single_seasonal": alarms(_single, args.baseline_threshold, args.series, level=0.5),
    }
    if args.detectors or args.set:
        sets = parse_set(args.set)
        if args.detectors:
            sets["detectors"] = tuple(args.detectors.split(","))
        variant = make_config(sets)
        label = " ".join([args.detectors or "", *args.set]).strip()
        report[f"netvigil {label} at {args.variant_threshold}"] = alarms(
            lambda ts, vs: score_series(ts, vs, variant, onset_level=math.inf),
            args.variant_threshold,
            args.series,
        )
    print(json.dumps(report, indent=1 if args.json else None))


if __name__ == "__main__":
    main()
