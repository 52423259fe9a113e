"""The forecasting processor: interface utilisation in, ``predicted_congestion`` out; input
errors in, ``predicted_errors`` out.

Per interface (``if.out_util`` series) a :class:`~netvigil.analytics.forecast.
ThresholdForecaster` predicts when the threshold will be crossed. The anomaly opens when a
crossing is predicted within the horizon, carrying the lead time and its uncertainty in
``forecast``; it clears once the interface is congested (the detector's threshold anomaly
takes over) or the crossing moves well beyond the horizon.

**Error trend.** A degrading optic or cable shows a rising share of corrupted frames long
before it loses enough to hurt a service. Per interface, the *error share* (input errors per
packet received: ``if.in_errors / (packets + if.in_errors)``, packets from ``if.in_pkts``
where a collector reports it, else ``if.in_bps`` / :data:`MEAN_PACKET_BITS`; the collectors of
today report bits, not packets, so on a real network the share is off by the ratio of the
real mean packet size to 1,000 bytes) feeds a second forecaster of the same kind, whose
threshold is the harm share (``detector.error_harm_share``, 0.1 % by default). A share, not
a rate: errors per second rise and fall with the daily load, a share does not. Samples with
fewer than :data:`MIN_PPS` packets per second are skipped (a drained or idle link says
nothing about its optic). The anomaly (``predicted_errors`` on ``if.in_errors``) opens when a
crossing is predicted, and clears when the share has been at or above the harm share for two
samples in a row (evidence ``crossed``: the harm came) or the prediction no longer holds.
Its trend smoothing and trend test (:data:`ERROR_BETA`, :data:`ERROR_TREND_SIGMAS`) were
chosen by cross-validation on the twin's traffic with counting noise
(:mod:`netvigil.eval.errtrend`): a faster trend than the congestion forecaster's (an error
share has no daily cycle to mistake for a trend; a late, under-estimated deadline is what a
level-1 approval cannot use). Constant memory per
interface: the forecaster's state, the last packet rate and a counter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec

from netvigil.analytics.detector import ERROR_HARM_SHARE, MEAN_PACKET_BITS
from netvigil.analytics.forecast import ForecastConfig, Prediction, ThresholdForecaster
from netvigil.events import Anomaly, Event, Forecast, Metric
from netvigil.streams.base import Processor

__all__ = [
    "ERROR_BETA",
    "ERROR_HARM_SHARE",
    "ERROR_SIGNAL",
    "ERROR_TREND_SIGMAS",
    "FORECAST_SIGNALS",
    "MEAN_PACKET_BITS",
    "MIN_PPS",
    "ForecastProcessor",
    "ForecastState",
    "error_forecast_config",
]

#: signals forecast against a threshold
FORECAST_SIGNALS = frozenset({"if.out_util"})
#: the counter whose share of the packets is forecast against the harm share
ERROR_SIGNAL = "if.in_errors"
#: signals that say how many packets an interface received (per second)
_PACKET_SIGNALS = frozenset({"if.in_pkts", "if.in_bps"})
#: below this many packets per second an error share says nothing: the sample is skipped
MIN_PPS = 10.0
#: the error trend's Holt trend smoothing and ``min_trend_sigmas``, chosen by 5-fold
#: cross-validation over 40 seeds of the twin's traffic with counting noise
#: (:mod:`netvigil.eval.errtrend`; docs/prevention.md has the figures)
ERROR_BETA = 0.9
ERROR_TREND_SIGMAS = 1.5


def error_forecast_config(
    harm_share: float = ERROR_HARM_SHARE, horizon_s: float = 2700.0
) -> ForecastConfig:
    """The error trend's forecaster settings: the harm share as its threshold."""
    return ForecastConfig(
        threshold=harm_share,
        horizon_s=horizon_s,
        beta=ERROR_BETA,
        min_trend_sigmas=ERROR_TREND_SIGMAS,
    )


@dataclass
class _Series:
    forecaster: ThresholdForecaster
    open: bool = False
    onset_ts: float = 0.0
    pps: float | None = None
    """Error series: the interface's last packet rate."""
    over: int = 0
    """Error series: samples in a row at or above the harm share."""
    counted: bool = False
    """Error series: packets come counted (``if.in_pkts``), not estimated from bits."""


