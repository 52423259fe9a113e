"""The twin's services: HTTP endpoints served for real on loopback, degraded by the network.

A service (:class:`ServiceSpec`, from the ``services`` list of a scenario or twin YAML) runs
on one device, is used from client devices, and may call other services. Each request the
twin's HTTP server answers asks the twin's network for the state of the paths it needs at the
twin's current (simulated) time: client to server and back, and the same for every service it
depends on, recursively. The request then

- takes the paths' latency (one-way delays both ways, plus each service's processing time),
  slept for real, so a probe measures it on its own clock;
- fails with HTTP 503 with the probability that a transaction of :data:`TXN_PACKETS` packets
  loses one (``1 - (1 - loss) ** TXN_PACKETS``): a lost packet of a short transaction costs a
  retransmission timeout, which this model counts as the transaction missing its deadline.

So the probes of ``collectors/probes.py`` measure something real: the same aiohttp client,
the same checks, against a server whose behaviour follows the twin. The services are also
kept in the topology store as :class:`~netvigil.graph.base.Service` nodes (the links their
traffic traverses, the devices they run on and serve), re-written whenever routing moves a
path, so RCA and the blast radius always see the current paths.

Probes run on the twin's clock (:meth:`TwinServices.on_step`, awaited by the twin after every
step), not APScheduler's wall clock: the twin runs faster than real time, and an SLO's burn
windows are in event time.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, web

from netvigil.analytics.slo import SLO
from netvigil.collectors.probes import ProbeCollector, ProbeTarget, run_check
from netvigil.errors import ConfigError
from netvigil.graph.base import Service, TopologyStore
from netvigil.streams.base import Emit
from netvigil.twin.network import TwinNetwork

__all__ = ["TXN_PACKETS", "ServiceHealth", "ServiceSpec", "TwinServices", "load_services"]

#: packets one transaction exchanges (request, response segments, acknowledgements)
TXN_PACKETS = 10


@dataclass(frozen=True)
class ServiceSpec:
    """One service of the twin: where it runs, who uses it, what it calls, its SLOs."""

    name: str
    runs_on: str
    clients: tuple[str, ...]
    depends_on: tuple[str, ...] = ()
    processing_ms: float = 5.0
    slos: tuple[SLO, ...] = ()


@dataclass(frozen=True)
class ServiceHealth:
    """What a request from ``client`` meets at one instant."""

    latency_ms: float
    failure: float
    """Probability that the transaction fails."""
    links: tuple[str, ...]


def load_services(raw: Sequence[Mapping[str, Any]], devices: set[str]) -> list[ServiceSpec]:
    """Service specs from YAML data; unknown devices and services are configuration errors."""
    specs: list[ServiceSpec] = []
    for i, r in enumerate(raw):
        try:
            if not isinstance(r, Mapping):
                raise TypeError(f"a mapping expected, got {type(r).__name__}")
            name = str(r["name"])
            slos = tuple(
                SLO(
                    service=name,
                    objective=float(s["objective"]),
                    window_s=float(s.get("window_s", 30 * 86400)),
                    kind=s.get("kind", "success"),
                    latency_ms=float(s["latency_ms"]) if "latency_ms" in s else None,
                )
                for s in r.get("slos") or []
            )
            for slo in slos:
                if slo.kind not in ("success", "latency") or not 0 < slo.objective < 1:
                    raise ValueError(
                        f"SLO {slo.kind!r} {slo.objective}: kind success|latency, "
                        "objective between 0 and 1"
                    )
            spec = ServiceSpec(
                name=name,
                runs_on=str(r["runs_on"]),
                clients=tuple(str(c) for c in r["clients"]),
                depends_on=tuple(str(d) for d in r.get("depends_on") or []),
                processing_ms=float(r.get("processing_ms", 5.0)),
                slos=slos,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"services[{i}]: malformed ({exc!r}); each needs name, runs_on, clients "
                "(see netvigil/eval/scenarios/service-loss.yaml)"
            ) from None
        unknown = {spec.runs_on, *spec.clients} - devices
        if unknown:
            raise ConfigError(f"service {name}: unknown devices {sorted(unknown)}")
        specs.append(spec)
    names = {s.name for s in specs}
    for s in specs:
        missing = set(s.depends_on) - names
        if missing:
            raise ConfigError(f"service {s.name}: depends on unknown services {sorted(missing)}")
    return specs


@dataclass
class TwinServices:
    """The twin's services: health from the network, an HTTP server, probes, graph nodes."""

    specs: list[ServiceSpec]
    network: TwinNetwork
    topo: TopologyStore
    clock: Callable[[], float]
    """The twin's simulated time (what each request is answered for)."""
    seed: int = 0
    requests_per_step: int = 10
    """Probe requests per service and client at each twin step."""
    host: str = "127.0.0.1"
    port: int = 0
    graph_updates: int = 0
    _runner: web.AppRunner | None = field(default=None, init=False)
    _session: ClientSession | None = field(default=None, init=False)
    _paths: dict[str, tuple[str, ...]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.by_name = {s.name: s for s in self.specs}
        self._rng = random.Random(self.seed ^ 0x5E5)
        self.prober = ProbeCollector(self._targets(), name="twin-probes", clock=self.clock)

    # ------------------------------------------------------------------ model

    def health(
        self, name: str, client: str, t: float, _seen: frozenset[str] = frozenset()
    ) -> ServiceHealth:
        """Latency and failure probability of one request from ``client`` at ``t``."""
        spec = self.by_name[name]
        there = self.network.path_state(client, spec.runs_on, t)
        back = self.network.path_state(spec.runs_on, client, t)
        if not (there.reachable and back.reachable):
            return ServiceHealth(0.0, 1.0, there.links)
        ok = ((1 - there.loss) * (1 - back.loss)) ** (TXN_PACKETS / 2)
        latency = there.latency_ms + back.latency_ms + spec.processing_ms
        links = set(there.links) | set(back.links)
        for dep in spec.depends_on:
            if dep in _seen:  # a dependency cycle in the data: each service counted once
                continue
            h = self.health(dep, spec.runs_on, t, _seen | {name})
            ok *= 1 - h.failure
            latency += h.latency_ms
        return ServiceHealth(latency, 1 - ok, tuple(sorted(links)))

    def graph_service(self, spec: ServiceSpec, t: float) -> Service:
        """The service as the topology store keeps it: the links its own traffic crosses now."""
        links: set[str] = set()
        for c in spec.clients:
            links |= set(self.health(spec.name, c, t, frozenset(self.by_name)).links)
        return Service(
            name=spec.name,
            kind="http",
            links=tuple(sorted(links)),
            devices=tuple(sorted({spec.runs_on, *spec.clients})),
            props={
                "runs_on": spec.runs_on,
                "clients": ",".join(spec.clients),
                "depends_on": ",".join(spec.depends_on),
            },
        )

    def sync_graph(self, t: float) -> int:
        """Write the services whose path changed into the topology store; how many changed."""
        changed = 0
        for spec in self.specs:
            svc = self.graph_service(spec, t)
            if self._paths.get(spec.name) != svc.links:
                self.topo.add_service(svc)
                self._paths[spec.name] = svc.links
                changed += 1
        self.graph_updates += changed
        return changed

    # ------------------------------------------------------------------ HTTP

    async def _handle(self, request: web.Request) -> web.Response:
        name = request.match_info["service"]
        client = request.query.get("client", "")
        if name not in self.by_name or client not in self.by_name[name].clients:
            return web.Response(status=404, text=f"no service {name!r} for client {client!r}\n")
        h = self.health(name, client, self.clock())
        await asyncio.sleep(h.latency_ms / 1000.0)
        if self._rng.random() < h.failure:
            return web.Response(status=503, text="transaction failed: a packet was lost\n")
        return web.Response(text=f"ok {name}\n")

    async def start(self) -> None:
        """Serve on loopback (a free port unless ``port`` is set) and open the probes' client."""
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_get("/svc/{service}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])  # the port the system picked
        self.prober = ProbeCollector(self._targets(), name="twin-probes", clock=self.clock)
        self._session = ClientSession()

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def url(self, name: str, client: str) -> str:
        return f"http://{self.host}:{self.port}/svc/{name}?client={client}"

    def _targets(self) -> list[ProbeTarget]:
        return [
            ProbeTarget(
                name=f"{s.name}@{c}",
                kind="http",
                target=self.url(s.name, c),
                service=s.name,
                device=c,
                timeout_s=5.0,
            )
            for s in self.specs
            for c in s.clients
        ]

    # ------------------------------------------------------------------ the twin's step

    async def on_step(self, t: float, emit: Emit) -> None:
        """After each twin step: follow routing in the graph, then probe every service."""
        await self.start()
        self.sync_graph(t)
        checks = [
            (target, run_check(target, self._session))
            for target in self.prober.targets
            for _ in range(self.requests_per_step)
        ]
        results = await asyncio.gather(*(c for _, c in checks))
        for (target, _), r in zip(checks, results, strict=True):
            self.prober.counters.received += 1
            for e in self.prober.results_to_events(target, r, t):
                await emit(e)
