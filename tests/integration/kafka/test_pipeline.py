"""Twin -> Kafka -> workers -> incidents topic, read back by independent clients, and the
same results as the embedded runtime; poison records and failing events become dead letters
while processing goes on."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka import Producer

from netvigil.config import Settings
from netvigil.events import DeadLetter, DeviceEvent, Event, Metric, decode, key_of
from netvigil.service import Service
from netvigil.streams.kafka.admin import create_topics
from netvigil.streams.kafka.keyed import group_of
from netvigil.streams.kafka.progress import MARK_KEY
from netvigil.streams.kafka.runtime import KafkaRuntime
from tests.integration.kafka.conftest import (
    Explode,
    ListSource,
    collect,
    embedded_results,
    events_in,
    kcat_read,
    read_topic,
    twin_events,
)


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
def test_twin_through_kafka_gives_the_embedded_results(
    kafka: str, settings: Settings, tmp_path: Path, guarantee: str
) -> None:
    settings.kafka.processing_guarantee = guarantee  # type: ignore[assignment]
    run = twin_events(settings, faults=3)
    expected = embedded_results(settings, run.events)
    assert len(expected.incidents) == 3  # the reference itself finds the three faults

    svc = Service.build(settings, data_dir=tmp_path, sources=[ListSource(run.events)])
    assert isinstance(svc.runtime, KafkaRuntime)
    asyncio.run(svc.run())
    try:
        prefix = settings.kafka.topic_prefix
        incidents = collect(events_in(kcat_read(kafka, prefix + "netvigil.incidents")))
        anomalies = collect(events_in(read_topic(kafka, prefix + "netvigil.anomalies")))
        metrics = events_in(read_topic(kafka, prefix + "netvigil.metrics"))

        assert Counter(map(key_of, metrics)) == Counter(
            key_of(e) for e in run.events if isinstance(e, Metric)
        )
        assert anomalies.anomaly_set() == expected.anomaly_set()
        assert incidents.root_causes() == expected.root_causes()
        assert all(i.status == "resolved" for i in incidents.incidents.values())
        # one ticket per incident, found by the incident's fingerprint (its correlation id)
        assert len(svc.incidents.list()) == len(incidents.incidents)
        for fingerprint in incidents.incidents:
            ticket = svc.tickets.find(fingerprint)
            assert ticket is not None and ticket.state == "resolved"
    finally:
        svc.close()


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
def test_poison_records_and_failing_events_become_dead_letters_and_processing_goes_on(
    kafka: str, settings: Settings, tmp_path: Path, guarantee: str
) -> None:
    cfg = settings.kafka
    cfg.processing_guarantee = guarantee  # type: ignore[assignment]
    create_topics(kafka, cfg)
    runtime = KafkaRuntime([Explode()], bootstrap=kafka, cfg=cfg, data_dir=tmp_path)
    garbage = b"\x00\x01 not json"
    not_an_event = b'{"type": "metric", "ts": "yesterday"}'

    async def scenario() -> None:
        await runtime.start()
        await runtime.ready()
        pub = runtime.publisher
        for i in range(3):
            await pub.publish(DeviceEvent(ts=float(i), device="r1", kind="link_down"))
        await pub.publish_raw("netvigil.events", b"r1", garbage)
        await pub.publish(DeviceEvent(ts=10.0, device="r1", kind="boom"))
        await pub.publish_raw("netvigil.events", b"r1", not_an_event)
        for i in range(3):
            await pub.publish(DeviceEvent(ts=20.0 + i, device="r1", kind="link_up"))
        pub._flush_buffers()
        assert await runtime.drain(60)
        await runtime.close()

    asyncio.run(scenario())
    prefix = cfg.topic_prefix
    letters = [decode(r.value) for r in read_topic(kafka, prefix + "netvigil.dlq")]
    assert all(isinstance(d, DeadLetter) for d in letters)
    by_raw = {d.raw: d for d in letters if isinstance(d, DeadLetter)}
    assert by_raw[garbage].reason.startswith("EventDecodeError")
    assert by_raw[garbage].source == f"kafka:{prefix}netvigil.events"
    assert by_raw[not_an_event].reason.startswith("EventDecodeError")
    boom = [d for d in letters if isinstance(d, DeadLetter) and d.source == "processor:explode"]
    assert len(boom) == 1 and "RuntimeError: boom" in boom[0].reason
    assert decode(boom[0].raw) == DeviceEvent(ts=10.0, device="r1", kind="boom")
    # processing went on after each bad one: all six good events were handled, in order
    seen = [a for a in events_in(read_topic(kafka, prefix + "netvigil.anomalies"))]
    assert [a.ts for a in seen] == [0.0, 1.0, 2.0, 20.0, 21.0, 22.0]


class ExplodeAll(Explode):
    """Explode keyed to one key: its input is re-keyed, and ordered by in-band marks."""

    name = "explode-all"

    def key(self, event: Event) -> str:
        return "all"


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
def test_a_malformed_progress_mark_becomes_a_dead_letter_and_ordering_goes_on(
    kafka: str, settings: Settings, tmp_path: Path, guarantee: str
) -> None:
    cfg = settings.kafka
    cfg.processing_guarantee = guarantee  # type: ignore[assignment]
    create_topics(kafka, cfg)
    runtime = KafkaRuntime([ExplodeAll()], bootstrap=kafka, cfg=cfg, data_dir=tmp_path)
    bad_mark = b'{"netvigil-mark": 1, "covers": "everything"}'

    async def scenario() -> None:
        await runtime.start()
        await runtime.ready()
        (app,) = runtime.apps
        assert app.rekey
        producer = Producer({"bootstrap.servers": kafka})
        producer.produce(app.by_key_name, bad_mark, MARK_KEY, partition=0)
        assert producer.flush(10) == 0
        pub = runtime.publisher
        for ts in (2.0, 0.0, 1.0):  # out of order on purpose: released sorted
            await pub.publish(DeviceEvent(ts=ts, device="r1", kind="link_down"))
        pub._flush_buffers()
        assert await runtime.drain(60)
        await runtime.close()

    asyncio.run(scenario())
    prefix = cfg.topic_prefix
    letters = [decode(r.value) for r in read_topic(kafka, prefix + "netvigil.dlq")]
    marks = [d for d in letters if isinstance(d, DeadLetter) and d.raw == bad_mark]
    assert len(marks) == 1 and marks[0].reason.startswith("malformed progress mark")
    assert marks[0].source == f"kafka:{group_of('explode-all', prefix)}-by-key"
    seen = events_in(read_topic(kafka, prefix + "netvigil.anomalies"))
    assert sorted(a.ts for a in seen) == [0.0, 1.0, 2.0]
