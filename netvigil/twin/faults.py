"""Faults the twin can inject, with ground-truth labels, and a deterministic schedule.

Faults: ``link_down``, ``congestion`` (a demand surge pinned to one direction of a link),
``node_down``, ``linecard`` (several links of one device fail together while the device stays
up; the root cause is the device), ``flap`` (a link that goes down and up again every
:data:`FLAP_PERIOD_S`; the root cause is the link) and ``packet_loss`` (a link that drops or
corrupts a share of its frames, ``magnitude``, both ways: the receiving interfaces count
input errors, and services whose path crosses it see failed transactions) and ``error_ramp``
(a degrading optic or cable: the share of frames it corrupts, counted as input errors, rises
linearly from nothing at ``start`` to ``magnitude`` at ``end``; below a small share nobody is
hurt, past it services crossing the link lose transactions). Three faults leave
every interface up and change only routing, as the lab's real routers show them:
``routing_crash`` (a device's routing daemon dies: its neighbours lose their adjacencies
with it and route around it, its own traffic has no route; the root cause is the device),
``mtu_mismatch`` (the link's adjacency cannot form: traffic moves off it) and
``cost_misconfig`` (the link's IGP metric raised to :data:`MISCONFIG_METRIC`: traffic moves,
and may congest another link). Benign anomalies
are not faults: a ``cpu_spike`` on a device and a ``traffic_burst`` (a surge that stays below
congestion) on a link; they are injected beside the faults so that RCA is judged on telling
them apart, and they never count as ground truth. Two more benign kinds exercise prevention
and feedback: a ``stalled_ramp`` (demand that grows like a growth ramp, then stops growing
below congestion: a prediction of saturation that does not come true) and a
``scheduled_burst`` (a known bulk transfer that fills a link for a while, the same time every
day: operators do not want an incident for it). ``stalled_errors`` is to ``error_ramp`` what
a stalled ramp is to a growth ramp: the share of frames a link corrupts rises, then stops
below the share that hurts anyone (a prediction of harm that does not come true).
``poller_overload`` (most devices' polls time out at once) and ``poll_timeouts`` (a device's
poll times out now and then, alone: :mod:`netvigil.twin.poller`) are the monitoring's own
noise: nothing in the network changes. A congestion whose sender does not answer
(``sender_answers`` False) is the lab's form of one: the sending router's polls time out while
it fills the link, so only the far end's received utilization shows it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from netvigil.graph.base import TopologyStore

__all__ = [
    "BENIGN_KINDS",
    "ERROR_RAMP_SHARE",
    "FAULT_KINDS",
    "FLAP_DOWN_S",
    "FLAP_PERIOD_S",
    "LOSS_KINDS",
    "MISCONFIG_METRIC",
    "PACKET_LOSS_SHARE",
    "POLLER_OVERLOAD_SHARE",
    "POLL_TIMEOUT_AGAIN",
    "POLL_TIMEOUT_SHARE",
    "SURGE_KINDS",
    "Fault",
    "schedule_benign",
    "schedule_faults",
]

#: fault kind -> kind of entity its root cause is
FAULT_KINDS: dict[str, str] = {
    "link_down": "link",
    "congestion": "link",
    "node_down": "device",
    "growth_ramp": "link",
    "linecard": "device",
    "flap": "link",
    "packet_loss": "link",
    "error_ramp": "link",
    "routing_crash": "device",
    "mtu_mismatch": "link",
    "cost_misconfig": "link",
}
#: the IGP metric a ``cost_misconfig`` puts on its link (both ends)
MISCONFIG_METRIC = 1000
#: share of frames a ``packet_loss`` fault loses when the schedule does not say (a degraded
#: optic or a dirty fibre: a few per cent, well below what takes a link down)
PACKET_LOSS_SHARE = 0.03
#: share of frames an ``error_ramp`` corrupts at its end when the schedule does not say: over a
#: two-hour ramp it passes the default harm share of the error trend (0.1 %,
#: ``netvigil.streams.forecast.ERROR_HARM_SHARE``) at 40 minutes
ERROR_RAMP_SHARE = 0.003
#: fault kinds whose link loses (and counts) a share of its frames (see :meth:`Fault.loss`)
LOSS_KINDS = frozenset({"packet_loss", "error_ramp", "stalled_errors"})
#: benign anomaly kind -> kind of entity it happens on (not faults: no root cause to find)
BENIGN_KINDS: dict[str, str] = {
    "cpu_spike": "device",
    "traffic_burst": "link",
    "stalled_ramp": "link",
    "scheduled_burst": "link",
    "stalled_errors": "link",
    "poller_overload": "device",
    "poll_timeouts": "device",
}
#: share of the devices whose polls time out while the poller is overloaded
#: (``poller_overload``: the monitoring's own health, nothing in the network changes)
POLLER_OVERLOAD_SHARE = 0.7
#: ``poll_timeouts`` (benign, the monitoring's own noise: single devices' polls time out now
#: and then while they and the network are fine): the share of polls that time out when the
#: schedule does not say, and the chance that a device whose poll timed out times out again
#: at the next poll. Both as measured on the lab's NSFNET run of 2026-12-07 (13 routers, 10 s
#: polls, load 15-23): 39 unreachable verdicts on fine routers in 3,400 polls, 4 of them
#: longer than one poll. They describe the lab's loaded machine; no score was tuned on them.
POLL_TIMEOUT_SHARE = 0.011
POLL_TIMEOUT_AGAIN = 0.1
#: kinds that add demand pinned to one link direction (see :meth:`Fault.surge`)
SURGE_KINDS = frozenset(
    {"congestion", "growth_ramp", "traffic_burst", "stalled_ramp", "scheduled_burst"}
)
#: a scheduled fault's magnitude by kind (else 1.3: a surge of 1.3x the link's capacity)
_MAGNITUDE = {"packet_loss": PACKET_LOSS_SHARE, "error_ramp": ERROR_RAMP_SHARE}
#: a flapping link is down for FLAP_DOWN_S at the start of every FLAP_PERIOD_S
FLAP_PERIOD_S = 60.0
FLAP_DOWN_S = 20.0


@dataclass(frozen=True)
class Fault:
    """One injected fault: what, where (the true root cause), and when (simulated time)."""

    kind: str
    target: str
    start: float
    end: float
    magnitude: float = 1.0
    """For congestion: extra demand as a multiple of the link's capacity. For a growth ramp:
    the extra demand reached at ``end``, growing linearly from 0 at ``start``."""
    direction: str = ""
    """For congestion: the device the surge leaves from (traffic flows away from it). For a
    link going down (``link_down``, ``flap``): the end shut down administratively, if one
    was (else both ends fail)."""
    links: tuple[str, ...] = ()
    """For a linecard failure: the links of ``target`` that go down."""
    counted: bool = True
    """For packet loss: the receiving interfaces count the lost frames as input errors (a
    dirty fibre, a failing optic). False: nothing counts them (a drop inside a router or a
    transport circuit): no counter shows the loss."""
    flap_period_s: float = FLAP_PERIOD_S
    """For a flapping link: down for ``flap_down_s`` at the start of every period."""
    flap_down_s: float = FLAP_DOWN_S
    sender_answers: bool = True
    """For congestion: False, the sending device's agent does not answer its polls while the
    surge lasts (the lab's Marnet morning run: the congested link's sender unreachable while
    its far end counted the link full; why its agent did not answer is not known): it is
    reported unreachable after ``down_after`` failed polls, its polled metrics are lost, what
    it pushes still arrives, and it forwards as before."""

    def loss(self, t: float) -> float:
        """The share of frames this fault loses on its link at ``t`` (0 for other kinds): an
        error ramp's grows linearly from 0 at ``start`` to ``magnitude`` at ``end``; stalled
        errors grow the same way over the first half of the window to ``magnitude``, then
        hold."""
        if self.kind not in LOSS_KINDS or not self.active(t):
            return 0.0
        span = max(self.end - self.start, 1e-9)
        if self.kind == "error_ramp":
            return self.magnitude * min(max((t - self.start) / span, 0.0), 1.0)
        if self.kind == "stalled_errors":
            return self.magnitude * min(max(2 * (t - self.start) / span, 0.0), 1.0)
        return self.magnitude

    def active(self, t: float) -> bool:
        return self.start <= t < self.end

    def surge(self, t: float) -> float:
        """The extra demand this fault pins to its link direction at ``t``, as a share of the
        link's capacity: a growth ramp rises linearly from 0 to ``magnitude`` over its window;
        a stalled ramp rises the same way over the first half of its window and then holds;
        other surges add ``magnitude`` while active."""
        if self.kind not in SURGE_KINDS or not self.active(t):
            return 0.0
        span = max(self.end - self.start, 1e-9)
        if self.kind == "growth_ramp":
            return self.magnitude * min(max((t - self.start) / span, 0.0), 1.0)
        if self.kind == "stalled_ramp":
            return self.magnitude * min(max(2 * (t - self.start) / span, 0.0), 1.0)
        return self.magnitude

    @property
    def benign(self) -> bool:
        """A benign anomaly, not a fault: nothing to find, nothing to open an incident for."""
        return self.kind in BENIGN_KINDS

    def links_down(self, t: float, since: float | None = None) -> tuple[str, ...]:
        """The links this fault holds down at ``t`` (node faults are handled by the network);
        with ``since``, a flapping link down at any time in ``(since, t]`` too: a router
        reports a link that went down and came back between two samples at once (its trap,
        its log), so a flap shorter than the sampling step is seen, as on real routers."""
        if self.kind == "flap" and since is not None and since < t:
            return (self.target,) if self._flapped(since, t) else ()
        if not self.active(t):
            return ()
        if self.kind == "link_down":
            return (self.target,)
        if self.kind == "linecard":
            return self.links
        if self.kind == "flap" and (t - self.start) % self.flap_period_s < self.flap_down_s:
            return (self.target,)
        return ()

    def _flapped(self, since: float, t: float) -> bool:
        """Whether a down spell of this flap overlaps ``(since, t]``."""
        lo, hi = max(since, self.start), min(t, self.end)
        if hi < lo or (hi == lo and not self.active(hi)):
            return False
        k = math.floor((lo - self.start) / self.flap_period_s)
        while (w0 := self.start + k * self.flap_period_s) <= hi:
            if w0 < self.end and w0 + self.flap_down_s > lo:
                return True
            k += 1
        return False


def schedule_faults(
    topo: TopologyStore,
    *,
    kinds: Sequence[str],
    count: int,
    first: float,
    interval: float,
    duration: float,
    seed: int,
) -> list[Fault]:
    """``count`` faults, rotating through ``kinds``, one every ``interval`` from ``first``.

    Targets are drawn with ``seed``; a target is not reused until every candidate was used.
    Node faults avoid devices whose loss would disconnect the rest (the twin keeps routing).
    """
    unknown = set(kinds) - set(FAULT_KINDS)
    if unknown:
        raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {sorted(FAULT_KINDS)}")
    rng = random.Random(seed)
    links = sorted(link.id for link in topo.links())
    devices = sorted(d.name for d in topo.devices() if len(topo.neighbors(d.name)) > 1)
    # a linecard takes at least two links and leaves at least one up
    linecard_devices = [d for d in devices if len(topo.links_of(d)) >= 3]
    pools: dict[str, list[str]] = {}
    faults = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        if kind == "linecard":
            candidates = linecard_devices or devices
        else:
            candidates = links if FAULT_KINDS[kind] == "link" else devices
        pool = pools.get(kind)
        if not pool:
            pool = pools[kind] = rng.sample(candidates, len(candidates))
        target = pool.pop()
        start = first + i * interval
        direction = ""
        card: tuple[str, ...] = ()
        if kind in ("congestion", "growth_ramp"):
            link = topo.link(target)
            direction = rng.choice((link.a, link.b))
        elif kind == "linecard":
            own = sorted(lk.id for lk in topo.links_of(target))
            size = rng.randint(2, max(2, min(4, len(own) - 1)))
            card = tuple(sorted(rng.sample(own, min(size, len(own)))))
        faults.append(
            Fault(
                kind,
                target,
                start,
                start + duration,
                magnitude=_MAGNITUDE.get(kind, 1.3),
                direction=direction,
                links=card,
            )
        )
    return faults


def schedule_benign(
    topo: TopologyStore,
    *,
    count: int,
    first: float,
    last: float,
    duration: float,
    seed: int,
) -> list[Fault]:
    """``count`` benign anomalies at random times in ``[first, last)``, on random targets.

    Half are CPU spikes on a device, half traffic bursts on one direction of a link that stay
    below congestion; their times are independent of the faults', so some overlap a fault.
    """
    rng = random.Random(seed ^ 0x5EED)
    links = sorted(link.id for link in topo.links())
    devices = sorted(d.name for d in topo.devices())
    out = []
    for i in range(count):
        start = rng.uniform(first, max(first, last - duration))
        if i % 2 == 0 and devices:
            out.append(Fault("cpu_spike", rng.choice(devices), start, start + duration, 40.0))
        elif links:
            link = topo.link(rng.choice(links))
            out.append(
                Fault(
                    "traffic_burst",
                    link.id,
                    start,
                    start + duration,
                    magnitude=0.2,
                    direction=rng.choice((link.a, link.b)),
                )
            )
    return sorted(out, key=lambda f: f.start)
