"""Topology-aware root-cause ranking (pure: a topology and anomalies in, candidates out).

Two views of the same evidence are combined:

1. **Fault hypotheses** (the rules for the obvious cases, as a codebook). Each candidate is a
   typed hypothesis that *predicts* which strong symptoms (``down``/``threshold`` anomalies,
   reachability) would be seen if it were true:

   - ``link down`` (and a flapping link): both interfaces of the link down (an end an operator
     shut down, an ``admin_down`` anomaly, is not observed and not predicted); when all of its
     evidence is the routing protocol's (the adjacency left Full, ``routing.*`` signals) while
     the interfaces stay up, ``link adjacency_down`` (an MTU mismatch, a misconfigured link);
   - ``link congestion``: an interface of the link over its utilization threshold;
   - ``link packet_loss``: the link's interfaces counting input errors (a lossy link is seen
     by whoever receives from it: both ends when traffic flows both ways);
   - ``device down``: the device unreachable and the far ends of all its links down (its own
     interfaces cannot be observed any more). Devices cut off behind it are unreachable too:
     where the unreachable devices form a connected part of the network whose border with
     the reachable rest is at most ``CUT_BORDER_MAX`` devices, each border device's
     hypothesis explains the unreachability of the part's interior (a core router pair that
     fails together cuts off every POP dual-homed on it, though neither router alone isolates
     anything; without this, each POP's own router explained its share as well as the pair);
   - ``device linecard``: two or more links of a reachable device down together (onsets within
     ``LINECARD_SPREAD_S``) while others stay up;
   - ``device routing_down``: a reachable device whose neighbours lost their adjacencies with
     it (the far ends of its links down by the routing protocol only) while it still answers
     and no interface at either end went down: its routing daemon died, its interfaces did
     not. It predicts the far ends, so with the device unreachable ``device down``
     explains more and wins; with both ends of one link reporting (an MTU mismatch) it ties
     with the link, and the simpler link wins. Where the device itself says its routing
     daemon is gone (``routing.process.*``: FRRouting's zebra logs the client disconnected),
     it predicts that too, and the link, which does not explain it, falls behind: a router
     with one link whose daemon stops (its own adjacency logged down, then its neighbour's)
     is no MTU mismatch on that link. A device that answers its polls is observed, so the
     hypothesis predicts that report whether or not it came: a one-link router that answers
     and says nothing while only its neighbour lost the adjacency (an MTU mismatch whose
     smaller-MTU end sits in ExStart) is its link's fault, not its routing's. For the same
     reason, on equal evidence a reachable device's routing comes before its ``device down``.

   A failure (of a link, a device, its routing) also explains congestion that began after it
   within ``REROUTE_S``: the traffic it moved. A hypothesis scores the harmonic mean of the
   share of the strong evidence it explains
   (weighted; a hypothesis may also explain symptoms it does not predict, which count here
   only) and the share of its predictions that came true. Interfaces on unreachable
   devices are unobservable and never counted as missed predictions.

   A prediction is met by a symptom of the kind predicted. The failures (``_PREDICTS_DOWN``)
   predict interfaces down; an interface over its utilization threshold and not down counts
   its link full, which says the link and the device at its far end forward: that symptom
   meets no such prediction and is not explained by it (the prediction counts as missed).
   So a router whose agent times out while it congests a link (unreachable, the far end
   receiving the link full: the lab's Marnet run) is that link's congestion, not a device
   down. Input errors still meet a down prediction: a failing link or port shows them on
   its way down.

2. **Propagation** (a personalized PageRank on the device-interface-link graph around the
   anomalies, seeded by anomaly strength and discounted by onset order: earlier symptoms weigh
   more, because effects follow causes). It ranks where the anomalies concentrate, and it is
   what ranks candidates when only weak evidence (deviations) exists.

Final confidence = ``W_RULE * hypothesis + W_WALK * walk`` (each in [0, 1]), ties broken by the
simpler hypothesis (one link before a device) and then by name, so rankings are stable.
"""

from __future__ import annotations

import itertools
import math
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from operator import itemgetter
from typing import Any, Protocol

import msgspec
import numpy as np

from netvigil.errors import TopologyError
from netvigil.events import AnomalyRef, RootCause
from netvigil.graph.base import Interface, Link, Subgraph, entity_devices, entity_kind

try:  # scipy's CSR matrix-vector product itself: its public ``@`` costs more per call than
    # a step of a walk of a few hundred nodes (checks, conversions, a new array)
    from scipy.sparse._sparsetools import csr_matvec as _csr_matvec
except ImportError:  # pragma: no cover - a scipy without it: np.bincount, the same values
    _csr_matvec = None

__all__ = [
    "ADMIN_DOWN",
    "CUT_BORDER_MAX",
    "KIND_WEIGHT",
    "LINECARD_SPREAD_S",
    "PROCESS_PREFIX",
    "REROUTE_S",
    "ROUTING_PREFIX",
    "UNCONFIRMED",
    "W_RULE",
    "W_WALK",
    "GroupRanking",
    "Hypothesis",
    "Topo",
    "View",
    "is_strong",
    "rank",
    "weight",
]

