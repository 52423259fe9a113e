"""Assembles the service from settings: stores, processors, sources and the runtime.

Implementations are picked by URL scheme from short registries (``memory://`` bus and graph,
``local://`` tickets). Schemes whose implementation lives in a later part of the build are
named in the error, not silently replaced.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netvigil.collectors.push import push_collectors
from netvigil.collectors.service_level import service_level_processors, service_level_sources
from netvigil.collectors.sources import device_sources
from netvigil.config import Settings, TicketSettings
from netvigil.errors import ConfigError
from netvigil.graph.base import TopologyStore
from netvigil.graph.importers import load_topology
from netvigil.graph.memory import MemoryTopology
from netvigil.heap import settle
from netvigil.redaction import redact_urls
from netvigil.resolvers.assemble import PreventionParts, build_coordinator
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.base import TicketBackend
from netvigil.resolvers.breaker import AutonomyState
from netvigil.resolvers.incidents import IncidentStore
from netvigil.resolvers.policy import Policy
from netvigil.resolvers.remediation import ActionStore
from netvigil.resolvers.sampler import SamplerProcessor
from netvigil.resolvers.tickets.local import LocalTickets
from netvigil.resolvers.tickets.servicenow import ServiceNowTickets
from netvigil.streams.analytics import analytics_processors, summarizer
from netvigil.streams.base import Processor, Runtime, Source
from netvigil.streams.correlate import CorrelatorConfig, CorrelatorProcessor
from netvigil.streams.deadletters import DeadLetterFile
from netvigil.streams.detect import DetectorProcessor
from netvigil.streams.embedded import EmbeddedRuntime
from netvigil.streams.risks import RiskProcessor
from netvigil.twin.faults import Fault, schedule_faults
from netvigil.twin.network import TwinNetwork
from netvigil.twin.service_setup import attach_services, twin_service_specs
from netvigil.twin.source import CLOCK_FILE, SIM_EPOCH, TwinSource

__all__ = ["Service", "TwinPlan", "correlator_config", "open_graph"]


def correlator_config(settings: Settings, *, twin: bool) -> CorrelatorConfig:
    """The correlator's configuration from ``settings``; ``twin``: this process runs the
    twin, so a device's reachability is judged every twin step, not every SNMP poll (unless
    ``correlator.poll_interval_s`` says what the interval is)."""
    c = settings.correlator
    poll_s = c.poll_interval_s or (settings.twin.step_s if twin else settings.snmp.interval_s)
    return CorrelatorConfig(
        window_s=c.window_s,
        max_hops=c.max_hops,
        min_evidence=c.min_evidence,
        late_s=c.late_s,
        regions=c.regions,
        halo_hops=c.halo_hops,
        revision_s=c.revision_s,
        generation_check_s=c.generation_check_s,
        confirm_s=c.confirm_polls * poll_s,
    )


def _scheme(url: str) -> str:
    return url.split("://", 1)[0]


def _neo4j(url: str, settings: Settings) -> TopologyStore:
    from netvigil.graph.neo4j import Neo4jTopology  # the driver loads only when asked for

    g = settings.graph
    return Neo4jTopology(url, user=g.user, password=g.password.get_secret_value())


_GRAPHS: dict[str, Callable[[str, Settings], TopologyStore]] = {
    "memory": lambda url, settings: MemoryTopology(),
    "neo4j": _neo4j,
    "bolt": _neo4j,
}
_TICKETS: dict[str, Callable[[TicketSettings, Path], TicketBackend]] = {
    "local": lambda s, data: LocalTickets(data / "tickets.db"),
    "servicenow": lambda s, data: ServiceNowTickets.from_url(
        s.url,
        data,
        user=s.user,
        password=s.password.get_secret_value(),
        token=s.token.get_secret_value(),
    ),
}


def _pick(registry: Mapping[str, object], setting: str, url: str) -> None:
    if _scheme(url) not in registry:
        schemes = ", ".join(s + "://" for s in registry)
        raise ConfigError(
            f"{setting} = {redact_urls(url)!r}: this build runs {schemes} only; "
            f"set {setting} to one of those"
        )


def _writable(data: Path) -> Path:
    """The data directory, made when missing; a ConfigError naming the setting when it cannot
    be written (before any store is opened in it)."""
    try:
        data.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=data):
            pass
    except OSError as exc:
        raise ConfigError(
            f"storage.data_dir = {str(data)!r} cannot be written ({exc.strerror}); choose a "
            "writable directory with --data-dir or NETVIGIL_STORAGE__DATA_DIR"
        ) from None
    return data


def open_graph(settings: Settings) -> TopologyStore:
    """The topology store ``graph.url`` names (``memory://``, ``neo4j://``, ``bolt://``)."""
    _pick(_GRAPHS, "graph.url", settings.graph.url)
    return _GRAPHS[_scheme(settings.graph.url)](settings.graph.url, settings)


def _role(
    settings: Settings, processors: list[Processor[Any]], own: list[Processor[Any]]
) -> set[str] | None:
    """The processors ``kafka.run_role`` keeps on Kafka (None: all). A collector keeps only
    its collectors' own (``own``): were it to run the coordinator, a collector pod would
    decide with its own stores, out of the console's sight."""
    role = settings.kafka.run_role
    if role == "collector":
        return {p.name for p in own}
    if role == "coordinator":
        return {p.name for p in processors} - set(settings.kafka.worker_processors)
    return None


def _runtime(
    settings: Settings,
    processors: list[Processor[Any]],
    sources: list[Source],
    data: Path,
    writers: dict[str, tuple[str, ...]],
) -> Runtime:
    if _scheme(settings.bus.url) == "kafka":
        from netvigil.streams.kafka import KafkaRuntime, bootstrap_of  # lazily: confluent-kafka

        return KafkaRuntime(
            processors,
            sources,
            bootstrap=bootstrap_of(settings.bus.url),
            cfg=settings.kafka,
            data_dir=data,
            writers=writers,
        )
    return EmbeddedRuntime(processors, sources, queue_size=settings.bus.queue_size)


@dataclass(frozen=True)
class TwinPlan:
    """How the twin runs: its speed, its fault schedule and when it stops (simulated)."""

    speed: float
    faults: list[Fault]
    until: float | None
    loss: float = 0.0
    """Share of the twin's telemetry lost before it reaches the pipeline."""
    poll_reachability: bool = False
    """The twin reports each device's reachability every step (a poller), not only changes."""
    received_util: bool = False
    """The twin reports each interface's received utilization (``if.in_util``) too."""
    poller: str | None = None
    """The device the management station sits behind: devices a failure cuts off from it are
    reported unreachable and go silent (:meth:`~netvigil.twin.network.TwinNetwork.cut_off`)."""
    start: float = SIM_EPOCH
    """Simulated time of the first step (the lab bench runs it on the lab's clock; a run over a
    used data directory resumes after the last one's:
    :func:`~netvigil.twin.source.resume_point`)."""


@dataclass
class Service:
    settings: Settings
    data_dir: Path
    topology: TopologyStore
    runtime: Runtime
    incidents: IncidentStore
    tickets: TicketBackend
    audit: AuditLog
    dead_letters: DeadLetterFile
    autonomy: AutonomyState
    """Breakers, fallbacks and phases set by operators: what the remediator consults."""
    actions: ActionStore
    """The remediator's actions (the console's proposals are these)."""
    policy: Policy
    """The remediator's autonomy policy."""
    twin: TwinSource | None = None
    faults: list[Fault] = field(default_factory=list)
    collectors: list[Source] = field(default_factory=list)
    processors: list[Processor[Any]] = field(default_factory=list)
    """The processors this process runs (their ``ignored`` counters feed the stop summary)."""
    prevention: PreventionParts | None = None
    """Risks, track records and operators' judgements (the console's prevention views)."""

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        twin: TwinPlan | None = None,
        data_dir: Path | None = None,
        on_fault: Callable[[str, Fault, float], None] | None = None,
        only: Collection[str] | None = None,
        sources: Sequence[Source] = (),
    ) -> Service:
        """Assemble the service; ``only`` keeps just the named processors (``netvigil worker``),
        ``sources`` are added to the twin's (``netvigil replay``)."""
        _pick(_GRAPHS, "graph.url", settings.graph.url)
        _pick(_TICKETS, "tickets.url", settings.tickets.url)
        data = _writable(Path(data_dir or settings.storage.data_dir))
        topo = open_graph(settings)
        topo_file = settings.graph.topology or (settings.twin.topology if twin else None)
        load_topology(topo_file, topo)

        incidents = IncidentStore(data / "incidents.db")
        tickets = _TICKETS[_scheme(settings.tickets.url)](settings.tickets, data)
        audit = AuditLog(data / "audit.db", key=settings.coordinator.audit_key.get_secret_value())
        dlq = DeadLetterFile(data / "dead-letters.jsonl")
        network = None
        if twin is not None:
            # the twin keeps its own in-memory copy of the topology when the store is Neo4j
            twin_topo = topo if isinstance(topo, MemoryTopology) else load_topology(topo_file)
            network = TwinNetwork(
                twin_topo,
                twin.faults,
                seed=settings.twin.seed,
                poll_reachability=twin.poll_reachability,
                poller=twin.poller,
                down_after=settings.snmp.down_after,
                received_util=twin.received_util,
            )
        clock: list[TwinSource] = []  # the twin source, once built: its clock is sim time
        coordinator, autonomy, action_store, prevention = build_coordinator(
            settings,
            data,
            topo=topo,
            incidents=incidents,
            tickets=tickets,
            audit=audit,
            network=network,
            clock=lambda: clock[0].now if clock else 0.0,
        )
        processors: list[Processor[Any]] = [
            DetectorProcessor(settings.detector),
            CorrelatorProcessor(
                topo,
                correlator_config(settings, twin=twin is not None),
                summarizer(settings),
                resume=incidents.resumable,
            ),
            coordinator,
            RiskProcessor(topo),
            SamplerProcessor(settings.coordinator.tick_s),
            dlq,
        ]
        processors += analytics_processors(settings)
        twin_services = twin_service_specs(settings, topo) if twin is not None else []
        processors += service_level_processors(settings)
        source = None
        faults: list[Fault] = []
        if twin is not None and network is not None:
            faults = twin.faults
            source = TwinSource(
                network,
                step_s=settings.twin.step_s,
                speed=twin.speed,
                start=twin.start,
                until=twin.until,
                clock_file=data / CLOCK_FILE,
                on_fault=on_fault,
                loss=twin.loss,
                loss_seed=settings.twin.seed,
            )
            clock.append(source)
            if twin_services:  # the twin's HTTP services, probed on its clock
                attach_services(source, topo, twin_services, seed=settings.twin.seed)
        collectors, collector_processors = push_collectors(settings, data)
        # syslog/flows; SNMP/gNMI; probes and Prometheus scraping
        collectors = [*collectors, *device_sources(settings), *service_level_sources(settings)]
        processors.extend(collector_processors)
        if only is not None:
            unknown = set(only) - {p.name for p in processors}
            if unknown:
                raise ConfigError(
                    f"unknown processors {sorted(unknown)}; "
                    f"choose from {[p.name for p in processors]}"
                )
        # which processor writes which topic, before ``only`` narrows the list: the Kafka
        # runtime needs every writer of a topic to merge it in event time
        writers = {p.name: p.outputs for p in processors}
        if only is None and _scheme(settings.bus.url) == "kafka":
            only = _role(settings, processors, collector_processors)
        if only is not None:
            processors = [p for p in processors if p.name in only]
        if coordinator in processors:
            coordinator.recover()  # a revision a dead process left half-applied, first
        runtime = _runtime(
            settings,
            processors,
            [*([source] if source else []), *collectors, *sources],
            data,
            writers,
        )
        assert coordinator.remediator is not None  # build_coordinator always makes one
        svc = cls(
            settings,
            data,
            topo,
            runtime,
            incidents,
            tickets,
            audit,
            dlq,
            autonomy,
            action_store,
            coordinator.remediator.policy,
            source,
            faults,
            collectors,
            processors,
            prevention,
        )
        if settings.storage.freeze_heap:
            settle()  # the collector's full passes skip what is built: netvigil/heap.py
        return svc

    @staticmethod
    def plan_twin(
        settings: Settings,
        topo: TopologyStore | None = None,
        *,
        fault_count: int | None = None,
        speed: float | None = None,
        settle_s: float = 600.0,
        start: float = SIM_EPOCH,
    ) -> TwinPlan:
        """The twin's fault schedule from settings for a run from simulated time ``start``
        (warm-up first); ``fault_count`` None means run forever. The faults are one sequence
        from :data:`SIM_EPOCH`: a run that resumes later (see
        :func:`~netvigil.twin.source.resume_point`) skips those the timeline had begun
        before its start, so it goes on with the next ones rather than the first again."""
        tw = settings.twin
        topo = topo or load_topology(tw.topology)
        count = fault_count if fault_count is not None else 10_000
        begun = (start - SIM_EPOCH - tw.warmup_s) / tw.fault_interval_s
        done = max(math.ceil(round(begun, 6)), 0)
        faults = schedule_faults(
            topo,
            kinds=tw.fault_kinds,
            count=count + done if tw.inject_faults else 0,
            first=start + tw.warmup_s - done * tw.fault_interval_s,
            interval=tw.fault_interval_s,
            duration=tw.fault_duration_s,
            seed=tw.seed,
        )[done:]
        until = None
        if fault_count is not None:
            last = max((f.end for f in faults), default=start + tw.warmup_s)
            until = last + settle_s
        return TwinPlan(
            speed=tw.speed if speed is None else speed, faults=faults, until=until, start=start
        )

    async def run(self, stop: asyncio.Event | None = None) -> None:
        await self.runtime.run(stop)

    def close(self) -> None:
        if self.prevention is not None:
            self.prevention.close()
        self.dead_letters.close()
        self.incidents.close()
        self.tickets.close()
        self.audit.close()
