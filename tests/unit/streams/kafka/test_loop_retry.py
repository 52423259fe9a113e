"""The Kafka loop retries what the broker will answer soon, and gives up on the rest."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any, cast

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from netvigil.errors import NetVigilError
from netvigil.streams.kafka import admin, loop
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
    app = cast(KafkaLoop, SimpleNamespace(group="g", _stopping=False))
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


def test_a_transactional_call_that_never_returns_is_given_up_as_hung(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """librdkafka's send_offsets_to_transaction can block past its own timeout for good once
    the group coordinator's broker went away: the round must not wait for it forever."""
    monkeypatch.setattr(loop, "HUNG_S", 0.2)
    release = threading.Event()
    app = cast(KafkaLoop, SimpleNamespace(group="g", _stopping=False))
    app._retrying = lambda what, call, within=None: KafkaLoop._retrying(app, what, call, within)  # type: ignore[method-assign]
    try:
        with pytest.raises(loop._Hung):
            KafkaLoop._bounded(app, "sending offsets", lambda: release.wait(30))
        assert KafkaLoop._bounded(app, "committing", lambda: "done") == "done"
    finally:
        release.set()


class _Producer:
    """A transactional producer whose commit must be aborted and whose abort then fails."""

    def __init__(self, abort_error: KafkaError) -> None:
        self.abort_error = abort_error

    def begin_transaction(self) -> None:
        pass

    def commit_transaction(self, timeout: float) -> None:
        raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "x", txn_requires_abort=True))

    def abort_transaction(self, timeout: float) -> None:
        raise KafkaException(self.abort_error)


def transact(abort_error: KafkaError) -> None:
    app = cast(
        KafkaLoop, SimpleNamespace(group="g", _stopping=False, _producer=_Producer(abort_error))
    )
    app._consumer = object()  # type: ignore[assignment]
    app._retrying = lambda what, call: KafkaLoop._retrying(app, what, call)  # type: ignore[method-assign]
    app._bounded = lambda what, call: call()  # type: ignore[method-assign]
    KafkaLoop._transact(app, [], {}, {})


def test_an_abort_that_fails_for_good_replaces_the_producer_instead_of_stopping() -> None:
    """After the broker restarted, a timed-out abort was answered INVALID_TXN_STATE (fatal)
    and the coordinator's loop stopped; a new producer can take the transactional id."""
    fatal = KafkaError(KafkaError.INVALID_TXN_STATE, "invalid state", fatal=True)
    with pytest.raises(loop._Renew):
        transact(fatal)


def test_a_fenced_producer_stops_the_loop() -> None:
    """Another worker took the transactional id: this one must not fight it."""
    fenced = KafkaError(KafkaError.PRODUCER_FENCED, "fenced", fatal=True)
    with pytest.raises(NetVigilError):
        transact(fenced)


def test_a_transactional_call_failing_for_longer_than_hung_s_replaces_the_producer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After the broker restarted an abort was answered _TIMED_OUT (retriable) for minutes."""
    monkeypatch.setattr(loop.time, "sleep", lambda s: None)
    monkeypatch.setattr(loop, "HUNG_S", -1.0)  # already past after the first failure
    app = cast(KafkaLoop, SimpleNamespace(group="g", _stopping=False))
    app._retrying = lambda what, call, within=None: KafkaLoop._retrying(app, what, call, within)  # type: ignore[method-assign]

    def abort() -> None:
        raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "timed out", retriable=True))

    with pytest.raises(loop._Renew):
        KafkaLoop._bounded(app, "aborting", abort)


def test_a_local_timeout_is_asked_again_past_unknown_s(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading a changelog's end timed out while a node of a cluster restarted, and the
    correlator's loop stopped: a timeout is the broker away or slow, retried like it."""
    monkeypatch.setattr(loop.time, "sleep", lambda s: None)
    monkeypatch.setattr(loop, "UNKNOWN_S", -1.0)  # not bounded by the settling deadline
    call = failing([KafkaError._TIMED_OUT] * 5)
    assert retrying(call) == "done"
    assert len(call.calls) == 6


class _Offsets:
    """A consumer of the group whose offset fetch times out for good (``stuck``) or answers."""

    def __init__(self, stuck: bool, offset: int = 42) -> None:
        self.stuck, self.offset = stuck, offset
        self.seeks: list[tuple[str, int, int]] = []
        self.closed = False

    def committed(self, asked: list[Any], timeout: float) -> list[Any]:
        if self.stuck:
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "timed out", retriable=True))
        return [
            SimpleNamespace(topic=tp.topic, partition=tp.partition, offset=self.offset)
            for tp in asked
        ]

    def seek(self, tp: Any) -> None:
        self.seeks.append((tp.topic, tp.partition, tp.offset))

    def close(self) -> None:
        self.closed = True


