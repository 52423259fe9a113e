"""Each processor on one consume-process-produce loop on confluent-kafka, for both guarantees.

One consumer in the processor's group (``<prefix>netvigil-<processor>``), reading
``read_committed`` with the *range* assignor, so one worker owns the same partition number of
every (co-partitioned) input and of the state changelog; one producer per worker and
processor. Each round takes a batch of records, runs the processor
(:class:`~netvigil.streams.kafka.keyed.KeyedWorker`) and writes its outputs, dead letters, the
changed keys' state rows (``<group>-state-changelog``, compacted), the progress reports and
marks, and commits the input offsets. ``kafka.processing_guarantee`` says how:

- ``exactly_once``: all of that in **one transaction** (KIP-98), the offsets with
  ``send_offsets_to_transaction`` and the consumer's group metadata (KIP-447), so a worker
  that lost its partitions in a rebalance is fenced by the group generation. Readers
  downstream read ``read_committed`` and see each round once or not at all. The
  transactional id is ``<group>-<worker id>``, the worker id kept in the worker's data
  directory: a worker restarted on the same directory fences its previous incarnation and
  aborts what that left open at once; one that never returns has its open transaction
  aborted by the broker after ``transaction.timeout.ms`` (twice the session timeout), until
  when downstream readers of its partitions wait. An aborted round runs again from the
  committed offsets and state.
- ``at_least_once``: no transactions. The round's outputs, dead letters, re-keyed records
  and mark are produced (idempotent producer, ``acks=all``) and *acknowledged*, then the
  state rows and progress reports, then the offsets are committed. A crash between the two
  re-runs the round: its outputs are sent again, while a state row that was saved carries
  the input offsets applied to it, so the state changes once (effects downstream are
  idempotent: incidents by fingerprint, tickets by correlation id).

Either way, when a worker takes partitions (at start, on a rebalance, after an aborted
round) it rebuilds their state from the changelog and reads on from the group's committed
offsets; everything a round was handed is handled before its offsets are committed, so no
record is skipped and no offset is committed past a record the processor did not see (what
the faust-streaming transport needed a repair layer for; see docs/kafka.md). A processor
with its own key (the correlator, the coordinator) re-keys its input into ``<group>-by-key``
in the same loop and writes in-band progress marks into every partition of that topic after
the round's re-keyed records (:class:`~netvigil.streams.kafka.progress.MarkBoard`).

Why not faust-streaming's agents: they acknowledged and committed records the agent never
saw around rebalances and stopped fetching partitions (the repairs this replaced); and its
exactly-once mode opens transactions only inside its ``Worker``, named after *output*
partitions. The changelog rows are those faust's ``pickle`` codec wrote (base64 of a
pickle), so state written by earlier releases is still read. Processor state is arbitrary
Python (river statistics, dataclasses), which only pickle carries faithfully: changelog
topics must be writable by NetVigil workers only (Kafka ACLs), like any pickle source.

An unreachable broker blocks the round, which retries until the broker is back; a fatal
producer error (another worker took this transactional id) stops the app with the error.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import pickle
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from netvigil.errors import NetVigilError
from netvigil.events import DeadLetter
from netvigil.streams.base import Processor
from netvigil.streams.kafka.admin import EndOffsets, admin_config, ensure_topic, offsets_reader
from netvigil.streams.kafka.keyed import (
    REPORT_S,
    STATE_MAX_BYTES,
    TICK_S,
    Batch,
    KeyedWorker,
    KeyState,
    RawMessage,
    RawRecord,
    Send,
)
from netvigil.streams.kafka.producer import producer_config
from netvigil.streams.kafka.progress import MARK_KEY, ProgressReader
from netvigil.streams.kafka.wire import headers_of

__all__ = ["KafkaLoop"]

log = logging.getLogger(__name__)


def _rows(states: dict[bytes, KeyState]) -> str:
    """Per key, its partition and the input offsets applied to it (a debug log line)."""
    return "; ".join(
        f"{k!r} p{e.partition} applied={e.applied} held={len(e.buffer or ())}"
        for k, e in sorted(states.items())
    )


T = TypeVar("T")


#: how long a partition (or its leader) may be unknown to the client before that is an error
#: (seconds)
UNKNOWN_S = 30.0

#: longest wait for one attempt of a transactional call that has a timeout of its own (30 s)
#: before its producer is taken as hung and replaced: librdkafka 2.16's
#: ``send_offsets_to_transaction`` can block past its timeout for good once the group
#: coordinator's broker went away (librdkafka issues 5456 and 5511), as it did in the
#: broker-restart test. Per attempt, so a long outage (every attempt fails in time) is not one
HUNG_S = 60.0

#: how long an end offset the broker gave (:meth:`KafkaLoop._ends`, every ``REPORT_S``) says a
#: partition can be caught up (seconds): after that its end is unknown, and the detector's
#: merge waits for it (the consumer's own cached end stays as it was while the partition's
#: leader is gone)
FRESH_S = 5.0

#: errors that say another producer took this transactional id: the loop stops
_FENCED = frozenset(
    {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}
)

#: errors librdkafka does not call retriable that are retried as long as retriable ones (the
#: broker is away or slow): a local timeout reading a changelog's end while a node of a
#: cluster restarted stopped the correlator's loop (tests/integration/kafka/test_cluster.py)
_TRANSIENT = frozenset({KafkaError._TIMED_OUT})

#: errors of a topic or group the broker is still setting up: retried for ``UNKNOWN_S``
_SETTLING = frozenset(
    {
        KafkaError._UNKNOWN_PARTITION,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    }
)


def _pickled(entry: KeyState | None) -> bytes | None:
    return None if entry is None else base64.b64encode(pickle.dumps(entry))


def _unpickled(value: bytes | None) -> KeyState | None:
    if value is None:
        return None
    entry: KeyState = pickle.loads(base64.b64decode(value))
    return entry


class _Abort(Exception):
    """The round's transaction was aborted: run it again from the committed state."""


