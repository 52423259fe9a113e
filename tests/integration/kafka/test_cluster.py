"""A three-broker cluster (replication factor 3, ``min.insync.replicas`` 2): the broker leading
the telemetry is killed with SIGKILL in the middle of a stream and started again 15 s later.
Every event arrives (count per key, in order), and no incident or ticket is duplicated.

It starts three JVMs of its own (about 1.5 GB), so it is kept out of the default run:
``pytest -m cluster tests/integration/kafka/test_cluster.py`` (docs/kafka.md)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from netvigil.config import Settings
from netvigil.service import Service
from netvigil.streams.kafka.runtime import KafkaRuntime
from provision.servers import kafka as kafka_server
from tests.integration.kafka.conftest import (
    ListSource,
    embedded_results,
    settings_for,
    twin_events,
)
from tests.integration.kafka.outage import check_delivered, run_through_outage
from tests.integration.kafka.test_broker_restart import PROCESSORS

pytestmark = pytest.mark.cluster

DOWN_S = 15.0


@pytest.fixture
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    run_dir = tmp_path_factory.mktemp("kafka-cluster")
    info = kafka_server.start(run_dir, brokers=3, timeout=300.0)
    try:
        yield run_dir, str(info["bootstrap"])
    finally:
        kafka_server.stop(run_dir)


def leader_of(bootstrap: str, topic: str, partition: int) -> int:
    """The node id leading ``topic``'s ``partition`` now."""
    meta = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=30)
    return int(meta.topics[topic].partitions[partition].leader)


def tickets(data_dir: Path) -> list[str]:
    """The correlation id (incident fingerprint) of every ticket opened."""
    with sqlite3.connect(data_dir / "tickets.db") as db:
        return [str(c) for (c,) in db.execute("SELECT correlation_id FROM tickets")]


@pytest.mark.timeout(900)
def test_a_broker_killed_mid_stream_loses_no_event_and_duplicates_no_incident_or_ticket(
    cluster: tuple[Path, str], tmp_path: Path
) -> None:
    run_dir, bootstrap = cluster
    settings: Settings = settings_for(bootstrap)
    settings.kafka.replication = 3
    run = twin_events(settings, faults=3)
    expected = embedded_results(settings, run.events, only=PROCESSORS)
    source = ListSource(run.events, seconds=40.0)
    svc = Service.build(settings, data_dir=tmp_path, sources=[source], only=PROCESSORS)
    runtime = svc.runtime
    assert isinstance(runtime, KafkaRuntime)
    prefix = settings.kafka.topic_prefix
    killed: list[int] = []

    def kill() -> None:  # the node leading the telemetry's first partition, mid-stream
        killed.append(leader_of(bootstrap, prefix + "netvigil.metrics", 0))
        kafka_server.kill_node(run_dir, killed[0])

    try:
        outage = run_through_outage(
            runtime,
            source,
            len(run.events),
            fail=kill,
            recover=lambda: kafka_server.start_node(run_dir, killed[0], timeout=300.0),
            down_s=DOWN_S,
        )
        print(f"killed node {killed}")
        # the kill was mid-stream, the stream went on while the node was down, and the
        # two brokers left took it (nothing spooled for later, nothing shed or refused)
        assert 0 < outage["at"] < len(run.events)
        assert outage["emitted_while_down"] > 0
        stats = runtime.publisher.stats()
        assert stats["shed"] == {} and stats["refused"] == {}
        assert stats["spool_bytes"] == 0
        incidents = check_delivered(bootstrap, svc, run, expected, prefix)
        # and one ticket per incident
        assert sorted(tickets(tmp_path)) == sorted(incidents.incidents)
    finally:
        svc.close()
