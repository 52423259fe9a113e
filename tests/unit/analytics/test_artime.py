"""ARTime: NAB's published scores reproduced, strictly online, bounded memory."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netvigil.analytics.artime import ARTime, ARTimeConfig, OnlineARTime, artime_scores
from netvigil.analytics.series import detect_series
from tests.conftest import shared_data

# NAB's published per-row ARTime scores of rogue_agent_key_hold (numenta/NAB,
# results/ARTime/realKnownCause/ARTime_rogue_agent_key_hold.csv): every non-zero score from
# the first row to 2014-07-15 16:30 (all other rows in that stretch are 0).
ROGUE_REPORTS = {
    "2014-07-11 03:00:00": 0.344253,
    "2014-07-11 07:30:00": 0.465235,
    "2014-07-11 16:25:00": 0.412616,
    "2014-07-11 17:20:00": 1.0,
    "2014-07-14 20:10:00": 0.380668,
    "2014-07-15 00:15:00": 0.436222,
}
ROGUE_LAST = "2014-07-15 16:30:00"
# ... and of art_increase_spike_density (artificialWithAnomaly/): two rows of its window
SPIKE_DENSITY_ROWS = {"2014-04-07 23:50:00": 0.899961, "2014-04-08 00:40:00": 0.918717}


def _periodic(n: int, noise: float = 0.0, seed: int = 3) -> list[float]:
    rng = random.Random(seed)
    return [50 + 10 * math.sin(2 * math.pi * i / 288) + rng.gauss(0, noise) for i in range(n)]


def _online(values: list[float], config: ARTimeConfig | None = None) -> list[float]:
    det = OnlineARTime(config)
    return [det.score(v) for v in values]


def test_reproduces_nabs_published_scores() -> None:
    path = shared_data("nab-dev", "data", "realKnownCause", "rogue_agent_key_hold.csv")
    rows = [line.split(",") for line in path.read_text().splitlines()[1:]]
    stamps, values = [r[0] for r in rows], [float(r[1]) for r in rows]
    scores = artime_scores(values)  # NAB's run: the whole file's range and length
    last = stamps.index(ROGUE_LAST)
    got = {stamps[i]: s for i, s in enumerate(scores[: last + 1]) if s != 0.0}
    assert got.keys() == ROGUE_REPORTS.keys()
    for stamp, expected in ROGUE_REPORTS.items():
        assert got[stamp] == pytest.approx(expected, abs=1e-6)


def test_reproduces_nabs_published_scores_of_an_artificial_series() -> None:
    path = shared_data("nab-dev", "data", "artificialWithAnomaly", "art_increase_spike_density.csv")
    rows = [line.split(",") for line in path.read_text().splitlines()[1:]]
    stamps, values = [r[0] for r in rows], [float(r[1]) for r in rows]
    scores = dict(zip(stamps, artime_scores(values), strict=True))
    for stamp, expected in SPIKE_DENSITY_ROWS.items():
        assert scores[stamp] == pytest.approx(expected, abs=1e-6)


def test_online_scores_are_deterministic_and_silent_during_the_probation() -> None:
    values = _periodic(3000, noise=0.5)
    values[2000] += 40
    first, second = _online(values), _online(values)
    assert first == second
    assert first[:750] == [0.0] * 750
    # strictly online: the scores of a prefix do not depend on what follows
    assert _online(values[:1500]) == first[:1500]


def test_a_planted_spike_and_a_level_shift_are_detected() -> None:
    base = _periodic(6000, noise=0.5)
    spike = list(base)
    spike[4000] += 40
    shift = [v + (25 if i >= 4000 else 0) for i, v in enumerate(base)]
    clean = _online(base)
    for planted in (spike, shift):
        scores = _online(planted)
        onset = max(scores[4000:4008])  # the detector samples every 7 points
        assert onset >= 0.9
        assert onset > max(clean)


@pytest.mark.parametrize(
    "values",
    [
        _periodic(6000),
        [80.0 if (i % 288) < 144 else 20.0 for i in range(6000)],
        [42.0] * 6000,
    ],
    ids=["sine", "square", "flat"],
)
def test_no_report_on_a_clean_periodic_or_flat_series(values: list[float]) -> None:
    assert max(_online(values)) == 0.0


def test_memory_is_bounded_by_max_categories() -> None:
    rng = random.Random(5)
    noise = [rng.gauss(0, 1) for _ in range(8000)]
    small = OnlineARTime(ARTimeConfig(max_categories=16))
    scores = [small.score(v) for v in noise]
    assert small.detector is not None and small.buffer is None
    assert small.detector.art.size == 16 and small.detector.art.weights.shape[0] == 16
    assert len(small.detector.sims.values) == small.detector.trend // 2 + 1
    assert all(0.0 <= s <= 1.0 for s in scores)
    large = OnlineARTime()
    for v in noise:
        large.score(v)
    assert large.detector is not None and 16 < large.detector.art.size <= 1024


def test_a_value_that_is_not_finite_is_refused_and_changes_nothing() -> None:
    values = _periodic(1200, noise=0.5)
    ref, det = OnlineARTime(), OnlineARTime()
    expected = [ref.score(v) for v in values]
    got = []
    for i, v in enumerate(values):
        if i in (100, 1000):  # once during the probation, once after
            for bad in (math.nan, math.inf, -math.inf):
                with pytest.raises(ValueError, match="finite"):
                    det.score(bad)
        got.append(det.score(v))
    assert got == expected


def test_values_beyond_the_learned_range_are_clipped_online() -> None:
    det = ARTime(0.0, 10.0, 750, clip=True)
    scores = [det.score(v) for v in [5.0] * 1200 + [1e9] * 100 + [-1e9] * 100]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert max(scores[1200:1210]) > 0.9  # the jump to the top of the range


def test_the_probation_must_hold_two_windows() -> None:
    with pytest.raises(ValueError, match="probation"):
        ARTimeConfig(probation=10)
    with pytest.raises(ValueError, match="power of two"):
        ARTimeConfig(window=6)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.floats(allow_nan=False, allow_infinity=False)
        | st.sampled_from([0.0, 1e308, -1e308, 5e-324]),
        min_size=1,
        max_size=400,
    )
)
def test_any_finite_values_give_scores_in_range(values: list[float]) -> None:
    det = OnlineARTime(ARTimeConfig(probation=32, max_categories=8))
    for v in values:
        assert 0.0 <= det.score(v) <= 1.0
    if det.detector is not None:
        assert det.detector.art.size <= 8


def test_detect_series_runs_artime_by_name() -> None:
    values = _periodic(2000, noise=0.5)
    assert detect_series([60.0 * i for i in range(2000)], values, "artime") == _online(values)
