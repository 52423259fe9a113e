"""The flow collector: NetFlow v5/v9, IPFIX and sFlow v5 over UDP.

Every datagram is decoded by one :class:`~.decoder.FlowDecoder` (the exporter is the sender's
address; sFlow names its agent itself). It publishes flow records with sampling applied on
``netvigil.flows``, new / changed / withdrawn templates on ``netvigil.flow-templates``, sFlow
counter samples as interface metrics (rates) on ``netvigil.metrics``, and dead letters for
undecodable datagrams, sets whose template never came (held up to ``hold_s`` first), and
truncated sets. Templates from the compacted topic are loaded before the first datagram.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable

from netvigil.collectors.base import CollectorCounters, dead_letter
from netvigil.collectors.flow.counters import CounterRates
from netvigil.collectors.flow.decoder import FlowDecoder, flow_events
from netvigil.collectors.flow.netflow import FlowSession, Problem
from netvigil.collectors.listen import Inbound, UdpListener, open_udp
from netvigil.errors import DecodeError
from netvigil.events import FlowTemplate
from netvigil.streams.base import Emit

__all__ = ["FlowCollector"]

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
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.host, self.port, self.queue_size = host, port, queue_size
        self.clock = clock
        self.session = FlowSession(hold_s=hold_s, hold_max=hold_max)
        for t in templates:
            self.session.load(t)
        self.decoder = FlowDecoder(self.session)
        self.rates = CounterRates()
        self.counters = CollectorCounters()
        self.ready = asyncio.Event()
        self.bound: int | None = None
        self._udp: UdpListener | None = None

    @property
    def dropped(self) -> int:
        return self._udp.dropped if self._udp else 0

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        queue: asyncio.Queue[Inbound] = asyncio.Queue(self.queue_size)
        transport, self._udp, self.bound = await open_udp(self.host, self.port, queue, self.clock)
        self.ready.set()
        consumer = asyncio.create_task(self._consume(queue, emit))
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)
                for p in self.session.expire(self.clock()):
                    await self._problem(p, emit)
        finally:
            transport.close()
            await queue.join()
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
            for p in self.session.flush():
                await self._problem(p, emit)

    async def _consume(self, queue: asyncio.Queue[Inbound], emit: Emit) -> None:
        while True:
            item = await queue.get()
            try:
                await self.handle(item.data, item.peer, item.received, emit)
            finally:
                queue.task_done()

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
