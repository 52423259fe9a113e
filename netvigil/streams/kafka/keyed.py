"""What a processor's Kafka worker does with the records it is handed: per-key state with the
offsets applied to it, event-time buffers, running the processor, dead letters, progress.

:class:`KeyedWorker` is the transport-free part of :class:`~netvigil.streams.kafka.loop.KafkaLoop`
(the loop supplies records, end offsets and delivery); it holds no client, so its rules are
read and tested apart from the broker. Its :class:`KeyState` rows are what the state
changelog holds.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netvigil.config import KafkaSettings
from netvigil.errors import ProcessorError
from netvigil.events import TOPICS, DeadLetter, Event, encode, key_of, topic_of
from netvigil.streams.base import Listener, Processor
from netvigil.streams.embedded import _dead_letter
from netvigil.streams.ignored import Ignored
from netvigil.streams.kafka.progress import (
    PROGRESS_TOPIC,
    MarkBoard,
    Progress,
    ProgressBoard,
    is_mark,
    mark_value,
    progress_record,
)
from netvigil.streams.kafka.reorder import Merge, Reorder
from netvigil.streams.kafka.wire import ORDER_HEADER, Stamp, decode_batch, encode_batch

__all__ = ["Batch", "KeyState", "KeyedWorker", "RawMessage", "RawRecord", "Send", "group_of"]

log = logging.getLogger(__name__)

#: most copies of upstream progress reports waiting to be read past (see _mark_value)
MARK_COPIES = 64

#: how often held events are looked at again, progress is reported to the progress topic,
#: and the re-keying stage writes an in-band mark while it re-keys records (seconds); once
#: it has re-keyed nothing for ``BUSY_S``, a mark every ``REPORT_S`` is enough (nothing new
#: waits for one) and an idle pipeline does not fill its by-key topics with marks
TICK_S = 0.5
REPORT_S = 1.0
MARK_S = 0.2
BUSY_S = 3.0

#: the largest state of one key the changelog takes (the broker's default record limit is 1 MiB)
STATE_MAX_BYTES = 16 << 20

Send = tuple[str, bytes, bytes]
"""A record to produce: topic name (prefix included), key, value."""


def group_of(proc_name: str, prefix: str = "") -> str:
    """The consumer group of a processor."""
    return f"{prefix}netvigil-{proc_name}"


@dataclass(frozen=True)
class RawMessage:
    """Where a record was read: topic, partition, offset, and its timestamp in seconds."""

    topic: str
    partition: int
    offset: int
    timestamp: float | None


@dataclass(frozen=True)
class RawRecord:
    """A record handed to the worker: where it was read, and its value."""

    message: RawMessage
    value: bytes | None
    key: bytes | None = None
    """The record's key: on the by-key topic, the state partition it was re-keyed to."""
    headers: Sequence[tuple[str, bytes]] = ()
    """The record's headers (the order stamp: :mod:`netvigil.streams.kafka.wire`)."""


@dataclass
class KeyState:
    """One key's row in the state table: the processor's state; per input partition
    (``topic:partition``) the offset of the last record applied to it; the partition the
    key lives in; and the events held to be handled in event-time order (see
    :mod:`netvigil.streams.kafka.reorder`)."""

    state: Any
    applied: dict[str, int] = field(default_factory=dict)
    partition: int = -1
    buffer: Reorder | Merge | None = None


@dataclass
class Batch:
    """What one round of processing produced: outputs per (topic, key), dead letters, and
    the keys whose state changed."""

    outputs: dict[tuple[str, str], list[Event]] = field(default_factory=dict)
    letters: list[DeadLetter] = field(default_factory=list)
    dirty: dict[bytes, KeyState] = field(default_factory=dict)


def _chunks(events: list[Event], size: int) -> list[list[Event]]:
    return [events[i : i + size] for i in range(0, len(events), size)]


