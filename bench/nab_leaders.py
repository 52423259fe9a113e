"""NAB scores on ../shared/data/nab-dev of published NAB leaders as reimplemented here, untuned.

Each detector runs with its published constants (nothing is chosen on nab-dev); the only
fitted quantity is NAB's own corpus threshold. Figures per detector and profile:

- **in-sample**: NAB's optimiser over the 13 files (for an untuned detector, this is also the
  *pooled* held-out figure: the scores never depended on the other series);
- **LOSO / LOCO strict**: each held-out series (or category) scored at the threshold that
  NAB's optimiser chose on the *other* series: does one threshold carry over?

Detectors (see :mod:`netvigil.analytics.cadose` and :mod:`netvigil.analytics.artime`):

- ``cadose-nab``: CAD-OSE as NAB runs it (range = the file's min and max, a look-ahead; rest
  period = NAB's probation / 5). Only to check the reimplementation against NAB's figures.
- ``cadose``: CAD-OSE strictly online, as ``netvigil detect`` runs it (range learned on the
  first 750 points, rest period 150).
- ``*-2016``: the same with the earlier revision of CAD-OSE (no prediction gate).
- ``artime-nab``: ARTime as NAB runs it (range and probation from the whole file, a
  look-ahead). Only to check the reimplementation against NAB's figures.
- ``artime``: ARTime strictly online, as ``netvigil detect`` runs it (range learned on the
  first 750 points, later values clipped to it).
- ``ensemble``: NetVigil's previous detector (the service's ensemble + onset filter).
- ``max(X, ensemble)`` (X = cadose, artime): a combination with no constant (the larger of
  the two scores).
- ``max(w*X, ensemble)``: X's score scaled by ``w`` first (CAD-OSE's reports sit near
  0.75-1, the ensemble's near 0.4-0.5, so one NAB threshold cannot serve both unscaled);
  ``w`` is a tuned constant: in-sample per value, and nested LOSO / LOCO (``w`` and the
  threshold chosen on the training series of each fold, as ``bench.nab_cv`` does).

    python -m bench.nab_leaders [--data ../shared/data/nab-dev] [--only NAME ...] [--json F]
                                [--scores F]   # reuse the per-row scores of an earlier --json
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.nab_cv import Files, cross_validate, folds, load
from bench.nab_eval import DEFAULT
from bench.nabscore import PROFILES, FileScoring, prepare, score_corpus
from netvigil.analytics.artime import OnlineARTime, artime_scores
from netvigil.analytics.cadose import CadOseConfig, OnlineCadOse, cadose_scores
from netvigil.analytics.series import score_series

Detector = Callable[[Sequence[float], Sequence[float]], list[float]]


def _nab_rest(n: int) -> int:
    """NAB's rest period for CAD-OSE: its probation (15 %, at most 750 rows) / 5."""
    return int(min(math.floor(0.15 * n), 750) / 5.0)


def cadose_nab(gate: bool) -> Detector:
    def run(ts: Sequence[float], values: Sequence[float]) -> list[float]:
        cfg = CadOseConfig(rest_period=_nab_rest(len(values)), gate=gate)
        return cadose_scores(values, cfg)

    return run


def cadose_online(gate: bool) -> Detector:
    def run(ts: Sequence[float], values: Sequence[float]) -> list[float]:
        det = OnlineCadOse(CadOseConfig(gate=gate))
        return [det.score(v) for v in values]

    return run


def artime_online(ts: Sequence[float], values: Sequence[float]) -> list[float]:
    det = OnlineARTime()
    return [det.score(v) for v in values]


def ensemble(ts: Sequence[float], values: Sequence[float]) -> list[float]:
    return score_series(ts, values).scores


DETECTORS: dict[str, Detector] = {
    "cadose-nab": cadose_nab(True),
    "cadose-nab-2016": cadose_nab(False),
    "cadose": cadose_online(True),
    "cadose-2016": cadose_online(False),
    "artime-nab": lambda ts, values: artime_scores(values),
    "artime": artime_online,
    "ensemble": ensemble,
}
WEIGHED = ("cadose", "artime")
"""Detectors combined with the ensemble, as ``max(X, ensemble)`` and ``max(w*X, ensemble)``."""
WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)
"""Values of ``w`` in ``max(w*X, ensemble)``."""


