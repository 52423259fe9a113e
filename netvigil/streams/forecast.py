"""The forecasting processor: interface utilisation in, ``predicted_congestion`` out.

Per interface (``if.out_util`` series) a :class:`~netvigil.analytics.forecast.
ThresholdForecaster` predicts when the threshold will be crossed. The anomaly opens when a
crossing is predicted within the horizon, carrying the lead time and its uncertainty in
``forecast``; it clears once the interface is congested (the detector's threshold anomaly
takes over) or the crossing moves well beyond the horizon.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from netvigil.analytics.forecast import ForecastConfig, Prediction, ThresholdForecaster
from netvigil.events import Anomaly, Event, Forecast, Metric
from netvigil.streams.base import Processor

__all__ = ["FORECAST_SIGNALS", "ForecastProcessor", "ForecastState"]

#: signals forecast against a threshold
FORECAST_SIGNALS = frozenset({"if.out_util"})


@dataclass
class _Series:
    forecaster: ThresholdForecaster
    open: bool = False
    onset_ts: float = 0.0


@dataclass
class ForecastState:
    series: dict[str, _Series] = field(default_factory=dict)


class ForecastProcessor(Processor[ForecastState]):
    name = "forecaster"
    inputs = ("netvigil.metrics",)
    outputs = ("netvigil.anomalies",)

    def __init__(self, cfg: ForecastConfig | None = None) -> None:
        self.cfg = cfg or ForecastConfig()

    def new_state(self) -> ForecastState:
        return ForecastState()

    async def process(self, event: Event, state: ForecastState) -> Sequence[Event]:
        if not isinstance(event, Metric) or event.name not in FORECAST_SIGNALS:
            return []
        key = event.entity
        s = state.series.get(key)
        if s is None:
            s = state.series[key] = _Series(ThresholdForecaster(self.cfg))
        p = s.forecaster.update(event.ts, event.value)
        if p is not None and not s.open:
            s.open, s.onset_ts = True, event.ts
            return [self._anomaly(event, p, "active")]
        if s.open and p is None:
            congested = event.value >= self.cfg.threshold
            later = s.forecaster.predict(event.ts)
            if congested or later is None:
                s.open = False
                return [self._anomaly(event, None, "cleared", onset=s.onset_ts)]
        return []

    def _anomaly(
        self, m: Metric, p: Prediction | None, state: str, onset: float | None = None
    ) -> Anomaly:
        forecast = None
        evidence: dict[str, str] = {}
        score = 0.0
        if p is not None:
            forecast = Forecast(
                threshold=self.cfg.threshold,
                predicted_ts=p.predicted_ts,
                lead_time_s=round(p.lead_time_s, 1),
                uncertainty_s=round(p.uncertainty_s, 1),
            )
            # nearer crossings are stronger evidence
            score = round(max(0.1, 1.0 - p.lead_time_s / self.cfg.horizon_s), 4)
            evidence = {
                "lead_time_s": f"{p.lead_time_s:.0f}",
                "uncertainty_s": f"{p.uncertainty_s:.0f}",
                "trend_per_h": f"{p.trend_per_s * 3600:.3f}",
            }
        return Anomaly(
            ts=m.ts,
            device=m.device,
            entity=m.entity,
            signal=m.name,
            kind="predicted_congestion",
            score=score,
            state="active" if state == "active" else "cleared",
            onset_ts=onset if onset is not None else m.ts,
            value=m.value,
            expected=p.level if p else None,
            detector="forecast:holt",
            evidence=evidence,
            forecast=forecast,
        )
