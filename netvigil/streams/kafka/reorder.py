"""Event-time order for processors that merge streams (pure, no I/O): two buffers.

:class:`Merge` is for a processor with several input topics keyed alike (the detector reads
metrics and device events by device). Each topic is in order per key, but a consumer reads the
topics at different speeds: after an outage the small events topic is read to its end while
metrics are still minutes of event time behind, and a link-down event would reach the detector
before the samples that precede it. Merge holds a key's events per topic and releases the
oldest head only when every other topic has passed that time, or has nothing left to read for
now (caught up) — the rule Kafka Streams uses for the same problem (KIP-695). Live streams
are caught up, so nothing waits; a backlog is merged exactly. Ties go in input-topic order.

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

__all__ = ["Merge", "Reorder"]


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
    queues: dict[str, deque[tuple[float, Event]]] = field(default_factory=dict)
    seen: dict[str, float] = field(default_factory=dict)
    """The newest event time read from each topic for this key."""

    def __len__(self) -> int:
        return sum(len(q) for q in self.queues.values())

    def push(self, topic: str, event: Event, now: float = 0.0) -> None:
        """Buffer ``event`` of ``topic`` that arrived at wall-clock time ``now``."""
        self.queues.setdefault(topic, deque()).append((now, event))
        self.seen[topic] = max(self.seen.get(topic, float("-inf")), event.ts)

    def release(
        self, caught_up: Callable[[str], bool], now: float = 0.0, settle_s: float = 0.0
    ) -> list[tuple[str, Event]]:
        """Events that may go now, as (topic, event), oldest first. ``caught_up(topic)`` says
        whether a topic has nothing more to read for now (its partition is at its end).
        ``settle_s``: an event is let go on another topic being caught up only once it has
        waited that long (wall time). The broker may append a key's newer record of one topic
        before an older one of another (the producer sends each partition on its own), and a
        consumer's idea of a partition's end is as old as its last fetch: a short wait lets
        the older record arrive first. It narrows that window; it does not close it."""
        out: list[tuple[str, Event]] = []
        queues = self.queues
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
            ts, _, arrived, topic = best
            if not (now - arrived >= self.max_hold or held - len(out) > self.max_held):
                for other in self.topics:
                    if other == topic or queues.get(other):
                        continue  # a non-empty queue's head is not older: it was not chosen
                    if self.seen.get(other, float("-inf")) > ts:
                        continue
                    if now - arrived >= settle_s and caught_up(other):
                        continue
                    return out  # ``other`` may still bring something older: wait
            out.append((topic, queues[topic].popleft()[1]))


@functools.lru_cache(maxsize=64)
def _order(topics: tuple[str, ...]) -> dict[str, int]:
    """Tie-break rank of each input topic (cached: Merge is pickled, so no extra field)."""
    return {t: i for i, t in enumerate(topics)}
