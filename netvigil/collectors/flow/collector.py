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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator

from netvigil.collectors.base import CollectorCounters, dead_letter
from netvigil.collectors.flow.counters import CounterRates
from netvigil.collectors.flow.decoder import FlowDecoder, flow_events
from netvigil.collectors.flow.netflow import FlowSession, Problem
from netvigil.collectors.listen import UdpListener, open_udp
from netvigil.collectors.udpwatch import RCVBUF
from netvigil.errors import DecodeError
from netvigil.events import FlowTemplate
from netvigil.streams.base import Emit
from netvigil.streams.meters import EDGE, EdgeMeters, Reading

__all__ = ["FlowCollector"]

log = logging.getLogger(__name__)

SOURCE = "flows"


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
        clock: Callable[[], float] = time.time,
        meters: EdgeMeters = EDGE,
    ) -> None:
        self.host, self.port, self.queue_size = host, port, queue_size
        self.rcvbuf = rcvbuf
        self.clock = clock
        self.meters = meters
        self.session = FlowSession(
            hold_s=hold_s,
            hold_max=hold_max,
            max_templates=max_templates,
            max_per_exporter=max_templates_per_exporter,
            template_ttl_s=template_ttl_s,
        )
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
        meters.add(self)

    def readings(self) -> Iterator[Reading]:
        yield from self.counters.readings(self.name)
        s = self.session
        yield Reading("netvigil_flow_templates", (self.name,), s.template_count)
        yield Reading("netvigil_flow_templates_expired", (self.name,), s.expired)
        for reason in ("bad_length", "exporter_limit", "total_limit"):
            yield Reading("netvigil_flow_templates_refused", (self.name, reason), s.refused[reason])

    @property
    def dropped(self) -> int:
        return self._udp.dropped if self._udp else 0

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
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
        self.counters.received += 1
        try:
            result = self.decoder.decode(data, exporter, received)
        except DecodeError as exc:
            await emit(dead_letter(SOURCE, data, str(exc), received, self.counters))
            return
        for event in flow_events(result, received):
            await emit(event)
            self.counters.decoded += 1
        if result.sflow is not None:
            dg = result.sflow
            for sample in dg.samples:
                if sample.get("sample_type") == "counter_sample":
                    for m in self.rates.metrics(result.exporter, dg.uptime_ms, sample, received):
                        await emit(m)
        for p in result.problems:
            await self._problem(p, emit)

    async def _problem(self, p: Problem, emit: Emit) -> None:
        await emit(
            dead_letter(SOURCE, p.raw, f"{p.reason}: {p.message}", self.clock(), self.counters)
        )
