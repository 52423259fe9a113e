"""SLO burn rates and multi-window alerts."""

from __future__ import annotations

import pickle

from netvigil.analytics.slo import SLO, BurnRateTracker

SLO_999 = SLO("checkout", 0.999)


def feed(tr: BurnRateTracker, start: float, seconds: int, error_every: int | None) -> float:
    ts = start
    for i in range(seconds // 10):
        ts = start + 10 * i
        bad = error_every is not None and i % error_every == 0
        tr.observe_value(ts, 0.0 if bad else 1.0)
    return ts


def test_no_errors_no_burn_no_alert() -> None:
    tr = BurnRateTracker(SLO_999)
    ts = feed(tr, 0, 7200, None)
    assert tr.burn(ts, 3600) == 0.0
    assert tr.alerts(ts) == []
    assert tr.budget_remaining(ts) == 1.0


def test_total_outage_pages_within_minutes_and_stops_after_recovery() -> None:
    tr = BurnRateTracker(SLO_999)
    ts = feed(tr, 0, 6 * 3600, None)  # a healthy morning
    out = feed(tr, ts + 10, 300, 1)  # five minutes of every check failing
    pages = [a for a in tr.alerts(out) if a.severity == "page"]
    assert pages and pages[0].long_window_s == 3600
    assert pages[0].short_burn > 14.4
    rec = feed(tr, out + 10, 1800, None)  # recovered for 30 minutes
    assert [a for a in tr.alerts(rec) if a.long_window_s == 3600] == []


def test_slow_burn_tickets_but_does_not_page() -> None:
    tr = BurnRateTracker(SLO_999)
    ts = feed(tr, 0, 3 * 86400, 500)  # 0.2 % errors: burn 2 for three days
    severities = {a.severity for a in tr.alerts(ts)}
    assert severities == {"ticket"}
    assert 1.5 < tr.burn(ts, 86400) < 2.5


def test_latency_slo_counts_slow_events_as_bad() -> None:
    tr = BurnRateTracker(SLO("checkout", 0.99, kind="latency", latency_ms=200))
    for i in range(100):
        tr.observe_value(float(i), 250.0 if i < 10 else 50.0)
    assert abs(tr.error_rate(99.0, 3600) - 0.10) < 1e-9  # type: ignore[operator]
    assert abs(tr.burn(99.0, 3600) - 10.0) < 1e-6


def test_memory_is_constant() -> None:
    tr = BurnRateTracker(SLO_999)
    feed(tr, 0, 3600, 7)
    size = len(pickle.dumps(tr))
    feed(tr, 3600, 10 * 86400, 7)
    assert len(pickle.dumps(tr)) <= size * 1.1
