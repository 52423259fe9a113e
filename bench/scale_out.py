"""Scale-out curve: 1, 2 and 4 ``netvigil worker`` processes on the same stream.

    nice -n 10 python -m bench.scale_out [--workers 1,2,4] [--repeats 2] [--devices 120]
        [--faults 3] [--regions 4] [--partitions 4] [--json]

Starts its own Apache Kafka broker (provision/, free ports) and stops it at the end. The
stream is the twin's telemetry of a generated carrier network (``--devices``, ``--faults``
faults, 10 s steps, warm-up and settle time included), made once in this process.

For each W and repeat, on topics and consumer groups of a prefix of their own (so every W
reads the whole stream from its start):

1. W ``netvigil worker`` processes (the CLI, separate processes; the default processors,
   detector and correlator; ``correlator.regions`` = ``--regions``) start on the empty
   topics, and the bench waits until they share the partitions (each worker's
   ``assignment.json``: every input partition of the detector and the correlator held by
   exactly one worker);
2. the workers are paused (SIGSTOP), the stream is published (``KafkaPublisher``, as a
   collector does), and they are resumed (SIGCONT): a backlog reaches W running workers at
   once. Their start-up, group joins and the publishing are outside the measurement;
3. from the resume, the consumer lag of the detector's and the correlator's groups (their
   input topics, the correlator's re-keyed topic included) and the end offsets of the output
   topics (anomalies, incidents) are read every second. Lag 0 alone is not the end: the
   correlator commits what it holds back for the watermarks and emits it later. The run is
   over when the lag is 0 and the outputs have not grown for ``--quiet-s``; its end is the
   first sample of that quiet time. Reported: ``wall_s`` (resume to that end; the CPU is
   read there too), ``events_per_s``
   (stream events per wall second), ``events_per_cpu_s`` (per CPU second summed over the W
   processes, user + system, children included, from ``/proc/PID/stat``), ``lag_max``,
   ``lag_zero_s`` (when the lag was first 0: the gap to ``wall_s`` is what the correlator
   held back for the watermarks), a short ``lag_series`` (records) and
   ``idle_cpu_per_s_by_worker`` (each worker's CPU per wall second during the quiet time,
   when it had nothing to do: what a worker costs by running);
4. the anomalies and incidents the workers wrote are read back: ``same_incidents`` says
   whether every run ended with the first run's incidents (fingerprint, last status, top
   root cause), so the curve measures the same work; ``same_anomalies`` the same of the
   distinct anomalies, which the detector's merge of its two input topics can change under
   load (its 10 s ``max_hold``, docs/kafka.md).

Medians over ``--repeats``; ratios against W=1 of the same run. The machine this was written
on has two cores shared with other work: W=4 cannot be faster in wall time than W=2 there,
and W=2 only when the other work leaves the second core free. The per-CPU-second figure is
the one that transfers to a machine with a core per worker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka.admin import AdminClient

from netvigil.config import load_settings
from netvigil.events import Anomaly, Event, Incident
from netvigil.graph.importers import load_topology
from netvigil.service import Service
from netvigil.streams.kafka.admin import EndOffsets, admin_config, create_topics, group_lag
from netvigil.streams.kafka.keyed import group_of
from netvigil.streams.kafka.producer import KafkaPublisher
from netvigil.streams.kafka.replay import read_range
from netvigil.streams.kafka.spool import Spool
from netvigil.twin.carrier import CarrierSpec, generate
from netvigil.twin.network import TwinNetwork
from netvigil.twin.source import SIM_EPOCH
from provision.servers import kafka as kafka_server

__all__ = ["cpu_seconds", "lag_summary", "main", "rates", "ratios"]

PROCESSORS = ("detector", "correlator")
TWO_CORES = (
    "this machine has 2 cores shared with other work: W=4 cannot be faster in wall time "
    "than W=2 here; events per CPU second is the figure that transfers"
)


def say(msg: str) -> None:
    print(f"[scale_out {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- pure helpers


def cpu_seconds(stat: str, ticks: int) -> float:
    """User + system CPU seconds of a process, its waited-for children included, from the
    text of ``/proc/PID/stat`` (fields 14-17 after the command name)."""
    rest = stat[stat.rindex(")") + 2 :].split()  # rest[0] is field 3 (state)
    return sum(int(x) for x in rest[11:15]) / ticks


def rates(events: int, wall_s: float, cpu_s: float) -> dict[str, float]:
    """Events per wall second and per CPU second (the CPU summed over the workers)."""
    return {
        "events_per_s": events / wall_s if wall_s > 0 else float("nan"),
        "events_per_cpu_s": events / cpu_s if cpu_s > 0 else float("nan"),
    }


def lag_summary(samples: Sequence[tuple[float, int]], points: int = 12) -> dict[str, Any]:
    """The largest lag, when it was first 0, and ``points`` samples spread evenly over
    ``samples`` ((seconds since the start, records behind)), the first and the last
    included."""
    if not samples:
        return {"lag_max": None, "lag_zero_s": None, "lag_series": []}
    if len(samples) <= points:
        picked = list(samples)
    else:
        step = (len(samples) - 1) / (points - 1)
        picked = [samples[round(i * step)] for i in range(points)]
    return {
        "lag_max": max(lag for _, lag in samples),
        "lag_zero_s": next((round(t, 1) for t, lag in samples if lag == 0), None),
        "lag_series": [[round(t, 1), lag] for t, lag in picked],
    }


def ratios(per_w: dict[int, dict[str, float]], keys: Iterable[str]) -> dict[int, dict[str, float]]:
    """Each W's figures over W=1's (the smallest W measured), for ``keys``."""
    base = per_w[min(per_w)]
    return {w: {k: round(v[k] / base[k], 3) for k in keys if base[k]} for w, v in per_w.items()}


# ---------------------------------------------------------------- the stream


@dataclass
class Stream:
    events: list[Event]
    topology: Path
    faults: list[tuple[str, str]]


def make_stream(devices: int, faults: int, workdir: Path) -> Stream:
    """The twin's telemetry of a ``devices``-device carrier network with ``faults`` faults."""
    net = generate(CarrierSpec(devices=devices, services=0))
    path = workdir / "carrier.yaml"
    path.write_text(yaml.safe_dump(net.to_yaml(), sort_keys=False))
    s = load_settings()
    s.twin.topology = path
    s.twin.warmup_s, s.twin.fault_interval_s, s.twin.fault_duration_s = 450.0, 300.0, 120.0
    topo = load_topology(path)
    plan = Service.plan_twin(s, topo, fault_count=faults, speed=0.0)
    twin = TwinNetwork(topo, plan.faults, seed=s.twin.seed)
    events: list[Event] = []
    t = SIM_EPOCH
    assert plan.until is not None
    while t <= plan.until:
        events.extend(twin.step(t))
        t += s.twin.step_s
    return Stream(events, path, [(f.kind, f.target) for f in plan.faults])


