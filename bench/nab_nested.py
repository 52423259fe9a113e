"""Nested cross-validation of one detector *variant* on nab-dev, over a compact grid.

A variant is a set of fixed :class:`~netvigil.analytics.ensemble.EnsembleConfig` settings
(``--set detectors=spike,noise,slow``); the constants the default tunes are then re-chosen
inside every fold over the compact grid (``error_alpha`` x ``hist_alpha`` x onset level,
48 points: the grid ``bench.nab_artime --only nested`` used for "the ensemble alone"), so
the nested figures of two variants are comparable and each is the held-out estimate of the
procedure "this variant, its constants tuned on nab-dev". Beside them: the variant at the
default constants (in-sample, LOSO and LOCO strict) and the in-sample best point.

With several ``--variant`` (each a quoted list of ``KEY=VALUE``), the variant is one more
dimension of the nested grid: every fold chooses the variant too, so the nested figures are
the held-out estimate of "choose among these variants and constants on nab-dev".

    python -m bench.nab_nested [--data ../shared/data/nab-dev] [--set KEY=VALUE ...]
                               [--variant "KEY=VALUE ..." ...] [--json FILE]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench.nab_cv import Files, cross_validate, folds, load, onset, prepared, run
from bench.nab_eval import DEFAULT
from bench.nabscore import PROFILES, FileScoring, score_corpus
from netvigil.analytics.ensemble import EnsembleConfig
from netvigil.analytics.series import ONSET_LEVEL

COMPACT: dict[str, tuple[float, ...]] = {
    "error_alpha": (0.002, 0.003, 0.005, 0.01),
    "hist_alpha": (0.002, 0.005, 0.01),
    "onset_level": (0.3, 0.4, 0.5, 0.6),
}


def parse_set(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs: a comma list becomes a tuple of names, a number a float."""
    out: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        if key == "detectors":
            out[key] = tuple(value.split(","))
        else:
            try:
                out[key] = float(value)
            except ValueError:
                out[key] = value
    return out


def grid_results(
    files: Files, fixed: dict[str, Any], variants: list[dict[str, Any]]
) -> dict[tuple[Any, ...], dict[str, FileScoring]]:
    results = {}
    t0 = time.process_time()
    for (i, var), ea, ha in itertools.product(
        enumerate(variants), COMPACT["error_alpha"], COMPACT["hist_alpha"]
    ):
        unfiltered = run(files, {**fixed, **var, "error_alpha": ea, "hist_alpha": ha})
        for level in COMPACT["onset_level"]:
            results[(i, ea, ha, level)] = prepared(files, onset(unfiltered, level))
        print(
            f"error_alpha {ea} hist_alpha {ha}: {time.process_time() - t0:.0f} CPU s",
            file=sys.stderr,
        )
    return results


def evaluate(
    files: Files, fixed: dict[str, Any], variants: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Nested figures of ``variants`` (each with ``fixed`` under it); the "default" point
    is the first variant at the default constants."""
    variants = variants or [{}]
    results = grid_results(files, fixed, variants)
    cfg = EnsembleConfig()
    default = (0, cfg.seasonal.error_alpha, cfg.hist_alpha, ONSET_LEVEL)
    loso, loco = folds(files)
    out: dict[str, Any] = {
        "fixed": {k: list(v) if isinstance(v, tuple) else v for k, v in fixed.items()}
    }
    for p in PROFILES:
        best = max(results, key=lambda k: float(score_corpus(results[k], p)["score"]))  # type: ignore[arg-type]
        point = {"default": results[default]}
        row: dict[str, Any] = {
            "default_in": score_corpus(results[default], p)["score"],
            # the variant's own NAB threshold (for bench.null_series --variant-threshold)
            "default_threshold": score_corpus(results[default], p)["threshold"],
            "default_loso_strict": cross_validate(point, loso, p)["strict"],
            "default_loco_strict": cross_validate(point, loco, p)["strict"],
            "insample_best": score_corpus(results[best], p)["score"],
            "insample_best_at": list(best),
        }
        for label, fold in (("loso", loso), ("loco", loco)):
            cv = cross_validate(results, fold, p)
            row[f"nested_{label}_pooled"] = cv["pooled"]
            row[f"nested_{label}_strict"] = cv["strict"]
            row[f"nested_{label}_variants"] = sorted({k[0] for k in cv["chosen"].values()})
        out[p] = row
        print(
            f"{p:20s} default {row['default_in']:.1f} (at {row['default_threshold']:.4f})"
            f" / LOSO {row['default_loso_strict']:.1f}"
            f" / LOCO {row['default_loco_strict']:.1f}; best in-sample {row['insample_best']:.1f};"
            f" nested LOSO {row['nested_loso_pooled']:.1f} / {row['nested_loso_strict']:.1f},"
            f" LOCO {row['nested_loco_pooled']:.1f} / {row['nested_loco_strict']:.1f};"
            f" variants chosen {row['nested_loso_variants']} / {row['nested_loco_variants']}",
            file=sys.stderr,
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT)
    ap.add_argument("--set", nargs="*", default=[], help="fixed EnsembleConfig settings")
    ap.add_argument("--variant", action="append", default=[], help="nested over these")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    variants = [parse_set(v.split()) for v in args.variant]
    report = evaluate(load(args.data), parse_set(args.set), variants)
    report["variants"] = args.variant
    text = json.dumps(report, indent=1, default=float)
    if args.json:
        args.json.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
