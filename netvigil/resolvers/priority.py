"""Which incident is worked on first: severity x impact x confidence, and the facts of its
root cause that the catalog and the policy need.

Impact is the blast radius on the topology graph: the devices the incident names as affected
plus every device within one hop of the root cause (whose traffic a fault or a change there
moves). The score grows with the logarithm of the radius so that one huge incident does not
starve every other forever, and ties go to the older incident.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

from netvigil.events import Incident, split_interface_id
from netvigil.graph.base import TopologyStore, entity_devices
from netvigil.resolvers.catalog import Facts

__all__ = ["SEVERITY_WEIGHT", "IncidentQueue", "blast_radius", "facts_of", "score"]

SEVERITY_WEIGHT: dict[str, float] = {
    "critical": 1.0,
    "major": 0.7,
    "minor": 0.4,
    "warning": 0.2,
    "info": 0.1,
}


def blast_radius(topo: TopologyStore, incident: Incident) -> int:
    """Devices affected: the incident's impact plus the root cause's one-hop neighbourhood."""
    devices: set[str] = set()
    for entity in incident.impact:
        devices.update(d for d in entity_devices(entity) if topo.has(d))
    rc = incident.root_cause
    if rc is not None:
        near = {d for d in entity_devices(rc.entity) if topo.has(d)}
        devices |= topo.k_hop(near, 1) if near else set()
    return len(devices)


def score(incident: Incident, radius: int) -> float:
    rc = incident.root_cause
    confidence = rc.score if rc is not None else 0.1
    return SEVERITY_WEIGHT.get(incident.severity, 0.1) * math.log2(2 + radius) * confidence


@dataclass(order=True)
class _Entry:
    neg_score: float
    opened_ts: float
    fingerprint: str = field(compare=True)


class IncidentQueue:
    """A priority queue of incidents waiting for an action; re-pushing updates the score."""

    def __init__(self) -> None:
        self._heap: list[_Entry] = []
        self._live: dict[str, _Entry] = {}

    def push(self, fingerprint: str, priority: float, opened_ts: float) -> None:
        entry = _Entry(-priority, opened_ts, fingerprint)
        self._live[fingerprint] = entry
        heapq.heappush(self._heap, entry)

    def discard(self, fingerprint: str) -> None:
        self._live.pop(fingerprint, None)

    def pop(self) -> str | None:
        while self._heap:
            entry = heapq.heappop(self._heap)
            if self._live.get(entry.fingerprint) is entry:
                del self._live[entry.fingerprint]
                return entry.fingerprint
        return None

    def __contains__(self, fingerprint: object) -> bool:
        return fingerprint in self._live

    def __len__(self) -> int:
        return len(self._live)

    def order(self) -> list[str]:
        """The waiting incidents, highest priority first (for inspection)."""
        return [e.fingerprint for e in sorted(self._live.values())]


def facts_of(topo: TopologyStore, incident: Incident, metric_of: dict[str, int]) -> Facts | None:
    """What the catalog needs to know about the incident's root cause; None if it has none.

    ``metric_of`` gives the current IGP metric of a link (the twin's, or the topology's).
    """
    rc = incident.root_cause
    if rc is None:
        return None
    unreachable = frozenset(
        a.entity for a in incident.anomalies if a.kind == "unreachable" and a.state == "active"
    )
    if rc.kind != "link" or not topo.has(rc.entity):
        devices = entity_devices(rc.entity)
        return Facts(
            target=rc.entity,
            fault=rc.fault,
            confidence=rc.score,
            a=devices[0],
            unreachable=unreachable & set(devices),
        )
    link = topo.link(rc.entity)
    ends = {link.a_if, link.b_if}
    src_if = next(
        (
            a.entity
            for a in incident.anomalies
            if a.entity in ends and a.signal == "if.out_util" and a.state == "active"
        ),
        link.a_if,
    )
    down = any(
        a.entity in ends and a.signal == "if.oper_status" and a.state == "active"
        for a in incident.anomalies
    )
    src, src_ifname = split_interface_id(src_if)
    return Facts(
        target=link.id,
        fault=rc.fault,
        confidence=rc.score,
        a=link.a,
        b=link.b,
        a_if=split_interface_id(link.a_if)[1],
        b_if=split_interface_id(link.b_if)[1],
        src=src,
        src_if=src_ifname,
        orig_metric=metric_of.get(link.id, link.igp_metric),
        link_up=not down and rc.fault != "down",
        unreachable=unreachable & {link.a, link.b},
    )
