"""Watermarks from progress reports: the oldest not-caught-up partition of the groups holds
back, caught-up and stale reports do not, malformed reports are ignored; a group that runs
but has not reported every partition holds everything back, one that no worker runs (per a
listing taken after the event arrived) holds nothing back. In-band marks carry the upstream
reports a re-keying worker had caught up with, and hold back until every input partition is
covered by a fresh one."""

from __future__ import annotations

import pytest

from netvigil.streams.kafka.progress import (
    MarkBoard,
    Progress,
    ProgressBoard,
    is_mark,
    mark_value,
    progress_record,
)


def report(
    board: ProgressBoard,
    group: str,
    part: int,
    ts: float | None,
    up: bool,
    at: float,
    of: int | None = None,
) -> None:
    board.update(*progress_record(group, "t.metrics", part, Progress(ts, up, at, of)))


def test_watermark_is_the_oldest_partition_still_reading() -> None:
    board = ProgressBoard(stale_s=30)
    report(board, "det", 0, 500.0, False, at=100)
    report(board, "det", 1, 300.0, False, at=100)
    report(board, "det", 2, 100.0, True, at=100)  # caught up: holds nothing back
    report(board, "other", 0, 10.0, False, at=100)  # not a group we wait for
    assert board.watermark({"det"}, now=101, since=99) == 300.0
    report(board, "det", 1, 600.0, True, at=102)  # the later report replaces the earlier
    assert board.watermark({"det"}, now=103, since=99) == 500.0


def test_a_group_nobody_runs_holds_nothing_back_per_a_listing_newer_than_the_event() -> None:
    board = ProgressBoard(stale_s=30)
    assert board.watermark({"det"}, now=0) == float("-inf")  # never listed: may run
    board.set_live({"other"}, at=10)
    assert board.watermark({"det"}, now=11, since=9) == float("inf")
    # the listing is older than the event: the group may have joined and emitted since
    assert board.watermark({"det"}, now=11, since=10.5) == float("-inf")
    board.set_live({"det"}, at=12)  # it runs but has not reported: wait for it
    assert board.watermark({"det"}, now=13, since=11) == float("-inf")


def test_stale_reports_count_as_none() -> None:
    board = ProgressBoard(stale_s=30)
    report(board, "det", 0, 500.0, False, at=100)
    board.set_live(set(), at=131)
    assert board.watermark({"det"}, now=131, since=120) == float("inf")
    board.set_live({"det"}, at=131)
    assert board.watermark({"det"}, now=131, since=120) == float("-inf")


def test_a_group_that_reported_some_partitions_only_holds_everything_back() -> None:
    board = ProgressBoard()
    report(board, "det", 0, 500.0, True, at=100, of=2)
    who = board.blocking({"det"}, now=101, since=99)
    assert who == (float("-inf"), "det (t.metrics partitions [1] not reported)")
    report(board, "det", 1, 400.0, False, at=100, of=2)
    assert board.watermark({"det"}, now=101, since=99) == 400.0


def test_a_partition_with_nothing_handled_yet_blocks_everything() -> None:
    board = ProgressBoard()
    report(board, "det", 0, None, False, at=0)
    assert board.watermark({"det"}, now=1) == float("-inf")


def test_malformed_reports_are_ignored() -> None:
    board = ProgressBoard()
    board.update(b"no-bars", b"{}")
    board.update(b"g|t|1", b"not json")
    board.update(b"g|t|x", b'{"ts": 1, "caught_up": false, "at": 0}')
    board.set_live(set(), at=0)
    assert board.watermark({"g"}, now=0) == float("inf")


def test_caught_up_counts_only_for_events_that_arrived_before_the_report() -> None:
    board = ProgressBoard()
    report(board, "det", 0, 500.0, True, at=100)
    report(board, "det", 1, None, True, at=100)  # had never held anything when it reported
    assert board.watermark({"det"}, now=101, since=99) == float("inf")
    # an event that arrived after the report: upstream may have read more since then, also
    # in the partition that was empty
    assert board.watermark({"det"}, now=101, since=100.5) == float("-inf")
    report(board, "det", 1, None, True, at=101)
    assert board.watermark({"det"}, now=101, since=100.5) == 500.0


