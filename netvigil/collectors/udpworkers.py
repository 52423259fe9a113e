"""More than one process receiving on one UDP port, for when one core is not enough.

With ``syslog.udp_workers`` or ``flows.udp_workers`` = N > 1 the collector starts N worker
processes (``python -m netvigil.collectors.udpworkers``) that each bind the UDP port with
``SO_REUSEPORT`` (the first one gets the socket the collector bound, so that port 0 picks one
port for all); the kernel hands each datagram to one of the N sockets, by a hash of the
sender's address and port, so the datagrams of one sender stay in order in one worker while
the group of sockets is unchanged. What a worker does with its datagrams is its collector's
:class:`Lane` (named ``module:factory`` with keyword options, so the collector's settings
reach it): :mod:`netvigil.collectors.syslog.workers` turns each message into its events exactly
as the collector does, :mod:`netvigil.collectors.flow.workers` decodes flows with a template
cache of its own. A worker reads its socket in batches and sends the collector one frame per
batch over a Unix socket: the events and what it counted (received, decoded, dead letters by
reason, raw bytes cut), plus the lane's ``notes`` (what is for the collector's side, not to
publish as is: flow templates) and ``stats`` (counts of the lane's own). The collector process
publishes the events, adds the counts to its own, so its counters and the console's metrics
read as for one process, and hands the notes to its ``on_notes`` hook, which may publish some
and ``tell`` other workers (flows: templates learned on one worker are announced to all).

A worker starts by reading one frame from the collector (its starting notes: the flow
templates the collector knows) before it reads any datagram, and reads the collector's later
frames between batches (``Lane.told``). Once a second it calls ``Lane.tick`` (flows: sets held
too long for their template, templates unused for their time to live). Each worker reports its
socket's inode, and the kernel's drops of every socket of the group are counted in the
collector's ``netvigil_collector_kernel_drops_total`` (a worker sends its last count before
it closes). The collector's own :class:`~netvigil.collectors.udpwatch.UdpWatch` sizes the
first socket, says when the kernel caps it, and logs the drops of the group.

A worker writes frames with blocking sends: when the collector cannot keep up, the worker
stops reading and its socket's buffer fills, so all loss shows as kernel drops (there is no
queue to drop from). A worker stops when the collector closes its end: it reads what its
socket still holds, sends it, what ``Lane.close`` gives (flows: held sets as dead letters) and
its last drop count, and exits. A worker that dies is logged as an error (its lane's
``on_exit`` hook is told); its socket leaves the group and the kernel sends its senders to the
others. Dead workers are not restarted.

Why processes and not threads: decoding is Python, and threads share one interpreter lock.
Why one frame per batch, in msgpack: one system call, one encode and one decode per batch.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import logging
import os
import select
import socket
import struct
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import msgspec

from netvigil.collectors.base import CollectorCounters
from netvigil.collectors.listen import HOLDOFF_S, udp_socket
from netvigil.collectors.udprecv import receiver
from netvigil.collectors.udpwatch import UdpWatch, kernel_drops, size_receive_buffer
from netvigil.events import (
    DeadLetter,
    DeviceEvent,
    Event,
    FlowRecord,
    FlowTemplate,
    LogRecord,
    Metric,
)
from netvigil.streams.base import Emit
from netvigil.streams.meters import EDGE, EdgeMeters

__all__ = ["Frame", "Lane", "Note", "WorkerPool", "main", "serve"]

log = logging.getLogger(__name__)

_LEN = struct.Struct(">I")
START_S = 60.0
"""Seconds a worker may take to start and bind before the collector gives up on it."""
PIPE_BYTES = 4 << 20
"""Buffers of the Unix sockets to the workers, and the collector's reading limit: a frame in
few reads (the kernel caps the buffers at net.core.wmem_max / rmem_max)."""
TICK_S = 1.0
"""Seconds between a worker's calls of ``Lane.tick``."""

Note = tuple[str, FlowTemplate]
"""What a lane says to the collector's side, or the collector to a lane: a kind and a template."""