#: how much one anomaly of a kind counts as evidence, times its score
KIND_WEIGHT: dict[str, float] = {
    "down": 1.0,
    "threshold": 0.9,
    "errors": 0.9,
    "predicted_congestion": 0.4,
    "deviation": 0.3,
    "unconfirmed": 0.3,
}
#: a status symptom its collector could not vouch for (an unreachable verdict the poller gave
#: while overloaded: netvigil/collectors/snmp/health.py): weak, it opens no incident alone
UNCONFIRMED = "unconfirmed"
#: kinds that are symptoms of a hard fault; everything else is weak evidence
STRONG_KINDS = frozenset({"down", "threshold", "errors"})
#: signals of the routing protocol (an adjacency), not of the interface itself
ROUTING_PREFIX = "routing."
#: a device's own routing daemon (``routing.process.ospf``, ...): about the device
PROCESS_PREFIX = "routing.process"
#: an interface an operator shut down (not a symptom: it tells which end is not observed)
ADMIN_DOWN = "admin_down"
#: a cut-off part of the network is explained by its border devices when there are at most
#: this many (a failed router, or a dual-homed pair): a larger border is several faults
CUT_BORDER_MAX = 2
#: links failing within this many seconds of each other count as failing together
LINECARD_SPREAD_S = 30.0
#: congestion beginning this soon after a failure is the traffic the failure moved
REROUTE_S = 120.0
#: a device with more links than this joins the walk with its anomalous links only
WALK_MAX_LINKS = 32
#: the walk's damping, and its power iteration (an L1 change below WALK_TOL stops it; the
#: ranking needs the order of a few candidates, not PageRank to many digits)
WALK_ALPHA = 0.85
WALK_ITERATIONS = 40
WALK_TOL = 1e-4
#: a walk on at most this many nodes iterates a dense matrix (a few microseconds a step);
#: a larger one the edge list (memory and time linear in the edges)
WALK_DENSE_MAX = 256
#: a walk's scores of at most this many targets are read out in Python, of more in numpy
#: (fewer calls against less work per target: the same values either way)
WALK_FEW_TARGETS = 48
#: a ranking of more than this many candidates on strong evidence scores them in numpy, of
#: fewer in Python (fewer calls against less work per candidate: the same values either way)
SCORE_FEW = 32
#: onset discount of the propagation seed: weight * exp(-(onset - first onset) / ONSET_TAU_S)
ONSET_TAU_S = 60.0
W_RULE = 0.8
W_WALK = 0.2
_SIMPLER = {
    "link_down": 0,
    "adjacency_down": 0,
    "congestion": 0,
    "packet_loss": 0,
    "linecard": 1,
    # a device that answers its polls is not down: on equal evidence (its unreachability
    # missing from one, its daemon's report from the other) its routing comes first
    "routing_down": 1,
    "device_down": 2,
    "degraded": 3,
}
#: the hypotheses whose predictions of interfaces are downs: an interface over its
#: utilization threshold (and not down) carries traffic, which meets none of them
_PREDICTS_DOWN = frozenset(
    {"link_down", "adjacency_down", "routing_down", "device_down", "linecard"}
)
#: the place of a hypothesis among those of its entity, in the order :func:`hypotheses` makes
#: them (what broke a tie of score and simplicity before candidates were sorted by it)
_PLACE = {
    "link_down": 0,
    "adjacency_down": 0,
    "congestion": 1,
    "packet_loss": 2,
    "device_down": 0,
    "routing_down": 1,
    "linecard": 2,
    "degraded": 0,
}
_FAULT = {
    "link_down": "down",
    "adjacency_down": "adjacency_down",
    "routing_down": "routing_down",
    "congestion": "congestion",
    "packet_loss": "packet_loss",
    "device_down": "down",
    "linecard": "linecard",
    "degraded": "degraded",
}


class Topo(Protocol):
    """What ranking reads from a topology (a TopologyStore, or a :class:`View`)."""

    def has(self, entity: str) -> bool: ...

    def interface(self, interface_id: str) -> Interface: ...

    def link(self, link_id: str) -> Link: ...

    def links_of(self, device: str) -> list[Link]: ...


class View:
    """A read-only index of a subgraph: what ranking needs, without building a graph."""

    def __init__(self, sub: Subgraph) -> None:
        self._devices = {d.name for d in sub.devices}
        self._links = {lk.id: lk for lk in sub.links}
        #: interface id -> (its device, its link); its Interface is made when asked for
        self._ends: dict[str, tuple[str, str]] = {}
        self._ifaces: dict[str, Interface] = {}
        by_device: dict[str, list[Link]] = {d: [] for d in self._devices}
        self._by_device = by_device
        ends = self._ends
        for lk in sorted(sub.links, key=lambda x: x.id):
            ends[lk.a_if] = (lk.a, lk.id)
            by_device.setdefault(lk.a, []).append(lk)
            ends[lk.b_if] = (lk.b, lk.id)
            by_device.setdefault(lk.b, []).append(lk)

    def has(self, entity: str) -> bool:
        return entity in self._devices or entity in self._links or entity in self._ends

    def interface(self, interface_id: str) -> Interface:
        iface = self._ifaces.get(interface_id)
        if iface is not None:
            return iface
        try:
            dev, link = self._ends[interface_id]
        except KeyError:
            raise TopologyError(f"unknown interface {interface_id!r}") from None
        iface = Interface(interface_id, dev, interface_id.partition(":")[2], link)
        self._ifaces[interface_id] = iface
        return iface

    def link(self, link_id: str) -> Link:
        try:
            return self._links[link_id]
        except KeyError:
            raise TopologyError(f"unknown link {link_id!r}") from None

    def links_of(self, device: str) -> list[Link]:
        return list(self._by_device.get(device, ()))


def weight(a: AnomalyRef) -> float:
    return KIND_WEIGHT.get(a.kind, 0.3) * a.score


def is_strong(a: AnomalyRef) -> bool:
    return a.kind in STRONG_KINDS


@dataclass(frozen=True)
class Hypothesis:
    """A candidate root cause and the strong symptoms it predicts."""

    kind: str  # link_down | adjacency_down | congestion | device_down | routing_down | ...
    entity: str
    predicts: frozenset[str]
    rule: str = ""
    explains: frozenset[str] = frozenset()
    """Symptoms it accounts for without predicting them (they may or may not show)."""


@dataclass
class _Evidence:
    strength: dict[str, float] = field(default_factory=dict)  # symptom key -> weight
    onset: dict[str, float] = field(default_factory=dict)
    kind: dict[str, str] = field(default_factory=dict)
    down_ifaces: set[str] = field(default_factory=set)
    oper_down: set[str] = field(default_factory=set)
    """Down interfaces seen down by something other than the routing protocol."""
    admin_down: set[str] = field(default_factory=set)
    """Interfaces shut down by an operator: not observed as down (the poller skips them)."""
    congested: set[str] = field(default_factory=set)
    running: set[str] = field(default_factory=set)
    """Congested interfaces never seen down: traffic flows through them (``_PREDICTS_DOWN``)."""
    lossy: set[str] = field(default_factory=set)
    unreachable: set[str] = field(default_factory=set)
    routing_dead: set[str] = field(default_factory=set)
    """Devices whose own routing daemon is reported gone (``routing.process.*``)."""
    weak: dict[str, float] = field(default_factory=dict)


def _key(a: AnomalyRef) -> str:
    """Symptom key: reachability and the routing daemon are about the device; other signals
    about their entity."""
    if a.signal == "reachability":
        return f"{a.entity}|reach"
    if a.signal.startswith(PROCESS_PREFIX):
        return f"{a.entity}|routing"
    return a.entity


def _collect(topo: Topo, anomalies: Iterable[AnomalyRef]) -> _Evidence:
    ev = _Evidence()
    has = topo.has
    for a in anomalies:
        if has(a.entity):
            _fold(ev, a)
    return ev


