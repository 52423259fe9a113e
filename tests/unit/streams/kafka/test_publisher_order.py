"""The publisher produces a key's events in the order they were published, across topics:
the detector merges a device's metrics and device events by event time and takes a topic
with nothing to read as having nothing older on its way."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from netvigil.config import KafkaSettings
from netvigil.events import DeviceEvent, Event, Metric, topic_of
from netvigil.streams.base import Processor
from netvigil.streams.kafka.keyed import Batch, KeyedWorker, KeyState, RawMessage, RawRecord
from netvigil.streams.kafka.producer import KafkaPublisher
from netvigil.streams.kafka.spool import Spool
from netvigil.streams.kafka.wire import ORDER_HEADER, Stamp, decode_batch


class Recorder:
    """Stands in for confluent-kafka's Producer: records what was produced, in order."""

    def __init__(self) -> None:
        self.produced: list[tuple[str, bytes, bytes]] = []
        self.headers: list[dict[str, bytes]] = []

    def produce(self, topic: str, value: bytes, key: bytes, headers: Any = None) -> None:
        self.produced.append((topic, key, value))
        self.headers.append(dict(headers or ()))

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


def test_every_record_is_stamped_with_the_keys_records_sent_to_each_topic_before_it(
    tmp_path: Path,
) -> None:
    pub, rec = publisher(tmp_path, batch_max=2)
    events: list[Event] = [metric(1), metric(2), link_down(3), metric(4, "r2"), metric(5)]

    async def publish_all() -> None:
        for e in events:
            await pub.publish(e)

    asyncio.run(publish_all())
    pub._flush_buffers()
    stamps = [Stamp.parse(h[ORDER_HEADER]) for h in rec.headers]
    assert all(s is not None and s.publisher == pub.id for s in stamps)
    m, e = "netvigil.metrics", "netvigil.events"
    # r1: metrics [1, 2] (record 0 of metrics), link-down (record 0 of events, after one
    # metrics record), r2's metric, r1's metric 5 (record 1 of metrics, after one events one)
    assert [
        (key, s.before if s else None) for (_, key, _), s in zip(rec.produced, stamps, strict=True)
    ] == [
        (b"r1", {m: 0}),
        (b"r1", {m: 1, e: 0}),
        (b"r2", {m: 0}),
        (b"r1", {m: 1, e: 1}),
    ]


class Merged(Processor[list[Event]]):
    """Two inputs keyed by device, like the detector: remembers the order it was handed."""

    name = "merged"
    inputs = ("netvigil.metrics", "netvigil.events")

    def new_state(self) -> list[Event]:
        return []

    async def process(self, event: Event, state: list[Event]) -> list[Event]:
        state.append(event)
        return []


class Worker(KeyedWorker):
    """The worker with its key table in memory and every partition read to its end."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(
            Merged(), bootstrap="", cfg=KafkaSettings(), partitions=1, datadir=tmp_path
        )
        self.table: dict[bytes, KeyState] = {}

    @property
    def states(self) -> dict[bytes, KeyState]:
        return self.table

    def _end_offset(self, topic: str, partition: int) -> int | None:
        return self._read.get((topic, partition), 0)  # "caught up": nothing more for now


def test_the_merge_waits_for_an_older_event_the_broker_appended_after_a_newer_metric(
    tmp_path: Path,
) -> None:
    """The publisher sent r1's link-down event, then a newer metric; the broker appended the
    metric first, and its events partition looked read to its end: the worker holds the
    metric until the link-down event is read, then hands both in event time order."""
    pub, rec = publisher(tmp_path, batch_max=10)
    events: list[Event] = [link_down(2), metric(3)]

    async def publish_all() -> None:
        for e in events:
            await pub.publish(e)

    asyncio.run(publish_all())
    pub._flush_buffers()
    (down, up) = [
        RawRecord(RawMessage(t, 0, 0, None), v, k, list(h.items()))
        for (t, k, v), h in zip(rec.produced, rec.headers, strict=True)
    ]
    w = Worker(tmp_path / "w")

    async def deliver(r: RawRecord) -> None:
        batch = Batch()
        await w._process_into([r], batch)
        w.table.update(batch.dirty)

    asyncio.run(deliver(up))  # the newer metric first
    assert w.table[b"r1"].state == []  # held: its publisher sent an events record before it
    asyncio.run(deliver(down))
    assert w.table[b"r1"].state == events