class Frame(msgspec.Struct, array_like=True):
    """What a worker sends per batch (``inode`` and ``kernel_drops`` say where it stands), and
    what the collector sends a worker (``notes`` only)."""

    received: int = 0
    decoded: int = 0
    truncated: int = 0
    dead_letters: dict[str, int] = {}
    events: list[LogRecord | DeviceEvent | DeadLetter | FlowRecord | FlowTemplate | Metric] = []
    """What the collector publishes for the batch (all the syslog and flow collectors make)."""
    inode: int = 0
    kernel_drops: int = 0
    last: bool = False
    notes: list[Note] = []
    stats: dict[str, int] = {}


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(Frame)


def _frame(counters: CollectorCounters, events: list[Event], **extra: object) -> bytes:
    frame = Frame(
        counters.received,
        counters.decoded,
        counters.truncated,
        dict(counters.dead_letters),
        events,  # type: ignore[arg-type]
        **extra,  # type: ignore[arg-type]
    )
    body = _ENCODER.encode(frame)
    return _LEN.pack(len(body)) + body


class Lane(Protocol):
    """What a worker does with what it receives; ``notes`` and ``stats`` are emptied into
    each frame it sends."""

    notes: list[Note]
    stats: Counter[str]

    def batch(
        self, datagrams: list[tuple[bytes, str]], received: float, counters: CollectorCounters
    ) -> list[Event]:
        """The events of a batch, in order, counted in ``counters``."""
        ...

    def told(self, notes: list[Note], now: float, counters: CollectorCounters) -> list[Event]:
        """What the collector said (events that it made possible, e.g. held sets decoded)."""
        ...

    def tick(self, now: float, counters: CollectorCounters) -> list[Event]:
        """Once a second."""
        ...

    def close(self, counters: CollectorCounters) -> list[Event]:
        """At the end, after the last batch."""
        ...


# --------------------------------------------------------------------------- the worker


class _Inbox:
    """The collector's frames, read from ``conn`` without waiting."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn, self.buf, self.closed = conn, bytearray(), False
        self.pending: list[Frame] = []

    def read(self) -> list[Frame]:
        while True:
            try:
                chunk = self.conn.recv(1 << 16, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                break
            if not chunk:
                self.closed = True
                break
            self.buf += chunk
        out, self.pending = self.pending, []
        while len(self.buf) >= _LEN.size:
            n = _LEN.unpack_from(self.buf)[0]
            if len(self.buf) < _LEN.size + n:
                break
            out.append(_DECODER.decode(bytes(self.buf[_LEN.size : _LEN.size + n])))
            del self.buf[: _LEN.size + n]
        return out

    def first(self) -> Frame | None:
        """Wait for the collector's first frame (None if it closed first)."""
        while True:
            frames = self.read()
            if frames:
                self.pending = frames[1:]
                return frames[0]
            if self.closed:
                return None
            select.select([self.conn], [], [])