@dataclass
class ForecastState:
    series: dict[str, _Series] = field(default_factory=dict)
    errors: dict[str, _Series] = field(default_factory=dict)

    def __setstate__(self, d: dict[str, object]) -> None:
        """State pickled (Kafka changelogs) before the error trend existed has no ``errors``."""
        self.__dict__.update({"errors": {}, **d})


class ForecastProcessor(Processor[ForecastState]):
    name = "forecaster"
    inputs = ("netvigil.metrics",)
    outputs = ("netvigil.anomalies",)

    def __init__(
        self, cfg: ForecastConfig | None = None, *, errors: ForecastConfig | None = None
    ) -> None:
        self.cfg = cfg or ForecastConfig()
        self.errors = errors or error_forecast_config()

    def new_state(self) -> ForecastState:
        return ForecastState()

    async def process(self, event: Event, state: ForecastState) -> Sequence[Event]:
        if not isinstance(event, Metric):
            return []
        if event.name in _PACKET_SIGNALS or event.name == ERROR_SIGNAL:
            return self._errors(event, state)
        if event.name not in FORECAST_SIGNALS:
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

    def _errors(self, m: Metric, state: ForecastState) -> list[Event]:
        s = state.errors.get(m.entity)
        if s is None:
            s = state.errors[m.entity] = _Series(ThresholdForecaster(self.errors))
        if m.name == "if.in_pkts":
            s.pps, s.counted = max(m.value, 0.0), True
            return []
        if m.name == "if.in_bps":
            if not s.counted:  # packets counted win over packets estimated from bits
                s.pps = max(m.value, 0.0) / MEAN_PACKET_BITS
            return []
        if s.pps is None or s.pps + m.value < MIN_PPS:
            return []  # nothing received: the share says nothing
        share = max(m.value, 0.0) / (s.pps + max(m.value, 0.0))
        m = msgspec.structs.replace(m, value=share)
        s.over = s.over + 1 if share >= self.errors.threshold else 0
        p = s.forecaster.update(m.ts, share)
        if p is not None and not s.open:
            s.open, s.onset_ts = True, m.ts
            return [self._anomaly(m, p, "active", cfg=self.errors)]
        if s.open and (s.over >= 2 or (p is None and s.forecaster.predict(m.ts) is None)):
            s.open = False
            crossed = {"crossed": f"{share:.6f}"} if s.over >= 2 else {}
            return [
                self._anomaly(m, None, "cleared", onset=s.onset_ts, cfg=self.errors, extra=crossed)
            ]
        return []

    def _anomaly(
        self,
        m: Metric,
        p: Prediction | None,
        state: str,
        onset: float | None = None,
        *,
        cfg: ForecastConfig | None = None,
        extra: dict[str, str] | None = None,
    ) -> Anomaly:
        cfg = cfg or self.cfg
        errors = cfg is self.errors
        forecast = None
        evidence: dict[str, str] = {}
        score = 0.0
        if p is not None:
            forecast = Forecast(
                threshold=cfg.threshold,
                predicted_ts=p.predicted_ts,
                lead_time_s=round(p.lead_time_s, 1),
                uncertainty_s=round(p.uncertainty_s, 1),
            )
            # nearer crossings are stronger evidence
            score = round(max(0.1, 1.0 - p.lead_time_s / cfg.horizon_s), 4)
            evidence = {
                "lead_time_s": f"{p.lead_time_s:.0f}",
                "uncertainty_s": f"{p.uncertainty_s:.0f}",
                "trend_per_h": (
                    f"{p.trend_per_s * 3600:.4g}" if errors else f"{p.trend_per_s * 3600:.3f}"
                ),
            }
        evidence.update(extra or {})
        return Anomaly(
            ts=m.ts,
            device=m.device,
            entity=m.entity,
            signal=m.name,
            kind="predicted_errors" if errors else "predicted_congestion",
            score=score,
            state="active" if state == "active" else "cleared",
            onset_ts=onset if onset is not None else m.ts,
            value=m.value,
            expected=p.level if p else None,
            detector="forecast:holt-errors" if errors else "forecast:holt",
            evidence=evidence,
            forecast=forecast,
        )