class _Renew(Exception):
    """The producer cannot go on: a new one takes its transactional id, the round runs again."""


class _Hung(_Renew):
    """A transactional call did not return."""


class _Stopped(Exception):
    """The app stops while the round's records wait for the broker: nothing is committed."""


class KafkaLoop(KeyedWorker):
    """One processor on a consume-process-produce loop; start it in a running event loop."""

    #: most records one round takes
    take_max = 500

    def __init__(self, proc: Processor[Any], **kw: Any) -> None:
        """Takes :class:`~netvigil.streams.kafka.keyed.KeyedWorker`'s arguments."""
        super().__init__(proc, **kw)
        self.exactly_once = self.cfg.processing_guarantee == "exactly_once"
        id_file = self.datadir / "worker-id"
        if not id_file.exists():
            id_file.write_text(uuid.uuid4().hex[:12])
        self.transactional_id = f"{self.group}-{id_file.read_text().strip()}"
        self._states: dict[bytes, KeyState] = {}
        self._committed: dict[tuple[str, int], int] = {}
        """Per assigned partition, the offset this worker committed last."""
        self._assigned = threading.Event()
        self._stopping = False
        self._rewind = False
        self._task: asyncio.Task[None] | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"kafka-{proc.name}")
        self._reader: ProgressReader | None = None
        self._consumer: Consumer | None = None
        self._producer: Producer | None = None
        self._producer_conf: dict[str, Any] = {}
        self._end_offsets: EndOffsets | None = None
        self._ends_failing = 0.0
        """When a failed end-offset query was last logged (wall time)."""
        self._fresh: dict[tuple[str, int], tuple[float, int]] = {}
        """Per input partition, when (monotonic) the broker last gave its end, and that end."""
        self._refused: list[tuple[str, bytes, str]] = []
        """Records the broker refused (topic, value, reason), at least once."""
        self.transactions = 0
        self.aborted = 0
        self.restored = 0
        self.refused = 0
        self.error: BaseException | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        await asyncio.to_thread(
            ensure_topic,
            self.bootstrap,
            self.changelog_name,
            self.partitions,
            self.cfg.replication,
            config={"cleanup.policy": "compact", "max.message.bytes": str(STATE_MAX_BYTES)},
        )
        session_ms = int(self.cfg.session_timeout_s * 1000)
        txn_ms = 2 * session_ms
        extra: dict[str, Any] = {"message.max.bytes": STATE_MAX_BYTES + 4096}
        if self.exactly_once:
            extra |= {
                "transactional.id": self.transactional_id,
                "transaction.timeout.ms": txn_ms,
                "message.timeout.ms": txn_ms,
            }
        else:  # retried until acknowledged (message.timeout.ms 0); refusals are reported
            extra["on_delivery"] = self._on_delivery
        self._producer_conf = producer_config(self.bootstrap, self.cfg.compression, **extra)
        self._producer = Producer(self._producer_conf)
        self._consumer = Consumer(
            {
                **admin_config(self.bootstrap),
                "group.id": self.group,
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "partition.assignment.strategy": "range",
                "session.timeout.ms": session_ms,
                "heartbeat.interval.ms": max(1000, session_ms // 5),
                "fetch.max.bytes": STATE_MAX_BYTES + 4096,
                "on_commit": self._on_commit,
            }
        )
        self._end_offsets = EndOffsets(self.bootstrap)
        producer = self._producer
        if self.exactly_once:
            await self._in_thread(
                self._retrying, "initialising transactions", lambda: producer.init_transactions(30)
            )
        if self.rekey:
            self._reader = ProgressReader(self.bootstrap, self.progress_name, self.board)
            self._reader.start()
        await self._in_thread(self._await_topics)
        self._consumer.subscribe(
            sorted(self._read_topics()), on_assign=self._on_assign, on_revoke=self._on_revoke
        )
        self._task = asyncio.create_task(self._run(), name=f"kafka:{self.proc.name}")

    def _await_topics(self) -> None:
        """Wait until the consumer's metadata has every topic it reads, with all partitions
        (in the loop's thread). A topic created a moment ago (the by-key topic) may not be
        in it yet; subscribed then, it is left out of the group's assignment until the next
        metadata refresh, minutes later, and its records wait that long."""
        assert self._consumer is not None
        deadline = time.monotonic() + UNKNOWN_S
        missing = sorted(self._read_topics())
        while missing:
            meta = self._consumer.list_topics(timeout=10).topics
            missing = [
                t
                for t in missing
                if t not in meta
                or meta[t].error is not None
                or len(meta[t].partitions) != self.partitions
            ]
            if missing and time.monotonic() > deadline:
                raise NetVigilError(f"{self.group}: topics {missing} not on the broker")
            if missing:
                time.sleep(0.2)

    async def ready(self, timeout: float = 120.0) -> None:
        """Wait until the first assignment and its state restore finished."""
        deadline = time.monotonic() + timeout
        while not self._assigned.is_set():
            if self._task is not None and self._task.done():
                self._task.result()  # raises what stopped it
                raise NetVigilError(f"{self.group}: the loop stopped before joining its group")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.group}: no partitions assigned in {timeout:.0f} s")
            await asyncio.sleep(0.05)

    async def finished(self) -> None:
        """Return when the loop has ended; raise what ended it if that was an error."""
        while self._task is None:
            await asyncio.sleep(0.1)
        await asyncio.shield(self._task)

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            try:
                await self._task
            except Exception as exc:
                log.error("%s: the loop had stopped: %r", self.group, exc)
        if self._consumer is not None:
            await self._in_thread(self._consumer.close)
        self._pool.shutdown(wait=False)
        if self._reader is not None:
            await asyncio.to_thread(self._reader.stop)

    async def _in_thread(self, call: Callable[..., T], *args: Any) -> T:
        """Run a blocking client call in this app's own thread, so no other app's calls (the
        default executor has a few threads for the whole process) can hold up this loop. Only
        non-blocking calls (``position``) are made from the event loop's thread."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, call, *args)

    # ------------------------------------------------------------------ assignment

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Rebuild the state of the assigned partitions (in librdkafka's poll, in the loop's
        thread, between rounds: nothing of a round is pending)."""
        self.assignment = sorted((tp.topic, tp.partition) for tp in partitions)
        self._forget()
        self._restore()
        starts = self._starts(consumer, [(tp.topic, tp.partition) for tp in partitions])
        log.debug("%s: reading from %s; restored %s", self.group, starts, _rows(self._states))
        self._start_at(starts)
        self._announce()
        mine = [f"{t}[{p}]" for t, p in self.assignment]
        log.info(
            "%s: assigned %s; %d keys restored",
            self.group,
            ", ".join(mine) or "nothing",
            len(self._states),
        )
        self._assigned.set()

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.assignment = []
        self._states = {}
        self._held = set()

    def _restore(self) -> None:
        """The state rows of the assigned partitions as the changelog holds them (read
        committed: as of the last committed transaction, exactly once)."""
        parts = sorted({p for t, p in self.assignment if t in self._read_topics()})
        states: dict[bytes, KeyState] = {}
        if parts:
            reader = Consumer(
                {
                    **admin_config(self.bootstrap),
                    "group.id": f"{self.group}-restore-{uuid.uuid4().hex[:8]}",
                    "isolation.level": "read_committed",
                    "enable.auto.commit": False,
                    "enable.partition.eof": True,
                    "fetch.max.bytes": STATE_MAX_BYTES + 4096,
                }
            )
            try:
                tps = [TopicPartition(self.changelog_name, p, OFFSET_BEGINNING) for p in parts]
                ends = {
                    tp.partition: self._retrying(
                        "reading the changelog's end",
                        lambda tp=tp: reader.get_watermark_offsets(tp, timeout=10)[1],  # type: ignore[misc]
                    )
                    for tp in tps
                }
                reader.assign(tps)
                left = {p for p, end in ends.items() if end > 0}
                while left:
                    msg = reader.poll(1.0)
                    if msg is None:
                        continue
                    part = msg.partition() or 0
                    err = msg.error()
                    if err is None:
                        key = msg.key() or b""
                        entry = _unpickled(msg.value())
                        if entry is None:
                            states.pop(key, None)
                        else:
                            states[key] = entry
                    elif err.code() != KafkaError._PARTITION_EOF:
                        log.warning("%s: reading the changelog: %s", self.group, err)
                        continue
                    pos = reader.position([TopicPartition(self.changelog_name, part)])[0].offset
                    if pos >= ends[part]:
                        left.discard(part)
                log.debug("%s: changelog read to %s", self.group, ends)
            finally:
                reader.close()
        self._states = states
        self._held = {k for k, e in states.items() if e.buffer}
        self.restored += len(states)

    def _starts(
        self, consumer: Consumer, tps: list[tuple[str, int]], within: float | None = None
    ) -> dict[tuple[str, int], int]:
        """Where the group reads ``tps`` from: the committed offset, or for a partition
        the group never committed, its log start (``auto.offset.reset`` is earliest).
        ``within``: :class:`_Renew` once reading has failed that long."""
        if not tps:
            return {}
        asked = [TopicPartition(t, p) for t, p in tps]
        got = self._retrying(
            "reading committed offsets", lambda: consumer.committed(asked, timeout=10), within
        )
        starts = {}
        for tp in got:
            at = (tp.topic, tp.partition)
            if tp.offset >= 0:
                starts[at] = tp.offset
            else:
                low = self._retrying(
                    "reading the log start",
                    lambda tp=tp: consumer.get_watermark_offsets(tp, timeout=10)[0],  # type: ignore[misc]
                )
                starts[at] = max(int(low), 0)
        return starts

    def _start_at(self, starts: dict[tuple[str, int], int]) -> None:
        """Everything before a partition's start offset was handled. Said here because the
        consumer's ``position`` stays unknown (``OFFSET_INVALID``) until it returns a record
        of the partition: an input partition with nothing new since the group's last commit
        would otherwise never count as read to its end, and its progress reports and marks
        would hold every re-keyed event until ``kafka.reorder_max_wait_s``."""
        for at, offset in starts.items():
            self._read[at] = offset
            self._committed[at] = offset

    def _rewind_to_committed(self) -> None:
        """After an aborted transaction: the committed state and offsets of the assignment
        again."""
        assert self._consumer is not None
        consumer = self._consumer
        t0 = time.monotonic()
        try:
            starts = self._starts(consumer, self.assignment, within=HUNG_S)
        except _Renew as why:
            starts = self._starts_renewed(str(why))
        for (topic, part), off in starts.items():
            try:
                consumer.seek(TopicPartition(topic, part, off))
            except KafkaException as exc:  # no longer ours: the next rebalance settles it
                log.info("%s: not rewinding %s[%d]: %s", self.group, topic, part, exc)
        t1 = time.monotonic()
        self._forget()
        self._restore()
        self._start_at(starts)
        log.info(
            "%s: rewound to the committed offsets (%.1f s) and state (%.1f s)",
            self.group,
            t1 - t0,
            time.monotonic() - t1,
        )

    def _starts_renewed(self, why: str) -> dict[tuple[str, int], int]:
        """The committed offsets when the loop's consumer has not been answered for
        ``HUNG_S`` after an abort (seen once after a broker restart, exactly once: the group's
        offsets stayed unstable, every fetch timed out, for ten minutes). Either this
        producer's transaction is still open on the broker (its abort lost in the restart),
        which a new producer of the same transactional id makes the broker abort, or the
        consumer's link to the group coordinator is stale, which a new consumer of the group
        (reading only, never joining) does not share. Both, then read until answered."""
        log.error("%s: %s; a new producer and a new reader of the offsets", self.group, why)
        self._new_producer()
        reader = offsets_reader(self.bootstrap, self.group)
        try:
            return self._starts(reader, self.assignment)
        finally:
            reader.close()

    def _forget(self) -> None:
        """What this worker knew of its positions, before they are set again: the next round
        starts from the committed offsets, and marks are read again from there (until then
        re-keyed events are held)."""
        self._read.clear()
        self._committed.clear()
        self._max_ts.clear()
        self._forget_marks()

    # ------------------------------------------------------------------ watermarks

    def _mark(self) -> bytes | None:
        """The in-band mark to write after this round's re-keyed records (in the loop's
        thread); None if this worker re-keys nothing or the broker did not answer."""
        upstream = self.board.dump(self.upstream)  # before asking for ends
        got = self._ends()
        return None if got is None else self._mark_value(upstream, got[1], got[0])

    # ------------------------------------------------------------------ the loop

    async def _run(self) -> None:
        next_tick = next_report = 0.0
        buffered = self.rekey or len(self.inputs) > 1
        try:
            while not self._stopping:
                if self._rewind:
                    self._rewind = False
                    await self._in_thread(self._rewind_to_committed)
                self._sync_positions()  # every record returned before was handled
                msgs = await self._in_thread(self._consume)
                now = time.monotonic()
                batch = Batch()
                sends = await self._round(msgs, batch)
                offsets = self._advanced()
                if buffered and (now >= next_tick or self._marked):
                    active = {p for t, p in self.assignment if t in self._read_topics()}
                    if now >= next_tick:
                        next_tick = now + TICK_S
                    else:  # a new mark may release what waits in its partition
                        active &= self._marked
                    await self._release_held(batch, active)
                self._marked.clear()
                sends += self._sends(batch)
                self._states.update(batch.dirty)  # an aborted round restores them all
                mark: bytes | None = None
                if self.rekey and self._mark_due(now):
                    mark = await self._in_thread(self._mark)
                reports: list[Send] = []
                if now >= next_report and self.assignment:
                    next_report = now + REPORT_S
                    reports = await self._in_thread(self._reports)
                if not sends and not offsets and not batch.dirty and mark is None and not reports:
                    continue
                if self.exactly_once:
                    try:
                        await self._in_thread(
                            self._transact, sends + reports, batch.dirty, offsets, mark
                        )
                    except _Abort:
                        self.aborted += 1
                        self._rewind = True
                        continue
                    except _Renew as why:
                        log.error(
                            "%s: %s; a new producer takes over its transactional id and the "
                            "round runs again",
                            self.group,
                            why,
                        )
                        self.aborted += 1
                        await self._in_thread(self._new_producer)
                        self._rewind = True
                        continue
                    self.transactions += 1
                else:
                    try:
                        await self._in_thread(
                            self._acknowledged, sends, batch.dirty, offsets, mark, reports
                        )
                    except _Stopped:
                        return
                self._committed.update(offsets)
                for name, _, _ in sends + reports:
                    self.sent[name] += 1
                self._delivered(batch)
        except _Stopped:
            log.info("%s: stopped while waiting for the broker", self.group)
        except Exception as exc:
            self.error = exc
            log.error("%s: the loop stopped: %r", self.group, exc)
            raise

    def _consume(self) -> list[Message]:
        assert self._consumer is not None
        return self._consumer.consume(self.take_max, self.take_within)

    async def _round(self, msgs: Sequence[Message], batch: Batch) -> list[Send]:
        """Handle one batch of records: re-keyed records to send, the processor's results
        into ``batch``."""
        fresh: list[RawRecord] = []
        keyed: list[RawRecord] = []
        for msg in msgs:
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("%s: consuming: %s", self.group, err)
                continue
            topic, part, offset = msg.topic() or "", msg.partition() or 0, msg.offset() or 0
            _, ms = msg.timestamp()
            stamp = ms / 1000 if ms > 0 else None
            rec = RawRecord(
                RawMessage(topic, part, offset, stamp),
                msg.value(),
                msg.key(),
                headers_of(msg.headers()),
            )
            if self.rekey and topic != self.by_key_name:
                fresh.append(rec)  # an input record, to re-key
            else:
                keyed.append(rec)
        sends = self._rekeyed(fresh) if fresh else []
        if keyed:
            await self._process_into(keyed, batch)
        return sends

    def _advanced(self) -> dict[tuple[str, int], int]:
        """The consumer's positions that moved since the last commit: what to commit with
        this round. Everything before them was handled (all that ``consume`` returned is),
        and they step over transaction markers, which the records' own offsets would not:
        a group committed at its last record's offset + 1 would show a lag of one forever
        behind every transactional producer's last commit marker."""
        assert self._consumer is not None
        tps = [TopicPartition(t, p) for t, p in self.assignment]
        out = {}
        for tp in self._consumer.position(tps) if tps else []:
            at = (tp.topic, tp.partition)
            if tp.offset >= 0 and tp.offset != self._committed.get(at):
                out[at] = tp.offset
        return out

    def _sync_positions(self) -> None:
        """Everything before the consumer's position was handled once a round is done (the
        position also steps over transaction markers, which hold no record)."""
        if self._consumer is None or not self.assignment:
            return
        tps = [TopicPartition(t, p) for t, p in self.assignment]
        for tp in self._consumer.position(tps):
            at = (tp.topic, tp.partition)
            if tp.offset >= 0 and tp.offset > self._read.get(at, -1):
                self._read[at] = tp.offset

    def _ends(self) -> tuple[float, dict[tuple[str, int], int | None]] | None:
        """The wall time, then the last stable offsets of the assigned input partitions (in
        the loop's thread). None if the broker did not answer."""
        assert self._end_offsets is not None
        tps = [(t, p) for t, p in self.assignment if t in self.inputs]
        now = time.time()  # before asking: records written later are not covered
        got: dict[tuple[str, int], int | None] = {}
        try:
            self._end_offsets(tps, committed_only=True, answered=got)
        except Exception as exc:  # the broker is away: no report, no mark meanwhile
            if now - self._ends_failing > 10.0:
                self._ends_failing = now
                log.warning("%s: no end offsets (%r): no progress report or mark", self.group, exc)
            return None
        finally:  # the partitions it answered for, whichever did not answer
            answered = time.monotonic()
            for tp, end in got.items():
                if end is not None:
                    self._fresh[tp] = (answered, end)
        return now, got

    def _reports(self) -> list[Send]:
        """Progress reports of the assigned input partitions (in the loop's thread)."""
        got = self._ends()
        return [] if got is None else self._progress(got[1], got[0])

    def _transact(
        self,
        sends: list[Send],
        states: dict[bytes, KeyState],
        offsets: dict[tuple[str, int], int],
        mark: bytes | None = None,
    ) -> None:
        """Write ``sends``, then ``mark`` into every by-key partition, and the state rows,
        and commit ``offsets``, in one transaction (in the loop's thread); retried while the
        broker is away; :class:`_Abort` if aborted."""
        producer, consumer = self._producer, self._consumer
        assert producer is not None and consumer is not None
        try:
            producer.begin_transaction()
            for topic, key, value in sends:
                self._produce(producer, topic, key, value, None)
            if mark is not None:  # after the re-keyed records in ``sends``: see _blocking
                for part in range(self.partitions):
                    self._produce(producer, self.by_key_name, MARK_KEY, mark, part)
            for key, entry in states.items():
                self._produce(producer, self.changelog_name, key, _pickled(entry), entry.partition)
            if offsets:
                tps = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
                meta = consumer.consumer_group_metadata()
                self._bounded(
                    "sending offsets", lambda: producer.send_offsets_to_transaction(tps, meta, 30)
                )
            self._bounded("committing", lambda: producer.commit_transaction(30))
        except KafkaException as exc:
            err: KafkaError = exc.args[0]
            if err.code() in _FENCED:  # another worker took this transactional id
                raise NetVigilError(f"{self.group}: transaction failed: {err}") from exc
            if err.fatal() or not err.txn_requires_abort():
                raise _Renew(f"the transaction failed ({err})") from exc
            log.warning("%s: transaction aborted (%s); running the round again", self.group, err)
            try:
                self._bounded("aborting", lambda: producer.abort_transaction(30))
            except KafkaException as failed:  # e.g. INVALID_TXN_STATE after a timed-out abort
                if failed.args[0].code() in _FENCED:
                    raise NetVigilError(f"{self.group}: aborting failed: {failed}") from failed
                raise _Renew(f"aborting failed ({failed.args[0]})") from failed
            raise _Abort from exc

    def _bounded(self, what: str, call: Callable[[], T]) -> T:
        """:meth:`_retrying` ``call`` for at most ``HUNG_S`` (then :class:`_Renew`: an abort
        answered ``_TIMED_OUT`` for minutes after the broker restarted), each attempt in a
        thread of its own; :class:`_Hung` if one has not returned after ``HUNG_S`` (the
        thread is left to the abandoned producer: fenced by its successor, the call then fails
        and the thread ends)."""

        def attempt() -> T:
            done: Future[T] = Future()

            def run() -> None:
                try:
                    done.set_result(call())
                except BaseException as exc:
                    done.set_exception(exc)

            threading.Thread(target=run, name=f"{self.group}: {what}", daemon=True).start()
            try:
                return done.result(HUNG_S)
            except FutureTimeout:
                raise _Hung(f"{what} did not return in {HUNG_S:.0f} s") from None

        return self._retrying(what, attempt, within=HUNG_S)

    def _new_producer(self) -> None:
        """Replace a hung transactional producer by one with the same transactional id:
        initialising it fences the old one and aborts its open transaction (in the loop's
        thread)."""
        producer = Producer(self._producer_conf)
        self._retrying("initialising transactions", lambda: producer.init_transactions(30))
        self._producer = producer

    def _acknowledged(
        self,
        sends: list[Send],
        states: dict[bytes, KeyState],
        offsets: dict[tuple[str, int], int],
        mark: bytes | None,
        reports: list[Send],
    ) -> None:
        """At least once (in the loop's thread): produce ``sends`` and then ``mark`` into
        every by-key partition (one producer keeps their order per partition) and wait for
        the broker to acknowledge them; then the state rows and ``reports``, acknowledged
        too; then commit ``offsets``, asynchronously (:meth:`_on_commit`). Waits while the
        broker is away; :class:`_Stopped` if the app stops meanwhile (nothing is committed:
        the round runs again after a restart). A commit refused at once (the partitions
        moved: the round is their new owner's) empties ``offsets``: none was committed."""
        producer, consumer = self._producer, self._consumer
        assert producer is not None and consumer is not None
        for topic, key, value in sends:
            self._produce(producer, topic, key, value, None)
        if mark is not None:
            for part in range(self.partitions):
                self._produce(producer, self.by_key_name, MARK_KEY, mark, part)
        self._flushed(producer)
        for key, entry in states.items():
            self._produce(producer, self.changelog_name, key, _pickled(entry), entry.partition)
        for topic, key, value in reports:
            self._produce(producer, topic, key, value, None)
        self._flushed(producer)
        if not offsets:
            return
        tps = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        try:
            consumer.commit(offsets=tps, asynchronous=True)  # the result: _on_commit
        except KafkaException as exc:  # e.g. the partitions moved: their new owner's
            log.info("%s: offsets not committed (%s)", self.group, exc.args[0])
            offsets.clear()

    def _on_commit(self, err: KafkaError | None, partitions: list[TopicPartition]) -> None:
        """The result of an at-least-once offset commit (served by the consumer's poll, in
        the loop's thread). An offset not committed is no longer taken as committed, so the
        next round commits it again (a drain waits for the group's committed offsets).

        Commits are asynchronous because a synchronous one can block without end: once,
        after a broker restart, ``commit(asynchronous=False)`` did not return for ten
        minutes, and its thread held the app's stop (confluent-kafka-python issue 1801
        reports the same hang). The round's outputs and state were acknowledged before,
        so a commit that fails only means records handled again after a crash."""
        failed = [tp for tp in partitions if err is not None or tp.error is not None]
        for tp in failed:
            at = (tp.topic, tp.partition)
            if self._committed.get(at) == tp.offset:
                del self._committed[at]
        if failed:
            log.info(
                "%s: %d offsets not committed (%s); again with the next round",
                self.group,
                len(failed),
                err or failed[0].error,
            )

    def _flushed(self, producer: Producer) -> None:
        """Wait until everything produced was acknowledged or refused; a refused record
        becomes a dead letter with the broker's reason (a refused dead letter is logged and
        counted). :class:`_Stopped` if the app stops first."""
        while True:
            while producer.flush(1.0) > 0:
                if self._stopping:
                    raise _Stopped
            refused, self._refused = self._refused, []
            if not refused:
                return
            self.refused += len(refused)
            dlq = self.prefix + "netvigil.dlq"
            letters = [
                DeadLetter(
                    ts=time.time(),
                    source=f"processor:{self.proc.name}",
                    reason=f"Kafka refused the record: {reason}",
                    raw=value[: 64 << 10],
                    topic=topic,
                )
                for topic, value, reason in refused
                if topic != dlq
            ]
            for topic, key, value in self._letters(letters):
                self._produce(producer, topic, key, value, None)

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        """A record the broker refused for good (librdkafka retries the rest forever)."""
        if err is not None:
            log.error("%s: Kafka refused a record for %s: %s", self.group, msg.topic(), err.str())
            self._refused.append((str(msg.topic()), msg.value() or b"", err.str()))

    def _produce(
        self, producer: Producer, topic: str, key: bytes, value: bytes | None, part: int | None
    ) -> None:
        """Produce one record of the round. One larger than the broker takes is
        refused here, by librdkafka, and would be refused again on every retry: it becomes a
        dead letter (its first 64 KiB), or for a state row, a counted error (the state stays
        in memory; only its backup failed)."""
        while True:
            try:
                if part is None:
                    producer.produce(topic, value, key)
                else:
                    producer.produce(topic, value, key, partition=part)
                producer.poll(0)
                return
            except BufferError:  # the local queue is full: let it drain
                producer.poll(0.1)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.MSG_SIZE_TOO_LARGE:
                    raise
                if topic == self.changelog_name:
                    self.state_errors += 1
                    log.error("%s: the state of %r is too large to save", self.group, key)
                    return
                letter = DeadLetter(
                    ts=time.time(),
                    source=f"processor:{self.proc.name}",
                    reason=f"output record too large for {topic} ({len(value or b'')} bytes)",
                    raw=(value or b"")[: 64 << 10],
                    topic=topic,
                )
                (topic, key, value), part = self._letters([letter])[0], None

    def _retrying(self, what: str, call: Callable[[], T], within: float | None = None) -> T:
        """``call``, again while it fails with a retriable error (the broker is away), or
        for up to ``UNKNOWN_S`` while the partition or its leader is not known yet (a topic
        just created: its metadata and leader reach the client later; a bench run's loop
        died of the first, a test's of ``NOT_LEADER_FOR_PARTITION`` from a new changelog).
        The ``UNKNOWN_S`` count starts at the first of a run of such errors, not at the first
        attempt: an offset fetch that timed out through a broker outage, then was answered
        ``NOT_COORDINATOR`` while the restarted broker took the group back, stopped the
        coordinator's loop at once. ``within``: :class:`_Renew` once it has failed that long
        (a transactional call). :class:`_Stopped` when the app stops meanwhile: a call retried
        for good (an offset fetch unanswered for ten minutes) held the app's ``stop`` and the
        process's exit."""
        delay = 0.5
        started = time.monotonic()
        settling_since: float | None = None
        while True:
            try:
                return call()
            except KafkaException as exc:
                if self._stopping:
                    raise _Stopped from exc
                err: KafkaError = exc.args[0]
                settling = err.code() in _SETTLING
                retriable = err.retriable() or err.code() in _TRANSIENT
                now = time.monotonic()
                if not settling:
                    settling_since = None
                elif settling_since is None:
                    settling_since = now
                if not retriable and not (
                    settling_since is not None and now - settling_since < UNKNOWN_S
                ):
                    raise
                if within is not None and time.monotonic() - started > within:
                    raise _Renew(f"{what} still failing after {within:.0f} s ({err})") from exc
                log.warning("%s: %s: %s; retrying", self.group, what, err)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    # ------------------------------------------------------------------ transport

    @property
    def states(self) -> dict[bytes, KeyState]:
        return self._states

    def _end_offset(self, topic: str, partition: int) -> int | None:
        """The partition's end as the broker gave it in the last ``FRESH_S`` (the later of
        that answer and the consumer's last-fetched end); None when it has not answered for
        so long: the consumer's cached end is kept as it was while the partition has no
        leader (a broker killed), and read as the end it let the detector's merge apply a
        key's events before the metrics the new leader took meanwhile."""
        fresh = self._fresh.get((topic, partition))
        if self._consumer is None or fresh is None or time.monotonic() - fresh[0] > FRESH_S:
            return None
        _, high = self._consumer.get_watermark_offsets(
            TopicPartition(topic, partition), cached=True
        )
        return max(fresh[1], int(high))

    def stats(self) -> dict[str, Any]:
        return {
            **super().stats(),
            "guarantee": self.cfg.processing_guarantee,
            "refused": self.refused,
            "transactions": self.transactions,
            "aborted": self.aborted,
            "restored": self.restored,
        }
