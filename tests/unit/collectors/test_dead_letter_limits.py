"""Dead letters stay small whatever arrives: a collector keeps at most RAW_LIMIT raw bytes per
letter (and says how many there were), and a line framer turns an endless line into one
error, not one per buffer's worth."""

from __future__ import annotations

from netvigil.collectors.base import RAW_LIMIT, CollectorCounters, dead_letter
from netvigil.collectors.syslog.framing import FramingError, LineFramer


def test_a_dead_letter_keeps_the_first_raw_limit_bytes_and_says_so() -> None:
    counters = CollectorCounters()
    raw = bytes(range(256)) * 4096  # 1 MiB
    letter = dead_letter("syslog", raw, "bad_syslog: no PRI", 0.0, counters)
    assert letter.raw == raw[:RAW_LIMIT]
    assert letter.reason == f"bad_syslog: no PRI [raw: first {RAW_LIMIT} of {len(raw)} bytes]"
    assert counters.dead_letters == {"bad_syslog": 1} and counters.truncated == 1
    small = dead_letter("syslog", b"x" * RAW_LIMIT, "bad_syslog: no PRI", 0.0, counters)
    assert small.raw == b"x" * RAW_LIMIT and small.reason == "bad_syslog: no PRI"
    assert counters.truncated == 1


def test_an_endless_line_is_one_framing_error_then_the_framer_resynchronises() -> None:
    framer = LineFramer(max_length=1000)
    frames = []
    for _ in range(1600):  # 100 MiB in 64 KiB reads, no line feed
        frames += framer.feed(b"A" * 65536)
    frames += framer.feed(b"tail of the long line\n<13>next message\n")
    errors = [f for f in frames if isinstance(f, FramingError)]
    assert len(errors) == 1
    assert errors[0].raw == b"A" * 1000
    assert [f for f in frames if not isinstance(f, FramingError)] == [b"<13>next message"]
    assert framer.close() == []


def test_a_long_line_inside_one_read_is_cut_too() -> None:
    framer = LineFramer(max_length=100)
    frames = framer.feed(b"B" * 150 + b"\n<13>ok\n")
    assert isinstance(frames[0], FramingError) and frames[0].raw == b"B" * 100
    assert frames[1:] == [b"<13>ok"]
