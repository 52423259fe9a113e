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
link; the device or its interfaces; for a device's routing daemon, the device's own report),
so a side effect it once had (traffic it pushed onto another link, a neighbour's adjacency)
that returns with another fault starts that fault's own incident. A failed link takes back
any symptom of its kind on its interfaces, seen before or not (a flapping link's shut end
logs its adjacency down on one cycle and not on another); a router that was down only its
unreachability: its daemon gone while it answers is a new fault (a routing crash after it came
back), and so is, as a cost, a router down again whose daemon's report comes first. The
topology is asked through :class:`~netvigil.graph.aio.AsyncTopology`
(a thread for Neo4j, inline for the embedded store); ranking runs on the neighbourhood of
the group (its devices, their neighbours, and all of their links: a device hypothesis
predicts every link's far end), so its cost does not grow with the network.

Revisions: ranking (``analytics/rca.py``) is the correlator's cost, and in a storm every
anomaly changes a group, so the correlator does not rank on every change. An incident's
first revision, and every revision that changes its status (resolved, reopened) or its
suppression, is ranked and emitted at once; any other change (a symptom joins, one clears)
is held (``_Group.changed_ts``, part of the state, checkpointed on Kafka) and the group is
ranked and emitted once, with everything that arrived meanwhile, by the first event of its
state (an anomaly or a clock tick) whose own event time is at least ``revision_s`` after the
oldest held change (its own time, not the correlator's clock, so that a replay emits the
revisions the first pass did). So opening and closing times are what they are without
holding back, the last revision of a burst is the one a correlator ranking every change ends
with (ranking is a function of the group), and a root cause that emerges within a burst is
named at most ``revision_s`` plus one clock tick after it could be. The clock ticks are the
sampler's (``netvigil.samples`` with no KPI, every ``coordinator.tick_s`` of a device's
metrics, event time), so a held revision does not wait for the next anomaly; ``keys`` passes
a tick only to the regions that see its device and at most one per ``revision_s / 2`` per
key, so ticks cost nearly nothing. What is held when a process stops is not emitted: on
Kafka the state keeps it and the next event after the restart releases it; the embedded
runtime resumes from the incident store's last revision (at most ``revision_s`` older) and
confirms its symptoms as after any restart.

Topology changes: what the correlator caches of the topology (each device's k-hop
neighbourhood, a service's path, a root cause's impact) is keyed by the store's generation.
A network store (Neo4j) is asked for it at most once per ``generation_check_s`` (1 s) of the
monotonic clock (:class:`~netvigil.graph.generation.GenerationWatch`), so a storm of anomalies
costs one round trip per second rather than one per anomaly; a topology change is taken into
account by the anomalies that come ``generation_check_s`` after it. The in-process store is
asked every time (its generation is an attribute), and is warmed when a state is made
(``MemoryTopology.warm``: where one failure can split the graph, linear in its size, ~0.6 CPU
s at 10,000 devices), so the first incident of a storm does not compute it; a change of
devices or links makes it compute again at the next blast radius, one of sites or services
(a service's path moving in a storm) does not.

Monitoring health: an anomaly whose evidence says the poller gave it while overloaded
(``poller_overload``: many devices timing out at once, :mod:`netvigil.collectors.snmp.health`)
is taken as ``unconfirmed``, weak evidence: it opens no incident and keeps no group alive, so
a burst of poll timeouts from NetVigil's own overload is no storm of device-down incidents;
beside a real fault's strong symptoms (a router down takes its neighbours' links and
adjacencies down) it joins that fault's incident.

Nor is a device's unreachability alone a device down: with ``confirm_s`` set, one that
nothing corroborates is held back (``CorrelationState.pending``, in no group) until a
``down`` symptom of the device or of a neighbour comes whose onset is within ``confirm_s``
of its own (a router that fails takes its neighbours' links and adjacencies down within a
poll or two; congestion nearby, or a failure long before, says nothing of it;
``CorrelationState.downs`` keeps the active ones per device), which places it at once,
before that symptom, as it would have been placed without holding; or until it has lasted
``confirm_s`` of event time (checked on every event, clock ticks included), when it is placed
then. One that clears first (the device answers its next poll) is dropped, counted as
``unconfirmed_unreachability``. So a poll that times out alone, the device and its
neighbours fine, is no incident; the price is that a device failing with no monitored
neighbour is named ``confirm_s`` later.

Cross-domain: an ``slo_burn`` anomaly (a service's error budget burning, from
``streams/slo.py``) is placed by the service's *path*: the devices at the ends of the links its
traffic traverses, as the topology store keeps them (``twin/services.py`` keeps them current).
It joins the live group on that path and never opens one on its own (it is weak evidence), so
the root cause stays the network element while the incident lists the services and SLOs it
hurts (``Incident.services``, ``Incident.slos``); a burning SLO raises the severity one level.

Clock and restarts: the correlator's clock is the newest anomaly time it has seen; an anomaly
older than the clock by more than ``late_s`` (a replay from the start, a clock that went
backwards) cannot be placed in groups that moved on, and is ignored and counted
(:mod:`netvigil.streams.ignored`). A correlator that starts without state (the embedded
runtime after any restart; Kafka when no changelog holds it) takes its groups back from the
incident store (``resume``): every open incident, and every resolved one that may still
reopen, with its fingerprint, revision and symptoms, and its clock. So the same ongoing fault
updates its incident instead of opening a new one, and a new fault still opens a new one. The
detector restarts without memory, so a symptom inherited that way must be seen again within
``window_s`` of the first event after the start (the same symptom joins its incident whatever
its onset); one that is not is taken as cleared (counted as ``unconfirmed_symptom``), and an
incident left with no active strong symptom resolves.

Feedback: operators' judgements come back on ``netvigil.feedback`` (a declared feedback input:
the coordinator writes it, and publishes every active suppression again when it starts, so a
correlator that restarted without state learns them back). A group whose opening anomaly
matches a suppression (a pattern judged false, :mod:`netvigil.analytics.suppression`) is
emitted with ``Incident.suppressed`` set: nothing downstream opens it. It becomes a plain
incident as soon as it holds a strong symptom the pattern does not match, or the suppression
is lifted.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import msgspec

