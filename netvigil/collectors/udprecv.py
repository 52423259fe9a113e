"""Batched reads of a datagram socket: what the push collectors' UDP listeners read with.

A :class:`Receiver` reads, without waiting, the datagrams a socket holds, up to its batch,
as ``(payload, peer)`` pairs (the peer is the sender's address as text, as ``addr[0]`` of
``socket.recvfrom``), and returns an empty list when the socket is empty. :func:`receiver`
gives the C one (``_udp.c``: ``recvmmsg``, one system call per batch) where it is built, and
otherwise :class:`PyReceiver`, a ``recvfrom`` loop with the same results (a checkout that was
not installed, a system without ``recvmmsg``: the build skips the C module there, it is
``optional`` in ``pyproject.toml``, and nothing else changes). Why C, and why no library
does it, is said in ``_udp.c``.

Why not asyncio's datagram transport: it reads one datagram per turn of the event loop, so a
busy collector spent most of each datagram's time in the loop (an ``epoll_wait``, a callback,
a ``recvfrom``) and the kernel dropped what arrived meanwhile; ``bench/udp_receive.py``
measures the ways of receiving against each other.
"""

from __future__ import annotations

import logging
import socket
from typing import Protocol

__all__ = ["BATCH", "MAX_DATAGRAM", "PyReceiver", "Receiver", "receiver"]

log = logging.getLogger(__name__)

BATCH = 64
"""Datagrams read at most per system call."""

MAX_DATAGRAM = 65_536
"""Bytes read at most per datagram: any UDP payload fits (65,527 bytes at most over IPv6
without jumbograms), so no datagram is ever cut."""


class Receiver(Protocol):
    batch: int

    def recv(self) -> list[tuple[bytes, str]]:
        """The datagrams waiting on the socket, up to ``batch``; empty when there are none."""
        ...


class PyReceiver:
    """``recvfrom`` until the socket is empty or the batch is full (the C receiver's
    reference, and its stand-in where it is not built)."""

    def __init__(self, sock: socket.socket, batch: int = BATCH) -> None:
        self.sock, self.batch = sock, batch

    def recv(self) -> list[tuple[bytes, str]]:
        out: list[tuple[bytes, str]] = []
        recvfrom = self.sock.recvfrom
        for _ in range(self.batch):
            try:
                data, addr = recvfrom(MAX_DATAGRAM, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                break
            out.append((data, str(addr[0])))
        return out


_said = False


def receiver(sock: socket.socket, batch: int = BATCH, *, native: bool = True) -> Receiver:
    """The C receiver of ``sock`` where it is built (and ``native``), else a :class:`PyReceiver`."""
    if native:
        try:
            from netvigil.collectors._udp import Receiver as CReceiver
        except ImportError:  # not built: the same results, more system calls
            global _said
            if not _said:
                log.info("UDP is read with recvfrom: the C receiver (_udp.c) is not built here")
                _said = True
        else:
            return CReceiver(sock.fileno(), batch, MAX_DATAGRAM)
    return PyReceiver(sock, batch)
