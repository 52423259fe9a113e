"""The twin's flow export: IPFIX (RFC 7011) over UDP, as each device's ingress metering.

Every step, each device reports the traffic that entered it on each interface, split into a
few flows per demand (a heavy hitter and a tail, with deterministic 5-tuples from the device
prefixes ``10.<device index>.0.0/16``). Messages carry a data template (refreshed every
``template_every`` messages, as UDP export requires) and an options template with the
sampling interval (1: unsampled). The encoder is a few ``struct`` calls: writing IPFIX is
simple enough that a dependency would add more than it saves; decoding is the collector's job.
"""

from __future__ import annotations

import asyncio
import ipaddress
import struct
import zlib
from collections import deque
from dataclasses import dataclass, field

from netvigil.twin.network import TwinNetwork
from netvigil.twin.telemetry import TwinTelemetry
from netvigil.twin.udp import send_per_device

__all__ = ["DATA_TEMPLATE", "OPTIONS_TEMPLATE", "TwinIpfixExporter", "encode_messages"]

#: (IANA element id, length): the data template (id 256)
DATA_TEMPLATE: list[tuple[int, int]] = [
    (8, 4),  # sourceIPv4Address
    (12, 4),  # destinationIPv4Address
    (7, 2),  # sourceTransportPort
    (11, 2),  # destinationTransportPort
    (4, 1),  # protocolIdentifier
    (10, 4),  # ingressInterface
    (1, 8),  # octetDeltaCount
    (2, 8),  # packetDeltaCount
    (152, 8),  # flowStartMilliseconds
    (153, 8),  # flowEndMilliseconds
]
#: options template (id 257): scope meteringProcessId, then samplingPacketInterval
OPTIONS_TEMPLATE: list[tuple[int, int]] = [(143, 4), (305, 4)]
_DATA = struct.Struct("!4s4sHHBIQQQQ")
_OPTS = struct.Struct("!II")
#: application mix of a demand: (share of bytes, protocol, destination port)
MIX = [(0.55, 6, 443), (0.25, 6, 80), (0.15, 17, 53), (0.05, 6, 22)]
AVG_PACKET = 900
MAX_RECORDS = 28  # per message: 28 x 49 bytes keeps a message under a 1500-byte MTU


def _templates() -> bytes:
    data = struct.pack("!HH", 256, len(DATA_TEMPLATE)) + b"".join(
        struct.pack("!HH", i, n) for i, n in DATA_TEMPLATE
    )
    opts = struct.pack("!HHH", 257, len(OPTIONS_TEMPLATE), 1) + b"".join(
        struct.pack("!HH", i, n) for i, n in OPTIONS_TEMPLATE
    )
    return struct.pack("!HH", 2, 4 + len(data)) + data + struct.pack("!HH", 3, 4 + len(opts)) + opts


def encode_messages(
    records: list[bytes], *, export_s: int, seq: int, domain: int, with_templates: bool
) -> list[bytes]:
    """IPFIX messages carrying ``records`` (packed with the data template)."""
    out = []
    chunks = [records[i : i + MAX_RECORDS] for i in range(0, len(records), MAX_RECORDS)] or [[]]
    for n, chunk in enumerate(chunks):
        body = b""
        if with_templates and n == 0:
            body += _templates()
            opts = _OPTS.pack(1, 1)
            body += struct.pack("!HH", 257, 4 + len(opts)) + opts
        if chunk:
            data = b"".join(chunk)
            body += struct.pack("!HH", 256, 4 + len(data)) + data
        header = struct.pack("!HHIII", 10, 16 + len(body), export_s, seq, domain)
        out.append(header + body)
        seq += len(chunk)
    return out


@dataclass
class TwinIpfixExporter:
    """Sends every device's ingress flows of each twin step to a collector over UDP."""

    network: TwinNetwork
    telemetry: TwinTelemetry
    collector: tuple[str, int]
    template_every: int = 20
    step_s: float = 10.0
    _pending: deque[tuple[str, bytes]] = field(default_factory=lambda: deque(maxlen=10_000))
    _seq: dict[str, int] = field(default_factory=dict)
    _sent: dict[str, int] = field(default_factory=dict)
    _prefix: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for i, d in enumerate(sorted(x.name for x in self.network.topo.devices())):
            self._prefix[d] = int(ipaddress.IPv4Address("10.0.0.0")) + ((i + 1) << 16)

    def on_step(self, t: float) -> None:
        """Build the messages of the step that just ran at simulated time ``t``."""
        per_device: dict[str, list[bytes]] = {}
        start_ms, end_ms = int((t - self.step_s) * 1000), int(t * 1000)
        for n, (src, dst, link, enters, bps) in enumerate(self.network.hop_loads()):
            iface = self.network.topo.link(link).end(enters)
            ifindex = self.telemetry.ifindex(enters, iface.partition(":")[2])
            total = bps * self.step_s / 8
            for k, (share, proto, dport) in enumerate(MIX):
                octets = int(total * share)
                if octets <= 0:
                    continue
                sip = (self._prefix[src] + 1 + (n % 250)).to_bytes(4, "big")
                dip = (self._prefix[dst] + 1 + (k * 7 % 250)).to_bytes(4, "big")
                sport = 32768 + (zlib.crc32(f"{src}|{dst}|{k}".encode()) & 0x3FFF)
                per_device.setdefault(enters, []).append(
                    _DATA.pack(
                        sip,
                        dip,
                        sport,
                        dport,
                        proto,
                        ifindex,
                        octets,
                        max(octets // AVG_PACKET, 1),
                        start_ms,
                        end_ms,
                    )
                )
        for dev, records in sorted(per_device.items()):
            sent = self._sent.get(dev, 0)
            msgs = encode_messages(
                records,
                export_s=int(t),
                seq=self._seq.get(dev, 0),
                domain=1,
                with_templates=sent % self.template_every == 0,
            )
            self._seq[dev] = self._seq.get(dev, 0) + len(records)
            self._sent[dev] = sent + len(msgs)
            self._pending.extend((dev, m) for m in msgs)

    def exporter_address(self, device: str) -> str:
        """Each device exports from its own loopback address (127.1.x.y), as routers do from
        their own addresses, so collectors tell exporters apart."""
        return self.telemetry.loopback(device)

    async def run(self, stop: asyncio.Event) -> None:
        """Send what the steps produced until ``stop``; UDP, so nothing waits for the peer."""
        await send_per_device(self._pending, self.collector, self.exporter_address, stop)
