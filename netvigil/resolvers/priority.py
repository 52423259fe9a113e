"""Which work comes first, incidents and risks in one queue: severity x impact x
confidence x urgency, and the facts of a root cause that the catalog and the policy need.

Impact is the blast radius on the topology graph (the devices the incident names as affected
plus every device within one hop of the root cause, whose traffic a fault or a change there
moves) and the services hurt: the score grows with the logarithm of the radius, so that one
huge incident does not starve every other forever, and by a quarter per service hurt. Urgency
is 1 for an incident (the harm is here) and ``1 / (1 + time to impact / 30 min)`` for a risk
(a predicted harm): a risk due in 30 minutes weighs half an incident of the same severity and
impact, one due in a few minutes almost as much. Ties go to the older item.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

from netvigil.events import Incident, split_interface_id
from netvigil.graph.base import Link, TopologyStore, entity_devices
from netvigil.resolvers.catalog import Facts

__all__ = [
    "SEVERITY_WEIGHT",
    "IncidentQueue",
    "blast_radius",
    "factors",
    "facts_of",
    "priority",
    "product",
    "score",
]

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


#: time to impact at which a risk weighs half an incident of the same severity and impact
URGENCY_S = 1800.0
#: weight added per service hurt
SERVICE_WEIGHT = 0.25


def factors(
    severity: str, radius: int, confidence: float, *, services: int = 0, tti_s: float = 0.0
) -> dict[str, float]:
    """The factors of a priority, as the decision record shows them."""
    return {
        "severity": SEVERITY_WEIGHT.get(severity, 0.1),
        "impact": math.log2(2 + radius) * (1 + SERVICE_WEIGHT * services),
        "confidence": confidence,
        "urgency": 1.0 / (1.0 + max(tti_s, 0.0) / URGENCY_S),
    }


def product(f: dict[str, float]) -> float:
    """The priority the factors of :func:`factors` give."""
    return f["severity"] * f["impact"] * f["confidence"] * f["urgency"]


def priority(
    severity: str, radius: int, confidence: float, *, services: int = 0, tti_s: float = 0.0
) -> float:
    """Severity x impact (radius, services) x confidence x urgency (see the module doc)."""
    return product(factors(severity, radius, confidence, services=services, tti_s=tti_s))


def score(incident: Incident, radius: int) -> float:
    rc = incident.root_cause
    confidence = rc.score if rc is not None else 0.1
    return priority(incident.severity, radius, confidence, services=len(incident.services))


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

    def scored(self) -> list[tuple[str, float]]:
        """The waiting items with their priorities, highest first."""
        return [(e.fingerprint, -e.neg_score) for e in sorted(self._live.values())]


def _congested_source(incident: Incident, link: Link) -> str | None:
    """The end a congested direction of ``link`` leaves from: the end whose sent share is
    over the threshold, else the far end of the one whose received share is (its agent alone
    answered); None if neither says."""
    ends = {link.a_if, link.b_if}
    hot = [a for a in incident.anomalies if a.entity in ends and a.state == "active"]
    for a in hot:
        if a.signal == "if.out_util":
            return a.entity
    for a in hot:
        if a.signal == "if.in_util" and a.kind == "threshold":
            return link.b_if if a.entity == link.a_if else link.a_if
    return None


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
    src_if = _congested_source(incident, link) or link.a_if
    down = any(
        a.entity in ends and a.signal == "if.oper_status" and a.state == "active"
        for a in incident.anomalies
    )
    return link_facts(
        link,
        src_if,
        fault=rc.fault,
        confidence=rc.score,
        metric_of=metric_of,
        link_up=not down and rc.fault != "down",
        unreachable=unreachable & {link.a, link.b},
    )


def link_facts(
    link: Link,
    src_if: str,
    *,
    fault: str,
    confidence: float,
    metric_of: dict[str, int],
    link_up: bool = True,
    unreachable: frozenset[str] = frozenset(),
) -> Facts:
    """The facts of a link whose direction leaving interface ``src_if`` is at issue."""
    src, src_ifname = split_interface_id(src_if)
    return Facts(
        target=link.id,
        fault=fault,
        confidence=confidence,
        a=link.a,
        b=link.b,
        a_if=split_interface_id(link.a_if)[1],
        b_if=split_interface_id(link.b_if)[1],
        src=src,
        src_if=src_ifname,
        orig_metric=metric_of.get(link.id, link.igp_metric),
        link_up=link_up,
        unreachable=unreachable,
    )
