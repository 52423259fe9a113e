"""Exactly-once processing: one processor on a transactional consume-process-produce loop.

``kafka.processing_guarantee = "exactly_once"`` runs each processor here instead of in a
faust app. faust-streaming's own exactly-once mode was not usable: it opens transactions
only inside its own ``Worker``, names them after *output* partitions (ours are re-keyed), and
has open reports of duplicates. This loop uses confluent-kafka (librdkafka) directly, as
Kafka's transactions were designed to be used (KIP-98, KIP-447):

- one consumer in the processor's group (``<prefix>netvigil-<processor>``), reading
  ``read_committed``, with the *range* assignor, so one worker owns the same partition
  number of every (co-partitioned) input and of the state changelog;
- one transactional producer per worker and processor. Each round takes a batch of records,
  runs the processor (:class:`~netvigil.streams.keyed.KeyedWorker`, the same code as the
  faust transport), and in **one transaction** writes its outputs, dead letters, the changed
  keys' state rows to ``<group>-state-changelog``, the progress reports and marks, and the
  input offsets (``send_offsets_to_transaction`` with the consumer's group metadata, so a worker
  that lost its partitions in a rebalance is fenced by the group generation);
- a processor with its own key (the correlator, the coordinator) re-keys its input into
  ``<group>-by-key`` in the same loop, and every ``MARK_S`` (``REPORT_S`` once idle, see
  :meth:`~netvigil.streams.keyed.KeyedWorker._mark_due`) writes an in-band progress mark
  into every partition of that topic, after the round's re-keyed records and in the same
  transaction (:class:`~netvigil.streams.progress.MarkBoard`): the merging stage orders
  re-keyed events by what the marks it has read say, never by a report that may have
  overtaken the records it covers;
- consumers downstream read ``read_committed`` (librdkafka's default; NetVigil's readers all
  use it), so they see each round's outputs once, or not at all;
- when a worker takes partitions (at start, on a rebalance, after an aborted round) it
  rebuilds their state from the changelog up to its last committed transaction, which holds
  exactly the offsets committed with it, and reads on from there;
- the transactional id is ``<group>-<worker id>``, the worker id kept in the worker's data
  directory: a worker restarted on the same directory fences its previous incarnation and
  aborts what that left open at once; a worker that never returns has its open transaction
  aborted by the broker after ``transaction.timeout.ms`` (twice the session timeout), until
  when downstream readers of its partitions wait.

The changelog rows are the faust transport's (:class:`~netvigil.streams.keyed.KeyState`,
pickled the way faust's ``pickle`` codec does), so switching the guarantee keeps state. Every
worker of a deployment must use the same guarantee: faust's group protocol and librdkafka's
are not compatible in one consumer group (the broker refuses the second with
``INCONSISTENT_GROUP_PROTOCOL``).

An unreachable broker blocks the round, which retries until the broker is back; if the
transaction timed out meanwhile it is aborted and the round runs again from the committed
offsets and state. A fatal producer error (another worker took this transactional id) stops
the app with the error.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_INVALID,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from faust.serializers import codecs

from netvigil.errors import NetVigilError
from netvigil.events import DeadLetter
from netvigil.streams.base import Processor
from netvigil.streams.gaps import RawMessage, RawRecord
from netvigil.streams.kafka_admin import EndOffsets, admin_config, ensure_topic
from netvigil.streams.kafka_producer import producer_config
from netvigil.streams.keyed import (
    REPORT_S,
    STATE_MAX_BYTES,
    TICK_S,
    Batch,
    KeyedWorker,
    KeyState,
    Send,
)
from netvigil.streams.progress import MARK_KEY, ProgressReader

__all__ = ["TransactionalApp"]

log = logging.getLogger(__name__)

T = TypeVar("T")


#: how long a partition may be unknown to the client before that is an error (seconds)
UNKNOWN_S = 30.0


def _pickled(entry: KeyState | None) -> bytes | None:
    return None if entry is None else bytes(codecs.dumps("pickle", entry))


def _unpickled(value: bytes | None) -> KeyState | None:
    return None if value is None else codecs.loads("pickle", value)


class _Abort(Exception):
    """The round's transaction was aborted: run it again from the committed state."""


