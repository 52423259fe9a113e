"""The correlation processor: groups anomalies into incidents and names the root cause.

Anomalies close in event time (``window_s``) and in the topology (``max_hops``) form one group.
A group becomes an incident once its strongest evidence reaches ``min_evidence``; the incident
is re-emitted (revision + 1) whenever its evidence or ranking changes, and resolved when all of
its anomalies have cleared. The fingerprint is derived from the group's first anomaly, so a
replay of the same events yields the same fingerprints.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import msgspec

from netvigil.analytics.rca import rank, weight
from netvigil.analytics.summary import Summarizer
from netvigil.events import Anomaly, AnomalyRef, Event, Incident, RootCause, Severity
from netvigil.graph.base import TopologyStore, entity_devices
from netvigil.streams.base import Processor

__all__ = ["CorrelatorConfig", "CorrelatorProcessor"]

_SEVERITY: dict[tuple[str, str], Severity] = {
    ("device", "down"): "critical",
    ("link", "down"): "major",
    ("link", "congestion"): "minor",
}


@dataclass(frozen=True)
class CorrelatorConfig:
    window_s: float = 300.0
    max_hops: int = 2
    min_evidence: float = 0.8


@dataclass
class _Group:
    fingerprint: str
    opened_ts: float
    last_ts: float
    anomalies: dict[str, AnomalyRef] = field(default_factory=dict)
    devices: set[str] = field(default_factory=set)
    revision: int = 0
    last_emitted: tuple[object, ...] | None = None


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
        self.cfg = cfg or CorrelatorConfig()
        self.summarizer = summarizer or Summarizer()

    def key(self, event: Event) -> str:
        return "all"

    def new_state(self) -> CorrelationState:
        return CorrelationState()

    async def process(self, event: Event, state: CorrelationState) -> Sequence[Event]:
        return [await self._summarized(e) for e in self._handle(event, state)]

    async def _summarized(self, event: Event) -> Event:
        """The incident with its summary (a generator runs off the event loop)."""
        if not isinstance(event, Incident):
            return event
        if self.summarizer.generative:
            text = await asyncio.to_thread(self.summarizer.summarize, event)
        else:
            text = self.summarizer.summarize(event)
        return msgspec.structs.replace(event, summary=text)

    def _handle(self, event: Event, state: CorrelationState) -> Sequence[Event]:
        if not isinstance(event, Anomaly):
            return []
        ref_key = f"{event.entity}|{event.signal}"
        if event.state == "cleared":
            return self._clear(event, ref_key, state)
        ref = AnomalyRef(
            entity=event.entity,
            signal=event.signal,
            kind=event.kind,
            score=event.score,
            onset_ts=event.onset_ts or event.ts,
        )
        group = self._group_for(event, state)
        if group is None:
            digest = hashlib.sha1(f"{ref_key}|{ref.onset_ts:.3f}".encode()).hexdigest()
            group = _Group(fingerprint=digest[:16], opened_ts=event.ts, last_ts=event.ts)
            state.groups.append(group)
        group.anomalies[ref_key] = ref
        group.devices.update(entity_devices(event.entity))
        group.last_ts = max(group.last_ts, event.ts)
        return self._emit(group, event.ts, resolved=False)

    def _group_for(self, event: Anomaly, state: CorrelationState) -> _Group | None:
        devices = entity_devices(event.entity)
        best: tuple[int, float, _Group] | None = None
        for g in state.groups:
            if event.ts - g.last_ts > self.cfg.window_s:
                continue
            dist = min(
                (h for d in devices for gd in g.devices if (h := self._hops(d, gd)) is not None),
                default=None,
            )
            if dist is None or dist > self.cfg.max_hops:
                continue
            if best is None or (dist, -g.last_ts) < (best[0], -best[1]):
                best = (dist, g.last_ts, g)
        return best[2] if best else None

    def _hops(self, a: str, b: str) -> int | None:
        if a == b:
            return 0
        try:
            return self.topo.hops(a, b)
        except Exception:  # unknown device in an anomaly: not near anything
            return None

    def _clear(self, event: Anomaly, ref_key: str, state: CorrelationState) -> list[Event]:
        for g in state.groups:
            ref = g.anomalies.get(ref_key)
            if ref is None or ref.state == "cleared":
                continue
            g.anomalies[ref_key] = AnomalyRef(
                entity=ref.entity,
                signal=ref.signal,
                kind=ref.kind,
                score=ref.score,
                onset_ts=ref.onset_ts,
                state="cleared",
            )
            g.last_ts = max(g.last_ts, event.ts)
            if all(a.state == "cleared" for a in g.anomalies.values()):
                state.groups.remove(g)
                return self._emit(g, event.ts, resolved=True)
            return self._emit(g, event.ts, resolved=False)
        return []

    def _emit(self, g: _Group, ts: float, *, resolved: bool) -> list[Event]:
        refs = sorted(g.anomalies.values(), key=lambda a: (a.onset_ts, a.entity, a.signal))
        if g.last_emitted is None and max(map(weight, refs), default=0.0) < self.cfg.min_evidence:
            return []  # not (yet) an incident: evidence too weak
        causes = rank(self.topo, refs)
        status: Literal["open", "resolved"] = "resolved" if resolved else "open"
        signature = (status, tuple(refs), tuple(causes))
        if signature == g.last_emitted:
            return []
        g.last_emitted = signature
        g.revision += 1
        return [
            Incident(
                ts=ts,
                fingerprint=g.fingerprint,
                status=status,
                revision=g.revision,
                opened_ts=g.opened_ts,
                title=_title(causes),
                severity=_severity(causes),
                root_causes=causes,
                anomalies=refs,
                impact=_impact(self.topo, causes),
            )
        ]


def _title(causes: list[RootCause]) -> str:
    if not causes:
        return "anomalies without a located cause"
    rc = causes[0]
    return f"{rc.kind} {rc.entity} {rc.fault or 'degraded'}"


def _severity(causes: list[RootCause]) -> Severity:
    if not causes:
        return "warning"
    return _SEVERITY.get((causes[0].kind, causes[0].fault), "warning")


def _impact(topo: TopologyStore, causes: list[RootCause]) -> list[str]:
    if not causes:
        return []
    rc = causes[0]
    if rc.kind == "link":
        return sorted(entity_devices(rc.entity))
    try:
        return sorted(topo.neighbors(rc.entity))
    except Exception:
        return []
