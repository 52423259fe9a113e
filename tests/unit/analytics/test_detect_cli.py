"""``netvigil detect``: the command-line contract on a CSV series."""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

from click.testing import CliRunner

from netvigil.analytics.detector import DetectorConfig, SeriesDetector
from netvigil.analytics.ensemble import EnsembleConfig, EnsembleVerdict
from netvigil.analytics.hygiene import OnsetFilter
from netvigil.analytics.series import (
    ONSET_LEVEL,
    SeriesScorerName,
    detect_series,
    score_series,
)
from netvigil.cli import main
from netvigil.cli.analytics import parse_timestamp
from netvigil.config import load_settings


def _write(path: Path, rows: list[tuple[str, float]]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "value"])
        w.writerows(rows)


def _detect_with(
    tmp_path: Path, scorer: SeriesScorerName, stamps: list[str], values: list[float]
) -> list[float]:
    """``netvigil detect --config`` with ``detector.series_scorer: scorer``: its scores, which
    must be that scorer's (``detect_series``) and not the default ensemble's."""
    src, out, cfg = tmp_path / "s.csv", tmp_path / "o.csv", tmp_path / "c.yaml"
    _write(src, list(zip(stamps, values, strict=True)))
    cfg.write_text(f"detector:\n  series_scorer: {scorer}\n")
    args = ["detect", "--input", str(src), "--output", str(out), "--config", str(cfg)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    scores = [float(r[2]) for r in list(csv.reader(out.open()))[1:]]
    ts = [float(s) for s in stamps]
    expected = detect_series(ts, values, scorer)
    assert max(abs(a - b) for a, b in zip(scores, expected, strict=True)) < 1e-6
    assert expected != detect_series(ts, values, "ensemble")
    return scores


def test_detect_writes_one_score_per_row_equal_to_the_streaming_scorer(tmp_path: Path) -> None:
    stamps = [
        f"2014-01-{1 + i // 288:02d} {(i % 288) // 12:02d}:{(i % 12) * 5:02d}:00"
        for i in range(2000)
    ]
    values = [10 + 3 * math.sin(2 * math.pi * i / 288) + (i % 7) * 0.1 for i in range(2000)]
    values[1500] += 40
    src, out = tmp_path / "s.csv", tmp_path / "o.csv"
    _write(src, list(zip(stamps, values, strict=True)))
    res = CliRunner().invoke(main, ["detect", "--input", str(src), "--output", str(out)])
    assert res.exit_code == 0, res.output
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["timestamp", "value", "anomaly_score"]
    assert len(rows) == 2001
    scores = [float(r[2]) for r in rows[1:]]
    expected = score_series([parse_timestamp(s) for s in stamps], values).scores
    assert max(abs(a - b) for a, b in zip(scores, expected, strict=True)) < 1e-6
    assert scores[1500] == max(scores) and scores[1500] >= 0.5
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_detect_runs_the_scorer_the_settings_name(tmp_path: Path) -> None:
    n = 1200
    stamps = [str(60 * i) for i in range(n)]
    values = [5 + 2 * math.sin(2 * math.pi * i / 50) for i in range(n)]
    values[1000] += 30
    scores = _detect_with(tmp_path, "cadose", stamps, values)
    assert scores[:749] == [0.0] * 749  # CAD-OSE learns the range on the first 750 rows
    assert scores[1000] == max(scores) and scores[1000] >= 0.75


def test_detect_runs_artime_when_the_settings_name_it(tmp_path: Path) -> None:
    n = 3000
    stamps = [str(300 * i) for i in range(n)]
    values = [50 + 10 * math.sin(2 * math.pi * i / 288) for i in range(n)]
    values[2000] += 40
    scores = _detect_with(tmp_path, "artime", stamps, values)
    assert scores[:750] == [0.0] * 750  # ARTime learns the range on the first 750 rows
    # the spike is the one report, at the next downsampled step (every 7 rows)
    assert [i for i, s in enumerate(scores) if s > 0] == [2001] and scores[2001] >= 0.9


def test_detect_refuses_an_unknown_scorer(tmp_path: Path) -> None:
    src, cfg = tmp_path / "s.csv", tmp_path / "c.yaml"
    _write(src, [("0", 1.0)])
    cfg.write_text("detector:\n  series_scorer: oracle\n")
    args = ["detect", "--input", str(src), "--output", str(tmp_path / "o"), "--config", str(cfg)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code != 0
    assert "series_scorer" in res.output


def test_detect_refuses_a_file_without_the_header(tmp_path: Path) -> None:
    src = tmp_path / "bad.csv"
    src.write_text("1,2\n3,4\n")
    res = CliRunner().invoke(main, ["detect", "--input", str(src), "--output", str(tmp_path / "o")])
    assert res.exit_code != 0
    assert "timestamp,value" in res.output


def test_detect_runs_the_detectors_the_settings_name(tmp_path: Path) -> None:
    """``detector.detectors`` reaches the command's ensemble: a small sustained shift that
    only the slow detector sees scores as ``score_series`` with that set scores it."""
    rng = random.Random(4)
    values = [50 + rng.gauss(0, 1) for _ in range(3000)]
    values = values[:2500] + [v + 1.5 for v in values[2500:]]
    ts = [1.7e9 + 300.0 * i for i in range(3000)]
    src, out, cfg = tmp_path / "s.csv", tmp_path / "o.csv", tmp_path / "c.yaml"
    _write(src, [(str(t), v) for t, v in zip(ts, values, strict=True)])
    cfg.write_text("detector:\n  detectors: [spike, noise, slow]\n")
    args = ["detect", "--input", str(src), "--output", str(out), "--config", str(cfg)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    scores = [float(r[2]) for r in list(csv.reader(out.open()))[1:]]
    expected = score_series(ts, values, EnsembleConfig(detectors=("spike", "noise", "slow")))
    assert max(abs(a - b) for a, b in zip(scores, expected.scores, strict=True)) < 1e-6
    assert max(scores[2500:2800]) >= 0.5 > max(score_series(ts, values).scores[2500:2800])


def test_detect_refuses_an_unknown_detector(tmp_path: Path) -> None:
    src = tmp_path / "s.csv"
    _write(src, [("1", 1.0)])
    cfg = tmp_path / "c.yaml"
    cfg.write_text("detector:\n  detectors: [spike, oracle]\n")
    args = ["detect", "--input", str(src), "--output", str(tmp_path / "o"), "--config", str(cfg)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code != 0
    assert "oracle" in res.output


def test_the_detector_settings_are_the_benchmarked_configuration() -> None:
    """The service's settings, left at their defaults, build the configuration the benchmarks
    measure (``EnsembleConfig()``: warm-up, level weight and detectors alike)."""
    assert DetectorConfig().scorer() == EnsembleConfig()
    assert load_settings(None).detector.scorer() == EnsembleConfig()


def _through_both(
    tmp_path: Path, ts: list[float], values: list[float], yaml: str | None
) -> tuple[list[float], list[float], list[int]]:
    """The same series through ``netvigil detect`` and through the service's detector built
    from the same settings: the command's scores, the service scorer's scores passed through
    the command's onset filter, and the points where the service opened a deviation."""
    src, out = tmp_path / "s.csv", tmp_path / "o.csv"
    _write(src, [(str(t), v) for t, v in zip(ts, values, strict=True)])
    args = ["detect", "--input", str(src), "--output", str(out)]
    cfg_path = None
    if yaml is not None:
        cfg_path = tmp_path / "c.yaml"
        cfg_path.write_text(yaml)
        args += ["--config", str(cfg_path)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    cli = [float(r[2]) for r in list(csv.reader(out.open()))[1:]]

    settings = load_settings(str(cfg_path) if cfg_path else None).detector
    det = SeriesDetector.for_signal("cpu.util", settings)
    scorer = det.scorer
    assert scorer is not None
    raw: list[float] = []
    update = scorer.update

    def recorded(t: float, v: float) -> EnsembleVerdict:
        verdict = update(t, v)
        raw.append(verdict.score)
        return verdict

    scorer.update = recorded  # type: ignore[method-assign]
    opened = []
    for t, v in zip(ts, values, strict=True):
        tr = det.observe(t, v, settings)
        if tr is not None and tr.state == "active":
            opened.append(ts.index(tr.onset_ts))
    onset = OnsetFilter(level=ONSET_LEVEL)
    return cli, [onset(s) for s in raw], opened


EARLY = DetectorConfig().warmup + 20
"""A fault soon after the default warm-up."""
FAULTS = ((EARLY, EARLY + 8), (600, 608))


def _early_and_late_faults(n: int = 900) -> tuple[list[float], list[float]]:
    rng = random.Random(11)
    ts = [1.7e9 + 60.0 * i for i in range(n)]
    values = [40 + 5 * math.sin(2 * math.pi * i / 120) + rng.gauss(0, 0.5) for i in range(n)]
    for start, end in FAULTS:
        for i in range(start, end):
            values[i] += 30
    return ts, values


def _faults_of(points: list[int]) -> list[int | None]:
    """The fault each point falls in (its index in FAULTS), None for a false alarm."""
    return [next((k for k, (a, b) in enumerate(FAULTS) if a <= i < b), None) for i in points]


def test_netvigil_detect_and_the_service_detector_give_the_same_anomalies(tmp_path: Path) -> None:
    """Default settings: every point's score is the same through both (so the command's
    benchmarks measure the service's detector), and both report the fault that comes soon
    after the warm-up as well as the later one."""
    ts, values = _early_and_late_faults()
    cli, service, opened = _through_both(tmp_path, ts, values, None)
    assert max(abs(a - b) for a, b in zip(cli, service, strict=True)) < 1e-6
    reported = [i for i, s in enumerate(cli) if s >= ONSET_LEVEL]
    assert _faults_of(opened) == [0, 1]
    assert _faults_of(reported) == [0, 1]


def test_detector_settings_reach_netvigil_detect_and_the_service_alike(tmp_path: Path) -> None:
    """A settings file that changes the warm-up, the level weight and the detector set changes
    both the same way (the command used to read only the detector set)."""
    ts, values = _early_and_late_faults()
    warmup = EARLY + 40
    yaml = f"detector:\n  warmup: {warmup}\n  ew_alpha: 0.1\n  detectors: [spike, noise, slow]\n"
    cli, service, opened = _through_both(tmp_path, ts, values, yaml)
    assert max(abs(a - b) for a, b in zip(cli, service, strict=True)) < 1e-6
    assert max(cli[:warmup]) == 0.0  # the early fault falls in the longer warm-up
    assert _faults_of(opened) == [1]
    assert _faults_of([i for i, s in enumerate(cli) if s >= ONSET_LEVEL]) == [1]
    default_cli, _, _ = _through_both(tmp_path, ts, values, None)
    assert cli != default_cli
