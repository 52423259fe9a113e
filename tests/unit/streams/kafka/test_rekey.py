"""The Kafka re-keying stage: an event that belongs to several partitions is written to the
by-key topic once under each of their keys (the state a record reaches is its key)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from netvigil.config import KafkaSettings
from netvigil.events import Event, Metric
from netvigil.streams.base import Processor
from netvigil.streams.kafka.keyed import KeyedWorker, RawMessage, RawRecord
from netvigil.streams.kafka.wire import decode_batch, encode_batch


class Overlapping(Processor[list[float]]):
    name = "overlapping"
    inputs = ("netvigil.metrics",)

    def keys(self, event: Event) -> Sequence[str]:
        assert isinstance(event, Metric)
        return ("left", "right") if event.value > 0 else ("left",)

    def new_state(self) -> list[float]:
        return []

    async def process(self, event: Event, state: list[float]) -> Sequence[Event]:
        return []


def test_an_event_of_two_keys_is_rekeyed_under_both(tmp_path: Path) -> None:
    w = KeyedWorker(
        Overlapping(), bootstrap="", cfg=KafkaSettings(), partitions=1, datadir=tmp_path
    )
    assert w.rekey  # a processor with its own keys re-keys its input
    events = [Metric(ts=1.0, device="r1", name="x", value=v) for v in (1.0, 0.0, 2.0)]
    records = [
        RawRecord(RawMessage("netvigil.metrics", 0, i, 1.0), encode_batch([e]))
        for i, e in enumerate(events)
    ]
    sends = w._rekeyed(records)
    by_key = {key: decode_batch(value).events for topic, key, value in sends}
    assert {topic for topic, _, _ in sends} == {w.by_key_name}
    assert by_key[b"left"] == events
    assert by_key[b"right"] == [events[0], events[2]]
