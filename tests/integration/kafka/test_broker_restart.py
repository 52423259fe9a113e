"""The broker is stopped for 30 s in the middle of a stream and restarted: every event arrives
(count per key, in order), and no incident is duplicated. This test has a broker of its own."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import KafkaException, Producer

from netvigil.config import Settings
from netvigil.service import Service
from netvigil.streams.kafka.admin import EndOffsets, ensure_topic
from netvigil.streams.kafka.runtime import KafkaRuntime
from provision.servers import kafka as kafka_server
from tests.integration.kafka.conftest import (
    ListSource,
    embedded_results,
    settings_for,
    twin_events,
)
from tests.integration.kafka.outage import check_delivered, run_through_outage

OUTAGE_S = 30.0
#: the processors between the events and the incidents store; the analytics ones (forecast,
#: logs, flows) add minutes of CI time on two cores and nothing to what this test checks
PROCESSORS = ("detector", "correlator", "coordinator")


@pytest.fixture
def own_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    run_dir = tmp_path_factory.mktemp("kafka-restart")
    info = kafka_server.start(run_dir)
    try:
        yield run_dir, str(info["bootstrap"])
    finally:
        kafka_server.stop(run_dir)


@pytest.fixture
def settings(own_kafka: tuple[Path, str]) -> Settings:
    """On this test's own broker only (not the shared one, which would start for nothing)."""
    return settings_for(own_kafka[1])


@pytest.mark.timeout(600)
def test_broker_down_for_30_s_mid_stream_loses_nothing_and_duplicates_no_incident(
    own_kafka: tuple[Path, str], settings: Settings, tmp_path: Path
) -> None:
    run_dir, bootstrap = own_kafka
    run = twin_events(settings, faults=3)
    expected = embedded_results(settings, run.events, only=PROCESSORS)
    source = ListSource(run.events, seconds=40.0)
    svc = Service.build(settings, data_dir=tmp_path, sources=[source], only=PROCESSORS)
    runtime = svc.runtime
    assert isinstance(runtime, KafkaRuntime)
    try:
        outage = run_through_outage(
            runtime,
            source,
            len(run.events),
            fail=lambda: kafka_server.stop(run_dir),
            recover=lambda: kafka_server.start(run_dir),
            down_s=OUTAGE_S,
        )
        stats = runtime.publisher.stats()
        # the outage was real and mid-stream: events were spooled, then all replayed
        assert 0 < outage["at"] < len(run.events)
        assert outage["spooled_during"] > 0
        assert stats["replayed"] == stats["spooled"] and stats["spool_bytes"] == 0
        assert stats["shed"] == {} and stats["refused"] == {}
        incidents = check_delivered(bootstrap, svc, run, expected, settings.kafka.topic_prefix)
        assert all(i.status == "resolved" for i in incidents.incidents.values())
    finally:
        svc.close()


def test_end_offsets_are_answered_again_after_the_broker_restarts(
    own_kafka: tuple[Path, str],
) -> None:
    """librdkafka's admin client keeps stale leader epochs after a restart and is refused
    with FENCED_LEADER_EPOCH forever; the workers' end-offset queries (progress reports,
    in-band marks) must come back, or ordered stages hold every event from then on."""
    run_dir, bootstrap = own_kafka
    topic = f"end-offsets-{uuid.uuid4().hex[:8]}"
    ensure_topic(bootstrap, topic, partitions=2, replication=1)
    producer = Producer({"bootstrap.servers": bootstrap})

    def produce(n: int) -> None:
        for i in range(n):
            producer.produce(topic, value=b"x%d" % i, partition=0)
        assert producer.flush(30) == 0

    ends = EndOffsets(bootstrap)
    produce(3)
    assert ends([(topic, 0), (topic, 1)]) == {(topic, 0): 3, (topic, 1): 0}
    kafka_server.stop(run_dir)
    kafka_server.start(run_dir)
    produce(2)
    got, errors = None, []
    deadline = time.monotonic() + 60
    while got is None and time.monotonic() < deadline:
        try:
            got = ends([(topic, 0), (topic, 1)])
        except KafkaException as exc:  # leaders are being elected; then stale epochs once
            errors.append(exc.args[0].code())
            time.sleep(0.5)
    assert got == {(topic, 0): 5, (topic, 1): 0}, errors