def _fold(ev: _Evidence, a: AnomalyRef) -> None:
    """Add one symptom (of an entity the topology has) to the evidence, in order: the
    evidence of a sequence is its symptoms folded one by one (a stronger one replaces a
    weaker one's kind; the first of equal strength keeps it)."""
    w = KIND_WEIGHT.get(a.kind, 0.3) * a.score  # weight(a), inline: per symptom, per rank
    if a.kind == ADMIN_DOWN:
        ev.admin_down.add(a.entity)
        return
    if a.kind not in STRONG_KINDS:
        ev.weak[a.entity] = max(ev.weak.get(a.entity, 0.0), w)
        return
    k = _key(a)
    if w > ev.strength.get(k, 0.0):
        ev.strength[k] = w
        ev.kind[k] = a.kind
    ev.onset[k] = min(ev.onset.get(k, a.onset_ts), a.onset_ts)
    if a.signal == "reachability":
        ev.unreachable.add(a.entity)
    elif a.signal.startswith(PROCESS_PREFIX) and a.kind == "down":
        ev.routing_dead.add(a.entity)
    elif a.kind == "down" and entity_kind(a.entity) == "interface":
        ev.down_ifaces.add(a.entity)
        ev.running.discard(a.entity)
        if not a.signal.startswith(ROUTING_PREFIX):
            ev.oper_down.add(a.entity)
    elif a.kind == "threshold" and entity_kind(a.entity) == "interface":
        ev.congested.add(a.entity)
        if a.entity not in ev.down_ifaces:
            ev.running.add(a.entity)
    elif a.kind == "errors" and entity_kind(a.entity) == "interface":
        ev.lossy.add(a.entity)


def _observable(e: str, unreachable: set[str]) -> bool:
    return not unreachable or entity_devices(e)[0] not in unreachable


def _observable_from(e: str, dev: str, unreachable: set[str]) -> bool:
    """``_observable(e, unreachable - {dev})`` without making the set."""
    if not unreachable:
        return True
    d = entity_devices(e)[0]
    return d == dev or d not in unreachable


def _cut_off(topo: Topo, unreachable: set[str]) -> dict[str, frozenset[str]]:
    """Border device -> the reachability symptoms of the interior of the unreachable part it
    borders: each connected part of the unreachable devices whose border (its devices with a
    link to a reachable one) has at most ``CUT_BORDER_MAX`` devices."""
    out: dict[str, frozenset[str]] = {}
    seen: set[str] = set()
    for start in sorted(unreachable):
        if start in seen:
            continue
        part, border, todo = {start}, set(), [start]
        while todo:
            dev = todo.pop()
            for lk in topo.links_of(dev):
                other = lk.other(dev)
                if other not in unreachable:
                    border.add(dev)
                elif other not in part:
                    part.add(other)
                    todo.append(other)
        seen |= part
        inner = frozenset(f"{d}|reach" for d in part - border)
        if inner and len(border) <= CUT_BORDER_MAX:
            out.update(dict.fromkeys(border, inner))
    return out


#: a hypothesis is keyed by (kind, entity); a link's down and adjacency-down hypotheses share
#: one key (one of the two is made), as do the three device hypotheses' entity
_HypKey = tuple[str, str]


def hypotheses(topo: Topo, ev: _Evidence) -> list[Hypothesis]:
    """The typed candidates the strong evidence suggests (the rules for the obvious cases)."""
    return [_with_reroutes(h, ev) for h in _hypotheses(topo, ev).values()]


def _hypotheses(topo: Topo, ev: _Evidence) -> dict[_HypKey, Hypothesis]:
    """:func:`hypotheses` before reroutes, by key: each link with a down end, each congested
    link, each lossy link, and the device hypotheses of each device of :func:`_devices`."""
    out: dict[_HypKey, Hypothesis] = {}
    cut = _cut_off(topo, ev.unreachable)
    for ifid in ev.down_ifaces:
        iface = topo.interface(ifid)
        if iface.link and ("link_down", iface.link) not in out:  # else its other end's
            out[("link_down", iface.link)] = _link_down(topo.link(iface.link), ev)
    for ifid in ev.congested:
        iface = topo.interface(ifid)
        if iface.link:
            out[("congestion", iface.link)] = _congestion(topo.link(iface.link), ev)
    for ifid in ev.lossy:
        iface = topo.interface(ifid)
        if iface.link:
            out[("packet_loss", iface.link)] = _packet_loss(topo.link(iface.link), ev)
    for dev in sorted(_devices(topo, ev)):
        out.update(_device_hypotheses(topo, ev, dev, cut))
    return out


def _devices(topo: Topo, ev: _Evidence) -> set[str]:
    """The devices that get device hypotheses: the unreachable ones, those whose routing
    daemon is gone, and both ends of every link with a down end."""
    devices: set[str] = ev.unreachable | ev.routing_dead
    for ifid in ev.down_ifaces:
        devices.update(_ends_of(topo, ifid))
    return devices


def _ends_of(topo: Topo, ifid: str) -> tuple[str, ...]:
    """An interface's device and, on a link, the device at the other end."""
    iface = topo.interface(ifid)
    if not iface.link:
        return (iface.device,)
    return (iface.device, topo.link(iface.link).other(iface.device))


def _link_down(lk: Link, ev: _Evidence) -> Hypothesis:
    ends = frozenset(
        e for e in (lk.a_if, lk.b_if) if _observable(e, ev.unreachable) and e not in ev.admin_down
    )
    shut = " (one end shut down)" if {lk.a_if, lk.b_if} & ev.admin_down else ""
    if ends & ev.oper_down:
        return Hypothesis("link_down", lk.id, ends, "both ends down" + shut)
    return Hypothesis("adjacency_down", lk.id, ends, "adjacency down, interfaces up" + shut)


def _congestion(lk: Link, ev: _Evidence) -> Hypothesis:
    hot = frozenset(e for e in (lk.a_if, lk.b_if) if e in ev.congested)
    return Hypothesis("congestion", lk.id, hot, "interface over utilization threshold")


def _packet_loss(lk: Link, ev: _Evidence) -> Hypothesis:
    ends = frozenset(e for e in (lk.a_if, lk.b_if) if _observable(e, ev.unreachable))
    return Hypothesis("packet_loss", lk.id, ends, "input errors on the link's interfaces")


