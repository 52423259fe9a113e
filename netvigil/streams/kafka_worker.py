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
its input into ``<group>-by-key`` (same partition count) first, as faust's ``group_by`` does;
every ``MARK_S`` while it re-keys records (a timer of its own; every ``REPORT_S`` once
idle, see :meth:`~netvigil.streams.keyed.KeyedWorker._mark_due`), after the re-keyed
records of everything read so far are acknowledged, it writes an in-band progress mark into
every partition of that topic, by which the processor orders the re-keyed events
(:class:`~netvigil.streams.progress.MarkBoard`); a new mark releases what waits in its
partition at once, not at the next tick.

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

The keyed processing itself (state rows, buffers, dead letters, progress) is
:class:`~netvigil.streams.keyed.KeyedWorker`, shared with the exactly-once transport
(:mod:`netvigil.streams.kafka_txn`); what is here is faust's part and the repairs it needs.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import Collection, Mapping, Sequence
from typing import Any, cast

import faust
from confluent_kafka import TopicPartition
from faust.streams import Stream
from faust.types import TP, EventT

from netvigil.errors import NetVigilError
from netvigil.streams.base import Processor
from netvigil.streams.gaps import Gap, RawRecord, find_gaps, new_records, read_range
from netvigil.streams.kafka_admin import EndOffsets, start_offsets
from netvigil.streams.keyed import (
    MARK_S,
    REPORT_S,
    STATE_MAX_BYTES,
    TICK_S,
    Batch,
    KeyedWorker,
    KeyState,
    Send,
    group_of,
)
from netvigil.streams.progress import MARK_KEY, ProgressReader

__all__ = ["KeyState", "ProcessorApp", "group_of"]

log = logging.getLogger(__name__)

warnings.filterwarnings("ignore", message="The pickle codec", module="faust.*")

#: most records one direct read of a stalled partition takes (the lock is held meanwhile)
STALL_READ_MAX = 5000

_RAW: dict[str, Any] = {
    "key_type": bytes,
    "value_type": bytes,
    "key_serializer": "raw",
    "value_serializer": "raw",
}