class KeyedWorker:
    """One processor's keyed processing; a transport supplies records, the key table
    (:attr:`states`), end offsets (:meth:`_end_offset`) and delivery."""

    #: most records one round takes, and how long a round waits for them (seconds)
    take_max = 100
    take_within = 0.05

    def __init__(
        self,
        proc: Processor[Any],
        *,
        bootstrap: str,
        cfg: KafkaSettings,
        partitions: int,
        datadir: Path,
        listener: Listener | None = None,
        observer: Listener | None = None,
        upstream: Collection[str] = (),
    ) -> None:
        self.proc = proc
        self.cfg = cfg
        self.prefix = cfg.topic_prefix
        self.group = group_of(proc.name, self.prefix)
        self.partitions = partitions
        self.listener = listener
        self.observer = observer
        self.batch_max = cfg.batch_max_events
        self.bootstrap = bootstrap
        self.upstream = set(upstream) - {self.group}
        """The groups that write this processor's input (its re-keyed events wait for them)."""
        self.inputs = tuple(self.prefix + t for t in proc.inputs)
        self.rekey = type(proc).key is not Processor.key or type(proc).keys is not Processor.keys
        """A processor with its own key re-keys its input into :attr:`by_key_name` first."""
        self.by_key_name = f"{self.group}-by-key"
        self.changelog_name = f"{self.group}-state-changelog"
        self.progress_name = self.prefix + PROGRESS_TOPIC
        self.board = ProgressBoard(stale_s=max(30.0, 3 * cfg.session_timeout_s))
        self._max_ts: dict[tuple[str, int], float] = {}
        self._read: dict[tuple[str, int], int] = {}
        """Per assigned partition, the next offset to handle: everything before it was."""
        self._caught: dict[tuple[str, int], bool] = {}
        self._held: set[bytes] = set()
        self._inband: dict[int, MarkBoard] = {}
        """Per by-key partition, the re-keying stage's progress as its in-band marks say."""
        self._marked: set[int] = set()
        """The by-key partitions a mark was read from since the caller last cleared it."""
        self._covered: dict[tuple[str, int], tuple[float, dict[str, Any]]] = {}
        """Per input partition: the newest copy of the upstream progress reports whose
        records it has been read past (and when it was taken): see :meth:`_mark_value`."""
        self._pending_copies: list[tuple[float, dict[str, Any], dict[tuple[str, int], int]]] = []
        """Copies not yet read past on every input partition, with the offsets to pass."""
        self._rekeyed_at = float("-inf")
        """When (monotonic) records were last re-keyed: see :meth:`_mark_due`."""
        self._marked_at = float("-inf")
        self._warned = 0.0
        own = getattr(proc, "ignored", None)
        self.ignored = own if isinstance(own, Ignored) else Ignored(proc.name)
        """What this worker does not process again (records and events redelivered after a
        crash or rebalance), counted with the processor's own ignored events when it has a
        counter (the stop summary and ``netvigil_events_ignored_total`` show both)."""
        self.processed = 0
        self.skipped = 0
        self.failed = 0
        self.state_errors = 0
        self.dead_letters: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self.assignment: list[tuple[str, int]] = []
        datadir.mkdir(parents=True, exist_ok=True)
        self.datadir = datadir

    # ------------------------------------------------------------------ transport

    @property
    def states(self) -> dict[bytes, KeyState]:
        """The rows of the keys this worker owns."""
        raise NotImplementedError

    def _end_offset(self, topic: str, partition: int) -> int | None:
        """The offset after the last record of a partition this worker may read (None:
        unknown)."""
        raise NotImplementedError

    def _read_topics(self) -> set[str]:
        """The topics this worker consumes."""
        return {*self.inputs, self.by_key_name} if self.rekey else set(self.inputs)

    def _announce(self) -> None:
        """Write the assignment to ``assignment.json`` in the data directory (for operators
        and tests: which worker holds which partitions now)."""
        status = {"group": self.group, "assigned": self.assignment, "at": time.time()}
        (self.datadir / "assignment.json").write_text(json.dumps(status))

    # ------------------------------------------------------------------ processing

    def _decode(self, rec: RawRecord, letters: list[DeadLetter], *, observe: bool) -> list[Event]:
        """The events of a :class:`RawRecord`; what does not decode becomes a dead letter."""
        msg = rec.message
        decoded = decode_batch(rec.value)
        if decoded.events:
            tp = (msg.topic, msg.partition)
            newest = max(e.ts for e in decoded.events)
            self._max_ts[tp] = max(self._max_ts.get(tp, newest), newest)
        if observe and self.observer is not None:
            topic = msg.topic[len(self.prefix) :]
            for event in decoded.events:
                self._notify(self.observer, topic, event)
        for raw, reason in decoded.failures:
            letters.append(
                DeadLetter(
                    ts=float(msg.timestamp or time.time()),
                    source=f"kafka:{msg.topic}",
                    reason=f"{reason} (partition {msg.partition}, offset {msg.offset})",
                    raw=raw,
                    topic=msg.topic,
                )
            )
        return decoded.events

    def _rekeyed(self, records: Sequence[RawRecord]) -> list[Send]:
        """Input records re-keyed by the processor's key, as records of :attr:`by_key_name`
        (order kept per source partition), and the dead letters of what failed."""
        groups: dict[str, list[Event]] = {}
        letters: list[DeadLetter] = []
        for rec in records:
            msg = rec.message
            self._read[(msg.topic, msg.partition)] = msg.offset + 1
            for event in self._decode(rec, letters, observe=True):
                try:
                    for key in self.proc.keys(event):
                        groups.setdefault(key, []).append(event)
                except Exception as exc:
                    letters.append(_dead_letter(self.proc.name, msg.topic, event, exc))
        sends = [
            (self.by_key_name, key.encode(), encode_batch(chunk))
            for key, events in groups.items()
            for chunk in _chunks(events, self.batch_max)
        ]
        if sends:
            self._rekeyed_at = time.monotonic()
        return sends + self._letters(letters)

    def _mark_due(self, now: float) -> bool:
        """Whether to write an in-band mark at monotonic ``now``: every ``MARK_S`` while
        records are re-keyed (events wait for marks), every ``REPORT_S`` once none was for
        ``BUSY_S``."""
        every = MARK_S if now - self._rekeyed_at < BUSY_S else REPORT_S
        if now - self._marked_at < every:
            return False
        self._marked_at = now
        return True

    async def _process_into(self, records: Sequence[RawRecord], batch: Batch) -> None:
        """Run the processor on records of its input, in order, collecting into ``batch``."""
        proc = self.proc
        now = time.time()
        self._caught.clear()
        for rec in records:
            msg = rec.message
            mark = f"{msg.topic}:{msg.partition}"
            self._read[(msg.topic, msg.partition)] = msg.offset + 1
            self._caught.pop((msg.topic, msg.partition), None)
            if self.rekey and is_mark(rec.value):
                self._take_mark(msg.partition, rec.value, batch.letters, msg.offset)
                continue
            touched: list[KeyState] = []
            stamp = self._stamp(rec) if len(self.inputs) > 1 and not self.rekey else None
            for event in self._decode(rec, batch.letters, observe=not self.rekey):
                try:
                    # re-keyed: the record's key is the partition (an event may have several)
                    key = rec.key if self.rekey and rec.key else proc.key(event).encode()
                except Exception as exc:
                    batch.letters.append(_dead_letter(proc.name, msg.topic, event, exc))
                    continue
                entry = batch.dirty.get(key) or self.states.get(key)
                if entry is None:
                    entry = KeyState(proc.new_state_for(key.decode()), buffer=self._new_buffer())
                if entry.applied.get(mark, -1) >= msg.offset:
                    self.skipped += 1  # already in the recovered state: processed before
                    self.ignored(
                        "redelivered",
                        f"{msg.topic}[{msg.partition}] offset {msg.offset}, already applied "
                        "to the state of its key",
                    )
                    continue
                entry.partition = msg.partition
                for topic, ready in self._ordered(entry, msg.topic, event, now, stamp):
                    await self._apply(ready, entry, batch, topic)
                self._track(key, entry)
                batch.dirty[key] = entry
                touched.append(entry)
            for entry in touched:
                entry.applied[mark] = msg.offset

    def _take_mark(
        self, partition: int, value: bytes, letters: list[DeadLetter], offset: int
    ) -> None:
        """Take an in-band progress mark read from a by-key partition: from now on events of
        that partition may be released by it (see :meth:`_blocking`)."""
        board = self._inband.setdefault(partition, MarkBoard(self.group, self.board.stale_s))
        try:
            board.take(value)
        except ValueError as exc:
            letters.append(
                DeadLetter(
                    ts=time.time(),
                    source=f"kafka:{self.by_key_name}",
                    reason=f"{exc} (partition {partition}, offset {offset})",
                    raw=value[: 64 << 10],
                    topic=self.by_key_name,
                )
            )
            return
        self._marked.add(partition)

    async def _release_held(self, batch: Batch, active: set[int]) -> None:
        """Re-evaluate held events of keys in ``active`` partitions: a quiet stream brings
        nothing new to push them out (hold expired, or the topic they waited for caught up)."""
        now = time.time()
        self._caught.clear()
        for key in list(self._held):
            entry = self.states.get(key)
            if entry is None or entry.partition not in active:
                continue
            ready = self._ordered(entry, "(held)", None, now)
            for topic, event in ready:
                await self._apply(event, entry, batch, topic)
            if ready:
                batch.dirty[key] = entry
            self._track(key, entry)
        self._warn_if_stuck(now)

    def _new_buffer(self) -> Reorder | Merge | None:
        if self.rekey:
            return Reorder(stuck_s=self.cfg.reorder_max_wait_s)
        if len(self.inputs) > 1:
            return Merge(self.inputs)
        return None

    def _stamp(self, rec: RawRecord) -> Stamp | None:
        """The order stamp of an input record (see :mod:`netvigil.streams.kafka.wire`), with
        the counts of this processor's input topics only, by their full names."""
        value = next((v for k, v in rec.headers if k == ORDER_HEADER), None)
        stamp = Stamp.parse(value)
        if stamp is None:
            return None
        before = {
            self.prefix + t: n for t, n in stamp.before.items() if self.prefix + t in self.inputs
        }
        return Stamp(stamp.publisher, before)

    def _ordered(
        self,
        entry: KeyState,
        topic: str,
        event: Event | None,
        now: float,
        stamp: Stamp | None = None,
    ) -> list[tuple[str, Event]]:
        """Pass ``event`` (None: nothing new), of a record stamped ``stamp``, through the
        key's buffer; what may go now."""
        buf = entry.buffer
        if buf is None:
            return [(topic, event)] if event is not None else []
        if isinstance(buf, Reorder):
            if event is not None and not buf.push(event, now):
                self.ignored(
                    "redelivered",
                    f"{type(event).__name__} at {event.ts:.3f} from {topic}, the same bytes as "
                    "one taken before",
                )
            part = entry.partition

            def mark(arrived: float) -> float:
                return self._blocking(part, now, arrived)[0]

            # held too long counts only while reports flow (see ProgressBoard.heard)
            return [(topic, e) for e in buf.release(min(now, self.board.heard), mark)]
        if event is not None:
            buf.push(topic, event, now, stamp)
        return buf.release(lambda t: self._caught_up(t, entry.partition), now)

    def _blocking(self, partition: int, now: float, since: float) -> tuple[float, str]:
        """The watermark of a re-keyed event of a by-key ``partition`` that arrived at
        ``since``, and which report sets it: what the in-band marks read from that partition
        say (see :class:`~netvigil.streams.kafka.progress.MarkBoard`)."""
        board = self._inband.get(partition)
        if board is None:
            return float("-inf"), f"{self.group} (no in-band mark read yet)"
        return board.blocking(self.upstream, now, since)

    def _mark_value(
        self, upstream: dict[str, Any], ends: Mapping[tuple[str, int], int | None], at: float
    ) -> bytes | None:
        """The in-band mark to write into every by-key partition, once the re-keyed records
        of everything read so far are written; None if this worker re-keys nothing.

        ``upstream`` is a dump of the board taken before ``ends`` were asked for (at ``at``):
        once an input partition is read up to its end offset in ``ends``, everything that
        copy covers is re-keyed, so it covers that partition. Copies wait for that (at most
        ``MARK_COPIES``; while so many wait, no new one is taken, so the oldest is passed
        sooner or later even when the worker is never quite at the end). The mark carries
        the oldest of the newest copies covering each assigned input partition (None: one
        has not been read past any copy since it was assigned)."""
        covers = [(t, p) for t, p in self.assignment if t in self.inputs]
        if not covers:
            return None
        pending = self._pending_copies
        if len(pending) < MARK_COPIES and all(ends.get(tp) is not None for tp in covers):
            pending.append((at, upstream, {tp: int(ends[tp] or 0) for tp in covers}))
        for taken, copy, need in pending:
            for tp, offset in need.items():
                newest = self._covered.get(tp)
                if self._read.get(tp, 0) >= offset and (newest is None or newest[0] < taken):
                    self._covered[tp] = (taken, copy)
        pending[:] = [
            c for c in pending if any(self._read.get(tp, 0) < off for tp, off in c[2].items())
        ]
        copies = [c for tp in covers if (c := self._covered.get(tp)) is not None]
        oldest = min(copies, key=lambda c: c[0])[1] if len(copies) == len(covers) else None
        return mark_value(covers, self.partitions, at, oldest)

    def _forget_marks(self) -> None:
        """After a rebalance or a rewind: marks are read again from the committed offsets
        (re-keyed events are held until then), and what is re-keyed is covered again only
        once every input partition is read past a copy taken since."""
        self._inband.clear()
        self._covered.clear()
        self._pending_copies.clear()

    def _track(self, key: bytes, entry: KeyState) -> None:
        if entry.buffer:
            self._held.add(key)
        else:
            self._held.discard(key)

    def _caught_up(self, topic: str, partition: int) -> bool:
        """Whether everything in this input partition has reached this worker. Remembered
        until a record of that partition is handled or the round ends (asked per event)."""
        tp = (topic, partition)
        known = self._caught.get(tp)
        if known is not None:
            return known
        try:
            high = self._end_offset(topic, partition)
        except Exception:
            high = None
        self._caught[tp] = up = high is not None and self._read.get(tp, 0) >= high
        return up

    def _warn_if_stuck(self, now: float) -> None:
        """Say, every 10 s, what held events wait for, when they have waited that long."""
        waits = [
            (e.buffer.heap[0][0], e.buffer.heap[0][3], e.partition)  # event time, arrival
            for k in self._held
            if (e := self.states.get(k)) is not None
            and isinstance(e.buffer, Reorder)
            and e.buffer.heap
        ]
        oldest = min(waits, default=None)
        if oldest is None or now - oldest[1] < 10 or now - self._warned < 10:
            return
        self._warned = now
        mark, who = self._blocking(oldest[2], now, oldest[1])
        log.warning(
            "%s: %d events held; the oldest (event time %.0f) waited %.0f s for %s (at %s)",
            self.group,
            self.held(),
            oldest[0],
            now - oldest[1],
            who or "nothing (being released)",
            mark,
        )

    async def _apply(self, event: Event, entry: KeyState, batch: Batch, topic: str) -> None:
        """Run the processor on one event with its key's state; collect what it emits."""
        proc = self.proc
        try:
            outs = await proc.process(event, entry.state)
            for out in outs:
                if topic_of(out) not in proc.outputs:
                    raise ProcessorError(
                        f"{proc.name} emitted to {topic_of(out)}, not in its outputs"
                    )
        except Exception as exc:
            self.failed += 1
            log.warning("processor %s failed on %s: %r", proc.name, topic, exc)
            batch.letters.append(_dead_letter(proc.name, topic, event, exc))
            outs = ()
        for out in outs:
            batch.outputs.setdefault((topic_of(out), key_of(out)), []).append(out)
        self.processed += 1

    def _sends(self, batch: Batch) -> list[Send]:
        """The records of a batch's outputs and dead letters (not its state)."""
        sends = [
            (self.prefix + topic, key.encode(), encode_batch(chunk))
            for (topic, key), events in batch.outputs.items()
            for chunk in _chunks(events, 1 if TOPICS[topic].compacted else self.batch_max)
        ]
        return sends + self._letters(batch.letters)

    def _delivered(self, batch: Batch) -> None:
        """Show a batch's outputs to the listener, once Kafka has them."""
        if self.listener is not None:
            for (topic, _), events in batch.outputs.items():
                for event in events:
                    self._notify(self.listener, topic, event)

    def _letters(self, letters: list[DeadLetter]) -> list[Send]:
        for letter in letters:
            self.dead_letters[letter.source] += 1
            log.warning("dead letter from %s: %s", letter.source, letter.reason)
        dlq = self.prefix + "netvigil.dlq"
        return [(dlq, lt.source.encode(), encode(lt)) for lt in letters]

    @staticmethod
    def _notify(listener: Listener, topic: str, event: Event) -> None:
        try:
            listener(topic, event)
        except Exception:  # an observer must never break the data path
            log.exception("listener on %s failed", topic)

    # ------------------------------------------------------------------ progress

    def _progress(self, ends: Mapping[tuple[str, int], int | None], now: float) -> list[Send]:
        """Progress reports (see :mod:`netvigil.streams.kafka.progress`) per assigned input
        partition, given the broker's end offsets; only when everything read so far is
        handled and its outputs acknowledged (or in the same transaction)."""
        held: dict[int, float] = {}
        for key in self._held:
            entry = self.states.get(key)
            if entry is not None and isinstance(entry.buffer, Merge) and len(entry.buffer):
                oldest = min(q[0][1].ts for q in entry.buffer.queues.values() if q)
                held[entry.partition] = min(held.get(entry.partition, oldest), oldest)
        sends = []
        for topic, part in self.assignment:
            if topic not in self.inputs:
                continue
            ts = self._max_ts.get((topic, part))
            if part in held:
                ts = held[part] - 1e-3 if ts is None else min(ts, held[part] - 1e-3)
            end = ends.get((topic, part))
            read = self._read.get((topic, part), 0)
            up = part not in held and end is not None and read >= end
            key, value = progress_record(
                self.group, topic, part, Progress(ts, up, now, self.partitions)
            )
            sends.append((self.progress_name, key, value))
        return sends

    # ------------------------------------------------------------------ reporting

    def held(self) -> int:
        """Events waiting in reorder buffers of this worker's keys."""
        return sum(len(e.buffer) for e in self.states.values() if e.buffer)

    def stats(self) -> dict[str, Any]:
        return {
            "held": self.held(),
            "group": self.group,
            "processed": self.processed,
            "skipped": self.skipped,
            "failed": self.failed,
            "dead_letters": dict(self.dead_letters),
            "sent": dict(self.sent),
            "keys": len(self.states),
        }
