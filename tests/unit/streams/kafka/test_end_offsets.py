"""EndOffsets replaces an admin client that is stuck with what it learnt while the broker was
away (stale leader epochs, or no leader at all), and keeps one that merely timed out.

librdkafka's admin client keeps such metadata for ``metadata.max.age.ms`` (15 min): in a CI
run a worker's client that had asked while the broker restarted answered "No leaders found"
for the rest of the test, and the stage held every re-keyed event. The client here is a
stand-in because the broker's leaderless moment cannot be timed from a test."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from netvigil.streams.kafka import admin

TPS = [("t", 0), ("t", 1)]


def answers(
    asked: dict[TopicPartition, Any], error: Callable[[TopicPartition], int | None]
) -> dict[Any, Future[TopicPartition]]:
    """``list_offsets``' futures: the error ``error(tp)`` names, else the end 7 + partition."""
    out: dict[Any, Future[TopicPartition]] = {}
    for tp in asked:
        fut: Future[TopicPartition] = Future()
        code = error(tp)
        if code is not None:
            fut.set_exception(KafkaException(KafkaError(code)))
        else:
            fut.set_result(TopicPartition(tp.topic, tp.partition, 7 + tp.partition))
        out[tp] = fut
    return out


class StuckThenFine:
    """The first client fails every request with ``error``; clients made later answer."""

    made = 0
    error = KafkaError._NOENT

    def __init__(self, config: dict[str, Any]) -> None:
        type(self).made += 1
        self.stuck = type(self).made == 1

    def list_offsets(
        self, asked: dict[TopicPartition, Any], **_: Any
    ) -> dict[Any, Future[TopicPartition]]:
        return answers(asked, lambda tp: type(self).error if self.stuck else None)


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> type[StuckThenFine]:
    StuckThenFine.made = 0
    monkeypatch.setattr(admin, "AdminClient", StuckThenFine)
    return StuckThenFine


@pytest.mark.parametrize(
    "error",
    [KafkaError._NOENT, KafkaError.FENCED_LEADER_EPOCH, KafkaError.UNKNOWN_LEADER_EPOCH],
    ids=["no-leaders-found", "fenced-epoch", "unknown-epoch"],
)
def test_a_client_stuck_on_leaders_is_replaced_and_the_next_ask_is_answered(
    client: type[StuckThenFine], error: int
) -> None:
    client.error = error
    ends = admin.EndOffsets("127.0.0.1:1")
    with pytest.raises(KafkaException):
        ends(TPS)
    assert ends(TPS) == {("t", 0): 7, ("t", 1): 8}
    assert client.made == 2


def test_a_client_that_timed_out_is_kept(client: type[StuckThenFine]) -> None:
    client.error = KafkaError._TIMED_OUT
    ends = admin.EndOffsets("127.0.0.1:1")
    for _ in range(3):
        with pytest.raises(KafkaException):
            ends(TPS)
    assert client.made == 1
