"""The correlator on the recorded input of ``netvigil bench scale``'s storm: anomalies per CPU s.

``record``: runs ``bench scale --devices N`` (embedded) once and writes the events its
correlator was given, in order, as a JSON list of encoded events (base64), with the bench's
report beside them (``FILE.report.json``: its ``correlator_anomalies_per_cpu_s`` and the
collector's CPU per generation over the whole run).

``replay``: the same carrier network (``--devices``, ``--seed``, as recorded) loaded into the
embedded store, then the recorded events through a fresh correlator configured as ``netvigil
run`` configures it with the twin, ``--repeat`` times after a warm-up run; each run's CPU is
that of the ``process`` calls (``new_state_for``, which warms the store, untimed, as in ``bench
scale``). Reported: anomalies per CPU second (median and each run), the collector's CPU inside
the calls per run (``gc.callbacks``), full collections, and the SHA-256 of every run's encoded
output (the same for every run, or the replay is not deterministic). ``--gc settle``: what
the service does after a build (:func:`netvigil.heap.settle`) once the store is loaded;
``--gc default``: nothing; ``--gc threshold:A,B,C``: ``gc.set_threshold(A, B, C)``.

Run: ``nice -n 10 python -m bench.correlator_storm record /tmp/storm10k.json`` then
``nice -n 10 python -m bench.correlator_storm replay /tmp/storm10k.json --gc settle --json``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import hashlib
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from netvigil.config import load_settings
from netvigil.events import Anomaly, Event, decode, encode
from netvigil.graph.importers import load_topology
from netvigil.graph.memory import MemoryTopology
from netvigil.heap import settle
from netvigil.service import correlator_config
from netvigil.streams.analytics import summarizer
from netvigil.streams.correlate import CorrelationState, CorrelatorProcessor
from netvigil.twin.carrier import CarrierSpec, generate


class GcClock:
    """CPU seconds the collector spends, per generation, while ``on``."""

    def __init__(self) -> None:
        self.cpu = [0.0, 0.0, 0.0]
        self.count = [0, 0, 0]
        self.on = False
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.process_time()
        elif self.on:
            g = info["generation"]
            self.cpu[g] += time.process_time() - self._t0
            self.count[g] += 1


def record(path: Path, devices: int, seed: int) -> None:
    from netvigil.eval.scale import ScaleSpec, run_scale_bench

    clock = GcClock()
    clock.on = True
    gc.callbacks.append(clock)
    seen: list[str] = []
    process = CorrelatorProcessor.process

    async def recorded(self: CorrelatorProcessor, event: Event, state: Any) -> Sequence[Event]:
        seen.append(base64.b64encode(encode(event)).decode())
        return await process(self, event, state)

    CorrelatorProcessor.process = recorded  # type: ignore[method-assign]
    report = run_scale_bench(ScaleSpec(devices=devices, seed=seed, rank_samples=20))
    report["gc_cpu_s"] = [round(x, 3) for x in clock.cpu]
    report["gc_collections"] = clock.count
    path.write_text(json.dumps(seen))
    Path(f"{path}.report.json").write_text(json.dumps(report))
    print(json.dumps(report))


async def _once(topo: MemoryTopology, events: list[Event], clock: GcClock) -> tuple[float, str]:
    settings = load_settings()
    proc = CorrelatorProcessor(topo, correlator_config(settings, twin=True), summarizer(settings))
    states: dict[str, CorrelationState] = {}
    digest = hashlib.sha256()
    cpu = 0.0
    for e in events:
        for key in proc.keys(e):
            if key not in states:
                states[key] = proc.new_state_for(key)
            clock.on = True
            t0 = time.process_time()
            out = await proc.process(e, states[key])
            cpu += time.process_time() - t0
            clock.on = False
            for o in out:
                digest.update(encode(o))
    return cpu, digest.hexdigest()


def replay(path: Path, devices: int, seed: int, mode: str, repeat: int) -> dict[str, Any]:
    events = [decode(base64.b64decode(x)) for x in json.loads(path.read_text())]
    anomalies = sum(isinstance(e, Anomaly) for e in events)
    with tempfile.TemporaryDirectory() as tmp:  # through its YAML inventory, as bench scale
        inventory = Path(tmp) / "carrier.yaml"
        net = generate(CarrierSpec(devices=devices, seed=seed))
        inventory.write_text(yaml.safe_dump(net.to_yaml(), sort_keys=False))
        topo = MemoryTopology()
        load_topology(inventory, topo)
    if mode == "settle":
        settle()
    elif mode.startswith("threshold:"):
        gc.set_threshold(*(int(x) for x in mode.removeprefix("threshold:").split(",")))
    elif mode != "default":
        raise SystemExit(f"--gc {mode!r}: default, settle or threshold:A,B,C")
    clock = GcClock()
    gc.callbacks.append(clock)
    asyncio.run(_once(topo, events, clock))  # warm-up: numpy, the k-hop caches
    rates, gc_cpu, full, digests = [], [], [], set()
    for _ in range(repeat):
        clock.cpu, clock.count = [0.0, 0.0, 0.0], [0, 0, 0]
        cpu, digest = asyncio.run(_once(topo, events, clock))
        rates.append(anomalies / cpu)
        gc_cpu.append(round(sum(clock.cpu), 4))
        full.append(clock.count[2])
        digests.add(digest)
    return {
        "gc": mode,
        "events": len(events),
        "anomalies": anomalies,
        "per_cpu_s": round(statistics.median(rates)),
        "runs_per_cpu_s": [round(r) for r in rates],
        "gc_cpu_s_in_calls": gc_cpu,
        "full_collections_in_calls": full,
        "output_sha256": sorted(digests),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["record", "replay"])
    ap.add_argument("file", type=Path)
    ap.add_argument("--devices", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--gc", default="default", help="default, settle or threshold:A,B,C")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.command == "record":
        record(args.file, args.devices, args.seed)
        return
    report = replay(args.file, args.devices, args.seed, args.gc, args.repeat)
    print(json.dumps(report) if args.json else "\n".join(f"{k}: {v}" for k, v in report.items()))


if __name__ == "__main__":
    main()