def _device_hypotheses(
    topo: Topo, ev: _Evidence, dev: str, cut: dict[str, frozenset[str]]
) -> dict[_HypKey, Hypothesis]:
    """The device hypotheses of ``dev``: down always, routing down and linecard when the
    evidence fits them. They read the evidence of ``dev``'s own links' interfaces only, and
    the device sets (unreachable, routing daemons gone, ``cut``)."""
    out: dict[_HypKey, Hypothesis] = {}
    down = ev.down_ifaces
    links = topo.links_of(dev)
    # the far end of each link (lk.end(lk.other(dev))), observable unless its device is
    # unreachable (dev itself does not count)
    far = {lk.b_if if lk.a == dev else lk.a_if for lk in links if lk.a != lk.b}
    far = {e for e in far if _observable_from(e, dev, ev.unreachable)}
    dead = frozenset({f"{dev}|routing"}) if dev in ev.routing_dead else frozenset()
    out[("device_down", dev)] = Hypothesis(
        "device_down",
        dev,
        frozenset({f"{dev}|reach"} | far),
        "unreachable, neighbours see it",
        explains=dead | cut.get(dev, frozenset()),
    )
    own = {lk.end(dev) for lk in links if lk.a != lk.b}
    if dev not in ev.unreachable and not (far | own) & ev.oper_down:
        # a daemon that stops in order logs its own adjacencies down first; one that
        # crashes logs nothing: its own ends are explained, not predicted. The device
        # answers its polls, so it is observed: its routing manager's word that the
        # daemon is gone is predicted, and missing when it never came
        out[("routing_down", dev)] = Hypothesis(
            "routing_down",
            dev,
            frozenset(far) | {f"{dev}|routing"},
            "reachable, its routing daemon gone" if dead else "reachable, neighbours lost it",
            explains=frozenset(own),
        )
    failed = [lk for lk in links if lk.a_if in down or lk.b_if in down]
    if 2 <= len(failed) < len(links) and dev not in ev.unreachable:
        onsets = [min(ev.onset[e] for e in (lk.a_if, lk.b_if) if e in ev.onset) for lk in failed]
        if max(onsets) - min(onsets) <= LINECARD_SPREAD_S:
            ends = frozenset(
                e for lk in failed for e in (lk.a_if, lk.b_if) if _observable(e, ev.unreachable)
            )
            out[("linecard", dev)] = Hypothesis(
                "linecard", dev, ends, "several links of a reachable device down together"
            )
    return out


def _with_reroutes(h: Hypothesis, ev: _Evidence) -> Hypothesis:
    """A failure moves traffic: congestion elsewhere that began after it (within
    ``REROUTE_S``) is its effect, explained though not predicted."""
    if h.kind in ("congestion", "packet_loss") or not ev.congested:
        return h
    starts = [ev.onset[k] for k in h.predicts if k in ev.onset]
    if not starts:
        return h
    first = min(starts)
    effects = {e for e in ev.congested if first <= ev.onset.get(e, first - 1) <= first + REROUTE_S}
    return replace(h, explains=h.explains | (effects - h.predicts)) if effects else h


def _weak_candidates(topo: Topo, ev: _Evidence) -> list[Hypothesis]:
    out: dict[str, Hypothesis] = {}
    for e in ev.weak:
        kind = entity_kind(e)
        if kind == "interface":
            iface = topo.interface(e)
            out.setdefault(iface.device, Hypothesis("degraded", iface.device, frozenset()))
            if iface.link:
                out.setdefault(iface.link, Hypothesis("degraded", iface.link, frozenset()))
        else:
            out.setdefault(e, Hypothesis("degraded", e, frozenset()))
    return list(out.values())


@dataclass
class _Seeds:
    """What the walk reads of the symptoms (:func:`_seeds`)."""

    seen: set[str] = field(default_factory=set)
    """The symptoms' entities that the topology has."""
    devices: set[str] = field(default_factory=set)
    """Their devices."""
    first: float = math.inf
    """The earliest onset of all the symptoms (math.inf: none)."""
    weight: dict[str, float] = field(default_factory=dict)
    """Entity -> its seed: the largest ``weight(a) * exp(-(onset - first) / ONSET_TAU_S)``
    of its symptoms (at least 0)."""

    def add(self, topo: Topo, anomalies: Sequence[AnomalyRef]) -> None:
        """Take more symptoms' entities (then :meth:`seed` them)."""
        for a in anomalies:
            if topo.has(a.entity):
                self.seen.add(a.entity)
                self.devices.update(entity_devices(a.entity))

    def seed(self, anomalies: Sequence[AnomalyRef], everything: Sequence[AnomalyRef]) -> None:
        """Take more symptoms' seeds; when one of them is the earliest so far, every seed is
        made again from ``everything`` (all the symptoms, these included)."""
        first = min((a.onset_ts for a in anomalies), default=self.first)
        if first < self.first:
            self.first, self.weight, anomalies = first, {}, everything
        first, weights, seen = self.first, self.weight, self.seen
        for a in anomalies:
            if a.entity in seen:
                w = weight(a) * math.exp(-max(a.onset_ts - first, 0.0) / ONSET_TAU_S)
                weights[a.entity] = max(weights.get(a.entity, 0.0), w)


def _seeds(topo: Topo, anomalies: Sequence[AnomalyRef]) -> _Seeds:
    out = _Seeds()
    out.add(topo, anomalies)
    out.seed(anomalies, anomalies)
    return out


class _DevicesOf(dict[str, tuple[str, ...]]):
    """:func:`entity_devices` of each entity asked for, kept."""

    def __missing__(self, entity: str) -> tuple[str, ...]:
        found = self[entity] = tuple(entity_devices(entity))
        return found


class _Parts:
    """Each device's part of the walk's graph (:meth:`part`), kept for one topology object
    that does not change (shared by the :class:`GroupRanking` objects ranking on it);
    :func:`rank` from scratch makes one per call."""

    def __init__(self) -> None:
        self.parts: dict[str, tuple[str, ...]] = {}
        self.devices_of = _DevicesOf()

    def part(self, dev: str, links: list[Link], keep: bool) -> tuple[str, ...]:
        """The chain (a, a_if, link, b_if, b) of each of ``links``, one after the other:
        what the walk's graph takes of ``dev`` (kept when ``keep``: ``links`` are all of
        its links)."""
        found = self.parts.get(dev) if keep else None
        if found is None:
            found = tuple(x for lk in links for x in (lk.a, lk.a_if, lk.id, lk.b_if, lk.b))
            if keep:
                self.parts[dev] = found
        return found


