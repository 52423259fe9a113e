"""Records a worker's consumer skipped: found by their offsets, read again, handled in order.

Why this exists. faust-streaming drops records around a rebalance in ways its own history of
fixes shows (faust-streaming PRs #217, #223, #234, #241: prefetched records cleared from the
stream queues, records of an older generation skipped *and acknowledged*). Its commit then
counts consecutive acknowledged offsets from the first one it has, so a record that never
reached the agent can end up below the committed offset: lost for good, with no lag to show
it. The two-worker failover test saw exactly that: anomalies on the input topic that never
reached the correlator, an incident left open forever.

The agents know what they should see next: the offset after the last record they handled of
each partition (set to the group's committed offset when the partition is assigned, where
faust seeks to). A record further on means the ones in between were skipped; they are read
again here with a plain confluent-kafka consumer that joins no group, and handled before it.
Records handled twice (a refetch of what was in flight) are harmless: per-key state skips
offsets it has applied, and the re-keying hop de-duplicates downstream. Hand-written because
no library offers it; it is a small, bounded read of one partition range.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition

from netvigil.errors import NetVigilError
from netvigil.streams.kafka_admin import admin_config

__all__ = ["Gap", "RawMessage", "RawRecord", "find_gaps", "new_records", "read_range"]


@dataclass(frozen=True)
class RawMessage:
    """The parts of a faust message the agents read."""

    topic: str
    partition: int
    offset: int
    timestamp: float | None
    """Seconds, as faust gives them."""


@dataclass(frozen=True)
class RawRecord:
    """A record read outside faust, shaped like a faust event (``message``, ``value``)."""

    message: RawMessage
    value: bytes | None


@dataclass(frozen=True)
class Gap:
    """Offsets ``start`` (included) to ``stop`` (excluded) of a partition were skipped."""

    topic: str
    partition: int
    start: int
    stop: int


def find_gaps(expected: dict[tuple[str, int], int], records: Sequence[Any]) -> list[Gap]:
    """The gaps before records of ``records`` (faust events or :class:`RawRecord`), given the
    next offset ``expected`` per partition (none: anything is fine); pure."""
    want = dict(expected)
    gaps = []
    for rec in records:
        msg = rec.message
        tp = (msg.topic, msg.partition)
        nxt = want.get(tp)
        if nxt is not None and msg.offset > nxt:
            gaps.append(Gap(msg.topic, msg.partition, nxt, msg.offset))
        want[tp] = msg.offset + 1
    return gaps


def new_records(expected: dict[tuple[str, int], int], records: Sequence[Any]) -> list[Any]:
    """``records`` less those below the next offset ``expected`` of their partition: handled
    already (a redelivery, or what was read directly while the consumer stalled); pure."""
    out = []
    for rec in records:
        msg = rec.message
        if msg.offset >= expected.get((msg.topic, msg.partition), msg.offset):
            out.append(rec)
    return out


def read_range(bootstrap: str, gap: Gap, timeout: float = 30.0) -> list[RawRecord]:
    """The records of ``gap`` as the broker has them (an offset with no record, such as a
    transaction marker, is simply absent). Raises :class:`NetVigilError` when the range could
    not be read within ``timeout``; the caller retries."""
    if gap.stop <= gap.start:
        return []
    conf = {
        **admin_config(bootstrap),
        "group.id": f"netvigil-gap-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
    }
    consumer = Consumer(conf)
    out: list[RawRecord] = []
    try:
        consumer.assign([TopicPartition(gap.topic, gap.partition, gap.start)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            err = msg.error() if msg is not None else None
            if msg is not None and err is None:
                offset = msg.offset() or 0
                if offset >= gap.stop:
                    return out
                _, ms = msg.timestamp()
                out.append(
                    RawRecord(
                        RawMessage(gap.topic, gap.partition, offset, ms / 1000 if ms > 0 else None),
                        msg.value(),
                    )
                )
                if offset + 1 >= gap.stop:
                    return out
                continue
            if err is not None and err.code() != KafkaError._PARTITION_EOF:
                continue
            pos = consumer.position([TopicPartition(gap.topic, gap.partition)])[0].offset
            if pos >= gap.stop:  # what is left of the range holds no records
                return out
        raise NetVigilError(
            f"could not re-read {gap.topic}[{gap.partition}] offsets {gap.start}..{gap.stop - 1}"
        )
    finally:
        consumer.close()
