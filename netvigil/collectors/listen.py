"""Thin socket adapters shared by the push collectors (syslog, flows): UDP and TCP listeners.

Listeners only move bytes into one bounded queue; the collector's single consumer task decodes
and publishes, so a slow pipeline slows the consumer, never the event loop's socket callbacks.
TCP connections stop reading while the queue is full (back-pressure reaches the sender's
window); UDP cannot push back, so a datagram that finds the queue full is counted in
``dropped``, and a :class:`~netvigil.collectors.udpwatch.UdpWatch` sizes the socket's receive
buffer, counts what the kernel dropped, and logs both counts when they move.

Stream listeners hold what a peer can make them hold: at most ``max_connections`` connections
and ``max_per_source`` per sender address (more are closed at once and counted), and a
connection that sends nothing for ``idle_s`` seconds is closed (counted). Connection ids are
unique across all listeners of the process, so a collector with TCP and TLS listeners keeps
one framer per connection.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import ssl
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from netvigil.collectors.udpwatch import RCVBUF, UdpWatch
from netvigil.streams.meters import EDGE, EdgeMeters, Reading

__all__ = ["Inbound", "TcpLimits", "TcpListener", "UdpListener", "open_tcp", "open_udp"]

log = logging.getLogger(__name__)

_CONN_IDS = itertools.count(1)


@dataclass(slots=True)
class Inbound:
    """Bytes from a peer: a datagram, or one chunk of a stream (``conn`` names the stream)."""

    data: bytes
    peer: str
    received: float
    conn: int = 0
    closed: bool = False


class UdpListener(asyncio.DatagramProtocol):
    def __init__(self, queue: asyncio.Queue[Inbound], clock: Callable[[], float]) -> None:
        self.queue = queue
        self.clock = clock
        self.dropped = 0
        self.watch: UdpWatch | None = None

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        try:
            self.queue.put_nowait(Inbound(data, str(addr[0]), self.clock()))
        except asyncio.QueueFull:
            self.dropped += 1  # logged by the watch

    def connection_lost(self, exc: Exception | None) -> None:
        if self.watch is not None:
            self.watch.stop()  # the socket closes after this returns


async def open_udp(
    host: str,
    port: int,
    queue: asyncio.Queue[Inbound],
    clock: Callable[[], float] = time.time,
    *,
    collector: str,
    rcvbuf: int = RCVBUF,
    meters: EdgeMeters = EDGE,
) -> tuple[asyncio.DatagramTransport, UdpListener, int]:
    """Listen for datagrams; returns the transport, the protocol and the bound port."""
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((host, port))
    bound = int(sock.getsockname()[1])
    transport, proto = await loop.create_datagram_endpoint(
        lambda: UdpListener(queue, clock), sock=sock
    )
    proto.watch = UdpWatch(
        collector,
        f"udp {host}:{bound}",
        sock,
        rcvbuf,
        queue_drops=lambda: proto.dropped,
        meters=meters,
    )
    proto.watch.start()
    return transport, proto, bound


@dataclass(frozen=True, slots=True)
class TcpLimits:
    """What one stream listener holds at most (see the module docstring)."""

    idle_s: float | None = 900.0
    max_connections: int = 512
    max_per_source: int = 32


class TcpListener:
    """The open connections of one stream listener, its limits and what they refused."""

    def __init__(
        self, collector: str, name: str, limits: TcpLimits, meters: EdgeMeters = EDGE
    ) -> None:
        self.collector, self.name, self.limits = collector, name, limits
        self.writers: dict[int, asyncio.StreamWriter] = {}
        self.per_source: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.idle_closed = 0
        meters.add(self)

    def admit(self, who: str) -> str | None:
        """None if a new connection from ``who`` may stay, else why it may not."""
        if len(self.writers) >= self.limits.max_connections:
            return "total"
        if self.per_source[who] >= self.limits.max_per_source:
            return "per_source"
        return None

    def refuse(self, who: str, reason: str) -> None:
        self.refused[reason] += 1
        n = self.refused[reason]
        if n & (n - 1) == 0 or n % 10_000 == 0:  # 1, 2, 4, ...: the log cannot be flooded
            limit = (
                f"{self.limits.max_per_source} connections per source"
                if reason == "per_source"
                else f"{self.limits.max_connections} connections in all"
            )
            log.warning(
                "%s %s: connection from %s closed at once: at most %s (%d refused so far)",
                self.collector, self.name, who, limit, n,
            )  # fmt: skip

    def close(self, conn: int) -> None:
        """Close one connection (its stream cannot be framed any more)."""
        w = self.writers.get(conn)
        if w is not None:
            w.close()

    def close_all(self) -> None:
        for w in list(self.writers.values()):
            w.close()

    def readings(self) -> Iterator[Reading]:
        labels = (self.collector, self.name)
        yield Reading("netvigil_collector_connections", labels, len(self.writers))
        yield Reading("netvigil_collector_connections_idle_closed", labels, self.idle_closed)
        for reason in ("per_source", "total"):
            yield Reading(
                "netvigil_collector_connections_refused", (*labels, reason), self.refused[reason]
            )


async def open_tcp(
    host: str,
    port: int,
    queue: asyncio.Queue[Inbound],
    *,
    tls: ssl.SSLContext | None = None,
    clock: Callable[[], float] = time.time,
    collector: str,
    limits: TcpLimits = TcpLimits(),
    meters: EdgeMeters = EDGE,
) -> tuple[asyncio.Server, int, TcpListener]:
    """Accept stream connections; every chunk read goes to ``queue`` with its connection id.

    Returns the server, its bound port and the listener (``close_all`` it to stop).
    """
    listener: TcpListener | None = None

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert listener is not None
        peer = writer.get_extra_info("peername")
        who = str(peer[0]) if peer else "?"
        refused = listener.admit(who)
        if refused is not None:
            listener.refuse(who, refused)
            writer.close()
            return
        conn = next(_CONN_IDS)
        listener.writers[conn] = writer
        listener.per_source[who] += 1
        try:
            while True:
                try:
                    async with asyncio.timeout(listener.limits.idle_s):
                        chunk = await reader.read(1 << 16)
                except TimeoutError:
                    listener.idle_closed += 1
                    log.info("%s connection from %s closed: idle", listener.name, who)
                    break
                if not chunk:
                    break
                await queue.put(Inbound(chunk, who, clock(), conn))  # waits: back-pressure
        except (ConnectionError, ssl.SSLError) as exc:
            log.info("%s connection from %s ended: %r", listener.name, who, exc)
        finally:
            del listener.writers[conn]
            listener.per_source[who] -= 1
            if listener.per_source[who] <= 0:
                del listener.per_source[who]
            await queue.put(Inbound(b"", who, clock(), conn, closed=True))
            writer.close()

    server = await asyncio.start_server(handle, host, port, ssl=tls, limit=1 << 20)
    bound = int(server.sockets[0].getsockname()[1])
    kind = "tls" if tls is not None else "tcp"
    listener = TcpListener(collector, f"{kind} {host}:{bound}", limits, meters)
    return server, bound, listener
