"""The publisher produces a key's events in the order they were published, across topics:
the detector merges a device's metrics and device events by event time and takes a topic
with nothing to read as having nothing older on its way."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from netvigil.events import DeviceEvent, Event, Metric, topic_of
from netvigil.streams.kafka.producer import KafkaPublisher
from netvigil.streams.kafka.spool import Spool
from netvigil.streams.kafka.wire import decode_batch


class Recorder:
    """Stands in for confluent-kafka's Producer: records what was produced, in order."""

    def __init__(self) -> None:
        self.produced: list[tuple[str, bytes, bytes]] = []

    def produce(self, topic: str, value: bytes, key: bytes) -> None:
        self.produced.append((topic, key, value))

    def poll(self, timeout: float) -> int:
        return 0


def publisher(tmp_path: Path, batch_max: int) -> tuple[KafkaPublisher, Recorder]:
    pub = KafkaPublisher("127.0.0.1:1", Spool(tmp_path / "spool", 1 << 20), batch_max=batch_max)
    rec = Recorder()
    pub._producer = rec  # type: ignore[assignment]
    return pub, rec


def metric(ts: float, device: str = "r1") -> Metric:
    return Metric(ts=ts, device=device, name="if.oper_status", value=1.0, labels={"if": "e0"})


def link_down(ts: float, device: str = "r1") -> DeviceEvent:
    return DeviceEvent(ts=ts, device=device, kind="link_down", entity=f"{device}:e0")


def produced_events(rec: Recorder) -> list[tuple[str, Event]]:
    return [(topic, e) for topic, _, value in rec.produced for e in decode_batch(value).events]


def test_a_full_batch_of_metrics_does_not_overtake_an_older_device_event(tmp_path: Path) -> None:
    pub, rec = publisher(tmp_path, batch_max=3)
    events: list[Event] = [metric(1), link_down(2), metric(3), metric(4), metric(5), metric(6)]

    async def publish_all() -> None:
        for e in events:
            await pub.publish(e)

    asyncio.run(publish_all())
    pub._flush_buffers()
    got = produced_events(rec)
    # per key, produced in publish order, whatever the topic
    assert [e for _, e in got] == events
    assert [t for t, _ in got] == [pub.prefix + topic_of(e) for e in events]
    # and still batched: the first three metrics after the link-down event are one record
    assert [len(decode_batch(v).events) for _, _, v in rec.produced] == [1, 1, 3, 1]


def test_other_keys_keep_their_own_batches(tmp_path: Path) -> None:
    pub, rec = publisher(tmp_path, batch_max=100)
    events: list[Any] = [metric(1, "r1"), link_down(2, "r2"), metric(3, "r1"), metric(4, "r2")]

    async def publish_all() -> None:
        for e in events:
            await pub.publish(e)

    asyncio.run(publish_all())
    pub._flush_buffers()
    by_key: dict[bytes, list[Event]] = {}
    for _, key, value in rec.produced:
        by_key.setdefault(key, []).extend(decode_batch(value).events)
    assert by_key[b"r1"] == [events[0], events[2]]  # one batch of two metrics
    assert by_key[b"r2"] == [events[1], events[3]]
    assert len(rec.produced) == 3
