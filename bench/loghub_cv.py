"""Leave-one-system-out cross-validation of the log miner's constants on ../shared/data/loghub-dev.

Every constant of :class:`~netvigil.analytics.logmining.MinerConfig` that changes grouping
(``sim_th``, ``sibling_k``) is searched on a grid. For each system in turn, the configuration
with the best mean grouping accuracy on the *other* systems is chosen and scored on the held-out
one: the mean of those held-out scores is what to expect on a system never seen. Beside it, the
in-sample figure (the configuration best on all systems, scored on the same systems) and the
default configuration's scores. The sensitivity tables move one constant at a time around the
default.

    python -m bench.loghub_cv [--data ../shared/data/loghub-dev] [--json] [--markdown]
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

from bench.loghub_eval import DEFAULT, grouping_accuracy, load
from netvigil.analytics.logmining import LogMiner, MinerConfig

GRID: dict[str, Sequence[float | int]] = {
    "sim_th": (0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9),
    "sibling_k": (2, 3, 4, 5, 6, 8, 12),
}

Corpus = dict[str, tuple[list[str], list[str]]]


def mine(config: MinerConfig, messages: Sequence[str]) -> list[str]:
    """Template of every message as it stands after all of them (what ``logs mine`` writes)."""
    miner = LogMiner(config)
    ids = [miner.add(m).template_id if m.strip() else 0 for m in messages]
    return [str(miner.resolve(i)) for i in ids]


def scores(config: MinerConfig, corpus: Corpus) -> dict[str, float]:
    return {
        name: grouping_accuracy(truth, mine(config, msgs)) for name, (msgs, truth) in corpus.items()
    }


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def cross_validate(corpus: Corpus, grid: dict[str, Sequence[float | int]]) -> dict[str, object]:
    names = list(corpus)
    keys = list(grid)
    configs = [dict(zip(keys, v, strict=True)) for v in itertools.product(*grid.values())]
    table = [scores(replace(MinerConfig(), **c), corpus) for c in configs]  # type: ignore[arg-type]

    def best(on: Sequence[str]) -> int:  # first of the best: the grid order breaks ties
        means = [_mean([row[n] for n in on]) for row in table]
        return max(range(len(configs)), key=lambda i: (round(means[i], 6), -i))

    folds = {}
    for held in names:
        i = best([n for n in names if n != held])
        folds[held] = {"chosen": configs[i], "held_out": table[i][held]}
    i_all = best(names)
    default = asdict(MinerConfig())
    i_def = next(
        (i for i, c in enumerate(configs) if all(default[k] == v for k, v in c.items())), None
    )
    sensitivity: dict[str, list[dict[str, object]]] = {}
    for key in keys:
        rows = []
        for v in grid[key]:
            c = {k: default[k] for k in keys} | {key: v}
            j = configs.index(c) if c in configs else None
            if j is not None:
                rows.append({key: v, **table[j], "mean": _mean(list(table[j].values()))})
        sensitivity[key] = rows
    return {
        "systems": names,
        "cv": {n: f["held_out"] for n, f in folds.items()},
        "cv_mean": _mean([f["held_out"] for f in folds.values()]),  # type: ignore[misc]
        "cv_chosen": {n: f["chosen"] for n, f in folds.items()},
        "in_sample_best": configs[i_all],
        "in_sample": table[i_all],
        "in_sample_mean": _mean(list(table[i_all].values())),
        "default": default,
        "default_scores": table[i_def] if i_def is not None else scores(MinerConfig(), corpus),
        "sensitivity": sensitivity,
    }


def markdown(report: dict[str, object]) -> str:
    names: list[str] = report["systems"]  # type: ignore[assignment]
    cv: dict[str, float] = report["cv"]  # type: ignore[assignment]
    ins: dict[str, float] = report["in_sample"]  # type: ignore[assignment]
    dflt: dict[str, float] = report["default_scores"]  # type: ignore[assignment]
    chosen: dict[str, dict[str, object]] = report["cv_chosen"]  # type: ignore[assignment]
    out = ["| system | held out (LOSO CV) | chosen on the other systems | in-sample | default |"]
    out.append("|---|---|---|---|---|")
    for n in names:
        c = ", ".join(f"{k}={v}" for k, v in chosen[n].items())
        out.append(f"| {n} | {cv[n]:.3f} | {c} | {ins[n]:.3f} | {dflt[n]:.3f} |")
    out.append(
        f"| **mean** | **{report['cv_mean']:.3f}** | | {report['in_sample_mean']:.3f} "
        f"| {_mean(list(dflt.values())):.3f} |"
    )
    sens: dict[str, list[dict[str, float]]] = report["sensitivity"]  # type: ignore[assignment]
    for key, rows in sens.items():
        out += [
            "",
            f"| {key} | " + " | ".join(names) + " | mean |",
            "|---" * (len(names) + 2) + "|",
        ]
        for r in rows:
            out.append(
                f"| {r[key]} | "
                + " | ".join(f"{r[n]:.3f}" for n in names)
                + f" | {r['mean']:.3f} |"
            )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    corpus = {d.name: load(d) for d in sorted(args.data.iterdir()) if d.is_dir()}
    report = cross_validate(corpus, GRID)
    print(json.dumps(report, indent=1) if args.json else markdown(report))


if __name__ == "__main__":
    main()
