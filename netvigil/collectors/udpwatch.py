"""What a UDP listener loses, made visible: its receive buffer, the kernel's drops, the queue's.

UDP cannot push back, so a sender faster than the collector loses datagrams in two places:
in the kernel, when the socket's receive buffer is full, and in the collector, when its queue
is full. :class:`UdpWatch` sizes the buffer (and says in the log when the kernel grants less
than asked: Linux caps ``SO_RCVBUF`` at ``net.core.rmem_max``, and only an administrator
should raise that), reads the kernel's drop count of the socket, and logs every increase of
either count once per interval. The counts are exported through :mod:`netvigil.streams.meters`.

The kernel's count is the ``drops`` column of ``/proc/net/udp`` and ``/proc/net/udp6`` for the
socket's inode (``sk_drops``: datagrams refused for a full buffer, plus the rare checksum or
filter drops). Reading it needs no change to how datagrams are received, so it serves
asyncio's datagram transport and pysnmp's alike; ``SO_RXQ_OVFL`` would give the same number,
but only through ``recvmsg`` ancillary data that neither transport asks for. Where there is no
``/proc/net/udp`` (not Linux), the count stays 0 and the log says once that it is unknown.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

from netvigil.streams.meters import EDGE, EdgeMeters, Reading

__all__ = ["RCVBUF", "REPORT_S", "UdpWatch", "kernel_drops", "size_receive_buffer"]

log = logging.getLogger(__name__)

RCVBUF = 8 << 20
"""Receive buffer every UDP listener asks for by default (8 MiB: a few seconds of a burst)."""

REPORT_S = 10.0
"""Seconds between two looks at the drop counts (a log line only when they moved)."""

_PROC = (Path("/proc/net/udp"), Path("/proc/net/udp6"))


def size_receive_buffer(sock: Any, requested: int) -> int:
    """Ask for a receive buffer of ``requested`` bytes; returns what the kernel granted, in
    the same units (Linux reports twice the usable size, for its bookkeeping)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, requested)
    got = int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    return got // 2 if sys.platform.startswith("linux") else got


def kernel_drops(inodes: Collection[int], files: Collection[Path] = _PROC) -> dict[int, int]:
    """The kernel's drop count of each UDP socket (by inode) still open in this namespace."""
    out: dict[int, int] = {}
    for path in files:
        try:
            lines = path.read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) >= 13 and cols[9].isdigit() and int(cols[9]) in inodes:
                out[int(cols[9])] = int(cols[12])
    return out


class UdpWatch:
    """The receive buffer and the drop counts of one UDP socket (see the module docstring)."""

    def __init__(
        self,
        collector: str,
        listener: str,
        sock: Any,
        requested: int,
        *,
        queue_drops: Callable[[], int] = lambda: 0,
        meters: EdgeMeters = EDGE,
    ) -> None:
        self.collector, self.listener = collector, listener
        self.requested = requested
        self.granted = size_receive_buffer(sock, requested)
        self.inode = os.fstat(sock.fileno()).st_ino
        self.queue_drops = queue_drops
        self._drops: dict[int, int] = {self.inode: 0}
        """The last drop count known of each socket watched (this one, and :meth:`share`'s)."""
        self._seen = (0, 0)
        self._task: asyncio.Task[None] | None = None
        self._known = any(p.exists() for p in _PROC)
        if self.granted < requested:
            log.warning(
                "%s %s: asked for a %d-byte receive buffer, the kernel granted %d "
                "(net.core.rmem_max); bursts beyond it are dropped by the kernel: raise it "
                "with `sysctl -w net.core.rmem_max=%d`",
                collector, listener, requested, self.granted, requested,
            )  # fmt: skip
        if not self._known:
            log.info("%s %s: kernel drops are not known on this system", collector, listener)
        meters.add(self)

    @property
    def capped(self) -> bool:
        return self.granted < self.requested

    def share(self, inode: int, drops: int = 0) -> None:
        """Count the kernel's drops of another socket too (one of a ``SO_REUSEPORT`` group,
        bound in another process); ``drops`` is its count as last reported by its owner,
        since once it is closed ``/proc`` no longer shows it."""
        self._drops[inode] = max(self._drops.get(inode, 0), drops)

    def kernel(self) -> int:
        """Datagrams the kernel dropped on the sockets so far (the last counts once closed)."""
        if self._known:
            for inode, n in kernel_drops(self._drops.keys()).items():
                self._drops[inode] = max(self._drops[inode], n)
        return sum(self._drops.values())

    def check(self) -> tuple[int, int]:
        """New kernel and queue drops since the last check; a warning in the log if any."""
        now = (self.kernel(), self.queue_drops())
        new = (now[0] - self._seen[0], now[1] - self._seen[1])
        self._seen = now
        if new[0] or new[1]:
            log.warning(
                "%s %s lost datagrams: %d dropped by the kernel (receive buffer %d bytes), "
                "%d by the full queue; %d and %d in all",
                self.collector, self.listener, new[0], self.granted, new[1], *now,
            )  # fmt: skip
        return new

    async def run(self, interval: float = REPORT_S) -> None:
        """Check every ``interval`` seconds until cancelled (the owner checks once more as it
        closes the socket: see :meth:`stop`)."""
        while True:
            await asyncio.sleep(interval)
            self.check()

    def start(self, interval: float = REPORT_S) -> None:
        """Check every ``interval`` seconds from now on, in a task of the running loop."""
        self._task = asyncio.get_running_loop().create_task(self.run(interval))

    def stop(self) -> None:
        """Stop the periodic checks and check a last time (while the socket is still open)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.check()

    def readings(self) -> Iterator[Reading]:
        labels = (self.collector, self.listener)
        yield Reading("netvigil_collector_kernel_drops", labels, self.kernel())
        yield Reading("netvigil_collector_queue_drops", labels, self.queue_drops())
        yield Reading("netvigil_collector_receive_buffer_bytes", labels, self.granted)
        yield Reading("netvigil_collector_receive_buffer_requested_bytes", labels, self.requested)
