"""Cross-validated NAB scores on ../shared/data/nab-dev: CAD-OSE, the ensemble, and both.

Three detectors, each with the constants it could be tuned on, scored by NAB's rules
(``bench/nabscore.py``) as ``bench.nab_cv`` does:

- ``cadose``: online CAD-OSE (:mod:`netvigil.analytics.cadose`). Grid: ``bits`` x
  ``warmup`` (each a run of the detector) x ``base_threshold`` x ``rest_period`` (applied
  to the raw scores afterwards, as :class:`~netvigil.analytics.cadose.RestPeriod` does online).
  The published constants are one grid point (bits 3, warmup 750, 0.75, rest 150).
- ``ensemble``: the service's detector, ``bench.nab_cv``'s grid (288 points).
- ``max``: the larger of the two scores, CAD-OSE at its published constants and the
  ensemble over its grid (no constant of its own).

(``bits`` 4 is tried one at a time only; ``max_left_len`` and ``max_active_neurons`` are
not varied: each value is another ~140 CPU seconds.)

Per detector and profile: in-sample (the published/default point; and the best grid point),
the default point's LOSO / LOCO strict (its threshold chosen on the other series), and the
**nested** figures: in each fold every constant *and* the threshold are chosen on the
training series only (LOSO: leave one series out; LOCO: one category out), pooled (held-out
scores put together, NAB's threshold) and strict. Plus a sensitivity table per CAD-OSE
constant (the others at the published values).

    python -m bench.nab_cadose_cv [--data ../shared/data/nab-dev] [--out F.json] [--cadose-only]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.nab_cv import (
    GRID,
    POST,
    Files,
    cross_validate,
    folds,
    load,
    make_default,
    onset,
    run,
)
from bench.nab_eval import DEFAULT
from bench.nabscore import PROFILES, FileScoring, prepare, score_corpus
from netvigil.analytics.cadose import CadOse, CadOseConfig, OnlineCadOse, RestPeriod

Key = tuple[Any, ...]
Prepared = dict[Key, dict[str, FileScoring]]

#: CAD-OSE's constants and the values tried; the first of each is the published one
CADOSE_GRID: dict[str, tuple[Any, ...]] = {
    "bits": (3,),
    "warmup": (750, 375, 1500),
    "base_threshold": (0.75, 0.6, 0.9),
    "rest_period": (150, 75, 300),
}
#: CAD-OSE's structural constants, moved one at a time (sensitivity only: not in the grid)
#: (one online run over nab-dev costs ~140 CPU seconds, so the grid is kept small)
CADOSE_EXTRA: dict[str, tuple[Any, ...]] = {"bits": (4,)}
PUBLISHED = tuple(v[0] for v in CADOSE_GRID.values())


def cadose_raw(values: Sequence[float], config: CadOseConfig) -> list[float]:
    """Online CAD-OSE's raw scores (before the rest period): the range is that of the first
    ``warmup`` values, and every value is fed in order (as :class:`OnlineCadOse` replays
    its warm-up)."""
    head = values[: config.warmup]
    det = CadOse(min(head), max(head), config, extend=True)
    raws = [det.raw(v) for v in values]
    assert det.resets == 0
    return raws


def rest(raws: Sequence[float], warmup: int, threshold: float, period: int) -> list[float]:
    """The reported scores: the rest period, and 0 while the range is learned."""
    gate = RestPeriod(threshold, period)
    out = [gate(r) for r in raws]
    return [0.0] * min(warmup, len(out)) + out[warmup:]


def _prep(files: Files, scores: Mapping[str, Sequence[float]]) -> dict[str, FileScoring]:
    return {n: prepare(len(files[n][0]), files[n][1], scores[n]) for n in files}


def cadose_grid(
    files: Files, log: Any, extra_runs: bool = True
) -> tuple[Prepared, dict[str, dict[str, Any]], dict[str, list[float]]]:
    """The CAD-OSE grid prepared for scoring, the one-at-a-time variants, and the scores at
    the published constants."""
    t0 = time.process_time()
    out: Prepared = {}
    published: dict[str, list[float]] = {}
    for bits, warmup in itertools.product(CADOSE_GRID["bits"], CADOSE_GRID["warmup"]):
        cfg = CadOseConfig(bits=bits, warmup=warmup)
        raws = {n: cadose_raw(v.tolist(), cfg) for n, (_, _, _, v) in files.items()}
        for thr, period in itertools.product(
            CADOSE_GRID["base_threshold"], CADOSE_GRID["rest_period"]
        ):
            scores = {n: rest(r, warmup, thr, period) for n, r in raws.items()}
            out[(bits, warmup, thr, period)] = _prep(files, scores)
            if (bits, warmup, thr, period) == PUBLISHED:
                published = scores
        log(f"cadose bits {bits} warmup {warmup}: {time.process_time() - t0:.0f} cpu s")
    extra: dict[str, dict[str, Any]] = {}
    for name, values in CADOSE_EXTRA.items() if extra_runs else ():
        for value in values:
            cfg = CadOseConfig(**{name: value})
            scores = {
                n: rest(cadose_raw(v.tolist(), cfg), cfg.warmup, 0.75, 150)
                for n, (_, _, _, v) in files.items()
            }
            extra[f"{name}={value}"] = _prep(files, scores)
            log(f"cadose {name} {value}: {time.process_time() - t0:.0f} cpu s")
    return out, extra, published


def ensemble_grid(files: Files, log: Any) -> tuple[Prepared, dict[Key, dict[str, list[float]]]]:
    """``bench.nab_cv``'s grid of the ensemble: prepared, and the scores themselves."""
    keys = list(GRID)
    model_keys = [k for k in keys if k not in POST]
    prepared: Prepared = {}
    scores: dict[Key, dict[str, list[float]]] = {}
    t0 = time.process_time()
    for combo in itertools.product(*(GRID[k] for k in model_keys)):
        params = dict(zip(model_keys, combo, strict=True))
        unfiltered = run(files, params)
        for level in GRID["onset_level"]:
            key = tuple({**params, "onset_level": level}[k] for k in keys)
            scores[key] = {n: s.scores for n, s in onset(unfiltered, level).items()}
            prepared[key] = _prep(files, scores[key])
    log(f"ensemble grid: {time.process_time() - t0:.0f} cpu s")
    return prepared, scores


