"""The metric anomaly score: detectors calibrated per series, combined, explained."""

from __future__ import annotations

import math
import pickle
import random

import pytest

from netvigil.analytics.ensemble import DETECTORS, EnsembleConfig, EnsembleScorer, EnsembleVerdict

DAY = 86400.0


def _series(n: int, *, seed: int, noise: float = 1.0, step: float = 300.0) -> list[float]:
    """A daily cycle of 2 noise sigmas' amplitude plus Gaussian noise."""
    rng = random.Random(seed)
    return [
        50 + 2 * noise * math.sin(2 * math.pi * i * step / DAY) + rng.gauss(0, noise)
        for i in range(n)
    ]


def _run(scorer: EnsembleScorer, values: list[float], step: float = 300.0, t0: float = 0.0):
    return [scorer.update(t0 + i * step, v) for i, v in enumerate(values)]


def test_score_does_not_depend_on_units() -> None:
    values = _series(1500, seed=1)
    values[1200] += 15
    a = [v.score for v in _run(EnsembleScorer(), values)]
    b = [v.score for v in _run(EnsembleScorer(), [1000 * v for v in values])]
    assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 1e-6
    assert a[1200] >= 0.5


def test_the_same_anomaly_scores_alike_on_a_quiet_and_a_noisy_series() -> None:
    """Calibration: a jump of 12 of the series' own sigmas scores about the same."""
    quiet = _series(1500, seed=2, noise=0.1)
    noisy = _series(1500, seed=2, noise=3.0)
    quiet[1300] += 12 * 0.1
    noisy[1300] += 12 * 3.0
    sq = _run(EnsembleScorer(), quiet)[1300].score
    sn = _run(EnsembleScorer(), noisy)[1300].score
    assert sq >= 0.5 and sn >= 0.5
    assert abs(sq - sn) < 0.15


def test_normal_behaviour_does_not_reach_the_alarm_level() -> None:
    verdicts = _run(EnsembleScorer(), _series(4000, seed=3))
    assert max(v.score for v in verdicts[300:]) < 0.5


def _changes() -> dict[str, tuple[list[float], int]]:
    base = _series(3000, seed=4, noise=1.0)
    spike = list(base)
    spike[2500] += 20
    rng = random.Random(9)
    return {
        "spike": (spike, 2500),
        "shift": (base[:2500] + [v + 5 for v in base[2500:]], 2500),
        "drift": (base[:2000] + [v + 0.2 * i for i, v in enumerate(base[2000:])], 2000),
        "noise": (base[:2500] + [v + rng.gauss(0, 4) for v in base[2500:]], 2500),
    }


@pytest.mark.parametrize("kind", ["spike", "shift", "drift", "noise"])
def test_each_detector_alone_catches_its_kind_of_change_and_not_the_normal_part(
    kind: str,
) -> None:
    values, at = _changes()[kind]
    verdicts = _run(EnsembleScorer(EnsembleConfig(detectors=(kind,))), values)
    assert max(v.score for v in verdicts[300:at]) < 0.4
    assert max(v.score for v in verdicts[at : at + 300]) >= 0.5
    # and the ensemble catches it too, naming a detector
    both = _run(EnsembleScorer(), values)
    assert max(v.score for v in both[at : at + 300]) >= 0.5


def test_a_spike_is_attributed_to_the_spike_detector() -> None:
    values, at = _changes()["spike"]
    assert _run(EnsembleScorer(), values)[at].detector == "spike"


def test_verdict_explains_expected_value_band_and_detector() -> None:
    values = _series(1500, seed=5)
    values[1400] = 100.0
    v = _run(EnsembleScorer(), values)[1400]
    assert v.detector in DETECTORS
    lo, hi = v.band
    assert lo < v.expected < hi < 100.0
    assert v.z > 6
    assert v.model in ("level", "daily", "weekly")


def test_scored_before_learned_and_warmup_gives_zero() -> None:
    s = EnsembleScorer(EnsembleConfig(warmup=50))
    out = _run(s, [10.0 + (i % 2) * 0.1 for i in range(40)])
    assert all(v.score == 0.0 for v in out)
    expected_before = s.predictor.level[0]
    v = s.update(40 * 300.0, 100.0)
    assert v.expected == pytest.approx(expected_before, abs=0.2)


