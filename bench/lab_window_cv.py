"""The correlator's windows chosen by cross-validation on lab and twin runs:
``python -m bench.lab_window_cv --recordings DIR``.

Evidence: the recordings ``netvigil bench lab --record DIR`` wrote (each lab run and its
twin run of the same schedule), plus twin-only runs of the lab's fault schedule on Topology
Zoo graphs chosen by rule (the connected ones with 10 to 25 nodes, sorted by name, evenly
spaced; faults one every ``--interval`` s, so a window longer than that can merge two faults).
Every recording's anomalies are correlated again with each candidate pair of ``window_s``
(how long after a group's last strong symptom a new one may still join it) and ``reopen_s``
(how long a resolved incident takes its own symptoms back: a flap)
(:func:`netvigil.eval.rescore.rescore`: the correlator is a pure function of its input), and
scored like the benchmark: per pair, harmful faults whose incident names the true root cause
first (``top1``), and false incidents.

Choice: the pair maximising ``top1`` correct minus false incidents (a false incident costs
as much as a wrong root cause), ties to the longer windows. Held-out figures come from
leave-one-topology-out: the pair is chosen on every other topology's recordings and scored on
the held-out one; in-sample figures are every pair on all recordings. Set
``NETVIGIL_SHARED_DATA`` when ../shared/data is not beside the repository.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.rca_eval import pick_topologies
from netvigil.eval.lab import LabBench, run_twin_only
from netvigil.eval.rescore import (
    Recording,
    faults_of,
    load_recording,
    rescore,
    save_recording,
)
from netvigil.lab.plan import LabPlan, lab_topology
from netvigil.streams.correlate import CorrelatorConfig
from netvigil.twin.source import SIM_EPOCH

WINDOWS = (60.0, 90.0, 120.0, 180.0, 300.0)
REOPENS = (30.0, 45.0, 60.0, 90.0, 120.0)
Pair = tuple[float, float]


def score(rec: Recording, pair: Pair) -> dict[str, int]:
    return score_with(rec, CorrelatorConfig(window_s=pair[0], reopen_s=pair[1]))


def score_with(rec: Recording, cfg: CorrelatorConfig) -> dict[str, int]:
    """A recording correlated again with ``cfg``: its harmful faults detected, named first
    and within the first three, and its false incidents."""
    topo = lab_topology(LabPlan.from_dict(rec.plan))
    report = rescore(rec.anomalies, faults_of(rec), topo, cfg, rec.grace_s)
    rows = report["faults"]
    return cell([r for r, h in zip(rows, rec.harmful, strict=True) if h], report["false_incidents"])


def cell(harm: list[dict[str, Any]], false: int) -> dict[str, int]:
    """One run's figures: its harmful faults' rows detected, named first and within the first
    three, and its false incidents."""
    return {
        "harmful": len(harm),
        "detected": sum(1 for r in harm if r["detected_root_cause"] is not None),
        "top1": sum(1 for r in harm if r["rank"] == 1),
        "top3": sum(1 for r in harm if r["rank"] is not None and r["rank"] <= 3),
        "false": false,
    }


def objective(cells: list[dict[str, int]]) -> int:
    return sum(c["top1"] - c["false"] for c in cells)


def choose(table: dict[Pair, list[dict[str, int]]]) -> Pair:
    return max(table, key=lambda p: (objective(table[p]), p))


def folds(
    cells: dict[Pair, list[dict[str, int]]], groups: dict[str, list[int]]
) -> list[tuple[str, Pair]]:
    """Leave one topology out: for each topology (``groups``: its recordings' indexes in
    ``cells``), the pair chosen on every other topology's recordings."""
    return [
        (
            held,
            choose({p: [c for i, c in enumerate(cs) if i not in idx] for p, cs in cells.items()}),
        )
        for held, idx in sorted(groups.items())
    ]


def name(pair: Pair) -> str:
    return f"{pair[0]:g}/{pair[1]:g}"


def totals(cells: list[dict[str, int]]) -> dict[str, Any]:
    t = {k: sum(c[k] for c in cells) for k in ("harmful", "detected", "top1", "top3", "false")}
    n = max(t["harmful"], 1)
    return {**t, "top1_share": round(t["top1"] / n, 4), "top3_share": round(t["top3"] / n, 4)}


def emit(
    out: dict[str, Any], label: str, unit: str, held: list[dict[str, Any]], path: Path | None
) -> None:
    """Print a harness's in-sample figures (``out["in_sample"]``), its choice and each held-out
    fold, and write ``out`` to ``path`` as JSON."""
    for key, t in out["in_sample"].items():
        print(f"{label} {key:>9}{unit}: {t}")
    print(f"chosen on all: {out['chosen_on_all']}{unit}; held out: {out['held_out_total']}")
    for f in held:
        print(f"  held out {f['held_out']}: {f}")
    if path:
        path.write_text(json.dumps(out, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--recordings", type=Path, default=None, help="bench lab --record folder")
    ap.add_argument("--twin-topologies", type=int, default=10)
    ap.add_argument("--faults", type=int, default=16)
    ap.add_argument("--interval", type=float, default=120.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--windows", default=",".join(f"{w:g}" for w in WINDOWS))
    ap.add_argument("--reopens", default=",".join(f"{w:g}" for w in REOPENS))
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--save", type=Path, default=None, help="keep the twin-only recordings here")
    args = ap.parse_args()
    windows = [
        (float(w), float(r)) for w in args.windows.split(",") for r in args.reopens.split(",")
    ]
    recs: list[tuple[str, Recording]] = []
    if args.recordings:
        for f in sorted(args.recordings.glob("*.json")):
            rec = load_recording(f)
            recs.append((f"{rec.side}:{rec.topology}", rec))
    for topo in pick_topologies(args.twin_topologies, lo=10, hi=25) if args.twin_topologies else []:
        cfg = LabBench(
            topology=str(topo), faults=args.faults, seed=args.seed, interval_s=args.interval
        )
        _, rec = run_twin_only(cfg, SIM_EPOCH + 12 * 3600)
        recs.append((f"twin-only:{rec.topology}", rec))
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            save_recording(args.save / f"{topo.stem}-twin-only.json", rec)
        print(f"twin-only run on {topo.name}", file=sys.stderr)
    # per (window, reopen), per recording
    cells = {w: [score(rec, w) for _, rec in recs] for w in windows}
    groups: dict[str, list[int]] = defaultdict(list)
    for i, (_, rec) in enumerate(recs):
        groups[rec.topology].append(i)
    picks = folds(cells, groups)
    per_fold = [
        {"held_out": held, "pair": name(w), **totals([cells[w][i] for i in groups[held]])}
        for held, w in picks
    ]
    chosen = choose(cells)
    held_total = totals([cells[w][i] for held, w in picks for i in groups[held]])
    out = {
        "recordings": [n for n, _ in recs],
        "in_sample": {name(w): totals(cells[w]) for w in windows},
        "chosen_on_all": name(chosen),
        "held_out": per_fold,
        "held_out_total": held_total,
        "by_recording": {
            n: {name(w): cells[w][i] for w in windows} for i, (n, _) in enumerate(recs)
        },
    }
    emit(out, "window/reopen", " s", per_fold, args.json)


if __name__ == "__main__":
    main()
