"""Event-time order: Reorder releases sorted by the upstream watermark, drops redeliveries and
lets stuck events go; Merge interleaves topics by event time; both lose nothing."""

from __future__ import annotations

import heapq
import pickle
from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from netvigil.events import Incident, Metric, encode
from netvigil.streams.kafka.reorder import PUBLISHERS_MAX, Merge, Reorder
from netvigil.streams.kafka.wire import Stamp


def metric(ts: float, dev: str = "r1", value: float | None = None) -> Metric:
    return Metric(ts=ts, device=dev, name="cpu.util", value=ts if value is None else value)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 10_000), max_size=80),
    st.integers(0, 50),
    st.randoms(use_true_random=False),
)
def test_sorted_and_complete_when_the_watermark_trails_the_disorder(
    times: list[int], skew: int, rnd: object
) -> None:
    ordered = sorted(times)
    # each event arrives at most `skew` event-seconds late, and upstream's watermark trails
    # the newest event it sent by more than that
    arrival = sorted(range(len(ordered)), key=lambda i: ordered[i] + rnd.uniform(0, skew))  # type: ignore[attr-defined]
    buf = Reorder()
    out = []
    for i in arrival:
        buf.push(metric(float(ordered[i]), value=i), now=0.0)
        mark = buf.high - skew - 1
        out.extend(buf.release(now=0.0, watermark=lambda arrived, m=mark: m))
    out.extend(buf.drain())
    assert [e.ts for e in out] == [float(t) for t in ordered]


def test_ties_go_by_key_so_the_order_of_keys_arriving_does_not_matter() -> None:
    a, b = metric(5.0, "ra"), metric(5.0, "rb")
    one, two = Reorder(), Reorder()
    one.push(a, 0)
    one.push(b, 0)
    two.push(b, 0)
    two.push(a, 0)
    assert one.drain() == two.drain() == [a, b]


def incident(revision: int, ts: float = 5.0) -> Incident:
    return Incident(
        ts=ts, fingerprint="f1", status="open", revision=revision, opened_ts=0.0, title="t"
    )


def test_one_keys_events_of_one_event_time_keep_the_order_they_were_written_in() -> None:
    """An incident's revisions of one event time reach the coordinator in revision order
    (by their bytes, revision 16 went before revision 3, and 3 to 15 were stale)."""
    buf = Reorder()
    for rev in range(1, 20):
        buf.push(incident(rev), now=0)
    buf.push(incident(20, ts=4.0), now=0)
    assert [i.revision for i in buf.drain() if isinstance(i, Incident)] == [20, *range(1, 20)]


def test_a_buffer_pickled_by_the_earlier_release_is_read() -> None:
    """Changelogs hold pickled buffers; the earlier heap entries were (ts, bytes, arrived,
    event)."""
    old = Reorder()
    events = [metric(7.0, "rb"), metric(5.0), metric(7.0, "ra")]
    old.heap = [(e.ts, encode(e), 1.0, e) for e in events]  # type: ignore[list-item]
    heapq.heapify(old.heap)
    got = pickle.loads(pickle.dumps(old))
    got.push(metric(6.0), now=2.0)
    assert [(e.ts, e.device) for e in got.drain()] == [
        (5.0, "r1"),
        (6.0, "r1"),
        (7.0, "ra"),
        (7.0, "rb"),
    ]


def test_nothing_newer_than_the_watermark_goes_until_stuck() -> None:
    buf = Reorder(stuck_s=60)
    buf.push(metric(100.0), now=0)
    assert buf.release(now=5, watermark=lambda a: 50.0) == []  # older ones may still come
    assert [e.ts for e in buf.release(now=5, watermark=lambda a: 100.0)] == [100.0]
    buf.push(metric(200.0), now=10)
    assert [e.ts for e in buf.release(now=70, watermark=lambda a: 0.0)] == [200.0]  # stuck


