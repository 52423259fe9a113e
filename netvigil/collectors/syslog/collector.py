"""The syslog collector: UDP, TCP (RFC 6587 octet counting or LF) and TLS (RFC 5425) listeners.

Each message becomes a :class:`~netvigil.events.LogRecord` on ``netvigil.logs`` (the device is
the message's hostname, else the sender's address; the time is the message's own timestamp,
else the receive time). A vendor mnemonic that means a state change (a link or BGP session
going down, ...) also becomes a :class:`~netvigil.events.DeviceEvent` on ``netvigil.events``.
Anything that does not parse, and every framing fault, becomes a dead letter with the raw
bytes and the reason; the collector goes on. A TCP connection's framing is detected from its
first byte unless configured; after an octet-counting fault the connection is closed, since
its stream is out of step. What the listeners hold and drop (receive buffer, kernel and queue
drops, connection limits, idle timeout) is in :mod:`netvigil.collectors.listen`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from netvigil.collectors.base import CollectorCounters, dead_letter
from netvigil.collectors.listen import (
    Inbound,
    TcpLimits,
    TcpListener,
    UdpListener,
    open_tcp,
    open_udp,
)
from netvigil.collectors.syslog.batch import batch_events
from netvigil.collectors.syslog.framing import FramingError, LineFramer, OctetFramer, detect
from netvigil.collectors.syslog.records import SOURCE, message_events
from netvigil.collectors.syslog.workers import LANE
from netvigil.collectors.udpwatch import RCVBUF
from netvigil.collectors.udpworkers import WorkerPool
from netvigil.errors import DecodeError
from netvigil.streams.base import Emit
from netvigil.streams.meters import EDGE, EdgeMeters, Reading

__all__ = ["SyslogCollector", "SyslogListen"]

log = logging.getLogger(__name__)


@dataclass
class SyslogListen:
    """Where to listen: a port of None is off, 0 picks a free port (see ``bound``)."""

    host: str = "127.0.0.1"
    udp: int | None = None
    tcp: int | None = None
    tls: int | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    framing: str = "auto"
    max_message_length: int = 65_536
    queue_size: int = 10_000
    rcvbuf: int = RCVBUF
    udp_workers: int = 1
    """Processes receiving on the UDP port (``SO_REUSEPORT``; see
    :mod:`netvigil.collectors.udpworkers`)."""
    limits: TcpLimits = field(default_factory=TcpLimits)
    bound: dict[str, int] = field(default_factory=dict)


class SyslogCollector:
    """Receives syslog over UDP, TCP and TLS and publishes logs, device events, dead letters."""

    name = "syslog"

    def __init__(
        self,
        listen: SyslogListen,
        *,
        clock: Callable[[], float] = time.time,
        meters: EdgeMeters = EDGE,
    ) -> None:
        self.listen = listen
        self.clock = clock
        self.meters = meters
        self.counters = CollectorCounters()
        self.ready = asyncio.Event()
        self._udp: UdpListener | None = None
        self._pool: WorkerPool | None = None
        self._streams: list[TcpListener] = []
        self._framers: dict[int, OctetFramer | LineFramer] = {}
        meters.add(self)

    def readings(self) -> Iterator[Reading]:
        return self.counters.readings(self.name)

    @property
    def dropped(self) -> int:
        """Datagrams that found the queue full (UDP cannot push back)."""
        return self._udp.dropped if self._udp else 0

    def _tls(self) -> ssl.SSLContext:
        if not (self.listen.tls_cert and self.listen.tls_key):
            raise DecodeError("config", "syslog TLS needs syslog.tls_cert and syslog.tls_key")
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.listen.tls_cert, self.listen.tls_key)
        return ctx

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        lst = self.listen
        queue: asyncio.Queue[Inbound] = asyncio.Queue(lst.queue_size)
        servers: list[asyncio.Server] = []
        consumers: list[asyncio.Task[None]] = []
        try:
            if lst.udp is not None and lst.udp_workers > 1:
                self._pool = WorkerPool.serving(
                    self, lst.host, lst.udp, lst.udp_workers, lst.rcvbuf, LANE
                )
                lst.bound["udp"] = await self._pool.start()
                consumers.append(asyncio.create_task(self._pool.run(emit)))
            elif lst.udp is not None:
                self._udp, lst.bound["udp"] = await open_udp(
                    lst.host,
                    lst.udp,
                    capacity=lst.queue_size,
                    clock=self.clock,
                    collector=self.name,
                    rcvbuf=lst.rcvbuf,
                    meters=self.meters,
                )
                consumers.append(asyncio.create_task(self._datagrams(self._udp, emit)))
            for kind, port in (("tcp", lst.tcp), ("tls", lst.tls)):
                if port is not None:
                    tls = self._tls() if kind == "tls" else None
                    server, lst.bound[kind], stream = await open_tcp(
                        lst.host,
                        port,
                        queue,
                        tls=tls,
                        clock=self.clock,
                        collector=self.name,
                        limits=lst.limits,
                        meters=self.meters,
                    )
                    servers.append(server)
                    self._streams.append(stream)
            self.ready.set()
            consumer = asyncio.create_task(self._consume(queue, emit))
            await stop.wait()
            if self._pool is not None:
                self._pool.stop()  # each worker sends what it read, then its last frame
            if self._udp is not None:
                self._udp.close()  # its consumer ends once it took what was read
            for server in servers:
                server.close()
            for stream in self._streams:
                stream.close_all()
            await asyncio.gather(*consumers)
            if self._pool is not None:
                await self._pool.wait()
            await asyncio.sleep(0)
            while not queue.empty():
                await asyncio.sleep(0.01)
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
            for conn in list(self._framers):
                await self._close_stream(conn, "?", self.clock(), emit)
        finally:
            if self._udp is not None:
                self._udp.close()
            for task in consumers:
                task.cancel()
            if self._pool is not None:
                self._pool.kill()
            self.ready.set()

    async def _datagrams(self, udp: UdpListener, emit: Emit) -> None:
        """Each datagram is one message (RFC 5426)."""
        counters = self.counters
        async for batch in udp.batches():
            for event in batch_events(batch.datagrams, batch.received, counters):
                await emit(event)

    async def _consume(self, queue: asyncio.Queue[Inbound], emit: Emit) -> None:
        while True:
            item = await queue.get()
            try:
                if item.closed:
                    await self._close_stream(item.conn, item.peer, item.received, emit)
                else:
                    await self._chunk(item, emit)
            finally:
                queue.task_done()

    async def _chunk(self, item: Inbound, emit: Emit) -> None:
        framer = self._framers.get(item.conn)
        if framer is None:
            framing = self.listen.framing
            if framing == "auto":
                framing = detect(item.data[0])
            n = self.listen.max_message_length
            framer = OctetFramer(n) if framing == "octet-counting" else LineFramer(max_length=n)
            self._framers[item.conn] = framer
        for frame in framer.feed(item.data):
            await self._frame(frame, item.peer, item.received, emit)
        if framer.broken:  # out of step: nothing more on this connection can be framed
            for stream in self._streams:
                stream.close(item.conn)

    async def _close_stream(self, conn: int, peer: str, received: float, emit: Emit) -> None:
        framer = self._framers.pop(conn, None)
        if framer is None:
            return
        for frame in framer.close():
            if isinstance(frame, FramingError) and frame.incomplete:
                frame = frame.raw  # a last message without its LF is still a message
            if isinstance(frame, FramingError) and frame.message.startswith("found EOF, exp"):
                continue  # a connection that closed between messages
            await self._frame(frame, peer, received, emit)

    async def _frame(
        self, frame: bytes | FramingError, peer: str, received: float, emit: Emit
    ) -> None:
        if isinstance(frame, FramingError):
            self.counters.received += 1
            await emit(
                dead_letter(
                    SOURCE, frame.raw, f"bad_framing: {frame.message}", received, self.counters
                )
            )
            return
        for event in message_events(frame, peer, received, self.counters):
            await emit(event)
