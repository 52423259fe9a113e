"""The online detector: status, threshold with hysteresis, deviation, score-before-learn."""

from __future__ import annotations

import pickle
import random

import pytest
from pydantic import ValidationError

from netvigil.analytics.detector import DetectorConfig, SeriesDetector

CFG = DetectorConfig(warmup=30, z_threshold=6.0, min_points=2, clear_points=3)


def feed(det: SeriesDetector, values: list[float], start: int = 0) -> list[tuple[int, str, str]]:
    out = []
    for i, v in enumerate(values, start):
        tr = det.observe(float(i), v, CFG)
        if tr:
            out.append((i, tr.state, tr.kind))
    return out


def test_status_drop_opens_at_once_and_clears_at_once() -> None:
    det = SeriesDetector.for_signal("if.oper_status", CFG)
    assert feed(det, [1, 1, 0, 0, 0, 1, 1]) == [(2, "active", "down"), (5, "cleared", "down")]


def test_threshold_needs_min_points_and_clears_with_hysteresis() -> None:
    det = SeriesDetector.for_signal("if.out_util", CFG)
    # one point over 0.9 is not enough; two are; 0.85 is still "congested" (clear at 0.8)
    vals = [0.5, 0.95, 0.5, 0.95, 0.97, 0.85, 0.85, 0.7, 0.7, 0.7, 0.5]
    assert feed(det, vals) == [(4, "active", "threshold"), (9, "cleared", "threshold")]


def test_deviation_after_warmup_only_and_onset_is_first_abnormal_point() -> None:
    rng = random.Random(1)
    det = SeriesDetector.for_signal("if.out_bps", CFG)
    base = [100 + rng.gauss(0, 1) for _ in range(100)]
    assert feed(det, base) == []
    spikes = [200.0, 200.0]
    tr1 = det.observe(100.0, spikes[0], CFG)
    tr2 = det.observe(101.0, spikes[1], CFG)
    assert tr1 is None and tr2 is not None
    assert tr2.state == "active" and tr2.kind == "deviation"
    assert tr2.onset_ts == 100.0
    assert 0 < tr2.score <= 1
    assert tr2.expected is not None and abs(tr2.expected - 100) < 5


def test_no_deviation_during_warmup() -> None:
    det = SeriesDetector.for_signal("cpu.util", CFG)
    assert feed(det, [1.0, 1000.0, 1.0, 1000.0, 1000.0] * 5) == []


def test_scores_before_learning() -> None:
    """The first outlier is scored against what came before it, not against itself."""
    det = SeriesDetector.for_signal("cpu.util", CFG)
    feed(det, [10.0 + (i % 2) * 0.1 for i in range(60)])
    assert det.scorer is not None
    before = det.scorer.predictor.level[0]
    check = det._check(60.0, 50.0, CFG)
    assert check.expected is not None and abs(check.expected - before) < 0.2
    assert check.abnormal


def test_memory_per_series_is_constant() -> None:
    det = SeriesDetector.for_signal("if.out_bps", CFG)
    feed(det, [float(i % 7) for i in range(100)])
    size_100 = len(pickle.dumps(det))
    feed(det, [float(i % 7) for i in range(10_000)], start=100)
    assert len(pickle.dumps(det)) <= size_100 + 16


def test_the_detector_settings_section_is_the_detector_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One source of fields: every DetectorConfig field is a setting with an env var, and the
    settings section is handed to the processor as it is."""
    from netvigil.config import describe, load_settings
    from netvigil.streams.detect import DetectorProcessor

    monkeypatch.setenv("NETVIGIL_DETECTOR__SCORE_OPEN", "0.7")
    settings = load_settings(None)
    assert isinstance(settings.detector, DetectorConfig)
    assert settings.detector.score_open == 0.7
    documented = {row["setting"] for row in describe()}
    assert {f"detector.{name}" for name in DetectorConfig.model_fields} <= documented
    assert DetectorProcessor(settings.detector).cfg.score_open == 0.7


def test_the_detector_set_is_a_setting_and_unknown_names_are_refused() -> None:
    cfg = DetectorConfig(detectors=("spike", "noise", "slow"))
    scorer = SeriesDetector.for_signal("cpu.util", cfg).scorer
    assert scorer is not None and scorer.names == ("spike", "noise", "slow")
    default = SeriesDetector.for_signal("cpu.util", DetectorConfig()).scorer
    assert default is not None and default.names == ("spike", "noise")
    with pytest.raises(ValidationError, match="oracle"):
        DetectorConfig(detectors=("spike", "oracle"))


def test_a_received_share_over_the_threshold_opens_like_a_sent_one() -> None:
    """The far end's view of a congested direction: its agent alone may answer."""
    sent = SeriesDetector.for_signal("if.out_util", CFG)
    received = SeriesDetector.for_signal("if.in_util", CFG)
    vals = [0.2, 0.2, 0.99, 0.99, 0.99, 0.5, 0.5, 0.5, 0.5]
    assert (
        feed(received, vals)
        == feed(sent, vals)
        == [
            (3, "active", "threshold"),
            (7, "cleared", "threshold"),
        ]
    )