@dataclass
class _WalkGraph:
    """The walk's graph (:func:`_walk_graph`): everything of the walk but the seeds."""

    key: tuple[object, ...]
    """What it was made of: the devices in order and each hub's links (the same key, the
    same graph)."""
    index: dict[str, int]
    """Node name -> its number (the order of first appearance)."""
    src: np.ndarray[tuple[Any, ...], np.dtype[np.int64]]
    dst: np.ndarray[tuple[Any, ...], np.dtype[np.int64]]
    """The edges, one per direction, sorted by (src, dst)."""
    dangling: np.ndarray[tuple[Any, ...], np.dtype[np.bool_]]
    any_dangling: bool
    share: np.ndarray[tuple[Any, ...], np.dtype[np.floating[Any]]]
    """The edge-list step's ``inv[dst]``: the share of a node's mass each edge carries."""
    m: np.ndarray[tuple[Any, ...], np.dtype[np.floating[Any]]] | None
    """The dense step (n <= WALK_DENSE_MAX): ``WALK_ALPHA * (D^-1 A)^T`` in its first n
    rows and columns, 1 at [n, n]; the seeds' columns (the dangling ones, the last) are
    written at each walk."""
    starts: np.ndarray[tuple[Any, ...], np.dtype[np.int64]] | None = None
    """The edge-list step's rows (n > WALK_DENSE_MAX): node i's edges are
    ``starts[i]:starts[i + 1]`` of ``src``, ``dst`` and ``share`` (a CSR matrix's indptr)."""
    targets: tuple[set[str], list[str], np.ndarray[tuple[Any, ...], np.dtype[np.int64]]] | None = (
        None
    )
    """The last walk's targets, as a list, and each one's number (n: not in the graph)."""


def _walk_graph(
    topo: Topo,
    seeds: _Seeds,
    targets: set[str],
    parts: _Parts,
    last: _WalkGraph | None = None,
) -> _WalkGraph:
    """The graph the walk runs on: the devices of the symptoms and of ``targets``, each with
    its links (a hub, more than WALK_MAX_LINKS, with its anomalous or candidate links only),
    each link as the chain a - a_if - link - b_if - b. ``last`` when it was made of the same
    devices and links (its ``key``).

    Nodes are numbered in order of first appearance in the devices' sorted order, each
    device then each of its links' a, a_if, link, b_if, b: this numbering fixes the order
    of the walk's sums, so it is the one the walk always had (a device's part is the same
    whether a link came before through its other end or not: a name seen before keeps its
    number, a chain seen before adds edges already there)."""
    seen = seeds.seen
    devices = sorted(seeds.devices.union(*map(parts.devices_of.__getitem__, targets)))
    key: list[object] = []
    order: list[Iterable[str]] = []
    chains: list[tuple[str, ...]] = []
    kept = parts.parts
    for dev in devices:
        part = kept.get(dev)
        if part is None:
            if not topo.has(dev):
                continue
            links = topo.links_of(dev)
            if len(links) > WALK_MAX_LINKS:  # a hub: its part depends on the symptoms
                links = [
                    lk for lk in links if lk.id in targets or {lk.a_if, lk.b_if, lk.a, lk.b} & seen
                ]
                key.append(tuple(lk.id for lk in links))
                part = parts.part(dev, links, False)
            else:
                part = parts.part(dev, links, True)
        key.append(dev)
        order += ((dev,), part)
        chains.append(part)
    if last is not None and last.key == tuple(key):
        return last
    index = {name: i for i, name in enumerate(dict.fromkeys(itertools.chain(*order)))}
    count = sum(map(len, chains))
    ids = np.fromiter(map(index.__getitem__, itertools.chain(*chains)), np.int64, count)
    ids = ids.reshape(-1, 5)
    n = len(index)
    u, v = ids[:, :4].ravel(), ids[:, 1:].ravel()
    # one entry per edge and direction (parallel edges collapse), sorted by (row, column)
    pairs = np.unique(np.concatenate((u * n + v, v * n + u)))
    src, dst = pairs // n if n else pairs, pairs % n if n else pairs
    degree = np.bincount(src, minlength=n)
    deg = degree.astype(float)
    inv = 1.0 / np.maximum(deg, 1.0)
    dangling = deg == 0
    m = starts = None
    if n <= WALK_DENSE_MAX:
        m = np.zeros((n + 1, n + 1))
        m[src, dst] = inv[dst]
        m *= WALK_ALPHA
        m[n, n] = 1.0
    else:
        starts = np.zeros(n + 1, np.int64)
        np.cumsum(degree, out=starts[1:])
    share = inv[dst]
    return _WalkGraph(tuple(key), index, src, dst, dangling, bool(dangling.any()), share, m, starts)


def _walk(topo: Topo, seeds: _Seeds, targets: set[str], graph: _WalkGraph) -> dict[str, float]:
    """Personalized PageRank on devices, interfaces and links, seeded by the anomalies, on
    ``graph`` (:func:`_walk_graph` of the same ``topo``, ``seeds`` and ``targets``).

    Written as a power iteration over an edge list (``numpy.bincount`` is the sparse
    matrix-vector product) rather than ``networkx.pagerank`` or scipy's sparse matrices: the
    graph is a few dozen to a few hundred nodes, changing with every incident update, and at
    that size the conversions and per-call overheads of either cost more than the walk.
    Hubs join with their anomalous or candidate links only (WALK_MAX_LINKS).
    """
    index = graph.index
    n = len(index)
    p = np.zeros(n)
    for e, w in seeds.weight.items():
        i = index.get(e)
        if i is not None:
            p[i] = w
    if n == 0 or p.sum() <= 0:
        return {}
    p /= p.sum()
    src, dst, dangling = graph.src, graph.dst, graph.dangling
    x: np.ndarray[tuple[Any, ...], np.dtype[np.floating[Any]]] = p.copy()
    if graph.m is not None:
        # one affine step as one product: (D^-1 A)^T, the dangling nodes' mass back to the
        # seeds, and the restart, on x with a constant 1 appended; the iterates are made in
        # one buffer and the first whose L1 change is under WALK_TOL is taken (the same
        # iterate a loop testing each step stops at, for a few calls less per step). The
        # graph's part is made once; the seeds' columns here (a dangling node's column holds
        # no edge: WALK_ALPHA * (0 + p) = WALK_ALPHA * p)
        m = graph.m
        if graph.any_dangling:
            m[:n, :n][:, dangling] = (p * WALK_ALPHA)[:, None]
        m[:n, n] = (1 - WALK_ALPHA) * p
        ys = np.empty((WALK_ITERATIONS + 1, n + 1))
        ys[0, :n] = x
        ys[0, n] = 1.0
        for k in range(WALK_ITERATIONS):
            np.matmul(m, ys[k], out=ys[k + 1])
        change = np.abs(np.diff(ys, axis=0)).sum(axis=1)
        under = np.flatnonzero(change < WALK_TOL)
        x = ys[int(under[0]) + 1 if under.size else WALK_ITERATIONS, :n]
    else:
        # (D^-1 A)^T x: what each node receives from its neighbours, a share of theirs; the
        # dangling nodes' mass goes back to the seeds (without dangling nodes that term is
        # + 0.0, which changes no value: left out). The iterates are kept and the first
        # whose L1 change is under WALK_TOL taken, as for the dense walk
        share, restart, back = graph.share, (1 - WALK_ALPHA) * p, WALK_ALPHA * p
        any_dangling = graph.any_dangling
        xs = np.zeros((WALK_ITERATIONS + 1, n))
        xs[0] = x
        starts = graph.starts
        for k in range(WALK_ITERATIONS):
            prev = xs[k]
            nxt = xs[k + 1]
            if _csr_matvec is not None and starts is not None:
                # scipy's CSR product, row by row in the edges' order from a zero: the sum
                # np.bincount makes, in the same order (so the same values), without the
                # array of products
                _csr_matvec(n, n, starts, dst, share, prev, nxt)
                nxt *= WALK_ALPHA
            else:
                np.multiply(
                    np.bincount(src, weights=share * prev.take(dst), minlength=n),
                    WALK_ALPHA,
                    out=nxt,
                )
            nxt += restart
            if any_dangling:
                nxt += back * prev[dangling].sum()
        change = np.abs(np.diff(xs, axis=0)).sum(axis=1)
        under = np.flatnonzero(change < WALK_TOL)
        x = xs[int(under[0]) + 1 if under.size else WALK_ITERATIONS]
    if len(targets) <= WALK_FEW_TARGETS:
        scores = {t: float(x[index[t]]) if t in index else 0.0 for t in targets}
        top = max(scores.values(), default=0.0)
        return {t: (s / top if top > 0 else 0.0) for t, s in scores.items()}
    # the same in numpy (the same divisions, the same maximum), on the targets' numbers
    # kept with the graph while they are the same targets
    if graph.targets is None or graph.targets[0] != targets:
        names = list(targets)
        at = np.fromiter((index.get(t, n) for t in names), np.int64, len(names))
        graph.targets = (set(targets), names, at)
    _, names, at = graph.targets
    got = np.append(x, 0.0).take(at)
    best = float(got.max()) if len(names) else 0.0
    shares = got / best if best > 0 else np.zeros(len(names))
    return dict(zip(names, shares.tolist(), strict=True))


