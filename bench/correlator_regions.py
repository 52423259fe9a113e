"""The correlator with 1 and N regions on the same anomaly stream: anomalies per CPU second.

The stream: on a Topology Zoo network, every device fails in turn, in a seeded random order
(the interfaces facing it go down, then clear), ``--spacing-s`` apart in event time (under
the 300 s window they overlap: a storm), with weak deviations beside them. It is driven
through the processor as a runtime does (each anomaly to every key it names), and the CPU
time of each call is charged to its key. Reported, medians over ``--repeat`` runs in
one process, the one-region run as the baseline:

- ``one_region_per_cpu_s``: anomalies per CPU second with one partition (today's path);
- ``all_regions_per_cpu_s``: the same with N regions handled by one process (the cost of
  halos: an anomaly near a border is correlated by each region that sees it);
- ``busiest_region_per_cpu_s``: anomalies of the whole stream per CPU second of the busiest
  region, what N workers each holding one region would sustain before runtime overheads;
- ``deliveries_per_anomaly``: regions an anomaly went to, on average;
- the same incidents (fingerprints, root causes, revisions) with N regions as with one.

Run: ``nice -n 10 python -m bench.correlator_regions --regions 4 --json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time
from collections import Counter
from pathlib import Path

from netvigil.events import Anomaly, Event, Incident
from netvigil.graph.base import TopologyStore
from netvigil.graph.importers import load_topology
from netvigil.streams.correlate import CorrelationState, CorrelatorConfig, CorrelatorProcessor

_REPO = Path(__file__).resolve().parents[1]
SHARED = (
    Path(os.environ.get("NETVIGIL_SHARED_DATA", _REPO.parent / "shared" / "data")) / "topologies"
)


def _anomaly(entity: str, ts: float, kind: str, signal: str, state: str = "active") -> Anomaly:
    return Anomaly(
        ts=ts,
        device=entity.partition(":")[0],
        entity=entity,
        signal=signal,
        kind=kind,  # type: ignore[arg-type]
        score=1.0 if kind == "down" else 0.6,
        state=state,  # type: ignore[arg-type]
        onset_ts=ts,
    )


def stream(
    topo: TopologyStore, spacing_s: float, rounds: int, seed: int, faults: int = 0
) -> list[Anomaly]:
    """Every device (or ``faults`` of them) fails in turn, in a random order, ``rounds``
    times (see the module docstring)."""
    out: list[Anomaly] = []
    rng = random.Random(seed)
    t = 1000.0
    for _ in range(rounds):
        devices = sorted(d.name for d in topo.devices())
        rng.shuffle(devices)
        devices = devices[:faults] if faults else devices
        for d in devices:
            facing = sorted(lk.end(lk.other(d)) for lk in topo.links_of(d))
            out += [_anomaly(f, t + i, "down", "if.oper_status") for i, f in enumerate(facing)]
            out.append(_anomaly(d, t + 2, "deviation", "cpu.util"))
            out += [
                _anomaly(f, t + 240 + i, "down", "if.oper_status", "cleared")
                for i, f in enumerate(facing)
            ]
            t += spacing_s
    return sorted(out, key=lambda e: e.ts)


async def run(
    topo: TopologyStore, events: list[Anomaly], regions: int, halo: int
) -> tuple[Counter[str], list[tuple[object, ...]], int]:
    """CPU seconds per key, the incidents, and the deliveries (anomaly x key)."""
    proc = CorrelatorProcessor(topo, CorrelatorConfig(regions=regions, halo_hops=halo))
    proc.sharding.regions()  # the partition is computed once, before the stream
    states: dict[str, CorrelationState] = {}
    cpu: Counter[str] = Counter()
    out: list[Event] = []
    deliveries = 0
    for e in events:
        t0 = time.process_time()
        keys = proc.keys(e)
        cpu["keys"] += time.process_time() - t0
        for key in keys:
            deliveries += 1
            t0 = time.process_time()
            state = states.setdefault(key, proc.new_state_for(key))
            out += await proc.process(e, state)
            cpu[key] += time.process_time() - t0
    incidents = sorted(
        (i.fingerprint, i.revision, i.status, tuple(rc.entity for rc in i.root_causes))
        for i in out
        if isinstance(i, Incident)
    )
    return cpu, incidents, deliveries


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--topology", default=str(SHARED / "Cogentco.graphml"))
    ap.add_argument("--regions", type=int, default=4)
    ap.add_argument("--halo", type=int, default=4)
    ap.add_argument("--spacing-s", type=float, default=20.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seed", type=int, default=26)
    ap.add_argument("--faults", type=int, default=0, help="devices that fail (0: all)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    topo = load_topology(args.topology)
    events = stream(topo, args.spacing_s, args.rounds, args.seed, args.faults)
    one_rate, all_rate, busiest_rate, per_delivery = [], [], [], 0.0
    same = True
    for _ in range(args.repeat):
        cpu1, inc1, _ = asyncio.run(run(topo, events, 1, args.halo))
        cpun, incn, deliveries = asyncio.run(run(topo, events, args.regions, args.halo))
        same = same and inc1 == incn
        one_rate.append(len(events) / sum(cpu1.values()))
        all_rate.append(len(events) / sum(cpun.values()))
        busiest = max(v for k, v in cpun.items() if k != "keys") + cpun["keys"] / args.regions
        busiest_rate.append(len(events) / busiest)
        per_delivery = deliveries / len(events)
    report = {
        "topology": Path(args.topology).stem,
        "devices": len(topo.devices()),
        "anomalies": len(events),
        "incidents": len({i[0] for i in inc1}),
        "incident_revisions": len(inc1),
        "regions": args.regions,
        "halo": args.halo,
        "one_region_per_cpu_s": round(statistics.median(one_rate)),
        "all_regions_per_cpu_s": round(statistics.median(all_rate)),
        "busiest_region_per_cpu_s": round(statistics.median(busiest_rate)),
        "busiest_vs_one": round(statistics.median(busiest_rate) / statistics.median(one_rate), 2),
        "all_vs_one": round(statistics.median(all_rate) / statistics.median(one_rate), 2),
        "deliveries_per_anomaly": round(per_delivery, 2),
        "same_incidents": same,
    }
    print(json.dumps(report) if args.json else "\n".join(f"{k}: {v}" for k, v in report.items()))


if __name__ == "__main__":
    main()
