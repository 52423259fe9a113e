"""A Kafka deployment stopped and started again on the same topics and data directory goes
on where it was: a partition with nothing new since the last commit counts as read to its
end (it does not hold ordered stages back), and a new fault after the restart opens its own
incident."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from netvigil.config import Settings
from netvigil.events import DeviceEvent, Event
from netvigil.streams.kafka.admin import create_topics
from netvigil.streams.kafka.runtime import KafkaRuntime
from tests.integration.kafka.conftest import events_in, read_topic
from tests.integration.kafka.test_pipeline import ExplodeAll


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
def test_after_a_restart_partitions_with_nothing_new_hold_nothing_back(
    kafka: str, settings: Settings, tmp_path: Path, guarantee: str
) -> None:
    """The consumer's position of a partition stays unknown until it returns a record of it;
    taken as "not read yet", the three quiet partitions of the second run held the one new
    event until ``kafka.reorder_max_wait_s`` (an hour here)."""
    cfg = settings.kafka
    cfg.processing_guarantee = guarantee  # type: ignore[assignment]
    cfg.reorder_max_wait_s = 3600.0
    create_topics(kafka, cfg)

    async def one_run(events: list[Event]) -> bool:
        runtime = KafkaRuntime([ExplodeAll()], bootstrap=kafka, cfg=cfg, data_dir=tmp_path)
        await runtime.start()
        await runtime.ready()
        for event in events:
            await runtime.publisher.publish(event)
        runtime.publisher._flush_buffers()
        drained = await runtime.drain(60)
        await runtime.close()
        return drained

    first = [DeviceEvent(ts=float(i), device=f"r{i}", kind="link_down") for i in range(16)]
    assert asyncio.run(one_run(list(first)))
    prefix = cfg.topic_prefix
    written = read_topic(kafka, prefix + "netvigil.events")
    assert {r.partition for r in written} == set(range(cfg.partitions))  # none was quiet

    assert asyncio.run(one_run([DeviceEvent(ts=100.0, device="r0", kind="link_up")]))
    seen = events_in(read_topic(kafka, prefix + "netvigil.anomalies"))
    assert sorted(a.ts for a in seen) == [*(float(i) for i in range(16)), 100.0]