def test_the_clock_of_stuck_events_is_the_newest_report() -> None:
    board = ProgressBoard()
    assert board.heard == float("-inf")
    report(board, "det", 0, 5.0, False, at=100)
    report(board, "det", 1, 5.0, False, at=90)  # an older report does not turn it back
    assert board.heard == 100


# ---------------------------------------------------------------- in-band marks


def marked(board: ProgressBoard | None, parts: list[int], at: float) -> bytes:
    upstream = None if board is None else board.dump({"det"})
    return mark_value([("t.anomalies", p) for p in parts], 2, at, upstream)


def test_a_mark_carries_the_upstream_reports_it_covers() -> None:
    up = ProgressBoard()
    report(up, "det", 0, 500.0, False, at=100)
    report(up, "det", 1, 300.0, False, at=100)
    report(up, "other", 0, 10.0, False, at=100)  # not upstream: not carried
    value = marked(up, [0, 1], at=101)
    assert is_mark(value) and not is_mark(b'{"ts": 1}') and not is_mark(None)
    marks = MarkBoard("corr", stale_s=30)
    marks.take(value)
    assert marks.blocking({"det"}, now=102, since=101) == (300.0, "det|t.metrics|1")
    # of a group it did not carry, the mark says nothing: wait for it
    assert marks.blocking({"det", "other"}, now=102, since=101)[0] == float("-inf")


def test_every_input_partition_needs_a_fresh_mark_that_caught_up() -> None:
    up = ProgressBoard()
    report(up, "det", 0, 500.0, False, at=100)
    marks = MarkBoard("corr", stale_s=30)
    assert marks.blocking({"det"}, now=100, since=100)[0] == float("-inf")  # nothing read
    marks.take(marked(up, [0], at=100))
    mark, who = marks.blocking({"det"}, now=101, since=100)
    assert mark == float("-inf") and "partitions [1] not marked" in who
    marks.take(marked(None, [1], at=101))  # its writer has not caught up since it took it
    mark, who = marks.blocking({"det"}, now=102, since=100)
    assert mark == float("-inf") and "not caught up" in who
    marks.take(marked(up, [1], at=102))
    assert marks.blocking({"det"}, now=103, since=100)[0] == 500.0
    assert marks.blocking({"det"}, now=131, since=100)[0] == float("-inf")  # 0's is stale


def test_partitions_covered_by_different_marks_give_the_oldest_watermark() -> None:
    early, late = ProgressBoard(), ProgressBoard()
    report(early, "det", 0, 200.0, False, at=100)
    report(late, "det", 0, 400.0, False, at=110)
    marks = MarkBoard("corr", stale_s=30)
    marks.take(marked(early, [0], at=100))  # one worker re-keys partition 0 ...
    marks.take(marked(late, [1], at=110))  # ... another partition 1, and is further on
    assert marks.blocking({"det"}, now=111, since=100)[0] == 200.0
    marks.take(marked(late, [0], at=111))
    assert marks.blocking({"det"}, now=112, since=100)[0] == 400.0


def test_a_listing_travels_with_the_mark() -> None:
    up = ProgressBoard()
    up.set_live({"other"}, at=100)  # "det" has no worker: nothing to wait for
    marks = MarkBoard("corr", stale_s=30)
    marks.take(marked(up, [0, 1], at=101))
    assert marks.blocking({"det"}, now=102, since=99)[0] == float("inf")
    assert marks.blocking({"det"}, now=102, since=100.5)[0] == float("-inf")  # listed before


def test_a_malformed_mark_is_refused_whole() -> None:
    marks = MarkBoard("corr", stale_s=30)
    for bad in (b'{"netvigil-mark": 1}', b'{"netvigil-mark": 1, "covers": 3', b"[]"):
        with pytest.raises(ValueError, match="malformed progress mark"):
            marks.take(bad)
    assert marks.blocking(set(), now=0, since=0)[0] == float("-inf")
