"""The risk processor: predictions in, risks (predicted harms with a time to impact) out.

It reads ``netvigil.anomalies`` with their natural key (the device) and turns predictions into
:class:`~netvigil.events.Risk` events on ``netvigil.risks``:

- a ``predicted_congestion`` anomaly (the forecaster's, with ``forecast.predicted_ts``) opens a
  congestion risk on the interface: the harm is its link saturating, the entities hurt are
  the link, its interfaces and devices, and the services whose path crosses the link;
- a ``predicted_errors`` anomaly (the error trend's, same forecast) opens a link-errors risk
  on the interface: the harm is the link corrupting enough frames to fail the transactions
  of services crossing it (the same entities and services as a congestion risk); it
  materializes when the forecaster says the share crossed the harm share (the cleared
  anomaly's evidence ``crossed``);
- an ``slo_burn`` anomaly whose evidence says when the error budget runs out at the current
  burn (``exhausted_in_s``) opens an SLO-budget risk on the service.

A risk is revised when its predicted time moves by more than ``revise_s``, ``materialized``
when the harm came (a ``threshold`` anomaly on the predicted interface, or the budget spent),
and ``cleared`` when the prediction no longer holds. A prediction that comes back within
``linger_s`` of clearing (a forecast flapping around its horizon, or a trend a preemptive
change flattened for a while) reopens the same risk rather than a new one: it is the same
predicted harm. Confidence is how narrow the forecast's
uncertainty is relative to its lead: ``lead / (lead + uncertainty)``.

Only the analytics' view is here; whether a risk was right (the harm came, or would have
without a preemptive change) is judged by the resolvers (:mod:`netvigil.resolvers.prevention`).
Event time only: replaying the anomalies gives the same risks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec

from netvigil.errors import TopologyError
from netvigil.events import Anomaly, Event, Risk
from netvigil.graph.aio import AsyncTopology
from netvigil.graph.base import TopologyStore
from netvigil.streams.base import Processor

__all__ = ["RiskProcessor", "RiskState"]

#: anomaly kinds that are predictions of harm
PREDICTION_KINDS = frozenset({"predicted_congestion", "predicted_errors", "slo_burn"})
#: risk kind of each forecast anomaly kind
_RISK_KIND = {"predicted_congestion": "congestion", "predicted_errors": "link_errors"}


@dataclass
class RiskState:
    """One device's open risks by ``entity|signal``."""

    open: dict[str, Risk] = field(default_factory=dict)
    cleared: dict[str, Risk] = field(default_factory=dict)
    """Risks cleared within ``linger_s``, which a returning prediction reopens."""


def _risk_id(entity: str, signal: str, onset: float) -> str:
    return "risk-" + hashlib.sha1(f"{entity}|{signal}|{onset:.3f}".encode()).hexdigest()[:14]


def _confidence(lead_s: float, uncertainty_s: float) -> float:
    if lead_s <= 0:
        return 0.99
    return round(min(0.99, max(0.05, lead_s / (lead_s + max(uncertainty_s, 0.0)))), 3)