def serve(
    conn: socket.socket, sock: socket.socket, lane: Lane, holdoff_s: float = HOLDOFF_S
) -> None:
    """Receive on ``sock`` and send frames on ``conn`` until ``conn`` is closed by the peer."""
    inode = os.fstat(sock.fileno()).st_ino
    recv = receiver(sock)
    conn.sendall(_frame(CollectorCounters(), [], inode=inode))
    inbox = _Inbox(conn)
    first = inbox.first()

    def send(events: list[Event], counters: CollectorCounters, **extra: object) -> None:
        notes, stats = lane.notes, lane.stats
        if notes or stats:
            extra.update(notes=list(notes), stats=dict(stats))
            notes.clear()
            stats.clear()
        conn.sendall(_frame(counters, events, **extra))

    if first is not None and first.notes:
        counters = CollectorCounters()
        send(lane.told(first.notes, time.time(), counters), counters)
    poll = select.poll()
    poll.register(sock, select.POLLIN)
    poll.register(conn, select.POLLIN)
    stopping = first is None
    next_tick = time.monotonic() + TICK_S
    while not stopping:
        ready = dict(poll.poll(max(0, int((next_tick - time.monotonic()) * 1000)) + 1))
        if conn.fileno() in ready or inbox.pending:
            frames = inbox.read()
            stopping = inbox.closed  # the collector closed its end: finish
            for frame in frames:
                counters = CollectorCounters()
                send(lane.told(frame.notes, time.time(), counters), counters)
        while True:  # what the socket holds now, a batch per frame
            datagrams = recv.recv()
            if datagrams:
                counters = CollectorCounters()
                send(lane.batch(datagrams, time.time(), counters), counters)
            if len(datagrams) < recv.batch:
                break
        if time.monotonic() >= next_tick:
            next_tick = time.monotonic() + TICK_S
            counters = CollectorCounters()
            events = lane.tick(time.time(), counters)
            if events or lane.notes or lane.stats:
                send(events, counters)
        if not stopping and holdoff_s > 0:
            time.sleep(holdoff_s)  # let the next read find a batch
    drops = kernel_drops({inode}).get(inode, 0)
    sock.close()
    counters = CollectorCounters()
    send(lane.close(counters), counters, inode=inode, kernel_drops=drops, last=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="A UDP worker (started by a collector).")
    ap.add_argument("--fd", type=int, required=True, help="the Unix socket to the collector")
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--rcvbuf", type=int, required=True)
    ap.add_argument("--udp-fd", type=int, default=None, help="a socket the collector bound")
    ap.add_argument("--lane", required=True, help="module:factory of the worker's Lane")
    ap.add_argument("--options", default="{}", help="the factory's keyword arguments (JSON)")
    a = ap.parse_args(argv)
    module, _, factory = a.lane.partition(":")
    lane = getattr(importlib.import_module(module), factory)(**json.loads(a.options))
    conn = socket.socket(fileno=a.fd)
    if a.udp_fd is not None:
        sock = socket.socket(fileno=a.udp_fd)
    else:
        sock = udp_socket(a.host, a.port, reuse_port=True)
        size_receive_buffer(sock, a.rcvbuf)  # the collector's watch says if the kernel caps it
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        serve(conn, sock, lane)  # the errors: the collector is gone, nobody to tell


# --------------------------------------------------------------------------- the collector's side

OnNotes = Callable[[int, list[Note], Emit], Awaitable[None]]


