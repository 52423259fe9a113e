"""``bench scale`` without the pipeline (``--no-storm``): the contract's keys all there, the
pipeline's figures null with a reason, import and ranking measured on the generated network."""

from __future__ import annotations

from netvigil.eval.scale import FIELDS, ScaleSpec, run_scale_bench


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
