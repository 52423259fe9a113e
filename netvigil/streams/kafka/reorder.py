"""Event-time order for processors that merge streams (pure, no I/O): two buffers.

:class:`Merge` is for a processor with several input topics keyed alike (the detector reads
metrics and device events by device). Each topic is in order per key, but a consumer reads the
topics at different speeds: after an outage the small events topic is read to its end while
metrics are still minutes of event time behind, and a link-down event would reach the detector
before the samples that precede it. Merge holds a key's events per topic and releases the
oldest head only when every other topic has passed that time, or has nothing left to read for
now (caught up) — the rule Kafka Streams uses for the same problem (KIP-695). Live streams
are caught up, so nothing waits; a backlog is merged exactly. Ties go in input-topic order.
"Caught up" is the consumer's last-known end of the partition, and the broker may append a
key's older record of one topic after a newer one of another (its producer sends each
partition on its own): so an event whose record carries a
:class:`~netvigil.streams.kafka.wire.Stamp` also waits until the records its publisher sent
to the other topics before it are read, which is exact for one publisher (events of
different publishers have no order but their event times).
No wall-clock bound lets an event overtake a topic that is not caught up (its end unknown,
or records left to read), the rule of Kafka Streams' ``max.task.idle.ms`` since KIP-695: a
topic whose partition has no leader (a broker killed) or a backlog (after a rebalance) may
still bring an older record of the key, and going on without it applied a key's link-up
before the link-down samples read after it (docs/kafka.md, the three-broker runs). The
bound ``max_hold`` only ends the wait for a record the publisher sent first once the topic
has stayed caught up that long without it (the publisher died before the record left it);
``max_held`` bounds the memory.

:class:`Reorder` is for a processor whose own key merges many partitions (the correlator
keys everything to ``all``): its input arrives in the order consumers happened to read the
partitions, and during a backlog or a rebalance one partition can run minutes of event time
ahead of another. Time-window logic fed that way groups the wrong anomalies. Reorder holds
events and releases them sorted by event time once no worker upstream may still deliver an
older one: the watermark of :mod:`netvigil.streams.kafka.progress`, computed from Kafka, not from
the wall clock, so it is right however fast a backlog is replayed and whichever worker died.
Live, upstream reports being caught up within a second, and that is the added latency. An
event that waited ``stuck_s`` goes anyway (a worker that reports nothing cannot stop the
pipeline). Events of one event time go by their partition key, and events of one key in the
order they arrived, which is the order their producer wrote them (one key is one partition
upstream, and re-keying keeps the order of each partition): so the same input gives the same
order, and an incident's revisions of one event time reach the coordinator in revision order
(sorted by their bytes, revision 16 went before revision 3 and revisions were skipped as
stale).

Such a stream reaches its processor through a re-keying hop, and every hop redelivers after a
crash (at least once); a redelivered anomaly arriving after its incident was resolved would
open a second incident. So Reorder also drops an event byte-identical to one it took within
the last ``dedupe_s`` seconds of event time. The buffers are part of the key's state and are
saved with it, surviving crashes and rebalances.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from netvigil.events import Event, encode, key_of
from netvigil.streams.kafka.wire import Stamp

__all__ = ["Merge", "Reorder"]

#: publishers whose record counts one key's merge keeps (a publisher's id changes at each start)
PUBLISHERS_MAX = 8


@dataclass
class Reorder:
    """A min-heap of events by (event time, partition key, arrival), released by the
    watermark."""

    stuck_s: float = 120.0
    heap: list[tuple[float, str, int, float, Event]] = field(default_factory=list)
    """(event time, partition key, arrival number, wall time of arrival, event)."""
    high: float = float("-inf")
    """The newest event time seen."""
    dedupe_s: float = 3600.0
    taken: dict[bytes, float] = field(default_factory=dict)
    """Digest -> event time of the events taken within ``dedupe_s`` of ``high``."""
    duplicates: int = 0
    arrivals: int = 0
    """Events taken so far: the next one's arrival number."""

    def __len__(self) -> int:
        return len(self.heap)

    def __setstate__(self, state: dict[str, object]) -> None:
        """A buffer pickled by an earlier release (heap entries ``(ts, bytes, arrived,
        event)``, in a state changelog) is taken in this form."""
        heap = state.get("heap")
        if isinstance(heap, list) and heap and len(heap[0]) == 4:
            entries = sorted(heap, key=lambda e: (e[0], e[1]))
            state["heap"] = [
                (ts, key_of(ev), i, at, ev) for i, (ts, _, at, ev) in enumerate(entries)
            ]
            state.setdefault("arrivals", len(entries))
        state.setdefault("arrivals", 0)
        self.__dict__.update(state)

    def push(self, event: Event, now: float) -> bool:
        """Buffer ``event`` that arrived at wall-clock time ``now``; False for a redelivery."""
        raw = encode(event)
        digest = hashlib.blake2b(raw, digest_size=16).digest()
        if digest in self.taken:
            self.duplicates += 1
            return False
        self.taken[digest] = event.ts
        heapq.heappush(self.heap, (event.ts, key_of(event), self.arrivals, now, event))
        self.arrivals += 1
        if event.ts > self.high:
            self.high = event.ts
            if len(self.taken) > 1024:
                old = self.high - self.dedupe_s
                self.taken = {d: ts for d, ts in self.taken.items() if ts >= old}
        return True

    def release(
        self, now: float, watermark: Callable[[float], float] = lambda arrived: float("inf")
    ) -> list[Event]:
        """The events that may go now, oldest event time first. ``watermark(arrived)``: the
        oldest event time upstream may still deliver, as far as is known about what was
        written before an event arrived (see :mod:`netvigil.streams.kafka.progress`); no event newer
        than it goes, unless it has been stuck for ``stuck_s``."""
        out = []
        heap = self.heap
        while heap:
            ts, _, _, arrived, _ = heap[0]
            if not (ts <= watermark(arrived) or now - arrived >= self.stuck_s):
                break
            out.append(heapq.heappop(heap)[4])
        return out

    def drain(self) -> list[Event]:
        """Everything, in order (shutdown of a replay)."""
        return [heapq.heappop(self.heap)[4] for _ in range(len(self.heap))]