def weighted(files: Files, runs: dict[str, dict[str, list[float]]], other: str) -> dict[str, Any]:
    """``max(w*other, ensemble)``: in-sample per ``w`` and nested cross-validation over it."""
    results = {
        (w,): {
            n: prepare(
                len(files[n][0]),
                files[n][1],
                np.maximum(w * np.asarray(runs[other][n]), runs["ensemble"][n]).tolist(),
            )
            for n in files
        }
        for w in WEIGHTS
    }
    loso, loco = folds(files)
    out: dict[str, Any] = {}
    for p in PROFILES:
        row: dict[str, Any] = {
            "in_sample": {w: score_corpus(results[(w,)], p)["score"] for w in WEIGHTS}
        }
        for label, fold in (("loso", loso), ("loco", loco)):
            cv = cross_validate(results, fold, p)
            row[f"nested_{label}"] = {
                "pooled": cv["pooled"],
                "strict": cv["strict"],
                "chosen": sorted({k[0] for k in cv["chosen"].values()}),
            }
        out[p] = row
    return out


def evaluate(files: Files, scores: dict[str, list[float]]) -> dict[str, Any]:
    prep: dict[str, FileScoring] = {
        n: prepare(len(files[n][0]), files[n][1], scores[n]) for n in files
    }
    loso, loco = folds(files)
    out: dict[str, Any] = {}
    for p in PROFILES:
        r = score_corpus(prep, p)
        out[p] = {
            "in_sample": r["score"],
            "threshold": r["threshold"],
            "per_file": r["per_file"],
            "loso_strict": cross_validate({(): prep}, loso, p)["strict"],
            "loco_strict": cross_validate({(): prep}, loco, p)["strict"],
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT)
    ap.add_argument("--only", nargs="*", default=None, help="detector names to run")
    ap.add_argument("--json", type=Path, help="write the report (and per-row scores) here")
    ap.add_argument("--scores", type=Path, help="reuse the per-row scores of an earlier --json")
    args = ap.parse_args()
    files = load(args.data)
    runs: dict[str, dict[str, list[float]]] = {}
    report: dict[str, Any] = {"detectors": {}, "cpu_s": {}}
    if args.scores:
        earlier = json.loads(args.scores.read_text())["scores"]
        runs = {k: v for k, v in earlier.items() if k in DETECTORS}
    for name, det in DETECTORS.items():
        if (args.only and name not in args.only) or name in runs:
            continue
        t0 = time.process_time()
        runs[name] = {n: det(ts.tolist(), v.tolist()) for n, (_, _, ts, v) in files.items()}
        report["cpu_s"][name] = round(time.process_time() - t0, 1)
    for a in WEIGHED:
        if a in runs and "ensemble" in runs:
            runs[f"max({a}, ensemble)"] = {
                n: np.maximum(runs[a][n], runs["ensemble"][n]).tolist() for n in files
            }
    for name, scores in runs.items():
        report["detectors"][name] = evaluate(files, scores)
    for a in WEIGHED:
        if a not in runs or "ensemble" not in runs:
            continue
        report[f"weighted_{a}"] = weighted(files, runs, a)
        for p, r in report[f"weighted_{a}"].items():
            cells = " ".join(f"{w}: {v:5.1f}" for w, v in r["in_sample"].items())
            lo, lc = r["nested_loso"], r["nested_loco"]
            print(
                f"max(w*{a}, ensemble) {p}: in-sample {cells} | nested LOSO pooled "
                f"{lo['pooled']:5.1f} strict {lo['strict']:5.1f} (w {lo['chosen']}), LOCO "
                f"pooled {lc['pooled']:5.1f} strict {lc['strict']:5.1f} (w {lc['chosen']})"
            )
    for name, r in report["detectors"].items():
        cells = "  ".join(
            f"{p.split('_')[-2] if p != 'standard' else 'std'} {r[p]['in_sample']:5.1f}"
            f" (LOSO {r[p]['loso_strict']:5.1f}, LOCO {r[p]['loco_strict']:5.1f})"
            for p in PROFILES
        )
        print(f"{name:24s} {cells}  thr {r['standard']['threshold']:.3f}")
    print("per file, standard profile (raw NAB score at the corpus threshold):")
    heads = list(report["detectors"])
    print(" " * 48 + " ".join(f"{h[:14]:>14s}" for h in heads))
    for n in files:
        row = " ".join(f"{report['detectors'][h]['standard']['per_file'][n]:14.3f}" for h in heads)
        print(f"{n[-48:]:48s}{row}")
    print("cpu s:", report["cpu_s"])
    if args.json:
        report["scores"] = runs
        args.json.write_text(json.dumps(report, default=float))


if __name__ == "__main__":
    main()
