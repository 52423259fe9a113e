"""Re-reading a range of a partition the consumer skipped, from the real broker: exactly the
records of the range, in order, with their offsets and values."""

from __future__ import annotations

from confluent_kafka import Producer

from netvigil.config import Settings
from netvigil.streams.gaps import Gap, read_range
from netvigil.streams.kafka_admin import ensure_topic


def test_read_range_returns_exactly_the_records_of_the_range(
    kafka: str, settings: Settings
) -> None:
    topic = settings.kafka.topic_prefix + "gaps"
    ensure_topic(kafka, topic, 2, 1)
    producer = Producer({"bootstrap.servers": kafka, "enable.idempotence": True})
    for i in range(40):
        producer.produce(topic, f"v{i}".encode(), b"k", partition=1)
    producer.flush(30)

    got = read_range(kafka, Gap(topic, 1, 12, 30))
    assert [r.message.offset for r in got] == list(range(12, 30))
    assert [r.value for r in got] == [f"v{i}".encode() for i in range(12, 30)]
    assert all(r.message.topic == topic and r.message.partition == 1 for r in got)
    assert all(r.message.timestamp is not None and r.message.timestamp > 1e9 for r in got)
    # a range at the very end; an empty range asks the broker nothing
    assert [r.value for r in read_range(kafka, Gap(topic, 1, 39, 40))] == [b"v39"]
    assert read_range(kafka, Gap(topic, 0, 5, 5), timeout=5) == []
