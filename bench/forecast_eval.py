"""Congestion forecasting on the twin with growth ramps: lead time and false predictions.

The twin (built-in backbone, or ``--topology``) runs with ``growth_ramp`` faults: on one link
direction, extra demand grows linearly until it exceeds the capacity. Every ``if.out_util``
sample goes through :class:`~netvigil.streams.forecast.ForecastProcessor` (the processor the
service runs). For each ramp, the *lead time* is the time from the first
``predicted_congestion`` on the ramped interface to the first sample at or above the
threshold. A prediction is *false* when its interface does not reach the threshold within
1.5x the horizon after it. Baseline in the same run: a naive forecaster (a straight line
through the last two samples, same horizon).

    python -m bench.forecast_eval [--ramps 6] [--seed 7] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from netvigil.analytics.forecast import ForecastConfig
from netvigil.events import Anomaly, Metric
from netvigil.graph.importers import load_topology
from netvigil.streams.forecast import ForecastProcessor
from netvigil.twin.faults import Fault, schedule_faults
from netvigil.twin.network import TwinNetwork
from netvigil.twin.source import SIM_EPOCH


@dataclass
class Naive:
    """Baseline: extrapolate the last two samples."""

    cfg: ForecastConfig
    prev: tuple[float, float] | None = None

    def __call__(self, ts: float, v: float) -> bool:
        p, self.prev = self.prev, (ts, v)
        if p is None or ts <= p[0] or v >= self.cfg.threshold:
            return False
        slope = (v - p[1]) / (ts - p[0])
        return slope > 0 and (self.cfg.threshold - v) / slope <= self.cfg.horizon_s


def simulate(ramps: int, seed: int, step_s: float) -> tuple[list[Fault], list[Metric]]:
    topo = load_topology(None)
    faults = schedule_faults(
        topo,
        kinds=["growth_ramp"],
        count=ramps,
        first=SIM_EPOCH + 3600,
        interval=3 * 3600,
        duration=2 * 3600,
        seed=seed,
    )
    net = TwinNetwork(topo, faults, seed=seed)
    end = faults[-1].end + 1800
    metrics: list[Metric] = []
    t = SIM_EPOCH
    while t <= end:
        metrics += [e for e in net.step(t) if isinstance(e, Metric) and e.name == "if.out_util"]
        t += step_s
    return faults, metrics


def score(
    faults: list[Fault],
    metrics: list[Metric],
    predictions: list[tuple[float, str]],
    cfg: ForecastConfig,
) -> dict[str, object]:
    topo = load_topology(None)
    saturations: dict[str, list[float]] = {}
    for m in metrics:
        if m.value >= cfg.threshold:
            saturations.setdefault(m.entity, []).append(m.ts)
    leads = []
    for f in faults:
        lk = topo.link(f.target)
        entity = lk.end(f.direction or lk.a)
        sat = next((t for t in saturations.get(entity, []) if t >= f.start), None)
        first = next(
            (t for t, e in predictions if e == entity and f.start <= t <= (sat or f.end)), None
        )
        if sat is not None and first is not None:
            leads.append(sat - first)
    false = sum(
        1
        for t, e in predictions
        if not any(t <= s <= t + 1.5 * cfg.horizon_s for s in saturations.get(e, []))
    )
    return {
        "ramps": len(faults),
        "predicted_before_saturation": len(leads),
        "median_lead_s": statistics.median(leads) if leads else None,
        "predictions": len(predictions),
        "false_predictions": false,
        "false_rate": false / len(predictions) if predictions else 0.0,
    }


async def run_processor(metrics: list[Metric], cfg: ForecastConfig) -> list[tuple[float, str]]:
    proc = ForecastProcessor(cfg)
    states: dict[str, object] = {}
    out: list[tuple[float, str]] = []
    for m in metrics:
        state = states.setdefault(proc.key(m), proc.new_state())
        for a in await proc.process(m, state):  # type: ignore[arg-type]
            if isinstance(a, Anomaly) and a.state == "active":
                out.append((a.ts, a.entity))
    return out


def run_naive(metrics: list[Metric], cfg: ForecastConfig) -> list[tuple[float, str]]:
    series: dict[str, Callable[[float, float], bool]] = {}
    out, open_ = [], set()
    for m in metrics:
        f = series.setdefault(m.entity, Naive(cfg))
        hit = f(m.ts, m.value)
        if hit and m.entity not in open_:
            out.append((m.ts, m.entity))
            open_.add(m.entity)
        elif not hit:
            open_.discard(m.entity)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ramps", type=int, default=6)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--step", type=float, default=10.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    cfg = ForecastConfig()
    faults, metrics = simulate(args.ramps, args.seed, args.step)
    report = {
        "netvigil": score(faults, metrics, asyncio.run(run_processor(metrics, cfg)), cfg),
        "naive_two_point": score(faults, metrics, run_naive(metrics, cfg), cfg),
    }
    print(json.dumps(report, indent=None if args.json else 1))


if __name__ == "__main__":
    main()
