"""The UDP path's batch (``batch.batch_events``) gives what the per-message path gives.

For any batch of datagrams, ``batch_events`` must return the concatenation of
``records.message_events`` over the datagrams in order (compared encoded, as the bus carries
them: field order and values byte for byte), including dead letters and their reasons, and
leave the collector's counters (received, decoded, dead letters by reason, raw bytes cut)
exactly as the per-message path does. Checked on the syslog vectors of ../shared/data, on the
ingest benchmark's corpus (Loghub lines as both RFCs, vendor lines), and on hypothesis batches
of lane-shaped messages, their near misses, random bytes and oversized garbage, from several
senders, at receive times that change the year a BSD stamp resolves to.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.bench_syslog import corpus
from netvigil.collectors.base import RAW_LIMIT, CollectorCounters
from netvigil.collectors.syslog import _lane
from netvigil.collectors.syslog.batch import batch_events
from netvigil.collectors.syslog.records import message_events
from netvigil.collectors.syslog.rfc3164 import stamp_epoch
from netvigil.events import LogRecord, encode
from tests.unit.collectors.test_syslog_fast_paths import CHECK, _near_misses, _vector_messages

PEERS = ("192.0.2.1", "192.0.2.2", "2001:db8::7")
TIMES = (1.7e9, 1704067199.5, 1704067200.0, 1709251200.0)
"""Receive times: any day, the last second of 2023 and the first of 2024 (a stamp without a
year resolves to the year that puts it in the past), 2024-03-01 (after a leap day)."""


def _per_message(batch: list[tuple[bytes, str]], received: float) -> tuple[list[bytes], dict]:
    counters = CollectorCounters()
    events = [e for raw, peer in batch for e in message_events(raw, peer, received, counters)]
    return [encode(e) for e in events], _counts(counters)


def _batched(batch: list[tuple[bytes, str]], received: float) -> tuple[list[bytes], dict]:
    counters = CollectorCounters()
    events = batch_events(batch, received, counters)
    return [encode(e) for e in events], _counts(counters)


def _counts(c: CollectorCounters) -> dict[str, object]:
    return {**c.snapshot(), "truncated": c.truncated}


def _check(batch: list[tuple[bytes, str]], received: float) -> None:
    assert _batched(batch, received) == _per_message(batch, received), batch


_batches = st.lists(
    st.tuples(
        st.one_of(
            _near_misses(),
            st.binary(min_size=RAW_LIMIT + 1, max_size=RAW_LIMIT + 40),  # cut in its dead letter
        ),
        st.sampled_from(PEERS),
    ),
    max_size=70,
)


@settings(CHECK, max_examples=600)
@given(_batches, st.sampled_from(TIMES))
def test_a_batch_gives_what_each_message_gives(batch: list[tuple[bytes, str]], t: float) -> None:
    _check(batch, t)


def test_the_same_on_the_vectors_and_the_benchmark_corpus() -> None:
    messages = _vector_messages() + corpus(3000)
    assert len(messages) > 3000  # the vectors are there (else conftest's data is missing)
    batch = [(m, PEERS[i % len(PEERS)]) for i, m in enumerate(messages)]
    for t in TIMES:
        for at in range(0, len(batch), 64):  # as recvmmsg hands them over
            _check(batch[at : at + 64], t)
    events, counts = _batched(batch, TIMES[0])
    decoded = [e for e in events if b'"type":"log"' in e]
    assert counts["received"] == len(messages) and len(decoded) == counts["decoded"]
    assert any(b'"type":"device_event"' in e for e in events)
    assert any(b'"type":"dead_letter"' in e for e in events)  # the vectors' malformed cases


def test_an_empty_batch_counts_nothing() -> None:
    counters = CollectorCounters()
    assert batch_events([], 1.7e9, counters) == []
    assert _counts(counters) == {"received": 0, "decoded": 0, "dead_letters": {}, "truncated": 0}


def test_the_lane_says_what_it_left_and_keeps_the_stamps_it_was_given() -> None:
    batch = [(m, PEERS[i % len(PEERS)]) for i, m in enumerate(corpus(200))]
    batch += [(b"not syslog", PEERS[0]), (b"<38>Dec 10 06:55:46 h t: \xff", PEERS[1])]
    stamps: dict[str, float | None] = {}
    items, left = _lane.records(batch, TIMES[0], LogRecord, stamp_epoch, stamps)
    assert len(items) == len(batch)
    assert left == [i for i, item in enumerate(items) if type(item) is not LogRecord]
    assert 0 < len(left) < len(batch) and items[-2] is None and items[-1] is None
    assert stamps and all(stamp_epoch(s, TIMES[0], None, None, None, None, None) == t
                          for s, t in stamps.items())  # fmt: skip
    again, _ = _lane.records(batch, TIMES[0], LogRecord, stamp_epoch, stamps)
    assert [encode(e) for e in again if e] == [encode(e) for e in items if e]


def test_the_lane_raises_what_it_is_given_to_raise() -> None:
    with pytest.raises(TypeError):
        _lane.records([(b"<38>Dec 10 06:55:46 h t: x", 7)], 1.7e9, LogRecord, stamp_epoch)

    def broken(*_: object) -> float:
        raise ValueError("no time")

    with pytest.raises(ValueError, match="no time"):
        _lane.records([(b"<38>Dec 10 06:55:46 h t: x", "p")], 1.7e9, LogRecord, broken)
