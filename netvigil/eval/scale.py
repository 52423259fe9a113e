"""``netvigil bench scale``: the pipeline on a generated carrier network, with a storm.

What runs, in one process:

1. **The network**: :func:`netvigil.twin.carrier.generate` (core, aggregation and access
   tiers, dual-homed) with ``devices`` devices, written as a YAML inventory.
2. **Import** (``graph_import_s``): the inventory read and loaded into the store, timed on the
   wall clock (``memory://`` embedded, or Neo4j: a server at ``neo4j_url``, or one the
   project's ``provision`` code starts for the run, emptied first), the same
   :func:`~netvigil.graph.importers.load_topology` call ``netvigil run`` makes (on Neo4j:
   transactions of ``tx_rows`` rows, see :mod:`netvigil.graph.neo4j_load`);
   ``graph_parse_cpu_s`` beside it is the CPU the reading of the YAML alone takes.
3. **Ranking** (``rank_p99_ms``): :mod:`netvigil.eval.rankspeed` on that store, the p99 of
   ``rank_samples`` fault cases drawn on the carrier network (neighbourhood fetch + ranking).
4. **The storm**: the twin runs the network through the whole pipeline (detector,
   correlator, coordinator, ...; embedded, or with ``bus`` kafka every processor's Kafka loop
   in this process, on a broker at ``kafka_bootstrap`` or one the provision code starts) as
   fast as it goes (or at ``speed``), ``warmup_steps`` quiet steps, then both core routers of
   one core site fail together and it runs ``storm_steps`` more. Both, because
   every aggregation router is dual-homed to a core *pair*: one router's failure isolates
   nothing (the generator guarantees no articulation point), the pair's isolates every POP
   behind it. The site chosen is the one whose pair isolates the most devices (about a tenth
   of the network at the defaults: ~1,000 of 10,000). The management station (the twin's
   ``poller``) sits behind a core router elsewhere, so the isolated devices go silent and
   are reported unreachable: the storm the correlator has to fold into one incident.

Reported (:data:`FIELDS`, the issue's contract, then extras), every figure measured in the run:

- ``metrics_per_s``: metrics the pipeline took per wall second of the run (the twin making
  them in the same process; ``metrics_per_cpu_s`` beside it, this process's CPU: a Kafka
  broker's is not in it). On Kafka, an anomaly's or incident's wall time is when this
  process's consumers read it;
- ``anomalies_per_s_peak``: anomalies of the busiest twin step over the step's simulated
  seconds (what the correlator faces from a live network at that cadence);
- ``correlator_anomalies_per_cpu_s``: anomalies of the run per CPU second of the busiest
  correlator region (the event-loop thread's CPU inside the correlator's ``process`` calls,
  charged to the region whose state they ran on; the key computation shared out evenly); null
  on Neo4j, whose queries run in threads and in the server;
- ``storm_incidents``: incidents opened from the failure on (the floor: exactly one, naming
  a failed router); ``storm_incident_s``: from the first anomaly of the storm to the first
  incident revision whose top root cause is a failed router, as simulated seconds between
  them plus the wall seconds the pipeline took between publishing the two beyond the twin's
  own pacing (at ``speed`` 0, all of them: an upper bound on what a live network would see,
  where the pipeline's work overlaps the waiting; on Kafka mostly the consumers' backlog);
  ``storm_named_at_end`` (an extra) says whether every storm incident's last revision still
  names a failed router first (a later revision may rank others higher);
- ``incident_latency_p99_s``: per incident revision, wall seconds from the detector's
  return of the anomaly that caused it to the end of the correlator's call that emitted it,
  p99 (on Kafka this includes the anomaly's trip through the broker and the re-keying hop);
- ``graph_import_s``, ``rank_p99_ms``: wall clock (a Neo4j store works in its own process);
  ``graph_import_cpu_s`` and ``rank_p99_cpu_ms`` beside them are this process's CPU (all of
  the work on the embedded store; on a loaded machine, what it cost without the waiting);
- ``rss_mb_per_worker``: the peak resident memory of this process, which holds one worker
  running every processor *plus* the twin and the bench (an upper bound).

Values that could not be measured are null, with the reason under ``unmeasured``.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import networkx as nx
import yaml
from pydantic import SecretStr

from netvigil.config import Settings, load_settings
from netvigil.errors import NetVigilError
from netvigil.eval.rankspeed import faults, pct, rank_case_ms
from netvigil.events import Anomaly, Event, Incident, encode
from netvigil.graph.base import TopologyStore
from netvigil.graph.importers import load_topology
from netvigil.graph.memory import MemoryTopology
from netvigil.service import Service, TwinPlan
from netvigil.twin.carrier import Carrier, CarrierSpec, generate
from netvigil.twin.faults import Fault
from netvigil.twin.source import SIM_EPOCH

__all__ = [
    "FIELDS",
    "Progress",
    "ScaleSpec",
    "Storm",
    "choose_storm",
    "run_scale_bench",
]

#: the report's keys the issue names, in its order
FIELDS = (
    "devices",
    "interfaces",
    "metrics_per_s",
    "anomalies_per_s_peak",
    "correlator_anomalies_per_cpu_s",
    "storm_incidents",
    "storm_incident_s",
    "incident_latency_p99_s",
    "rss_mb_per_worker",
    "graph_import_s",
    "rank_p99_ms",
)

#: ``progress(phase, done, total)``: called as each phase advances
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ScaleSpec:
    """One run of the bench (see the module docstring)."""

    devices: int = 10_000
    seed: int = 1
    regions: int = 1
    graph: Literal["embedded", "neo4j"] = "embedded"
    neo4j_url: str | None = None
    """A running Neo4j (emptied by the run); None with ``graph`` neo4j: start one."""
    neo4j_password: str = ""
    warmup_steps: int = 3
    storm_steps: int = 4
    """Twin steps after the failure (10 s each by default: past the 30 s floor)."""
    rank_samples: int = 200
    storm: bool = True
    """False: generate, import and rank only; the pipeline's figures are null."""
    bus: Literal["embedded", "kafka"] = "embedded"
    """The pipeline's runtime: embedded, or Kafka (every processor's loop in this process)."""
    kafka_bootstrap: str | None = None
    """A running Kafka (the run uses topics of its own prefix); None with ``bus`` kafka: start
    one."""
    drain_s: float = 1800.0
    """On Kafka: how long the pipeline may take after the twin's last step."""
    speed: float = 0.0
    """The twin's simulated seconds per wall second; 0: as fast as the pipeline takes them
    (1: the network's own pace, where a pipeline that keeps up builds no backlog)."""


