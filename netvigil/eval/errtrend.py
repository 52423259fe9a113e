"""Cross-validation of the error trend's constants on the twin's traffic with counting noise.

The error trend (:mod:`netvigil.streams.forecast`) must predict a link whose error share
rises toward the harm share, with a deadline close to the real crossing, and stay quiet on a
flat error count (however noisy) and on a one-off burst of errors. Its constants (the Holt
trend smoothing ``beta`` and the trend test ``min_trend_sigmas``) are chosen here, by k-fold
cross-validation over seeds, never by hand on one case.

**Series.** Each seed takes the received packet rate of one interface of the twin (its
``if.in_bps`` over :data:`~netvigil.streams.forecast.MEAN_PACKET_BITS`, daily cycle and
demand noise included), scaled by a random factor between 1/1000 and 1 (thin links count few
packets, so their error share is noisy), and makes three series of it, errors drawn as a
Poisson count of the poll's packets times the share (a counter's increments):

- ``ramp``: a healthy floor (up to 2e-5), then from a random start the share rises linearly
  to 0.2-0.6 % over 1-3 hours (it crosses the harm share between 20 and 90 minutes in);
- ``flat``: a constant share between 1e-5 and half the harm share;
- ``burst``: the flat series with one poll of 0.2-2 % errors.

**Score.** A ramp is *found* when the error trend opens a prediction at least
:data:`MIN_LEAD_S` (the prevention's ``min_lead_s``) before the real crossing; any prediction
on a flat or burst series is a false one. F1 over those; ties broken by the median relative
deadline error of the ramps found (``|predicted - real| / lead`` of the first prediction).
Written here because it scores the project's own processor on the project's own twin.
"""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from netvigil.analytics.forecast import ForecastConfig
from netvigil.events import Anomaly, Metric
from netvigil.graph.importers import load_topology
from netvigil.streams.forecast import (
    ERROR_HARM_SHARE,
    ERROR_SIGNAL,
    MEAN_PACKET_BITS,
    ForecastProcessor,
    error_forecast_config,
)
from netvigil.twin.network import TwinNetwork
from netvigil.twin.source import SIM_EPOCH

__all__ = ["GRID", "MIN_LEAD_S", "Case", "cross_validate", "make_cases", "outcome", "score"]

#: a prediction with less lead than this is too late to act on (prevention's min_lead_s)
MIN_LEAD_S = 300.0
#: (beta, min_trend_sigmas) tried
GRID = [(b, k) for b in (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9) for k in (1.0, 1.5, 2.0, 3.0, 4.0)]
_STEP_S = 60.0
_STEPS = 6 * 60


@dataclass(frozen=True)
class Case:
    kind: str
    """ramp | flat | burst"""
    ts: list[float]
    pps: list[float]
    errors: list[float]
    """errors per second of each poll"""
    crossing: float | None = None
    """ramp: when the share reaches the harm share"""


def _draw(rng: np.random.Generator, shares: list[float], pps: list[float]) -> list[float]:
    """Errors per second of each poll: a Poisson count of the poll's packets times the share."""
    return [float(rng.poisson(s * p * _STEP_S)) / _STEP_S for s, p in zip(shares, pps, strict=True)]


