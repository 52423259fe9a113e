"""A partition the faust consumer stops delivering (paused here, as faust-streaming leaves one
after some rebalances) is read directly by the worker: every record is handled once, and the
group's committed offsets reach the end, so its lag says the truth."""

from __future__ import annotations

import asyncio
from pathlib import Path

from faust.types import TP

from netvigil.config import Settings
from netvigil.events import DeviceEvent
from netvigil.streams.kafka_admin import create_topics, group_lag
from netvigil.streams.kafka_runtime import KafkaRuntime
from netvigil.streams.kafka_worker import ProcessorApp
from tests.integration.kafka.conftest import Explode, events_in, read_topic


def test_a_partition_the_consumer_stopped_delivering_is_read_directly(
    kafka: str, settings: Settings, tmp_path: Path
) -> None:
    cfg = settings.kafka
    cfg.stall_s = 2.0
    create_topics(kafka, cfg)
    runtime = KafkaRuntime([Explode()], bootstrap=kafka, cfg=cfg, data_dir=tmp_path)
    topic = cfg.topic_prefix + "netvigil.events"
    devices = [f"r{i}" for i in range(16)]  # over the 4 partitions
    sent = [DeviceEvent(ts=float(i), device=devices[i % 16], kind="x") for i in range(400)]

    async def scenario() -> dict[str, int]:
        await runtime.start()
        await runtime.ready()
        app = runtime.apps[0]
        assert isinstance(app, ProcessorApp)  # the faust transport, whose stalls this repairs
        app.app.consumer.pause_partitions([TP(topic, 1)])  # faust delivers nothing of it now
        for event in sent:
            await runtime.publisher.publish(event)
        runtime.publisher._flush_buffers()
        assert await runtime.drain(90)
        stats = app.stats()
        await runtime.close()
        return stats

    stats = asyncio.run(scenario())
    assert stats["unstalled"] >= 1 and stats["refetched"] > 0
    seen = events_in(read_topic(kafka, cfg.topic_prefix + "netvigil.anomalies"))
    # every event handled exactly once (the records read directly are not handled again)
    assert sorted(a.ts for a in seen) == [e.ts for e in sent]
    lags = group_lag(kafka, [runtime.apps[0].group], [topic])
    assert [g.lag for g in lags] == [0] and lags[0].committed_partitions == 4