class ProcessorApp(KeyedWorker):
    """A faust app running one processor; start it in a running event loop."""

    #: most records one round takes
    take_max = 50

    def __init__(self, proc: Processor[Any], **kw: Any) -> None:
        """Takes :class:`~netvigil.streams.keyed.KeyedWorker`'s arguments."""
        super().__init__(proc, **kw)
        cfg, partitions = self.cfg, self.partitions
        self._reader: ProgressReader | None = None
        self._lock = asyncio.Lock()
        self._moved: dict[tuple[str, int], tuple[int, float]] = {}
        """Per partition, ``_read`` when last seen to change and when (monotonic)."""
        self._first: dict[tuple[str, int], int] = {}
        """Per partition, the first offset handled since the last assignment."""
        self._rescan = False
        self._end_offsets = EndOffsets(self.bootstrap)
        self.app = faust.App(
            self.group,
            broker=[f"kafka://{h}" for h in self.bootstrap.split(",")],
            web_enabled=False,
            autodiscover=False,
            store="memory://",
            datadir=str(self.datadir),
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
        source = self.app.topic(*self.inputs, **_RAW)
        if self.rekey:
            self.by_key = self.app.topic(
                self.by_key_name, partitions=partitions, internal=True, **_RAW
            )
            self.app.agent(source, name=f"{proc.name}-by-key")(self._rekey_agent)
            source = self.by_key
        if self.rekey or len(self.inputs) > 1:
            self.app.timer(TICK_S)(self._tick)
        self.app.timer(REPORT_S)(self._report)
        if self.rekey:
            self.app.timer(MARK_S)(self._mark)
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
            name: self.app.topic(name, **_RAW)
            for name in (
                *(self.prefix + t for t in (*proc.outputs, "netvigil.dlq")),
                self.progress_name,
                *([self.by_key_name] if self.rekey else []),
            )
        }
        self.app.agent(source, name=proc.name)(self._agent)
        self.app.on_partitions_assigned.connect(self._on_assigned)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self.rekey:
            self._reader = ProgressReader(self.bootstrap, self.progress_name, self.board)
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
        self._announce()
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
        self._forget_marks()
        try:
            base = await asyncio.to_thread(start_offsets, self.bootstrap, self.group, tps)
        except NetVigilError as exc:
            log.warning("%s: committed offsets unknown (%s)", self.group, exc)
            return
        for tp, off in base.items():
            first, now = self._first.get(tp), self._read.get(tp)
            handled = first is not None and first <= off and now is not None
            self._read[tp] = max(now, off) if handled and now is not None else off

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

    async def _unstall(self, ends: Mapping[tuple[str, int], int | None]) -> None:
        """Read directly what the broker has (``ends``: its end offsets) but the consumer has
        not delivered for ``kafka.stall_s`` while nothing of that partition was handled: a
        partition faust-streaming stopped fetching, as the failover test saw after a
        rebalance. Later deliveries of the same records are skipped. Under the lock."""
        if getattr(self.app, "in_recovery", False):
            return  # the state is being restored: nothing may be handled yet
        now = time.monotonic()
        for at, end in ends.items():
            tp = TP(*at)
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
        await self._deliver(self._rekeyed(await self._refill(records)))

    async def _agent(self, stream: faust.StreamT[bytes]) -> None:
        async for records in cast(Stream[bytes], stream).take_events(
            self.take_max, self.take_within
        ):
            await self._handle(records)

    # ------------------------------------------------------------------ processing

    async def _handle(self, records: Sequence[EventT[bytes]]) -> None:
        async with self._lock:
            await self._process(records)

    async def _process(self, records: Sequence[Any]) -> None:
        """Run the processor on records of its input, in order; under the lock."""
        batch = Batch()
        await self._process_into(await self._refill(records), batch)
        if self._marked:  # a new mark may release what waits in its partition
            await self._release_held(batch, self._marked & self._active())
            self._marked.clear()
        await self._commit(batch)

    def _active(self) -> set[int]:
        """The partitions of the processor's (re-keyed) input this worker owns now."""
        mine = self._read_topics()
        return {p for t, p in self.assignment if t in mine}

    async def _tick(self) -> None:
        """Re-evaluate held events (see :meth:`KeyedWorker._release_held`); only keys this
        worker owns now."""
        if getattr(self.app, "rebalancing", False):
            return
        active = self._active()
        batch = Batch()
        async with self._lock:
            if self._rescan:  # after a rebalance: recovered keys may hold events
                self._rescan = False
                self._held = {k for k, e in self.table.data.items() if e.buffer}
            await self._release_held(batch, active)
            if batch.dirty:
                await self._commit(batch)

    async def _report(self) -> None:
        """Report progress per input partition (see :mod:`netvigil.streams.progress`); under
        the lock, so every record read so far is handled and its outputs acknowledged."""
        if getattr(self.app, "rebalancing", False) or not self.assignment:
            return
        now = time.time()  # before asking: records written later are not covered
        ends = await self._ends(self._read_topics())
        if ends is None:
            return
        async with self._lock:
            await self._repair_commits()
            await self._unstall(ends)
            sends = self._progress(ends, now)
            if sends:
                await self._deliver(sends)

    async def _mark(self) -> None:
        """Write an in-band progress mark into every by-key partition (see
        :meth:`KeyedWorker._mark_value`) when one is due (:meth:`KeyedWorker._mark_due`):
        under the lock, so every re-keyed record of what was read so far is acknowledged."""
        if getattr(self.app, "rebalancing", False) or not self.assignment:
            return
        if not self._mark_due(time.monotonic()):
            return
        upstream = self.board.dump(self.upstream)  # before asking for ends
        now = time.time()
        ends = await self._ends(set(self.inputs))
        if ends is None:
            return
        async with self._lock:
            mark = self._mark_value(upstream, ends, now)
            if mark is not None:
                parts = range(self.partitions)
                await self._deliver([(self.by_key_name, MARK_KEY, mark)] * len(parts), parts)

    async def _ends(self, topics: Collection[str]) -> dict[tuple[str, int], int | None] | None:
        """The broker's end offsets of the assigned partitions of ``topics``, asked with an
        admin client: the faust consumer's are stale, and asking it queues behind its
        fetches (up to a second here). None if the broker does not answer."""
        tps = [(t, p) for t, p in self.assignment if t in topics]
        try:
            return await asyncio.to_thread(self._end_offsets, tps)
        except Exception as exc:
            log.debug("%s: no end offsets (%r)", self.group, exc)
            return None

    async def _commit(self, batch: Batch) -> None:
        """Deliver outputs and dead letters (acknowledged), then save the changed keys."""
        await self._deliver(self._sends(batch))
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
        self._delivered(batch)

    async def _deliver(self, sends: list[Send], parts: Sequence[int | None] = ()) -> None:
        """Send (``parts``: into these partitions, None: by key) and wait for Kafka's
        acknowledgement, retrying (at least once) until it comes."""
        delay = 0.5
        where = list(parts) or [None] * len(sends)
        while sends:
            try:
                futs = [
                    await self.out[n].send(key=key, value=value, partition=part)
                    for (n, key, value), part in zip(sends, where, strict=True)
                ]
                await asyncio.gather(*futs)
                for name, _, _ in sends:
                    self.sent[name] += 1
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "%s: sending %d records failed (%r); retrying", self.group, len(sends), exc
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    @property
    def states(self) -> dict[bytes, KeyState]:
        return cast(dict[bytes, KeyState], self.table.data)

    def _end_offset(self, topic: str, partition: int) -> int | None:
        high = self.app.consumer.highwater(TP(topic, partition))
        return None if high is None else int(high)
