"""More than one process receiving syslog on one UDP port, for when one core is not enough.

With ``syslog.udp_workers`` = N > 1 the collector starts N worker processes (``python -m
netvigil.collectors.syslog.workers``) that each bind the UDP port with ``SO_REUSEPORT`` (the
first one gets the socket the collector bound, so that port 0 picks one port for all); the
kernel hands each datagram to one of the N sockets, by a hash of the sender's address and
port, so the messages of one sender stay in order in one worker. A worker reads its socket in
batches, turns each message into its events (or its dead letter) exactly as the collector
does (:func:`~.batch.batch_events`), and sends the collector one frame per batch over a
Unix socket: the events and what it counted (received, decoded, dead letters by reason, raw
bytes cut). The collector process only publishes the events and adds the counts to its own,
so its counters and the console's metrics read as for one process. Each worker reports its
socket's inode, and the kernel's drops of every socket of the group are counted in the
collector's ``netvigil_collector_kernel_drops_total`` (a worker sends its last count before
it closes). The collector's own :class:`~netvigil.collectors.udpwatch.UdpWatch` sizes the
first socket, says when the kernel caps it, and logs the drops of the group.

A worker writes frames with blocking sends: when the collector cannot keep up, the worker
stops reading and its socket's buffer fills, so all loss shows as kernel drops (there is no
queue to drop from). A worker stops when the collector closes its end: it reads what its
socket still holds, sends it and its last drop count, and exits. A worker that dies is logged
as an error; its socket leaves the group and the kernel sends its senders to the others.

Why processes and not threads: decoding is Python, and threads share one interpreter lock.
Why one frame per batch, in msgpack: one system call, one encode and one decode per batch.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import select
import socket
import struct
import subprocess
import sys
import time

import msgspec

from netvigil.collectors.base import CollectorCounters
from netvigil.collectors.listen import HOLDOFF_S, udp_socket
from netvigil.collectors.syslog.batch import batch_events
from netvigil.collectors.udprecv import receiver
from netvigil.collectors.udpwatch import UdpWatch, kernel_drops, size_receive_buffer
from netvigil.events import DeadLetter, DeviceEvent, Event, LogRecord
from netvigil.streams.base import Emit
from netvigil.streams.meters import EDGE, EdgeMeters

__all__ = ["Frame", "WorkerPool", "main", "serve"]

log = logging.getLogger(__name__)

_LEN = struct.Struct(">I")
START_S = 60.0
"""Seconds a worker may take to start and bind before the collector gives up on it."""


class Frame(msgspec.Struct, array_like=True):
    """What a worker sends per batch (``inode`` and ``kernel_drops`` say where it stands)."""

    received: int = 0
    decoded: int = 0
    truncated: int = 0
    dead_letters: dict[str, int] = {}
    events: list[LogRecord | DeviceEvent | DeadLetter] = []
    """What the collector publishes for the batch (all the syslog collector makes)."""
    inode: int = 0
    kernel_drops: int = 0
    last: bool = False


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


# --------------------------------------------------------------------------- the worker


def serve(conn: socket.socket, sock: socket.socket, holdoff_s: float = HOLDOFF_S) -> None:
    """Receive on ``sock`` and send frames on ``conn`` until ``conn`` is closed by the peer."""
    inode = os.fstat(sock.fileno()).st_ino
    recv = receiver(sock)
    conn.sendall(_frame(CollectorCounters(), [], inode=inode))
    poll = select.poll()
    poll.register(sock, select.POLLIN)
    poll.register(conn, select.POLLIN)
    stopping = False
    while not stopping:
        ready = dict(poll.poll())
        if conn.fileno() in ready:
            stopping = True  # the collector closed its end (nothing else comes this way)
        while True:  # what the socket holds now, a batch per frame
            datagrams = recv.recv()
            if datagrams:
                counters = CollectorCounters()
                events = batch_events(datagrams, time.time(), counters)
                conn.sendall(_frame(counters, events))
            if len(datagrams) < recv.batch:
                break
        if not stopping and holdoff_s > 0:
            time.sleep(holdoff_s)  # let the next read find a batch
    drops = kernel_drops({inode}).get(inode, 0)
    sock.close()
    conn.sendall(_frame(CollectorCounters(), [], inode=inode, kernel_drops=drops, last=True))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="A syslog UDP worker (started by the collector).")
    ap.add_argument("--fd", type=int, required=True, help="the Unix socket to the collector")
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--rcvbuf", type=int, required=True)
    ap.add_argument("--udp-fd", type=int, default=None, help="a socket the collector bound")
    a = ap.parse_args(argv)
    conn = socket.socket(fileno=a.fd)
    if a.udp_fd is not None:
        sock = socket.socket(fileno=a.udp_fd)
    else:
        sock = udp_socket(a.host, a.port, reuse_port=True)
        size_receive_buffer(sock, a.rcvbuf)  # the collector's watch says if the kernel caps it
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        serve(conn, sock)  # the errors: the collector is gone, nobody to tell


# --------------------------------------------------------------------------- the collector's side


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
        collector: str = "syslog",
        meters: EdgeMeters = EDGE,
    ) -> None:
        self.host, self.port, self.workers, self.rcvbuf = host, port, workers, rcvbuf
        self.counters, self.collector, self.meters = counters, collector, meters
        self.watch: UdpWatch | None = None
        self.received: list[int] = [0] * workers
        """Messages each worker received."""
        self._procs: list[subprocess.Popen[bytes]] = []
        self._conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def start(self) -> int:
        """Bind the port, start the workers, wait until each has bound it; the bound port."""
        first = udp_socket(self.host, self.port, reuse_port=True)
        self.port = int(first.getsockname()[1])
        self.watch = UdpWatch(
            self.collector, f"udp {self.host}:{self.port}", first, self.rcvbuf, meters=self.meters
        )
        for n in range(self.workers):
            mine, theirs = socket.socketpair()
            fds = (theirs.fileno(), first.fileno()) if n == 0 else (theirs.fileno(),)
            cmd = [sys.executable, "-m", "netvigil.collectors.syslog.workers",
                   "--fd", str(theirs.fileno()), "--host", self.host, "--port", str(self.port),
                   "--rcvbuf", str(self.rcvbuf)]  # fmt: skip
            if n == 0:
                cmd += ["--udp-fd", str(first.fileno())]
            self._procs.append(subprocess.Popen(cmd, pass_fds=fds))
            theirs.close()
            if n == 0:
                first.close()  # worker 0 holds it now
            self._conns.append(await asyncio.open_unix_connection(sock=mine))
        for reader, _ in self._conns:
            hello = await asyncio.wait_for(self._read(reader), START_S)
            if hello is None:
                raise RuntimeError("a syslog UDP worker exited before binding its port")
            self.watch.share(hello.inode)
        self.watch.start()
        return self.port

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> Frame | None:
        try:
            head = await reader.readexactly(_LEN.size)
            return _DECODER.decode(await reader.readexactly(_LEN.unpack(head)[0]))
        except asyncio.IncompleteReadError:
            return None

    async def run(self, emit: Emit) -> None:
        """Publish what every worker sends until each has sent its last frame."""
        await asyncio.gather(*(self._relay(r, emit, n) for n, (r, _) in enumerate(self._conns)))

    async def _relay(self, reader: asyncio.StreamReader, emit: Emit, n: int) -> None:
        counters = self.counters
        while True:
            frame = await self._read(reader)
            if frame is None:
                log.error("syslog UDP worker %d (pid %d) exited", n, self._procs[n].pid)
                return
            counters.received += frame.received
            self.received[n] += frame.received
            counters.decoded += frame.decoded
            counters.truncated += frame.truncated
            counters.dead_letters.update(frame.dead_letters)
            for event in frame.events:
                await emit(event)
            if frame.last:
                assert self.watch is not None
                self.watch.share(frame.inode, frame.kernel_drops)
                return

    def stop(self) -> None:
        """Tell the workers to finish (each sends what it still holds, then its last frame)."""
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
                log.error("syslog UDP worker pid %d did not stop: killed", proc.pid)
                proc.kill()
                await asyncio.to_thread(proc.wait)
        for _, writer in self._conns:
            writer.close()
        if self.watch is not None:
            self.watch.stop()


if __name__ == "__main__":
    main()
