"""Anomaly likelihood: tail probabilities of a detector's raw scores on one series."""

from __future__ import annotations

import math
import random

import pytest

from netvigil.analytics.likelihood import AverageLikelihood, TailLikelihood, gaussian_surprisal


def test_gaussian_surprisal_is_the_normal_tail_and_continuous_where_it_switches() -> None:
    for x in (0.0, 1.0, 3.0, 4.5):
        assert gaussian_surprisal(x) == pytest.approx(-math.log10(0.5 * math.erfc(x / 2**0.5)))
    assert gaussian_surprisal(4.999999) == pytest.approx(gaussian_surprisal(5.0), abs=0.01)
    assert gaussian_surprisal(40.0) > gaussian_surprisal(20.0) > 80  # no underflow to inf
    assert math.isfinite(gaussian_surprisal(1e6))


def _spike_likelihood() -> AverageLikelihood:
    a = 0.3
    return AverageLikelihood(avg_alpha=a, hist_alpha=0.005, var_floor=a / (2 - a) * 0.3634)


def test_average_likelihood_rarely_alarms_on_gaussian_residuals_and_flags_a_spike() -> None:
    rng = random.Random(3)
    lk = _spike_likelihood()
    surprisals = [lk.judge(abs(rng.gauss(0, 1))) for _ in range(5000)]
    # after its start, a one-in-10^6 surprisal (6) is not reached on 4,000 normal points
    assert max(surprisals[1000:]) < 6
    assert lk.judge(10.0) > 6


def test_average_likelihood_judges_each_series_against_its_own_history() -> None:
    """The same raw score is rare on a quiet series and ordinary on one that often gives it."""
    rng = random.Random(4)
    quiet, busy = _spike_likelihood(), _spike_likelihood()
    for _ in range(3000):
        quiet.judge(abs(rng.gauss(0, 1)))
        busy.judge(abs(rng.gauss(0, 1)) + (6.0 if rng.random() < 0.05 else 0.0))
    assert quiet.judge(6.0) > busy.judge(6.0) + 2


def test_two_sided_likelihood_flags_shifts_both_ways() -> None:
    up = AverageLikelihood(avg_alpha=0.2, hist_alpha=0.005, var_floor=0.2 / 1.8, two_sided=True)
    down = AverageLikelihood(avg_alpha=0.2, hist_alpha=0.005, var_floor=0.2 / 1.8, two_sided=True)
    rng = random.Random(5)
    for _ in range(2000):
        e = rng.gauss(0, 1)
        up.judge(e)
        down.judge(e)
    assert max(up.judge(4.0) for _ in range(5)) > 5
    assert max(down.judge(-4.0) for _ in range(5)) > 5


def test_empirical_tail_lowers_the_surprisal_of_what_the_series_often_does() -> None:
    def run(tail_alpha: float) -> float:
        lk = AverageLikelihood(
            avg_alpha=0.3, hist_alpha=0.005, var_floor=0.3 / 1.7 * 0.3634, tail_alpha=tail_alpha
        )
        rng = random.Random(6)
        for _ in range(3000):  # Student-like: a large value every ~50 points
            lk.judge(abs(rng.gauss(0, 1)) * (8.0 if rng.random() < 0.02 else 1.0))
        return lk.judge(12.0)

    assert run(0.001) < run(0.0)


def test_tail_likelihood_matches_an_exponential_tail() -> None:
    rng = random.Random(7)
    tl = TailLikelihood(rate=0.05, alpha=0.01, scale=1.0)
    for _ in range(20000):
        tl.learn(rng.expovariate(1.0))
    # P(X > 8) = e^-8 for a unit exponential: -log10 = 3.47
    assert tl.surprisal(8.0) == pytest.approx(8 / math.log(10), abs=0.6)
    assert tl.surprisal(0.5) == 0.0


def test_tail_likelihood_of_a_mostly_zero_score_uses_its_positive_values() -> None:
    tl = TailLikelihood(rate=0.05, alpha=0.01, scale=0.25)
    rng = random.Random(8)
    for _ in range(5000):
        tl.learn(0.25 if rng.random() < 0.01 else 0.0)
    assert tl.u == 0.0
    assert tl.surprisal(0.0) == 0.0
    assert 1.5 < tl.surprisal(0.25) < 3.5  # about one point in a hundred, and a bit


def _emp_likelihood(emp_alpha: float) -> AverageLikelihood:
    a = 0.3
    return AverageLikelihood(
        avg_alpha=a, hist_alpha=0.005, var_floor=a / (2 - a) * 0.3634, emp_alpha=emp_alpha
    )


def test_excursion_record_leaves_gaussian_residuals_at_the_gaussian_surprisal() -> None:
    """Without excursions beyond 3 (Gaussian residuals rarely make one), the series' own
    record changes nothing; with one, it only ever lowers a surprisal."""
    rng = random.Random(5)
    plain, emp = _emp_likelihood(0.0), _emp_likelihood(0.002)
    raws = [abs(rng.gauss(0, 1)) for _ in range(3000)]
    pairs = [(plain.judge(r), emp.judge(r)) for r in raws]
    assert all(e <= p + 1e-12 for p, e in pairs)
    assert sum(1 for p, e in pairs if abs(p - e) > 1e-9) < 30


def test_excursion_record_makes_routine_spikes_unremarkable_but_not_a_larger_one() -> None:
    """A series with a spike of 8 sigmas every 250 points learns that such spikes are
    routine (about one in 250); a spike larger than any before keeps the Gaussian surprisal."""
    rng = random.Random(6)
    plain, emp = _emp_likelihood(0.0), _emp_likelihood(0.002)
    last = (0.0, 0.0)
    for i in range(3000):
        spike = i % 250 == 249
        r = 8.0 if spike else abs(rng.gauss(0, 1))
        pair = (plain.judge(r), emp.judge(r))
        if spike:
            last = pair
    assert last[0] > 5.0  # alone, each routine spike is one in 10^5 or rarer
    assert last[1] < 3.0  # with the series' record, about one in a few hundred
    big = (plain.judge(12.0), emp.judge(12.0))
    assert big[1] == pytest.approx(big[0])


def test_a_gated_excursion_record_waits_for_excursions_to_recur() -> None:
    """With ``emp_gate``, one past spike of 8 sigmas lowers the next one's surprisal less
    than the ungated record does; as they recur, the gate opens towards the series' tail."""
    a = 0.3
    rng = random.Random(7)

    def make(gate: float) -> AverageLikelihood:
        return AverageLikelihood(
            avg_alpha=a,
            hist_alpha=0.005,
            var_floor=a / (2 - a) * 0.3634,
            emp_alpha=0.002,
            emp_gate=gate,
        )

    plain, full, gated = _emp_likelihood(0.0), make(0.0), make(10.0)
    spikes: list[tuple[float, float, float]] = []
    for i in range(4000):
        spike = i % 250 == 249
        r = 8.0 if spike else abs(rng.gauss(0, 1))
        out = (plain.judge(r), full.judge(r), gated.judge(r))
        if spike:
            spikes.append(out)
    second, last = spikes[1], spikes[-1]
    assert second[1] < second[2] - 0.5 < second[0] - 0.5
    assert last[2] < last[0] - 1.0
    assert last[2] - last[1] < second[2] - second[1]
