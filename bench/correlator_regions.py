"""The correlator with 1 and N regions on the same anomaly stream: anomalies per CPU second.

The stream: on a Topology Zoo network, every device fails in turn, in a seeded random order
(the interfaces facing it go down, then clear), ``--spacing-s`` apart in event time (under
the 300 s window they overlap: a storm), with weak deviations beside them, and the sampler's
clock ticks of the devices that report (each ticks at the next two ``TICK_S`` boundaries after
each of its anomalies, and once after the stream). It is driven through the processor as a
runtime does (each event to every key it names), and the CPU time of each call, ticks
included, is charged to its key. Reported, medians over ``--repeat`` runs in one process
after a warm-up run, the one-region run that ranks every change
(``correlator.revision_s`` = 0, the correlator before held revisions) as the baseline:

- ``every_change_per_cpu_s``: anomalies per CPU second with one partition, ranking every
  change (the baseline);
- ``one_region_per_cpu_s``: the same with ``--revision-s`` (one partition, today's path);
- ``all_regions_per_cpu_s``: the same with N regions handled by one process (the cost of
  halos: an anomaly near a border is correlated by each region that sees it);
- ``busiest_region_per_cpu_s``: anomalies of the whole stream per CPU second of the busiest
  region, what N workers each holding one region would sustain before runtime overheads;
- ``slowest_worker_own_per_cpu_s``: the anomalies a region was given per CPU second of
  that region, for the slowest region (a worker's own throughput, halo copies included);
- ``two_workers_vs_one``: the stream's anomalies per CPU second of the busier of two
  workers holding the N regions between them (the most even split of the regions' CPU),
  over the one-region rate: what the partitioned path gains from a second worker;
- ``deliveries_per_anomaly``: regions an anomaly went to, on average;
- ``revisions``: incident revisions emitted, ranking every change and held (one region);
- ``same_incidents``: the same incidents with N regions as with one (fingerprints; each
  one's first revision: time and root causes; its last: status, root causes, anomalies);
- ``same_as_every_change``: the same with one region as ranking every change.

``--gc settle``: the collector as the service sets it after a build
(:func:`netvigil.heap.settle`, once the topology is loaded); ``--gc default`` leaves it.

Run: ``nice -n 10 python -m bench.correlator_regions --regions 4 --json``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import statistics
import time
from collections import Counter
from pathlib import Path

from netvigil.events import Anomaly, Event, Incident, Sample
from netvigil.graph.base import TopologyStore
from netvigil.graph.importers import load_topology
from netvigil.heap import settle
from netvigil.streams.correlate import CorrelationState, CorrelatorConfig, CorrelatorProcessor

_REPO = Path(__file__).resolve().parents[1]
SHARED = (
    Path(os.environ.get("NETVIGIL_SHARED_DATA", _REPO.parent / "shared" / "data")) / "topologies"
)
#: the sampler's clock: a reporting device ticks every this many seconds (coordinator.tick_s)
TICK_S = 10.0


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
) -> list[Event]:
    """Every device (or ``faults`` of them) fails in turn, in a random order, ``rounds``
    times, with the clock ticks of the devices that report (see the module docstring)."""
    out: list[Event] = []
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
    ticks = {
        (d.device, (int(d.ts // TICK_S) + k) * TICK_S)
        for d in out
        if isinstance(d, Anomaly)
        for k in (1, 2)
    }
    end = max((e.ts for e in out), default=0.0) + 2 * TICK_S
    out += [Sample(ts=ts, device=device) for device, ts in sorted(ticks)]
    out += [Sample(ts=end, device=d.name) for d in topo.devices()]
    return sorted(out, key=lambda e: e.ts)


def _incidents(out: list[Event]) -> dict[str, tuple[object, ...]]:
    """Per fingerprint: its first revision (time, root causes) and its last (status, root
    causes, anomalies)."""
    first: dict[str, Incident] = {}
    last: dict[str, Incident] = {}
    for i in out:
        if isinstance(i, Incident):
            first.setdefault(i.fingerprint, i)
            last[i.fingerprint] = i
    return {
        fp: (
            (first[fp].ts, [rc.entity for rc in first[fp].root_causes]),
            (
                i.status,
                [(rc.entity, rc.fault) for rc in i.root_causes],
                [(a.entity, a.signal, a.state) for a in i.anomalies],
            ),
        )
        for fp, i in last.items()
    }


async def run(
    topo: TopologyStore, events: list[Event], regions: int, halo: int, revision_s: float
) -> tuple[Counter[str], dict[str, tuple[object, ...]], Counter[str], int]:
    """CPU seconds per key, the incidents (see ``_incidents``), the anomalies delivered to
    each key, and the revisions emitted."""
    cfg = CorrelatorConfig(regions=regions, halo_hops=halo, revision_s=revision_s)
    proc = CorrelatorProcessor(topo, cfg)
    proc.sharding.regions()  # the partition is computed once, before the stream
    states: dict[str, CorrelationState] = {}
    cpu: Counter[str] = Counter()
    out: list[Event] = []
    deliveries: Counter[str] = Counter()
    for e in events:
        t0 = time.process_time()
        keys = proc.keys(e)
        cpu["keys"] += time.process_time() - t0
        for key in keys:
            deliveries[key] += isinstance(e, Anomaly)
            t0 = time.process_time()
            state = states.setdefault(key, proc.new_state_for(key))
            out += await proc.process(e, state)
            cpu[key] += time.process_time() - t0
    return cpu, _incidents(out), deliveries, sum(isinstance(i, Incident) for i in out)


def split_between(cpu: list[float], workers: int) -> float:
    """The busiest worker's CPU when ``workers`` share regions of these CPU times, split as
    evenly as it goes (every assignment is tried: regions are few)."""
    best = sum(cpu)
    for assign in itertools.product(range(workers), repeat=len(cpu)):
        load = [0.0] * workers
        for region, w in zip(cpu, assign, strict=True):
            load[w] += region
        best = min(best, max(load))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--topology", default=str(SHARED / "Cogentco.graphml"))
    ap.add_argument("--regions", type=int, default=4)
    ap.add_argument("--halo", type=int, default=4)
    ap.add_argument("--spacing-s", type=float, default=20.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seed", type=int, default=26)
    ap.add_argument("--faults", type=int, default=0, help="devices that fail (0: all)")
    ap.add_argument("--revision-s", type=float, default=CorrelatorConfig().revision_s)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--gc", choices=["default", "settle"], default="default")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    topo = load_topology(args.topology)
    if args.gc == "settle":
        settle()
    events = stream(topo, args.spacing_s, args.rounds, args.seed, args.faults)
    anomalies = sum(isinstance(e, Anomaly) for e in events)
    halo, held = args.halo, args.revision_s
    asyncio.run(run(topo, events[: len(events) // 10], 1, halo, held))  # warm-up
    every_rate, one_rate, all_rate, busiest_rate, worker_rate, two_rate = [], [], [], [], [], []
    per_delivery = 0.0
    same = same_every = True
    for _ in range(args.repeat):
        cpu0, inc0, _, every_revisions = asyncio.run(run(topo, events, 1, halo, 0.0))
        cpu1, inc1, _, held_revisions = asyncio.run(run(topo, events, 1, halo, held))
        cpun, incn, deliveries, _ = asyncio.run(run(topo, events, args.regions, halo, held))
        same = same and inc1 == incn
        same_every = same_every and inc0 == inc1
        every_rate.append(anomalies / sum(cpu0.values()))
        one_rate.append(anomalies / sum(cpu1.values()))
        all_rate.append(anomalies / sum(cpun.values()))
        busiest = max(v for k, v in cpun.items() if k != "keys") + cpun["keys"] / args.regions
        busiest_rate.append(anomalies / busiest)
        regions_cpu = [v + cpun["keys"] / args.regions for k, v in cpun.items() if k != "keys"]
        two_rate.append(anomalies / split_between(regions_cpu, 2))
        # each worker's own input (anomalies delivered to its region) per its CPU second
        worker_rate.append(min(deliveries[k] / v for k, v in cpun.items() if k != "keys"))
        per_delivery = sum(deliveries.values()) / anomalies
    every = statistics.median(every_rate)
    report = {
        "topology": Path(args.topology).stem,
        "devices": len(topo.devices()),
        "anomalies": anomalies,
        "ticks": len(events) - anomalies,
        "incidents": len(inc1),
        "revisions": {"every_change": every_revisions, "held": held_revisions},
        "regions": args.regions,
        "halo": args.halo,
        "revision_s": held,
        "gc": args.gc,
        "every_change_per_cpu_s": round(every),
        "one_region_per_cpu_s": round(statistics.median(one_rate)),
        "all_regions_per_cpu_s": round(statistics.median(all_rate)),
        "busiest_region_per_cpu_s": round(statistics.median(busiest_rate)),
        "slowest_worker_own_per_cpu_s": round(statistics.median(worker_rate)),
        "one_vs_every_change": round(statistics.median(one_rate) / every, 2),
        "two_workers_vs_one": round(statistics.median(two_rate) / statistics.median(one_rate), 2),
        "busiest_vs_one": round(statistics.median(busiest_rate) / statistics.median(one_rate), 2),
        "all_vs_one": round(statistics.median(all_rate) / statistics.median(one_rate), 2),
        "deliveries_per_anomaly": round(per_delivery, 2),
        "same_incidents": same,
        "same_as_every_change": same_every,
    }
    print(json.dumps(report) if args.json else "\n".join(f"{k}: {v}" for k, v in report.items()))


if __name__ == "__main__":
    main()
