"""Re-reading a range of a partition the consumer skipped, from the real broker: exactly the
records of the range, in order, with their offsets and values; and where a worker expects
its first record of each partition."""

from __future__ import annotations

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from netvigil.config import Settings
from netvigil.streams.gaps import Gap, read_range
from netvigil.streams.kafka_admin import admin_config, ensure_topic, start_offsets


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


def test_start_offsets_are_the_committed_offset_or_the_log_start(
    kafka: str, settings: Settings
) -> None:
    """Where a worker expects its first record of a partition: where its group committed, or
    where faust's ``earliest`` reset starts when the group committed nothing, even after the
    log start moved. Without the second, a record skipped before the first commit went unseen."""
    topic = settings.kafka.topic_prefix + "starts"
    group = settings.kafka.topic_prefix + "g"
    ensure_topic(kafka, topic, 3, 1)
    producer = Producer({"bootstrap.servers": kafka, "enable.idempotence": True})
    for part in (0, 1):
        for i in range(10):
            producer.produce(topic, f"v{i}".encode(), b"k", partition=part)
    producer.flush(30)
    admin = AdminClient(admin_config(kafka))
    for fut in admin.delete_records([TopicPartition(topic, 1, 3)]).values():
        fut.result(30)
    consumer = Consumer({**admin_config(kafka), "group.id": group, "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, 7)], asynchronous=False)
    finally:
        consumer.close()

    tps = [TopicPartition(topic, p) for p in range(3)]
    assert start_offsets(kafka, group, tps) == {(topic, 0): 7, (topic, 1): 3, (topic, 2): 0}
