"""Batched UDP reads: the C receiver (recvmmsg) and its recvfrom stand-in read the same
datagrams, whole and in order, with the sender's address as socket.recvfrom spells it; a
listener whose queue is full stops reading (only the rest of the batch that did not fit is
dropped) and reads on once the queue is half empty; a watch counts the kernel's drops
of a socket another process owns, keeping its last reported count once it is closed."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time

import pytest

from netvigil.collectors.listen import UdpListener, udp_socket
from netvigil.collectors.udprecv import MAX_DATAGRAM, PyReceiver, receiver
from netvigil.collectors.udpwatch import UdpWatch
from netvigil.streams.meters import EdgeMeters

pytestmark = pytest.mark.integration

PAYLOADS = [b"", b"x", b"<13>Jan  5 10:00:00 h a: m", bytes(range(256)) * 40, b"y" * 65_507]


def _datagrams(family: int, host: str, native: bool) -> list[tuple[bytes, str]]:
    with socket.socket(family, socket.SOCK_DGRAM) as rx:
        rx.bind((host, 0))
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        recv = receiver(rx, batch=3, native=native)
        with socket.socket(family, socket.SOCK_DGRAM) as tx:
            for p in PAYLOADS * 2:
                tx.sendto(p, rx.getsockname()[:2])
        assert len(PAYLOADS) * 2 > recv.batch  # more than one read's worth
        out: list[tuple[bytes, str]] = []
        deadline = time.monotonic() + 10
        while len(out) < len(PAYLOADS) * 2 and time.monotonic() < deadline:
            got = recv.recv()
            assert len(got) <= recv.batch
            out += got
        assert recv.recv() == []  # empty: no wait, no error
        return out


@pytest.mark.parametrize(
    ("family", "host"), [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")]
)
def test_the_c_receiver_reads_what_recvfrom_reads(family: int, host: str) -> None:
    native = _datagrams(family, host, native=True)
    python = _datagrams(family, host, native=False)
    assert native == python == [(p, host) for p in PAYLOADS * 2]
    assert max(len(p) for p, _ in native) == 65_507 < MAX_DATAGRAM


@pytest.mark.skipif(sys.platform != "linux", reason="recvmmsg is Linux's: elsewhere recvfrom")
def test_the_c_receiver_is_built() -> None:
    """Its build is optional (a failure is a warning in the install log): here it must be."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        assert not isinstance(receiver(s), PyReceiver), "run scripts/setup.sh to build _udp.c"


def test_an_ipv4_sender_on_a_dual_stack_socket_reads_as_mapped() -> None:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as rx:
        rx.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        rx.bind(("::ffff:127.0.0.1", 0))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for p in (b"a", b"b"):
                tx.sendto(p, ("127.0.0.1", rx.getsockname()[1]))
        time.sleep(0.05)
        assert receiver(rx, batch=1).recv() == [(b"a", "::ffff:127.0.0.1")]
        assert PyReceiver(rx, batch=1).recv() == [(b"b", "::ffff:127.0.0.1")]


async def test_a_full_queue_stops_reading_and_drops_only_the_rest_of_a_batch() -> None:
    meters = EdgeMeters()
    sock = udp_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    listener = UdpListener(sock, collector="t", capacity=100, meters=meters, rcvbuf=4 << 20)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        for i in range(300):  # the loop does not run meanwhile: all wait in the socket
            tx.sendto(b"%d" % i, ("127.0.0.1", port))
    await asyncio.sleep(0.2)
    # two reads of 64: the second fits 36 (28 dropped), then the full queue stops reading
    assert (listener.queued, listener.dropped) == (100, 28)
    seen: list[bytes] = []
    batches = listener.batches()
    async for batch in batches:  # taking half the queue resumes reading
        seen += [d for d, _ in batch.datagrams]
        if len(seen) + listener.dropped == 300:
            break
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        tx.sendto(b"last", ("127.0.0.1", port))
    time.sleep(0.05)
    listener.close()  # reads "last" before the socket closes
    async for batch in batches:
        seen += [d for d, _ in batch.datagrams]
    assert seen[-1] == b"last"
    numbers = [int(d) for d in seen[:-1]]
    assert numbers == sorted(numbers) and numbers[:100] == list(range(100))
    # read and dropped: only the rests of batches that met a full queue, not all that came
    assert len(numbers) + listener.dropped == 300 and listener.dropped < 64
    assert listener.watch.kernel() == 0


def test_a_watch_keeps_the_last_count_of_a_socket_it_shares() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as own:
        own.bind(("127.0.0.1", 0))
        watch = UdpWatch("t", "udp", own, 1 << 16, meters=EdgeMeters())
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
            other.bind(("127.0.0.1", 0))
            other.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            inode = os.fstat(other.fileno()).st_ino
            watch.share(inode)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
                for _ in range(500):
                    tx.sendto(b"z" * 500, other.getsockname())
            dropped = watch.kernel()
            assert dropped > 0  # the other socket's buffer held a few of 500
        assert watch.kernel() == dropped  # closed: the last count stays
        watch.share(inode, dropped + 7)  # its owner's last report is newer
        assert watch.kernel() == dropped + 7
