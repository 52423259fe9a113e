"""Speed of the analytics hot paths, one core, medians over repeats, baselines in the same run.

- Metric scoring: :class:`~netvigil.analytics.ensemble.EnsembleScorer` (the score the
  detector processor and ``netvigil detect`` run) across 10,000 concurrent series (round
  robin, like a poller's sweep), points per CPU second, and memory per series (tracemalloc of
  the scorers after warm-up); the previous single seasonal score beside it. Baseline: the
  first slice's z-score (river ``stats.EWMean`` + ``stats.EWVar``), the simplest online
  detector.
- Metric scoring, batch path: :class:`~netvigil.analytics.batch.SeasonalBatch` scoring the
  same sweep (one array call per round of 10,000 series; same model, same scores).
- Log mining: :class:`~netvigil.analytics.logmining.LogMiner` (masks + variable detection) on
  the Loghub bodies of ../shared/data/loghub-dev, lines/s. Baseline: drain3 defaults, no masks.

    python -m bench.speed_analytics [--series 10000] [--rounds 10] [--repeats 3]
                                    [--detectors spike,noise,slow] [--metric-only]

``--detectors`` times the ensemble with another detector set too (same run, same sweep).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig
from river import stats

from bench.loghub_eval import DEFAULT as LOGHUB
from bench.loghub_eval import load
from netvigil.analytics.batch import SeasonalBatch
from netvigil.analytics.ensemble import EnsembleConfig, EnsembleScorer
from netvigil.analytics.logmining import LogMiner
from netvigil.analytics.logmining import _cache as mask_cache
from netvigil.analytics.logmining import _masky as masky_cache
from netvigil.analytics.seasonal import SeasonalScorer


class _ZScore:
    def __init__(self) -> None:
        self.mean, self.var = stats.EWMean(0.05), stats.EWVar(0.05)

    def update(self, ts: float, v: float) -> float:
        z = (v - self.mean.get()) / (math.sqrt(self.var.get()) + 1e-9)
        self.mean.update(v)
        self.var.update(v)
        return z


def _metric_run(make: Callable[[], Any], n_series: int, rounds: int, seed: int) -> float:
    rng = random.Random(seed)
    series = [make() for _ in range(n_series)]
    values = [
        [50 + 10 * math.sin(r / 30) + rng.gauss(0, 1) for r in range(rounds)] for _ in range(64)
    ]
    t0 = time.process_time()
    for r in range(rounds):
        ts = 1.7e9 + r * 60.0
        for i, s in enumerate(series):
            s.update(ts, values[i & 63][r])
    return n_series * rounds / (time.process_time() - t0)


def _batch_run(n_series: int, rounds: int, seed: int) -> float:
    rng = random.Random(seed)
    batch = SeasonalBatch(n_series)
    values = [
        [50 + 10 * math.sin(r / 30) + rng.gauss(0, 1) for r in range(rounds)] for _ in range(64)
    ]
    sweep = [[values[i & 63][r] for i in range(n_series)] for r in range(rounds)]
    index = list(range(n_series))
    t0 = time.perf_counter()
    for r in range(rounds):
        batch.update(index, 1.7e9 + r * 60.0, sweep[r])
    return n_series * rounds / (time.perf_counter() - t0)


def _cold_miner() -> LogMiner:
    mask_cache.clear()  # every repeat starts with empty mask caches
    masky_cache.clear()
    return LogMiner()


def _memory_per_series(n: int, make: Callable[[], Any]) -> float:
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    scorers = [make() for _ in range(n)]
    for s in scorers:
        for r in range(60):
            s.update(1.7e9 + r * 60.0, 1.0 + r % 3)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / n


def _log_run(messages: list[str], add: Callable[[str], Any]) -> float:
    t0 = time.perf_counter()
    for m in messages:
        add(m)
    return len(messages) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--loghub", type=Path, default=LOGHUB)
    ap.add_argument("--detectors", help="also time the ensemble with these detectors (comma list)")
    ap.add_argument("--metric-only", action="store_true", help="skip the log mining part")
    args = ap.parse_args()
    report: dict[str, object] = {"load_average_1m": os.getloadavg()[0]}
    ours = [_metric_run(EnsembleScorer, args.series, args.rounds, k) for k in range(args.repeats)]
    single = [_metric_run(SeasonalScorer, args.series, args.rounds, k) for k in range(args.repeats)]
    base = [_metric_run(_ZScore, args.series, args.rounds, k) for k in range(args.repeats)]
    report["metric_points_per_cpu_s"] = round(statistics.median(ours))
    report["metric_single_seasonal_points_per_cpu_s"] = round(statistics.median(single))
    report["metric_baseline_zscore_points_per_cpu_s"] = round(statistics.median(base))
    if args.detectors:
        cfg = EnsembleConfig(detectors=tuple(args.detectors.split(",")))
        other = [
            _metric_run(lambda: EnsembleScorer(cfg), args.series, args.rounds, k)
            for k in range(args.repeats)
        ]
        report["metric_variant"] = args.detectors
        report["metric_variant_points_per_cpu_s"] = round(statistics.median(other))
        report["metric_variant_bytes_per_series"] = round(
            _memory_per_series(min(args.series, 10_000), lambda: EnsembleScorer(cfg))
        )
    batch = [_batch_run(args.series, args.rounds, k) for k in range(args.repeats)]
    report["metric_batch_points_per_s"] = round(statistics.median(batch))
    n_mem = min(args.series, 10_000)
    report["metric_bytes_per_series"] = round(_memory_per_series(n_mem, EnsembleScorer))
    report["metric_single_seasonal_bytes_per_series"] = round(
        _memory_per_series(n_mem, SeasonalScorer)
    )
    report["series"], report["rounds"], report["repeats"] = args.series, args.rounds, args.repeats
    if args.metric_only:
        print(json.dumps(report, indent=1))
        return
    messages = [m for d in sorted(args.loghub.iterdir()) if d.is_dir() for m in load(d)[0]]
    ours_l = [_log_run(messages, _cold_miner().add) for _ in range(args.repeats)]
    base_l = [
        _log_run(messages, TemplateMiner(config=TemplateMinerConfig()).add_log_message)
        for _ in range(args.repeats)
    ]
    report["log_lines"] = len(messages)
    report["log_lines_per_s"] = round(statistics.median(ours_l))
    report["log_baseline_drain3_default_lines_per_s"] = round(statistics.median(base_l))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
