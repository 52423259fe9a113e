"""The batch scorer is the scalar scorer, vectorised: the same verdicts for every series."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netvigil.analytics.batch import SeasonalBatch
from netvigil.analytics.seasonal import SeasonalScorer

_MODELS = ("level", "daily", "weekly")
_HORIZONS = ("spike", "shift")


def _compare(
    batch: SeasonalBatch,
    scorers: list[SeasonalScorer],
    idx: list[int],
    ts: float,
    values: list[float],
) -> None:
    got = batch.update(idx, ts, values)
    for j, i in enumerate(idx):
        v = scorers[i].update(ts, values[j])
        assert got.score[j] == pytest.approx(v.score, abs=1e-9)
        assert got.expected[j] == pytest.approx(v.expected, rel=1e-9, abs=1e-9)
        assert got.z[j] == pytest.approx(v.z, rel=1e-9, abs=1e-9)
        half = 4.0 * got.scale[j]
        assert (got.expected[j] - half, got.expected[j] + half) == pytest.approx(v.band)
        assert _MODELS[got.model[j]] == v.model
        assert _HORIZONS[got.horizon[j]] == v.horizon


def test_same_verdicts_as_the_scalar_scorer_over_weeks_of_seasonal_series() -> None:
    rng = random.Random(3)
    n = 12
    batch, scorers = SeasonalBatch(n), [SeasonalScorer() for _ in range(n)]
    scored = 0.0
    for r in range(2600):  # 18 days of 10-minute points: daily and weekly profiles blend in
        ts = 1.7e9 + r * 600.0
        values = [
            100 * (i + 1) * (1 + 0.3 * math.sin(2 * math.pi * r / 144))
            + rng.gauss(0, i + 1)
            + (500 if r in (1500, 2200) and i % 3 == 0 else 0)
            for i in range(n)
        ]
        # a sweep sees some series only: a subset in a shuffled order
        idx = [i for i in range(n) if rng.random() > 0.1]
        rng.shuffle(idx)
        _compare(batch, scorers, idx, ts, [values[i] for i in idx])
        scored += len(idx)
    assert int(batch.err_n[:, 2].min()) > 0  # the weekly predictor was graded everywhere
    assert scored > 2600 * n * 0.8


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=1.0, max_value=7200.0),
            st.lists(st.floats(min_value=-1e9, max_value=1e9), min_size=3, max_size=3),
        ),
        min_size=1,
        max_size=120,
    )
)
def test_same_verdicts_on_arbitrary_values_and_gaps(steps: list[tuple[float, list[float]]]) -> None:
    batch, scorers = SeasonalBatch(3), [SeasonalScorer() for _ in range(3)]
    ts = 1.7e9
    for gap, values in steps:
        ts += gap
        _compare(batch, scorers, [0, 1, 2], ts, values)


def test_rejects_what_the_scalar_scorer_rejects() -> None:
    batch = SeasonalBatch(2)
    with pytest.raises(ValueError, match="finite"):
        batch.update([0, 1], 0.0, [1.0, math.nan])
    with pytest.raises(ValueError, match="twice"):
        batch.update([1, 1], 0.0, [1.0, 2.0])
    assert int(batch.n.sum()) == 0  # nothing learned from a rejected batch
    assert np.all(batch.update([1], 0.0, [5.0]).score == 0.0)