class WorkerPool:
    """The worker processes of one collector's UDP port, and what they send."""

    def __init__(
        self,
        host: str,
        port: int,
        workers: int,
        rcvbuf: int,
        counters: CollectorCounters,
        *,
        lane: str,
        options: dict[str, Any] | None = None,
        collector: str = "syslog",
        meters: EdgeMeters = EDGE,
        on_notes: OnNotes | None = None,
        on_exit: Callable[[int], None] | None = None,
    ) -> None:
        self.host, self.port, self.workers, self.rcvbuf = host, port, workers, rcvbuf
        self.counters, self.collector, self.meters = counters, collector, meters
        self.lane, self.options = lane, options or {}
        self.on_notes, self.on_exit = on_notes, on_exit
        self.watch: UdpWatch | None = None
        self.received: list[int] = [0] * workers
        """Datagrams each worker received."""
        self.stats: Counter[str] = Counter()
        """The lanes' own counts, summed."""
        self.alive: list[bool] = [True] * workers
        self._stopping = False  # the workers were told to finish: nothing more is sent
        self._procs: list[subprocess.Popen[bytes]] = []
        self._conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    @classmethod
    def serving(
        cls,
        collector: Any,
        host: str,
        port: int,
        workers: int,
        rcvbuf: int,
        lane: str,
        **kw: Any,
    ) -> WorkerPool:
        """The pool of a collector (its ``name``, ``counters`` and ``meters``)."""
        return cls(
            host, port, workers, rcvbuf, collector.counters, lane=lane,
            collector=collector.name, meters=collector.meters, **kw,
        )  # fmt: skip

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    async def start(self, notes: list[Note] | None = None) -> int:
        """Bind the port, start the workers, wait until each has bound it, give each
        ``notes`` (before it reads a datagram); the bound port."""
        first = udp_socket(self.host, self.port, reuse_port=True)
        self.port = int(first.getsockname()[1])
        self.watch = UdpWatch(
            self.collector, f"udp {self.host}:{self.port}", first, self.rcvbuf, meters=self.meters
        )
        for n in range(self.workers):
            mine, theirs = socket.socketpair()
            for end in (mine, theirs):  # a frame of a batch in few system calls (flows: ~0.5 MB)
                end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, PIPE_BYTES)
                end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, PIPE_BYTES)
            fds = (theirs.fileno(), first.fileno()) if n == 0 else (theirs.fileno(),)
            cmd = [sys.executable, "-m", "netvigil.collectors.udpworkers",
                   "--fd", str(theirs.fileno()), "--host", self.host, "--port", str(self.port),
                   "--rcvbuf", str(self.rcvbuf), "--lane", self.lane,
                   "--options", json.dumps(self.options)]  # fmt: skip
            if n == 0:
                cmd += ["--udp-fd", str(first.fileno())]
            self._procs.append(subprocess.Popen(cmd, pass_fds=fds))
            theirs.close()
            if n == 0:
                first.close()  # worker 0 holds it now
            self._conns.append(await asyncio.open_unix_connection(sock=mine, limit=PIPE_BYTES))
        for n, (reader, _) in enumerate(self._conns):
            hello = await asyncio.wait_for(self._read(reader), START_S)
            if hello is None:
                raise RuntimeError(f"a {self.collector} UDP worker exited before binding its port")
            self.watch.share(hello.inode)
            self.tell(n, notes or [], first=True)
        self.watch.start()
        return self.port

    def tell(self, n: int, notes: list[Note], *, first: bool = False) -> None:
        """Send worker ``n`` these notes (its ``Lane.told``); nothing if it is gone or was told
        to finish (its end of the connection is closed for writing then)."""
        if (notes or first) and self.alive[n] and not self._stopping:
            writer = self._conns[n][1]
            if not writer.is_closing():
                body = _ENCODER.encode(Frame(notes=notes))
                writer.write(_LEN.pack(len(body)) + body)

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> Frame | None:
        try:
            head = await reader.readexactly(_LEN.size)
            return _DECODER.decode(await reader.readexactly(_LEN.unpack(head)[0]))
        except (asyncio.IncompleteReadError, ConnectionResetError):
            return None

    async def run(self, emit: Emit) -> None:
        """Publish what every worker sends until each has sent its last frame."""
        await asyncio.gather(*(self._relay(r, emit, n) for n, (r, _) in enumerate(self._conns)))

    async def _relay(self, reader: asyncio.StreamReader, emit: Emit, n: int) -> None:
        counters = self.counters
        while True:
            frame = await self._read(reader)
            if frame is None:
                log.error("%s UDP worker %d (pid %d) exited", self.collector, n, self._procs[n].pid)
                self.alive[n] = False
                if self.on_exit is not None:
                    self.on_exit(n)
                return
            counters.received += frame.received
            self.received[n] += frame.received
            counters.decoded += frame.decoded
            counters.truncated += frame.truncated
            counters.dead_letters.update(frame.dead_letters)
            for event in frame.events:
                await emit(event)
            if frame.stats:
                self.stats.update(frame.stats)
            if frame.notes and self.on_notes is not None:
                await self.on_notes(n, frame.notes, emit)
            if frame.last:
                assert self.watch is not None
                self.watch.share(frame.inode, frame.kernel_drops)
                self.alive[n] = False
                return

    def stop(self) -> None:
        """Tell the workers to finish (each sends what it still holds, then its last frame)."""
        self._stopping = True
        for _, writer in self._conns:
            if not writer.is_closing():
                writer.write_eof()

    def kill(self) -> None:
        """End the workers that are still running, the connections to them and the watch."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
        for _, writer in self._conns:
            writer.close()
        if self.watch is not None:
            self.watch.stop()

    async def wait(self, timeout: float = 30.0) -> None:
        """Wait for the worker processes to exit (killed after ``timeout``), and check the
        group's drop counts a last time."""
        for proc in self._procs:
            try:
                await asyncio.wait_for(asyncio.to_thread(proc.wait), timeout)
            except TimeoutError:
                log.error("%s UDP worker pid %d did not stop: killed", self.collector, proc.pid)
                proc.kill()
                await asyncio.to_thread(proc.wait)
        for _, writer in self._conns:
            writer.close()
        if self.watch is not None:
            self.watch.stop()


if __name__ == "__main__":
    main()
