"""CAD-OSE: NAB's published scores reproduced, strictly online, bounded memory."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netvigil.analytics.cadose import (
    CadOse,
    CadOseConfig,
    OnlineCadOse,
    RestPeriod,
    cadose_scores,
    py2_tuple_hash,
)
from netvigil.analytics.series import detect_series
from tests.conftest import shared_data

# NAB's published per-row scores of contextOSE (numenta/NAB, results/contextOSE/realKnownCause/,
# MIT licence): (file, revision gated?, {row: score}). Rows counted from 0 after the header.
NYC_ROWS = {285: 0.22754491018, 286: 0.22754491018, 287: 0.22754491018, 288: 0.266922676386}
NYC_ROWS |= {289: 0.314351660466, 290: 0.266289266289, 291: 0.177955665025, 292: 0.18306010929}
NYC_ROWS |= {r: 0.188725490196 for r in range(293, 300)}
NYC_ROWS |= {300: 0.147058823529, 301: 0.157605820106, 302: 0.387974544657}
ROGUE_STAMPS = {
    "2014-07-07 21:30:00": 0.0,
    "2014-07-07 22:50:00": 0.0,
    "2014-07-07 22:55:00": 1.0,
    "2014-07-08 21:05:00": 1.0,
    "2014-07-09 22:50:00": 0.8175,
    "2014-07-15 15:00:00": 0.338461538462,
    "2014-07-15 15:05:00": 0.0,
    "2014-07-15 15:10:00": 0.0,
    "2014-07-15 15:15:00": 0.0192307692308,
    "2014-07-15 15:20:00": 0.0,
    "2014-07-15 15:25:00": 0.0307692307692,
}


def _nab_file(name: str) -> tuple[list[str], list[float]]:
    path = shared_data("nab-dev", "data", "realKnownCause", name)
    rows = [line.split(",") for line in path.read_text().splitlines()[1:]]
    return [r[0] for r in rows], [float(r[1]) for r in rows]


def _nab_config(n: int, gate: bool) -> CadOseConfig:
    # NAB: rest period = probation (15 %, at most 750 rows) / 5
    return CadOseConfig(rest_period=int(min(math.floor(0.15 * n), 750) / 5.0), gate=gate)


def _nab_run(values: list[float], last_row: int, gate: bool) -> list[float]:
    """NAB's run (range = the whole file's min and max), scored up to ``last_row``."""
    det = CadOse(min(values), max(values), _nab_config(len(values), gate))
    return [det.score(v) for v in values[: last_row + 1]]


def test_reproduces_nabs_published_scores_of_the_first_revision() -> None:
    _, values = _nab_file("nyc_taxi.csv")
    scores = _nab_run(values, max(NYC_ROWS), gate=False)
    assert scores[:285] == [0.0] * 285
    for row, expected in NYC_ROWS.items():
        assert scores[row] == pytest.approx(expected, abs=1e-9), row


def test_reproduces_nabs_published_scores_of_the_gated_revision() -> None:
    stamps, values = _nab_file("rogue_agent_key_hold.csv")
    rows = {stamps.index(t): s for t, s in ROGUE_STAMPS.items()}
    scores = _nab_run(values, max(rows), gate=True)
    for row, expected in rows.items():
        assert scores[row] == pytest.approx(expected, abs=1e-9), stamps[row]


def test_python2_tuple_hash() -> None:
    # the values CPython 2.7 (and 3.0-3.7, same algorithm) gives on 64-bit builds
    assert py2_tuple_hash(()) == 3527539
    assert py2_tuple_hash((1, 2)) == 3713081631934410656


def _noisy(n: int, seed: int = 3) -> list[float]:
    rng = random.Random(seed)
    return [math.sin(i / 20) + rng.gauss(0, 0.3) for i in range(n)]


def test_online_scores_are_strictly_online_and_silent_while_learning_the_range() -> None:
    values = _noisy(1500)
    values[1200] = 25.0
    ts = [float(i) for i in range(len(values))]
    full = detect_series(ts, values, "cadose")
    assert detect_series(ts[:1000], values[:1000], "cadose") == full[:1000]
    assert full[:749] == [0.0] * 749
    assert all(0.0 <= s <= 1.0 for s in full)
    assert full[1200] == max(full) and full[1200] >= 0.75


def test_a_report_starts_a_rest_period() -> None:
    cfg = CadOseConfig(rest_period=40, warmup=100)
    values = _noisy(3000, seed=5)
    for i in range(600, 3000, 500):
        values[i] += 30.0
    det = OnlineCadOse(cfg)
    scores = [det.score(v) for v in values]
    high = [i for i, s in enumerate(scores) if s >= cfg.base_threshold]
    assert len(high) >= 2
    for i in high:
        assert scores[i + 1 : i + 1 + cfg.rest_period] == [0.0] * cfg.rest_period


def test_memory_is_bounded_by_max_contexts() -> None:
    det = OnlineCadOse(CadOseConfig(max_contexts=300, warmup=50))
    sizes = []
    for v in _noisy(4000, seed=7):
        s = det.score(v)
        assert 0.0 <= s <= 1.0
        if det.detector is not None:
            sizes.append(len(det.detector.memory.contexts))
    assert max(sizes) <= 300
    assert det.detector is not None and det.detector.resets >= 2


def test_values_beyond_the_learned_range_keep_the_step() -> None:
    det = CadOse(0.0, 7.0, extend=True)
    assert len(det.facts(3.0)) == 3
    assert len(det.facts(100.0)) == 7  # level 100: seven bits
    below = det.facts(-20.0)
    assert len(below) == 6 and below != det.facts(20.0)
    clipped = CadOse(0.0, 7.0)
    assert clipped.facts(100.0) == clipped.facts(7.0)


def test_the_first_revision_and_nabs_range_on_a_constant_series() -> None:
    scores = cadose_scores([5.0] * 400, CadOseConfig(rest_period=20))
    assert len(scores) == 400 and all(0.0 <= s <= 1.0 for s in scores)


def test_a_value_that_is_not_finite_is_refused() -> None:
    det = CadOse(0.0, 1.0)
    with pytest.raises(ValueError, match="finite"):
        det.score(math.nan)


def test_a_value_that_is_not_finite_is_refused_online_and_changes_nothing() -> None:
    values = _noisy(900, seed=11)
    ref, det = OnlineCadOse(CadOseConfig(warmup=100)), OnlineCadOse(CadOseConfig(warmup=100))
    expected = [ref.score(v) for v in values]
    got = []
    for i, v in enumerate(values):
        if i in (50, 500):  # once while the range is learned, once after
            for bad in (math.nan, math.inf, -math.inf):
                with pytest.raises(ValueError, match="finite"):
                    det.score(bad)
        got.append(det.score(v))
    assert got == expected


def test_a_constant_series_then_a_jump() -> None:
    det = OnlineCadOse(CadOseConfig(warmup=100, rest_period=20))
    scores = [det.score(4.0) for _ in range(600)]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert max(scores[200:]) < 0.75  # a flat line is no news once learned
    assert det.score(9.0) >= 0.75


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([0.0, 1e308, -1e308]),
        min_size=1,
        max_size=160,
    )
)
def test_any_finite_values_give_scores_in_range_and_bounded_facts(values: list[float]) -> None:
    cfg = CadOseConfig(warmup=20, rest_period=5, max_contexts=2_000)
    det = OnlineCadOse(cfg)
    for v in values:
        assert 0.0 <= det.score(v) <= 1.0
        if det.detector is not None:
            assert len(det.detector.facts(v)) <= cfg.bits + 13 + 1


def test_the_rest_period_passes_a_score_only_after_a_quiet_stretch() -> None:
    gate = RestPeriod(threshold=0.75, rest_period=3)
    raws = [0.9, 0.1, 0.2, 0.3, 0.8, 0.9, 0.1, 0.1, 0.1, 0.5]
    # the history starts with a high score: 3 raw scores later one is reported (0.8), which
    # starts the next rest period: 0.9 and the next three are silenced
    assert [gate(r) for r in raws] == [0.0, 0.0, 0.0, 0.0, 0.8, 0.0, 0.0, 0.0, 0.0, 0.5]
