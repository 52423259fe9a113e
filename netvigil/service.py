"""Assembles the service from settings: stores, processors, sources and the runtime.

Implementations are picked by URL scheme from short registries (``memory://`` bus and graph,
``local://`` tickets). Schemes whose implementation lives in a later part of the build are
named in the error, not silently replaced.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netvigil.analytics.detector import DetectorConfig
from netvigil.config import Settings
from netvigil.errors import ConfigError
from netvigil.graph.base import TopologyStore
from netvigil.graph.importers import load_topology
from netvigil.graph.memory import MemoryTopology
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.base import TicketBackend
from netvigil.resolvers.coordinator import CoordinatorProcessor
from netvigil.resolvers.incidents import IncidentStore
from netvigil.resolvers.tickets.local import LocalTickets
from netvigil.streams.base import Processor, Source
from netvigil.streams.correlate import CorrelatorConfig, CorrelatorProcessor
from netvigil.streams.deadletters import DeadLetterFile
from netvigil.streams.detect import DetectorProcessor
from netvigil.streams.embedded import EmbeddedRuntime
from netvigil.twin.faults import Fault, schedule_faults
from netvigil.twin.network import TwinNetwork
from netvigil.twin.source import SIM_EPOCH, TwinSource

if TYPE_CHECKING:
    from netvigil.streams.kafka_runtime import KafkaRuntime

__all__ = ["Service", "TwinPlan"]


def _scheme(url: str) -> str:
    return url.split("://", 1)[0]


_GRAPHS: dict[str, Callable[[str], TopologyStore]] = {"memory": lambda url: MemoryTopology()}
_TICKETS: dict[str, Callable[[str, Path], TicketBackend]] = {
    "local": lambda url, data: LocalTickets(data / "tickets.db"),
}


def _pick(registry: Mapping[str, object], setting: str, url: str) -> None:
    if _scheme(url) not in registry:
        raise ConfigError(
            f"{setting} = {url!r}: this build runs {', '.join(s + '://' for s in registry)} only; "
            f"set {setting} to one of those"
        )


def _runtime(
    settings: Settings,
    processors: list[Processor[Any]],
    sources: list[Source],
    data: Path,
    writers: dict[str, tuple[str, ...]],
) -> EmbeddedRuntime | KafkaRuntime:
    if _scheme(settings.bus.url) == "kafka":
        from netvigil.streams.kafka_admin import bootstrap_of  # faust loads in ~1 s: lazily
        from netvigil.streams.kafka_runtime import KafkaRuntime

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


@dataclass
class Service:
    settings: Settings
    data_dir: Path
    topology: TopologyStore
    runtime: EmbeddedRuntime | KafkaRuntime
    incidents: IncidentStore
    tickets: TicketBackend
    audit: AuditLog
    dead_letters: DeadLetterFile
    twin: TwinSource | None = None
    faults: list[Fault] = field(default_factory=list)

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
        data = Path(data_dir or settings.storage.data_dir)
        data.mkdir(parents=True, exist_ok=True)
        topo = _GRAPHS[_scheme(settings.graph.url)](settings.graph.url)
        topo_file = settings.graph.topology or (settings.twin.topology if twin else None)
        load_topology(topo_file, topo)

        incidents = IncidentStore(data / "incidents.db")
        tickets = _TICKETS[_scheme(settings.tickets.url)](settings.tickets.url, data)
        audit = AuditLog(data / "audit.db")
        dlq = DeadLetterFile(data / "dead-letters.jsonl")
        d = settings.detector
        c = settings.correlator
        processors: list[Processor[Any]] = [
            DetectorProcessor(
                DetectorConfig(
                    warmup=d.warmup,
                    z_threshold=d.z_threshold,
                    min_points=d.min_points,
                    clear_points=d.clear_points,
                    util_threshold=d.util_threshold,
                    util_clear=d.util_clear,
                    ew_alpha=d.ew_alpha,
                )
            ),
            CorrelatorProcessor(
                topo,
                CorrelatorConfig(
                    window_s=c.window_s, max_hops=c.max_hops, min_evidence=c.min_evidence
                ),
            ),
            CoordinatorProcessor(incidents, tickets, audit),
            dlq,
        ]
        source = None
        faults: list[Fault] = []
        if twin is not None:
            faults = twin.faults
            network = TwinNetwork(topo, faults, seed=settings.twin.seed)
            source = TwinSource(
                network,
                step_s=settings.twin.step_s,
                speed=twin.speed,
                start=SIM_EPOCH,
                until=twin.until,
                on_fault=on_fault,
            )
        if only is not None and set(only) - {p.name for p in processors}:
            raise ConfigError(
                f"unknown processors {sorted(set(only) - {p.name for p in processors})}; "
                f"choose from {[p.name for p in processors]}"
            )
        writers = {p.name: p.outputs for p in processors}
        if only is not None:
            processors = [p for p in processors if p.name in only]
        srcs = [*([source] if source else []), *sources]
        runtime = _runtime(settings, processors, srcs, data, writers)
        return cls(settings, data, topo, runtime, incidents, tickets, audit, dlq, source, faults)

    @staticmethod
    def plan_twin(
        settings: Settings,
        topo: TopologyStore | None = None,
        *,
        fault_count: int | None = None,
        speed: float | None = None,
        settle_s: float = 600.0,
    ) -> TwinPlan:
        """The twin's fault schedule from settings; ``fault_count`` None means run forever."""
        tw = settings.twin
        topo = topo or load_topology(tw.topology)
        count = fault_count if fault_count is not None else 10_000
        faults = schedule_faults(
            topo,
            kinds=tw.fault_kinds,
            count=count if tw.inject_faults else 0,
            first=SIM_EPOCH + tw.warmup_s,
            interval=tw.fault_interval_s,
            duration=tw.fault_duration_s,
            seed=tw.seed,
        )
        until = None
        if fault_count is not None:
            last = max((f.end for f in faults), default=SIM_EPOCH + tw.warmup_s)
            until = last + settle_s
        return TwinPlan(speed=tw.speed if speed is None else speed, faults=faults, until=until)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        await self.runtime.run(stop)

    def close(self) -> None:
        self.dead_letters.close()
        self.incidents.close()
        self.tickets.close()
        self.audit.close()
