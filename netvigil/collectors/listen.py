"""Thin socket adapters shared by the push collectors (syslog, flows): UDP and TCP listeners.

Listeners only move bytes to the collector's consumer task, which decodes and publishes, so a
slow pipeline slows the consumer, never the reading of sockets. TCP connections put each chunk
on a bounded queue and stop reading while it is full (back-pressure reaches the sender's
window).

A :class:`UdpListener` reads its socket in batches (:mod:`netvigil.collectors.udprecv`:
``recvmmsg`` where built) straight from the event loop's reader callback, then leaves the
socket alone for ``holdoff_s`` (1 ms) so that the next system call finds a batch rather than
one datagram: at most about a thousand reads a second however fast datagrams come, and the
kernel's buffer holds what arrives meanwhile (a millisecond of traffic). The batches wait in
a queue of at most ``capacity`` datagrams for the consumer (:meth:`UdpListener.batches`), which
gives the loop a turn after each batch so that reading goes on while it decodes. UDP cannot
push back: when the queue is full the listener stops reading until the consumer has taken
half of it, so the kernel's buffer holds what comes meanwhile and drops what it cannot hold
(reading a datagram only to drop it would take the time the consumer lacks); the part of a
batch read that did not fit the queue is counted in ``dropped``. A
:class:`~netvigil.collectors.udpwatch.UdpWatch` sizes the socket's receive buffer, counts what
the kernel dropped, and logs both counts when they move. With ``reuse_port`` the socket is
bound with ``SO_REUSEPORT``, so that other processes can bind the same port and share its
datagrams (the kernel picks a socket per sender address and port).

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
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

from netvigil.collectors.udprecv import receiver
from netvigil.collectors.udpwatch import RCVBUF, UdpWatch
from netvigil.streams.meters import EDGE, EdgeMeters, Reading

__all__ = [
    "HOLDOFF_S",
    "Batch",
    "Inbound",
    "TcpLimits",
    "TcpListener",
    "UdpListener",
    "open_tcp",
    "open_udp",
    "udp_socket",
]

log = logging.getLogger(__name__)

_CONN_IDS = itertools.count(1)

HOLDOFF_S = 0.001
"""Seconds a UDP listener leaves its socket alone after reading, so that reads come in batches."""

_READ_BUDGET = 4096
"""Datagrams one reader callback takes at most before the loop gets a turn."""


@dataclass(slots=True)
class Inbound:
    """Bytes from a peer: one chunk of a stream (``conn`` names the stream)."""

    data: bytes
    peer: str
    received: float
    conn: int = 0
    closed: bool = False


@dataclass(slots=True)
class Batch:
    """Datagrams read together: ``(payload, sender address)`` pairs and when they were read."""

    datagrams: list[tuple[bytes, str]]
    received: float


class UdpListener:
    """One UDP socket read in batches into a bounded queue (see the module docstring)."""

    def __init__(
        self,
        sock: socket.socket,
        *,
        collector: str,
        capacity: int,
        clock: Callable[[], float] = time.time,
        rcvbuf: int = RCVBUF,
        meters: EdgeMeters = EDGE,
        holdoff_s: float = HOLDOFF_S,
        native: bool = True,
    ) -> None:
        host, port = sock.getsockname()[:2]
        self.sock, self.clock, self.capacity, self.holdoff_s = sock, clock, capacity, holdoff_s
        self.name = f"udp {host}:{port}"
        self.dropped = 0
        """Datagrams that found the queue full."""
        self.queued = 0
        """Datagrams read and not yet taken by the consumer."""
        self.watch = UdpWatch(
            collector, self.name, sock, rcvbuf, queue_drops=lambda: self.dropped, meters=meters
        )
        self._recv = receiver(sock, native=native)
        self._batches: deque[Batch] = deque()
        self._ready = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._resume: asyncio.TimerHandle | None = None
        self._closed = False
        sock.setblocking(False)
        self._reading = False
        self._rearm()
        self.watch.start()

    def _read(self, *, to_the_end: bool = False) -> int:
        """Read what the socket holds (up to the budget) into the queue; datagrams read.
        Reading stops when the queue is full (the rest of a batch that did not fit is
        dropped), unless ``to_the_end``: then all is read, and what does not fit dropped."""
        got, now = 0, self.clock()
        while got < _READ_BUDGET and (to_the_end or self.queued < self.capacity):
            try:
                datagrams = self._recv.recv()
            except OSError as exc:  # unconnected UDP sockets hardly fail; say so, go on
                log.warning("%s: reading failed: %r", self.name, exc)
                break
            n = len(datagrams)
            got += n
            room = self.capacity - self.queued
            if n > room:
                self.dropped += n - max(room, 0)  # logged by the watch
                datagrams = datagrams[: max(room, 0)]
            if datagrams:
                self._batches.append(Batch(datagrams, now))
                self.queued += len(datagrams)
            if n < self._recv.batch:
                break  # the socket is empty
        if self._batches:
            self._ready.set()
        return got

    def _readable(self) -> None:
        got = self._read()
        if self._closed:
            return
        if self.queued >= self.capacity:  # full: the consumer resumes reading (batches)
            self._pause()
        elif got and self.holdoff_s > 0:
            self._pause()
            self._resume = self._loop.call_later(self.holdoff_s, self._rearm)

    def _pause(self) -> None:
        if self._reading:
            self._loop.remove_reader(self.sock.fileno())
            self._reading = False

    def _rearm(self) -> None:
        self._resume = None
        if not self._closed and not self._reading:
            self._loop.add_reader(self.sock.fileno(), self._readable)
            self._reading = True

    async def batches(self) -> AsyncIterator[Batch]:
        """The queued batches in arrival order, until :meth:`close` and the queue is empty;
        the loop gets a turn after each one, so the socket is read while they are handled."""
        while True:
            while self._batches:
                batch = self._batches.popleft()
                self.queued -= len(batch.datagrams)
                if self.queued <= self.capacity // 2 and self._resume is None:
                    self._rearm()  # after a full queue paused reading
                yield batch
                await asyncio.sleep(0)
            if self._closed:
                return
            self._ready.clear()
            await self._ready.wait()

    def close(self) -> None:
        """Read what the socket still holds, check the drop counts a last time and close it;
        :meth:`batches` ends once the queue is empty."""
        if self._closed:
            return
        self._read(to_the_end=True)
        self.watch.stop()  # the last look at the kernel's count, while the socket is open
        self._closed = True
        if self._resume is not None:
            self._resume.cancel()
        self._pause()
        self.sock.close()
        self._ready.set()


def udp_socket(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A datagram socket bound to ``host:port`` (``SO_REUSEPORT`` first if ``reuse_port``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


async def open_udp(
    host: str,
    port: int,
    *,
    capacity: int,
    clock: Callable[[], float] = time.time,
    collector: str,
    rcvbuf: int = RCVBUF,
    meters: EdgeMeters = EDGE,
    reuse_port: bool = False,
) -> tuple[UdpListener, int]:
    """Listen for datagrams; returns the listener and the bound port."""
    sock = udp_socket(host, port, reuse_port=reuse_port)
    bound = int(sock.getsockname()[1])
    listener = UdpListener(
        sock, collector=collector, capacity=capacity, clock=clock, rcvbuf=rcvbuf, meters=meters
    )
    return listener, bound


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
