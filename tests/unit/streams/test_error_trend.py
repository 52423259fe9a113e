"""The error trend: a rising input-error share is predicted with a deadline near the real
crossing of the harm share; a flat noisy error count and a one-off burst are not; the
crossing itself clears the prediction as harm come; idle samples say nothing."""

from __future__ import annotations

import asyncio
import pickle

import numpy as np

from netvigil.events import Anomaly, Event, Metric
from netvigil.streams.forecast import (
    ERROR_HARM_SHARE,
    MEAN_PACKET_BITS,
    ForecastProcessor,
    ForecastState,
)

STEP = 60.0
T0 = 1_767_225_600.0
PPS = 20_000.0  # a lightly loaded link: ~160 Mbit/s received
LABELS = {"interface": "eth0"}


def feed(
    shares: list[float], *, seed: int = 3, pps: float = PPS, packets: str = "if.in_bps"
) -> list[Anomaly]:
    """Poll ``shares`` (errors per packet) through the processor, errors drawn as a Poisson
    count of each minute's packets; the anomalies it emits."""
    rng = np.random.default_rng(seed)
    proc = ForecastProcessor()
    state: ForecastState = proc.new_state()
    out: list[Anomaly] = []

    async def run() -> None:
        for k, share in enumerate(shares):
            t = T0 + k * STEP
            rate = pps * MEAN_PACKET_BITS if packets == "if.in_bps" else pps
            events: list[Event] = [
                Metric(ts=t, device="r1", name=packets, value=rate, labels=LABELS),
                Metric(
                    ts=t,
                    device="r1",
                    name="if.in_errors",
                    value=float(rng.poisson(share * pps * STEP)) / STEP,
                    labels=LABELS,
                ),
            ]
            for e in events:
                out.extend(a for a in await proc.process(e, state) if isinstance(a, Anomaly))

    asyncio.run(run())
    return out


def ramp(start_k: int, top: float, span_k: int, n: int, floor: float = 1e-5) -> list[float]:
    return [floor + top * min(max((k - start_k) / span_k, 0.0), 1.0) for k in range(n)]


def test_a_rising_error_share_is_predicted_with_its_deadline() -> None:
    # 0 -> 0.4 % over 2 h from minute 120: reaches the 0.1 % harm share at minute ~150
    shares = ramp(120, 0.004, 120, 300)
    crossing = T0 + (120 + (ERROR_HARM_SHARE - 1e-5) / 0.004 * 120) * STEP
    out = feed(shares)
    opened = [a for a in out if a.kind == "predicted_errors" and a.state == "active"]
    assert len(opened) == 1
    a = opened[0]
    assert a.signal == "if.in_errors" and a.entity == "r1:eth0"
    assert a.forecast is not None and a.forecast.threshold == ERROR_HARM_SHARE
    lead = crossing - a.ts
    assert lead >= 300  # early enough to act on
    assert abs(a.forecast.predicted_ts - crossing) <= 0.5 * lead  # the deadline, within 50 %
    closed = [a for a in out if a.kind == "predicted_errors" and a.state == "cleared"]
    assert closed and "crossed" in closed[0].evidence  # the harm came: the share crossed
    assert closed[0].ts >= crossing


def test_a_flat_noisy_error_count_is_not_predicted() -> None:
    for seed in range(5):  # a quarter of the harm share, on a thin link: noisy counts
        out = feed([ERROR_HARM_SHARE / 4] * 300, seed=seed, pps=500.0)
        assert not [a for a in out if a.kind == "predicted_errors"], seed


def test_a_one_off_burst_of_errors_is_not_predicted() -> None:
    shares = [2e-5] * 300
    shares[200] = 0.02  # twenty times the harm share, for one poll
    out = feed(shares)
    assert not [a for a in out if a.kind == "predicted_errors"]


def test_counted_packets_and_idle_links() -> None:
    shares = ramp(120, 0.004, 120, 300)
    counted = feed(shares, packets="if.in_pkts")
    assert [a.state for a in counted if a.kind == "predicted_errors"][:1] == ["active"]
    # a link that receives nothing (drained, idle) teaches the error trend nothing
    idle = feed(shares, pps=0.05)
    assert not idle


def test_state_pickled_before_the_error_trend_still_loads() -> None:
    old = ForecastState()
    del old.__dict__["errors"]  # as a changelog written by an earlier release holds it
    state = pickle.loads(pickle.dumps(old))
    assert state.errors == {} and state.series == {}
