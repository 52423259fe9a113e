"""The mission scoreboard for several scenarios on Topology Zoo topologies: table and JSON.

Each (scenario, topology) pair runs through :func:`netvigil.eval.mission.run_mission` — the
whole embedded pipeline against the twin, twice per pair (autonomy level 1 with the modelled
operator, then levels 2/3 with the same seed). The baseline of the MTTR ratio is the level-1
run of the same scenario in the same process. Simulated time is deterministic for a seed, so
the quality figures do not need repeats; wall time is reported once and is not a measure of
quality (the machine is shared).

    python -m bench.mission_scoreboard [--out FILE.json] [--repair-plot FILE.png]
        [--pair SCENARIO:TOPOLOGY ...] [--ack-s 600] [--approve-s 300]
        [--plot-scenario congestion-ramps]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from netvigil.config import load_settings
from netvigil.eval.mission import load_scenario, run_mission
from netvigil.eval.operator import OperatorModel

#: scenario -> Topology Zoo file in ../shared/data/topologies
DEFAULT_PAIRS = (
    "repair-day:Surfnet",
    "congestion-ramps:Geant2012",
    "mixed-faults:Uninett2011",
)
COLUMNS = (
    ("scenario", "scenario"),
    ("topology", "topology (nodes/links)"),
    ("faults", "faults"),
    ("detected", "detected"),
    ("mttd_p50_s", "MTTD p50 s"),
    ("rca_top1", "RCA top-1"),
    ("false_incidents_per_day", "false inc./day"),
    ("tickets_equal_incidents", "tickets = incidents"),
    ("congestion", "ramps predicted >= 30 min ahead"),
    ("congestion_lead_time_p50_s", "lead p50 s"),
    ("false_predictions", "false predictions"),
    ("mttr_level1_p50_s", "MTTR level 1 s"),
    ("mttr_autonomous_p50_s", "MTTR levels 2/3 s"),
    ("mttr_autonomy_ratio", "ratio"),
    ("harm_s_level1", "harm s level 1"),
    ("harm_s_autonomous", "harm s levels 2/3"),
    ("harm_avoided_share", "harm avoided (2/3)"),
    ("preemptive_changes", "preemptive changes"),
    ("preemptive_rolled_back", "rolled back"),
    ("collateral_overloads", "collateral"),
    ("wall_s", "wall s (both runs)"),
)


def _cell(r: dict[str, Any], key: str) -> str:
    if key == "topology":
        return f"{Path(r['topology']).stem} ({r['devices']}/{r['links']})"
    if key == "congestion":
        if not r["congestion_ramps"]:
            return "no ramps"
        return f"{r['congestion_predicted_in_time']}/{r['congestion_ramps']}"
    if key == "tickets_equal_incidents":
        return "yes" if r[key] else "NO"
    v = r.get(key)
    return "-" if v is None else str(v)


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| " + " | ".join(h for _, h in COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for r in results:
        lines.append("| " + " | ".join(_cell(r, k) for k, _ in COLUMNS) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--pair", action="append", help="SCENARIO:TOPOLOGY (Topology Zoo name)")
    ap.add_argument("--topologies", type=Path, default=None, help="folder of GraphML files")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--ack-s", type=float, default=OperatorModel.ack_s)
    ap.add_argument("--approve-s", type=float, default=OperatorModel.approve_s)
    ap.add_argument("--out", type=Path, default=None, help="write all results as JSON")
    ap.add_argument("--repair-plot", type=Path, default=None, help="PNG of one scenario's run")
    ap.add_argument("--plot-scenario", default="congestion-ramps", help="the scenario plotted")
    args = ap.parse_args()
    folder = args.topologies
    if folder is None:
        from tests.conftest import SHARED_DATA

        folder = SHARED_DATA / "topologies"
    operator = OperatorModel(ack_s=args.ack_s, approve_s=args.approve_s)
    results = []
    for pair in args.pair or DEFAULT_PAIRS:
        name, _, topo = pair.partition(":")
        settings = load_settings(None)
        res = run_mission(
            load_scenario(name),
            settings,
            topology=str(folder / f"{topo}.graphml"),
            seed=args.seed,
            operator=operator,
            repair_plot=args.repair_plot if name == args.plot_scenario else None,
        )
        results.append(res)
        print(json.dumps({k: v for k, v in res.items() if k not in ("per_fault", "lead_times")}))
    print(table(results))
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