def summary(results: Prepared, default: Key, files: Files) -> dict[str, Any]:
    """In-sample, the default point's held-out figures and the nested CV, per profile."""
    loso, loco = folds(files)
    out: dict[str, Any] = {}
    for p in PROFILES:
        best = max(results, key=lambda k: float(score_corpus(results[k], p)["score"]))  # type: ignore[arg-type]
        fixed = {default: results[default]}
        row: dict[str, Any] = {
            "in_sample": score_corpus(results[default], p)["score"],
            "in_sample_best": score_corpus(results[best], p)["score"],
            "in_sample_best_at": list(best),
            "loso_strict": cross_validate(fixed, loso, p)["strict"],
            "loco_strict": cross_validate(fixed, loco, p)["strict"],
        }
        for label, fold in (("loso", loso), ("loco", loco)):
            cv = cross_validate(results, fold, p)
            row[f"nested_{label}_pooled"] = cv["pooled"]
            row[f"nested_{label}_strict"] = cv["strict"]
            row[f"nested_{label}_chosen"] = sorted({tuple(k) for k in cv["chosen"].values()})
        out[p] = row
    return out


def sensitivity(results: Prepared, extra: Mapping[str, dict[str, FileScoring]]) -> dict[str, Any]:
    """In-sample score per CAD-OSE constant value, the others at the published ones."""
    out: dict[str, Any] = {}
    for i, name in enumerate(CADOSE_GRID):
        out[name] = {
            str(v): {
                p: score_corpus(results[(*PUBLISHED[:i], v, *PUBLISHED[i + 1 :])], p)["score"]
                for p in PROFILES
            }
            for v in CADOSE_GRID[name]
        }
    for label, prep in extra.items():
        name, value = label.split("=")
        out.setdefault(name, {})[value] = {p: score_corpus(prep, p)["score"] for p in PROFILES}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT)
    ap.add_argument("--out", type=Path)
    ap.add_argument(
        "--cadose-only",
        action="store_true",
        help="only CAD-OSE's grid (no one-at-a-time bits 4, no ensemble grid, no max)",
    )
    args = ap.parse_args()

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    files = load(args.data)
    # the bench's raw-then-rest path is the detector's own online path
    first = min(files.values(), key=lambda f: len(f[3]))[3].tolist()
    online = OnlineCadOse()
    assert rest(cadose_raw(first, CadOseConfig()), 750, 0.75, 150) == [
        online.score(v) for v in first
    ]
    cad, extra, cad_default = cadose_grid(files, log, not args.cadose_only)
    report: dict[str, Any] = {
        "cadose_grid": {k: list(v) for k, v in CADOSE_GRID.items()},
        "cadose": summary(cad, PUBLISHED, files),
        "cadose_sensitivity": sensitivity(cad, extra),
    }
    if not args.cadose_only:
        ens, ens_scores = ensemble_grid(files, log)
        ens_default = tuple(make_default(k) for k in GRID)
        both: Prepared = {
            key: _prep(files, {n: np.maximum(cad_default[n], s[n]).tolist() for n in files})
            for key, s in ens_scores.items()
        }
        report["ensemble_grid"] = {k: list(v) for k, v in GRID.items()}
        report["ensemble"] = summary(ens, ens_default, files)
        report["max"] = summary(both, ens_default, files)
    for det in ("cadose", "ensemble", "max") if not args.cadose_only else ("cadose",):
        for p in PROFILES:
            r = report[det][p]
            log(
                f"{det:9s} {p:18s} in {r['in_sample']:5.1f} best {r['in_sample_best']:5.1f} "
                f"LOSO strict {r['loso_strict']:5.1f} LOCO strict {r['loco_strict']:5.1f} | "
                f"nested LOSO {r['nested_loso_pooled']:5.1f}/{r['nested_loso_strict']:5.1f} "
                f"LOCO {r['nested_loco_pooled']:5.1f}/{r['nested_loco_strict']:5.1f}"
            )
    text = json.dumps(report, indent=1, default=float)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
