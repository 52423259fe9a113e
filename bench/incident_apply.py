"""How many incident revisions per second the coordinator applies to file-backed stores
(incident store, local tickets, audit log), and what the crash-safe order costs.

Each revision of a flapping link resolves or reopens its ticket, so every one writes to all
three stores. ``--python-path`` runs another version of NetVigil (the baseline) in the same
way; without it, this script runs the baseline (``--baseline``, a path to its tree) and this
tree alternately, ``--repeats`` times each, and prints the medians and their ratio.

    python -m bench.incident_apply --baseline /tmp/netvigil-main [--revisions 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ONE = """
import asyncio, sys, tempfile, time
from pathlib import Path
from netvigil.events import AnomalyRef, Incident, RootCause
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.coordinator import CoordinatorProcessor
from netvigil.resolvers.incidents import IncidentStore
from netvigil.resolvers.tickets.local import LocalTickets

def revision(rev):
    status = "open" if rev % 2 else "resolved"
    return Incident(ts=1000.0 + rev, fingerprint="fp", status=status, revision=rev,
        opened_ts=1000.0, title="link a--b flapping", severity="major",
        root_causes=[RootCause(entity="a--b", kind="link", score=0.9, fault="flapping",
                               evidence=["a:1 down"])],
        anomalies=[AnomalyRef(entity="a:1", signal="if.oper_status", kind="down", score=1.0,
                              onset_ts=1000.0)])

async def main(n):
    with tempfile.TemporaryDirectory(dir=sys.argv[2]) as tmp:
        d = Path(tmp)
        coord = CoordinatorProcessor(IncidentStore(d / "incidents.db"),
                                     LocalTickets(d / "tickets.db"), AuditLog(d / "audit.db"))
        t = time.perf_counter()
        for rev in range(1, n + 1):
            await coord.process(revision(rev), None)
        print(n / (time.perf_counter() - t))

asyncio.run(main(int(sys.argv[1])))
"""


def rate(python_path: str, revisions: int, where: str) -> float:
    env = {**os.environ, "PYTHONPATH": python_path}
    out = subprocess.run(
        [sys.executable, "-c", ONE, str(revisions), where],
        env=env,
        cwd=python_path,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", required=True, help="tree of the baseline version")
    ap.add_argument("--revisions", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--dir", default="", help="where the stores are written (default: /tmp)")
    args = ap.parse_args()
    here = str(Path(__file__).resolve().parents[1])
    where = args.dir or tempfile.gettempdir()
    runs: dict[str, list[float]] = {"baseline": [], "this": []}
    for _ in range(args.repeats):
        runs["baseline"].append(rate(args.baseline, args.revisions, where))
        runs["this"].append(rate(here, args.revisions, where))
    med = {k: statistics.median(v) for k, v in runs.items()}
    print(
        json.dumps(
            {
                "revisions": args.revisions,
                "repeats": args.repeats,
                "revisions_per_s_median": {k: round(v, 1) for k, v in med.items()},
                "ratio_this_to_baseline": round(med["this"] / med["baseline"], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
