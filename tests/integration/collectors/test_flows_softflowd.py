"""softflowd (a real NetFlow/IPFIX exporter) turns a capture into v5, v9 and IPFIX; the flow
collector must report exactly the flows of the capture, with their packet and byte counts."""

from __future__ import annotations

import socket
from pathlib import Path

import dpkt
import pytest

from netvigil.collectors.flow.collector import FlowCollector
from netvigil.events import DeadLetter, FlowRecord, FlowTemplate
from tests.integration.collectors.conftest import need, run_peer, running

pytestmark = pytest.mark.integration

Flow = tuple[str, str, int, int, int, int, int]  # src, dst, sport, dport, proto, packets, octets


def write_capture(path: Path) -> set[Flow]:
    """A capture of 12 TCP and UDP flows; returns the flows with their IP-level counts."""
    flows: set[Flow] = set()
    ts = 1_700_000_000.0
    with path.open("wb") as fh:
        w = dpkt.pcap.Writer(fh)
        for i in range(6):
            for sport, dport, proto, count, size in (
                (40000 + i, 443, 6, 3 + i, 100 + 10 * i),
                (50000 + i, 53, 17, 2, 60 + i),
            ):
                src, dst = "10.0.0.1", f"10.0.1.{i + 1}"
                l4: dpkt.Packet
                for _ in range(count):
                    if proto == 6:
                        l4 = dpkt.tcp.TCP(sport=sport, dport=dport, flags=dpkt.tcp.TH_ACK)
                        l4.data = b"x" * size
                    else:
                        l4 = dpkt.udp.UDP(sport=sport, dport=dport, data=b"y" * size)
                        l4.ulen = len(l4)
                    ip = dpkt.ip.IP(
                        src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=proto, data=l4
                    )
                    ip.len = len(ip)
                    eth = dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, data=ip)
                    w.writepkt(bytes(eth), ts=ts)
                    ts += 0.01
                flows.add((src, dst, sport, dport, proto, count, count * len(ip)))
    return flows


@pytest.mark.parametrize("version", [5, 9, 10])
async def test_softflowd_export_is_decoded_exactly(tmp_path: Path, version: int) -> None:
    softflowd = need("softflowd")
    expected = write_capture(tmp_path / "traffic.pcap")
    collector = FlowCollector("127.0.0.1", 0, hold_s=5)
    async with running(collector) as sink:
        await run_peer(
            softflowd, "-r", str(tmp_path / "traffic.pcap"), "-n",
            f"127.0.0.1:{collector.bound}", "-v", str(version),
        )  # fmt: skip

        def flows() -> set[Flow]:
            return {
                (
                    r.fields["sourceIPv4Address"],
                    r.fields["destinationIPv4Address"],
                    r.fields["sourceTransportPort"],
                    r.fields["destinationTransportPort"],
                    r.fields["protocolIdentifier"],
                    r.fields["packetDeltaCount"],
                    r.fields["octetDeltaCount"],
                )
                for r in sink.of(FlowRecord)
                if not r.options
            }

        await sink.wait(lambda: len(flows()) >= len(expected))
    assert flows() == expected
    records = [r for r in sink.of(FlowRecord) if not r.options]
    assert {r.version for r in records} == {version}
    assert all(r.exporter == "127.0.0.1" and r.sampling_rate == 1 for r in records)
    assert not sink.of(DeadLetter)
    if version != 5:  # templates go to the compacted topic
        assert {t.exporter for t in sink.of(FlowTemplate)} == {"127.0.0.1"}
    assert collector.counters.received >= 1 and not collector.counters.dead_letters
