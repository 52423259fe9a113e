"""The congestion forecaster: predicts a rising series, stays quiet on a flat noisy one."""

from __future__ import annotations

import random

import pytest

from netvigil.analytics.forecast import ForecastConfig, ThresholdForecaster
from netvigil.events import Anomaly, Metric
from netvigil.streams.forecast import ForecastProcessor


def test_linear_rise_is_predicted_with_lead_time_and_uncertainty() -> None:
    rng = random.Random(1)
    f = ThresholdForecaster(ForecastConfig(threshold=0.9, horizon_s=1800))
    preds = []
    for i in range(720):  # 10 s samples; +0.1 per 10 minutes from 0.3: 0.9 at t = 3600 s
        t = i * 10.0
        p = f.update(t, 0.3 + 0.1 * t / 600 + rng.gauss(0, 0.005))
        if p is not None:
            preds.append((t, p))
    assert preds, "a steady rise toward the threshold must be predicted"
    _t0, first = preds[0]
    assert first.lead_time_s <= 1800
    assert first.predicted_ts == pytest.approx(3600, abs=300)
    assert first.uncertainty_s > 0


def test_flat_noisy_series_predicts_nothing() -> None:
    rng = random.Random(2)
    f = ThresholdForecaster()
    assert all(f.update(i * 10.0, 0.5 + rng.gauss(0, 0.05)) is None for i in range(2000))


async def test_processor_opens_predicted_congestion_and_clears_when_congested() -> None:
    proc = ForecastProcessor(ForecastConfig(threshold=0.9, horizon_s=1800))
    state = proc.new_state()
    out: list[Anomaly] = []
    for i in range(800):
        t = i * 10.0
        m = Metric(
            ts=t,
            device="r1",
            name="if.out_util",
            value=min(0.3 + t / 6000, 1.0),
            labels={"interface": "eth0"},
        )
        out += [a for a in await proc.process(m, state) if isinstance(a, Anomaly)]
    assert [a.state for a in out] == ["active", "cleared"]
    opened = out[0]
    assert opened.kind == "predicted_congestion" and opened.entity == "r1:eth0"
    assert opened.forecast is not None and 0 < opened.forecast.lead_time_s <= 1800
    assert out[1].ts >= 3600  # cleared once congested (0.9 reached at 3600 s)
