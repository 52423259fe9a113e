"""Detecting again from a recording's metrics (``netvigil.eval.rescore.redetect``)."""

from __future__ import annotations

from pathlib import Path

from netvigil.analytics.detector import DetectorConfig
from netvigil.eval.rescore import Recording, load_recording, redetect, save_recording
from netvigil.events import Anomaly, Metric


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


OSPF = Anomaly(
    ts=15.0,
    device="r1",
    entity="r1:e1",
    signal="routing.ospf",
    kind="down",
    score=1.0,
    state="active",
    onset_ts=15.0,
    value=0.0,
    detector="events:adjacency",
)
STALE = Anomaly(
    ts=55.0,
    device="r2",
    entity="r2:e0",
    signal="if.in_util",
    kind="deviation",
    score=0.55,
    state="active",
    onset_ts=44.0,
    value=0.99,
    detector="online:deviation",
)


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
