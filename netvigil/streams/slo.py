"""The SLO processor: service-level signals in, error-budget burn anomalies out.

It reads the probe metrics (``probe.success``, ``probe.latency_ms``, labelled with the
service) and keeps one :class:`~netvigil.analytics.slo.BurnRateTracker` per SLO. When a
multi-window burn-rate rule fires, it opens an ``slo_burn`` anomaly on the service (score 1 for
a page, 0.6 for a ticket), and clears it when no rule fires any more. Event time only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from netvigil.analytics.slo import SLO, BurnRateTracker
from netvigil.events import Anomaly, Event, Metric
from netvigil.streams.base import Processor

__all__ = ["SloProcessor", "SloState"]

#: the probe metric each kind of SLO reads
SIGNAL = {"success": "probe.success", "latency": "probe.latency_ms"}
SCORE = {"page": 1.0, "ticket": 0.6}


@dataclass
class SloState:
    trackers: dict[str, BurnRateTracker] = field(default_factory=dict)
    open: dict[str, str] = field(default_factory=dict)
    """SLO key -> severity of the open anomaly."""


class SloProcessor(Processor[SloState]):
    name = "slo"
    inputs = ("netvigil.metrics",)
    outputs = ("netvigil.anomalies",)

    def __init__(self, slos: Sequence[SLO]) -> None:
        self.slos: dict[tuple[str, str], list[SLO]] = {}
        for s in slos:
            self.slos.setdefault((s.service, SIGNAL[s.kind]), []).append(s)

    def key(self, event: Event) -> str:
        return event.labels.get("service", "") if isinstance(event, Metric) else ""

    def new_state(self) -> SloState:
        return SloState()

    async def process(self, event: Event, state: SloState) -> Sequence[Event]:
        if not isinstance(event, Metric):
            return []
        service = event.labels.get("service")
        slos = self.slos.get((service or "", event.name))
        if not slos:
            return []
        out: list[Event] = []
        for slo in slos:
            k = f"{slo.service}|{slo.kind}"
            tracker = state.trackers.get(k)
            if tracker is None:
                tracker = state.trackers[k] = BurnRateTracker(slo)
            tracker.observe_value(event.ts, event.value)
            alerts = tracker.alerts(event.ts)
            worst = (
                "page"
                if any(a.severity == "page" for a in alerts)
                else ("ticket" if alerts else None)
            )
            was = state.open.get(k)
            if worst == was:
                continue
            if worst is None:
                del state.open[k]
                out.append(self._anomaly(event, slo, "cleared", 0.0, tracker))
            else:
                state.open[k] = worst
                out.append(
                    self._anomaly(
                        event,
                        slo,
                        "active",
                        SCORE[worst],
                        tracker,
                        worst,
                        max(a.long_burn for a in alerts),
                    )
                )
        return out

    @staticmethod
    def _anomaly(
        event: Metric,
        slo: SLO,
        state: str,
        score: float,
        tracker: BurnRateTracker,
        severity: str = "",
        burn: float = 0.0,
    ) -> Anomaly:
        return Anomaly(
            ts=event.ts,
            device=event.device,
            entity=slo.service,
            signal=f"slo.{slo.kind}",
            kind="slo_burn",
            score=score,
            state=state,  # type: ignore[arg-type]
            value=round(burn, 3),
            detector="slo:burn-rate",
            evidence=_evidence(slo, severity, tracker.budget_remaining(event.ts), burn),
        )


def _evidence(slo: SLO, severity: str, left: float, burn: float) -> dict[str, str]:
    """What the anomaly says of the budget; with a burn, when it runs out at that pace (the
    budget spent over the SLO window at burn 1, over ``window / burn`` at ``burn``)."""
    out = {"objective": str(slo.objective), "severity": severity, "budget_remaining": f"{left:.3f}"}
    if burn > 0 and left > 0:
        out["exhausted_in_s"] = f"{left * slo.window_s / burn:.0f}"
    return out
