"""``bench scale`` on Kafka (``--bus kafka``) against the same run on the embedded runtime: a
small carrier network, its core pair failing. Every metric the twin made reached the detector,
the same anomalies came out, and the storm is one incident naming a failed core router, as
embedded."""

from __future__ import annotations

from netvigil.eval.scale import FIELDS, ScaleSpec, run_scale_bench


def test_the_storm_on_kafka_gives_the_embedded_runs_incident(kafka: str) -> None:
    spec = ScaleSpec(devices=300, rank_samples=10)
    embedded = run_scale_bench(spec)
    on_kafka = run_scale_bench(
        ScaleSpec(devices=300, rank_samples=10, bus="kafka", kafka_bootstrap=kafka)
    )
    assert (embedded["bus"], on_kafka["bus"]) == ("embedded", "kafka")
    assert on_kafka["unmeasured"] == {}, on_kafka["unmeasured"]
    assert list(on_kafka)[: len(FIELDS)] == list(FIELDS)
    assert on_kafka["metrics"] == embedded["metrics"] > 0
    assert on_kafka["anomalies"] == embedded["anomalies"]
    assert on_kafka["storm_anomalies"] == embedded["storm_anomalies"] > 0
    assert on_kafka["storm_incidents"] == embedded["storm_incidents"] == 1
    [kafka_causes] = on_kafka["storm_root_causes"].values()
    [embedded_causes] = embedded["storm_root_causes"].values()
    assert kafka_causes[0] in on_kafka["storm_failed"]
    assert kafka_causes[0] == embedded_causes[0]
    assert on_kafka["storm_named_at_end"] is embedded["storm_named_at_end"] is True