def test_offsets_unanswered_after_an_abort_are_read_by_a_new_reader_with_a_new_producer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Exactly once, after a broker restart: the correlator's rewind asked its consumer for
    the committed offsets, timed out every 10 s for ten minutes, and the test timed out."""
    monkeypatch.setattr(loop.time, "sleep", lambda s: None)
    monkeypatch.setattr(loop, "HUNG_S", -1.0)  # already past after the first failure
    readers: list[_Offsets] = []

    def new_reader(conf: dict[str, Any]) -> _Offsets:
        assert conf["group.id"] == "g" and conf["isolation.level"] == "read_committed"
        readers.append(_Offsets(stuck=False))
        return readers[-1]

    monkeypatch.setattr(admin, "Consumer", new_reader)
    renewed: list[int] = []
    app = KafkaLoop.__new__(KafkaLoop)
    stuck = _Offsets(stuck=True)
    vars(app).update(
        group="g",
        _stopping=False,
        bootstrap="127.0.0.1:1",
        assignment=[("in", 0), ("in", 1)],
        _consumer=stuck,
        _read={},
        _committed={},
        _max_ts={},
    )
    monkeypatch.setattr(app, "_new_producer", lambda: renewed.append(1), raising=False)
    monkeypatch.setattr(app, "_restore", lambda: None, raising=False)
    monkeypatch.setattr(app, "_forget_marks", lambda: None, raising=False)
    KafkaLoop._rewind_to_committed(app)
    assert renewed == [1]
    assert len(readers) == 1 and readers[0].closed
    assert stuck.seeks == [("in", 0, 42), ("in", 1, 42)]
    assert app._committed == {("in", 0): 42, ("in", 1): 42}


def test_a_call_retried_for_good_ends_when_the_app_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same fetch, retried without end, held the app's stop and the process's exit (the
    test process hung after its own timeout)."""
    app = cast(KafkaLoop, SimpleNamespace(group="g", _stopping=False))
    calls = 0

    def stuck() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            app._stopping = True  # the app is stopped while the call is retried
        raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "timed out", retriable=True))

    monkeypatch.setattr(loop.time, "sleep", lambda s: None)
    with pytest.raises(loop._Stopped):
        KafkaLoop._retrying(app, "reading committed offsets", stuck)
    assert calls == 3


def test_a_coordinator_settling_after_an_outage_gets_its_own_unknown_s(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Exactly once, after the broker restart: the coordinator's offset fetch timed out for
    the outage's 30 s, then the restarted broker answered NOT_COORDINATOR once while it took
    the group back, and the loop stopped: the settling allowance had run out during the
    timeouts."""
    clock = [0.0]
    monkeypatch.setattr(loop.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(loop.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + 10.0))
    call = failing([KafkaError._TIMED_OUT] * 5 + [KafkaError.NOT_COORDINATOR] * 2)
    assert retrying(call) == "done"  # 50 s of timeouts, then 20 s of settling
    assert len(call.calls) == 8
    with pytest.raises(KafkaException):  # settling for longer than UNKNOWN_S is an error
        retrying(failing([KafkaError.NOT_COORDINATOR] * 5))


def test_an_offset_commit_that_failed_is_committed_again_with_the_next_round() -> None:
    """At least once, commits are asynchronous (a synchronous one once blocked for ten
    minutes after a broker restart): a failed one must not count as committed, or a
    partition with nothing new would never show its records as consumed."""
    app = KafkaLoop.__new__(KafkaLoop)
    vars(app).update(group="g", _committed={("in", 0): 7, ("in", 1): 9, ("in", 2): 4})
    ok = TopicPartition("in", 0, 7)
    bad = SimpleNamespace(  # librdkafka's per-partition error (read-only on TopicPartition)
        topic="in", partition=1, offset=9, error=KafkaError(KafkaError.REQUEST_TIMED_OUT)
    )
    app._on_commit(None, [ok, cast(TopicPartition, bad)])
    assert app._committed == {("in", 0): 7, ("in", 2): 4}
    app._on_commit(KafkaError(KafkaError._TRANSPORT), [TopicPartition("in", 2, 3)])
    assert app._committed == {("in", 0): 7, ("in", 2): 4}  # an older offset's failure: kept
    app._on_commit(KafkaError(KafkaError._TRANSPORT), [TopicPartition("in", 2, 4)])
    assert app._committed == {("in", 0): 7}
