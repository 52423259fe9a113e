"""Thin socket adapters shared by the push collectors (syslog, flows): UDP and TCP listeners.

Listeners only move bytes into one bounded queue; the collector's single consumer task decodes
and publishes, so a slow pipeline slows the consumer, never the event loop's socket callbacks.
TCP connections stop reading while the queue is full (back-pressure reaches the sender's
window); UDP cannot push back, so a datagram that finds the queue full is counted in
``dropped`` and logged, never lost without a trace.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Inbound", "UdpListener", "open_tcp", "open_udp"]

log = logging.getLogger(__name__)


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

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        try:
            self.queue.put_nowait(Inbound(data, str(addr[0]), self.clock()))
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 10_000 == 0:
                log.warning("collector queue full: %d datagrams dropped so far", self.dropped)


async def open_udp(
    host: str, port: int, queue: asyncio.Queue[Inbound], clock: Callable[[], float] = time.time
) -> tuple[asyncio.DatagramTransport, UdpListener, int]:
    """Listen for datagrams; returns the transport, the protocol and the bound port."""
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind((host, port))
    transport, proto = await loop.create_datagram_endpoint(
        lambda: UdpListener(queue, clock), sock=sock
    )
    return transport, proto, int(sock.getsockname()[1])


async def open_tcp(
    host: str,
    port: int,
    queue: asyncio.Queue[Inbound],
    *,
    tls: ssl.SSLContext | None = None,
    clock: Callable[[], float] = time.time,
) -> tuple[asyncio.Server, int, set[asyncio.StreamWriter]]:
    """Accept stream connections; every chunk read goes to ``queue`` with its connection id.

    Returns the server, its bound port and the open connections (close them to stop).
    """
    counter = iter(range(1, 1 << 62))
    writers: set[asyncio.StreamWriter] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = next(counter)
        peer = writer.get_extra_info("peername")
        who = str(peer[0]) if peer else "?"
        writers.add(writer)
        try:
            while chunk := await reader.read(1 << 16):
                await queue.put(Inbound(chunk, who, clock(), conn))  # waits: back-pressure
        except (ConnectionError, ssl.SSLError) as exc:
            log.info("syslog connection from %s ended: %r", who, exc)
        finally:
            writers.discard(writer)
            await queue.put(Inbound(b"", who, clock(), conn, closed=True))
            writer.close()

    server = await asyncio.start_server(handle, host, port, ssl=tls, limit=1 << 20)
    bound = int(server.sockets[0].getsockname()[1])
    return server, bound, writers
