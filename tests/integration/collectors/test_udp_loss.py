"""UDP loss is never silent: every listener (syslog, flows, SNMP traps) sizes its receive buffer
and says when the kernel caps it, and a storm of datagrams against a real listener moves the
kernel-drop and queue-drop counters, which add up with what was received to what was sent,
show in the console's /metrics registry, and are logged."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from netvigil.api.metrics import Meters
from netvigil.collectors.flow.collector import FlowCollector
from netvigil.collectors.snmp import TrapReceiver
from netvigil.collectors.syslog.collector import SyslogCollector, SyslogListen
from netvigil.collectors.udpwatch import RCVBUF
from netvigil.events import Event
from netvigil.streams.meters import EdgeMeters
from tests.integration.collectors.conftest import need, run_peer

pytestmark = pytest.mark.integration

RMEM_MAX = int(Path("/proc/sys/net/core/rmem_max").read_text())
SYSLOG = b"<13>Jan  5 10:00:00 edge1 app: datagram number %06d " + b"x" * 120

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def console_samples(meters: EdgeMeters) -> Samples:
    """What the console's /metrics serves of these meters (its registry reads them)."""
    text = generate_latest(Meters(meters).registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def blast(port: int, payloads: list[bytes]) -> None:
    """Send every datagram without yielding to the event loop: the listener cannot read
    while this runs, so its receive buffer overflows."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for p in payloads:
            s.sendto(p, ("127.0.0.1", port))


async def wait_until(ok: object, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not ok():  # type: ignore[operator]
            await asyncio.sleep(0.05)


async def test_every_udp_listener_sizes_its_buffer_and_says_when_capped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    meters = EdgeMeters()
    stop = asyncio.Event()

    async def sink(e: Event) -> None:
        return None

    over = RMEM_MAX * 2  # more than the kernel lets an unprivileged setsockopt have
    syslog = SyslogCollector(SyslogListen(udp=0, rcvbuf=over), meters=meters)
    flows = FlowCollector(port=0, rcvbuf=RMEM_MAX // 2, meters=meters)
    traps = TrapReceiver("127.0.0.1", 0, meters=meters)  # the default: like the others
    with caplog.at_level(logging.WARNING):
        tasks = [asyncio.create_task(c.run(sink, stop)) for c in (syslog, flows)]
        await asyncio.wait_for(syslog.ready.wait(), 10)
        await asyncio.wait_for(flows.ready.wait(), 10)
        await traps.start()
    try:
        assert syslog._udp is not None and syslog._udp.watch is not None
        assert flows._udp is not None and flows._udp.watch is not None
        assert traps.watch is not None
        assert (syslog._udp.watch.granted, syslog._udp.watch.capped) == (RMEM_MAX, True)
        assert (flows._udp.watch.granted, flows._udp.watch.capped) == (RMEM_MAX // 2, False)
        assert traps.watch.requested == RCVBUF
        assert traps.watch.granted == min(RCVBUF, RMEM_MAX)
        sock = traps._transport.transport.get_extra_info("socket")  # type: ignore[union-attr]
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == 2 * traps.watch.granted
        capped = [r.getMessage() for r in caplog.records if "net.core.rmem_max" in r.getMessage()]
        assert any(f"syslog udp 127.0.0.1:{syslog.listen.bound['udp']}" in m for m in capped)
        assert len(capped) == 1 + (RCVBUF > RMEM_MAX)  # syslog, and traps if 8 MiB > rmem_max
        got = console_samples(meters)
        listener = (("collector", "syslog"), ("listener", syslog._udp.watch.listener))
        assert got[("netvigil_collector_receive_buffer_bytes", listener)] == RMEM_MAX
        assert got[("netvigil_collector_receive_buffer_requested_bytes", listener)] == over
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        traps.close()


async def test_a_syslog_storm_moves_the_drop_counters_and_every_datagram_is_accounted_for(
    caplog: pytest.LogCaptureFixture,
) -> None:
    meters = EdgeMeters()
    collector = SyslogCollector(SyslogListen(udp=0, queue_size=16, rcvbuf=64 << 10), meters=meters)
    release = asyncio.Event()

    async def slow(e: Event) -> None:  # a pipeline that stalls: the queue fills
        await release.wait()

    stop = asyncio.Event()
    sent = 5000
    with caplog.at_level(logging.WARNING):
        task = asyncio.create_task(collector.run(slow, stop))
        await asyncio.wait_for(collector.ready.wait(), 10)
        port = collector.listen.bound["udp"]
        blast(port, [SYSLOG % i for i in range(sent)])
        udp = collector._udp
        assert udp is not None and udp.watch is not None
        await wait_until(lambda: udp.watch.kernel() > 0 and udp.dropped > 0)
        release.set()

        def accounted() -> bool:
            assert udp.watch is not None
            return collector.counters.received + udp.dropped + udp.watch.kernel() == sent

        await wait_until(accounted)
        kernel, queued = udp.watch.kernel(), udp.dropped
        got = console_samples(meters)
        stop.set()
        await asyncio.wait_for(task, 20)
    listener = (("collector", "syslog"), ("listener", f"udp 127.0.0.1:{port}"))
    assert got[("netvigil_collector_kernel_drops_total", listener)] == kernel > 0
    assert got[("netvigil_collector_queue_drops_total", listener)] == queued > 0
    received = got[("netvigil_collector_received_total", (("collector", "syslog"),))]
    assert received + kernel + queued == sent
    lost = [r for r in caplog.records if "lost datagrams" in r.getMessage()]
    assert lost and lost[-1].args[-2:] == (kernel, queued)  # type: ignore[index]


async def test_a_trap_storm_moves_the_drop_counters_and_every_datagram_is_accounted_for() -> None:
    # one real linkDown trap from net-snmp's snmptrap, captured, then sent 3,000 times
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as cap:
        cap.bind(("127.0.0.1", 0))
        cap.settimeout(20)
        dest = f"udp:127.0.0.1:{cap.getsockname()[1]}"
        await run_peer(
            need("snmptrap"), "-v2c", "-c", "public", dest, "", "1.3.6.1.6.3.1.1.5.3",
            "1.3.6.1.2.1.2.2.1.1.2", "i", "2",
        )  # fmt: skip
        trap = cap.recv(65535)
    meters = EdgeMeters()
    receiver = TrapReceiver("127.0.0.1", 0, rcvbuf=64 << 10, queue_size=50, meters=meters)
    port = await receiver.start()  # nobody takes the events: the queue fills at 50
    sent = 3000
    try:
        blast(port, [trap] * sent)
        watch = receiver.watch
        assert watch is not None

        def accounted() -> bool:
            return receiver.counters.received + receiver.dropped + watch.kernel() == sent

        await wait_until(accounted)
        got = console_samples(meters)
    finally:
        receiver.close()
    assert receiver.counters.decoded == 50 and receiver.queued() == 50
    listener = (("collector", "snmp-traps"), ("listener", f"udp 127.0.0.1:{port}"))
    assert got[("netvigil_collector_kernel_drops_total", listener)] == watch.kernel() > 0
    assert got[("netvigil_collector_queue_drops_total", listener)] == receiver.dropped > 0
