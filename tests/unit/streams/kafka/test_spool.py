"""The on-disk spool: order kept across segments and restarts, bounded with counted shedding,
torn tails detected, prepended records replayed first."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from netvigil.streams.kafka.spool import Record, Spool

RECORDS = st.builds(
    Record,
    topic=st.sampled_from(["netvigil.metrics", "netvigil.events", "x" * 200]),
    key=st.none() | st.binary(max_size=20),
    value=st.binary(max_size=300),
    headers=st.lists(st.tuples(st.text(max_size=20), st.binary(max_size=40)), max_size=3).map(
        tuple
    ),
)


def drain(spool: Spool) -> list[Record]:
    out: list[Record] = []
    while (seg := spool.oldest()) is not None:
        out.extend(spool.read(seg))
        spool.remove(seg)
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(RECORDS, max_size=60), st.integers(64, 2000))
def test_everything_appended_comes_back_in_order(
    tmp_path_factory: object, records: list[Record], segment: int
) -> None:
    path = tmp_path_factory.mktemp("spool")  # type: ignore[attr-defined]
    spool = Spool(path, max_bytes=10**9, segment_bytes=segment)
    spool.append_many(records)
    assert bool(spool) == bool(records)
    assert drain(spool) == records
    assert not spool and spool.bytes == 0


def test_survives_a_restart_and_keeps_appending_after_it(tmp_path: Path) -> None:
    first = [Record("t", b"k%d" % i, b"v%d" % i) for i in range(50)]
    spool = Spool(tmp_path, max_bytes=10**6, segment_bytes=200)
    spool.append_many(first)
    spool.close()
    again = Spool(tmp_path, max_bytes=10**6, segment_bytes=200)
    more = [Record("t", None, b"late")]
    again.append_many(more)
    assert drain(again) == first + more


def test_full_spool_sheds_oldest_segments_and_counts_them(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=4000, segment_bytes=1000)
    records = [Record("netvigil.metrics", b"r1", bytes(90)) for _ in range(200)]
    spool.append_many(records)
    assert spool.bytes <= 4000
    kept = drain(spool)
    shed = spool.shed["netvigil.metrics"]
    assert shed > 0 and len(kept) + shed == 200
    assert kept == records[-len(kept) :]  # the newest survive, still in order


def test_a_record_larger_than_the_spool_is_shed_and_counted(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=100)
    spool.append(Record("big", None, bytes(500)))
    assert spool.shed["big"] == 1 and not spool


def test_pinned_segment_under_replay_is_not_shed(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=3000, segment_bytes=700)
    spool.append_many([Record("a", None, bytes(100)) for _ in range(6)])
    seg = spool.oldest()
    assert seg is not None
    before = list(spool.read(seg))
    spool.append_many([Record("b", None, bytes(100)) for _ in range(40)])
    assert sum(spool.shed.values()) > 0  # the spool was full ...
    assert seg in spool.segments() and list(spool.read(seg)) == before  # ... but not of this


def test_torn_tail_stops_reading_and_is_counted(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    good = [Record("t", b"k", b"v%d" % i) for i in range(3)]
    spool.append_many(good)
    spool.close()
    seg = next(tmp_path.glob("*.seg"))
    seg.write_bytes(seg.read_bytes() + b"\x10\x00\x00\x00garbage")
    again = Spool(tmp_path, max_bytes=10**6)
    assert drain(again) == good
    assert again.corrupt_bytes == 4 + len(b"garbage")


def test_prepended_records_replay_first(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6, segment_bytes=100)
    later = [Record("t", None, b"later%d" % i) for i in range(10)]
    spool.append_many(later)
    earlier = [Record("t", None, b"earlier%d" % i) for i in range(3)]
    spool.prepend(earlier)
    assert drain(spool) == earlier + later


def test_a_spool_written_before_headers_were_kept_is_read(tmp_path: Path) -> None:
    """Frames of the earlier format (no headers flag) still replay, beside new ones."""
    payload = struct.pack("<Hi", 3, 2) + b"top" + b"k1" + b"old value"
    (tmp_path / f"{10**15:020d}.seg").write_bytes(
        struct.pack("<II", len(payload), zlib.crc32(payload)) + payload
    )
    spool = Spool(tmp_path, 1 << 20)
    spool.append(Record("top", b"k2", b"new", (("netvigil-order", b"p;top=0"),)))
    assert drain(spool) == [
        Record("top", b"k1", b"old value"),
        Record("top", b"k2", b"new", (("netvigil-order", b"p;top=0"),)),
    ]