def publish(bootstrap: str, prefix: str, events: list[Event], spool: Path) -> None:
    async def go() -> None:
        pub = KafkaPublisher(bootstrap, Spool(spool, 1 << 30), topic_prefix=prefix)
        await pub.start()
        for e in events:
            await pub.publish(e)
        await pub.close(timeout=300)
        if pub.stats()["spool_bytes"]:
            raise RuntimeError("the publisher spooled events: the broker did not take them")

    asyncio.run(go())


# ---------------------------------------------------------------- workers


class Worker:
    """A ``netvigil worker`` process, as an operator starts it."""

    def __init__(self, name: str, env: dict[str, str], root: Path) -> None:
        self.data = root / name
        self.log = root / f"{name}.log"
        argv = [sys.executable, "-m", "netvigil.cli", "worker", "--data-dir", str(self.data)]
        with self.log.open("wb") as fh:
            self.proc = subprocess.Popen(
                [*argv, "--processors", ",".join(PROCESSORS)],
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=env,
            )

    def assigned(self, proc: str) -> set[tuple[str, int]]:
        path = self.data / "kafka" / proc / "assignment.json"
        try:
            return {(t, p) for t, p in json.loads(path.read_text())["assigned"]}
        except (OSError, ValueError):
            return set()

    def cpu(self) -> float:
        return cpu_seconds(
            Path(f"/proc/{self.proc.pid}/stat").read_text(), os.sysconf("SC_CLK_TCK")
        )

    def signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self) -> None:
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def worker_env(bootstrap: str, prefix: str, args: argparse.Namespace, topo: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETVIGIL_")}
    return env | {
        "NETVIGIL_BUS__URL": f"kafka://{bootstrap}",
        "NETVIGIL_KAFKA__TOPIC_PREFIX": prefix,
        "NETVIGIL_KAFKA__PARTITIONS": str(args.partitions),
        # the pause while the stream is published must not cost a worker its group seat
        "NETVIGIL_KAFKA__SESSION_TIMEOUT_S": str(args.session_timeout_s),
        "NETVIGIL_KAFKA__PROCESSING_GUARANTEE": "at_least_once",
        "NETVIGIL_GRAPH__TOPOLOGY": str(topo),
        "NETVIGIL_CORRELATOR__REGIONS": str(args.regions),
        "NETVIGIL_LOG__LEVEL": "WARNING",
    }


def wait_shared(workers: list[Worker], prefix: str, partitions: int, timeout: float) -> float:
    """Seconds until every input partition of each processor is held by exactly one worker."""
    t0 = time.monotonic()
    inputs = {
        "detector": {prefix + t for t in ("netvigil.metrics", "netvigil.events")},
        "correlator": {prefix + "netvigil.anomalies", group_of("correlator", prefix) + "-by-key"},
    }
    while time.monotonic() - t0 < timeout:
        ok = True
        for proc, topics in inputs.items():
            held = [w.assigned(proc) for w in workers]
            want = {(t, p) for t in topics for p in range(partitions)}
            union = set().union(*held)
            if not want <= union or sum(len(h) for h in held) != len(union) or not all(held):
                ok = False
        if ok:
            return time.monotonic() - t0
        dead = [w for w in workers if w.proc.poll() is not None]
        if dead:
            raise RuntimeError(f"a worker exited: {dead[0].log.read_text()[-2000:]}")
        time.sleep(0.5)
    raise RuntimeError(f"workers did not share the partitions within {timeout} s")


def group_topics(workers: list[Worker], proc: str) -> list[str]:
    return sorted({t for w in workers for t, _ in w.assigned(proc)})


def output_partitions(bootstrap: str, prefix: str) -> list[tuple[str, int]]:
    """Every partition of the topics the workers write their results to."""
    names = [prefix + "netvigil.anomalies", prefix + "netvigil.incidents"]
    meta = AdminClient(admin_config(bootstrap)).list_topics(timeout=30).topics
    return [(t, p) for t in names for p in sorted(meta[t].partitions)]


def total_lag(bootstrap: str, reads: dict[str, list[str]]) -> int:
    return sum(g.lag for grp, topics in reads.items() for g in group_lag(bootstrap, [grp], topics))


def results(bootstrap: str, prefix: str) -> dict[str, Any]:
    """The distinct anomalies and the incidents (last revision) the workers wrote."""
    got = read_range(
        bootstrap, [prefix + "netvigil.anomalies", prefix + "netvigil.incidents"], 0.0, 1e12
    ).events
    anomalies = {(a.ts, a.entity, a.signal, a.state, a.kind) for a in got if isinstance(a, Anomaly)}
    last: dict[str, Incident] = {}
    for e in got:
        if isinstance(e, Incident) and (
            e.fingerprint not in last or last[e.fingerprint].revision < e.revision
        ):
            last[e.fingerprint] = e
    incidents = sorted(
        (fp, i.status, i.root_cause.entity if i.root_cause else None) for fp, i in last.items()
    )
    return {"anomalies": len(anomalies), "anomaly_set": anomalies, "incidents": incidents}


@dataclass
class Run:
    workers: int
    wall_s: float
    cpu_s: float
    cpu_by_worker: list[float]
    join_s: float
    publish_s: float
    samples: list[tuple[float, int]] = field(default_factory=list)
    idle_cpu_per_s: list[float] = field(default_factory=list)
    """Each worker's CPU seconds per wall second during the quiet time (nothing to do)."""
    result: dict[str, Any] = field(default_factory=dict)


def one_run(
    bootstrap: str, w: int, rep: int, stream: Stream, args: argparse.Namespace, root: Path
) -> Run:
    prefix = f"so{w}r{rep}{uuid.uuid4().hex[:6]}."
    cfg = load_settings().kafka
    cfg.topic_prefix, cfg.partitions = prefix, args.partitions
    create_topics(bootstrap, cfg)
    run_dir = root / prefix.rstrip(".")
    run_dir.mkdir()
    env = worker_env(bootstrap, prefix, args, stream.topology)
    workers = [Worker(f"w{i}", env, run_dir) for i in range(w)]
    try:
        say(f"W={w} repeat {rep + 1}: {w} workers starting")
        join_s = wait_shared(workers, prefix, args.partitions, args.join_timeout_s)
        reads = {group_of(p, prefix): group_topics(workers, p) for p in PROCESSORS}
        for wk in workers:
            wk.signal(signal.SIGSTOP)
        say(f"W={w}: shared after {join_s:.1f} s; paused; publishing {len(stream.events)} events")
        t = time.monotonic()
        publish(bootstrap, prefix, stream.events, run_dir / "spool")
        publish_s = time.monotonic() - t
        if publish_s > 0.8 * args.session_timeout_s:
            say(f"W={w}: publishing took {publish_s:.0f} s, near the session timeout")
        cpu0 = [wk.cpu() for wk in workers]
        t0 = time.monotonic()
        for wk in workers:
            wk.signal(signal.SIGCONT)
        say(f"W={w}: published in {publish_s:.1f} s; resumed; sampling lag every second")
        samples: list[tuple[float, int]] = []
        outputs = output_partitions(bootstrap, prefix)
        ends = EndOffsets(bootstrap)
        seen: tuple[int, ...] = ()
        settled: tuple[float, list[float]] | None = None  # (when, the workers' CPU then)
        while True:
            lag = total_lag(bootstrap, reads)
            out = tuple(v or 0 for v in ends(outputs).values())
            now = time.monotonic() - t0
            samples.append((now, lag))
            if lag > 0:
                settled = None
            elif out != seen or settled is None:
                settled = (now, [wk.cpu() for wk in workers])
            seen = out
            if settled is not None and now - settled[0] >= args.quiet_s:
                break
            if now > args.drain_timeout_s:
                raise RuntimeError(f"W={w}: lag {lag} after {now:.0f} s")
            if any(wk.proc.poll() is not None for wk in workers):
                raise RuntimeError(f"W={w}: a worker exited during the run")
            time.sleep(max(0.0, 1.0 - (time.monotonic() - t0 - now)))
        wall = settled[0]
        used = [c1 - c0 for c1, c0 in zip(settled[1], cpu0, strict=True)]
        # the quiet time: the workers had nothing to do; what did they cost per second?
        quiet = time.monotonic() - t0 - wall
        idle = [(wk.cpu() - c) / quiet for wk, c in zip(workers, settled[1], strict=True)]
        samples = [(t, lag) for t, lag in samples if t <= wall]
    finally:
        for wk in workers:
            wk.stop()
    run = Run(w, wall, sum(used), used, join_s, publish_s, samples, idle)
    run.result = results(bootstrap, prefix)
    say(
        f"W={w} repeat {rep + 1}: {wall:.1f} s wall, {sum(used):.1f} CPU s, "
        f"{run.result['anomalies']} anomalies, {len(run.result['incidents'])} incidents"
    )
    return run


# ---------------------------------------------------------------- driver


def report(
    runs: list[Run], stream: Stream, args: argparse.Namespace, load: dict[str, Any]
) -> dict[str, Any]:
    n = len(stream.events)
    per_w: dict[int, dict[str, float]] = {}
    detail: dict[str, Any] = {}
    for w in sorted({r.workers for r in runs}):
        mine = [r for r in runs if r.workers == w]
        figs = [rates(n, r.wall_s, r.cpu_s) | {"wall_s": r.wall_s, "cpu_s": r.cpu_s} for r in mine]
        per_w[w] = {k: statistics.median(f[k] for f in figs) for k in figs[0]}
        lags = [lag_summary(r.samples) for r in mine]
        detail[str(w)] = {k: round(v, 2) for k, v in per_w[w].items()} | {
            "lag_max": statistics.median(x["lag_max"] for x in lags),
            "lag_series": lags[0]["lag_series"],
            "runs": [
                {
                    "wall_s": round(r.wall_s, 2),
                    "cpu_s": round(r.cpu_s, 2),
                    "cpu_by_worker": [round(c, 2) for c in r.cpu_by_worker],
                    "lag_max": lag["lag_max"],
                    "lag_zero_s": lag["lag_zero_s"],
                    "join_s": round(r.join_s, 1),
                    "publish_s": round(r.publish_s, 1),
                    "idle_cpu_per_s_by_worker": [round(c, 3) for c in r.idle_cpu_per_s],
                }
                for r, lag in zip(mine, lags, strict=True)
            ],
        }
    ref = runs[0].result
    return {
        "workers": detail,
        "vs_one_worker": {
            str(w): v for w, v in ratios(per_w, ("events_per_s", "events_per_cpu_s")).items()
        },
        "same_incidents": all(r.result["incidents"] == ref["incidents"] for r in runs),
        "same_anomalies": all(r.result["anomaly_set"] == ref["anomaly_set"] for r in runs),
        "result": {
            "anomalies": ref["anomalies"],
            "incidents": len(ref["incidents"]),
            "incident_root_causes": sorted({rc for _, _, rc in ref["incidents"] if rc}),
            "per_run": [
                {
                    "workers": r.workers,
                    "anomalies": r.result["anomalies"],
                    "anomalies_not_in_first_run": len(r.result["anomaly_set"] - ref["anomaly_set"]),
                    "incidents": len(r.result["incidents"]),
                    "resolved": sum(s == "resolved" for _, s, _ in r.result["incidents"]),
                }
                for r in runs
            ],
        },
        "stream": {
            "events": n,
            "devices": args.devices,
            "faults": stream.faults,
            "partitions": args.partitions,
            "regions": args.regions,
            "processors": list(PROCESSORS),
            "guarantee": "at_least_once",
            "lag_unit": "Kafka records behind, summed over both groups (a record carries up "
            "to kafka.batch_max_events = 200 events of one key)",
        },
        "repeats": args.repeats,
        "machine": {"cores": os.cpu_count(), "note": TWO_CORES, **load},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.scale_out", description=__doc__)
    ap.add_argument("--workers", default="1,2,4", help="comma-separated worker counts")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--devices", type=int, default=80)
    ap.add_argument("--faults", type=int, default=3)
    ap.add_argument("--regions", type=int, default=4)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--session-timeout-s", type=float, default=30.0)
    ap.add_argument("--quiet-s", type=float, default=20.0)
    ap.add_argument("--join-timeout-s", type=float, default=240.0)
    ap.add_argument("--drain-timeout-s", type=float, default=900.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    counts = [int(x) for x in args.workers.split(",")]
    root = Path(tempfile.mkdtemp(prefix="netvigil-scale-out-"))
    say(f"making the stream: {args.devices} devices, {args.faults} faults")
    stream = make_stream(args.devices, args.faults, root)
    say(f"{len(stream.events)} events; starting a Kafka broker")
    load0 = os.getloadavg()
    bootstrap = str(kafka_server.start(root / "kafka")["bootstrap"])
    runs: list[Run] = []
    try:
        for rep in range(args.repeats):  # interleaved, so a change of load hits every W
            for w in counts:
                runs.append(one_run(bootstrap, w, rep, stream, args, root))
    finally:
        kafka_server.stop(root / "kafka")
    load = {"loadavg_start": list(load0), "loadavg_end": list(os.getloadavg())}
    out = report(runs, stream, args, load)
    if args.json:
        print(json.dumps(out))
    else:
        for w, d in out["workers"].items():
            print(
                f"W={w}: {d['wall_s']:.1f} s wall, {d['events_per_s']:,.0f} events/s, "
                f"{d['events_per_cpu_s']:,.0f} events/CPU s, lag max {d['lag_max']:,}; "
                f"vs W=1 {out['vs_one_worker'][w]}"
            )
        print(
            f"same incidents for every run: {out['same_incidents']}, same anomalies: "
            f"{out['same_anomalies']} ({out['result']})"
        )
        print(f"load average {load}; {TWO_CORES}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
