"""The correlator's window chosen by cross-validation on lab and twin runs:
``python -m bench.lab_window_cv --recordings DIR``.

Evidence: the recordings ``netvigil bench lab --record DIR`` wrote (each lab run and its
twin run of the same schedule), plus twin-only runs of the lab's fault schedule on Topology
Zoo graphs chosen by rule (the connected ones with 10 to 25 nodes, sorted by name, evenly
spaced; faults one every ``--interval`` s, so a window longer than that can merge two faults).
Every recording's anomalies are correlated again with each candidate ``window_s``
(:func:`netvigil.eval.rescore.rescore`: the correlator is a pure function of its input), and
scored like the benchmark: per window, harmful faults whose incident names the true root
cause first (``top1``), and false incidents.

Choice: the window maximising ``top1`` correct minus false incidents (a false incident costs
as much as a wrong root cause), ties to the longer window. Held-out figures come from
leave-one-topology-out: the window is chosen on every other topology's recordings and scored
on the held-out one; in-sample figures are every window on all recordings.
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
from netvigil.eval.rescore import Recording, faults_of, load_recording, rescore
from netvigil.lab.plan import LabPlan, lab_topology
from netvigil.streams.correlate import CorrelatorConfig
from netvigil.twin.source import SIM_EPOCH

WINDOWS = (30.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0)


def score(rec: Recording, window_s: float) -> dict[str, int]:
    topo = lab_topology(LabPlan.from_dict(rec.plan))
    report = rescore(
        rec.anomalies, faults_of(rec), topo, CorrelatorConfig(window_s=window_s), rec.grace_s
    )
    rows = report["faults"]
    harm = [r for r, h in zip(rows, rec.harmful, strict=True) if h]
    return {
        "harmful": len(harm),
        "detected": sum(1 for r in harm if r["detected_root_cause"] is not None),
        "top1": sum(1 for r in harm if r["rank"] == 1),
        "top3": sum(1 for r in harm if r["rank"] is not None and r["rank"] <= 3),
        "false": report["false_incidents"],
    }


def objective(cells: list[dict[str, int]]) -> int:
    return sum(c["top1"] - c["false"] for c in cells)


def choose(table: dict[float, list[dict[str, int]]]) -> float:
    return max(table, key=lambda w: (objective(table[w]), w))


def totals(cells: list[dict[str, int]]) -> dict[str, Any]:
    t = {k: sum(c[k] for c in cells) for k in ("harmful", "detected", "top1", "top3", "false")}
    n = max(t["harmful"], 1)
    return {**t, "top1_share": round(t["top1"] / n, 4), "top3_share": round(t["top3"] / n, 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--recordings", type=Path, default=None, help="bench lab --record folder")
    ap.add_argument("--twin-topologies", type=int, default=10)
    ap.add_argument("--faults", type=int, default=16)
    ap.add_argument("--interval", type=float, default=120.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--windows", default=",".join(f"{w:g}" for w in WINDOWS))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    windows = [float(w) for w in args.windows.split(",")]
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
        print(f"twin-only run on {topo.name}", file=sys.stderr)
    # per window, per recording
    cells = {w: [score(rec, w) for _, rec in recs] for w in windows}
    groups: dict[str, list[int]] = defaultdict(list)
    for i, (_, rec) in enumerate(recs):
        groups[rec.topology].append(i)
    folds = []
    for held, idx in sorted(groups.items()):
        train = {w: [c for i, c in enumerate(cells[w]) if i not in idx] for w in windows}
        w = choose(train)
        folds.append({"held_out": held, "window_s": w, **totals([cells[w][i] for i in idx])})
    chosen = choose(cells)
    out = {
        "recordings": [name for name, _ in recs],
        "in_sample": {f"{w:g}": totals(cells[w]) for w in windows},
        "chosen_on_all": chosen,
        "held_out": folds,
        "held_out_total": totals(
            [cells[f["window_s"]][i] for f in folds for i in groups[f["held_out"]]]
        ),
        "by_recording": {
            name: {f"{w:g}": cells[w][i] for w in windows} for i, (name, _) in enumerate(recs)
        },
    }
    for w in windows:
        print(f"window {w:>5g} s: {totals(cells[w])}")
    print(f"chosen on all: {chosen:g} s; held out: {out['held_out_total']}")
    for f in folds:
        print(f"  held out {f['held_out']}: window {f['window_s']:g} s, {f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
