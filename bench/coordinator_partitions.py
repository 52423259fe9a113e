"""The coordinator with 1 and N partitions (``coordinator.partitions``) on the same input:
coordinator events per CPU second.

The input is what the coordinator reads in a run of the twin (the demo backbone,
``--faults`` faults, semi-autonomous): every incident revision and every clock tick of the
sampler, in the order they were published; extra tick copies can be added per device
(``--devices-scale``, none by default). It is driven through the processor as a runtime does
(each event to every key it names, in order), on a fresh data directory per run (the
coordinator writes tickets, actions and the audit log to SQLite there), and the CPU time of
each call is charged to its key. Reported, medians over ``--repeat`` runs after a warm-up
run, both in the same process:

- ``one_per_cpu_s``: input events per CPU second with one partition (today's path);
- ``all_partitions_per_cpu_s``: the same with N partitions in one process (what keying costs:
  every tick goes to every partition);
- ``busiest_partition_per_cpu_s``: input events per CPU second of the busiest partition,
  what N workers each holding one partition would each need (runtime overheads aside);
- ``busiest_vs_one``: the ratio of the two (the gain of N workers over one);
- ``incident_share_of_cpu``: with one partition, the share of CPU spent on incidents (the
  part partitions split) rather than ticks (the part each partition repeats);
- ``same_outcome``: the tickets, actions (incident, action, target) and audit records'
  (action, subject) of each N-partition run are those of the one-partition run.

Run: ``nice -n 10 python -m bench.coordinator_partitions --partitions 2 --json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from netvigil.config import Settings, load_settings
from netvigil.events import Event, Incident, Sample
from netvigil.graph.importers import load_topology
from netvigil.graph.memory import MemoryTopology
from netvigil.resolvers.assemble import build_coordinator
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.incidents import IncidentStore
from netvigil.resolvers.tickets.local import LocalTickets
from netvigil.service import Service


def _settings(partitions: int) -> Settings:
    s = load_settings()
    s.coordinator.phase = "semi-autonomous"  # type: ignore[assignment]
    s.coordinator.poll_s = 10.0
    s.coordinator.partitions = partitions
    return s


def coordinator_input(faults: int) -> list[Event]:
    """The incidents and clock ticks the coordinator reads in a twin run of ``faults``."""
    s = _settings(1)
    got: list[Event] = []
    with tempfile.TemporaryDirectory() as tmp:
        svc = Service.build(
            s, twin=Service.plan_twin(s, fault_count=faults, speed=0.0), data_dir=Path(tmp)
        )
        svc.runtime.listen("netvigil.incidents", lambda t, e: got.append(e))
        svc.runtime.listen("netvigil.samples", lambda t, e: got.append(e))
        asyncio.run(svc.run())
        svc.close()
    return [e for e in got if not isinstance(e, Sample) or e.tick]


async def run(events: list[Event], partitions: int) -> tuple[Counter[str], dict[str, Any]]:
    """CPU seconds per key (``incidents``/``ticks`` too) and what came out."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        topo = MemoryTopology()
        load_topology(None, topo)
        incidents = IncidentStore(data / "incidents.db")
        tickets = LocalTickets(data / "tickets.db")
        audit = AuditLog(data / "audit.db")
        coord, autonomy, actions, parts = build_coordinator(
            _settings(partitions),
            data,
            topo=topo,
            incidents=incidents,
            tickets=tickets,
            audit=audit,
        )
        states: dict[str, Any] = {}
        cpu: Counter[str] = Counter()
        for e in events:
            kind = "incidents" if isinstance(e, Incident) else "ticks"
            for key in coord.keys(e):
                t0 = time.process_time()
                state = states.setdefault(key, coord.new_state_for(key))
                await coord.process(e, state)
                spent = time.process_time() - t0
                cpu[key] += spent
                cpu[kind] += spent
        outcome = {
            "tickets": sorted((t.correlation_id, t.state) for t in tickets.all()),
            "actions": sorted((r.incident, r.action, r.target) for r in actions.all()),
            "audit": Counter((r.action, r.subject) for r in audit.records()),
        }
        for closable in (incidents, tickets, audit, autonomy, actions, parts):
            closable.close()
    return cpu, outcome


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--partitions", type=int, default=2)
    ap.add_argument("--faults", type=int, default=12)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    events = coordinator_input(args.faults)
    n_inc = sum(isinstance(e, Incident) for e in events)
    keys = [f"resolver-{i}" for i in range(args.partitions)]
    asyncio.run(run(events, 1))  # warm-up
    one_rate, all_rate, busiest_rate, ratio, share = [], [], [], [], []
    same = True
    for _ in range(args.repeat):
        cpu1, ref = asyncio.run(run(events, 1))
        cpun, got = asyncio.run(run(events, args.partitions))
        one = len(events) / cpu1["resolver"]
        busiest = len(events) / max(cpun[k] for k in keys)
        one_rate.append(one)
        all_rate.append(len(events) / sum(cpun[k] for k in keys))
        busiest_rate.append(busiest)
        ratio.append(busiest / one)
        share.append(cpu1["incidents"] / cpu1["resolver"])
        same = same and got == ref
    report = {
        "partitions": args.partitions,
        "faults": args.faults,
        "events": len(events),
        "incident_revisions": n_inc,
        "ticks": len(events) - n_inc,
        "repeat": args.repeat,
        "one_per_cpu_s": round(statistics.median(one_rate)),
        "all_partitions_per_cpu_s": round(statistics.median(all_rate)),
        "busiest_partition_per_cpu_s": round(statistics.median(busiest_rate)),
        "busiest_vs_one": round(statistics.median(ratio), 2),
        "busiest_vs_one_range": [round(min(ratio), 2), round(max(ratio), 2)],
        "incident_share_of_cpu": round(statistics.median(share), 3),
        "same_outcome": same,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    if args.json:
        print(json.dumps(report))
    else:
        for k, v in report.items():
            print(f"{k}: {v}")


if __name__ == "__main__":
    main()
