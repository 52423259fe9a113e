"""RCA quality over 20 Internet Topology Zoo graphs: ``python -m bench.rca_eval``.

Runs ``netvigil bench rca --topology T --faults N --seed S --json`` (one process per topology,
``--jobs`` at a time) on 20 topologies chosen by a fixed rule, not by score: the connected
graphs of ../shared/data/topologies with 20 to 80 nodes, sorted by file name, taken at even
spacing. Prints one line per topology and the means; ``--json`` writes them all.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import networkx as nx

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("NETVIGIL_SHARED_DATA", REPO.parent / "shared" / "data"))


def pick_topologies(n: int = 20, lo: int = 20, hi: int = 80) -> list[Path]:
    ok = []
    for f in sorted((DATA / "topologies").glob("*.graphml")):
        g = nx.Graph(nx.read_graphml(f))
        g.remove_edges_from(nx.selfloop_edges(g))
        if lo <= g.number_of_nodes() <= hi and nx.is_connected(g):
            ok.append(f)
    step = len(ok) / n
    return [ok[int(i * step)] for i in range(n)]


def run_one(
    topology: Path, faults: int, seed: int, poll_timeouts: float = 0.0, silent: bool = False
) -> dict[str, object]:
    cmd = [
        sys.executable,
        "-m",
        "netvigil.cli",
        "bench",
        "rca",
        "--topology",
        str(topology),
        "--faults",
        str(faults),
        "--seed",
        str(seed),
        "--poll-timeouts",
        str(poll_timeouts),
        "--json",
        "--details",
        *(["--silent-senders"] if silent else []),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO)
    report: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    report["topology"] = topology.stem
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--faults", type=int, default=20)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--min-nodes", type=int, default=20)
    ap.add_argument("--max-nodes", type=int, default=80)
    ap.add_argument(
        "--poll-timeouts",
        type=float,
        default=0.0,
        help="share of SNMP polls timing out alone (netvigil bench rca --poll-timeouts)",
    )
    ap.add_argument(
        "--silent-senders",
        action="store_true",
        help="congestions whose senders do not answer (netvigil bench rca --silent-senders)",
    )
    ap.add_argument("--json", type=Path, default=None, help="write every report here")
    args = ap.parse_args()
    tops = pick_topologies(args.count, args.min_nodes, args.max_nodes)
    with ThreadPoolExecutor(args.jobs) as pool:
        reports = list(
            pool.map(
                lambda t: run_one(
                    t, args.faults, args.seed, args.poll_timeouts, args.silent_senders
                ),
                tops,
            )
        )
    for r in reports:
        print(
            f"{r['topology']:<16} top1 {r['top1']:.2f} top3 {r['top3']:.2f} "
            f"mttd {r['mttd_p50_s']} false {r['false_incidents']} misses {r['misses']}"
        )
    n_faults = sum(int(r["faults"]) for r in reports)  # type: ignore[call-overload]
    false = sum(int(r["false_incidents"]) for r in reports)  # type: ignore[call-overload]
    summary = {
        "topologies": len(reports),
        "faults": n_faults,
        "top1_mean": round(statistics.mean(float(r["top1"]) for r in reports), 4),  # type: ignore[arg-type]
        "top3_mean": round(statistics.mean(float(r["top3"]) for r in reports), 4),  # type: ignore[arg-type]
        "mttd_p50_s_median": statistics.median(
            float(r["mttd_p50_s"])
            for r in reports
            if r["mttd_p50_s"] is not None  # type: ignore[arg-type]
        ),
        "false_incidents": false,
        "false_per_10_faults": round(10 * false / max(n_faults, 1), 3),
    }
    print(json.dumps(summary))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "reports": reports}, indent=1))


if __name__ == "__main__":
    main()