def test_bad_values_and_unknown_detectors_are_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        EnsembleScorer().update(0.0, math.nan)
    with pytest.raises(ValueError, match="subset"):
        EnsembleScorer(EnsembleConfig(detectors=("spike", "oracle")))


@pytest.mark.parametrize("detectors", [("spike", "shift", "drift", "noise"), DETECTORS])
def test_memory_per_series_is_constant(detectors: tuple[str, ...]) -> None:
    s = EnsembleScorer(EnsembleConfig(detectors=detectors))
    values = _series(3000, seed=6)
    _run(s, values[:500])
    size = len(pickle.dumps(s))
    _run(s, values[500:], t0=500 * 300.0)
    assert len(pickle.dumps(s)) <= size + 64


@pytest.mark.parametrize("calibration", ["average", "tail", "raw"])
def test_every_calibration_gives_scores_in_range(calibration: str) -> None:
    s = EnsembleScorer(EnsembleConfig(calibration=calibration))
    values = _series(800, seed=7)
    values[700] += 30
    scores = [v.score for v in _run(s, values)]
    assert all(0.0 <= x <= 1.0 for x in scores)
    assert scores[700] == max(scores)


@pytest.mark.parametrize("seed", [4, 6])
def test_a_small_sustained_shift_is_caught_by_the_slow_detector_alone(seed: int) -> None:
    """1.5 point sigmas held for good: within point noise (spike and noise miss it), but
    over 4 sigmas of an 8-point block mean, which the slow detector judges."""
    rng = random.Random(seed)
    values = [50 + rng.gauss(0, 1) for _ in range(3000)]
    values = values[:2500] + [v + 1.5 for v in values[2500:]]

    def scores(detectors: tuple[str, ...]) -> list[EnsembleVerdict]:
        return _run(EnsembleScorer(EnsembleConfig(detectors=detectors)), values)

    slow = scores(("slow",))
    assert max(v.score for v in slow[300:2500]) < 0.4
    assert max(v.score for v in slow[2500:2800]) >= 0.5
    assert max(v.score for v in scores(("spike",))[2500:2800]) < 0.4
    both = max(scores(("spike", "noise", "slow"))[2500:2800], key=lambda v: v.score)
    assert both.score >= 0.5 and both.detector == "slow"


def test_the_alarm_budget_leaves_a_first_anomaly_alone_and_raises_the_bar_for_routine_ones() -> (
    None
):
    """With an alarm budget, a series that alarms every 300 points needs ever larger
    excursions to alarm again; its first alarm, and a series that never alarmed, score as
    without the budget."""
    values = _series(4000, seed=8)
    spikes = list(range(1000, 4000, 300))
    for i in spikes:
        values[i] += 8
    budget = EnsembleConfig(budget_alpha=0.001, budget=5.0)
    plain = [v.score for v in _run(EnsembleScorer(), values)]
    kept = [v.score for v in _run(EnsembleScorer(budget), values)]
    assert kept[spikes[0]] == plain[spikes[0]] >= 0.5
    assert kept[: spikes[0] + 1] == plain[: spikes[0] + 1]
    late = spikes[len(spikes) // 2 :]
    assert min(plain[i] for i in late) >= 0.5
    assert sum(plain[i] - kept[i] for i in late) / len(late) > 0.2
    assert all(k <= p for k, p in zip(kept, plain, strict=True))
    quiet = _series(3000, seed=9)
    assert [v.score for v in _run(EnsembleScorer(budget), quiet)] == [
        v.score for v in _run(EnsembleScorer(), quiet)
    ]


def test_with_spike_pair_an_isolated_point_is_not_a_spike_but_two_points_are() -> None:
    values = _series(3000, seed=10)
    values[2000] += 12
    values[2500] += 12
    values[2501] += 12
    pair = [v.score for v in _run(EnsembleScorer(EnsembleConfig(spike_pair=True)), values)]
    plain = [v.score for v in _run(EnsembleScorer(), values)]
    assert plain[2000] >= 0.5 and plain[2500] >= 0.5
    assert max(pair[1995:2010]) < 0.4
    assert max(pair[2500:2503]) >= 0.5
