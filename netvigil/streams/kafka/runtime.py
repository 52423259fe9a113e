"""The Kafka runtime: sources publish to Kafka, every processor runs on its own
consume-process-produce loop (:mod:`netvigil.streams.kafka.loop`, either guarantee), same
interface as the embedded runtime (``listen``, ``run``, ``drain``, ``stats``).

``netvigil run --bus kafka://...`` runs sources and every processor in one process;
``netvigil worker`` runs some processors and no sources, and any number of workers share the
partitions of each processor's consumer group. Topics are created (idempotently) at start so
a first run just works; on a cluster where NetVigil may not create topics that step only
warns and ``netvigil topics create`` is run by an administrator instead. A broker that cannot
be reached at all fails the start at once, with the error naming ``bus.url``.

Listeners see every event of their topic that passes through this process: for a topic a
local processor consumes, when it is consumed (so ``run`` shows incidents whichever worker
correlated them); otherwise when a local source or processor publishes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from netvigil.config import KafkaSettings
from netvigil.errors import NetVigilError, ProcessorError
from netvigil.events import TOPICS, Event, topic_of
from netvigil.streams.base import Listener, Processor, Source
from netvigil.streams.ignored import Ignored
from netvigil.streams.kafka.admin import (
    KafkaUnreachable,
    admin_config,
    create_topics,
    ensure_topic,
    group_lag,
)
from netvigil.streams.kafka.keyed import group_of
from netvigil.streams.kafka.loop import UNKNOWN_S, KafkaLoop
from netvigil.streams.kafka.producer import KafkaPublisher
from netvigil.streams.kafka.progress import PROGRESS_TOPIC
from netvigil.streams.kafka.spool import Spool

__all__ = ["KafkaRuntime"]

log = logging.getLogger(__name__)


class KafkaRuntime:
    """Runs each processor on a :class:`~netvigil.streams.kafka.loop.KafkaLoop` (with
    ``kafka.processing_guarantee``) and sources through a spooling Kafka publisher."""

    def __init__(
        self,
        processors: Sequence[Processor[Any]],
        sources: Sequence[Source] = (),
        *,
        bootstrap: str,
        cfg: KafkaSettings,
        data_dir: Path,
        ensure_topics: bool = True,
        writers: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        """``writers``: every processor of the deployment (not only the local ones) and the
        topics it writes, so a merging processor knows whose progress to wait for."""
        names = [p.name for p in processors]
        if len(set(names)) != len(names) or not all(names):
            raise ProcessorError(f"processor names must be unique and non-empty: {names}")
        for p in processors:
            for t in (*p.inputs, *p.outputs):
                if t not in TOPICS:
                    raise ProcessorError(f"processor {p.name!r} names unknown topic {t!r}")
        self.processors = list(processors)
        self.writers = writers or {p.name: p.outputs for p in processors}
        self.sources = list(sources)
        self.bootstrap = bootstrap
        self.cfg = cfg
        self.data_dir = Path(data_dir)
        self.ensure_topics = ensure_topics
        spool_dir = cfg.spool_dir or self.data_dir / "spool"
        self.publisher = KafkaPublisher(
            bootstrap,
            Spool(spool_dir, max_bytes=int(cfg.spool_max_mb * (1 << 20))),
            topic_prefix=cfg.topic_prefix,
            batch_max=cfg.batch_max_events,
            linger_s=cfg.linger_ms / 1000,
            compression=cfg.compression,
        )
        self.apps: list[KafkaLoop] = []
        self._listeners: dict[str, list[Listener]] = {t: [] for t in TOPICS}
        self._consumed = {t for p in self.processors for t in p.inputs}
        self._started = False
        self.source_errors: dict[str, BaseException] = {}
        """Sources that raised, by name; each one stopped the run (as on the embedded bus)."""
        self._up = asyncio.Event()  # set when start() has created and started every app

    # ------------------------------------------------------------------ wiring

    def listen(self, topic: str, listener: Listener) -> None:
        """Call ``listener(topic, event)`` for every event of ``topic`` seen by this process."""
        if topic not in TOPICS:
            raise ProcessorError(f"unknown topic {topic!r}")
        self._listeners[topic].append(listener)

    def _fire(self, topic: str, event: Event) -> None:
        for listener in self._listeners[topic]:
            try:
                listener(topic, event)
            except Exception:  # an observer must never break the data path
                log.exception("listener on %s failed", topic)

    def _on_output(self, topic: str, event: Event) -> None:
        if topic not in self._consumed:
            self._fire(topic, event)

    async def publish(self, event: Event) -> None:
        """The ``Emit`` of local sources."""
        topic = topic_of(event)
        if topic not in self._consumed:
            self._fire(topic, event)
        await self.publisher.publish(event)

    # ------------------------------------------------------------------ lifecycle

    def _partitions(self, want: set[str], wait_s: float) -> dict[str, int]:
        """Partition count per topic, once every topic of ``want`` is listed or after
        ``wait_s``: in a cluster, a broker's metadata learns of a topic just created a
        moment after the controller made it (0 of 12 new topics listed at once, all of them
        half a second later, on three brokers)."""
        admin = AdminClient(admin_config(self.bootstrap))
        deadline = time.monotonic() + wait_s
        while True:
            try:
                meta = admin.list_topics(timeout=30).topics
            except KafkaException as exc:
                raise KafkaUnreachable(
                    f"Kafka at {self.bootstrap} did not list its topics ({exc.args[0]}); "
                    "check bus.url and the broker"
                ) from None
            if want <= meta.keys() or time.monotonic() >= deadline:
                return {t: len(m.partitions) for t, m in meta.items()}
            time.sleep(0.5)

    async def start(self) -> None:
        """Create topics (idempotent), start the publisher and every processor's loop."""
        if self._started:
            return
        if self.ensure_topics:
            try:
                await asyncio.to_thread(create_topics, self.bootstrap, self.cfg)
            except KafkaUnreachable:
                raise
            except NetVigilError as exc:
                log.warning("could not create topics (%s); expecting them to exist", exc)
        want = {self.cfg.topic_prefix + t for proc in self.processors for t in proc.inputs}
        # topics it just created are waited for; topics a user was to create are not
        wait_s = UNKNOWN_S if self.ensure_topics else 0.0
        counts = await asyncio.to_thread(self._partitions, want, wait_s)
        observers: set[str] = set()
        for proc in self.processors:
            names = [self.cfg.topic_prefix + t for t in proc.inputs]
            missing = [n for n in names if n not in counts]
            if missing:
                raise NetVigilError(
                    f"topics {missing} do not exist on {self.bootstrap}; run `netvigil topics "
                    "create` (with the same kafka.topic_prefix)"
                )
            parts = {counts[n] for n in names}
            if len(parts) != 1:
                raise NetVigilError(
                    f"processor {proc.name} reads {names} with different partition counts "
                    f"({sorted(parts)}); its state needs them co-partitioned"
                )
            observe = [t for t in proc.inputs if t not in observers and self._listeners[t]]
            observers.update(observe)
            self.apps.append(
                KafkaLoop(
                    proc,
                    bootstrap=self.bootstrap,
                    cfg=self.cfg,
                    partitions=parts.pop(),
                    datadir=(self.cfg.worker_dir or self.data_dir / "kafka") / proc.name,
                    listener=self._on_output,
                    observer=self._observer(set(observe)) if observe else None,
                    upstream=[
                        group_of(name, self.cfg.topic_prefix)
                        for name, writes in self.writers.items()
                        if set(writes) & set(proc.inputs)
                    ],
                )
            )
        await asyncio.to_thread(
            ensure_topic,
            self.bootstrap,
            self.cfg.topic_prefix + PROGRESS_TOPIC,
            1,
            self.cfg.replication,
            config={"cleanup.policy": "compact", "segment.ms": "600000"},
        )
        for app in self.apps:
            if app.rekey:  # before the group joins, or the assignor ignores the topic
                await asyncio.to_thread(
                    ensure_topic,
                    self.bootstrap,
                    app.by_key_name,
                    app.partitions,
                    self.cfg.replication,
                )
        await self.publisher.start()
        for app in self.apps:
            await app.start()
        self._started = True
        self._up.set()

    def _observer(self, topics: set[str]) -> Listener:
        def observe(topic: str, event: Event) -> None:
            if topic in topics:
                self._fire(topic, event)

        return observe

    async def ready(self, timeout: float = 120.0) -> None:
        """Wait until :meth:`start` (called by :meth:`run` too) has started every app and each
        joined its group and recovered its state; so it may be awaited beside ``run``."""
        deadline = time.monotonic() + timeout
        await asyncio.wait_for(self._up.wait(), timeout)
        left = max(deadline - time.monotonic(), 0.1)
        await asyncio.gather(*(a.ready(left) for a in self.apps))

    async def run(self, stop: asyncio.Event | None = None, *, drain_s: float = 60.0) -> None:
        """Run until ``stop`` is set, or until every source finished and what they sent was
        processed (at most ``drain_s`` more seconds); then stop cleanly."""
        stop = stop or asyncio.Event()
        await self.start()
        src_tasks = [
            asyncio.create_task(s.run(self.publish, stop), name=f"source:{s.name}")
            for s in self.sources
        ]
        stopper = asyncio.create_task(stop.wait())
        broken = asyncio.create_task(self._first_failure(), name="kafka:loops")
        finished = False
        try:
            pending: set[asyncio.Task[Any]] = {*src_tasks, stopper, broken}
            while pending - {stopper, broken}:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for t in done - {stopper, broken}:
                    if (exc := t.exception()) is not None:
                        # a source that raised is dead: stop, rather than run without it
                        log.error("%s failed: %r", t.get_name(), exc)
                        self.source_errors[t.get_name().removeprefix("source:")] = exc
                        stop.set()
                if stopper in done or broken in done:
                    break
            else:
                finished = bool(src_tasks)
            if not src_tasks:
                await asyncio.wait({stopper, broken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.set()
            stopper.cancel()
            await asyncio.gather(*src_tasks, return_exceptions=True)
            if finished and not broken.done():
                await self.drain(drain_s)
            broken.cancel()
            await self.close()
        if broken.done() and not broken.cancelled() and broken.exception() is not None:
            raise broken.exception()  # type: ignore[misc]

    async def _first_failure(self) -> None:
        """Raise what stopped the first processor loop that stopped by an error: a worker
        whose loop died stops (its partitions go to the other workers) instead of holding
        them, seen as a live member of the group, while nothing is processed."""
        await self._up.wait()
        waits = [asyncio.create_task(a.finished()) for a in self.apps]
        try:
            for next_done in asyncio.as_completed(waits):
                await next_done  # raises the loop's error
        finally:
            for w in waits:
                w.cancel()
        await asyncio.Event().wait()  # every loop ended cleanly: nothing to report

    async def close(self) -> None:
        for app in self.apps:
            with contextlib.suppress(Exception):
                await app.stop()
        await self.publisher.close()

    async def drain(self, timeout: float = 60.0) -> bool:
        """Wait until this process's consumer groups have no lag (twice in a row)."""
        self.publisher._flush_buffers()
        deadline = time.monotonic() + timeout
        calm = 0
        while time.monotonic() < deadline:
            try:
                lag = await asyncio.to_thread(self.lag)
            except (NetVigilError, TimeoutError) as exc:  # the broker is away or slow
                # (a node of a cluster restarting on a loaded machine): keep waiting for it
                log.warning("drain: %s", str(exc) or "a lag query timed out")
                calm = 0
                await asyncio.sleep(1.0)
                continue
            held = sum(a.held() for a in self.apps)
            busy = sum(lag.values()) + held + self.publisher.stats()["in_flight"]
            calm = calm + 1 if busy == 0 and not self.publisher.spooling else 0
            if calm >= 2:
                return True
            await asyncio.sleep(0.5)
        log.warning("drain: still busy after %.0f s", timeout)
        return False

    def lag(self) -> dict[str, int]:
        """Unprocessed records per local consumer group (its input topics)."""
        out = {}
        for app in self.apps:
            topics = [*app.inputs, *([app.by_key_name] if app.rekey else [])]
            lags = group_lag(self.bootstrap, [app.group], topics)
            out[app.group] = sum(g.lag for g in lags)
        return out

    def ignored_counters(self) -> list[Ignored]:
        """The loops' counters of what they did not process again (the stop summary)."""
        return [a.ignored for a in self.apps]

    def stats(self) -> dict[str, dict[str, Any]]:
        pub = self.publisher.stats()
        try:
            queued = self.lag()
        except Exception:
            queued = {}
        return {
            "published": pub["published"],
            "processed": {a.proc.name: a.processed for a in self.apps},
            "failed": {a.proc.name: a.failed for a in self.apps},
            "queued": queued,
            "publisher": pub,
        }
