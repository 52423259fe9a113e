"""Cross-validated NAB scores of the metric detector on ../shared/data/nab-dev.

Every tuned constant is chosen by cross-validation: for each fold (leave one series out, or
leave one category out), the grid point with the best NAB score on the *other* series is
chosen, and the held-out series is scored with it. Two held-out figures:

- **pooled**: the held-out scores of all folds put together and scored with NAB's
  one-threshold optimiser, as a held-out corpus is measured (the threshold is NAB's, the
  constants are never chosen on the series they score);
- **strict**: each held-out series scored at the threshold chosen on its training folds too.

Beside them: the in-sample figure (the grid point best on all 13 series) and, per tuned
constant, a sensitivity table (each value with the other constants at their defaults).
Scores are computed in-process with :func:`netvigil.analytics.series.score_series`, the
function the ``netvigil detect`` command runs (``bench.nab_eval`` checks the CLI end to end).

    python -m bench.nab_cv [--data ../shared/data/nab-dev] [--out FILE.json] [--grid small|full]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bench.nab_eval import DEFAULT, corpus
from bench.nabscore import PROFILES, FileScoring, prepare, score_corpus
from netvigil.analytics.ensemble import DETECTORS, EnsembleConfig
from netvigil.analytics.hygiene import OnsetFilter
from netvigil.analytics.series import ONSET_LEVEL, SeriesScores, score_series
from netvigil.cli.analytics import parse_timestamp

Files = dict[str, tuple[list[str], list[tuple[int, int]], np.ndarray, np.ndarray]]

#: the tuned constants and the values tried (defaults are EnsembleConfig's and ONSET_LEVEL)
GRID: dict[str, tuple[Any, ...]] = {
    "error_alpha": (0.002, 0.003, 0.005, 0.01),
    "hist_alpha": (0.002, 0.005, 0.01),
    "tail_alpha": (0.0, 0.001, 0.003),
    "detectors": ("spike+noise", "base", "base+context"),
    "onset_level": (0.3, 0.4, 0.5, 0.6),
}
#: detector sets compared at the default constants (in-sample; not a grid dimension)
ABLATION = {
    "spike": ("spike",),
    "spike+noise (the previous scorer)": ("spike", "noise"),
    "base - shift": ("spike", "drift", "noise"),
    "base - drift": ("spike", "shift", "noise"),
    "base - noise": ("spike", "shift", "drift"),
    "base": ("spike", "shift", "drift", "noise"),
    "base + context": ("spike", "shift", "drift", "noise", "context"),
    "base + hst": ("spike", "shift", "drift", "noise", "hst"),
    "context": ("context",),
    "hst": ("hst",),
}
DETECTOR_SETS = {
    "spike+noise": ("spike", "noise"),
    "base": ("spike", "shift", "drift", "noise"),
    "base+context": ("spike", "shift", "drift", "noise", "context"),
}
#: applied after scoring (no rescoring needed per value)
POST = ("onset_level",)


def load(data: Path) -> Files:
    out: Files = {}
    for name, (stamps, windows) in corpus(data).items():
        rows = (data / "data" / name).read_text().splitlines()[1:]
        values = np.array([float(r.split(",")[1]) for r in rows])
        ts = np.array([parse_timestamp(s) for s in stamps])
        out[name] = (stamps, windows, ts, values)
    return out


def folds(files: Iterable[str]) -> tuple[list[list[str]], list[list[str]]]:
    """The cross-validation folds: leave one series out, leave one category out."""
    names = list(files)
    cats = sorted({n.split("/")[0] for n in names})
    return [[n] for n in names], [[n for n in names if n.startswith(c + "/")] for c in cats]


def make_config(params: Mapping[str, Any]) -> EnsembleConfig:
    """An ensemble configuration from grid parameters (the others at their defaults)."""
    base = EnsembleConfig()
    seasonal = base.seasonal
    if "error_alpha" in params:
        seasonal = dataclasses.replace(seasonal, error_alpha=params["error_alpha"])
    fields = {f.name for f in dataclasses.fields(EnsembleConfig)}
    kw = {k: v for k, v in params.items() if k in fields}
    if kw.get("detectors") in DETECTOR_SETS:
        kw["detectors"] = DETECTOR_SETS[kw["detectors"]]
    return dataclasses.replace(base, seasonal=seasonal, **kw)


def run(files: Files, params: Mapping[str, Any]) -> dict[str, SeriesScores]:
    """Scores without the onset filter (``onset`` applies it for any level)."""
    cfg = make_config(params)
    return {
        n: score_series(ts.tolist(), vals.tolist(), cfg, onset_level=math.inf)
        for n, (_, _, ts, vals) in files.items()
    }


def onset(scores: Mapping[str, SeriesScores], level: float) -> dict[str, SeriesScores]:
    out = {}
    for n, s in scores.items():
        f = OnsetFilter(level=level)
        out[n] = SeriesScores([f(x) for x in s.scores], s.detectors)
    return out


def prepared(files: Files, scores: Mapping[str, SeriesScores]) -> dict[str, FileScoring]:
    return {n: prepare(len(files[n][0]), files[n][1], scores[n].scores) for n in files}


def _raw_at(f: FileScoring, threshold: float, profile: str) -> float:
    p = PROFILES[profile]
    hit = f.scores >= threshold
    raw = float(np.sum(f.sigmoid[hit & (f.window < 0)])) * p.fp
    for w in sorted(set(f.window[f.window >= 0].tolist())):
        rows = np.flatnonzero(hit & (f.window == w))
        raw += f.sigmoid[rows[0]] * p.tp if len(rows) else -p.fn
    return raw


def cross_validate(
    results: Mapping[tuple[Any, ...], dict[str, FileScoring]],
    folds: Iterable[list[str]],
    profile: str,
) -> dict[str, Any]:
    """Choose the grid point on the training series of each fold, score the held-out ones."""
    held: dict[str, FileScoring] = {}
    chosen: dict[str, list[Any]] = {}
    strict_raw = 0.0
    n_windows = 0
    for test in folds:
        best_key, best = None, -1e9
        best_threshold = 1.1
        for key, prep in results.items():
            train = {n: f for n, f in prep.items() if n not in test}
            r = score_corpus(train, profile)
            if float(r["score"]) > best:  # type: ignore[arg-type]
                best_key, best, best_threshold = key, float(r["score"]), float(r["threshold"])  # type: ignore[arg-type]
        assert best_key is not None
        for n in test:
            f = results[best_key][n]
            held[n] = f
            chosen[n] = list(best_key)
            strict_raw += _raw_at(f, best_threshold, profile)
            n_windows += f.n_windows
    pooled = score_corpus(held, profile)
    p = PROFILES[profile]
    null, perfect = -p.fn * n_windows, p.tp * n_windows
    strict = 100.0 * (strict_raw - null) / (perfect - null)
    return {
        "pooled": pooled["score"],
        "pooled_threshold": pooled["threshold"],
        "strict": strict,
        "chosen": chosen,
        "held": held,
    }


def caught_by(files: Files, scores: Mapping[str, SeriesScores], t: float) -> list[dict[str, Any]]:
    """Per labelled window: detected or not at threshold ``t``, and which detector fired."""
    out = []
    for name, (stamps, windows, _, _) in files.items():
        s = np.asarray(scores[name].scores)
        for a, b in windows:
            rows = np.flatnonzero(s[a : b + 1] >= t)
            det = scores[name].detectors[a + rows[0]] if len(rows) else None
            out.append({"file": name, "window": [stamps[a], stamps[b]], "detector": det})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    files = load(args.data)
    t0 = time.perf_counter()
    keys = list(GRID)
    results: dict[tuple[Any, ...], dict[str, FileScoring]] = {}
    raw_scores: dict[tuple[Any, ...], dict[str, SeriesScores]] = {}
    model_keys = [k for k in keys if k not in POST]
    for combo in itertools.product(*(GRID[k] for k in model_keys)):
        params = dict(zip(model_keys, combo, strict=True))
        unfiltered = run(files, params)
        for level in GRID["onset_level"]:
            full = {**params, "onset_level": level}
            key = tuple(full[k] for k in keys)
            raw_scores[key] = onset(unfiltered, level)
            results[key] = prepared(files, raw_scores[key])
        print(f"{params} {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    report: dict[str, Any] = {"grid": {k: list(v) for k, v in GRID.items()}, "cv": {}}
    loso, loco = folds(files)
    default = tuple(make_default(k) for k in keys)
    for profile in PROFILES:
        insample = max(results, key=lambda k: float(score_corpus(results[k], profile)["score"]))  # type: ignore[arg-type]
        row: dict[str, Any] = {
            "default": score_corpus(results[default], profile)["score"],
            "insample_best": score_corpus(results[insample], profile)["score"],
            "insample_best_at": dict(zip(keys, insample, strict=True)),
        }
        for label, fold in (("loso", loso), ("loco", loco)):
            cv = cross_validate(results, fold, profile)
            row[label] = {"pooled": cv["pooled"], "strict": cv["strict"], "chosen": cv["chosen"]}
            if label == "loso" and profile == "standard":
                held = {n: raw_scores[tuple(k)][n] for n, k in cv["chosen"].items()}
                report["caught_by_cv"] = caught_by(files, held, cv["pooled_threshold"])
        report["cv"][profile] = row
    # every grid point on its own: held-out scores with its constants fixed (strict: the
    # threshold comes from the training folds too, so LOCO strict measures whether one
    # threshold carries over from one kind of series to another)
    points = []
    for key, prep in results.items():
        a = cross_validate({key: prep}, loco, "standard")
        b = cross_validate({key: prep}, loso, "standard")
        points.append(
            {
                "at": dict(zip(keys, key, strict=True)),
                "insample": score_corpus(prep, "standard")["score"],
                "loso_strict": b["strict"],
                "loco_pooled": a["pooled"],
                "loco_strict": a["strict"],
            }
        )
    points.sort(key=lambda r: -float(r["loco_strict"]))
    report["points_by_loco_strict"] = points[:15]
    # sensitivity: one constant at a time, the others at their defaults
    sens: dict[str, list[dict[str, Any]]] = {}
    for i, k in enumerate(keys):
        rows = []
        for v in GRID[k]:
            key = (*default[:i], v, *default[i + 1 :])
            rows.append(
                {"value": v, **{p: score_corpus(results[key], p)["score"] for p in PROFILES}}
            )
        sens[k] = rows
    report["sensitivity"] = sens
    std = score_corpus(results[default], "standard")
    report["caught_by"] = caught_by(files, raw_scores[default], std["threshold"])  # type: ignore[arg-type]
    report["per_file_default"] = std["per_file"]
    report["calibration"] = {
        cal: {
            p: score_corpus(
                prepared(files, onset(run(files, {"calibration": cal}), ONSET_LEVEL)), p
            )["score"]
            for p in PROFILES
        }
        for cal in ("average", "tail", "raw")
    }
    ablation = {}
    for label, dets in ABLATION.items():
        prep = prepared(files, onset(run(files, {"detectors": dets}), ONSET_LEVEL))
        ablation[label] = {p: score_corpus(prep, p)["score"] for p in PROFILES}
    report["ablation"] = ablation
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    report["detectors"] = list(EnsembleConfig().detectors)
    report["all_detectors"] = list(DETECTORS)
    text = json.dumps(report, indent=1, default=float)
    if args.out:
        args.out.write_text(text)
    print(text)


def make_default(key: str) -> Any:
    cfg = EnsembleConfig()
    if key == "error_alpha":
        return cfg.seasonal.error_alpha
    if key == "onset_level":
        return ONSET_LEVEL
    if key == "detectors":
        return next(k for k, v in DETECTOR_SETS.items() if v == cfg.detectors)
    return getattr(cfg, key)


if __name__ == "__main__":
    main()
