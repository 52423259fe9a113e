"""``bench scale`` without the pipeline (``--no-storm``): the contract's keys all there, the
pipeline's figures null with a reason, import and ranking measured on the generated network;
``storm_incident_s`` at the twin's speeds (its definition, on a watch filled by hand)."""

from __future__ import annotations

from typing import Any

from netvigil.eval.scale import FIELDS, ScaleSpec, Storm, _storm_figures, _Watch, run_scale_bench
from netvigil.events import Anomaly, Incident, RootCause


def test_without_the_storm_the_pipeline_figures_are_null_with_a_reason() -> None:
    phases: list[str] = []
    report = run_scale_bench(
        ScaleSpec(devices=80, rank_samples=10, storm=False),
        lambda phase, done, total: phases.append(phase),
    )
    assert list(report)[: len(FIELDS)] == list(FIELDS)
    assert report["devices"] == 80 and report["interfaces"] == 2 * report["links"] > 0
    pipeline = {
        "metrics_per_s",
        "anomalies_per_s_peak",
        "correlator_anomalies_per_cpu_s",
        "storm_incidents",
        "storm_incident_s",
        "incident_latency_p99_s",
    }
    assert {k for k in FIELDS if report[k] is None} == pipeline
    assert set(report["unmeasured"]) == pipeline
    assert all("--no-storm" in why for why in report["unmeasured"].values())
    assert report["graph_import_s"] > 0 and report["rank_p99_ms"] > 0
    assert report["graph_import_cpu_s"] > 0 and report["rank_p99_cpu_ms"] > 0
    assert report["rss_mb_per_worker"] > 0
    assert {"generating", "importing", "ranking"} <= set(phases)
    assert "pipeline (twin steps)" not in phases
    # the storm it would inject is still chosen: a core pair that cuts devices off
    assert len(report["storm_failed"]) == 2 and report["storm_isolated_devices"] > 0


def _naming(storm_wall: float, named_wall: float, speed: float) -> float | None:
    """storm_incident_s of a storm whose first anomaly (event time 1230) was seen at wall
    ``storm_wall`` and whose revision of event time 1240 naming a failed router at
    ``named_wall``."""
    watch = _Watch()
    first = Anomaly(ts=1230.0, device="ag1", entity="ag1", signal="reach", kind="down", score=1.0)
    watch.anomalies.append((storm_wall, first))
    opened: dict[str, Any] = {"fingerprint": "f1", "status": "open", "opened_ts": 1230.0}
    cause = RootCause(entity="cr1", kind="device", score=0.9)
    named = Incident(ts=1240.0, revision=2, title="storm", root_causes=[cause], **opened)
    watch.incidents.append((named_wall, named))
    storm = Storm(failed=("cr1", "cr2"), poller="cr3", isolated=frozenset({"ag1"}))
    figures = _storm_figures(watch, storm, 1230.0, 10.0, 1, speed)
    assert figures["storm_incidents"] == 1 and figures["storm_named_at_end"] is True
    return figures["storm_incident_s"]  # type: ignore[no-any-return]


def test_storm_incident_s_counts_the_wall_time_beyond_the_twins_own_pacing() -> None:
    # as fast as it goes: the 10 simulated seconds plus every wall second between the two
    assert _naming(100.0, 112.6, speed=0.0) == 22.6
    # at the network's pace the twin itself waited 10 s of the 12.6: counted once
    assert _naming(100.0, 112.6, speed=1.0) == 12.6
    assert _naming(100.0, 112.6, speed=2.0) == 17.6  # 5 s of pacing
    # a pipeline done within the pacing adds nothing to the simulated seconds
    assert _naming(100.0, 109.0, speed=1.0) == 10.0
