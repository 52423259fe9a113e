"""``snmp.down_after`` and ``correlator.confirm_polls`` chosen by cross-validation on the twin:
``python -m bench.confirm_cv [--topologies 10] [--jobs 2] [--json FILE]``.

What they trade: a lone SNMP poll timeout (the device and its neighbours fine; the lab's
loaded machine gave one in about 90 polls) is a ``device down`` incident unless the poller
waits for more failed polls in a row (``down_after``) or the correlator holds an
unreachability that nothing corroborates for ``confirm_polls`` poll intervals; waiting delays
a real device failure only when no neighbour reports it. The twin polls every
``twin.step_s`` (10 s), so ``confirm_polls`` x 10 s is the correlator's ``confirm_s``.

Evidence: the RCA benchmark (``netvigil bench rca``: 20 faults of five kinds, benign
anomalies, 10 % telemetry loss, seed 7) on Topology Zoo graphs chosen by rule (the RCA
benchmark's 20, every other one), each run four ways: without poll timeouts and with
:data:`~netvigil.twin.faults.POLL_TIMEOUT_SHARE` of polls timing out alone, at ``down_after``
1 and 2. Each run records what its correlator read (anomalies and clock ticks), which is
correlated again for every ``confirm_polls`` (the correlator is a pure function of its input:
:func:`netvigil.eval.rescore.rescore`). A pair (``down_after``, ``confirm_polls``) is scored on a
topology's two runs (with and without timeouts) as faults named first minus false incidents,
as ``bench/lab_window_cv.py`` scores windows; ties go to the faster pair (smaller
``confirm_polls``, then ``down_after``). Held-out figures: leave one topology out (the pair chosen
on the others, scored on it); in-sample: every pair on all of them. Set
``NETVIGIL_SHARED_DATA`` when ../shared/data is not beside the repository.

``--lab DIR``: the lab's own recordings (``netvigil bench lab --record``; the poller's
``down_after`` they were made with; 10 s polls) correlated again for every
``confirm_polls``, with the lab runs' ``window_s`` (``--lab-window-s``): evidence beside the
choice, not part of it. Those
recordings hold anomalies only (no clock ticks), so a held unreachability is checked at the
next anomaly after it is due.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import msgspec

from bench.lab_window_cv import score_with
from bench.rca_eval import REPO, pick_topologies
from netvigil.config import load_settings
from netvigil.eval.rescore import BenchRecording, faults_of, load_recording, rescore
from netvigil.eval.scoreboard import scores
from netvigil.graph.importers import load_topology
from netvigil.lab.hook import POLL_S as LAB_POLL_S
from netvigil.service import correlator_config
from netvigil.streams.correlate import CorrelatorConfig
from netvigil.twin.faults import POLL_TIMEOUT_SHARE

DOWN_AFTER = (1, 2)
CONFIRM_POLLS = (0.0, 1.5, 3.0, 6.0, 12.0)
NOISE = (0.0, POLL_TIMEOUT_SHARE)
Pair = tuple[int, float]


def record(topology: Path, down_after: int, noise: float, out: Path, faults: int) -> Path:
    cmd = [sys.executable, "-m", "netvigil.cli", "bench", "rca", "--topology", str(topology)]
    cmd += ["--faults", str(faults), "--seed", "7", "--poll-timeouts", str(noise)]
    cmd += ["--record", str(out), "--json"]
    env = {**os.environ, "NETVIGIL_SNMP__DOWN_AFTER": str(down_after)}
    subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO, env=env)
    return out


def config(confirm_polls: float) -> CorrelatorConfig:
    """The service's correlator configuration on the twin, but ``confirm_polls``."""
    settings = load_settings()
    settings.correlator.confirm_polls = confirm_polls
    return correlator_config(settings, twin=True)


def score(path: Path, confirm_polls: float) -> dict[str, Any]:
    rec = msgspec.json.decode(path.read_bytes(), type=BenchRecording)
    topo = load_topology(Path(rec.topology) if rec.topology else None)
    report = rescore(rec.events, faults_of(rec), topo, config(confirm_polls), rec.grace_s)
    s = scores(report)
    return {
        "faults": s["faults"],
        "top1": round(s["top1"] * s["faults"]),
        "false": s["false_incidents"],
        "mttd_p50_s": s["mttd_p50_s"],
    }