def test_redeliveries_are_dropped_but_distinct_events_are_kept() -> None:
    buf = Reorder()
    assert buf.push(metric(5.0), now=0) is True
    assert buf.push(metric(5.0), now=0) is False  # byte-identical: a redelivery
    assert buf.push(metric(5.0, "r2"), now=0) is True
    assert [e.device for e in buf.drain()] == ["r1", "r2"]
    assert buf.push(metric(5.0), now=9) is False  # also after it was released
    assert buf.duplicates == 2


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["m", "e"]), st.integers(0, 100)), max_size=60),
    st.randoms(use_true_random=False),
)
def test_merge_interleaves_topics_by_event_time(items: list, rnd: object) -> None:
    per_topic = {t: sorted(ts for tt, ts in items if tt == t) for t in ("m", "e")}
    merge = Merge(("m", "e"))
    cursor = {"m": 0, "e": 0}
    out: list[tuple[str, float]] = []

    def caught_up(topic: str) -> bool:
        return cursor[topic] == len(per_topic[topic])

    # deliver the two topics at random relative speeds, each in its own order
    while any(cursor[t] < len(per_topic[t]) for t in cursor):
        t = rnd.choice([t for t in cursor if cursor[t] < len(per_topic[t])])  # type: ignore[attr-defined]
        merge.push(t, metric(float(per_topic[t][cursor[t]])))
        cursor[t] += 1
        out += [(tt, e.ts) for tt, e in merge.release(caught_up)]
    out += [(tt, e.ts) for tt, e in merge.release(caught_up)]
    assert len(merge) == 0
    assert sorted(out, key=lambda x: x[1]) == sorted(
        [(t, float(ts)) for t in per_topic for ts in per_topic[t]], key=lambda x: x[1]
    )
    assert [ts for _, ts in out] == sorted(ts for _, ts in out)


def test_merge_waits_for_a_topic_that_is_behind() -> None:
    merge = Merge(("m", "e"))
    merge.push("e", metric(1800.0))
    assert merge.release(lambda t: False) == []  # metrics not read up to 1800 yet
    merge.push("m", metric(460.0))
    assert [e.ts for _, e in merge.release(lambda t: False)] == [460.0]
    assert [e.ts for _, e in merge.release(lambda t: t == "m")] == [1800.0]


def test_merge_waits_for_what_the_publisher_sent_to_the_other_topic_before() -> None:
    """A device's metric looked safe to let go (its events partition read to its last-known
    end), but its publisher had sent an older link-down event first, which the broker
    appended a moment later: the stamp says so, and the metric waits for it."""
    merge = Merge(("m", "e"))
    merge.push("m", metric(500.0), now=10.0, stamp=Stamp("p1", {"m": 3, "e": 1}))
    assert merge.release(lambda t: True, now=15.0) == []  # events record 0 not read yet
    merge.push("e", metric(490.0), now=15.1, stamp=Stamp("p1", {"m": 3, "e": 0}))
    got = merge.release(lambda t: True, now=15.1)
    assert [(t, e.ts) for t, e in got] == [("e", 490.0), ("m", 500.0)]


def test_a_stamp_of_another_publisher_or_a_later_start_does_not_hold_an_event() -> None:
    merge = Merge(("m", "e"))
    # events read through index 7 of p1: everything before lies before where reading began
    merge.push("e", metric(100.0), stamp=Stamp("p1", {"e": 7}))
    assert [e.ts for _, e in merge.release(lambda t: True)] == [100.0]
    merge.push("m", metric(200.0), stamp=Stamp("p1", {"m": 0, "e": 5}))
    merge.push("m", metric(300.0), stamp=Stamp("p2", {"m": 0}))  # p2 sent no events
    merge.push("m", metric(400.0))  # not stamped: by event time and caught-up only
    assert [e.ts for _, e in merge.release(lambda t: True)] == [200.0, 300.0, 400.0]


def test_a_merge_pickled_before_stamps_is_read() -> None:
    state = dict(Merge(("m", "e")).__dict__)
    state["queues"] = {"m": deque([(0.0, metric(1.0))])}
    del state["through"]
    merge = Merge.__new__(Merge)
    merge.__setstate__(state)
    assert [e.ts for _, e in merge.release(lambda t: True)] == [1.0]
    merge.push("e", metric(2.0), stamp=Stamp("p1", {"e": 0}))
    assert merge.through == {"p1": {"e": 1}}
    assert pickle.loads(pickle.dumps(merge)).through == {"p1": {"e": 1}}