def make_cases(seeds: range, harm: float = ERROR_HARM_SHARE) -> list[tuple[int, Case]]:
    """Three series (ramp, flat, burst) per seed (see the module doc)."""
    topo = load_topology(None)
    net = TwinNetwork(topo, [], seed=1)
    t0 = SIM_EPOCH + 6 * 3600.0
    ts = [t0 + k * _STEP_S for k in range(_STEPS)]
    in_bps: dict[str, list[float]] = {}
    for t in ts:
        for e in net.step(t):
            if isinstance(e, Metric) and e.name == "if.in_bps":
                in_bps.setdefault(e.entity, []).append(e.value)
    ifaces = sorted(k for k, v in in_bps.items() if min(v) > 0)
    out: list[tuple[int, Case]] = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        scale = 10 ** rng.uniform(-3, 0)
        pps = [b / MEAN_PACKET_BITS * scale for b in in_bps[ifaces[seed % len(ifaces)]]]
        floor = rng.uniform(0, 2e-5)
        start = ts[0] + rng.uniform(1.5, 2.5) * 3600
        span = rng.uniform(1, 3) * 3600
        top = rng.uniform(0.002, 0.006)
        ramp = [floor + top * min(max((t - start) / span, 0.0), 1.0) for t in ts]
        flat = [rng.uniform(1e-5, harm / 2)] * len(ts)
        burst = list(flat)
        burst[int(rng.integers(_STEPS // 3, _STEPS))] = rng.uniform(0.002, 0.02)

        crossing = start + (harm - floor) / top * span
        out.append((seed, Case("ramp", ts, pps, _draw(rng, ramp, pps), crossing)))
        out.append((seed, Case("flat", ts, pps, _draw(rng, flat, pps))))
        out.append((seed, Case("burst", ts, pps, _draw(rng, burst, pps))))
    return out


def _first_prediction(case: Case, cfg: ForecastConfig) -> Anomaly | None:
    proc = ForecastProcessor(errors=cfg)
    state = proc.new_state()

    async def run() -> Anomaly | None:
        for t, p, e in zip(case.ts, case.pps, case.errors, strict=True):
            lb = {"interface": "eth0"}
            bps = Metric(ts=t, device="r1", name="if.in_bps", value=p * MEAN_PACKET_BITS, labels=lb)
            await proc.process(bps, state)
            err = Metric(ts=t, device="r1", name=ERROR_SIGNAL, value=e, labels=lb)
            for a in await proc.process(err, state):
                if isinstance(a, Anomaly) and a.state == "active":
                    return a
        return None

    return asyncio.run(run())


def outcome(case: Case, cfg: ForecastConfig) -> tuple[str, float | None]:
    """What the error trend made of one series: ``found`` (with its relative deadline
    error), ``missed``, ``false`` or ``quiet``."""
    a = _first_prediction(case, cfg)
    if case.kind != "ramp":
        return ("false" if a is not None else "quiet"), None
    assert case.crossing is not None
    if a is None or a.forecast is None or a.ts > case.crossing - MIN_LEAD_S:
        return "missed", None
    return "found", abs(a.forecast.predicted_ts - case.crossing) / (case.crossing - a.ts)


def score(outcomes: list[tuple[str, float | None]]) -> dict[str, Any]:
    """F1 over ``outcomes`` and the median deadline error (see the module doc)."""
    n = {k: sum(1 for o, _ in outcomes if o == k) for k in ("found", "missed", "false")}
    errors = [e for o, e in outcomes if o == "found" and e is not None]
    precision = n["found"] / (n["found"] + n["false"]) if n["found"] + n["false"] else 0.0
    recall = n["found"] / (n["found"] + n["missed"]) if n["found"] + n["missed"] else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "f1": round(f1, 4),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "false": n["false"],
        "deadline_error_p50": round(statistics.median(errors), 4) if errors else None,
    }


def _config(beta: float, sigmas: float) -> ForecastConfig:
    return replace(error_forecast_config(), beta=beta, min_trend_sigmas=sigmas)


def _key(s: dict[str, Any]) -> tuple[float, float]:
    err = s["deadline_error_p50"]
    return (s["f1"], -(err if err is not None else 1e9))


def cross_validate(seeds: range = range(40), folds: int = 5) -> dict[str, Any]:
    """K-fold over seeds: per fold, the grid point best on the other folds (F1, then deadline
    error), scored on the held-out fold; and the point best on all seeds (in-sample)."""
    cases = make_cases(seeds)
    fold_of = {s: i % folds for i, s in enumerate(seeds)}
    results = {p: [(fold_of[s], outcome(c, _config(*p))) for s, c in cases] for p in GRID}

    def on(p: tuple[float, float], fs: set[int]) -> dict[str, Any]:
        return score([o for f, o in results[p] if f in fs])

    held: list[dict[str, Any]] = []
    for f in range(folds):
        train = set(range(folds)) - {f}
        best = max(GRID, key=lambda p, train=train: _key(on(p, train)))  # type: ignore[misc]
        held.append({"fold": f, "beta": best[0], "min_trend_sigmas": best[1], **on(best, {f})})
    every = set(range(folds))
    overall = max(GRID, key=lambda p: _key(on(p, every)))
    errs = [h["deadline_error_p50"] for h in held if h["deadline_error_p50"] is not None]
    return {
        "seeds": len(seeds),
        "cases": len(cases),
        "folds": held,
        "cv_f1_mean": round(statistics.mean(h["f1"] for h in held), 4),
        "cv_false_total": sum(h["false"] for h in held),
        "cv_deadline_error_p50_mean": round(statistics.mean(errs), 4) if errs else None,
        "chosen_on_all": {"beta": overall[0], "min_trend_sigmas": overall[1]},
        "in_sample": on(overall, every),
        "grid": {f"{b}/{k}": on((b, k), every) for b, k in GRID},
    }


if __name__ == "__main__":  # pragma: no cover - a bench, run by hand
    import json

    print(json.dumps(cross_validate(), indent=1))