def rank(topo: Topo | Subgraph, anomalies: Sequence[AnomalyRef], top: int = 5) -> list[RootCause]:
    """Rank root-cause candidates for a group of anomalies; best first, scores in [0, 1].

    ``topo`` is a TopologyStore, or the subgraph around the anomalies (which is all ranking
    reads: the correlator passes the store's 1-hop subgraph).
    """
    if isinstance(topo, Subgraph):
        topo = View(topo)
    ev = _collect(topo, anomalies)
    cands = hypotheses(topo, ev) if ev.strength else _weak_candidates(topo, ev)
    seeds = _seeds(topo, anomalies)

    def walk(targets: set[str]) -> dict[str, float]:
        return _walk(topo, seeds, targets, _walk_graph(topo, seeds, targets, _Parts()))

    return _scored(ev, walk, cands, top)


class GroupRanking:
    """The ranking of one growing group of anomalies, kept between its revisions.

    A correlator ranks an incident again each time symptoms join it, and ranking from
    scratch costs O(group) in evidence and hypotheses at every revision (O(n²) over a storm).
    This keeps both from the last call and updates them with what changed.

    **Invariant** (tested on random sequences, ``tests/unit/analytics/test_rca_incremental.py``):
    ``GroupRanking().rank(topo, xs)`` returns exactly ``rank(topo, xs)`` (the same root
    causes, scores and evidence, bit for bit), whatever calls came before. It holds because:

    - the state is valid for one ``topo`` object and the symptoms of the last call,
      ``_seen`` (each as the fields ranking reads: entity, signal, kind, score, onset; not
      its state); a call whose symptoms do not *extend* them (``_seen`` is a prefix of its
      own), or on another ``topo``, starts again from nothing;
    - the evidence of a sequence is its symptoms folded in order (:func:`_fold`), so the
      evidence of an extension is the last evidence with the new symptoms folded in, the
      very same dictionaries and sets :func:`_collect` would build;
    - hypotheses are kept by key before reroutes (:func:`_hypotheses`): a new symptom on an
      interface (down, errors) changes only the hypotheses of its link and of the devices at
      its link's two ends (:func:`_device_hypotheses` reads a device's own links only), so
      those are made again; any other strong symptom that hypotheses read (reachability, a
      routing daemon, congestion, an end shut down) changes sets that every hypothesis
      reads, and all are made again. Weak symptoms and strong ones on devices or links (not
      interfaces) change no hypothesis. Reroutes are applied to all at every call;
    - the walk's seeds (:class:`_Seeds`: the symptoms' entities and each one's largest
      weight, discounted from the earliest onset) take the new symptoms the same way, and
      are made again when a new symptom is the earliest;
    - the walk's graph (:func:`_walk_graph`) is a function of the topology, the seeds'
      entities and devices, and the candidates: it is kept while those are the same (the
      seeds' sets only grow, so their sizes tell), and made again otherwise from each
      device's part kept for the topology object (:class:`_Parts`), numbered as
      :func:`rank` numbers it, so its arithmetic is the same; the power iteration runs at
      every call;
    - a candidate's fit reads the strength of the symptom keys it predicts or explains (and
      whether a predicted interface runs full: a threshold, no down) and the total: what it
      read of the first (:class:`_Fit`) is kept while the hypothesis is the same object and
      none of those keys took a new strong symptom (a threshold makes all again), and the
      recall is that sum over this call's total, as :func:`rank` computes it;
    - candidates are scored and sorted as :func:`rank` does, by a key under which no two
      candidates tie (:func:`_scored`), so the order they are kept in does not matter;
    - a call whose symptoms, as ranking reads them, are the last call's (a revision that
      only cleared some: a symptom's state is not read) and whose ``top`` is the same
      returns the last result, as copies.

    ``topo`` must answer as a neighbourhood :class:`View` of the symptoms would (an interface
    without a link is unknown), and the same for the object's life and for every
    ``GroupRanking`` after it (the walk's parts are kept by topology object): the correlator
    passes the embedded store's :meth:`~netvigil.graph.memory.MemoryTopology.rank_view`,
    one object per shape of the graph.
    """

    def __init__(self) -> None:
        self._topo: Topo | None = None
        self._seen: list[tuple[str, str, str, float, float]] = []
        self._ev = _Evidence()
        self._hyps: dict[_HypKey, Hypothesis] = {}
        self._devices: set[str] = set()
        self._cut: dict[str, frozenset[str]] = {}
        self._seeds = _Seeds()
        self._graph: _WalkGraph | None = None
        self._stamp: tuple[object, ...] = ()
        self._targets: set[str] = set()
        self._fits = _Fits()
        self._last: tuple[int, list[RootCause]] | None = None

    def rank(self, topo: Topo, anomalies: Sequence[AnomalyRef], top: int = 5) -> list[RootCause]:
        seen = [(a.entity, a.signal, a.kind, a.score, a.onset_ts) for a in anomalies]
        last = self._last
        if last is not None and last[0] == top and topo is self._topo and seen == self._seen:
            # the symptoms as ranking reads them are the last call's (a revision that only
            # cleared some): its result, each root cause a copy (callers may keep them)
            return [msgspec.structs.replace(rc, evidence=list(rc.evidence)) for rc in last[1]]
        try:
            out = self._rank(topo, anomalies, seen, top)
        except BaseException:
            self.__init__()  # type: ignore[misc]  # half updated: the next call starts anew
            raise
        self._last = (top, [msgspec.structs.replace(rc, evidence=list(rc.evidence)) for rc in out])
        return out

    def _rank(
        self,
        topo: Topo,
        anomalies: Sequence[AnomalyRef],
        seen: list[tuple[str, str, str, float, float]],
        top: int,
    ) -> list[RootCause]:
        done = len(self._seen)
        if topo is not self._topo or seen[:done] != self._seen:
            graph = self._graph if topo is self._topo else None  # made of the topology only
            self.__init__()  # type: ignore[misc]
            self._topo, self._graph, done = topo, graph, 0
        self._seen = seen
        ev, has = self._ev, topo.has
        touched: list[str] = []  # interfaces whose down or errors symptoms are new
        changed: set[str] = set()  # the evidence's symptom keys that are new or stronger
        everything = False
        for a in anomalies[done:]:
            if not has(a.entity):
                continue
            _fold(ev, a)
            if a.kind in STRONG_KINDS:
                changed.add(_key(a))
            if a.kind == ADMIN_DOWN or (
                a.kind in STRONG_KINDS
                and (
                    a.signal == "reachability"
                    or a.signal.startswith(PROCESS_PREFIX)
                    or (a.kind == "threshold" and entity_kind(a.entity) == "interface")
                )
            ):
                everything = True
            elif a.kind in ("down", "errors") and entity_kind(a.entity) == "interface":
                touched.append(a.entity)
        if everything or done == 0:
            self._hyps = _hypotheses(topo, ev)
            self._devices = _devices(topo, ev)
            self._cut = _cut_off(topo, ev.unreachable)
        else:
            self._update(topo, touched)
        new = anomalies[done:]
        seeds = self._seeds
        seeds.add(topo, new)
        seeds.seed(new, anomalies)
        parts = _PARTS.get(topo)
        if parts is None:
            parts = _PARTS[topo] = _Parts()

        def walk(targets: set[str]) -> dict[str, float]:
            # the graph is made of the topology, seeds.devices and seeds.seen (which only
            # grow while ``seeds`` is the same object) and the targets: the same, the same
            # graph, without a look at its devices
            stamp = (seeds, len(seeds.devices), len(seeds.seen))
            if self._graph is None or stamp != self._stamp or targets != self._targets:
                self._graph = _walk_graph(topo, seeds, targets, parts, self._graph)
                self._stamp, self._targets = stamp, targets
            return _walk(topo, seeds, targets, self._graph)

        if not ev.strength:
            return _scored(ev, walk, _weak_candidates(topo, ev), top)
        hyps = self._hyps
        if everything or done == 0 or len(self._fits) > 2 * len(hyps):
            self._fits = _Fits()  # of hypotheses made again, or of too many gone
        elif changed:
            self._fits.drop(changed)
        if ev.congested:
            cands = [_with_reroutes(h, ev) for h in hyps.values()]
        else:
            cands = list(hyps.values())  # _with_reroutes changes none
        return _scored(ev, walk, cands, top, self._fits)

    def _update(self, topo: Topo, touched: list[str]) -> None:
        """Make again the hypotheses of the links of ``touched`` and of their ends."""
        ev, hyps = self._ev, self._hyps
        again: set[str] = set()
        for ifid in touched:
            ends = _ends_of(topo, ifid)
            if ifid in ev.down_ifaces:
                self._devices.update(ends)
            again.update(ends)
            link = topo.interface(ifid).link
            if not link:
                continue
            lk = topo.link(link)
            if lk.a_if in ev.down_ifaces or lk.b_if in ev.down_ifaces:
                hyps[("link_down", lk.id)] = _link_down(lk, ev)
            if lk.a_if in ev.lossy or lk.b_if in ev.lossy:
                hyps[("packet_loss", lk.id)] = _packet_loss(lk, ev)
        for dev in sorted(again & self._devices):
            for kind in ("device_down", "routing_down", "linecard"):
                hyps.pop((kind, dev), None)
            hyps.update(_device_hypotheses(topo, ev, dev, self._cut))


