"""Processors as faust-streaming agents: one faust app, hence one consumer group, per processor.

The :class:`~netvigil.streams.base.Processor` objects of the embedded runtime run here
unchanged. Each gets a faust app named ``<prefix>netvigil-<processor>`` (the consumer group,
as ``Processor.name`` promises), an agent on its input topics, and a faust table ``state``
whose changelog topic (``<group>-state-changelog``, compacted, co-partitioned with the
input) holds each key's state, pickled: processor state is arbitrary Python (river
statistics, dataclasses), which only pickle carries faithfully. Changelog topics must
therefore be writable by NetVigil workers only (Kafka ACLs), like any pickle source.

Ordering and partitioning. A record's key is the processor's key when the processor does not
override :meth:`Processor.key`; then a key's records sit in one partition, are handled in
order, and its state lives in the same partition number of the changelog. A processor with
its own key (the correlator keys everything to ``all``) gets a second agent that re-keys
its input into ``<group>-by-key`` (same partition count) first, as faust's ``group_by`` does.

Delivery. Agents take records in batches (``take_events``). For each batch they run the
processor per event, send the outputs (batched per key, see :mod:`netvigil.streams.wire`)
and *wait until Kafka acknowledged them*, then write the changed keys to the changelog,
each value carrying the offset of the last input record applied to it; faust commits input
offsets only after that (its commit flushes the producer first). After a crash or a
rebalance, the new owner recovers the state from the changelog and re-reads from the last
committed offset: records already reflected in the recovered state are skipped by their
offset, the others are processed again and re-send their outputs. So state changes happen
exactly once, outputs at least once, and downstream effects are idempotent (incident
revisions, ticket correlation ids). Writing the changelog once per key and batch, instead
of once per event as ``table[key] = value`` would, is what keeps detection fast.

A record that is not a NetVigil event, and an event that makes the processor raise, become
dead letters on ``netvigil.dlq`` with the reason; the agent goes on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import warnings
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import faust
from confluent_kafka import TopicPartition
from faust.streams import Stream
from faust.types import TP, EventT

from netvigil.config import KafkaSettings
from netvigil.errors import NetVigilError, ProcessorError
from netvigil.events import TOPICS, DeadLetter, Event, encode, key_of, topic_of
from netvigil.streams.base import Listener, Processor
from netvigil.streams.embedded import _dead_letter
from netvigil.streams.gaps import Gap, RawRecord, find_gaps, new_records, read_range
from netvigil.streams.kafka_admin import start_offsets
from netvigil.streams.progress import (
    PROGRESS_TOPIC,
    Progress,
    ProgressBoard,
    ProgressReader,
    progress_record,
)
from netvigil.streams.reorder import Merge, Reorder
from netvigil.streams.wire import decode_batch, encode_batch

__all__ = ["KeyState", "ProcessorApp", "group_of"]

log = logging.getLogger(__name__)

warnings.filterwarnings("ignore", message="The pickle codec", module="faust.*")

#: the largest state of one key the changelog takes (the broker's default record limit is 1 MiB)
STATE_MAX_BYTES = 16 << 20
#: most records one direct read of a stalled partition takes (the lock is held meanwhile)
STALL_READ_MAX = 5000

_RAW: dict[str, Any] = {
    "key_type": bytes,
    "value_type": bytes,
    "key_serializer": "raw",
    "value_serializer": "raw",
}


def group_of(proc_name: str, prefix: str = "") -> str:
    """The consumer group (faust app id) of a processor."""
    return f"{prefix}netvigil-{proc_name}"


@dataclass
class KeyState:
    """One key's row in the state table: the processor's state; per input partition
    (``topic:partition``) the offset of the last record applied to it; the partition the
    key lives in; and the events held to be handled in event-time order (see
    :mod:`netvigil.streams.reorder`)."""

    state: Any
    applied: dict[str, int] = field(default_factory=dict)
    partition: int = -1
    buffer: Reorder | Merge | None = None


@dataclass
class _Batch:
    """What one round of processing produced: outputs per (topic, key), dead letters, and
    the keys whose state changed."""

    outputs: dict[tuple[str, str], list[Event]] = field(default_factory=dict)
    letters: list[DeadLetter] = field(default_factory=list)
    dirty: dict[bytes, KeyState] = field(default_factory=dict)


def _chunks(events: list[Event], size: int) -> list[list[Event]]:
    return [events[i : i + size] for i in range(0, len(events), size)]


class ProcessorApp:
    """A faust app running one processor; start it in a running event loop."""

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
        take_max: int = 50,
        take_within: float = 0.05,
    ) -> None:
        self.proc = proc
        self.cfg = cfg
        self.prefix = cfg.topic_prefix
        self.group = group_of(proc.name, self.prefix)
        self.partitions = partitions
        self.listener = listener
        self.observer = observer
        self.take_max = take_max
        self.take_within = take_within
        self.batch_max = cfg.batch_max_events
        self.bootstrap = bootstrap
        self.upstream = {*upstream, self.group}
        self._max_ts: dict[tuple[str, int], float] = {}
        self.board = ProgressBoard(stale_s=max(30.0, 3 * cfg.session_timeout_s))
        self._reader: ProgressReader | None = None
        self._lock = asyncio.Lock()
        self._read: dict[tuple[str, int], int] = {}
        """Per assigned partition, the next offset to handle: everything before it was."""
        self._moved: dict[tuple[str, int], tuple[int, float]] = {}
        """Per partition, ``_read`` when last seen to change and when (monotonic)."""
        self._first: dict[tuple[str, int], int] = {}
        """Per partition, the first offset handled since the last assignment."""
        self._caught: dict[tuple[str, int], bool] = {}
        self._held: set[bytes] = set()
        self._warned = 0.0
        self._rescan = False
        self.processed = 0
        self.skipped = 0
        self.refetched = 0
        self.unstalled = 0
        self.failed = 0
        self.state_errors = 0
        self.dead_letters: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self.assignment: list[tuple[str, int]] = []
        datadir.mkdir(parents=True, exist_ok=True)
        self.datadir = datadir
        self.app = faust.App(
            self.group,
            broker=[f"kafka://{h}" for h in bootstrap.split(",")],
            web_enabled=False,
            autodiscover=False,
            store="memory://",
            datadir=str(datadir),
            topic_partitions=partitions,
            topic_replication_factor=cfg.replication,
            table_standby_replicas=cfg.standby_replicas,
            broker_session_timeout=cfg.session_timeout_s,
            broker_heartbeat_interval=max(1.0, cfg.session_timeout_s / 5),
            broker_commit_interval=1.0,
            consumer_auto_offset_reset="earliest",
            producer_acks=-1,
            producer_compression_type=None if cfg.compression == "none" else cfg.compression,
            producer_linger=0.005,
            producer_max_request_size=STATE_MAX_BYTES,
            stream_buffer_maxsize=1024,
        )
        self.inputs = tuple(self.prefix + t for t in proc.inputs)
        source = self.app.topic(*self.inputs, **_RAW)
        self.rekey = type(proc).key is not Processor.key
        if self.rekey:
            self.by_key = self.app.topic(
                f"{self.group}-by-key", partitions=partitions, internal=True, **_RAW
            )
            self.app.agent(source, name=f"{proc.name}-by-key")(self._rekey_agent)
            source = self.by_key
        if self.rekey or len(self.inputs) > 1:
            self.app.timer(0.5)(self._tick)
        self.progress = self.app.topic(self.prefix + PROGRESS_TOPIC, **_RAW)
        self.app.timer(1.0)(self._report)
        self.table = self.app.Table(
            "state",
            default=None,
            partitions=partitions,
            schema=faust.Schema(key_type=bytes, key_serializer="raw", value_serializer="pickle"),
            help=f"per-key state of processor {proc.name}",
            extra_topic_configs={"max.message.bytes": str(STATE_MAX_BYTES)},
        )
        # faust derives the changelog's serializers from the value *type* (json for None) and
        # writes them over the schema when it makes the changelog topic, in the Table's
        # constructor; recovery would then read pickled state as JSON. Make it again.
        table: Any = self.table
        table.key_serializer = "raw"
        table.value_serializer = "pickle"
        table._changelog_topic = None
        assert table.changelog_topic.schema.value_serializer == "pickle"
        self.out = {
            t: self.app.topic(self.prefix + t, **_RAW) for t in (*proc.outputs, "netvigil.dlq")
        }
        self.app.agent(source, name=proc.name)(self._agent)
        self.app.on_partitions_assigned.connect(self._on_assigned)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self.rekey:
            self._reader = ProgressReader(self.bootstrap, self.prefix + PROGRESS_TOPIC, self.board)
            self._reader.start()
        await self.app.start()

    async def ready(self, timeout: float = 120.0) -> None:
        """Wait until the first rebalance and state recovery finished."""
        recovery = self.app.tables.recovery  # type: ignore[attr-defined]
        await asyncio.wait_for(recovery.completed.wait(), timeout)

    async def stop(self) -> None:
        await self.app.stop()
        if self._reader is not None:
            await asyncio.to_thread(self._reader.stop)

    async def _on_assigned(self, sender: Any, assigned: set[Any], **_: Any) -> None:
        self.assignment = sorted((tp.topic, tp.partition) for tp in assigned)
        self._rescan = True
        mine = [f"{t}[{p}]" for t, p in self.assignment if not t.endswith("-changelog")]
        log.info("%s: assigned %s", self.group, ", ".join(mine) or "nothing")
        status = {"group": self.group, "assigned": self.assignment, "at": time.time()}
        (self.datadir / "assignment.json").write_text(json.dumps(status))
        # what came before the group's committed offsets was handled (by whichever worker),
        # and faust seeks there (to the log start where nothing was committed): the next
        # record each agent expects, and the base of "caught up" (see streams.gaps). faust's
        # recovery may resume fetching before this handler returns: records handled while the
        # base is asked for count from the first of them, and only a first one past the base
        # means faust skipped some (not under the agents' lock: it would hold up faust's
        # consumer thread, which the agents may be waiting for, in the middle of a rebalance).
        tps = [TopicPartition(t, p) for t, p in self.assignment if t in self._read_topics()]
        self._read.clear()
        self._moved.clear()
        self._first.clear()
        try:
            base = await asyncio.to_thread(start_offsets, self.bootstrap, self.group, tps)
        except NetVigilError as exc:
            log.warning("%s: committed offsets unknown (%s)", self.group, exc)
            return
        for tp, off in base.items():
            first, now = self._first.get(tp), self._read.get(tp)
            handled = first is not None and first <= off and now is not None
            self._read[tp] = max(now, off) if handled and now is not None else off

    def _read_topics(self) -> set[str]:
        """The topics this app's agents consume."""
        return {*self.inputs, self.by_key.get_topic_name()} if self.rekey else set(self.inputs)

    # ------------------------------------------------------------------ agents

    async def _rekey_agent(self, stream: faust.StreamT[bytes]) -> None:
        """Re-key input records by the processor's key (order kept per source partition)."""
        async for records in cast(Stream[bytes], stream).take_events(
            self.take_max, self.take_within
        ):
            async with self._lock:
                await self._rekey(records)

    async def _refill(self, records: Sequence[Any]) -> Sequence[Any]:
        """``records`` less those handled already, with what the consumer skipped before
        them read again and put in front (see :mod:`netvigil.streams.gaps`); retried until
        the broker answers."""
        fresh = new_records(self._read, records)
        self.skipped += len(records) - len(fresh)
        records = fresh
        for rec in records:  # the first offset handled since the last assignment
            self._first.setdefault((rec.message.topic, rec.message.partition), rec.message.offset)
        gaps = find_gaps(self._read, records)
        if not gaps:
            return records
        before: dict[tuple[str, int], list[RawRecord]] = {}
        for gap in gaps:
            log.warning(
                "%s: the consumer skipped %s[%d] offsets %d..%d; reading them again",
                self.group,
                gap.topic,
                gap.partition,
                gap.start,
                gap.stop - 1,
            )
            delay = 0.5
            while True:
                try:
                    got = await asyncio.to_thread(read_range, self.bootstrap, gap)
                    break
                except NetVigilError as exc:
                    log.warning("%s: %s; retrying", self.group, exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
            self.refetched += len(got)
            before.setdefault((gap.topic, gap.partition), []).extend(got)
        out: list[Any] = []
        for rec in records:
            msg = rec.message
            out.extend(before.pop((msg.topic, msg.partition), []))
            out.append(rec)
        return out

    async def _repair_commits(self) -> None:
        """Handle what faust committed without this agent having seen it: a skipped record
        with nothing after it yet, which :meth:`_refill` cannot notice. Under the lock."""
        read = self._read_topics()
        committed: dict[Any, int | None] = self.app.consumer._committed_offset  # type: ignore[attr-defined]
        for topic, part in self.assignment:
            tp = (topic, part)
            nxt, done = self._read.get(tp), committed.get(TP(topic, part))
            if topic not in read or nxt is None or done is None or done <= nxt:
                continue
            gap = Gap(topic, part, nxt, done)
            log.warning(
                "%s: faust committed %s[%d] to %d, but offsets from %d were not handled here; "
                "reading them again",
                self.group,
                topic,
                part,
                done,
                nxt,
            )
            await self._read_directly(gap)

    async def _unstall(self, ends: dict[TP, int]) -> None:
        """Read directly what the broker has (``ends``: its end offsets) but the consumer has
        not delivered for ``kafka.stall_s`` while nothing of that partition was handled: a
        partition faust-streaming stopped fetching, as the failover test saw after a
        rebalance. Later deliveries of the same records are skipped. Under the lock."""
        if getattr(self.app, "in_recovery", False):
            return  # the state is being restored: nothing may be handled yet
        now = time.monotonic()
        for tp, end in ends.items():
            at = (tp.topic, tp.partition)
            nxt = self._read.get(at)
            if nxt is None or end is None or nxt >= end:
                self._moved.pop(at, None)
                continue
            seen = self._moved.get(at)
            if seen is None or seen[0] != nxt:
                self._moved[at] = (nxt, now)
                continue
            if now - seen[1] < self.cfg.stall_s:
                continue
            log.warning(
                "%s: the consumer delivered nothing of %s[%d] for %.0f s, offsets %d..%d "
                "waiting; reading them directly",
                self.group,
                tp.topic,
                tp.partition,
                now - seen[1],
                nxt,
                end - 1,
            )
            gap = Gap(tp.topic, tp.partition, nxt, min(end, nxt + STALL_READ_MAX))
            if await self._read_directly(gap):
                self.unstalled += 1
                self._moved[at] = (self._read[at], time.monotonic())
                await self._commit_offset(tp, self._read[at])

    async def _read_directly(self, gap: Gap) -> bool:
        """Read ``gap`` with a plain consumer and handle it; False if the broker did not
        answer (the caller tries again on its next round)."""
        try:
            got = await asyncio.to_thread(read_range, self.bootstrap, gap)
        except NetVigilError as exc:
            log.warning("%s: %s; retrying in a second", self.group, exc)
            return False
        self.refetched += len(got)
        if self.rekey and gap.topic != self.by_key.get_topic_name():
            await self._rekey(got)
        else:
            await self._process(got)
        at = (gap.topic, gap.partition)
        self._read[at] = max(self._read.get(at, 0), gap.stop)
        return True

    async def _commit_offset(self, tp: TP, offset: int) -> None:
        """Commit what was read directly, so the group's lag (which ``drain`` and operators
        watch) and a restart agree with what was handled; faust then ignores the
        acknowledgements below it. A failed commit only means a re-read after a restart."""
        try:
            await self.app.consumer._commit_offsets({tp: offset})  # type: ignore[attr-defined]
        except Exception as exc:
            log.warning("%s: committing %s[%d] at %d failed: %r", self.group, *tp, offset, exc)

    async def _rekey(self, records: Sequence[Any]) -> None:
        groups: dict[str, list[Event]] = {}
        letters: list[DeadLetter] = []
        for rec in await self._refill(records):
            msg = rec.message
            self._read[(msg.topic, msg.partition)] = msg.offset + 1
            for event in self._decode(rec, letters, observe=True):
                try:
                    groups.setdefault(self.proc.key(event), []).append(event)
                except Exception as exc:
                    letters.append(_dead_letter(self.proc.name, msg.topic, event, exc))
        sends = [
            (self.by_key, key.encode(), encode_batch(chunk))
            for key, events in groups.items()
            for chunk in _chunks(events, self.batch_max)
        ]
        await self._deliver(sends + self._letters(letters))

    async def _agent(self, stream: faust.StreamT[bytes]) -> None:
        async for records in cast(Stream[bytes], stream).take_events(
            self.take_max, self.take_within
        ):
            await self._handle(records)

    # ------------------------------------------------------------------ processing

    def _decode(
        self, rec: EventT[bytes], letters: list[DeadLetter], *, observe: bool
    ) -> list[Event]:
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

    async def _handle(self, records: Sequence[EventT[bytes]]) -> None:
        async with self._lock:
            await self._process(records)

    async def _process(self, records: Sequence[Any]) -> None:
        """Run the processor on records of its input, in order; under the lock."""
        proc = self.proc
        batch = _Batch()
        now = time.time()
        self._caught.clear()
        for rec in await self._refill(records):
            msg = rec.message
            mark = f"{msg.topic}:{msg.partition}"
            self._read[(msg.topic, msg.partition)] = msg.offset + 1
            self._caught.pop((msg.topic, msg.partition), None)
            touched: list[KeyState] = []
            for event in self._decode(rec, batch.letters, observe=not self.rekey):
                try:
                    key = proc.key(event).encode()
                except Exception as exc:
                    batch.letters.append(_dead_letter(proc.name, msg.topic, event, exc))
                    continue
                entry = batch.dirty.get(key) or self.table.data.get(key)
                if entry is None:
                    entry = KeyState(proc.new_state(), buffer=self._new_buffer())
                if entry.applied.get(mark, -1) >= msg.offset:
                    self.skipped += 1  # already in the recovered state: processed before
                    continue
                entry.partition = msg.partition
                for topic, ready in self._ordered(entry, msg.topic, event, now):
                    await self._apply(ready, entry, batch, topic)
                self._track(key, entry)
                batch.dirty[key] = entry
                touched.append(entry)
            for entry in touched:
                entry.applied[mark] = msg.offset
        await self._commit(batch)

    def _new_buffer(self) -> Reorder | Merge | None:
        if self.rekey:
            cfg = self.cfg
            return Reorder(stuck_s=cfg.reorder_max_wait_s)
        if len(self.inputs) > 1:
            return Merge(self.inputs)
        return None

    def _ordered(
        self, entry: KeyState, topic: str, event: Event | None, now: float
    ) -> list[tuple[str, Event]]:
        """Pass ``event`` (None: nothing new) through the key's buffer; what may go now."""
        buf = entry.buffer
        if buf is None:
            return [(topic, event)] if event is not None else []
        if isinstance(buf, Reorder):
            if event is not None:
                buf.push(event, now)

            def mark(arrived: float) -> float:
                return self.board.watermark(self.upstream, now, since=arrived)

            # held too long counts only while reports flow (see ProgressBoard.heard)
            return [(topic, e) for e in buf.release(min(now, self.board.heard), mark)]
        if event is not None:
            buf.push(topic, event, now)
        return buf.release(lambda t: self._caught_up(t, entry.partition), now)

    def _track(self, key: bytes, entry: KeyState) -> None:
        if entry.buffer:
            self._held.add(key)
        else:
            self._held.discard(key)

    def _caught_up(self, topic: str, partition: int) -> bool:
        """Whether everything in this input partition has reached this agent. Remembered
        until a record of that partition is handled or the round ends (asked per event)."""
        tp = (topic, partition)
        known = self._caught.get(tp)
        if known is not None:
            return known
        try:
            high = self.app.consumer.highwater(TP(topic, partition))
        except Exception:
            high = None
        self._caught[tp] = up = high is not None and self._read.get(tp, 0) >= high
        return up

    async def _tick(self) -> None:
        """Re-evaluate held events: a quiet stream brings nothing new to push them out (hold
        expired, or the topic they waited for caught up). Only keys this worker owns now."""
        if getattr(self.app, "rebalancing", False):
            return
        mine = self._read_topics()
        active = {p for t, p in self.assignment if t in mine}
        batch = _Batch()
        async with self._lock:
            now = time.time()
            self._caught.clear()
            if self._rescan:  # after a rebalance: recovered keys may hold events
                self._rescan = False
                self._held = {k for k, e in self.table.data.items() if e.buffer}
            for key in list(self._held):
                entry = self.table.data.get(key)
                if entry is None or entry.partition not in active:
                    continue
                ready = self._ordered(entry, "(held)", None, now)
                for topic, event in ready:
                    await self._apply(event, entry, batch, topic)
                if ready:
                    batch.dirty[key] = entry
                self._track(key, entry)
            if batch.dirty:
                await self._commit(batch)
            self._warn_if_stuck(now)

    def _warn_if_stuck(self, now: float) -> None:
        """Say, every 10 s, what held events wait for, when they have waited that long."""
        waits = [
            e.buffer.heap[0]
            for k in self._held
            if (e := self.table.data.get(k)) is not None
            and isinstance(e.buffer, Reorder)
            and e.buffer.heap
        ]
        oldest = min(waits, default=None)
        if oldest is None or now - oldest[2] < 10 or now - self._warned < 10:
            return
        self._warned = now
        mark, who = self.board.blocking(self.upstream, now, since=oldest[2])
        log.warning(
            "%s: %d events held; the oldest (event time %.0f) waited %.0f s for %s (at %s)",
            self.group,
            self.held(),
            oldest[0],
            now - oldest[2],
            who or "nothing (being released)",
            mark,
        )

    async def _report(self) -> None:
        """Report progress per input partition (see :mod:`netvigil.streams.progress`); under
        the lock, so every record read so far is handled and its outputs acknowledged."""
        if getattr(self.app, "rebalancing", False) or not self.assignment:
            return
        mine = [TP(t, p) for t, p in self.assignment if t in self.inputs]
        every = [TP(t, p) for t, p in self.assignment if t in self._read_topics()]
        async with self._lock:
            await self._repair_commits()
            now = time.time()  # before asking: records written later are not covered
            try:  # the broker's end offsets, not the consumer's last-fetched (stale) ones
                ends = await asyncio.wait_for(self.app.consumer.highwaters(*every), 5.0)
            except Exception as exc:
                log.debug("%s: no progress report (%r)", self.group, exc)
                return
            await self._unstall(dict(ends))
            held: dict[int, float] = {}
            for key in self._held:
                entry = self.table.data.get(key)
                if entry is not None and isinstance(entry.buffer, Merge) and len(entry.buffer):
                    oldest = min(q[0][1].ts for q in entry.buffer.queues.values() if q)
                    held[entry.partition] = min(held.get(entry.partition, oldest), oldest)
            sends = []
            for tp in mine:
                topic, part = tp.topic, tp.partition
                ts = self._max_ts.get((topic, part))
                if part in held:
                    ts = held[part] - 1e-3 if ts is None else min(ts, held[part] - 1e-3)
                end = ends.get(tp)
                read = self._read.get((topic, part), 0)
                up = part not in held and end is not None and read >= end
                key, value = progress_record(
                    self.group, topic, part, Progress(ts, up, now, self.partitions)
                )
                sends.append((self.progress, key, value))
            if sends:
                await self._deliver(sends)

    async def _apply(self, event: Event, entry: KeyState, batch: _Batch, topic: str) -> None:
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

    async def _commit(self, batch: _Batch) -> None:
        """Deliver outputs and dead letters (acknowledged), then save the changed keys."""
        sends = [
            (self.out[topic], key.encode(), encode_batch(chunk))
            for (topic, key), events in batch.outputs.items()
            for chunk in _chunks(events, 1 if TOPICS[topic].compacted else self.batch_max)
        ]
        await self._deliver(sends + self._letters(batch.letters))
        for key, entry in batch.dirty.items():
            self.table.data[key] = entry
            try:
                await self.table.changelog_topic.send(
                    key=key,
                    value=entry,
                    partition=entry.partition,
                    key_serializer="raw",
                    value_serializer="pickle",
                )
            except Exception as exc:  # the state stays in memory; only its backup failed
                self.state_errors += 1
                log.error("%s: saving the state of %r failed: %r", self.group, key, exc)
        if self.listener is not None:
            for (topic, _), events in batch.outputs.items():
                for event in events:
                    self._notify(self.listener, topic, event)

    @staticmethod
    def _notify(listener: Listener, topic: str, event: Event) -> None:
        try:
            listener(topic, event)
        except Exception:  # an observer must never break the data path
            log.exception("listener on %s failed", topic)

    def _letters(self, letters: list[DeadLetter]) -> list[tuple[Any, bytes, bytes]]:
        for letter in letters:
            self.dead_letters[letter.source] += 1
            log.warning("dead letter from %s: %s", letter.source, letter.reason)
        return [(self.out["netvigil.dlq"], lt.source.encode(), encode(lt)) for lt in letters]

    async def _deliver(self, sends: list[tuple[Any, bytes, bytes]]) -> None:
        """Send and wait for Kafka's acknowledgement, retrying (at least once) until it comes."""
        delay = 0.5
        while sends:
            try:
                futs = [await topic.send(key=key, value=value) for topic, key, value in sends]
                await asyncio.gather(*futs)
                for topic, _, _ in sends:
                    self.sent[topic.get_topic_name()] += 1
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "%s: sending %d records failed (%r); retrying", self.group, len(sends), exc
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def held(self) -> int:
        """Events waiting in reorder buffers of this worker's keys."""
        return sum(len(e.buffer) for e in self.table.data.values() if e.buffer)

    def stats(self) -> dict[str, Any]:
        return {
            "held": self.held(),
            "group": self.group,
            "processed": self.processed,
            "skipped": self.skipped,
            "refetched": self.refetched,
            "unstalled": self.unstalled,
            "failed": self.failed,
            "dead_letters": dict(self.dead_letters),
            "sent": dict(self.sent),
            "keys": len(self.table.data),
        }