@dataclass
class Merge:
    """One key's events from several input topics, released in event-time order."""

    topics: tuple[str, ...]
    max_hold: float = 10.0
    max_held: int = 20_000
    queues: dict[str, deque[tuple[float, Event, Stamp | None]]] = field(default_factory=dict)
    """Per topic, (wall time of arrival, event, its record's stamp)."""
    seen: dict[str, float] = field(default_factory=dict)
    """The newest event time read from each topic for this key."""
    through: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per publisher id (in the order first read; at most ``PUBLISHERS_MAX``), per topic, the
    number of its records of that topic read through: one more than the largest index read
    (a record's stamp gives its own index); a partition is read in order, so the ones before
    it were read too, or lie before where this consumer started."""
    idle: dict[str, float] = field(default_factory=dict)
    """Per topic, since when (wall time) the head event has waited for a record of it that
    its publisher sent first while the topic was caught up (see :meth:`release`); not kept
    across a restore (:meth:`__setstate__`)."""

    def __len__(self) -> int:
        return sum(len(q) for q in self.queues.values())

    def __setstate__(self, state: dict[str, object]) -> None:
        """A merge pickled before stamps (queue entries ``(arrival, event)``) is taken too."""
        queues = state.get("queues")
        if isinstance(queues, dict):
            for topic, q in queues.items():
                if q and len(q[0]) == 2:
                    queues[topic] = deque((at, ev, None) for at, ev in q)
        state.setdefault("through", {})
        # a wait restored from a changelog started before the restore (an outage ago, maybe):
        # counted from then, it would have run out before the topic was read again
        state["idle"] = {}
        self.__dict__.update(state)

    def push(self, topic: str, event: Event, now: float = 0.0, stamp: Stamp | None = None) -> None:
        """Buffer ``event`` of ``topic`` that arrived at wall-clock time ``now`` in a record
        stamped ``stamp`` (None: not stamped)."""
        if stamp is not None and (index := stamp.before.get(topic)) is not None:
            mine = self.through.get(stamp.publisher)
            if mine is None:
                if len(self.through) >= PUBLISHERS_MAX:  # the first seen is the likeliest gone
                    del self.through[next(iter(self.through))]
                mine = self.through[stamp.publisher] = {}
            if index >= mine.get(topic, 0):
                mine[topic] = index + 1
        self.queues.setdefault(topic, deque()).append((now, event, stamp))
        self.seen[topic] = max(self.seen.get(topic, float("-inf")), event.ts)

    def release(
        self, caught_up: Callable[[str], bool], now: float = 0.0
    ) -> list[tuple[str, Event]]:
        """Events that may go now, as (topic, event), oldest first. ``caught_up(topic)`` says
        whether a topic has nothing more to read for now (its partition is at an end the
        broker gave lately; False when that is unknown). An event waits while another topic
        may still bring something older: one read no further than its time that is not
        caught up, however long that takes; or one whose records sent before the event's own
        (by its stamp) are not all read through, for up to ``max_hold`` seconds (wall time
        ``now``) of that topic caught up. With more than ``max_held`` events held, the
        oldest go anyway."""
        out: list[tuple[str, Event]] = []
        queues = self.queues
        idle = self.idle
        order = _order(self.topics)
        last = len(order)
        held = len(self)
        while True:  # the hot path of every detector event: plain loops, no temporaries
            best: tuple[float, int, float, str] | None = None
            for t, q in queues.items():
                if q:
                    head = (q[0][1].ts, order.get(t, last), q[0][0], t)
                    if best is None or head < best:
                        best = head
            if best is None:
                return out
            ts, _, _, topic = best
            if held - len(out) <= self.max_held:
                stamp = queues[topic][0][2]
                for other in self.topics:
                    if other == topic:
                        continue
                    # a non-empty queue's head is not older (it was not chosen)
                    if queues.get(other) or self.seen.get(other, float("-inf")) > ts:
                        if idle:  # a wait for ``other`` that ended is not the next one's
                            idle.pop(other, None)
                        continue
                    if not caught_up(other):
                        if idle:
                            idle.pop(other, None)
                        return out  # ``other`` may still bring something older: wait
                    if stamp is not None and stamp.before.get(other, 0) > self.through.get(
                        stamp.publisher, {}
                    ).get(other, 0):  # its publisher sent ``other`` more before it
                        if now - idle.setdefault(other, now) < self.max_hold:
                            return out
                    elif idle:
                        idle.pop(other, None)
            out.append((topic, queues[topic].popleft()[1]))


@functools.lru_cache(maxsize=64)
def _order(topics: tuple[str, ...]) -> dict[str, int]:
    """Tie-break rank of each input topic (cached: Merge is pickled, so no extra field)."""
    return {t: i for i, t in enumerate(topics)}