def lab_score(path: Path, confirm_polls: float, window_s: float) -> dict[str, int]:
    """A lab recording's harmful faults detected and named first, and its false incidents."""
    cfg = dataclasses.replace(
        config(confirm_polls), window_s=window_s, confirm_s=confirm_polls * LAB_POLL_S
    )
    return score_with(load_recording(path), cfg)


def total(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "faults": sum(r["faults"] for r in rows),
        "top1": sum(r["top1"] for r in rows),
        "false": sum(r["false"] for r in rows),
    }


def gain(rows: list[dict[str, Any]]) -> int:
    t = total(rows)
    return int(t["top1"] - t["false"])


def choose(table: dict[Pair, dict[str, list[dict[str, Any]]]], topos: list[str]) -> Pair:
    """The pair with the most faults named first minus false incidents over ``topos``;
    ties to the smaller ``confirm_polls``, then ``down_after``."""
    return max(
        table,
        key=lambda p: (
            gain([r for t in topos for r in table[p][t]]),
            -p[1],
            -p[0],
        ),
    )


def held_out(table: dict[Pair, dict[str, list[dict[str, Any]]]], names: list[str]) -> list[Any]:
    """Leave one topology out: each topology scored with the pair chosen on the others."""
    rows = []
    for t in names:
        pick = choose(table, [o for o in names if o != t])
        rows.append({"topology": t, "chosen": list(pick), **total(table[pick][t])})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--topologies", type=int, default=10)
    ap.add_argument("--faults", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None, help="write every figure here")
    ap.add_argument("--keep", type=Path, default=None, help="keep the recordings here")
    ap.add_argument("--lab", type=Path, default=None, help="bench lab --record folder")
    ap.add_argument("--lab-window-s", type=float, default=60.0)
    args = ap.parse_args()
    tops = pick_topologies(2 * args.topologies)[::2]
    folder = args.keep or Path(tempfile.mkdtemp(prefix="netvigil-confirm-cv-"))
    folder.mkdir(parents=True, exist_ok=True)
    runs = [(t, da, n) for t in tops for da in DOWN_AFTER for n in NOISE]

    def one(run: tuple[Path, int, float]) -> tuple[Path, int, float, Path]:
        t, da, n = run
        out = folder / f"{t.stem}-da{da}-noise{n}.json"
        if not out.exists():
            record(t, da, n, out, args.faults)
        print(f"recorded {out.name}", file=sys.stderr, flush=True)
        return t, da, n, out

    with ThreadPoolExecutor(args.jobs) as pool:
        recorded = list(pool.map(one, runs))
    # table[(down_after, confirm_polls)][topology] = [the run without timeouts, the run with]
    table: dict[Pair, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for t, da, n, path in recorded:
        for c in CONFIRM_POLLS:
            row = {"noise": n, **score(path, c)}
            table[(da, c)][t.stem].append(row)
    names = [t.stem for t in tops]
    in_sample = {
        f"down_after={p[0]} confirm_polls={p[1]:g}": {
            "clean": total([r for t in names for r in table[p][t] if r["noise"] == 0]),
            "timeouts": total([r for t in names for r in table[p][t] if r["noise"] > 0]),
            "mttd_p50_s_clean": sorted(
                r["mttd_p50_s"] for t in names for r in table[p][t] if r["noise"] == 0
            )[len(names) // 2],
        }
        for p in sorted(table)
    }
    held = held_out(table, names)
    chosen = choose(table, names)
    report = {
        "topologies": names,
        "chosen_on_all": list(chosen),
        "in_sample": in_sample,
        "held_out": held,
        "held_out_total": total(held),
        "in_sample_total_chosen": total([r for t in names for r in table[chosen][t]]),
    }
    for name, row in in_sample.items():
        print(f"{name:<32} clean {row['clean']}  timeouts {row['timeouts']}")
    print(f"chosen on all: {chosen}; held out: {report['held_out_total']}")
    if args.lab:
        report["lab"] = {
            f.stem: {f"{c:g}": lab_score(f, c, args.lab_window_s) for c in CONFIRM_POLLS}
            for f in sorted(args.lab.glob("*-lab.json"))
        }
        for stem, row in report["lab"].items():
            print(f"lab {stem}: {row}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