def test_a_merge_keeps_the_stamps_of_a_bounded_number_of_publishers() -> None:
    merge = Merge(("m", "e"))
    for i in range(PUBLISHERS_MAX + 3):
        merge.push("e", metric(float(i)), stamp=Stamp(f"p{i}", {"e": 0}))
    assert len(merge.through) == PUBLISHERS_MAX
    assert f"p{PUBLISHERS_MAX + 2}" in merge.through and "p0" not in merge.through


def test_merge_never_lets_an_event_overtake_a_topic_that_is_not_caught_up() -> None:
    """Its end unknown (the partition has no leader) or records left to read (a backlog
    after a rebalance): however long that lasts, the topic may still bring something older
    (docs/kafka.md, three-broker run 14; before, the event went after 10 s)."""
    merge = Merge(("m", "e"), max_hold=5.0)
    merge.push("e", metric(100.0), now=0.0)
    assert merge.release(lambda t: False, now=4.0) == []
    assert merge.release(lambda t: False, now=3600.0) == []
    merge.push("m", metric(90.0), now=3600.0)
    assert [e.ts for _, e in merge.release(lambda t: False, now=3600.0)] == [90.0]
    assert [e.ts for _, e in merge.release(lambda t: t == "m", now=3600.0)] == [100.0]


def test_a_record_sent_first_is_waited_for_max_hold_of_its_topic_caught_up() -> None:
    """The publisher sent an events record before this metric, and the events topic is read
    to its end without it (the publisher died before it left): the metric goes once the
    topic has been caught up for ``max_hold``, counted from then, not from its arrival."""
    merge = Merge(("m", "e"), max_hold=5.0)
    merge.push("m", metric(100.0), now=0.0, stamp=Stamp("p1", {"m": 0, "e": 1}))
    assert merge.release(lambda t: False, now=60.0) == []  # events not caught up: wait
    assert merge.release(lambda t: True, now=61.0) == []  # caught up from 61 s
    assert merge.release(lambda t: False, now=64.0) == []  # its end unknown again
    assert merge.release(lambda t: True, now=65.0) == []  # caught up from 65 s
    assert merge.release(lambda t: True, now=69.9) == []
    assert [e.ts for _, e in merge.release(lambda t: True, now=70.0)] == [100.0]


def test_a_wait_that_ended_does_not_count_for_the_next_one() -> None:
    """The metric of 100 waited for the events record its publisher sent first, which came:
    the next metric waiting for another such record waits ``max_hold`` of its own (in the
    three-broker test a link-down went before the metrics sent ahead of it, on the clock of
    an earlier wait that had ended)."""
    merge = Merge(("m", "e"), max_hold=5.0)
    merge.push("m", metric(100.0), now=0.0, stamp=Stamp("p1", {"m": 0, "e": 1}))
    assert merge.release(lambda t: True, now=0.0) == []
    merge.push("e", metric(150.0), now=1.0, stamp=Stamp("p1", {"m": 0, "e": 0}))
    assert [e.ts for _, e in merge.release(lambda t: True, now=1.0)] == [100.0, 150.0]
    merge.push("m", metric(200.0), now=100.0, stamp=Stamp("p1", {"m": 1, "e": 2}))
    assert merge.release(lambda t: True, now=100.0) == []
    assert merge.release(lambda t: True, now=104.9) == []
    assert [e.ts for _, e in merge.release(lambda t: True, now=105.0)] == [200.0]


def test_a_restored_merge_counts_its_wait_again_from_the_restore() -> None:
    merge = Merge(("m", "e"), max_hold=5.0)
    merge.push("m", metric(100.0), now=0.0, stamp=Stamp("p1", {"m": 0, "e": 1}))
    assert merge.release(lambda t: True, now=1.0) == []
    restored = pickle.loads(pickle.dumps(merge))  # a state row, read back after an outage
    assert restored.idle == {}
    assert restored.release(lambda t: True, now=100.0) == []
    assert [e.ts for _, e in restored.release(lambda t: True, now=105.0)] == [100.0]


def test_merge_lets_go_when_too_much_is_held() -> None:
    merge = Merge(("m", "e"), max_held=3)
    for i in range(5):
        merge.push("m", metric(float(i)))
    assert [e.ts for _, e in merge.release(lambda t: False)] == [0.0, 1.0]