@dataclass(frozen=True)
class _Fit:
    """What hypothesis ``h``'s fit reads of the strong evidence (:func:`_scored`), kept by
    ``id(h)`` (``h`` held, so the id is not reused) while the evidence of the symptom keys
    ``h`` predicts or explains is unchanged."""

    h: Hypothesis
    order: tuple[int, str, int]
    """The candidate's place after its score: simplicity, entity, the kind's place."""
    covered: AbstractSet[str]
    explained: float
    """The strength of ``covered``, summed in its order (the recall's numerator)."""
    precision: float


class _Fits(dict[int, _Fit]):
    """Hypotheses' :class:`_Fit` by the hypothesis's id, and which of them read each
    symptom key (what it predicts or explains)."""

    def __init__(self) -> None:
        super().__init__()
        self.readers: dict[str, list[int]] = {}

    def keep(self, f: _Fit) -> None:
        i = id(f.h)
        self[i] = f
        readers = self.readers
        for k in itertools.chain(f.h.predicts, f.h.explains):
            found = readers.get(k)
            if found is None:
                readers[k] = [i]
            else:
                found.append(i)

    def drop(self, keys: Iterable[str]) -> None:
        """Forget the fits that read any of ``keys`` (their evidence changed)."""
        for k in keys:
            for i in self.readers.pop(k, ()):
                self.pop(i, None)


#: the walk graph's parts of each topology object a :class:`GroupRanking` ranked on, shared by
#: its groups (a rank view is made per shape of the graph, so a new shape starts anew)
_PARTS: weakref.WeakKeyDictionary[Topo, _Parts] = weakref.WeakKeyDictionary()

_ORDER = itemgetter(0, 1)


