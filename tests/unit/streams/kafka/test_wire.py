"""Kafka record values: batches of events round-trip; foreign bytes become failures, never
exceptions, and the good elements of a half-bad batch still decode."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netvigil.events import Metric, encode
from netvigil.streams.kafka.wire import Stamp, decode_batch, encode_batch, headers_of
from tests.unit.test_events import EVENTS


@settings(max_examples=200, deadline=None)
@given(st.lists(EVENTS, min_size=1, max_size=8))
def test_batches_round_trip(events: list) -> None:
    got = decode_batch(encode_batch(events))
    assert got.failures == []
    assert got.events == events


def test_one_event_is_a_plain_object_any_client_reads() -> None:
    m = Metric(ts=1.0, device="r1", name="cpu.util", value=0.5)
    assert encode_batch([m]) == encode(m)
    assert encode_batch([m, m]).startswith(b"[")


def test_an_empty_batch_is_refused() -> None:
    with pytest.raises(ValueError):
        encode_batch([])


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_never_raises(data: bytes) -> None:
    got = decode_batch(data)
    assert got.events or got.failures
    for raw, reason in got.failures:
        assert reason.startswith("EventDecodeError")
        assert isinstance(raw, bytes)


NOT_EVENTS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
).map(lambda v: json.dumps(v).encode())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(EVENTS.map(encode), NOT_EVENTS), min_size=1, max_size=6))
def test_bad_elements_are_failures_and_good_ones_still_decode(parts: list[bytes]) -> None:
    got = decode_batch(b"[" + b",".join(parts) + b"]")
    good = [p for p in parts if not decode_batch(p).failures]
    assert len(got.events) == len(good)
    assert [raw for raw, _ in got.failures] == [p for p in parts if p not in good]


def test_null_and_empty_values_are_failures() -> None:
    assert decode_batch(None).failures[0][1].startswith("EventDecodeError: empty record")
    assert decode_batch(b"[]").failures[0][1] == "EventDecodeError: empty batch"
    assert decode_batch(b"").failures


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters=";"), min_size=1
    ),
    st.dictionaries(
        st.text(
            st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters=";,="),
            min_size=1,
        ),
        st.integers(0, 2**40),
    ),
)
def test_order_stamps_round_trip(publisher: str, before: dict[str, int]) -> None:
    stamp = Stamp(publisher, before)
    assert Stamp.parse(stamp.header()) == stamp


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=80) | st.text(max_size=80))
def test_a_malformed_order_stamp_is_none_never_an_error(value: bytes | str) -> None:
    """A header from a foreign or broken client: the record merges as one of no publisher."""
    stamp = Stamp.parse(value)
    assert stamp is None or (stamp.publisher and all(n >= 0 for n in stamp.before.values()))


def test_order_stamp_examples() -> None:
    assert Stamp.parse(b"ab12;netvigil.metrics=3,netvigil.events=0") == Stamp(
        "ab12", {"netvigil.metrics": 3, "netvigil.events": 0}
    )
    assert Stamp.parse(b"ab12;") == Stamp("ab12", {})
    for bad in (None, b"", b";x=1", b"p;x", b"p;x=-1", b"p;=1", b"p;x=1,", b"\xff;x=1"):
        assert Stamp.parse(bad) is None


def test_headers_in_every_form_the_client_gives_them() -> None:
    """confluent-kafka gives None, a list of pairs or a dict; the producer's delivery reports
    and the consumer read them through one function."""
    want = (("netvigil-order", b"p;x=1"), ("empty", b""))
    assert headers_of(None) == ()
    assert headers_of([("netvigil-order", b"p;x=1"), ("empty", None)]) == want
    assert headers_of({"netvigil-order": "p;x=1", "empty": None}) == want
