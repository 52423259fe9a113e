"""Finding records a consumer skipped, and those it delivers again: by the offsets each agent
expects next."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from netvigil.streams.gaps import Gap, RawMessage, RawRecord, find_gaps, new_records


def rec(topic: str, part: int, offset: int) -> RawRecord:
    return RawRecord(RawMessage(topic, part, offset, None), b"{}")


def test_a_jump_past_the_expected_offset_is_a_gap_per_partition() -> None:
    records = [rec("m", 0, 10), rec("m", 1, 5), rec("m", 0, 14), rec("m", 1, 6)]
    assert find_gaps({("m", 0): 10, ("m", 1): 3}, records) == [
        Gap("m", 1, 3, 5),
        Gap("m", 0, 11, 14),
    ]


def test_redeliveries_and_unknown_partitions_are_no_gap() -> None:
    # after a rebalance faust re-reads from the committed offset: older offsets are fine
    records = [rec("m", 0, 3), rec("m", 0, 4), rec("e", 2, 900)]
    assert find_gaps({("m", 0): 10}, records) == []


@given(st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=30))
def test_every_skipped_offset_is_in_exactly_one_gap(kept: list[int]) -> None:
    offsets = sorted(set(kept))
    gaps = find_gaps({("m", 0): 0}, [rec("m", 0, o) for o in offsets])
    missing = [o for g in gaps for o in range(g.start, g.stop)]
    assert missing == [o for o in range(offsets[-1]) if o not in offsets]


def test_records_below_the_expected_offset_were_handled_and_are_dropped() -> None:
    # read directly while faust stalled, then delivered by faust after all
    records = [rec("m", 0, 8), rec("m", 0, 9), rec("m", 0, 10), rec("m", 1, 0), rec("e", 0, 4)]
    got = new_records({("m", 0): 10, ("m", 1): 0}, records)
    assert [(r.message.topic, r.message.partition, r.message.offset) for r in got] == [
        ("m", 0, 10),
        ("m", 1, 0),
        ("e", 0, 4),  # a partition with no expectation keeps everything
    ]
