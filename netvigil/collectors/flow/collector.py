"""The flow collector: NetFlow v5/v9, IPFIX and sFlow v5 over UDP.

Every datagram is decoded by one :class:`~.decoder.FlowDecoder` (the exporter is the sender's
address; sFlow names its agent itself). It publishes flow records with sampling applied on
``netvigil.flows``, new / changed / withdrawn templates on ``netvigil.flow-templates``, sFlow
counter samples as interface metrics (rates) on ``netvigil.metrics``, and dead letters for
undecodable datagrams, sets whose template never came (held up to ``hold_s`` first), and
truncated sets. Templates from the compacted topic are loaded before the first datagram.

The template cache is bounded per exporter and in total, refuses templates whose field lengths
do not fit their types, and expires templates unused for ``template_ttl_s`` (published as
withdrawn, so the compacted topic forgets them too): see :mod:`.netflow`. What the UDP
listener drops is counted by :mod:`netvigil.collectors.udpwatch`.

With ``udp_workers`` > 1, that many processes receive on the port (``SO_REUSEPORT``) and
decode with template caches of their own, which the collector keeps in step (every template
announced to every worker): see :mod:`.workers`. The collector process then only publishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from netvigil.collectors.base import CollectorCounters
from netvigil.collectors.flow.counters import CounterRates
from netvigil.collectors.flow.decoder import FlowDecoder
from netvigil.collectors.flow.netflow import FlowSession, Problem
from netvigil.collectors.flow.workers import LANE, datagram_events, problem_letter
from netvigil.collectors.listen import UdpListener, open_udp
from netvigil.collectors.udpwatch import RCVBUF
from netvigil.collectors.udpworkers import Note, WorkerPool
from netvigil.events import FlowTemplate, key_of
from netvigil.streams.base import Emit
from netvigil.streams.meters import EDGE, EdgeMeters, Reading

__all__ = ["FlowCollector"]

log = logging.getLogger(__name__)


@dataclass
class _Served:
    """A live template, with workers: the worker that serves its exporter (None: none does,
    since ``since``)."""

    template: FlowTemplate
    worker: int | None
    since: float = 0.0


class FlowCollector:
    """Receives flow datagrams on one UDP port (``port`` 0 picks a free one: see ``bound``)."""

    name = "flows"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        hold_s: float = 30.0,
        hold_max: int = 10_000,
        templates: Iterable[FlowTemplate] = (),
        queue_size: int = 10_000,
        rcvbuf: int = RCVBUF,
        max_templates: int = 65_536,
        max_templates_per_exporter: int = 1_024,
        template_ttl_s: float | None = 5_400.0,
        udp_workers: int = 1,
        clock: Callable[[], float] = time.time,
        meters: EdgeMeters = EDGE,
    ) -> None:
        self.host, self.port, self.queue_size = host, port, queue_size
        self.rcvbuf, self.udp_workers = rcvbuf, udp_workers
        self._options: dict[str, float | None] = {  # the session's, and each worker's
            "hold_s": hold_s,
            "hold_max": hold_max,
            "max_templates": max_templates,
            "max_per_exporter": max_templates_per_exporter,
            "template_ttl_s": template_ttl_s,
        }
        self.clock = clock
        self.meters = meters
        self.session = FlowSession(**self._options)  # type: ignore[arg-type]
        refused: Counter[str] = Counter()
        for t in templates:
            why = self.session.load(t)
            if why is not None:
                refused[why] += 1
        if refused:
            log.warning("templates from the topic refused at start: %s", dict(refused))
        self.decoder = FlowDecoder(self.session)
        self.rates = CounterRates()
        self.counters = CollectorCounters()
        self.ready = asyncio.Event()
        self.bound: int | None = None
        self._udp: UdpListener | None = None
        self._pool: WorkerPool | None = None
        self._board: dict[str, _Served] = {}
        """With workers: every live template by key."""
        self._expired = 0
        meters.add(self)

    def readings(self) -> Iterator[Reading]:
        yield from self.counters.readings(self.name)
        s, pool = self.session, self._pool
        if pool is None:
            count, expired, refused = s.template_count, s.expired, s.refused
        else:
            count, expired = len(self._board), self._expired
            refused = s.refused + Counter(
                {k.split(":", 1)[1]: v for k, v in pool.stats.items() if k.startswith("refused:")}
            )
        yield Reading("netvigil_flow_templates", (self.name,), count)
        yield Reading("netvigil_flow_templates_expired", (self.name,), expired)
        for reason in ("bad_length", "exporter_limit", "total_limit"):
            yield Reading("netvigil_flow_templates_refused", (self.name, reason), refused[reason])

    @property
    def dropped(self) -> int:
        return self._udp.dropped if self._udp else 0

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        if self.udp_workers > 1:
            await self._run_pool(emit, stop)
            return
        self._udp, self.bound = await open_udp(
            self.host,
            self.port,
            capacity=self.queue_size,
            clock=self.clock,
            collector=self.name,
            rcvbuf=self.rcvbuf,
            meters=self.meters,
        )
        self.ready.set()
        consumer = asyncio.create_task(self._consume(self._udp, emit))
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)
                now = self.clock()
                for p in self.session.expire(now):
                    await self._problem(p, emit)
                for t in self.session.expire_templates(now):
                    await emit(t)
            self._udp.close()  # the consumer ends once it took what was read
            await consumer
        finally:
            self._udp.close()
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
            for p in self.session.flush():
                await self._problem(p, emit)

    async def _consume(self, udp: UdpListener, emit: Emit) -> None:
        async for batch in udp.batches():
            for data, peer in batch.datagrams:
                await self.handle(data, peer, batch.received, emit)

    async def handle(self, data: bytes, exporter: str, received: float, emit: Emit) -> None:
        """Decode one datagram and publish what it holds (public for tests and replays)."""
        events, _ = datagram_events(
            self.decoder, self.rates, data, exporter, received, self.counters, self.clock
        )
        for event in events:
            await emit(event)

    async def _problem(self, p: Problem, emit: Emit) -> None:
        await emit(problem_letter(p, self.clock(), self.counters))

    # ------------------------------------------------------------------ with workers

    async def _run_pool(self, emit: Emit, stop: asyncio.Event) -> None:
        now = self.clock()
        self._board = {key_of(t): _Served(t, None, now) for t in self.session.templates()}
        self._pool = pool = WorkerPool.serving(
            self, self.host, self.port, self.udp_workers, self.rcvbuf, LANE,
            options=self._options, on_notes=self._notes, on_exit=self._orphan,
        )  # fmt: skip
        try:
            self.bound = await pool.start([("adopt", t) for t in self.session.templates()])
            self.ready.set()
            relay = asyncio.create_task(pool.run(emit))
            try:
                while not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=1.0)
                    await self._expire_unserved(self.clock(), emit)
                pool.stop()  # each worker sends what it read and held, then its last frame
                await relay
                await pool.wait()
            finally:
                relay.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await relay
        finally:
            pool.kill()
            self.ready.set()

    def _tell_others(self, n: int, notes: list[Note]) -> None:
        assert self._pool is not None
        for m in range(self.udp_workers):
            if m != n:
                self._pool.tell(m, notes)

    async def _notes(self, n: int, notes: list[Note], emit: Emit) -> None:
        """What worker ``n`` said of its templates (see :mod:`.workers`)."""
        assert self._pool is not None
        board = self._board
        for kind, t in notes:
            key = key_of(t)
            entry = board.get(key)
            if kind == "learned":  # new, changed or withdrawn on the wire: for everyone
                if t.withdrawn:
                    board.pop(key, None)
                else:
                    board[key] = _Served(t, n)
                await emit(t)
                self._tell_others(n, [("adopt", t)])
            elif kind == "claimed" and entry is not None:
                entry.worker = n
            elif kind == "expired" and entry is not None:
                if entry.worker == n:  # unused where its exporter sends: gone
                    del board[key]
                    self._expired += 1
                    await emit(t)
                    self._tell_others(n, [("adopt", t)])
                else:  # another worker serves it now: kept, adopted, where it expired
                    self._pool.tell(n, [("adopt", entry.template)])

    def _orphan(self, n: int) -> None:
        """Worker ``n`` died: its templates are served by nobody until another claims them."""
        now = self.clock()
        for entry in self._board.values():
            if entry.worker == n:
                entry.worker, entry.since = None, now

    async def _expire_unserved(self, now: float, emit: Emit) -> None:
        """Withdraw the templates no worker has served for ``template_ttl_s``."""
        ttl = self.session.template_ttl_s
        if ttl is None:
            return
        for key, entry in list(self._board.items()):
            if entry.worker is None and now - entry.since >= ttl:
                del self._board[key]
                self._expired += 1
                t = entry.template
                gone = FlowTemplate(
                    ts=now, exporter=t.exporter, version=t.version, domain=t.domain,
                    template_id=t.template_id, withdrawn=True,
                )  # fmt: skip
                await emit(gone)
                self._tell_others(-1, [("adopt", gone)])