@dataclass(frozen=True)
class Storm:
    """The failure the bench injects: a core site's router pair, and what it cuts off."""

    failed: tuple[str, ...]
    poller: str
    isolated: frozenset[str]


def choose_storm(net: Carrier) -> Storm:
    """The core site whose router pair isolates the most devices (ties: the first site by
    name); the poller is the first core router, by name, of the part still connected."""
    g = nx.MultiGraph()
    g.add_nodes_from(d.name for d in net.devices)
    g.add_edges_from((lk.a, lk.b) for lk in net.links)
    pairs: dict[str, list[str]] = {}
    for d in net.devices:
        if d.role == "core":
            pairs.setdefault(d.site, []).append(d.name)
    best: Storm | None = None
    for site in sorted(pairs):
        failed = tuple(sorted(pairs[site]))
        rest = g.subgraph(set(g) - set(failed))
        main = max(nx.connected_components(rest), key=len)
        isolated = frozenset(set(rest) - main)
        if best is None or len(isolated) > len(best.isolated):
            poller = min(n for n in main if n in {c for p in pairs.values() for c in p})
            best = Storm(failed, poller, isolated)
    if best is None:
        raise ValueError("the network has no core routers")
    return best


@dataclass
class _Watch:
    """What the pipeline published, with wall times, and the correlator's CPU per region."""

    anomalies: list[tuple[float, Anomaly]] = field(default_factory=list)
    incidents: list[tuple[float, Incident]] = field(default_factory=list)
    metrics: int = 0
    emitted: dict[bytes, float] = field(default_factory=dict)
    """An anomaly's encoding -> wall time the detector returned it (on Kafka the
    correlator gets a decoded copy, so the bytes, not the object, identify it)."""
    cpu: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    latencies: list[float] = field(default_factory=list)

    def listen(self, topic: str, event: Event) -> None:
        now = time.monotonic()
        if isinstance(event, Anomaly):
            self.anomalies.append((now, event))
        elif isinstance(event, Incident):
            self.incidents.append((now, event))
        else:
            self.metrics += 1

    def wrap_detector(self, proc: Any) -> None:
        """Note when the detector returns each anomaly (the start of its latency)."""
        process = proc.process

        async def noted_process(event: Event, state: Any) -> Sequence[Event]:
            out = await process(event, state)
            if out:
                now = time.monotonic()
                for e in out:
                    if isinstance(e, Anomaly):
                        self.emitted.setdefault(encode(e), now)
            return out  # type: ignore[no-any-return]

        proc.process = noted_process

    def wrap(self, proc: Any) -> None:
        """Time the correlator's calls (its public processor interface, on the instance)."""
        keys, new_state_for, process = proc.keys, proc.new_state_for, proc.process
        region_of: dict[int, str] = {}

        def timed_keys(event: Event) -> Sequence[str]:
            t0 = time.thread_time()
            try:
                return keys(event)  # type: ignore[no-any-return]
            finally:
                self.cpu["keys"] += time.thread_time() - t0

        def timed_new_state_for(key: str) -> Any:
            state = new_state_for(key)
            region_of[id(state)] = key
            return state

        async def timed_process(event: Event, state: Any) -> Sequence[Event]:
            t0 = time.thread_time()
            out = await process(event, state)
            self.cpu[region_of.get(id(state), "?")] += time.thread_time() - t0
            if any(isinstance(e, Incident) for e in out) and isinstance(event, Anomaly):
                done = time.monotonic()
                emitted = self.emitted.get(encode(event))
                if emitted is not None:
                    self.latencies += [done - emitted for e in out if isinstance(e, Incident)]
            return out  # type: ignore[no-any-return]

        proc.keys, proc.new_state_for, proc.process = timed_keys, timed_new_state_for, timed_process


