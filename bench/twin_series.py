"""Extra evaluation data: labelled interface-traffic series from NetVigil's digital twin.

Not used to choose anything (the constants are chosen on nab-dev by ``bench.nab_cv``); this
only checks that the detector holds on series of the kind the service watches. The twin
(``netvigil/twin/network.py``: gravity-model demands with a daily cycle and noise, ECMP
routing, per-direction loads) runs for ``--days`` simulated days at ``--step`` seconds with
faults scheduled by the twin's own scheduler (congestion surges, growth ramps, links down,
from day 2 on). Every interface's ``if.out_bps`` is one series; a series is labelled with a
NAB window (10 % of its length divided by its number of faults, centred on the fault's
start, as NAB places its windows) for each fault on its own link. Traffic rerouted around a
failed link also changes on other links: those changes are not labelled, so they count as
false positives (the measure is pessimistic there). Scored with NAB's rules and one
optimised threshold (``bench.nabscore``); beside it, the previous single seasonal score,
ARTime (``netvigil detect``'s ``series_scorer: artime``; its first 750 points learn the range
and score 0), ``max(0.7 x ARTime, netvigil)`` (``bench.nab_artime``) and NAB's null
detector, same series.

    python -m bench.twin_series [--topology FILE] [--days 7] [--step 300] [--seed 7] [--json]
                                [--set KEY=VALUE ...] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from typing import Any

from bench.nab_artime import combined
from bench.nab_cv import make_config
from bench.nab_nested import parse_set
from bench.nabscore import PROFILES, FileScoring, prepare, score_corpus
from netvigil.analytics.ensemble import EnsembleConfig
from netvigil.analytics.hygiene import OnsetFilter
from netvigil.analytics.seasonal import SeasonalScorer
from netvigil.analytics.series import detect_series, score_series
from netvigil.events import Metric
from netvigil.graph.importers import load_topology
from netvigil.twin.faults import schedule_faults
from netvigil.twin.network import TwinNetwork

EPOCH = 1767571200.0  # the twin's simulated epoch (2026-01-05 00:00 UTC)
KINDS = ("congestion", "growth_ramp", "link_down")


def generate(
    topology: str | None, days: float, step: float, seed: int
) -> dict[str, tuple[list[float], list[float], list[tuple[int, int]]]]:
    """Per interface: times, out_bps values, labelled windows (row ranges)."""
    topo = load_topology(topology)
    n_links = len(list(topo.links()))
    count = max(3, min(12, n_links // 2))
    first = EPOCH + 2 * 86400.0
    span = (days - 2.5) * 86400.0
    faults = schedule_faults(
        topo,
        kinds=KINDS,
        count=count,
        first=first,
        interval=span / count,
        duration=3600.0,
        seed=seed,
    )
    net = TwinNetwork(topo, faults, seed=seed)
    series: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    n = int(days * 86400 / step)
    for i in range(n):
        t = EPOCH + i * step
        for ev in net.step(t):
            if isinstance(ev, Metric) and ev.name == "if.out_bps":
                ts, vs = series[ev.entity]
                ts.append(t)
                vs.append(ev.value)
    by_link = {lk.id: (lk.end(lk.a), lk.end(lk.b)) for lk in topo.links()}
    starts: dict[str, list[float]] = defaultdict(list)
    for f in faults:
        for ifname in by_link.get(f.target, ()):
            starts[ifname].append(f.start)
    out = {}
    for entity, (ts, vs) in sorted(series.items()):
        marks = sorted(starts.get(entity, []))
        windows = []
        if marks:
            half = int(0.1 * len(ts) / len(marks) / 2)
            for s in marks:
                centre = min(range(len(ts)), key=lambda k: abs(ts[k] - s))
                windows.append((max(0, centre - half), min(len(ts) - 1, centre + half)))
        out[entity] = (ts, vs, windows)
    return out


def _single_seasonal(ts: list[float], vs: list[float]) -> list[float]:
    scorer, onset = SeasonalScorer(), OnsetFilter()
    return [onset(scorer.update(t, v).score) for t, v in zip(ts, vs, strict=True)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--topology", type=str, default=None)
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--step", type=float, default=300.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--detectors", help="also score the ensemble with these (comma list)")
    ap.add_argument("--set", nargs="*", default=[], help="also the ensemble with KEY=VALUE ...")
    ap.add_argument("--only", nargs="*", help="score only these (names as reported)")
    args = ap.parse_args()
    data = generate(args.topology, args.days, args.step, args.seed)
    detectors = {
        "netvigil": lambda ts, vs: score_series(ts, vs).scores,
        "single_seasonal": _single_seasonal,
        "artime": lambda ts, vs: detect_series(ts, vs, "artime"),
        "max(0.7*artime, netvigil)": combined(0.7),
        "null": lambda ts, vs: [0.0] * len(ts),
    }
    if args.detectors:
        variant = EnsembleConfig(detectors=tuple(args.detectors.split(",")))
        detectors[f"netvigil {args.detectors}"] = lambda ts, vs: (
            score_series(ts, vs, variant).scores
        )
    if args.set:
        changed = make_config(parse_set(args.set))
        detectors[f"netvigil {' '.join(args.set)}"] = lambda ts, vs: (
            score_series(ts, vs, changed).scores
        )
    if args.only:
        detectors = {
            k: v for k, v in detectors.items() if k in args.only or k.startswith("netvigil ")
        }
    report: dict[str, Any] = {
        "series": len(data),
        "labelled_series": sum(1 for *_, w in data.values() if w),
        "windows": sum(len(w) for *_, w in data.values()),
        "points": sum(len(ts) for ts, _, _ in data.values()),
    }
    for name, fn in detectors.items():
        prep: dict[str, FileScoring] = {
            e: prepare(len(ts), w, fn(ts, vs)) for e, (ts, vs, w) in data.items()
        }
        report[name] = {p: round(float(score_corpus(prep, p)["score"]), 2) for p in PROFILES}  # type: ignore[arg-type]
    if args.json:
        print(json.dumps(report, indent=1))
        return
    print(json.dumps(report))


if __name__ == "__main__":
    main()
