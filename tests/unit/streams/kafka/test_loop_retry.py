"""The Kafka loop retries what the broker will answer soon, and gives up on the rest."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from confluent_kafka import KafkaError, KafkaException

from netvigil.streams.kafka import loop
from netvigil.streams.kafka.loop import KafkaLoop


def failing(codes: list[int], result: str = "done") -> Any:
    """A call that raises KafkaException with each of ``codes`` in turn, then returns."""
    left = list(codes)
    calls: list[int] = []

    def call() -> str:
        calls.append(1)
        if left:
            raise KafkaException(KafkaError(left.pop(0)))
        return result

    call.calls = calls  # type: ignore[attr-defined]
    return call


def retrying(call: Any) -> str:
    app = cast(KafkaLoop, SimpleNamespace(group="g"))
    return KafkaLoop._retrying(app, "reading", call)


def test_a_partition_unknown_right_after_the_topic_was_created_is_asked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(loop.time, "sleep", lambda s: None)
    call = failing([KafkaError._UNKNOWN_PARTITION, KafkaError.UNKNOWN_TOPIC_OR_PART])
    assert retrying(call) == "done"
    assert len(call.calls) == 3


def test_a_partition_unknown_for_longer_than_unknown_s_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(loop.time, "sleep", lambda s: None)
    monkeypatch.setattr(loop, "UNKNOWN_S", -1.0)  # the deadline has passed already
    with pytest.raises(KafkaException):
        retrying(failing([KafkaError._UNKNOWN_PARTITION]))


def test_a_fatal_error_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loop.time, "sleep", lambda s: None)
    call = failing([KafkaError.TOPIC_AUTHORIZATION_FAILED])
    with pytest.raises(KafkaException):
        retrying(call)
    assert len(call.calls) == 1


def test_a_new_partition_without_a_leader_yet_is_asked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A changelog topic made a moment ago: its end was asked before the broker had elected
    its leader, and the loop (of log analytics, in the twin test) died of it."""
    monkeypatch.setattr(loop.time, "sleep", lambda s: None)
    call = failing([KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE])
    assert retrying(call) == "done"
    assert len(call.calls) == 3
