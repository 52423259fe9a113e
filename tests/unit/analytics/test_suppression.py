"""Patterns judged false: daily windows (also across midnight), matching, stable ids."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from netvigil.analytics.suppression import (
    describe,
    in_window,
    matches,
    opening_anomaly,
    pattern_of,
    suppression_id,
)
from netvigil.events import AnomalyRef

DAY = 86400.0


def ref(ts: float, *, entity: str = "r1:eth0", kind: str = "threshold") -> AnomalyRef:
    return AnomalyRef(entity=entity, signal="if.out_util", kind=kind, score=1.0, onset_ts=ts)


def test_a_pattern_matches_the_same_symptom_at_the_same_hour_on_later_days() -> None:
    first = ref(3 * DAY + 2 * 3600 + 600)  # 02:10 UTC
    p = pattern_of(first, window_min=45)
    assert (p.start_min, p.end_min) == (85, 175)
    assert matches(p, ref(5 * DAY + 2 * 3600 + 1800))  # 02:30, two days later
    assert not matches(p, ref(5 * DAY + 4 * 3600))  # 04:00: another hour
    assert not matches(p, ref(5 * DAY + 2 * 3600, entity="r2:eth0"))  # another interface
    assert not matches(p, ref(5 * DAY + 2 * 3600, kind="down"))  # another symptom
    assert describe(p) == "threshold on if.out_util of r1:eth0, daily 01:25-02:55 UTC"


def test_a_window_across_midnight_and_one_for_any_time() -> None:
    p = pattern_of(ref(DAY - 600), window_min=30)  # 23:50 UTC
    assert p.start_min > p.end_min
    assert matches(p, ref(2 * DAY + 10 * 60))  # 00:10
    assert not matches(p, ref(2 * DAY + 3600))
    anytime = pattern_of(ref(100.0), window_min=None)
    assert matches(anytime, ref(12345.0)) and describe(anytime).endswith("at any time")


@given(st.integers(0, 1439), st.integers(0, 1439), st.integers(0, 1439))
def test_in_window_agrees_with_walking_the_clock(minute: int, start: int, end: int) -> None:
    inside, m = set(), start
    while m != end:
        inside.add(m)
        m = (m + 1) % 1440
    assert in_window(minute, start, end) == (minute in inside)


def test_the_opening_anomaly_is_the_earliest_strong_one_and_ids_are_stable() -> None:
    weak = ref(10.0, kind="deviation")
    strong = ref(20.0)
    assert opening_anomaly([strong, weak], {"threshold"}) == strong
    assert opening_anomaly([weak], {"threshold"}) == weak
    assert suppression_id(pattern_of(strong)) == suppression_id(pattern_of(ref(20.0 + DAY)))
    assert suppression_id(pattern_of(strong)) != suppression_id(pattern_of(ref(20.0 + 3600)))
