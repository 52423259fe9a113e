"""The warm-up of the metric score, chosen by cross-validation on nab-dev, with its cost.

The warm-up only masks output (the first ``warmup`` points score 0; every statistic learns
from the first point), so one run per series with no warm-up gives the scores of every
warm-up by zeroing a prefix. Per warm-up ``W``, at the default constants and onset level:

- NAB's three profiles in-sample, LOSO strict and LOCO strict (``bench.nab_cv``'s folds),
  and the warm-up chosen per fold among all of them (nested over ``W`` alone);
- **early alarms**: reports at or above the in-sample threshold on points that NAB does not
  score (from ``W`` to the end of the probation, outside labelled windows) on nab-dev, and
  on the anomaly-free shapes of ``bench.null_series`` (from ``W`` to point 600), per 1,000
  such points: what a short warm-up costs where no anomaly is labelled, which NAB's scorer
  cannot see because its probation hides the first 15 % of every file.

The nested figures over the other tuned constants, per warm-up, come from
``python -m bench.nab_nested --set warmup=W``.

    python -m bench.nab_warmup [--data ../shared/data/nab-dev] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from bench.nab_cv import cross_validate, folds, load, onset, prepared, run
from bench.nab_eval import DEFAULT
from bench.nabscore import PROFILES, score_corpus
from bench.null_series import SHAPES, STEP, N
from netvigil.analytics.ensemble import EnsembleConfig
from netvigil.analytics.series import ONSET_LEVEL, SeriesScores, score_series

WARMUPS = (10, 20, 30, 50, 100, 200, 400)
NULL_END = 600
"""Early alarms on the anomaly-free shapes are counted up to here (bench.null_series'
probation: 15 % of its 4,000 points)."""


def masked(scores: dict[str, SeriesScores], warmup: int) -> dict[str, SeriesScores]:
    return {
        n: SeriesScores([0.0] * warmup + s.scores[warmup:], s.detectors) for n, s in scores.items()
    }


def early_alarms(
    filtered: dict[str, SeriesScores], spans: dict[str, tuple[int, int]], threshold: float
) -> float:
    """Reports >= ``threshold`` per 1,000 points of each series' ``spans`` (start, end)."""
    hits = points = 0
    for n, (a, b) in spans.items():
        s = filtered[n].scores[a:b]
        hits += sum(1 for x in s if x >= threshold)
        points += max(b - a, 0)
    return round(1000.0 * hits / points, 3) if points else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT)
    ap.add_argument("--series", type=int, default=5, help="anomaly-free series per shape")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    files = load(args.data)
    unfiltered = run(files, {"warmup": 0})
    cfg = EnsembleConfig(warmup=0)
    t = (1.7e9 + STEP * np.arange(N)).tolist()
    null_raw = {
        f"{shape}/{k}": score_series(
            t,
            gen(np.random.default_rng(1000 + k), np.asarray(t)).tolist(),
            cfg,
            onset_level=math.inf,
        )
        for shape, gen in SHAPES.items()
        for k in range(args.series)
    }
    loso, loco = folds(files)
    results = {}
    rows: list[dict[str, Any]] = []
    for w in WARMUPS:
        filt = onset(masked(unfiltered, w), ONSET_LEVEL)
        prep = results[(w,)] = prepared(files, filt)
        row: dict[str, Any] = {"warmup": w}
        for p in PROFILES:
            r = score_corpus(prep, p)
            row[p] = {
                "in": r["score"],
                "threshold": r["threshold"],
                "loso_strict": cross_validate({(w,): prep}, loso, p)["strict"],
                "loco_strict": cross_validate({(w,): prep}, loco, p)["strict"],
            }
        threshold = float(row["standard"]["threshold"])
        spans = {}
        for n, (_, windows, _, _) in files.items():
            prob = int(min(math.floor(0.15 * len(files[n][0])), 750))
            end = min([prob, *(a for a, _ in windows)])
            spans[n] = (w, end)
        row["early_alarms_nab_dev"] = early_alarms(filt, spans, threshold)
        null = onset(masked(null_raw, w), ONSET_LEVEL)
        row["early_alarms_null"] = early_alarms(null, dict.fromkeys(null, (w, NULL_END)), threshold)
        rows.append(row)
        print(json.dumps(row, default=float))
    nested = {
        p: {
            label: {
                k: v
                for k, v in cross_validate(results, fold, p).items()
                if k in ("pooled", "strict", "chosen")
            }
            for label, fold in (("loso", loso), ("loco", loco))
        }
        for p in PROFILES
    }
    report = {"rows": rows, "nested_over_warmup": nested}
    text = json.dumps(report, indent=1, default=float)
    if args.json:
        args.json.write_text(text)
    print(
        json.dumps(
            {p: {k: (v["pooled"], v["strict"]) for k, v in d.items()} for p, d in nested.items()},
            default=float,
        )
    )


if __name__ == "__main__":
    main()
