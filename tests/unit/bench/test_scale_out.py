"""The scale-out bench's arithmetic: CPU from /proc stat, rates, the lag summary, ratios."""

from __future__ import annotations

import math
import os
from pathlib import Path

from bench.scale_out import cpu_seconds, lag_summary, rates, ratios


def test_cpu_seconds_sums_user_system_and_children_after_a_name_with_spaces() -> None:
    # fields 14-17 (utime, stime, cutime, cstime) = 250, 50, 30, 20 ticks at 100 per second
    stat = "4242 (netvigil worker) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 30 20 20 0 5"
    assert cpu_seconds(stat, 100) == 3.5


def test_cpu_seconds_of_this_process_is_what_the_kernel_says() -> None:
    for _ in range(200_000):  # burn a little CPU so the figure is not zero
        pass
    ticks = os.sysconf("SC_CLK_TCK")
    got = cpu_seconds(Path("/proc/self/stat").read_text(), ticks)
    times = os.times()
    expect = times.user + times.system + times.children_user + times.children_system
    assert abs(got - expect) <= 2 / ticks


def test_rates_are_events_per_wall_and_per_cpu_second() -> None:
    assert rates(1000, 4.0, 2.0) == {"events_per_s": 250.0, "events_per_cpu_s": 500.0}
    assert all(math.isnan(v) for v in rates(1000, 0.0, 0.0).values())


def test_lag_summary_keeps_the_largest_lag_and_spreads_the_series_over_the_run() -> None:
    samples = [(float(t), lag) for t, lag in enumerate([5, 9, 40, 33, 20, 12, 8, 3, 1, 0])]
    got = lag_summary(samples, points=4)
    assert got["lag_max"] == 40
    assert got["lag_zero_s"] == 9.0
    assert got["lag_series"] == [[0.0, 5], [3.0, 33], [6.0, 8], [9.0, 0]]
    assert lag_summary(samples[:3], points=4)["lag_series"] == [[0.0, 5], [1.0, 9], [2.0, 40]]
    assert lag_summary([(0.0, 3), (1.5, 0), (2.5, 1), (3.5, 0)])["lag_zero_s"] == 1.5
    assert lag_summary([]) == {"lag_max": None, "lag_zero_s": None, "lag_series": []}


def test_ratios_are_against_the_smallest_worker_count() -> None:
    per_w = {
        1: {"events_per_s": 100.0, "events_per_cpu_s": 400.0},
        2: {"events_per_s": 150.0, "events_per_cpu_s": 380.0},
        4: {"events_per_s": 140.0, "events_per_cpu_s": 300.0},
    }
    got = ratios(per_w, ("events_per_s", "events_per_cpu_s"))
    assert got[1] == {"events_per_s": 1.0, "events_per_cpu_s": 1.0}
    assert got[2] == {"events_per_s": 1.5, "events_per_cpu_s": 0.95}
    assert got[4] == {"events_per_s": 1.4, "events_per_cpu_s": 0.75}
