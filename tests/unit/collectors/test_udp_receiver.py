"""The batched receivers (``udprecv``: the C ``recvmmsg`` one and its ``recvfrom`` stand-in),
fuzzed over loopback: whatever the payloads, the batch size and the mix of senders, each
returns every datagram whole, in order, at most a batch per read, with its sender's address
(the C receiver's cache of the last peer included), and both return the same; bad arguments
and a descriptor that is not an open socket raise, they never crash or read garbage."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netvigil.collectors.udprecv import BATCH, PyReceiver, Receiver, receiver

try:
    from netvigil.collectors._udp import Receiver as CReceiver
except ImportError:  # not built here: the stand-in is still fuzzed (integration checks the build)
    CReceiver = None  # type: ignore[assignment,misc]

FUZZ = settings(
    max_examples=150,
    deadline=None,  # no timing in unit tests: a loaded machine may be slow, never wrong
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
SENDERS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")  # all of 127/8 is loopback on Linux

Make = Callable[[socket.socket, int], Receiver]


def _native(sock: socket.socket, batch: int) -> Receiver:
    if CReceiver is None:
        pytest.skip("the C receiver is not built (scripts/setup.sh builds it)")
    return receiver(sock, batch)


KINDS: dict[str, Make] = {"recvmmsg": _native, "recvfrom": lambda s, b: PyReceiver(s, b)}


@pytest.fixture
def rx() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        yield sock


@pytest.fixture
def senders() -> Iterator[list[socket.socket]]:
    socks = []
    try:
        for host in SENDERS:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(s)
            s.bind((host, 0))
        yield socks
    finally:
        for s in socks:
            s.close()


def _read_all(recv: Receiver, want: int) -> list[tuple[bytes, str]]:
    """Everything ``want`` datagrams' worth; each read at most a batch. Loopback delivers at
    ``sendto``, so the socket holds them all already and no read may come back empty first."""
    out: list[tuple[bytes, str]] = []
    while len(out) < want:
        got = recv.recv()
        assert 0 < len(got) <= recv.batch
        out += got
    assert recv.recv() == []
    return out


traffic = st.lists(
    st.tuples(st.integers(0, len(SENDERS) - 1), st.binary(max_size=1500)), max_size=60
)


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(datagrams=traffic, batch=st.integers(1, 80))
def test_every_datagram_whole_in_order_with_its_sender(
    kind: str,
    rx: socket.socket,
    senders: list[socket.socket],
    datagrams: list[tuple[int, bytes]],
    batch: int,
) -> None:
    recv = KINDS[kind](rx, batch)
    assert recv.batch == batch
    for who, payload in datagrams:
        senders[who].sendto(payload, rx.getsockname())
    got = _read_all(recv, len(datagrams))
    assert got == [(payload, SENDERS[who]) for who, payload in datagrams]


@FUZZ
@given(datagrams=traffic, batch=st.integers(1, 80))
def test_the_c_receiver_returns_what_the_stand_in_returns(
    rx: socket.socket,
    senders: list[socket.socket],
    datagrams: list[tuple[int, bytes]],
    batch: int,
) -> None:
    got = []
    for recv in (_native(rx, batch), PyReceiver(rx, batch)):
        for who, payload in datagrams:
            senders[who].sendto(payload, rx.getsockname())
        got.append(_read_all(recv, len(datagrams)))
    assert got[0] == got[1]


@pytest.mark.parametrize(
    ("fd", "batch", "size"),
    [(-1, 1, 1), (0, 0, 1), (0, 1025, 1), (0, 1, 0), (0, 1, (1 << 20) + 1)],
)
def test_the_c_receiver_refuses_bad_arguments(fd: int, batch: int, size: int) -> None:
    if CReceiver is None:
        pytest.skip("the C receiver is not built")
    with pytest.raises(ValueError, match="batch"):
        CReceiver(fd, batch, size)


@pytest.mark.parametrize("kind", KINDS)
def test_a_closed_or_non_socket_descriptor_raises(kind: str, rx: socket.socket) -> None:
    recv = KINDS[kind](rx, BATCH)
    r, w = os.pipe()
    try:
        os.dup2(r, rx.fileno())  # the socket's descriptor now names a pipe
        with pytest.raises(OSError):
            recv.recv()
    finally:
        os.close(r)
        os.close(w)
    rx.close()
    with pytest.raises(OSError):
        recv.recv()


def test_a_datagram_longer_than_the_buffer_is_cut_not_overrun(
    rx: socket.socket, senders: list[socket.socket]
) -> None:
    if CReceiver is None:
        pytest.skip("the C receiver is not built")
    small = CReceiver(rx.fileno(), 4, 16)
    senders[0].sendto(b"a" * 100, rx.getsockname())
    senders[1].sendto(b"b" * 3, rx.getsockname())
    assert small.recv() == [(b"a" * 16, SENDERS[0]), (b"b" * 3, SENDERS[1])]
