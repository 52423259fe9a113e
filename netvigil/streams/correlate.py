"""The correlation processor: groups anomalies into incidents and names the root cause.

Grouping: an anomaly joins the nearest group (in hops, at most ``max_hops``) that is still
live in event time: strong symptoms (``down``, ``threshold``) must start within ``window_s`` of
the group's last strong symptom, so a lingering group does not swallow the next fault; weak
ones (deviations) attach to any open group nearby as supporting evidence but never keep a
group alive. A group becomes an incident once its strongest evidence reaches
``min_evidence``; its fingerprint is a hash of the anomaly that opened it (entity, signal and
onset), so a replay of the same events yields the same fingerprints.

Life cycle: the incident is re-emitted (revision + 1) whenever its evidence or ranking changes,
and resolved when all of its strong symptoms have cleared. If its symptoms return within
``reopen_s`` (a flapping link), the same incident reopens instead of a new one, and its fault
becomes ``flapping``; only a symptom of its root cause itself reopens it (an interface of the
link; the device or its interfaces), so a side effect it once had (traffic it pushed onto
another link, a neighbour's adjacency) that returns with another fault starts that fault's
own incident. The topology is asked through :class:`~netvigil.graph.aio.AsyncTopology`
(a thread for Neo4j, inline for the embedded store); ranking runs on the neighbourhood of
the group (its devices and their links), so its cost does not grow with the network.

Cross-domain: an ``slo_burn`` anomaly (a service's error budget burning, from
``streams/slo.py``) is placed by the service's *path*: the devices at the ends of the links its
traffic traverses, as the topology store keeps them (``twin/services.py`` keeps them current).
It joins the live group on that path and never opens one on its own (it is weak evidence), so
the root cause stays the network element while the incident lists the services and SLOs it
hurts (``Incident.services``, ``Incident.slos``); a burning SLO raises the severity one level.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import msgspec

from netvigil.analytics.rca import is_strong, rank, weight
from netvigil.analytics.summary import Summarizer
from netvigil.errors import TopologyError
from netvigil.events import Anomaly, AnomalyRef, Event, Incident, RootCause, Severity
from netvigil.graph.aio import AsyncTopology
from netvigil.graph.base import TopologyStore, entity_devices
from netvigil.streams.base import Processor

__all__ = ["CorrelatorConfig", "CorrelatorProcessor"]

_SEVERITY: dict[tuple[str, str], Severity] = {
    ("device", "down"): "critical",
    ("device", "linecard"): "major",
    ("device", "routing_down"): "major",
    ("link", "down"): "major",
    ("link", "adjacency_down"): "major",
    ("link", "flapping"): "major",
    ("link", "congestion"): "minor",
    ("link", "packet_loss"): "minor",
}
#: one level up, for an incident that burns an SLO's error budget
_RAISED: dict[Severity, Severity] = {
    "info": "warning",
    "warning": "minor",
    "minor": "major",
    "major": "critical",
    "critical": "critical",
}
SLO_KIND = "slo_burn"


@dataclass(frozen=True)
class CorrelatorConfig:
    window_s: float = 300.0
    max_hops: int = 2
    min_evidence: float = 0.8
    reopen_s: float = 120.0
    """A resolved incident whose symptoms return within this many seconds reopens."""


@dataclass
class _Group:
    fingerprint: str
    created_ts: float
    last_strong_ts: float
    anomalies: dict[str, AnomalyRef] = field(default_factory=dict)
    devices: set[str] = field(default_factory=set)
    opened_ts: float | None = None
    revision: int = 0
    resolved_ts: float | None = None
    reopened: int = 0
    last_emitted: tuple[object, ...] | None = None
    root: RootCause | None = None
    """The root cause it named last."""

    def strong_active(self) -> bool:
        return any(is_strong(a) and a.state == "active" for a in self.anomalies.values())


@dataclass
class CorrelationState:
    groups: list[_Group] = field(default_factory=list)


class CorrelatorProcessor(Processor[CorrelationState]):
    """One correlation domain (key ``all``): every anomaly may relate to every other."""

    name = "correlator"
    inputs = ("netvigil.anomalies",)
    outputs = ("netvigil.incidents",)

    def __init__(
        self,
        topo: TopologyStore,
        cfg: CorrelatorConfig | None = None,
        summarizer: Summarizer | None = None,
    ) -> None:
        self.topo = topo
        self.aio = AsyncTopology(topo)
        self.cfg = cfg or CorrelatorConfig()
        self.summarizer = summarizer or Summarizer()
        self._near: dict[str, set[str]] = {}
        self._near_gen: int | None = None
        self._impacts: dict[tuple[str, int | None], list[str]] = {}
        #: service -> (topology generation, devices on its path, entities of its path)
        self._paths: dict[str, tuple[int, tuple[str, ...], frozenset[str]]] = {}

    def key(self, event: Event) -> str:
        return "all"

    def new_state(self) -> CorrelationState:
        return CorrelationState()

    async def process(self, event: Event, state: CorrelationState) -> Sequence[Event]:
        return [await self._summarized(e) for e in await self._handle(event, state)]

    async def _summarized(self, event: Event) -> Event:
        """The incident with its summary (a generator runs off the event loop)."""
        if not isinstance(event, Incident):
            return event
        if self.summarizer.generative:
            text = await asyncio.to_thread(self.summarizer.summarize, event)
        else:
            text = self.summarizer.summarize(event)
        return msgspec.structs.replace(event, summary=text)

    async def _handle(self, event: Event, state: CorrelationState) -> Sequence[Event]:
        if not isinstance(event, Anomaly):
            return []
        self._expire(state, event.ts)
        ref_key = f"{event.entity}|{event.signal}"
        if event.state == "cleared":
            return await self._clear(event, ref_key, state)
        ref = AnomalyRef(
            entity=event.entity,
            signal=event.signal,
            kind=event.kind,
            score=event.score,
            onset_ts=event.onset_ts or event.ts,
        )
        devices, path = await self._devices_of(ref)
        group = await self._group_for(ref, ref_key, event.ts, state, devices, path)
        if group is None:
            group = _Group(fingerprint="", created_ts=event.ts, last_strong_ts=event.ts)
            state.groups.append(group)
        group.anomalies[ref_key] = ref
        group.devices.update(devices)
        if is_strong(ref):
            group.last_strong_ts = max(group.last_strong_ts, ref.onset_ts)
            if group.resolved_ts is not None:  # symptoms are back: reopen the same incident
                group.resolved_ts = None
                group.reopened += 1
        if not group.fingerprint and weight(ref) >= self.cfg.min_evidence:
            digest = hashlib.sha1(f"{ref_key}|{ref.onset_ts:.3f}".encode()).hexdigest()
            group.fingerprint = digest[:16]
        if not group.fingerprint:
            return []  # not (yet) an incident: evidence too weak
        return await self._emit(group, event.ts)

    # ------------------------------------------------------------------ grouping

    async def _nearby(self, devices: tuple[str, ...]) -> set[str]:
        gen = await self.aio.call(self.topo.generation)
        if gen != self._near_gen:
            self._near, self._near_gen = {}, gen
        out: set[str] = set()
        for d in devices:
            if d not in self._near:
                self._near[d] = await self.aio.call(self.topo.k_hop, {d}, self.cfg.max_hops)
            out |= self._near[d]
        return out

    async def _devices_of(self, ref: AnomalyRef) -> tuple[tuple[str, ...], frozenset[str]]:
        """The devices an anomaly is about; for a service's SLO, the devices on its path and
        the entities of the path (its links, their interfaces, its devices)."""
        if ref.kind != SLO_KIND:
            return entity_devices(ref.entity), frozenset()
        gen = await self.aio.call(self.topo.generation)
        cached = self._paths.get(ref.entity)
        if cached is not None and cached[0] == gen:
            return cached[1], cached[2]
        try:
            svc = await self.aio.call(self.topo.service, ref.entity)
        except TopologyError:  # a service the graph does not know: it has no path to join
            return (), frozenset()
        on_path = {d for lk in svc.links for d in entity_devices(lk)} | set(svc.devices)
        entities = set(svc.links) | on_path
        for link_id in svc.links:
            lk = await self.aio.call(self.topo.link, link_id)
            entities |= {lk.a_if, lk.b_if}
        devices, path = tuple(sorted(on_path)), frozenset(entities)
        if len(self._paths) > 4096:
            self._paths.clear()
        self._paths[ref.entity] = (gen, devices, path)
        return devices, path

    async def _group_for(
        self,
        ref: AnomalyRef,
        ref_key: str,
        ts: float,
        state: CorrelationState,
        devices: tuple[str, ...],
        path: frozenset[str],
    ) -> _Group | None:
        service = ref.kind == SLO_KIND
        near = set() if service else await self._nearby(devices)
        strong = is_strong(ref)
        best: tuple[int, float, _Group] | None = None
        for g in state.groups:
            if g.resolved_ts is not None:
                # a resolved incident takes back only its own symptoms, and only for a while
                if (
                    not strong
                    or ref_key not in g.anomalies
                    or ts - g.resolved_ts > self.cfg.reopen_s
                    or not await self._of_root(g.root, ref.entity)
                ):
                    continue
                return g
            if strong and ref.onset_ts - g.last_strong_ts > self.cfg.window_s:
                continue
            if not strong and ts - g.last_strong_ts > self.cfg.window_s and not g.strong_active():
                continue
            if service:
                # a service is hurt by what is on its path (its links, their interfaces, its
                # devices), not by what is merely near it
                if not any(a.entity in path for a in g.anomalies.values() if a.kind != SLO_KIND):
                    continue
            elif not (g.devices & near):
                continue
            dist = 0 if g.devices & set(devices) else 1
            # an incident already open nearby wins over a group of weak evidence only
            rank = dist + (0 if g.fingerprint else 2)
            if best is None or (rank, -g.last_strong_ts) < (best[0], -best[1]):
                best = (rank, g.last_strong_ts, g)
        return best[2] if best else None

    async def _of_root(self, root: RootCause | None, entity: str) -> bool:
        """Whether ``entity`` is the root cause itself: a link's interfaces, a device and its
        interfaces (no root cause: anything is)."""
        if root is None or entity == root.entity:
            return True
        if root.kind == "device":
            return entity_devices(entity)[0] == root.entity
        if root.kind == "link":
            try:
                lk = await self.aio.call(self.topo.link, root.entity)
            except TopologyError:
                return False
            return entity in (lk.a_if, lk.b_if)
        return False

    def _expire(self, state: CorrelationState, now: float) -> None:
        keep = []
        for g in state.groups:
            if g.resolved_ts is not None and now - g.resolved_ts > self.cfg.reopen_s:
                continue
            if not g.fingerprint and now - g.last_strong_ts > self.cfg.window_s:
                continue  # a weak group that never became an incident
            keep.append(g)
        state.groups[:] = keep

    async def _clear(self, event: Anomaly, ref_key: str, state: CorrelationState) -> list[Event]:
        out: list[Event] = []
        for g in state.groups:
            ref = g.anomalies.get(ref_key)
            if ref is None or ref.state == "cleared":
                continue
            g.anomalies[ref_key] = msgspec.structs.replace(ref, state="cleared")
            if not g.fingerprint or g.resolved_ts is not None:
                continue
            if not g.strong_active():
                g.resolved_ts = event.ts
            out += await self._emit(g, event.ts)
        return out

    # ------------------------------------------------------------------ incidents

    async def _emit(self, g: _Group, ts: float) -> list[Event]:
        refs = sorted(g.anomalies.values(), key=lambda a: (a.onset_ts, a.entity, a.signal))
        network = [a for a in refs if a.kind != SLO_KIND]
        burning = [a for a in refs if a.kind == SLO_KIND and a.state == "active"]
        entities = sorted({a.entity for a in network})
        sub = await self.aio.call(self.topo.neighbourhood, entities)
        causes = rank(sub, network)
        if g.reopened and causes and causes[0].kind == "link" and causes[0].fault == "down":
            causes[0] = msgspec.structs.replace(causes[0], fault="flapping")
        status: Literal["open", "resolved"] = "resolved" if g.resolved_ts is not None else "open"
        signature = (status, tuple(refs), tuple(causes))
        if signature == g.last_emitted:
            return []
        impact = await self._impact(causes)
        slos = sorted({f"{a.entity}:{a.signal.removeprefix('slo.')}" for a in burning})
        services = sorted({a.entity for a in burning} | await self._services_on(causes))
        impact = sorted(set(impact) | set(services))
        severity = _severity(causes)
        if slos:
            severity = _RAISED[severity]
        g.last_emitted = signature
        g.root = causes[0] if causes else None
        g.revision += 1
        if g.opened_ts is None:
            g.opened_ts = ts
        return [
            Incident(
                ts=ts,
                fingerprint=g.fingerprint,
                status=status,
                revision=g.revision,
                opened_ts=g.opened_ts,
                title=_title(causes),
                severity=severity,
                root_causes=causes,
                anomalies=refs,
                impact=impact,
                services=services,
                slos=slos,
            )
        ]

    async def _services_on(self, causes: list[RootCause]) -> set[str]:
        """Services whose traffic crosses the root cause (a lossy or congested link does not
        take anything down, so the blast radius misses them)."""
        if not causes or causes[0].kind != "link":
            return set()
        services = await self.aio.call(self.topo.services)
        return {s.name for s in services if causes[0].entity in s.links}

    async def _impact(self, causes: list[RootCause]) -> list[str]:
        if not causes:
            return []
        rc = causes[0]
        key = (rc.entity, self._near_gen)
        if key not in self._impacts:
            try:
                br = await self.aio.call(self.topo.blast_radius, rc.entity)
            except Exception:  # an entity the store no longer knows: no impact to show
                return []
            if len(self._impacts) > 1024:
                self._impacts.clear()
            self._impacts[key] = sorted(
                (set(br.devices) | set(br.links) | set(br.services)) - {rc.entity}
            )
        return self._impacts[key]


def _title(causes: list[RootCause]) -> str:
    if not causes:
        return "anomalies without a located cause"
    rc = causes[0]
    return f"{rc.kind} {rc.entity} {rc.fault or 'degraded'}"


def _severity(causes: list[RootCause]) -> Severity:
    if not causes:
        return "warning"
    return _SEVERITY.get((causes[0].kind, causes[0].fault), "warning")
