"""ARTime beside the ensemble: what the online range costs, a fully nested combination, false
alarms on anomaly-free series, and speed (the NAB figures of each detector alone come from
``bench.nab_leaders``).

- ``gap``: the two differences between NAB's run of ARTime and the online one, each alone
  on nab-dev (the range of the first 750 points instead of the file's; a probation of 750
  points instead of NAB's 15 % of the file). Diagnostics only: nothing is chosen on them.
- ``nested``: ``max(w * artime, ensemble)`` where *every* constant is chosen per fold: the
  ensemble's ``bench.nab_cv`` grid (by default its detector sets spike+noise and base: 72
  scorings x 4 onset levels; ``--detector-sets`` and ``--tail-alphas`` narrow it) and ``w``
  (0 = the ensemble alone), nested LOSO and LOCO, pooled and strict; beside it the
  ensemble alone, nested over the same grid.
  ``bench.nab_leaders`` nests ``w`` alone, the ensemble's constants fixed as chosen on all
  of nab-dev (optimistic).
- ``null``: alarms per 1,000 points on ``bench.null_series``'s anomaly-free shapes at
  ARTime's own nab-dev threshold (no onset filter: ARTime's reports are sparse already), or
  with ``--null-w W`` of ``max(W * artime, ensemble)`` at the threshold given.
- ``speed``: ``--series`` series round robin (each ``--points`` points of a noisy daily
  cycle, its own phase), CPU seconds over all points and over the second half (after the
  probation), ARTime online and the ensemble (``StreamScorer``, what ``netvigil detect``
  runs) in the same run, median of ``--repeats``; bytes per series (tracemalloc) after it.

    python -m bench.nab_artime [--data ../shared/data/nab-dev] [--only gap nested null speed]
                               [--threshold 0.277] [--json FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bench import null_series
from bench.nab_cv import GRID, POST, Files, cross_validate, folds, load, onset, run
from bench.nab_eval import DEFAULT
from bench.nab_leaders import artime_online, evaluate
from bench.nabscore import PROFILES, FileScoring, prepare, score_corpus
from netvigil.analytics.artime import ARTime, OnlineARTime, nab_probation
from netvigil.analytics.series import SeriesScores, StreamScorer, detect_series, score_series

W_NESTED = (0.0, 0.5, 0.7, 1.0)
"""Values of ``w`` in the nested combination (0: the ensemble alone)."""


def _lookahead_range_online_probation(values: list[float]) -> list[float]:
    det = ARTime(min(values), max(values), 750)
    return [det.score(v) for v in values]


def _online_range_nab_probation(values: list[float]) -> list[float]:
    p = nab_probation(len(values))
    det = ARTime(min(values[:p]), max(values[:p]), p, clip=True)
    return [det.score(v) for v in values]


def gap(files: Files) -> dict[str, Any]:
    variants: dict[str, Callable[[list[float]], list[float]]] = {
        "file range, probation 750": _lookahead_range_online_probation,
        "first-probation range (clipped), NAB probation": _online_range_nab_probation,
    }
    out = {}
    for label, f in variants.items():
        scores = {n: f(v.tolist()) for n, (_, _, _, v) in files.items()}
        r = evaluate(files, scores)
        out[label] = r
        print(
            f"{label:48s} "
            + "  ".join(
                f"{p[:12]} {r[p]['in_sample']:5.1f} (LOSO {r[p]['loso_strict']:5.1f},"
                f" LOCO {r[p]['loco_strict']:5.1f})"
                for p in PROFILES
            ),
            file=sys.stderr,
        )
    return out


class _Combined(Mapping[tuple[Any, ...], dict[str, FileScoring]]):
    """``max(w * artime, ensemble)`` per grid key, prepared when asked for (the ensemble's
    prepared scores are kept once per grid point, not once per ``w``)."""

    def __init__(
        self,
        base: dict[str, FileScoring],
        art: dict[str, np.ndarray],
        ens: dict[tuple[Any, ...], dict[str, np.ndarray]],
        ws: tuple[float, ...],
    ) -> None:
        self.base, self.art, self.ens, self.ws = base, art, ens, ws

    def __getitem__(self, key: tuple[Any, ...]) -> dict[str, FileScoring]:
        e, w = self.ens[key[:-1]], key[-1]
        return {
            n: dataclasses.replace(b, scores=np.maximum(w * self.art[n], e[n]))
            for n, b in self.base.items()
        }

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return ((*k, w) for k in self.ens for w in self.ws)

    def __len__(self) -> int:
        return len(self.ens) * len(self.ws)


def nested(
    files: Files, profiles: list[str], detector_sets: list[str], tail_alphas: list[float]
) -> dict[str, Any]:
    base = {n: prepare(len(f[0]), f[1], [0.0] * len(f[0])) for n, f in files.items()}
    cut = {n: len(files[n][0]) - len(b.scores) for n, b in base.items()}
    art = {
        n: np.asarray(artime_online(ts.tolist(), v.tolist()))[cut[n] :]
        for n, (_, _, ts, v) in files.items()
    }
    grid = {**GRID, "detectors": tuple(detector_sets), "tail_alpha": tuple(tail_alphas)}
    model_keys = [k for k in grid if k not in POST]
    ens: dict[tuple[Any, ...], dict[str, np.ndarray]] = {}
    t0 = time.process_time()
    for combo in itertools.product(*(grid[k] for k in model_keys)):
        params = dict(zip(model_keys, combo, strict=True))
        unfiltered = run(files, params)
        for level in grid["onset_level"]:
            ens[(*combo, level)] = {
                n: np.asarray(s.scores)[cut[n] :] for n, s in onset(unfiltered, level).items()
            }
        print(f"{params} {time.process_time() - t0:.0f} CPU s", file=sys.stderr)
    loso, loco = folds(files)
    out: dict[str, Any] = {}
    for p in profiles:
        row: dict[str, Any] = {}
        for label, ws in (("combination", W_NESTED), ("ensemble alone", (0.0,))):
            res = _Combined(base, art, ens, ws)
            best = max(res, key=lambda k: float(score_corpus(res[k], p)["score"]))  # type: ignore[arg-type]
            row[label] = {"in_sample_best": score_corpus(res[best], p)["score"], "at": best}
            for fl, fold in (("loso", loso), ("loco", loco)):
                cv = cross_validate(res, fold, p)
                row[label][fl] = {
                    "pooled": cv["pooled"],
                    "strict": cv["strict"],
                    "w_chosen": sorted({k[-1] for k in cv["chosen"].values()}),
                    "chosen": cv["chosen"],
                }
            print(p, label, time.process_time() - t0, file=sys.stderr)
        out[p] = row
        for label, r in row.items():
            print(
                f"{p} {label}: in-sample best {r['in_sample_best']:.1f} at {r['at']}; LOSO "
                f"{r['loso']['pooled']:.1f} / {r['loso']['strict']:.1f} (w {r['loso']['w_chosen']})"
                f", LOCO {r['loco']['pooled']:.1f} / {r['loco']['strict']:.1f}",
                file=sys.stderr,
            )
    return out


def combined(w: float) -> Callable[[list[float], list[float]], list[float]]:
    """``max(w * ARTime online, ensemble)``, as ``bench.nab_leaders`` combines them."""

    def score(ts: list[float], vs: list[float]) -> list[float]:
        art = np.asarray(detect_series(ts, vs, "artime"))
        return np.maximum(w * art, score_series(ts, vs).scores).tolist()

    return score


def null(threshold: float, series: int, w: float | None) -> dict[str, float]:
    """Alarms of ARTime online (``w`` None) or of ``max(w * artime, ensemble)``."""

    def scores(ts: list[float], vs: list[float]) -> SeriesScores:
        if w is None:
            return SeriesScores(detect_series(ts, vs, "artime"), [])
        return SeriesScores(combined(w)(ts, vs), [])

    return null_series.alarms(scores, threshold, series, level=math.inf)


def _sweep(make: Callable[[], Callable[[float, float], float]], n: int, points: int, seed: int):
    rng = random.Random(seed)
    scorers = [make() for _ in range(n)]
    phase = [rng.uniform(0, 288) for _ in range(n)]
    noise = [rng.gauss(0, 1) for _ in range(4096)]
    half = points // 2
    t0 = time.process_time()
    t_half = t0
    for r in range(points):
        if r == half:
            t_half = time.process_time()
        ts = 1.7e9 + 300.0 * r
        for i, s in enumerate(scorers):
            s(ts, 50 + 10 * math.sin(2 * math.pi * (r + phase[i]) / 288) + noise[(r + i) & 4095])
    t1 = time.process_time()
    return n * points / (t1 - t0), n * (points - half) / (t1 - t_half), scorers


def _artime_scorer() -> Callable[[float, float], float]:
    det = OnlineARTime()
    return lambda ts, v: det.score(v)


def _ensemble_scorer() -> Callable[[float, float], float]:
    stream = StreamScorer()
    return lambda ts, v: stream(ts, v)[0]


def speed(n: int, points: int, repeats: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, make in (("artime", _artime_scorer), ("ensemble", _ensemble_scorer)):
        runs = [_sweep(make, n, points, k) for k in range(repeats)]
        out[label] = {
            "points_per_cpu_s": round(statistics.median(r[0] for r in runs)),
            "second_half_points_per_cpu_s": round(statistics.median(r[1] for r in runs)),
        }
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        kept = _sweep(make, n, points, 99)[2]
        out[label]["bytes_per_series"] = round((tracemalloc.get_traced_memory()[0] - before) / n)
        tracemalloc.stop()
        del kept
    out["series"], out["points"], out["repeats"] = n, points, repeats
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT)
    ap.add_argument("--only", nargs="*", default=["gap", "nested", "null", "speed"])
    ap.add_argument("--threshold", type=float, default=0.277, help="ARTime's nab-dev threshold")
    ap.add_argument("--profiles", nargs="*", default=["standard", "reward_low_FP_rate"])
    ap.add_argument(
        "--detector-sets", nargs="*", default=["spike+noise", "base"], help="of bench.nab_cv"
    )
    ap.add_argument("--tail-alphas", nargs="*", type=float, default=list(GRID["tail_alpha"]))
    ap.add_argument("--null-w", type=float, help="null: max(w * artime, ensemble) instead")
    ap.add_argument("--null-series", type=int, default=5)
    ap.add_argument("--series", type=int, default=500)
    ap.add_argument("--points", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    report: dict[str, Any] = {}
    files = load(args.data) if {"gap", "nested"} & set(args.only) else {}
    if "gap" in args.only:
        report["gap"] = gap(files)
    if "nested" in args.only:
        report["nested"] = nested(files, args.profiles, args.detector_sets, args.tail_alphas)
    if "null" in args.only:
        alarms = null(args.threshold, args.null_series, args.null_w)
        report["null"] = {"threshold": args.threshold, "w": args.null_w, **alarms}
        print("null", report["null"], file=sys.stderr)
    if "speed" in args.only:
        report["speed"] = speed(args.series, args.points, args.repeats)
        print("speed", report["speed"], file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(report, default=float))


if __name__ == "__main__":
    main()
