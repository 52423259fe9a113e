"""Publishing events to Kafka: batched per key, idempotent, and spooled while unreachable.

Sources (collectors, the twin) publish through :meth:`KafkaPublisher.publish`, the same
``Emit`` signature as the embedded bus. Events are batched per key into one record
(:mod:`netvigil.streams.kafka.wire`) of at most ``batch_max`` events or ``linger`` seconds, one
topic at a time: an event of another topic for the same key sends the open batch first. So a
key's records are produced in the order its events were published, across topics, and each
carries a :class:`~netvigil.streams.kafka.wire.Stamp` of how many records of the key went to
each topic before it: the broker may still append them out of that order (each
partition is sent on its own), and the detector's merge of metrics and device events uses the
stamps to wait for what was sent first. Records are produced with confluent-kafka:
idempotent (no duplicates or reordering from retries), ``acks=all``, compressed, partitioned
by murmur2 of the key like Java clients and aiokafka, so the workers' outputs and ours put a
key in the same partition.

While the broker is unreachable (librdkafka reports all brokers down, or its bounded queue
fills), new records go to a bounded on-disk :class:`~netvigil.streams.kafka.spool.Spool` instead.
Records already queued in librdkafka stay there (no local delivery timeout) and go first when
the broker returns; then the spool is replayed oldest-first, segment by segment, a segment
deleted only once every record of it was acknowledged. So per-key order holds across an
outage, and a spool left by a crashed run is replayed at the next start. At shutdown with the
broker still away, what librdkafka still holds is written to the front of the spool. Records
the broker refuses for good (e.g. too large) become dead letters with the broker's reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from netvigil.events import TOPICS, DeadLetter, Event, encode, key_of, topic_of
from netvigil.streams.kafka.admin import RDKAFKA_LOG
from netvigil.streams.kafka.spool import Record, Spool
from netvigil.streams.kafka.wire import ORDER_HEADER, Stamp, encode_batch, headers_of

__all__ = ["KafkaPublisher", "producer_config"]

log = logging.getLogger(__name__)

#: keys whose per-topic record counts a publisher keeps before it starts again under a new id
#: (consumers count per publisher id, so starting again is always consistent)
STAMP_KEYS_MAX = 1 << 20

#: delivery errors that mean "not delivered yet, try again later" rather than "refused"
_RETRY_LATER = frozenset(
    {
        KafkaError._PURGE_QUEUE,
        KafkaError._PURGE_INFLIGHT,
        KafkaError._MSG_TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError.NETWORK_EXCEPTION,
        KafkaError.REQUEST_TIMED_OUT,
    }
)


def producer_config(bootstrap: str, compression: str = "lz4", **extra: Any) -> dict[str, Any]:
    """librdkafka settings of every NetVigil producer."""
    return {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": compression,
        "linger.ms": 5,
        "batch.size": 1 << 20,
        "partitioner": "murmur2_random",
        "message.timeout.ms": 0,  # never drop locally: the spool handles long outages
        "queue.buffering.max.kbytes": 64 * 1024,
        "queue.buffering.max.messages": 200_000,
        "delivery.report.only.error": True,
        "socket.connection.setup.timeout.ms": 5000,
        "reconnect.backoff.max.ms": 2000,
        "logger": RDKAFKA_LOG,
        **extra,
    }


class KafkaPublisher:
    """Publishes events to Kafka topics (``topic_prefix`` + contract name), see module doc."""

    def __init__(
        self,
        bootstrap: str,
        spool: Spool,
        *,
        topic_prefix: str = "",
        batch_max: int = 200,
        linger_s: float = 0.02,
        compression: str = "lz4",
        probe_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        **extra: Any,
    ) -> None:
        self.bootstrap = bootstrap
        self.spool = spool
        self.prefix = topic_prefix
        self.batch_max = batch_max
        self.linger_s = linger_s
        self.probe_s = probe_s
        self._clock = clock
        self._conf = producer_config(bootstrap, compression, **extra)
        self._conf["error_cb"] = self._on_error
        self._conf["on_delivery"] = self._on_delivery
        self._producer: Producer | None = None
        self._buffers: dict[str, tuple[str, list[Event]]] = {}
        """Per key, the topic of its open batch and the batch."""
        self.id = secrets.token_hex(6)
        """This publisher's id in the stamps of its records."""
        self._sent: dict[str, dict[str, int]] = {}
        """Per key, the records sent to each topic (contract names) under :attr:`id`."""
        self._spooling = bool(spool)
        self._why_spooling = "a spool was left by an earlier run" if spool else ""
        self._next_probe = 0.0
        self._errors = 0
        self._rescued: list[Record] = []
        self._closing = False
        self._pump_task: asyncio.Task[None] | None = None
        self._replay_lock = asyncio.Lock()
        self.published: Counter[str] = Counter()
        self.records = 0
        self.spooled = 0
        self.replayed = 0
        self.refused: Counter[str] = Counter()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._producer = Producer(self._conf)
        self._pump_task = asyncio.create_task(self._pump(), name="kafka-publisher")
        if self._spooling:
            log.warning("replaying %d spooled bytes from %s", self.spool.bytes, self.spool.path)

    @property
    def producer(self) -> Producer:
        if self._producer is None:
            raise RuntimeError("KafkaPublisher.start() was not awaited")
        return self._producer

    @property
    def spooling(self) -> bool:
        """True while records go to the spool (broker unreachable, or replay in progress)."""
        return self._spooling

    async def close(self, timeout: float = 10.0) -> None:
        """Send what is buffered; wait up to ``timeout`` for delivery; keep the rest on disk."""
        self._closing = True
        self._flush_buffers()
        deadline = self._clock() + timeout
        if self._spooling and self._clock() < deadline:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._try_replay(force=True), deadline - self._clock())
        while len(self.producer) and self._clock() < deadline:
            self.producer.poll(0.05)
            await asyncio.sleep(0)
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump_task
        left = len(self.producer)
        if left:
            self.producer.purge(in_queue=True, in_flight=True, blocking=True)
            self.producer.poll(0)
            self.spool.prepend(self._rescued)
            log.warning(
                "broker unreachable at shutdown: %d records kept in %s for the next start",
                len(self._rescued),
                self.spool.path,
            )
            self._rescued = []
        self.spool.close()

    # ------------------------------------------------------------------ data path

    async def publish(self, event: Event) -> None:
        """Publish one event (the ``Emit`` of sources)."""
        topic = topic_of(event)
        self.published[topic] += 1
        key = key_of(event)
        open_ = self._buffers.get(key)
        if open_ is not None and open_[0] != topic:  # older events of the key go first
            del self._buffers[key]
            self._send(open_[0], key, open_[1])
            open_ = None
        if TOPICS[topic].compacted or self.batch_max == 1:
            self._send(topic, key, [event])
            return
        if open_ is None:
            self._buffers[key] = (topic, [event])
            return
        buf = open_[1]
        buf.append(event)
        if len(buf) >= self.batch_max:
            del self._buffers[key]
            self._send(topic, key, buf)

    async def publish_raw(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Publish bytes as they are (tests, replays of foreign data); ``topic`` unprefixed."""
        self._produce(Record(self.prefix + topic, key, value))

    def _send(self, topic: str, key: str, events: list[Event]) -> None:
        sent = self._sent.get(key)
        if sent is None:
            if len(self._sent) >= STAMP_KEYS_MAX:
                self.id, self._sent = secrets.token_hex(6), {}
            sent = self._sent[key] = {}
        sent.setdefault(topic, 0)
        stamp = Stamp(self.id, dict(sent))
        sent[topic] += 1
        headers = ((ORDER_HEADER, stamp.header()),)
        self._produce(Record(self.prefix + topic, key.encode(), encode_batch(events), headers))

    def _flush_buffers(self) -> None:
        buffers, self._buffers = self._buffers, {}
        for key, (topic, events) in buffers.items():
            self._send(topic, key, events)

    def _produce(self, rec: Record) -> None:
        if self._spooling:
            self.spool.append(rec)
            self.spooled += 1
            return
        try:
            self.producer.produce(rec.topic, rec.value, rec.key, headers=list(rec.headers))
        except BufferError:
            self.producer.poll(0)
            self._enter_spool("the producer queue is full")
            self.spool.append(rec)
            self.spooled += 1
            return
        self.records += 1
        if self.records % 512 == 0:
            self.producer.poll(0)

    def _enter_spool(self, why: str) -> None:
        if not self._spooling:
            log.warning("Kafka %s: %s; spooling to %s", self.bootstrap, why, self.spool.path)
            self._spooling = True
            self._why_spooling = why
            self._next_probe = self._clock() + self.probe_s

    # ------------------------------------------------------------------ callbacks

    def _on_error(self, err: KafkaError) -> None:
        if err.code() == KafkaError._ALL_BROKERS_DOWN:
            self._enter_spool("all brokers are down")
        elif err.fatal():
            log.critical("Kafka producer fatal error: %s", err)
        else:
            log.debug("Kafka producer: %s", err)

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            return
        self._errors += 1
        rec = _record(msg)
        if err.code() in _RETRY_LATER:
            if self._closing:
                self._rescued.append(rec)
            else:
                self._enter_spool(f"delivery failed ({err.str()})")
                self.spool.append(rec)
            return
        self._refuse(rec, err)

    def _on_replay_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            return
        self._errors += 1
        if err.code() not in _RETRY_LATER:
            self._refuse(_record(msg), err)
        # else: the segment stays on disk and is replayed again

    def _refuse(self, rec: Record, err: KafkaError) -> None:
        self.refused[rec.topic] += 1
        dlq = self.prefix + "netvigil.dlq"
        log.error("Kafka refused a record for %s: %s", rec.topic, err.str())
        if rec.topic == dlq:
            return  # a refused dead letter cannot become another one: logged and counted
        letter = DeadLetter(
            ts=time.time(),
            source="producer",
            reason=f"Kafka refused the record: {err.str()}",
            raw=rec.value,
            topic=rec.topic,
        )
        self._produce(Record(dlq, b"producer", encode(letter)))

    # ------------------------------------------------------------------ background

    async def _pump(self) -> None:
        """Send lingering batches, serve delivery reports, probe and replay when spooling."""
        tick = max(self.linger_s, 0.005)
        while True:
            await asyncio.sleep(tick)
            self._flush_buffers()
            self.producer.poll(0)
            if self._spooling and self._clock() >= self._next_probe:
                await self._try_replay()

    async def _reachable(self) -> bool:
        try:
            await asyncio.to_thread(self.producer.list_topics, None, 2.0)
            return True
        except KafkaException:
            return False

    async def _try_replay(self, *, force: bool = False) -> None:
        async with self._replay_lock:
            if not self._spooling:
                return
            self._next_probe = self._clock() + self.probe_s
            if not await self._reachable():
                return
            log.info("Kafka %s reachable again; replaying the spool", self.bootstrap)
            while (seg := self.spool.oldest()) is not None:
                if not await self._replay_segment(seg):
                    self.spool.unpin()
                    log.warning("replay of %s interrupted; retrying later", seg.name)
                    return
            self._spooling = False
            log.info("spool replayed; publishing directly again")

    async def _replay_segment(self, seg: Any) -> bool:
        errors = self._errors
        count = 0
        for rec in self.spool.read(seg):
            while True:
                try:
                    self.producer.produce(
                        rec.topic,
                        rec.value,
                        rec.key,
                        headers=list(rec.headers),
                        on_delivery=self._on_replay_delivery,
                    )
                    break
                except BufferError:
                    self.producer.poll(0.05)
                    await asyncio.sleep(0)
                    if self._errors > errors:
                        return False
            count += 1
            if count % 1000 == 0:
                self.producer.poll(0)
                await asyncio.sleep(0)
        while len(self.producer):
            self.producer.poll(0)
            if self._errors > errors:
                return False
            await asyncio.sleep(0.01)
        self.producer.poll(0)
        if self._errors > errors:
            return False
        self.spool.remove(seg)
        self.replayed += count
        self.records += count
        return True

    def stats(self) -> dict[str, Any]:
        return {
            "published": dict(self.published),
            "records": self.records,
            "spooling": self._spooling,
            "spooled": self.spooled,
            "replayed": self.replayed,
            "spool_bytes": self.spool.bytes,
            "shed": dict(self.spool.shed),
            "refused": dict(self.refused),
            "in_flight": len(self._producer) if self._producer else 0,
        }


def _record(msg: Message) -> Record:
    """The record a delivery report is about, headers included."""
    return Record(str(msg.topic()), msg.key(), msg.value() or b"", headers_of(msg.headers()))