@contextlib.contextmanager
def _bus(spec: ScaleSpec, workdir: Path) -> Iterator[str]:
    """The pipeline's ``bus.url``: embedded, or a Kafka (``kafka_bootstrap``, or a broker the
    project's provision code starts for the run and stops after it)."""
    if spec.bus == "embedded":
        yield "memory://"
        return
    if spec.kafka_bootstrap is not None:
        yield f"kafka://{spec.kafka_bootstrap}"
        return
    try:
        from provision.servers import kafka as server
    except ImportError:
        raise RuntimeError(
            "--bus kafka without --kafka-bootstrap starts a broker with the project's provision "
            "code: install NetVigil from its checkout, or give --kafka-bootstrap"
        ) from None
    started = workdir / "kafka"
    try:
        yield f"kafka://{server.start(started)['bootstrap']}"
    finally:
        server.stop(started)


@contextlib.contextmanager
def _store(spec: ScaleSpec, workdir: Path) -> Iterator[tuple[TopologyStore, str]]:
    """The store under test and its ``graph.url``."""
    if spec.graph == "embedded":
        yield MemoryTopology(), "memory://"
        return
    from netvigil.graph.neo4j import Neo4jTopology

    url, started = spec.neo4j_url, None
    if url is None:
        try:
            from provision.servers import neo4j as server
        except ImportError:
            raise RuntimeError(
                "--graph neo4j without --neo4j-url starts a Neo4j with the project's provision "
                "code: run from a NetVigil checkout, or give --neo4j-url"
            ) from None
        started = workdir / "neo4j"
        url = str(server.start(started)["url"])
    try:
        store = Neo4jTopology(url, password=spec.neo4j_password)
        try:
            store.clear()
            yield store, url
        finally:
            store.close()
    finally:
        if started is not None:
            server.stop(started)


def _rank_p99(store: TopologyStore, samples: int, progress: Progress) -> tuple[float, float]:
    """p99 of ranking on the wall clock and in this process's CPU, in milliseconds."""
    cases = faults(store, samples, seed=3)
    for refs in cases[:5]:  # warm caches and connections
        rank_case_ms(store, refs)
    wall, cpu = [], []
    for i, refs in enumerate(cases):
        w, c = rank_case_ms(store, refs)
        wall.append(w)
        cpu.append(c)
        progress("ranking", i + 1, len(cases))
    return pct(wall, 0.99), pct(cpu, 0.99)


def _p99(xs: list[float]) -> float | None:
    return round(pct(xs, 0.99), 3) if xs else None