class TransactionalApp(KeyedWorker):
    """One processor on a transactional loop; start it in a running event loop."""

    #: most records one round takes
    take_max = 500

    def __init__(self, proc: Processor[Any], **kw: Any) -> None:
        """Takes :class:`~netvigil.streams.keyed.KeyedWorker`'s arguments."""
        super().__init__(proc, **kw)
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
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"txn-{proc.name}")
        self._reader: ProgressReader | None = None
        self._consumer: Consumer | None = None
        self._producer: Producer | None = None
        self._end_offsets: EndOffsets | None = None
        self.transactions = 0
        self.aborted = 0
        self.restored = 0
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
        self._producer = Producer(
            producer_config(
                self.bootstrap,
                self.cfg.compression,
                **{
                    "transactional.id": self.transactional_id,
                    "transaction.timeout.ms": txn_ms,
                    "message.timeout.ms": txn_ms,
                    "message.max.bytes": STATE_MAX_BYTES + 4096,
                },
            )
        )
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
            }
        )
        self._end_offsets = EndOffsets(self.bootstrap)
        producer = self._producer
        await self._in_thread(
            self._retrying, "initialising transactions", lambda: producer.init_transactions(30)
        )
        if self.rekey:
            self._reader = ProgressReader(self.bootstrap, self.progress_name, self.board)
            self._reader.start()
        self._consumer.subscribe(
            sorted(self._read_topics()), on_assign=self._on_assign, on_revoke=self._on_revoke
        )
        self._task = asyncio.create_task(self._run(), name=f"txn:{self.proc.name}")

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
        thread, between rounds: no transaction is open)."""
        self.assignment = sorted((tp.topic, tp.partition) for tp in partitions)
        self._forget()
        self._restore()
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
        """The state rows of the assigned partitions, as of the last committed transaction."""
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
            finally:
                reader.close()
        self._states = states
        self._held = {k for k, e in states.items() if e.buffer}
        self.restored += len(states)

    def _rewind_to_committed(self) -> None:
        """After an aborted round: the committed state and offsets of the assignment again."""
        assert self._consumer is not None
        consumer = self._consumer
        tps = [TopicPartition(t, p) for t, p in self.assignment]
        if tps:
            committed = self._retrying(
                "reading committed offsets", lambda: consumer.committed(tps, timeout=10)
            )
            for tp in committed:
                off = tp.offset if tp.offset != OFFSET_INVALID else OFFSET_BEGINNING
                try:
                    consumer.seek(TopicPartition(tp.topic, tp.partition, off))
                except KafkaException as exc:  # no longer ours: the next rebalance settles it
                    log.info(
                        "%s: not rewinding %s[%d]: %s", self.group, tp.topic, tp.partition, exc
                    )
        self._forget()
        self._restore()

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
                if now >= next_report and self.assignment:
                    next_report = now + REPORT_S
                    sends += await self._in_thread(self._reports)
                if not sends and not offsets and not batch.dirty and mark is None:
                    continue
                try:
                    await self._in_thread(self._transact, sends, batch.dirty, offsets, mark)
                except _Abort:
                    self.aborted += 1
                    self._rewind = True
                    continue
                self.transactions += 1
                self._committed.update(offsets)
                for name, _, _ in sends:
                    self.sent[name] += 1
                self._delivered(batch)
        except Exception as exc:
            self.error = exc
            log.error("%s: the exactly-once loop stopped: %r", self.group, exc)
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
            rec = RawRecord(RawMessage(topic, part, offset, stamp), msg.value())
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
        try:
            return now, self._end_offsets(tps, committed_only=True)
        except Exception as exc:  # the broker is away
            log.debug("%s: no end offsets (%r)", self.group, exc)
            return None

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
                self._retrying(
                    "sending offsets", lambda: producer.send_offsets_to_transaction(tps, meta, 30)
                )
            self._retrying("committing", lambda: producer.commit_transaction(30))
        except KafkaException as exc:
            err: KafkaError = exc.args[0]
            if err.fatal() or not err.txn_requires_abort():
                raise NetVigilError(f"{self.group}: transaction failed: {err}") from exc
            log.warning("%s: transaction aborted (%s); running the round again", self.group, err)
            self._retrying("aborting", lambda: producer.abort_transaction(30))
            raise _Abort from exc

    def _produce(
        self, producer: Producer, topic: str, key: bytes, value: bytes | None, part: int | None
    ) -> None:
        """Produce one record of the open transaction. One larger than the broker takes is
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

    def _retrying(self, what: str, call: Callable[[], T]) -> T:
        """``call``, again while it fails with a retriable error (the broker is away), or
        for up to ``UNKNOWN_S`` while the partition is unknown (a topic just created: its
        metadata reaches the client later; the loop of a bench run died of it)."""
        delay = 0.5
        deadline = time.monotonic() + UNKNOWN_S
        while True:
            try:
                return call()
            except KafkaException as exc:
                err: KafkaError = exc.args[0]
                unknown = err.code() in (
                    KafkaError._UNKNOWN_PARTITION,
                    KafkaError.UNKNOWN_TOPIC_OR_PART,
                )
                if not err.retriable() and not (unknown and time.monotonic() < deadline):
                    raise
                log.warning("%s: %s: %s; retrying", self.group, what, err)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    # ------------------------------------------------------------------ transport

    @property
    def states(self) -> dict[bytes, KeyState]:
        return self._states

    def _end_offset(self, topic: str, partition: int) -> int | None:
        """The consumer's last-fetched end (the last stable offset, read_committed)."""
        if self._consumer is None:
            return None
        _, high = self._consumer.get_watermark_offsets(
            TopicPartition(topic, partition), cached=True
        )
        return int(high) if high >= 0 else None

    def stats(self) -> dict[str, Any]:
        return {
            **super().stats(),
            "transactions": self.transactions,
            "aborted": self.aborted,
            "restored": self.restored,
        }
