"""Detecting again from a recording's metrics (``netvigil.eval.rescore.redetect``)."""

from __future__ import annotations

from pathlib import Path

from netvigil.analytics.detector import DetectorConfig
from netvigil.eval.rescore import Recording, load_recording, redetect, save_recording
from netvigil.events import Anomaly, Metric
from tests.unit.streams.test_correlate import anomaly


def _recording(metrics: list[Metric], anomalies: list[Anomaly]) -> Recording:
    return Recording(
        side="lab",
        topology="t.graphml",
        plan={},
        faults=[],
        lab_kinds=[],
        harmful=[],
        anomalies=anomalies,
        grace_s=60.0,
        metrics=metrics,
    )


def _util(ts: float, value: float) -> Metric:
    return Metric(ts=ts, device="r2", name="if.in_util", value=value, labels={"interface": "e0"})


OSPF = anomaly("r1:e1", 15.0, signal="routing.ospf")
#: what the detector of the day gave on the series: to be replaced
STALE = anomaly("r2:e0", 55.0, kind="deviation", signal="if.in_util", score=0.55)


def test_the_metric_series_are_detected_again_and_the_event_anomalies_kept(
    tmp_path: Path,
) -> None:
    metrics = [_util(float(t), 0.2 if t < 20 else 0.99) for t in range(0, 70, 10)]
    rec = _recording(metrics, [OSPF, STALE])
    path = tmp_path / "rec.json"
    save_recording(path, rec)
    again = redetect(load_recording(path), DetectorConfig())
    assert [(a.signal, a.kind, a.ts) for a in again] == [
        ("routing.ospf", "down", 15.0),
        ("if.in_util", "threshold", 30.0),  # the second poll over the threshold
    ]
    assert again[1].onset_ts == 20.0 and again[1].entity == "r2:e0"


def test_a_recording_without_metrics_is_returned_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    # a recording written before the metrics were kept has no "metrics" key
    path.write_bytes(
        b'{"side":"lab","topology":"t","plan":{},"faults":[],"lab_kinds":[],'
        b'"harmful":[],"anomalies":[],"grace_s":60.0}'
    )
    rec = load_recording(path)
    assert rec.metrics == []
    assert redetect(_recording([], [OSPF, STALE])) == [OSPF, STALE]