def run_scale_bench(spec: ScaleSpec, progress: Progress | None = None) -> dict[str, Any]:
    """Run the bench once (see the module docstring); returns the report."""
    say: Progress = progress or (lambda phase, done, total: None)
    unmeasured: dict[str, str] = {}
    say("generating", 0, 1)
    net = generate(CarrierSpec(devices=spec.devices, seed=spec.seed))
    storm = choose_storm(net)
    say("generating", 1, 1)
    with tempfile.TemporaryDirectory(prefix="netvigil-scale-") as tmp:
        workdir = Path(tmp)
        inventory = workdir / "carrier.yaml"
        inventory.write_text(yaml.safe_dump(net.to_yaml(), sort_keys=False))
        with _store(spec, workdir) as (store, url):
            say("importing", 0, 1)
            t0, c0 = time.perf_counter(), time.process_time()
            load_topology(inventory, store)
            import_s, import_cpu_s = time.perf_counter() - t0, time.process_time() - c0
            c0 = time.process_time()
            load_topology(inventory)  # the reading alone, for graph_parse_cpu_s
            parse_cpu_s = time.process_time() - c0
            say("importing", 1, 1)
            rank_p99, rank_cpu_p99 = _rank_p99(store, spec.rank_samples, say)
            if not spec.storm:
                run = _not_run("the pipeline was not run (--no-storm)")
            elif spec.graph == "embedded":
                run = _run_storm(spec, storm, inventory, url, workdir, say)
            else:
                try:  # the pipeline imports the inventory again: it finds nothing to write
                    run = _run_storm(spec, storm, inventory, url, workdir, say)
                except NetVigilError as exc:
                    run = _not_run(f"the pipeline failed on Neo4j: {exc}")
    if spec.graph != "embedded" and "metrics_per_s" not in run["unmeasured"]:
        unmeasured["correlator_anomalies_per_cpu_s"] = (
            "on Neo4j the correlator's queries run in threads and in the server: the event "
            "loop's CPU inside its calls is not its cost"
        )
    report: dict[str, Any] = {
        "devices": len(net.devices),
        "interfaces": 2 * len(net.links),
        **{k: run[k] for k in FIELDS if k in run},
        "rss_mb_per_worker": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "graph_import_s": round(import_s, 2),
        "rank_p99_ms": round(rank_p99, 1),
    }
    for key, why in {**run["unmeasured"], **unmeasured}.items():
        report[key] = None
        unmeasured.setdefault(key, why)
    return {
        **{k: report[k] for k in FIELDS},
        "graph": spec.graph,
        "bus": spec.bus,
        "regions": spec.regions,
        "seed": spec.seed,
        "links": len(net.links),
        "graph_import_cpu_s": round(import_cpu_s, 2),
        "graph_parse_cpu_s": round(parse_cpu_s, 2),
        "rank_p99_cpu_ms": round(rank_cpu_p99, 1),
        "storm_failed": list(storm.failed),
        "storm_isolated_devices": len(storm.isolated),
        "storm_anomalies": run["storm_anomalies"],
        "storm_root_causes": run["storm_root_causes"],
        "storm_named_at_end": run["storm_named_at_end"],
        "metrics": run["metrics"],
        "metrics_per_cpu_s": run["metrics_per_cpu_s"],
        "anomalies": run["anomalies"],
        "incident_revisions": run["incident_revisions"],
        "pipeline_wall_s": run["pipeline_wall_s"],
        "unmeasured": unmeasured,
    }


def _run_storm(
    spec: ScaleSpec, storm: Storm, inventory: Path, url: str, workdir: Path, say: Progress
) -> dict[str, Any]:
    settings = load_settings()
    settings.graph.url = url
    if spec.neo4j_password:
        settings.graph.password = SecretStr(spec.neo4j_password)
    settings.twin.topology = inventory
    settings.correlator.regions = spec.regions
    settings.detector.log_classifier = "keywords"  # no log lines in this run: no model to load
    step = settings.twin.step_s
    fail_at = SIM_EPOCH + spec.warmup_steps * step
    until = fail_at + spec.storm_steps * step
    plan = TwinPlan(
        speed=spec.speed,
        faults=[Fault("node_down", d, fail_at, until + step) for d in storm.failed],
        until=until,
        poll_reachability=True,
        poller=storm.poller,
    )
    total = spec.warmup_steps + spec.storm_steps + 1
    say("building the pipeline", 0, total)
    with _bus(spec, workdir) as bus_url:
        settings.bus.url = bus_url
        settings.kafka.topic_prefix = f"scale{uuid.uuid4().hex[:8]}."
        return _run_pipeline(settings, plan, storm, fail_at, spec, workdir, say)


