"""Kafka runtime benchmarks, each with the embedded runtime as the baseline in the same run.

    python -m bench.kafka_bench [--repeats 3] [--events 300000] [--json]

Starts its own Apache Kafka broker (provision/, free ports) and stops it at the end.

1. produce: events/s a collector publishes through :class:`KafkaPublisher` (batched,
   idempotent, lz4, acks=all), timed until every record is acknowledged; per wall second and
   per CPU second of the process (librdkafka's threads included). Baseline: the embedded
   bus's ``publish`` into one subscriber that does nothing.
2. worker: metric events/s through one worker with detection on (consume, decode, detect,
   produce anomalies, save state), on a backlog produced beforehand, timed from the moment
   the worker is ready until every event was processed; at least once (report key
   ``kafka``) and exactly once (``kafka_exactly_once``), the same loop. Baseline: the same
   events through the embedded runtime's detector.
3. latency: wall-clock seconds from a fault injected by the twin (at ``--speed`` simulated
   seconds per second) to the first revision of its incident, whole pipeline in one
   process, under both guarantees. Baseline: the same twin through the embedded runtime.

Medians over ``--repeats``; every repeat uses fresh topics. CPU seconds come from
``resource.getrusage`` (user + system).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from netvigil.config import Settings, load_settings
from netvigil.events import Event, Incident, Metric
from netvigil.service import Service
from netvigil.streams.base import Processor
from netvigil.streams.detect import DetectorProcessor
from netvigil.streams.embedded import EmbeddedRuntime
from netvigil.streams.kafka.admin import create_topics
from netvigil.streams.kafka.producer import KafkaPublisher
from netvigil.streams.kafka.runtime import KafkaRuntime
from netvigil.streams.kafka.spool import Spool
from netvigil.twin.faults import Fault
from provision.servers import kafka as kafka_server

__all__ = ["main"]


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def metrics(n: int, devices: int = 50, per_device: int = 20) -> list[Event]:
    """``n`` samples: ``devices`` devices x ``per_device`` series, 10 s apart, a little noise."""
    out: list[Event] = []
    step = 0
    while len(out) < n:
        for d in range(devices):
            for s in range(per_device):
                value = 1e6 * (1 + s) + (step * 7919 + d * 104729 + s) % 1000
                out.append(
                    Metric(
                        ts=1.7e9 + 10 * step,
                        device=f"r{d}",
                        name="if.out_bps",
                        value=float(value),
                        unit="bps",
                        labels={"interface": f"ge-0/0/{s}"},
                    )
                )
        step += 1
    return out[:n]


class Sink(Processor[None]):
    name = "sink"
    inputs = ("netvigil.metrics",)
    outputs = ()

    def new_state(self) -> None:
        return None

    async def process(self, event: Event, state: None) -> Sequence[Event]:
        return ()


def settings_for(bootstrap: str, guarantee: str = "at_least_once") -> Settings:
    s = load_settings()
    s.bus.url = f"kafka://{bootstrap}"
    s.kafka.topic_prefix = f"b{uuid.uuid4().hex[:8]}."
    s.kafka.partitions = 4
    s.kafka.processing_guarantee = guarantee  # type: ignore[assignment]
    return s


# ---------------------------------------------------------------- 1. produce


async def produce_kafka(bootstrap: str, events: list[Event]) -> tuple[float, float]:
    s = settings_for(bootstrap)
    create_topics(bootstrap, s.kafka)
    with tempfile.TemporaryDirectory() as tmp:
        pub = KafkaPublisher(
            bootstrap, Spool(Path(tmp), 1 << 30), topic_prefix=s.kafka.topic_prefix
        )
        await pub.start()
        t0, c0 = time.perf_counter(), cpu()
        for e in events:
            await pub.publish(e)
        await pub.close(timeout=120)
        wall, used = time.perf_counter() - t0, cpu() - c0
        assert pub.stats()["spool_bytes"] == 0 and pub.records > 0
    return len(events) / wall, len(events) / used


async def produce_embedded(events: list[Event]) -> tuple[float, float]:
    return await embedded_rate([Sink()], events)


async def embedded_rate(procs: list[Processor[Any]], events: list[Event]) -> tuple[float, float]:
    """Events per wall and per CPU second through the embedded runtime running ``procs``."""
    rt = EmbeddedRuntime(procs, queue_size=1 << 20)
    stop = asyncio.Event()
    task = asyncio.create_task(rt.run(stop))
    t0, c0 = time.perf_counter(), cpu()
    for e in events:
        await rt.publish(e)
    await rt.drain()
    wall, used = time.perf_counter() - t0, cpu() - c0
    stop.set()
    await task
    return len(events) / wall, len(events) / used


# ---------------------------------------------------------------- 2. one worker


async def worker_kafka(
    bootstrap: str, events: list[Event], guarantee: str = "at_least_once"
) -> tuple[float, float]:
    s = settings_for(bootstrap, guarantee)
    create_topics(bootstrap, s.kafka)
    with tempfile.TemporaryDirectory() as tmp:
        pub = KafkaPublisher(
            bootstrap, Spool(Path(tmp) / "s", 1 << 30), topic_prefix=s.kafka.topic_prefix
        )
        await pub.start()
        for e in events:
            await pub.publish(e)
        await pub.close(timeout=120)
        rt = KafkaRuntime(
            [DetectorProcessor()], bootstrap=bootstrap, cfg=s.kafka, data_dir=Path(tmp)
        )
        await rt.start()
        await rt.ready()
        app = rt.apps[0]
        t0, c0 = time.perf_counter(), cpu()
        while app.processed < len(events):
            await asyncio.sleep(0.02)
        wall, used = time.perf_counter() - t0, cpu() - c0
        await rt.close()
    return len(events) / wall, len(events) / used


async def worker_embedded(events: list[Event]) -> tuple[float, float]:
    return await embedded_rate([DetectorProcessor(), Sink2()], events)


class Sink2(Sink):
    name = "anomaly-sink"
    inputs = ("netvigil.anomalies",)


# ---------------------------------------------------------------- 3. latency


def latency(
    bus: str, bootstrap: str, faults: int, speed: float, guarantee: str = "at_least_once"
) -> list[float]:
    s = settings_for(bootstrap, guarantee) if bus == "kafka" else load_settings()
    s.twin.warmup_s = 600.0
    s.twin.fault_interval_s = 300.0
    s.twin.fault_duration_s = 120.0
    injected: dict[tuple[str, str], float] = {}
    seen: list[float] = []

    def on_fault(what: str, f: Fault, t: float) -> None:
        if what == "injected":
            injected[(f.kind, f.target)] = time.perf_counter()

    def on_incident(topic: str, e: Event) -> None:
        if isinstance(e, Incident) and e.revision == 1 and injected:
            seen.append(time.perf_counter() - max(injected.values()))

    plan = Service.plan_twin(s, fault_count=faults, speed=speed)
    with tempfile.TemporaryDirectory() as tmp:
        svc = Service.build(s, twin=plan, data_dir=Path(tmp), on_fault=on_fault)
        svc.runtime.listen("netvigil.incidents", on_incident)
        asyncio.run(svc.run())
        svc.close()
    return seen


# ---------------------------------------------------------------- driver


def med(runs: list[tuple[float, float]], i: int) -> float:
    return statistics.median(r[i] for r in runs)


def pct(values: list[float], q: float) -> float:
    xs = sorted(values)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))] if xs else float("nan")


def repeat(n: int, fn: Callable[[], Any]) -> list[Any]:
    return [fn() for _ in range(n)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.kafka_bench", description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--worker-events", type=int, default=200_000)
    ap.add_argument("--faults", type=int, default=6)
    ap.add_argument("--speed", type=float, default=10.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    run_dir = Path(tempfile.mkdtemp(prefix="netvigil-bench-kafka-"))
    # a library wrote terminal escapes to stdout during the runs, ahead of the JSON
    with stdout_to_stderr() if args.json else contextlib.nullcontext():
        report = run_all(args, run_dir)
    if args.json:
        print(json.dumps(report))
    else:
        for key, val in report.items():
            if key != "runs":
                print(f"{key}: {val}")
    return 0


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send whatever is written to file descriptor 1 to 2 meanwhile, so that stdout holds
    the JSON report alone (a model loader's terminal escape codes went there)."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def run_all(args: argparse.Namespace, run_dir: Path) -> dict[str, Any]:
    """Every measurement, on a broker of its own; the report."""
    bootstrap = str(kafka_server.start(run_dir)["bootstrap"])
    try:
        ev = metrics(args.events)
        wev = metrics(args.worker_events)
        prod_e = repeat(args.repeats, lambda: asyncio.run(produce_embedded(ev)))
        prod_k = repeat(args.repeats, lambda: asyncio.run(produce_kafka(bootstrap, ev)))
        work_e = repeat(args.repeats, lambda: asyncio.run(worker_embedded(wev)))
        work_k = repeat(args.repeats, lambda: asyncio.run(worker_kafka(bootstrap, wev)))
        work_x = repeat(
            args.repeats, lambda: asyncio.run(worker_kafka(bootstrap, wev, "exactly_once"))
        )
        lat_e = latency("memory", bootstrap, args.faults, args.speed)
        lat_k = latency("kafka", bootstrap, args.faults, args.speed)
        lat_x = latency("kafka", bootstrap, args.faults, args.speed, "exactly_once")
    finally:
        kafka_server.stop(run_dir)
    report = {
        "produce_events_per_s": {"embedded": med(prod_e, 0), "kafka": med(prod_k, 0)},
        "produce_events_per_cpu_s": {"embedded": med(prod_e, 1), "kafka": med(prod_k, 1)},
        "worker_events_per_s": {
            "embedded": med(work_e, 0),
            "kafka": med(work_k, 0),
            "kafka_exactly_once": med(work_x, 0),
        },
        "worker_events_per_cpu_s": {
            "embedded": med(work_e, 1),
            "kafka": med(work_k, 1),
            "kafka_exactly_once": med(work_x, 1),
        },
        "fault_to_incident_s": {
            "embedded": {"p50": pct(lat_e, 0.5), "p99": pct(lat_e, 0.99), "n": len(lat_e)},
            "kafka": {"p50": pct(lat_k, 0.5), "p99": pct(lat_k, 0.99), "n": len(lat_k)},
            "kafka_exactly_once": {
                "p50": pct(lat_x, 0.5),
                "p99": pct(lat_x, 0.99),
                "n": len(lat_x),
            },
        },
        "floors": {
            "produce_events_per_cpu_s": 100_000,
            "worker_events_per_cpu_s": 20_000,
            "fault_to_incident_p99_s": 5.0,
        },
        "runs": {
            "produce": prod_k,
            "worker": work_k,
            "worker_exactly_once": work_x,
            "latency_kafka": lat_k,
            "latency_kafka_exactly_once": lat_x,
        },
        "repeats": args.repeats,
        "events": args.events,
        "worker_events": args.worker_events,
    }
    return report


if __name__ == "__main__":
    raise SystemExit(main())
