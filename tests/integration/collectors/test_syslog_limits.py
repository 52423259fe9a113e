"""What a TCP syslog peer can make the collector hold: an endless line is one short dead letter,
idle connections are closed, connections are capped per source and in total, and a stream
whose octet counting broke is closed. Real sockets on loopback, counters read as the
console's /metrics would."""

from __future__ import annotations

import asyncio

import pytest

from netvigil.collectors.base import RAW_LIMIT
from netvigil.collectors.listen import TcpLimits
from netvigil.collectors.syslog.collector import SyslogCollector, SyslogListen
from netvigil.events import DeadLetter, LogRecord
from netvigil.streams.meters import EdgeMeters
from tests.integration.collectors.conftest import running
from tests.integration.collectors.test_udp_loss import console_samples, wait_until

pytestmark = pytest.mark.integration

MSG = b"<13>Jan  5 10:00:00 edge1 app: after the long one\n"


async def _closed(reader: asyncio.StreamReader, within: float) -> bool:
    """True if the server closed the connection (EOF) within ``within`` seconds."""
    try:
        return await asyncio.wait_for(reader.read(), within) == b""
    except TimeoutError:
        return False
    except ConnectionError:
        return True


async def test_an_endless_line_is_one_short_dead_letter() -> None:
    collector = SyslogCollector(SyslogListen(tcp=0, framing="lf"), meters=EdgeMeters())
    async with running(collector) as sink:
        _, writer = await asyncio.open_connection("127.0.0.1", collector.listen.bound["tcp"])
        chunk = b"A" * (1 << 20)
        for _ in range(32):  # a 32 MiB line (main made 256 dead letters of up to 128 KiB)
            writer.write(chunk)
            await writer.drain()
        writer.write(b"\n" + MSG)
        await writer.drain()
        await sink.wait(lambda: bool(sink.of(LogRecord)), timeout=60)
        writer.close()
    letters = sink.of(DeadLetter)
    assert len(letters) == 1
    assert len(letters[0].raw) == RAW_LIMIT
    assert "longer than 65536 bytes" in letters[0].reason
    assert f"first {RAW_LIMIT} of 65536 bytes" in letters[0].reason
    assert [r.message for r in sink.of(LogRecord)] == ["after the long one"]
    assert collector.counters.truncated == 1


async def test_idle_connections_are_closed_and_talking_ones_are_not() -> None:
    meters = EdgeMeters()
    limits = TcpLimits(idle_s=2.0)
    collector = SyslogCollector(SyslogListen(tcp=0, limits=limits), meters=meters)
    async with running(collector) as sink:
        port = collector.listen.bound["tcp"]
        idle_r, idle_w = await asyncio.open_connection("127.0.0.1", port)
        busy_r, busy_w = await asyncio.open_connection("127.0.0.1", port)
        idle_w.write(MSG)
        for _ in range(30):  # 3 s of a message every 0.1 s
            busy_w.write(MSG)
            await busy_w.drain()
            await asyncio.sleep(0.1)
        assert await _closed(idle_r, 10.0)
        assert not await _closed(busy_r, 0.2)
        got = console_samples(meters)
        await sink.wait(lambda: len(sink.of(LogRecord)) == 31)
        busy_w.close()
    listener = (("collector", "syslog"), ("listener", f"tcp 127.0.0.1:{port}"))
    assert got[("netvigil_collector_connections_idle_closed_total", listener)] == 1
    assert got[("netvigil_collector_connections", listener)] == 1
    assert not sink.of(DeadLetter)


async def test_connections_are_capped_per_source_and_in_total() -> None:
    meters = EdgeMeters()
    per_source = SyslogCollector(
        SyslogListen(tcp=0, limits=TcpLimits(max_per_source=3)), meters=meters
    )
    total = SyslogCollector(
        SyslogListen(tcp=0, limits=TcpLimits(max_connections=4, max_per_source=100)),
        meters=meters,
    )
    async with running(per_source), running(total):
        outcomes = {}
        for c in (per_source, total):
            port = c.listen.bound["tcp"]
            conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(6)]
            stream = c._streams[0]
            await wait_until(lambda s=stream: sum(s.refused.values()) + len(s.writers) == 6)
            closed = [await _closed(r, 0.5) for r, _ in conns]
            outcomes[c] = (sum(closed), dict(stream.refused), len(stream.writers))
            got = console_samples(meters)
            for _, w in conns:
                w.close()
    assert outcomes[per_source] == (3, {"per_source": 3}, 3)
    assert outcomes[total] == (2, {"total": 2}, 4)
    port = total.listen.bound["tcp"]
    labels = (("collector", "syslog"), ("listener", f"tcp 127.0.0.1:{port}"), ("reason", "total"))
    assert got[("netvigil_collector_connections_refused_total", labels)] == 2


async def test_a_broken_octet_counted_stream_is_closed() -> None:
    collector = SyslogCollector(SyslogListen(tcp=0), meters=EdgeMeters())
    async with running(collector) as sink:
        reader, writer = await asyncio.open_connection("127.0.0.1", collector.listen.bound["tcp"])
        msg = MSG.rstrip(b"\n")
        writer.write(b"%d %s" % (len(msg), msg) + b"x garbage without a length")
        await writer.drain()
        assert await _closed(reader, 10.0)  # main kept it open, reading into nothing
        await sink.wait(lambda: bool(sink.of(DeadLetter)))
    assert [d.reason.split(":")[0] for d in sink.of(DeadLetter)] == ["bad_framing"]
    assert [r.message for r in sink.of(LogRecord)] == ["after the long one"]
