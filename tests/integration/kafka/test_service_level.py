"""Probes, Prometheus scraping and OTLP/HTTP push through the Kafka runtime: what the
collectors publish is on the broker's topics, and the SLO processor, a faust agent, turns the
dead probe into an slo_burn anomaly."""

from __future__ import annotations

import asyncio
from pathlib import Path

from netvigil.config import Settings
from netvigil.events import Anomaly, Metric
from netvigil.service import Service
from netvigil.streams.kafka_runtime import KafkaRuntime
from provision.common import free_port
from tests.integration.kafka.conftest import events_in, read_topic
from tests.service_apps import EXPECTED, prometheus_app, run_service_level, service_level_settings


def test_probes_scrapes_and_otlp_flow_through_kafka(
    kafka: str, settings: Settings, tmp_path: Path
) -> None:
    async def scenario() -> set[tuple[str, str, str, str]]:
        async with prometheus_app() as (url, counter):
            port = free_port()
            svc = Service.build(service_level_settings(settings, url, port), data_dir=tmp_path)
            assert isinstance(svc.runtime, KafkaRuntime)
            try:
                return await run_service_level(svc, counter, port)
            finally:
                svc.close()

    seen = asyncio.run(scenario())
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
