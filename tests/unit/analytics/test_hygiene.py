"""Alert hygiene: hysteresis, per-entity de-duplication, onset scores."""

from __future__ import annotations

from netvigil.analytics.hygiene import EntityDedup, Hysteresis, OnsetFilter


def test_hysteresis_needs_min_points_and_clear_points() -> None:
    h = Hysteresis(min_points=2, clear_points=2)
    steps = [h.step(float(i), a) for i, a in enumerate([1, 0, 1, 1, 1, 0, 1, 0, 0, 0])]
    assert steps == [None, None, None, "open", None, None, None, None, "clear", None]
    assert h.onset_ts == 6.0  # the last abnormal run began at 6


def test_weak_alerts_fold_into_an_open_one_and_strong_ones_do_not() -> None:
    d = EntityDedup()
    assert d.admit_open("r1:eth0", "if.oper_status", foldable=False)
    assert not d.admit_open("r1:eth0", "if.out_bps", foldable=True)
    assert d.also("r1:eth0") == ["if.out_bps"]
    assert d.admit_open("r1:eth0", "if.out_util", foldable=False)
    assert not d.admit_clear("r1:eth0", "if.out_bps")
    assert d.admit_clear("r1:eth0", "if.oper_status")
    assert d.admit_clear("r1:eth0", "if.out_util")
    # nothing open any more: a weak alert is published again
    assert d.admit_open("r1:eth0", "if.out_bps", foldable=True)


def test_onset_filter_keeps_the_onset_and_holds_zero_for_the_refractory_period() -> None:
    f = OnsetFilter(level=0.5, refractory=3)
    out = [f(s) for s in [0.1, 0.9, 0.95, 0.99, 0.97, 0.2, 0.8]]
    assert out == [0.1, 0.9, 0.0, 0.0, 0.0, 0.2, 0.8]
