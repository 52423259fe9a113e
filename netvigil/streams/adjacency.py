"""The routing adjacency processor: IGP adjacency changes in, ``down`` anomalies out.

A router that stops routing over a link while the link stays up (its routing daemon crashed,
an MTU mismatch holds the adjacency in ExStart, a misconfigured area or timer) moves traffic
but downs no interface: oper-status polls and link traps stay green. What says so is the
routing protocol: its neighbours log the adjacency leaving Full (``OSPF-5-ADJCHG``, Junos
``RPD_OSPF_NBRDOWN``, FRRouting ``AdjChg``; see the syslog collector's ``mnemonics.yaml``),
which become ``ospf_down`` / ``ospf_up`` device events on ``netvigil.events``.

Each interface's adjacency is a status series: ``ospf_down`` opens a ``down`` anomaly on the
interface (signal ``routing.ospf``; a strong symptom, like the interface going down),
``ospf_up`` clears it; a repeated change in the same direction is no transition. Events that
name no interface (only a neighbour address) cannot be placed on the topology and are left
to the log analytics.

An interface an operator shut down (``admin_down``: a linkDown trap whose ifAdminStatus is
down) is not a symptom, but it tells root-cause ranking that the interface is down by intent
and will not be seen down by polls (which skip it): it becomes an ``admin_down`` anomaly
(weak: it never opens an incident), cleared by the interface's next ``link_up``. State per
device: the interfaces whose adjacency (or administrative state) is down.

A routing daemon that dies is also said by the router itself: FRRouting's zebra logs its
client disconnected and the routes it removed (``routing_process_down``, see
``mnemonics.yaml``), and the client's hello when it is back (``routing_process_up``). That
becomes a ``down`` anomaly on the *device* (signal ``routing.process.<protocol>``: one series
per daemon, ``ospf``, ``bgp``, ...), which root-cause
ranking reads as the device's own word that its routing stopped (``device routing_down``),
where the neighbours' adjacency logs alone fit a link's adjacency as well (a router with one
link) or may be missing (a neighbour's log lost).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from netvigil.events import Anomaly, DeviceEvent, Event
from netvigil.streams.base import Processor

__all__ = ["ADJACENCY_EVENTS", "DEVICE_EVENTS", "AdjacencyProcessor", "AdjacencyState"]

#: device event kind -> (signal, back up?, anomaly kind)
ADJACENCY_EVENTS: dict[str, tuple[str, bool, str]] = {
    "ospf_down": ("routing.ospf", False, "down"),
    "ospf_up": ("routing.ospf", True, "down"),
    "admin_down": ("if.admin_status", False, "admin_down"),
    "link_up": ("if.admin_status", True, "admin_down"),
    "routing_process_down": ("routing.process", False, "down"),
    "routing_process_up": ("routing.process", True, "down"),
}
#: events about the device itself (its entity is the device, whatever the event names)
DEVICE_EVENTS = frozenset({"routing_process_down", "routing_process_up"})


@dataclass
class AdjacencyState:
    down: dict[str, float] = field(default_factory=dict)
    """``entity|signal`` -> onset of the adjacency that is down."""


class AdjacencyProcessor(Processor[AdjacencyState]):
    name = "adjacency"
    inputs = ("netvigil.events",)
    outputs = ("netvigil.anomalies",)

    def new_state(self) -> AdjacencyState:
        return AdjacencyState()

    async def process(self, event: Event, state: AdjacencyState) -> Sequence[Event]:
        if not isinstance(event, DeviceEvent) or event.kind not in ADJACENCY_EVENTS:
            return []
        entity = event.device if event.kind in DEVICE_EVENTS else event.entity
        if entity != event.device and ":" not in entity:  # a neighbour address
            return []
        signal, up, kind = ADJACENCY_EVENTS[event.kind]
        if event.kind in DEVICE_EVENTS:
            signal = f"{signal}.{event.attrs.get('protocol', 'unknown')}"
        key = f"{entity}|{signal}"
        onset = state.down.get(key)
        if up == (onset is None):
            return []  # no change: already up (or already down)
        if up:
            del state.down[key]
        else:
            onset = state.down[key] = event.ts
        evidence = {
            k: v for k, v in event.attrs.items() if k in ("neighbor", "state", "reason", "protocol")
        }
        return [
            Anomaly(
                ts=event.ts,
                device=event.device,
                entity=entity,
                signal=signal,
                kind=kind,
                score=0.0 if up else 1.0,
                state="cleared" if up else "active",
                onset_ts=onset,
                value=1.0 if up else 0.0,
                expected=1.0,
                detector="events:adjacency",
                evidence=evidence,
            )
        ]
