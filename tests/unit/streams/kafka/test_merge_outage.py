"""The three-broker test's duplicate link-down (docs/kafka.md, runs 13 and 14), replayed on the
detector's merge and the detector itself: a link-up event read ahead of the link-down samples
that precede it, while the metrics partition has no leader and then a backlog, must wait for
them, however long, or the link is raised down again with a new onset (a second incident)."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Future
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaError, TopicPartition

from netvigil.config import KafkaSettings
from netvigil.events import Anomaly, DeviceEvent, Event, Metric
from netvigil.streams.detect import DetectorProcessor, DeviceState
from netvigil.streams.kafka import admin, loop
from netvigil.streams.kafka.loop import KafkaLoop
from netvigil.streams.kafka.reorder import Merge
from netvigil.streams.kafka.wire import Stamp
from tests.unit.streams.kafka.test_end_offsets import answers

M, E = "netvigil.metrics", "netvigil.events"


def status(ts: float, up: bool) -> Metric:
    return Metric(
        ts=ts, device="core1", name="if.oper_status", value=float(up), labels={"interface": "g3"}
    )


def link_up(ts: float) -> DeviceEvent:
    return DeviceEvent(ts=ts, device="core1", kind="link_up", entity="core1:g3")


def transitions(events: list[Event]) -> list[tuple[str, float]]:
    proc, state = DetectorProcessor(), DeviceState()
    out: list[Event] = []
    for event in events:
        out += asyncio.run(proc.process(event, state))
    return [(a.state, a.onset_ts) for a in out if isinstance(a, Anomaly)]


def test_a_link_up_read_ahead_waits_through_an_outage_and_a_backlog_of_metrics() -> None:
    merge = Merge((M, E))
    released: list[Event] = []
    metrics_up = True  # the metrics partition is read to an end the broker gave lately

    def caught_up(topic: str) -> bool:
        return metrics_up if topic == M else True

    def release(now: float) -> None:
        released.extend(e for _, e in merge.release(caught_up, now))

    # the link goes down at 1650, samples every 10 s, all read while the brokers are up
    for i, ts in enumerate(range(1600, 2020, 10)):
        merge.push(M, status(ts, ts < 1650), now=0.0, stamp=Stamp("p1", {M: i, E: 0}))
        release(0.0)
    # the leader of the metrics partition is killed: its samples 2020..2240 wait on the
    # broker while the events partition brings the link-up of 2250 (sent after them)
    metrics_up = False
    merge.push(E, link_up(2250.0), now=1.0, stamp=Stamp("p1", {M: 65, E: 0}))
    for now in (1.0, 11.0, 60.0, 200.0):  # the node is away, then the group rejoins
        release(now)
    # the new leader's backlog is read: the samples go first, then the link-up
    for i, ts in enumerate(range(2020, 2260, 10)):
        merge.push(M, status(ts, ts >= 2250), now=201.0, stamp=Stamp("p1", {M: 42 + i, E: 0}))
        release(201.0)
    metrics_up = True
    release(202.0)
    # one down anomaly, opened at 1650 and cleared at 2250; before the fix the link-up went
    # after 10 s, and the samples read after it opened another: ("active", 2020.0)
    assert transitions(released) == [("active", 1650.0), ("cleared", 2250.0)]
    assert [e.ts for e in released] == sorted(e.ts for e in released)
    assert len(merge) == 0


class Leaderless:
    """An admin client whose broker answers for the metrics partition and not for the events
    partition (its leader was killed)."""

    def __init__(self, config: dict[str, Any]) -> None:
        pass

    def list_offsets(
        self, asked: dict[TopicPartition, Any], **_: Any
    ) -> dict[Any, Future[TopicPartition]]:
        return answers(asked, lambda tp: KafkaError.LEADER_NOT_AVAILABLE if tp.topic == E else None)


def test_a_partition_is_caught_up_only_at_an_end_the_broker_gave_lately(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The consumer's cached end of a partition stays as it was while the partition has no
    leader: read as its end, the merge took a partition the new leader was writing to as
    read to its end."""
    monkeypatch.setattr(admin, "AdminClient", Leaderless)
    w = KafkaLoop(
        DetectorProcessor(),
        bootstrap="127.0.0.1:1",
        cfg=KafkaSettings(),
        partitions=1,
        datadir=tmp_path,
    )
    try:
        w._consumer = SimpleNamespace(get_watermark_offsets=lambda tp, cached: (0, 7))  # type: ignore[assignment]
        w._end_offsets = admin.EndOffsets("127.0.0.1:1")
        w.assignment = [(M, 0), (E, 0)]
        w._read = {(M, 0): 7, (E, 0): 7}

        def caught_up(topic: str) -> bool:
            w._caught.clear()
            return w._caught_up(topic, 0)

        assert not caught_up(M) and not caught_up(E)  # the broker was not asked yet
        assert w._ends() is None  # no progress report while one partition does not answer
        assert caught_up(M) and not caught_up(E)  # the one it answered for is
        w._fresh[(M, 0)] = (time.monotonic() - loop.FRESH_S - 1, 7)
        assert not caught_up(M)  # not answered lately: unknown again
    finally:
        w._pool.shutdown()
