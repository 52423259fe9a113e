"""Replay: read a recorded range of topics from Kafka and feed it through the processors again.

The range is chosen by the records' Kafka timestamps (when they were recorded; the broker
finds the offsets, nothing before them is read) or by the events' own event time (every
retained record is read and filtered). The events are put in one deterministic order, event
time first, then topic, partition, offset and position in the record, and run through a fresh
embedded runtime: the same range always gives the same incidents, and nothing is written back
to Kafka or to the live incident store and tickets.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from confluent_kafka import OFFSET_END, Consumer, TopicPartition

from netvigil.errors import NetVigilError
from netvigil.events import Event
from netvigil.streams.base import Emit
from netvigil.streams.kafka.admin import RDKAFKA_LOG
from netvigil.streams.kafka.wire import decode_batch

__all__ = ["RecordedRange", "read_range"]

log = logging.getLogger(__name__)


@dataclass
class RecordedRange:
    """Events read from Kafka, in replay order, and what could not be decoded."""

    events: list[Event]
    records: int
    undecodable: list[tuple[str, str]] = field(default_factory=list)
    """(where, reason) of each element that is not an event."""
    name: str = "replay"

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        """A :class:`~netvigil.streams.base.Source` emitting the range once."""
        for event in self.events:
            if stop.is_set():
                return
            await emit(event)


def read_range(
    bootstrap: str,
    topics: Iterable[str],
    start: float,
    end: float,
    *,
    by: Literal["record", "event"] = "record",
    timeout: float = 30.0,
) -> RecordedRange:
    """Read ``[start, end)`` (Unix seconds) of ``topics`` (full Kafka names)."""
    conf: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "group.id": f"netvigil-replay-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        "logger": RDKAFKA_LOG,
    }
    consumer = Consumer(conf)
    try:
        meta = consumer.list_topics(timeout=timeout).topics
        tps = []
        for topic in topics:
            if topic not in meta:
                raise NetVigilError(f"topic {topic} does not exist on {bootstrap}")
            tps += [TopicPartition(topic, p) for p in meta[topic].partitions]
        begin, stop_at = _bounds(consumer, tps, start, end, by, timeout)
        todo = {k for k in begin if begin[k] < stop_at[k]}
        consumer.assign([TopicPartition(t, p, begin[(t, p)]) for t, p in todo])
        rows: list[tuple[float, str, int, int, int, Event]] = []
        bad: list[tuple[str, str]] = []
        records = 0
        while todo:
            msg = consumer.poll(timeout)
            if msg is None:
                raise NetVigilError(f"no data from {bootstrap} for {timeout:.0f} s while replaying")
            tp = (str(msg.topic()), int(msg.partition() or 0))
            err = msg.error()
            if err is not None:
                if err.code() == err._PARTITION_EOF:
                    todo.discard(tp)
                    continue
                raise NetVigilError(f"reading {tp[0]}[{tp[1]}] failed: {err}")
            offset = int(msg.offset() or 0)
            if offset >= stop_at[tp]:
                todo.discard(tp)
                continue
            records += 1
            decoded = decode_batch(msg.value())
            for _raw, reason in decoded.failures:
                bad.append((f"{tp[0]}[{tp[1]}]@{offset}", reason))
            for i, event in enumerate(decoded.events):
                if by == "record" or start <= event.ts < end:
                    rows.append((event.ts, tp[0], tp[1], offset, i, event))
            if offset + 1 >= stop_at[tp]:
                todo.discard(tp)
        rows.sort(key=lambda r: r[:5])
        return RecordedRange([r[5] for r in rows], records, bad)
    finally:
        consumer.close()


def _bounds(
    consumer: Consumer,
    tps: list[TopicPartition],
    start: float,
    end: float,
    by: str,
    timeout: float,
) -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], int]]:
    """First offset to read and first offset not to read, per partition."""
    marks = {
        (tp.topic, tp.partition): consumer.get_watermark_offsets(tp, timeout=timeout) for tp in tps
    }
    if by == "event":
        return {k: lo for k, (lo, _) in marks.items()}, {k: hi for k, (_, hi) in marks.items()}

    def at(ts: float) -> dict[tuple[str, int], int]:
        asked = [TopicPartition(tp.topic, tp.partition, int(ts * 1000)) for tp in tps]
        found = consumer.offsets_for_times(asked, timeout=timeout)
        out = {}
        for tp in found:
            key = (tp.topic, tp.partition)
            out[key] = marks[key][1] if tp.offset in (OFFSET_END, -1) else tp.offset
        return out

    return at(start), at(end)