def _run_pipeline(
    settings: Settings,
    plan: TwinPlan,
    storm: Storm,
    fail_at: float,
    spec: ScaleSpec,
    workdir: Path,
    say: Progress,
) -> dict[str, Any]:
    step = settings.twin.step_s
    total = spec.warmup_steps + spec.storm_steps + 1
    svc = Service.build(settings, twin=plan, data_dir=workdir / "data")
    runtime = svc.runtime
    watch = _Watch()
    for topic in ("netvigil.metrics", "netvigil.anomalies", "netvigil.incidents"):
        runtime.listen(topic, watch.listen)
    procs = {p.name: p for p in svc.processors}
    watch.wrap_detector(procs["detector"])
    watch.wrap(procs["correlator"])
    assert svc.twin is not None
    steps = [0]

    def stepped(t: float) -> None:
        steps[0] += 1
        say("pipeline (twin steps)", steps[0], total)

    svc.twin.step_hooks.append(stepped)
    wall0, cpu0 = time.monotonic(), time.process_time()
    try:
        if spec.bus == "kafka":  # a storm's backlog takes longer than the default minute
            from netvigil.streams.kafka import KafkaRuntime

            assert isinstance(runtime, KafkaRuntime)
            asyncio.run(runtime.run(drain_s=spec.drain_s))
        else:
            asyncio.run(svc.run())
    finally:
        svc.close()
    wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
    metrics = watch.metrics
    return {
        **_storm_figures(watch, storm, fail_at, step, spec.regions, spec.speed),
        "metrics": metrics,
        "metrics_per_s": round(metrics / wall),
        "metrics_per_cpu_s": round(metrics / cpu),
        "pipeline_wall_s": round(wall, 1),
    }


#: the figures only the pipeline run gives
_PIPELINE = (
    "metrics_per_s",
    "anomalies_per_s_peak",
    "correlator_anomalies_per_cpu_s",
    "storm_incidents",
    "storm_incident_s",
    "incident_latency_p99_s",
)


def _not_run(why: str) -> dict[str, Any]:
    extras = ("storm_anomalies", "storm_named_at_end", "metrics", "metrics_per_cpu_s", "anomalies")
    return {
        **dict.fromkeys(_PIPELINE + extras),
        "storm_root_causes": {},
        "incident_revisions": None,
        "pipeline_wall_s": None,
        "unmeasured": dict.fromkeys(_PIPELINE, why),
    }


def _storm_figures(
    watch: _Watch, storm: Storm, fail_at: float, step: float, regions: int, speed: float = 0.0
) -> dict[str, Any]:
    unmeasured: dict[str, str] = {}
    anomalies = [a for _, a in watch.anomalies]
    per_step = Counter(int(a.ts // step) for a in anomalies)
    first: dict[str, tuple[float, Incident]] = {}
    for wall, inc in watch.incidents:
        first.setdefault(inc.fingerprint, (wall, inc))
    storm_fps = sorted(fp for fp, (_, inc) in first.items() if inc.ts >= fail_at)
    storm_anoms = [(w, a) for w, a in watch.anomalies if a.ts >= fail_at]
    naming = [
        (w, inc)
        for w, inc in watch.incidents
        if inc.fingerprint in storm_fps and inc.root_causes
        if inc.root_causes[0].entity in storm.failed
    ]
    storm_s: float | None = None
    if not storm_anoms:
        unmeasured["storm_incident_s"] = "the storm raised no anomaly"
    elif not naming:
        unmeasured["storm_incident_s"] = "no incident named a failed router first"
    else:
        (w0, a0), (w1, inc) = storm_anoms[0], naming[0]
        simulated = max(inc.ts - a0.ts, 0.0)
        paced = simulated / speed if speed > 0 else 0.0  # the twin's own wait between the two
        storm_s = round(simulated + max(w1 - w0 - paced, 0.0), 2)
    latest = {inc.fingerprint: inc for _, inc in watch.incidents}
    busiest = max((v for k, v in watch.cpu.items() if k != "keys"), default=0.0)
    busiest += watch.cpu["keys"] / regions
    if not anomalies:
        unmeasured["correlator_anomalies_per_cpu_s"] = "no anomaly reached the correlator"
    if not watch.latencies:
        unmeasured["incident_latency_p99_s"] = "no incident revision"
    return {
        "anomalies": len(anomalies),
        "anomalies_per_s_peak": round(max(per_step.values(), default=0) / step, 1),
        "correlator_anomalies_per_cpu_s": round(len(anomalies) / busiest) if busiest else None,
        "storm_incidents": len(storm_fps),
        "storm_incident_s": storm_s,
        "storm_anomalies": len(storm_anoms),
        "storm_root_causes": {
            fp[:12]: [rc.entity for rc in latest[fp].root_causes[:3]] for fp in storm_fps
        },
        "storm_named_at_end": bool(storm_fps)
        and all(
            bool(latest[fp].root_causes) and latest[fp].root_causes[0].entity in storm.failed
            for fp in storm_fps
        ),
        "incident_revisions": len(watch.incidents),
        "incident_latency_p99_s": _p99(watch.latencies),
        "unmeasured": unmeasured,
    }