from netvigil.analytics.rca import UNCONFIRMED, GroupRanking, is_strong, rank, weight
from netvigil.analytics.summary import Summarizer
from netvigil.analytics.suppression import matches
from netvigil.errors import TopologyError
from netvigil.events import (
    POLLER_OVERLOAD,
    Anomaly,
    AnomalyRef,
    Event,
    Feedback,
    Incident,
    Pattern,
    RootCause,
    Sample,
    Severity,
)
from netvigil.graph.aio import AsyncTopology
from netvigil.graph.base import Subgraph, TopologyStore, entity_devices
from netvigil.graph.generation import GenerationWatch
from netvigil.graph.memory import MemoryTopology
from netvigil.streams.base import Processor
from netvigil.streams.ignored import Ignored
from netvigil.streams.sharding import Sharding

__all__ = ["CorrelationState", "CorrelatorConfig", "CorrelatorProcessor", "region_key"]

log = logging.getLogger(__name__)

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
#: a link's fault -> the kind of symptom that says it is back (``_returns``)
_LINK_SYMPTOM: dict[str, str] = {
    "down": "down",
    "flapping": "down",
    "adjacency_down": "down",
    "congestion": "threshold",
    "packet_loss": "errors",
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
#: incidents whose ranking is kept between revisions (the most recently ranked)
RANKINGS_KEPT = 256


@dataclass(frozen=True)
class CorrelatorConfig:
    window_s: float = 300.0
    max_hops: int = 2
    min_evidence: float = 0.8
    reopen_s: float = 120.0
    """A resolved incident whose symptoms return within this many seconds reopens."""
    late_s: float = 3600.0
    """An anomaly older than the correlator's clock by more than this is ignored (counted)."""
    regions: int = 1
    """Partitions of the topology the work is split by (1: one partition, key ``all``)."""
    halo_hops: int = 4
    """Width of each region's halo, in hops (see :mod:`netvigil.graph.regions`)."""
    revision_s: float = 5.0
    """An open incident's changes are ranked and emitted at most once per this many seconds
    of event time (0: on every change); see the module doc, "Revisions"."""
    generation_check_s: float = 1.0
    """A network store's topology generation is asked at most once per this many seconds
    (monotonic clock); see the module doc, "Topology changes"."""
    confirm_s: float = 0.0
    """A device's unreachability that nothing corroborates is held back until it has lasted
    this many seconds of event time (0: never held); see the module doc, "Monitoring
    health"."""


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
    inherited: frozenset[str] = frozenset()
    """Symptoms (``entity|signal``) taken from the incident store at a restart and not seen
    again since."""
    suppressed: str = ""
    """The suppression holding this group back (see the module doc)."""
    owned: bool = True
    """This region emits the incident: its opening anomaly is at home here."""
    changed_ts: float | None = None
    """Event time of its oldest change not yet emitted (None: nothing held back)."""

    def strong_active(self) -> bool:
        # newest first: a group's oldest symptoms are the first to clear, so in a storm an
        # active one is found near the end (a scan from the start passed every cleared one,
        # at every clear: O(n^2) over the storm)
        return any(a.state == "active" and is_strong(a) for a in reversed(self.anomalies.values()))


@dataclass
class CorrelationState:
    groups: list[_Group] = field(default_factory=list)
    clock: float = float("-inf")
    """The newest anomaly time seen (or resumed)."""
    resumed_ts: float | None = None
    """Time of the first event after a resume: inherited symptoms must be seen within
    ``window_s`` of it. None when nothing was resumed or once they all were settled."""
    resuming: bool = False
    """Groups were resumed and no event has come since."""
    suppressions: dict[str, Pattern] = field(default_factory=dict)
    """Suppression id -> the pattern it holds back (from ``netvigil.feedback``)."""
    region: int = 0
    """The region this state correlates (0 of 1 without regions)."""
    pending: dict[str, Anomaly] = field(default_factory=dict)
    """Device -> its unreachability, held back until it is corroborated or lasts
    ``confirm_s`` (in arrival order)."""
    downs: dict[str, dict[str, float]] = field(default_factory=dict)
    """Device -> its active ``down`` symptoms (``entity|signal`` -> onset): what
    corroborates an unreachability near it."""

    def __setstate__(self, state: dict[str, object]) -> None:
        """A state pickled before held unreachabilities is taken too."""
        state.setdefault("pending", {})
        state.setdefault("downs", {})
        self.__dict__.update(state)


class CorrelatorProcessor(Processor[CorrelationState]):
    """One correlation domain (key ``all``): every anomaly may relate to every other."""

    name = "correlator"
    inputs = ("netvigil.anomalies", "netvigil.feedback", "netvigil.samples")
    outputs = ("netvigil.incidents",)
    feedback = ("netvigil.feedback",)

    def __init__(
        self,
        topo: TopologyStore,
        cfg: CorrelatorConfig | None = None,
        summarizer: Summarizer | None = None,
        *,
        resume: Callable[[float], Sequence[Incident]] | None = None,
    ) -> None:
        """``resume(reopen_s)`` returns the incidents a correlator without state takes back
        (the incident store's :meth:`~netvigil.resolvers.incidents.IncidentStore.resumable`)."""
        self.topo = topo
        self.resume = resume
        self.ignored = Ignored(self.name)
        self.aio = AsyncTopology(topo)
        self.cfg = cfg or CorrelatorConfig()
        self.summarizer = summarizer or Summarizer()
        self._near: dict[tuple[str, int], set[str]] = {}
        self._near_gen: int | None = None
        self._impacts: dict[tuple[str, int | None], list[str]] = {}
        #: incident fingerprint -> its ranking kept between revisions (``_rank``), the most
        #: recently ranked last; a stale one is harmless (it starts again from scratch)
        self._rankings: dict[str, GroupRanking] = {}
        #: service -> (topology generation, devices on its path, entities of its path)
        self._paths: dict[str, tuple[int, tuple[str, ...], frozenset[str]]] = {}
        self.sharding = Sharding(topo, self.cfg.regions, self.cfg.halo_hops)
        self._gen = GenerationWatch(self.cfg.generation_check_s if self.aio.threaded else 0.0)
        #: state key -> event time of the last clock tick passed to it (see ``keys``)
        self._ticked: dict[str, float] = {}

    def key(self, event: Event) -> str:
        return self.keys(event)[0]

    def keys(self, event: Event) -> Sequence[str]:
        """``all`` with one region; else every region whose view holds the anomaly's
        devices (feedback: every region). A clock tick goes to the regions that see its
        device, and only if it is ``revision_s / 2`` past the last tick passed to that key
        (a tick only releases held revisions); any other sample goes nowhere."""
        if isinstance(event, Sample):
            return self._tick_keys(event)
        if self.cfg.regions <= 1:
            return ("all",)
        if not isinstance(event, Anomaly):
            return tuple(region_key(i) for i in range(self.cfg.regions))
        regions = self.sharding.regions()
        devices = self.sharding.devices(event.entity, event.kind == SLO_KIND)
        if not devices:
            return (region_key(regions.home((event.entity,))),)
        return tuple(region_key(i) for i in regions.seen_by(devices))

    def _tick_keys(self, tick: Sample) -> tuple[str, ...]:
        if not tick.tick or self.cfg.revision_s <= 0:
            return ()
        if self.cfg.regions <= 1:
            keys: tuple[str, ...] = ("all",)
        else:
            regions = self.sharding.regions()
            keys = tuple(region_key(i) for i in regions.seen_by((tick.device,)))
        out = tuple(
            k
            for k in keys
            if tick.ts - self._ticked.get(k, float("-inf")) >= self.cfg.revision_s / 2
        )
        self._ticked.update(dict.fromkeys(out, tick.ts))
        return out

    def new_state(self) -> CorrelationState:
        return self.new_state_for("all")

    def new_state_for(self, key: str) -> CorrelationState:
        if isinstance(self.topo, MemoryTopology):
            self.topo.warm()  # see the module doc, "Topology changes"
        region = int(key.removeprefix("region-")) if key.startswith("region-") else 0
        state = CorrelationState(region=region)
        if self.resume is None:
            return state
        for inc in self.resume(self.cfg.reopen_s):
            group = self._resumed_here(inc, region)
            if group is None:
                continue
            state.groups.append(group)
            state.clock = max(state.clock, inc.ts)
        if state.groups:
            state.resuming = True
            log.info(
                "correlator resumes incidents from the incident store: %d (%d open); clock %.3f",
                len(state.groups),
                sum(1 for g in state.groups if g.resolved_ts is None),
                state.clock,
            )
        return state

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
        """The event's own work, then every incident whose held-back change is due."""
        out = await self._take(event, state)
        if out is None or isinstance(event, Feedback):
            return out or []  # an operator's judgement is not a clock
        # the event's own time, not the clock: a replay (a restart from an earlier point, the
        # clock resumed far ahead) holds back exactly as the first pass did, so it emits the
        # same revisions, never newer ones
        if state.pending:
            out += await self._confirmed(state, event.ts)
        return out + await self._due(state, event.ts)

    async def _take(self, event: Event, state: CorrelationState) -> list[Event] | None:
        """None: an event that does not move this state's event time (ignored)."""
        if isinstance(event, Feedback):
            return await self._feedback(event, state)
        if isinstance(event, Sample):
            return []  # a clock tick: it only releases what is due
        if not isinstance(event, Anomaly):
            return None
        ref_key = f"{event.entity}|{event.signal}"
        if event.ts < state.clock - self.cfg.late_s:
            self.ignored(
                "late_anomaly",
                f"{ref_key} {event.state} at {event.ts:.3f}, clock {state.clock:.3f}",
            )
            return None
        state.clock = max(state.clock, event.ts)
        if state.resuming:
            state.resumed_ts, state.resuming = event.ts, False
        out = await self._expire(state, event.ts)
        if self.cfg.confirm_s > 0:
            released = await self._hold(event, ref_key, state)
            if released is None:
                return out  # held back, or a held one that cleared
            out += released
        return out + await self._place(event, ref_key, state, event.ts)

    async def _place(
        self, event: Anomaly, ref_key: str, state: CorrelationState, now: float
    ) -> list[Event]:
        """Put ``event`` in its group at event time ``now`` (its own time, or when it was
        released after being held back)."""
        if event.state == "cleared":
            if self.cfg.confirm_s > 0 and (on := entity_devices(event.entity)):
                self._downs(state, on[0], ref_key, None)
            return await self._clear(event, ref_key, state)
        ref = AnomalyRef(
            entity=event.entity,
            signal=event.signal,
            kind=UNCONFIRMED if POLLER_OVERLOAD in event.evidence else event.kind,
            score=event.score,
            onset_ts=event.onset_ts or event.ts,
        )
        devices, path = await self._devices_of(ref)
        if self.cfg.confirm_s > 0 and ref.kind == "down" and devices:
            self._downs(state, devices[0], ref_key, ref.onset_ts)
        group = await self._group_for(ref, ref_key, now, state, devices, path)
        if group is None:
            group = _Group(fingerprint="", created_ts=now, last_strong_ts=now)
            state.groups.append(group)
        group.anomalies[ref_key] = ref
        group.inherited -= {ref_key}
        group.devices.update(devices)
        if is_strong(ref):
            group.last_strong_ts = max(group.last_strong_ts, ref.onset_ts)
            if group.resolved_ts is not None:  # symptoms are back: reopen the same incident
                group.resolved_ts = None
                group.reopened += 1
        if not group.fingerprint and weight(ref) >= self.cfg.min_evidence:
            group.fingerprint = _fingerprint(ref)
            group.owned = self._home(ref, devices) == state.region
            group.suppressed = next(
                (sid for sid, p in sorted(state.suppressions.items()) if matches(p, ref)), ""
            )
        elif group.suppressed and is_strong(ref):
            held = state.suppressions.get(group.suppressed)
            if held is None or not matches(held, ref):
                group.suppressed = ""  # a symptom the pattern does not explain: not benign
        if not group.fingerprint:
            return []  # not (yet) an incident: evidence too weak
        return await self._changed(group, now)

    # ------------------------------------------------------------------ lone unreachability

    async def _hold(
        self, event: Anomaly, ref_key: str, state: CorrelationState
    ) -> list[Event] | None:
        """Hold back a device's unreachability that nothing corroborates; before a ``down``
        symptom on a held device or its neighbour, place the held ones (in their order), as
        they would have been. None: ``event`` is held, or cleared a held one (dropped)."""
        lone = event.signal == "reachability" and POLLER_OVERLOAD not in event.evidence
        if event.state == "cleared":
            if not lone or state.pending.pop(event.device, None) is None:
                return []
            self.ignored("unconfirmed_unreachability", f"{ref_key} cleared at {event.ts:.3f}")
            return None
        if event.kind != "down" or POLLER_OVERLOAD in event.evidence:
            return []
        onset = event.onset_ts or event.ts
        on = entity_devices(event.entity)
        near = {*on, *await self._nearby(on, hops=1)}
        if lone and event.device not in state.pending:
            seen = (t for d in near for t in state.downs.get(d, {}).values())
            if not any(abs(t - onset) <= self.cfg.confirm_s for t in seen):
                state.pending[event.device] = event
                return None
            return []
        if lone:  # again while held: keep the first
            return None
        if not near & state.pending.keys():
            return []
        go = [a for d, a in state.pending.items() if d in near]  # in arrival order
        return await self._release(go, state, event.ts)

    def _downs(
        self, state: CorrelationState, device: str, ref_key: str, onset: float | None
    ) -> None:
        """Note a ``down`` symptom of ``device`` active from ``onset`` (None: cleared)."""
        if onset is not None:
            state.downs.setdefault(device, {})[ref_key] = onset
        elif (mine := state.downs.get(device)) is not None:
            mine.pop(ref_key, None)
            if not mine:
                del state.downs[device]

    async def _release(self, go: list[Anomaly], state: CorrelationState, now: float) -> list[Event]:
        out: list[Event] = []
        for a in go:
            del state.pending[a.device]
            out += await self._place(a, f"{a.entity}|{a.signal}", state, now)
        return out

    async def _confirmed(self, state: CorrelationState, now: float) -> list[Event]:
        """Held unreachabilities that have lasted ``confirm_s`` by ``now``, placed (in
        arrival order, up to the first that has not)."""
        due = []
        for a in state.pending.values():
            if now < (a.onset_ts or a.ts) + self.cfg.confirm_s:
                break
            due.append(a)
        return await self._release(due, state, now) if due else []

    async def _feedback(self, event: Feedback, state: CorrelationState) -> list[Event]:
        """Make or lift a suppression; a lifted one releases the groups it held back."""
        if event.verdict == "suppress":
            if event.pattern is not None:
                state.suppressions[event.suppression] = event.pattern
            return []
        state.suppressions.pop(event.suppression, None)
        out: list[Event] = []
        for g in state.groups:
            if g.suppressed == event.suppression:
                g.suppressed = ""
                if g.fingerprint and g.resolved_ts is None:
                    out += await self._changed(g, event.ts)
        return out

    # ------------------------------------------------------------------ regions

    def _home(self, ref: AnomalyRef, devices: Sequence[str]) -> int:
        """The region that emits an incident this anomaly opens."""
        if self.cfg.regions <= 1:
            return 0
        return self.sharding.regions().home(devices or (ref.entity,))

    def _resumed_here(self, inc: Incident, region: int) -> _Group | None:
        """The group of a stored incident for ``region``: every region that sees one of its
        devices takes it back (so its symptoms join it), the opener's home as its owner."""
        group = _resumed(inc)
        if self.cfg.regions <= 1:
            return group
        refs = sorted(inc.anomalies, key=lambda a: (a.onset_ts, a.entity, a.signal))
        opener = next((a for a in refs if _fingerprint(a) == inc.fingerprint), None)
        opener = opener or (refs[0] if refs else None)
        if opener is None:
            return None
        seen: set[int] = set()
        for a in refs:
            devices = self.sharding.devices(a.entity, a.kind == SLO_KIND)
            seen.update(self.sharding.regions().seen_by(devices))
        if region not in seen:
            return None
        opener_devices = self.sharding.devices(opener.entity, opener.kind == SLO_KIND)
        group.owned = self._home(opener, opener_devices) == region
        return group

    # ------------------------------------------------------------------ grouping

    async def _generation(self) -> int:
        """The topology generation (see the module doc, "Topology changes")."""
        if self._gen.due():
            return self._gen.set(await self.aio.call(self.topo.generation))
        assert self._gen.value is not None  # due() is True until a value is set
        return self._gen.value

    async def _nearby(self, devices: tuple[str, ...], hops: int | None = None) -> set[str]:
        """The devices within ``hops`` (default ``max_hops``) of ``devices``, those included
        when the topology knows them; cached per topology generation."""
        k = self.cfg.max_hops if hops is None else hops
        gen = await self._generation()
        if gen != self._near_gen:
            self._near, self._near_gen = {}, gen
        out: set[str] = set()
        for d in devices:
            if (d, k) not in self._near:
                self._near[d, k] = await self.aio.call(self.topo.k_hop, {d}, k)
            out |= self._near[d, k]
        return out

    async def _devices_of(self, ref: AnomalyRef) -> tuple[tuple[str, ...], frozenset[str]]:
        """The devices an anomaly is about; for a service's SLO, the devices on its path and
        the entities of the path (its links, their interfaces, its devices)."""
        if ref.kind != SLO_KIND:
            return entity_devices(ref.entity), frozenset()
        gen = await self._generation()
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
        for g in state.groups:  # a symptom from before a restart, back: the same fault
            if ref_key in g.inherited and g.resolved_ts is None:
                return g
        service = ref.kind == SLO_KIND
        near = set() if service else await self._nearby(devices)
        strong = is_strong(ref)
        best: tuple[int, float, _Group] | None = None
        for g in state.groups:
            if g.resolved_ts is not None:
                # a resolved incident takes back only its own symptoms, only for a while, and
                # only after it resolved (not a replay of what it resolved from)
                if (
                    not strong
                    or not 0 <= ts - g.resolved_ts <= self.cfg.reopen_s
                    or not await self._returns(g, ref, ref_key)
                ):
                    continue
                return g
            # in either direction: an earlier fault (replayed, late) does not join a later group
            if strong and abs(ref.onset_ts - g.last_strong_ts) > self.cfg.window_s:
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

    async def _returns(self, g: _Group, ref: AnomalyRef, ref_key: str) -> bool:
        """Whether ``ref`` is ``g``'s resolved failure back. A link that failed (down,
        flapping, an adjacency) fails again with any of its interfaces or adjacencies down,
        seen before or not (a flapping link's shut end logs its adjacency down on one cycle
        and not on another); a congested or lossy link with the same kind of symptom on its
        interfaces. A router that was down is down again only when it is unreachable again:
        its daemon or an adjacency of its failing while it answers is another fault (a
        routing crash after the router came back) and opens its own incident. Otherwise,
        only a symptom the incident already held returns."""
        root = g.root
        if root is not None and root.kind == "device" and root.fault == "down":
            return ref.entity == root.entity and ref.signal == "reachability"
        same = ref_key in g.anomalies
        if root is not None and root.kind == "link":
            same = same or _LINK_SYMPTOM.get(root.fault) == ref.kind
        return same and await self._of_root(root, ref.entity)

    async def _of_root(self, root: RootCause | None, entity: str) -> bool:
        """Whether ``entity`` is the root cause itself: a link's interfaces, a device and its
        interfaces, a device's routing daemon the device alone (no root cause: anything is).
        A daemon that fails again says so itself (zebra logs its client gone, as the first
        time); an adjacency on one of its links dropping later, its daemon up, is that link's
        fault (an MTU mismatch) and its own incident."""
        if root is None or entity == root.entity:
            return True
        if root.kind == "device" and root.fault == "routing_down":
            return False
        if root.kind == "device":
            return entity_devices(entity)[0] == root.entity
        if root.kind == "link":
            try:
                lk = await self.aio.call(self.topo.link, root.entity)
            except TopologyError:
                return False
            return entity in (lk.a_if, lk.b_if)
        return False

    async def _expire(self, state: CorrelationState, now: float) -> list[Event]:
        """Drop groups that can no longer take anomalies; settle inherited symptoms that were
        not seen again in time (the incidents they leave without symptoms resolve)."""
        out: list[Event] = []
        if state.resumed_ts is not None and now - state.resumed_ts > self.cfg.window_s:
            state.resumed_ts = None
            for g in state.groups:
                out += await self._unconfirmed(g, now)
        keep = []
        for g in state.groups:
            if g.resolved_ts is not None and now - g.resolved_ts > self.cfg.reopen_s:
                if g.changed_ts is not None:  # what it held back goes before it is dropped
                    out += await self._emit(g, now)
                continue
            if not g.fingerprint and now - g.last_strong_ts > self.cfg.window_s:
                continue  # a weak group that never became an incident
            keep.append(g)
        state.groups[:] = keep
        return out

    async def _unconfirmed(self, g: _Group, now: float) -> list[Event]:
        if not g.inherited:
            return []
        for key in sorted(g.inherited):
            self.ignored("unconfirmed_symptom", f"{key} of incident {g.fingerprint}")
            ref = g.anomalies[key]
            g.anomalies[key] = msgspec.structs.replace(ref, state="cleared")
        g.inherited = frozenset()
        if g.resolved_ts is None and not g.strong_active():
            g.resolved_ts = now
        return await self._changed(g, now)

    async def _clear(self, event: Anomaly, ref_key: str, state: CorrelationState) -> list[Event]:
        out: list[Event] = []
        held = False
        for g in state.groups:
            ref = g.anomalies.get(ref_key)
            held = held or ref is not None
            if ref is None or ref.state == "cleared":
                continue
            g.inherited -= {ref_key}
            g.anomalies[ref_key] = msgspec.structs.replace(ref, state="cleared")
            if not g.fingerprint or g.resolved_ts is not None:
                continue
            if not g.strong_active():
                g.resolved_ts = event.ts
            out += await self._changed(g, event.ts)
        if not held:
            self.ignored("clear_without_anomaly", f"{ref_key} cleared at {event.ts:.3f}")
        return out

    # ------------------------------------------------------------------ incidents

    async def _changed(self, g: _Group, ts: float) -> list[Event]:
        """A change to incident ``g`` at event time ``ts``: emitted now if it opens the
        incident or changes its status or suppression, or if holding back is off; else held
        back until :meth:`_due` (``changed_ts`` keeps its oldest held change)."""
        if not g.owned:
            return []  # another region's incident: it ranks and emits it
        status = "resolved" if g.resolved_ts is not None else "open"
        emitted = (g.last_emitted[0], g.last_emitted[-1]) if g.last_emitted else None
        if self.cfg.revision_s <= 0 or (status, g.suppressed) != emitted:
            return await self._emit(g, ts)
        if g.changed_ts is None:
            g.changed_ts = ts
        return []

    async def _rank(self, g: _Group, network: list[AnomalyRef]) -> list[RootCause]:
        """The group's root causes. On the embedded store, ranked by the group's
        :class:`GroupRanking` on the store's rank view, which updates the last revision's
        evidence and hypotheses with the symptoms that joined (the same causes as ranking
        from scratch: its docstring); on a network store, from scratch on the symptoms'
        neighbourhood, fetched in one or two queries."""
        if isinstance(self.topo, MemoryTopology):
            ranking = self._rankings.pop(g.fingerprint, None) or GroupRanking()
            if len(self._rankings) >= RANKINGS_KEPT:
                del self._rankings[next(iter(self._rankings))]  # the least recently ranked
            self._rankings[g.fingerprint] = ranking
            return ranking.rank(self.topo.rank_view(), network)
        return rank(await self._view(sorted({a.entity for a in network})), network)

    async def _view(self, entities: list[str]) -> Subgraph:
        """What ranking reads: the anomalies' devices, their neighbours, and *every* link of
        each. A device hypothesis (down, routing down, linecard) predicts the far end of each
        of its links; on the anomalies' own neighbourhood alone a neighbour would show only
        its links to them, and a neighbour with five links, one of whose far ends went down,
        would explain it with no missed prediction."""
        seeds = {d for e in entities for d in entity_devices(e)}
        if isinstance(self.topo, MemoryTopology):  # its names alone, without the subgraph
            more = sorted(self.topo.neighbourhood_devices(entities) - seeds)
            return self.topo.neighbourhood([*entities, *more])
        near = await self.aio.call(self.topo.neighbourhood, entities)
        more = sorted({d.name for d in near.devices} - seeds)
        if not more:
            return near
        return await self.aio.call(self.topo.neighbourhood, [*entities, *more])

    async def _due(self, state: CorrelationState, now: float) -> list[Event]:
        """Emit every incident whose oldest held-back change is ``revision_s`` old."""
        out: list[Event] = []
        for g in state.groups:
            if g.changed_ts is not None and now - g.changed_ts >= self.cfg.revision_s:
                out += await self._emit(g, now)
        return out

    async def _emit(self, g: _Group, ts: float) -> list[Event]:
        g.changed_ts = None
        if not g.owned:
            return []  # another region's incident: it ranks and emits it
        refs = sorted(g.anomalies.values(), key=lambda a: (a.onset_ts, a.entity, a.signal))
        network = [a for a in refs if a.kind != SLO_KIND]
        burning = [a for a in refs if a.kind == SLO_KIND and a.state == "active"]
        causes = await self._rank(g, network)
        if g.reopened and causes and causes[0].kind == "link" and causes[0].fault == "down":
            causes[0] = msgspec.structs.replace(causes[0], fault="flapping")
        status: Literal["open", "resolved"] = "resolved" if g.resolved_ts is not None else "open"
        signature = (status, tuple(refs), tuple(causes), g.suppressed)
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
                suppressed=g.suppressed,
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


def region_key(i: int) -> str:
    """The state key of region ``i``."""
    return f"region-{i}"


def _fingerprint(ref: AnomalyRef) -> str:
    """The fingerprint of the incident an anomaly opens: its entity, signal and onset."""
    key = f"{ref.entity}|{ref.signal}|{ref.onset_ts:.3f}"
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def _resumed(inc: Incident) -> _Group:
    """The group of a stored incident, as a correlator that saw it would hold it."""
    refs = {f"{a.entity}|{a.signal}": a for a in inc.anomalies}
    strong = [a.onset_ts for a in inc.anomalies if is_strong(a)]
    flapping = bool(inc.root_causes) and inc.root_causes[0].fault == "flapping"
    return _Group(
        fingerprint=inc.fingerprint,
        created_ts=inc.opened_ts,
        last_strong_ts=max(strong, default=inc.opened_ts),
        anomalies=dict(refs),
        devices={d for a in inc.anomalies if a.kind != SLO_KIND for d in entity_devices(a.entity)},
        opened_ts=inc.opened_ts,
        revision=inc.revision,
        resolved_ts=inc.ts if inc.status == "resolved" else None,
        reopened=int(flapping),
        root=inc.root_causes[0] if inc.root_causes else None,
        inherited=frozenset(
            k for k, a in refs.items() if a.state == "active" and inc.status == "open"
        ),
    )


def _title(causes: list[RootCause]) -> str:
    if not causes:
        return "anomalies without a located cause"
    rc = causes[0]
    return f"{rc.kind} {rc.entity} {rc.fault or 'degraded'}"


def _severity(causes: list[RootCause]) -> Severity:
    if not causes:
        return "warning"
    return _SEVERITY.get((causes[0].kind, causes[0].fault), "warning")