class RiskProcessor(Processor[RiskState]):
    name = "risks"
    inputs = ("netvigil.anomalies",)
    outputs = ("netvigil.risks",)

    def __init__(
        self, topo: TopologyStore, *, revise_s: float = 300.0, linger_s: float = 1800.0
    ) -> None:
        self.topo = topo
        self.aio = AsyncTopology(topo)
        self.revise_s = revise_s
        self.linger_s = linger_s

    def new_state(self) -> RiskState:
        return RiskState()

    async def process(self, event: Event, state: RiskState) -> Sequence[Event]:
        if not isinstance(event, Anomaly):
            return []
        key = f"{event.entity}|{event.signal}"
        if event.kind == "threshold" and event.state == "active":
            return self._materialize(key, event, state)
        if event.kind not in PREDICTION_KINDS:
            return []
        if event.kind == "slo_burn":
            return await self._slo(key, event, state)
        if event.state == "cleared" and "crossed" in event.evidence:
            return self._close(
                key, event.ts, state, "materialized", f"error share {event.evidence['crossed']}"
            )
        if event.state == "cleared" or event.forecast is None:
            return self._close(key, event.ts, state, "cleared", "the prediction no longer holds")
        f = event.forecast
        return await self._open_or_revise(
            key,
            event,
            state,
            kind=_RISK_KIND[event.kind],
            predicted_ts=f.predicted_ts,
            confidence=_confidence(f.lead_time_s, f.uncertainty_s),
            threshold=f.threshold,
            uncertainty_s=f.uncertainty_s,
        )

    async def _slo(self, key: str, event: Anomaly, state: RiskState) -> list[Event]:
        left = float(event.evidence.get("budget_remaining", "1") or 1)
        exhausted_in = event.evidence.get("exhausted_in_s", "")
        if event.state == "cleared":
            return self._close(key, event.ts, state, "cleared", "the budget stopped burning")
        if left <= 0:
            return self._materialize(key, event, state)
        if not exhausted_in:
            return []
        return await self._open_or_revise(
            key,
            event,
            state,
            kind="slo_budget",
            predicted_ts=event.ts + float(exhausted_in),
            confidence=round(min(0.99, max(0.05, event.score)), 3),
            threshold=0.0,
            uncertainty_s=0.0,
        )

    async def _open_or_revise(
        self,
        key: str,
        event: Anomaly,
        state: RiskState,
        *,
        kind: str,
        predicted_ts: float,
        confidence: float,
        threshold: float,
        uncertainty_s: float,
    ) -> list[Event]:
        was = state.open.get(key)
        if was is None and key in state.cleared:
            gone = state.cleared.pop(key)
            if event.ts - gone.ts <= self.linger_s:
                was = gone  # the same predicted harm, back: reopen it
        elif was is not None and abs(was.predicted_ts - predicted_ts) < self.revise_s:
            return []
        entities, services = await self._hurt(event.entity, kind)
        risk = Risk(
            ts=event.ts,
            risk_id=was.risk_id if was else _risk_id(event.entity, event.signal, event.ts),
            status="open",
            revision=was.revision + 1 if was else 1,
            kind=kind,  # type: ignore[arg-type]
            device=event.device,
            entity=event.entity,
            signal=event.signal,
            opened_ts=was.opened_ts if was else event.ts,
            predicted_ts=predicted_ts,
            confidence=confidence,
            threshold=threshold,
            level=event.expected if event.expected is not None else event.value,
            trend_per_s=_trend(event),
            uncertainty_s=uncertainty_s,
            entities=entities,
            services=services,
            evidence=dict(event.evidence),
        )
        state.open[key] = risk
        return [risk]

    def _close(self, key: str, ts: float, state: RiskState, status: str, why: str) -> list[Event]:
        was = state.open.pop(key, None)
        if was is None and status == "materialized":
            gone = state.cleared.pop(key, None)  # the harm came soon after the forecast cleared
            was = gone if gone is not None and ts - gone.ts <= self.linger_s else None
        if was is None:
            return []
        closed = _revised(was, ts, status, why)
        if status == "cleared":
            state.cleared[key] = closed
        return [closed]

    def _materialize(self, key: str, event: Anomaly, state: RiskState) -> list[Event]:
        return self._close(key, event.ts, state, "materialized", f"{event.kind} on {event.entity}")

    async def _hurt(self, entity: str, kind: str) -> tuple[list[str], list[str]]:
        """The entities and services the harm would hurt."""
        if kind == "slo_budget":
            return [entity], [entity]
        try:
            iface = await self.aio.call(self.topo.interface, entity)
        except TopologyError:
            return [entity], []
        if iface.link is None:
            return [entity], []
        link = await self.aio.call(self.topo.link, iface.link)
        services = await self.aio.call(self.topo.services)
        return (
            sorted({link.id, link.a_if, link.b_if, link.a, link.b}),
            sorted(s.name for s in services if link.id in s.links),
        )


def _trend(event: Anomaly) -> float | None:
    raw = event.evidence.get("trend_per_h")
    try:
        return float(raw) / 3600 if raw else None
    except ValueError:
        return None


def _revised(risk: Risk, ts: float, status: str, why: str) -> Risk:
    return msgspec.structs.replace(
        risk,
        ts=ts,
        status=status,
        revision=risk.revision + 1,
        evidence={**risk.evidence, "closed": why},
    )
