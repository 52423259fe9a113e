"""The seasonal scorer: online, calibrated, seasonal, constant memory, explained."""

from __future__ import annotations

import math
import pickle
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netvigil.analytics.seasonal import ScorerConfig, SeasonalScorer

DAY = 86400.0


def daily(t: float, rng: random.Random) -> float:
    """A daily cycle between 20 (midnight) and 80 (noon) with a little noise."""
    return 50.0 - 30.0 * math.cos(2 * math.pi * (t % DAY) / DAY) + rng.gauss(0, 1)


def run(scorer: SeasonalScorer, values: list[tuple[float, float]]) -> list[float]:
    return [scorer.update(t, v).score for t, v in values]


def test_quiet_series_scores_low_and_a_spike_scores_high() -> None:
    rng = random.Random(3)
    s = SeasonalScorer()
    scores = run(s, [(i * 60.0, 50 + rng.gauss(0, 1)) for i in range(2000)])
    assert max(scores[200:]) < 0.5
    v = s.update(2000 * 60.0, 80.0)
    assert v.score > 0.9
    assert v.horizon == "spike"
    assert v.band[0] < 50 < v.band[1] and v.expected == pytest.approx(50, abs=1)
    assert v.z > 10


def test_daily_profile_learns_the_cycle_and_flags_a_missing_jump() -> None:
    rng = random.Random(5)
    step = 300.0
    s = SeasonalScorer()
    days = 13
    run(s, [(i * step, daily(i * step, rng)) for i in range(int(days * DAY / step))])
    # a normal day scores low: the cycle is expected
    normal = run(s, [(t, daily(t, rng)) for t in (days * DAY + k * step for k in range(288))])
    assert max(normal) < 0.5
    assert s.update((days + 1) * DAY, daily((days + 1) * DAY, rng)).model in {"daily", "weekly"}
    # the next morning stays flat at the daily mean: the missing rise is anomalous
    t0 = (days + 1) * DAY + 6 * 3600
    missing = run(s, [(t0 + k * step, 50.0 + rng.gauss(0, 1)) for k in range(24)])
    assert max(missing) > 0.9


def test_level_shift_fires_then_is_adopted() -> None:
    rng = random.Random(7)
    s = SeasonalScorer()
    run(s, [(i * 60.0, 10 + rng.gauss(0, 0.5)) for i in range(1000)])
    after = run(s, [((1000 + i) * 60.0, 30 + rng.gauss(0, 0.5)) for i in range(600)])
    assert max(after[:5]) > 0.9
    assert max(after[-100:]) < 0.5


def test_score_one_does_not_learn_and_matches_update() -> None:
    s = SeasonalScorer()
    run(s, [(i * 60.0, float(i % 5)) for i in range(300)])
    snapshot = pickle.dumps(s)
    x = {"ts": 300 * 60.0, "value": 40.0}
    first = s.score_one(x)
    assert pickle.dumps(s) == snapshot  # nothing learned
    assert s.update(x["ts"], x["value"]).score == pytest.approx(first)


def test_memory_is_constant() -> None:
    s = SeasonalScorer()
    run(s, [(i * 60.0, float(i % 7)) for i in range(500)])
    size = len(pickle.dumps(s))
    run(s, [(i * 60.0, float(i % 7)) for i in range(500, 30_000)])
    assert len(pickle.dumps(s)) <= size + 32


def test_rejects_non_finite_values() -> None:
    with pytest.raises(ValueError):
        SeasonalScorer().update(0.0, math.nan)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(-1e9, 1e10, allow_nan=False, allow_infinity=False),
            st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False),
        ),
        min_size=1,
        max_size=120,
    )
)
def test_any_finite_input_gives_a_score_in_unit_interval(points: list[tuple[float, float]]) -> None:
    s = SeasonalScorer(ScorerConfig(warmup=2))
    for t, v in points:
        verdict = s.update(t, v)
        assert 0.0 <= verdict.score <= 1.0
        assert verdict.model in {"level", "daily", "weekly"}
