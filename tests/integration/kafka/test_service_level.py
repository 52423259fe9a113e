"""Probes, Prometheus scraping and OTLP/HTTP push through the Kafka runtime: what the
collectors publish is on the broker's topics, and the SLO processor, on its Kafka loop, turns the
dead probe into an slo_burn anomaly."""

from __future__ import annotations

from pathlib import Path

from netvigil.config import Settings
from netvigil.events import Anomaly, Metric
from netvigil.streams.kafka.runtime import KafkaRuntime
from tests.integration.kafka.conftest import events_in, read_topic
from tests.service_apps import EXPECTED, service_level_scenario


def test_probes_scrapes_and_otlp_flow_through_kafka(
    kafka: str, settings: Settings, tmp_path: Path
) -> None:
    seen = service_level_scenario(settings, tmp_path, KafkaRuntime)
    assert seen >= EXPECTED, EXPECTED - seen
    prefix = settings.kafka.topic_prefix
    on_broker = {
        (e.name, e.labels.get("service"))
        for e in events_in(read_topic(kafka, prefix + "netvigil.metrics"))
        if isinstance(e, Metric)
    }
    want = {(n, s) for topic, _, n, s in EXPECTED if topic == "netvigil.metrics"}
    assert want <= on_broker, want - on_broker
    burns = [
        e
        for e in events_in(read_topic(kafka, prefix + "netvigil.anomalies"))
        if isinstance(e, Anomaly) and e.kind == "slo_burn"
    ]
    assert burns and burns[0].entity == "checkout"
