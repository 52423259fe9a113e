"""The NAB scorer against hand-computed cases of NAB's published rules."""

from __future__ import annotations

import math

import pytest

from bench.nabscore import prepare, scaled_sigmoid, score_corpus


def test_scaled_sigmoid_matches_nab_reference_values() -> None:
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(-0.5) == pytest.approx(0.84828, abs=1e-5)
    assert scaled_sigmoid(0.0) == pytest.approx(0.0)
    assert scaled_sigmoid(1.0) == pytest.approx(-0.98661, abs=1e-5)
    assert scaled_sigmoid(3.5) == -1.0


def _file(n: int, window: tuple[int, int], hits: list[int]) -> object:
    scores = [0.0] * n
    for i in hits:
        scores[i] = 1.0
    return prepare(n, [window], scores)


def test_perfect_null_and_early_detection() -> None:
    n = 1000  # probation = 150 rows
    perfect = score_corpus({"a": _file(n, (500, 599), [500])})
    assert perfect["score"] == pytest.approx(100.0)
    null = score_corpus({"a": _file(n, (500, 599), [])})
    assert null["score"] == pytest.approx(0.0)
    middle = score_corpus({"a": _file(n, (500, 599), [550])})
    expected_raw = scaled_sigmoid(-(599 - 550 + 1) / 100) / scaled_sigmoid(-1.0)
    assert middle["raw"] == pytest.approx(expected_raw)


def test_false_positives_cost_and_only_the_first_detection_in_a_window_counts() -> None:
    n = 1000
    # 3 detections in the window (only the first counts) + one FP far from it (-0.11)
    res = score_corpus({"a": _file(n, (500, 599), [500, 510, 520, 300])})
    assert res["raw"] == pytest.approx(1.0 - 0.11)
    # an FP right after the window costs less than one far away
    near = score_corpus({"a": _file(n, (500, 599), [500, 601])})
    assert -0.11 < near["raw"] - 1.0 < 0


def test_detections_in_probation_are_ignored() -> None:
    res = score_corpus({"a": _file(1000, (500, 599), [10, 500])})
    assert res["raw"] == pytest.approx(1.0)


def test_threshold_is_optimised_over_the_corpus() -> None:
    n = 1000
    scores = [0.0] * n
    scores[520] = 0.7  # a detection in the window at 0.7
    scores[300] = 0.9  # a false positive scoring higher
    res = score_corpus({"a": prepare(n, [(500, 599)], scores)})
    assert res["threshold"] == pytest.approx(0.7)
    assert math.isclose(res["raw"], scaled_sigmoid(-0.8) / scaled_sigmoid(-1.0) - 0.11)


def _raw_at(files: dict[str, object], threshold: float) -> float:
    """NAB's rules applied directly at one threshold (no sweep)."""
    raw = 0.0
    for f in files.values():
        hit = f.scores >= threshold  # type: ignore[attr-defined]
        win = f.window  # type: ignore[attr-defined]
        raw += float(sum(f.sigmoid[hit & (win < 0)])) * 0.11  # type: ignore[attr-defined]
        for w in sorted(set(win[win >= 0].tolist())):
            rows = [i for i in range(len(win)) if hit[i] and win[i] == w]
            raw += f.sigmoid[rows[0]] if rows else -1.0  # type: ignore[attr-defined]
    return raw


def test_the_sweep_finds_the_best_threshold_of_a_direct_evaluation() -> None:
    """The vectorised sweep against NAB's rules evaluated at every distinct score."""
    import random

    rng = random.Random(5)
    for _ in range(40):
        files = {}
        for k in range(rng.randint(1, 3)):
            n = rng.randint(200, 400)
            a = rng.randint(160, n - 40)
            windows = [(a, a + rng.randint(5, 30))]
            scores = [rng.randint(0, 8) / 8 for _ in range(n)]
            files[f"f{k}"] = prepare(n, windows, scores)
        res = score_corpus(files)
        candidates = {float(s) for f in files.values() for s in f.scores}
        best = max([-float(len(files))] + [_raw_at(files, t) for t in candidates])
        assert res["raw"] == pytest.approx(best)
        assert _raw_at(files, float(res["threshold"])) == pytest.approx(res["raw"])