def _scored(
    ev: _Evidence,
    walk_of: Callable[[set[str]], dict[str, float]],
    cands: list[Hypothesis],
    top: int,
    fits: _Fits | None = None,
) -> list[RootCause]:
    """Score the candidates and keep the ``top`` best, one per entity; ``walk_of`` gives
    the walk's scores of a set of entities.

    Sorted by score (to 9 digits), then the simpler hypothesis, the entity, and the kind's
    place among the hypotheses of one entity (a link: down, congestion, loss; a device:
    down, routing down, linecard): no two candidates tie, so the result does not depend on
    the order of ``cands``.

    ``fits``: each hypothesis's :class:`_Fit` from earlier calls on the same evidence
    object, by the hypothesis's id, for a caller that drops those whose keys' evidence
    changed since (:class:`GroupRanking`); the recall is the kept numerator over this
    call's total: the same sum in the same order (``covered`` is made by iterating
    ``predicts`` then ``explains``, so its order depends on them and on which of their keys
    the evidence has, nothing else)."""
    if not cands:
        return []
    strong_total = sum(ev.strength.values())
    walk = walk_of({c.entity for c in cands})
    ranked: Iterable[tuple[float, Hypothesis, Iterable[str]]]
    if strong_total > 0 and len(cands) > SCORE_FEW:
        kept = (fits if fits is not None else _Fits()).get
        fs = [
            f if (f := kept(id(h))) is not None and f.h is h else _fit_of(h, ev, fits)
            for h in cands
        ]
        ranked = _ranked_many(fs, walk, strong_total)
    else:
        ranked = _ranked(ev, walk, cands, strong_total, fits)
    out: list[RootCause] = []
    seen: set[str] = set()
    for score, h, shown in ranked:
        if h.entity in seen:
            continue  # one line per entity: its best hypothesis
        seen.add(h.entity)
        evidence = [f"{h.rule}" if h.rule else "weak evidence only"]
        evidence += [_describe(k, ev) for k in sorted(shown)[:12]]
        out.append(
            RootCause(
                entity=h.entity,
                kind="link" if entity_kind(h.entity) == "link" else "device",
                score=round(min(score, 1.0), 4),
                fault=_FAULT[h.kind],
                evidence=evidence,
            )
        )
        if len(out) >= top:
            break
    return out


def _fit(h: Hypothesis, ev: _Evidence) -> _Fit:
    """What ``h``'s fit reads of the strong evidence (:class:`_Fit`)."""
    strength = ev.strength
    hit = h.predicts & strength.keys()
    if ev.running and h.kind in _PREDICTS_DOWN:
        hit -= ev.running  # a down predicted, the link counted full instead
    covered = hit | (h.explains & strength.keys())
    return _Fit(
        h,
        (_SIMPLER[h.kind], h.entity, _PLACE[h.kind]),
        covered,
        sum(strength[k] for k in covered),
        len(hit) / len(h.predicts) if h.predicts else 0.0,
    )


def _fit_of(h: Hypothesis, ev: _Evidence, fits: _Fits | None) -> _Fit:
    """``h``'s :class:`_Fit`: kept in ``fits`` if there, else made (and kept there)."""
    f = fits.get(id(h)) if fits is not None else None
    if f is None or f.h is not h:
        f = _fit(h, ev)
        if fits is not None:
            fits.keep(f)
    return f


def _ranked(
    ev: _Evidence,
    walk: dict[str, float],
    cands: list[Hypothesis],
    strong_total: float,
    fits: _Fits | None,
) -> list[tuple[float, Hypothesis, Iterable[str]]]:
    """:func:`_scored`'s candidates that fit, each with its score and the symptoms it
    shows, best first."""
    weak_total = sum(ev.weak.values())
    scored: list[tuple[float, tuple[int, str, int], float, Hypothesis, Iterable[str]]] = []
    at = walk.get
    for h in cands:
        shown: Iterable[str]
        if strong_total > 0:
            f = _fit_of(h, ev, fits)
            recall = f.explained / strong_total
            precision = f.precision
            fit = 2 * recall * precision / (recall + precision) if recall and precision else 0.0
            if fit <= 0:
                continue
            score = W_RULE * fit + W_WALK * at(h.entity, 0.0)
            scored.append((-round(score, 9), f.order, score, h, f.covered))
            continue
        near = {e: w for e, w in ev.weak.items() if h.entity in (e, *entity_devices(e))}
        fit = sum(near.values()) / weak_total if weak_total else 0.0
        shown = near
        if fit <= 0:
            continue
        score = W_RULE * fit + W_WALK * at(h.entity, 0.0)
        order = (_SIMPLER[h.kind], h.entity, _PLACE[h.kind])
        scored.append((-round(score, 9), order, score, h, shown))
    scored.sort(key=_ORDER)
    return [(score, h, shown) for _, _, score, h, shown in scored]


def _ranked_many(
    fs: list[_Fit], walk: dict[str, float], strong_total: float
) -> Iterator[tuple[float, Hypothesis, Iterable[str]]]:
    """:func:`_ranked` on strong evidence, of the candidates' fits ``fs``, in numpy: the
    same operations on the same doubles (the recall, the harmonic mean, the weighted sum,
    each one IEEE operation as in Python), so the same scores; sorted by score, then each
    run of candidates of one score to 9 digits (neighbours in that order: rounding is
    monotone) by their place, rounded only as far as the caller reads (the ``top``
    best)."""
    at = walk.get
    recall = np.array([f.explained for f in fs]) / strong_total
    precision = np.array([f.precision for f in fs])
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 / 0 where both are 0: dropped
        fit = 2 * recall * precision / (recall + precision)
    live = np.flatnonzero((recall != 0) & (precision != 0) & (fit > 0))
    fitted = [fs[i] for i in live.tolist()]
    walked = np.array([at(f.h.entity, 0.0) for f in fitted])
    score = W_RULE * fit[live] + W_WALK * walked
    scores = score.tolist()
    by = np.argsort(-score, kind="stable").tolist()
    i, n = 0, len(by)
    while i < n:
        r = round(scores[by[i]], 9)
        j = i + 1
        while j < n and round(scores[by[j]], 9) == r:
            j += 1
        run = by[i:j] if j == i + 1 else sorted(by[i:j], key=lambda c: fitted[c].order)
        for c in run:
            yield scores[c], fitted[c].h, fitted[c].covered
        i = j


def _describe(k: str, ev: _Evidence) -> str:
    if k.endswith("|reach"):
        return f"{k.removesuffix('|reach')} unreachable"
    if k.endswith("|routing"):
        return f"{k.removesuffix('|routing')} routing daemon down"
    if k in ev.strength:
        return f"{k} {ev.kind[k]} ({ev.strength[k]:.2f})"
    return f"{k} deviation ({ev.weak.get(k, 0.0):.2f})"
