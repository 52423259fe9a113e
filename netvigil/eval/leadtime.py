"""Congestion-prediction lead time in a mission: forecasts on the bus against the twin's truth.

For every ``growth_ramp`` fault (extra demand growing linearly on one link direction) the
*saturation time* is the first step at which that direction's noise-free utilization in the
twin reaches the congestion threshold, or would have had no change been made (ground truth,
from :class:`~netvigil.eval.recovery.RecoveryWatch`: a ramp a preemptive change kept from
saturating still has its time, and is marked ``prevented``). The *prediction time* is the
first ``predicted_congestion`` anomaly the pipeline's forecaster publishes for the ramped
interface between the ramp's start and its saturation. The lead time is their difference; a
ramp is *predicted in time* when the lead is at least ``required_s`` (30 minutes, the issue's
floor). A ramp that would never have saturated is reported as such and not counted either way.

The criterion mirrors ``bench/forecast_eval.py`` (first prediction on the interface, first
crossing), except that saturation is read from the twin's noise-free load instead of noisy
samples, so one noisy sample above the line does not end the lead early. The cost of
predicting is counted too: a prediction is *false* when its interface's samples do not reach
the threshold within 1.5x the horizon after it (the same criterion as that bench), unless a
preemptive change kept the harm away then (``averted``: the twin says the interface would
have saturated without it; :mod:`netvigil.resolvers.prevention`): a prevented harm is no
false prediction.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from netvigil.eval.recovery import RecoveryWatch
from netvigil.events import Anomaly, Event, Metric
from netvigil.graph.base import TopologyStore
from netvigil.twin.faults import Fault

__all__ = ["LeadTimes"]


@dataclass
class LeadTimes:
    """Collects forecasts per ramped interface; :meth:`report` scores them per ramp."""

    topo: TopologyStore
    ramps: list[Fault]
    required_s: float = 1800.0
    horizon_s: float = 1800.0
    threshold: float = 0.9
    predictions: dict[str, list[float]] = field(default_factory=dict)
    """interface id -> times of the forecaster's active predictions on it"""
    congested: dict[str, list[float]] = field(default_factory=dict)
    """interface id -> times of samples at or above the threshold"""

    @classmethod
    def of(
        cls,
        topo: TopologyStore,
        faults: list[Fault],
        *,
        horizon_s: float,
        threshold: float,
        required_s: float = 1800.0,
    ) -> LeadTimes:
        ramps = [f for f in faults if f.kind == "growth_ramp"]
        return cls(topo, ramps, required_s, horizon_s, threshold)

    def on_metric(self, topic: str, event: Event) -> None:
        if (
            isinstance(event, Metric)
            and event.name == "if.out_util"
            and event.value >= self.threshold
        ):
            self.congested.setdefault(event.entity, []).append(event.ts)

    def false_predictions(self, averted: Sequence[tuple[str, float, float]] = ()) -> int:
        """Predictions after which the interface's samples do not reach the threshold within
        1.5x the horizon (the criterion of ``bench/forecast_eval.py``), except those made on an
        interface while a preemptive change averted its harm (``averted``: entity, from, to)."""
        return sum(
            1
            for entity, times in self.predictions.items()
            for t in times
            if not any(t <= s <= t + 1.5 * self.horizon_s for s in self.congested.get(entity, ()))
            and not any(e == entity and a <= t <= b for e, a, b in averted)
        )

    def interface(self, f: Fault) -> str:
        lk = self.topo.link(f.target)
        return lk.end(f.direction or lk.a)

    def on_anomaly(self, topic: str, event: Event) -> None:
        if (
            isinstance(event, Anomaly)
            and event.kind == "predicted_congestion"
            and event.state == "active"
        ):
            self.predictions.setdefault(event.entity, []).append(event.ts)

    def report(
        self, watch: RecoveryWatch, averted: Sequence[tuple[str, float, float]] = ()
    ) -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        for f in self.ramps:
            rec = watch.of(f)
            # when it saturated, or would have: a preemptive change may have prevented it
            sat = (rec.natural_onset or rec.onset) if rec is not None else None
            entity = self.interface(f)
            upto = sat if sat is not None else f.end
            first = next(
                (t for t in sorted(self.predictions.get(entity, [])) if f.start <= t <= upto),
                None,
            )
            lead = None if sat is None or first is None else sat - first
            rows.append(
                {
                    "target": f.target,
                    "interface": entity,
                    "ramp_start_s": f.start,
                    "saturated_at_s": sat,
                    "prevented": rec is not None and sat is not None and rec.onset is None,
                    "first_prediction_s": first,
                    "lead_s": lead,
                    "in_time": lead is not None and lead >= self.required_s,
                }
            )
        judged = [r for r in rows if r["saturated_at_s"] is not None]
        leads = [r["lead_s"] for r in judged if r["lead_s"] is not None]
        return {
            "ramps": len(rows),
            "saturated": len(judged),
            "predicted": len(leads),
            "predicted_in_time": sum(1 for r in judged if r["in_time"]),
            "in_time_share": (
                round(sum(1 for r in judged if r["in_time"]) / len(judged), 4) if judged else None
            ),
            "lead_p50_s": statistics.median(leads) if leads else None,
            "lead_min_s": min(leads) if leads else None,
            "required_s": self.required_s,
            "horizon_s": self.horizon_s,
            "predictions": sum(len(v) for v in self.predictions.values()),
            "false_predictions": self.false_predictions(averted),
            "per_ramp": rows,
        }
