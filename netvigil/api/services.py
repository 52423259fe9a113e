"""The services the network carries, with their SLOs' live state, for the console.

Services come from the topology store (``Service`` nodes: the links they traverse, the devices
they run on or are served from); SLOs from the settings. Their state is what the SLO
processor last published: a :class:`SloBoard` listens to ``netvigil.anomalies`` and keeps the
last ``slo_burn`` anomaly of each SLO (fixed memory: one entry per SLO), so the page works the
same on either runtime, wherever the processor runs in this process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from netvigil.analytics.slo import SLO
from netvigil.api.schemas import ServiceOut, SloOut
from netvigil.events import Anomaly, Event, Incident
from netvigil.graph.base import TopologyStore

__all__ = ["SloBoard", "services_view"]


@dataclass
class SloBoard:
    """The last burn-rate state of every SLO, from the anomalies topic."""

    last: dict[str, Anomaly] = field(default_factory=dict)
    """``service:kind`` -> the last slo_burn anomaly (active or cleared)."""

    def observe(self, topic: str, event: Event) -> None:
        if isinstance(event, Anomaly) and event.kind == "slo_burn":
            kind = event.signal.removeprefix("slo.")
            self.last[f"{event.entity}:{kind}"] = event


def _slo_out(slo: SLO, board: SloBoard) -> SloOut:
    key = f"{slo.service}:{slo.kind}"
    a = board.last.get(key)
    status, burn, remaining = "no alert yet", 0.0, None
    if a is not None:
        burning = a.state == "active"
        status = (a.evidence.get("severity") or "ticket") if burning else "ok"
        burn = (a.value or 0.0) if burning else 0.0
        if left := a.evidence.get("budget_remaining"):
            remaining = float(left)
    return SloOut(
        key=key,
        kind=slo.kind,
        objective=slo.objective,
        latency_ms=slo.latency_ms,
        window_s=slo.window_s,
        status=status,
        burn=burn,
        budget_remaining=remaining,
        updated_ts=a.ts if a is not None else None,
    )


def services_view(
    topo: TopologyStore, slos: Sequence[SLO], board: SloBoard, open_incidents: Sequence[Incident]
) -> list[ServiceOut]:
    """Every service of the topology, and any with an SLO but no node, sorted by name."""
    nodes = {s.name: s for s in topo.services()}
    names = sorted(set(nodes) | {s.service for s in slos})
    out = []
    for name in names:
        node = nodes.get(name)
        out.append(
            ServiceOut(
                name=name,
                kind=node.kind if node else "",
                in_topology=node is not None,
                links=list(node.links) if node else [],
                devices=list(node.devices) if node else [],
                props=dict(node.props) if node else {},
                slos=[_slo_out(s, board) for s in slos if s.service == name],
                incidents=[i.fingerprint for i in open_incidents if name in i.services],
            )
        )
    return out
