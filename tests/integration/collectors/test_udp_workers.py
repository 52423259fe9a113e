"""Syslog over UDP received by more than one process on one port (SO_REUSEPORT): the workers
share the port, a moderate burst from many senders loses nothing and every message comes out
once, and under a storm against a stalled pipeline the drop counters still account for every
datagram (received + kernel drops + queue drops = sent) across all the processes; with
workers every loss is a kernel drop (a worker that cannot hand over stops reading)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest

from netvigil.collectors.syslog.collector import SyslogCollector, SyslogListen
from netvigil.events import DeadLetter, Event, LogRecord
from netvigil.streams.meters import EdgeMeters
from tests.integration.collectors.test_udp_loss import console_samples

pytestmark = pytest.mark.integration

MSG = b"<13>Jan  5 10:00:00 edge%d app: burst datagram %06d"


async def until(ok: Callable[[], bool], timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while not ok():
            await asyncio.sleep(0.05)


def senders(n: int) -> list[socket.socket]:
    """``n`` sending sockets: ``n`` source ports, which the kernel spreads over the group."""
    return [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(n)]


async def test_workers_share_one_port_and_lose_nothing_of_a_moderate_burst() -> None:
    meters = EdgeMeters()
    collector = SyslogCollector(SyslogListen(udp=0, udp_workers=3), meters=meters)
    got: list[Event] = []

    async def emit(e: Event) -> None:
        got.append(e)

    stop = asyncio.Event()
    task = asyncio.create_task(collector.run(emit, stop))
    await asyncio.wait_for(collector.ready.wait(), 120)
    port, pool = collector.listen.bound["udp"], collector._pool
    assert pool is not None and pool.watch is not None and collector._udp is None
    socks, sent = senders(64), 20_000
    try:
        for i in range(sent):  # in steps of 250 datagrams, a few milliseconds apart
            socks[i % len(socks)].sendto(MSG % (i % 64, i), ("127.0.0.1", port))
            if i % 250 == 249:
                await asyncio.sleep(0.005)
        socks[0].sendto(b"not syslog", ("127.0.0.1", port))
        await until(lambda: collector.counters.received >= sent + 1)
        samples = console_samples(meters)
    finally:
        for s in socks:
            s.close()
        stop.set()
        await asyncio.wait_for(task, 60)
    logs = [e.message for e in got if isinstance(e, LogRecord)]
    assert sorted(logs) == sorted(f"burst datagram {i:06d}" for i in range(sent))
    assert [e.raw for e in got if isinstance(e, DeadLetter)] == [b"not syslog"]
    assert collector.counters.snapshot() == {
        "received": sent + 1,
        "decoded": sent,
        "dead_letters": {"bad_syslog": 1},
    }
    assert (collector.dropped, pool.watch.kernel()) == (0, 0)
    assert len(pool.received) == 3 and all(pool.received)  # three processes took part
    listener = (("collector", "syslog"), ("listener", f"udp 127.0.0.1:{port}"))
    assert samples[("netvigil_collector_received_total", (("collector", "syslog"),))] == sent + 1
    assert samples[("netvigil_collector_kernel_drops_total", listener)] == 0


async def test_a_storm_against_stalled_workers_is_accounted_for_across_processes() -> None:
    meters = EdgeMeters()
    collector = SyslogCollector(SyslogListen(udp=0, udp_workers=2, rcvbuf=64 << 10), meters=meters)
    release = asyncio.Event()

    async def slow(e: Event) -> None:  # a pipeline that stalls: nothing is taken
        await release.wait()

    stop = asyncio.Event()
    task = asyncio.create_task(collector.run(slow, stop))
    await asyncio.wait_for(collector.ready.wait(), 120)
    port, pool = collector.listen.bound["udp"], collector._pool
    assert pool is not None and pool.watch is not None
    watch = pool.watch
    socks, sent = senders(32), 20_000
    try:
        for i in range(sent):  # the workers' sockets fill while their frames wait
            socks[i % len(socks)].sendto(MSG % (i % 32, i), ("127.0.0.1", port))
            if i % 1000 == 999:
                await asyncio.sleep(0.01)
        await until(lambda: watch.kernel() > 0)
        release.set()

        def accounted() -> bool:
            return collector.counters.received + watch.kernel() == sent

        await until(accounted)
        stop.set()
        await asyncio.wait_for(task, 60)
    finally:
        release.set()
        stop.set()
        for s in socks:
            s.close()
    # after the workers' last frames (their sockets' last drop counts), still every datagram
    assert accounted()
    assert all(pool.received)
    listener = (("collector", "syslog"), ("listener", f"udp 127.0.0.1:{port}"))
    samples = console_samples(meters)
    received = samples[("netvigil_collector_received_total", (("collector", "syslog"),))]
    kernel = samples[("netvigil_collector_kernel_drops_total", listener)]
    queued = samples[("netvigil_collector_queue_drops_total", listener)]
    assert kernel > 0 and queued == 0
    assert received + kernel + queued == sent
