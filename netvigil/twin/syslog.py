"""The twin's syslog: what each vendor's device would log about the twin's events.

Message shapes per vendor and event are data (:data:`VENDOR_LOGS`), modelled on the formats
those operating systems document: Cisco IOS ``%FACILITY-SEVERITY-MNEMONIC`` with a sequence
number and a timestamp without a year, Juniper ``mib2d``/``rpd`` messages, Arista EOS
``%LINEPROTO``, Nokia SR OS. Sent over UDP (one message per datagram) or TCP (RFC 6587
octet counting or LF framing), each device from its own loopback address; TCP reconnects
with backoff and keeps what it could not send (bounded).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from netvigil.events import DeviceEvent, Event
from netvigil.graph.base import TopologyStore
from netvigil.twin.telemetry import TwinTelemetry
from netvigil.twin.udp import send_per_device

__all__ = ["VENDOR_LOGS", "TwinSyslog", "format_message"]

#: vendor -> event kind -> (facility, severity, message template). Fields: {host} {ifname}
#: {peer} {peer_ip} {seq} {ts3164} (``Jan  5 00:30:00``) {pid}
VENDOR_LOGS: dict[str, dict[str, tuple[int, int, str]]] = {
    "cisco": {
        "link_down": (
            23,
            3,
            "{seq}: {host}: *{ts3164}.000: %LINK-3-UPDOWN: Interface {ifname},"
            " changed state to down",
        ),
        "link_up": (
            23,
            3,
            "{seq}: {host}: *{ts3164}.000: %LINK-3-UPDOWN: Interface {ifname}, changed state to up",
        ),
        "bgp_down": (
            23,
            5,
            "{seq}: {host}: *{ts3164}.000: %BGP-5-ADJCHANGE: neighbor {peer_ip}"
            " Down BGP Notification sent",
        ),
        "bgp_up": (23, 5, "{seq}: {host}: *{ts3164}.000: %BGP-5-ADJCHANGE: neighbor {peer_ip} Up"),
        "ospf_down": (
            23,
            5,
            "{seq}: {host}: *{ts3164}.000: %OSPF-5-ADJCHG: Process 1, Nbr {peer_ip} on {ifname}"
            " from FULL to DOWN, Neighbor Down: Dead timer expired",
        ),
        "ospf_up": (
            23,
            5,
            "{seq}: {host}: *{ts3164}.000: %OSPF-5-ADJCHG: Process 1, Nbr {peer_ip} on {ifname}"
            " from LOADING to FULL, Loading Done",
        ),
    },
    "juniper": {
        "link_down": (
            3,
            4,
            "{ts3164} {host} mib2d[{pid}]: SNMP_TRAP_LINK_DOWN: ifIndex"
            " {ifindex}, ifAdminStatus up(1), ifOperStatus down(2), ifName"
            " {ifname}",
        ),
        "link_up": (
            3,
            6,
            "{ts3164} {host} mib2d[{pid}]: SNMP_TRAP_LINK_UP: ifIndex"
            " {ifindex}, ifAdminStatus up(1), ifOperStatus up(1), ifName"
            " {ifname}",
        ),
        "bgp_down": (
            3,
            4,
            "{ts3164} {host} rpd[{pid}]: BGP_IO_ERROR_CLOSE_SESSION: BGP peer"
            " {peer_ip} (Internal AS 65000): Connection reset",
        ),
        "bgp_up": (
            3,
            6,
            "{ts3164} {host} rpd[{pid}]: BGP_PEER_UP: BGP peer {peer_ip}"
            " (Internal AS 65000) changed state to Established",
        ),
        "ospf_down": (
            3,
            4,
            "{ts3164} {host} rpd[{pid}]: RPD_OSPF_NBRDOWN: OSPF neighbor {peer_ip} (realm"
            " ospf-v2 {ifname} area 0.0.0.0) state changed from Full to Down due to"
            " InActiveTimer (event reason: neighbor was inactive)",
        ),
        "ospf_up": (
            3,
            6,
            "{ts3164} {host} rpd[{pid}]: RPD_OSPF_NBRUP: OSPF neighbor {peer_ip} (realm"
            " ospf-v2 {ifname} area 0.0.0.0) state changed from Loading to Full due to"
            " LoadDone (event reason: OSPF loading completed)",
        ),
    },
    "arista": {
        "link_down": (
            23,
            5,
            "{ts3164} {host} Ebra: %LINEPROTO-5-UPDOWN: Line protocol on"
            " Interface {ifname}, changed state to down",
        ),
        "link_up": (
            23,
            5,
            "{ts3164} {host} Ebra: %LINEPROTO-5-UPDOWN: Line protocol on"
            " Interface {ifname}, changed state to up",
        ),
        "bgp_down": (
            23,
            5,
            "{ts3164} {host} Bgp: %BGP-5-ADJCHANGE: peer {peer_ip} (VRF default"
            " AS 65000) old state Established event Stop new state Idle",
        ),
        "bgp_up": (
            23,
            5,
            "{ts3164} {host} Bgp: %BGP-5-ADJCHANGE: peer {peer_ip} (VRF default"
            " AS 65000) old state OpenConfirm event Established new state"
            " Established",
        ),
    },
    "nokia": {
        "link_down": (
            23,
            4,
            "{ts3164} {host} SNMP: WARNING: SNMP #2004 Base {ifname}"
            " Interface {ifname} is not operational",
        ),
        "link_up": (
            23,
            6,
            "{ts3164} {host} SNMP: MINOR: SNMP #2005 Base {ifname}"
            " Interface {ifname} is operational",
        ),
        "bgp_down": (
            23,
            4,
            "{ts3164} {host} BGP: MINOR: BGP #2002 Base Peer {peer_ip}:"
            " moved from higher state ESTABLISHED to lower state IDLE",
        ),
        "bgp_up": (
            23,
            6,
            "{ts3164} {host} BGP: MINOR: BGP #2001 Base Peer {peer_ip}:"
            " moved into established state",
        ),
    },
}
VENDOR_LOGS[""] = VENDOR_LOGS["cisco"]


def format_message(
    vendor: str,
    kind: str,
    *,
    ts: float,
    host: str,
    seq: int,
    ifname: str = "",
    ifindex: int = 0,
    peer_ip: str = "",
) -> bytes | None:
    """One RFC 3164 syslog message (``<PRI>`` + vendor body), or None if the vendor has no
    message for ``kind``."""
    table = VENDOR_LOGS.get(vendor.lower(), VENDOR_LOGS[""])
    entry = table.get(kind)
    if entry is None:
        return None
    facility, severity, template = entry
    stamp = datetime.fromtimestamp(ts, UTC)
    ts3164 = f"{stamp:%b} {stamp.day:2d} {stamp:%H:%M:%S}"
    body = template.format(
        host=host,
        ifname=ifname,
        ifindex=ifindex,
        peer_ip=peer_ip,
        seq=seq,
        ts3164=ts3164,
        pid=1000 + seq % 9000,
    )
    return f"<{facility * 8 + severity}>{body}".encode()


@dataclass
class TwinSyslog:
    """Turns the twin's events into vendor syslog and sends it to a collector."""

    topo: TopologyStore
    telemetry: TwinTelemetry
    collector: tuple[str, int]
    transport: Literal["udp", "tcp"] = "udp"
    framing: Literal["octet-counting", "lf"] = "octet-counting"
    _pending: deque[tuple[str, bytes]] = field(default_factory=lambda: deque(maxlen=50_000))
    _seq: dict[str, int] = field(default_factory=dict)
    sent: int = 0

    def _emit(self, device: str, kind: str, ts: float, **kw: object) -> None:
        seq = self._seq.get(device, 0) + 1
        self._seq[device] = seq
        vendor = self.topo.device(device).vendor
        msg = format_message(vendor, kind, ts=ts, host=device, seq=seq, **kw)  # type: ignore[arg-type]
        if msg is not None:
            self._pending.append((device, msg))

    def observe(self, event: Event) -> None:
        if not isinstance(event, DeviceEvent):
            return
        if event.kind in ("link_down", "link_up") and event.entity:
            ifname = event.entity.partition(":")[2]
            self._emit(
                event.device,
                event.kind,
                event.ts,
                ifname=ifname,
                ifindex=self.telemetry.ifindex(event.device, ifname),
            )
        elif event.kind in ("ospf_down", "ospf_up") and event.entity:
            link = self.topo.link(self.topo.interface(event.entity).link or "")
            self._emit(
                event.device,
                event.kind,
                event.ts,
                ifname=event.entity.partition(":")[2],
                peer_ip=self.telemetry.loopback(link.other(event.device)),
            )
        elif event.kind in ("unreachable", "reachable"):
            # its neighbours lose (regain) their BGP sessions to it
            kind = "bgp_down" if event.kind == "unreachable" else "bgp_up"
            for peer in self.topo.neighbors(event.device):
                self._emit(peer, kind, event.ts, peer_ip=self.telemetry.loopback(event.device))

    def _frame(self, msg: bytes) -> bytes:
        if self.framing == "lf":
            return msg + b"\n"
        return str(len(msg)).encode() + b" " + msg

    async def run(self, stop: asyncio.Event) -> None:
        if self.transport == "udp":
            await self._run_udp(stop)
        else:
            await self._run_tcp(stop)

    async def _run_udp(self, stop: asyncio.Event) -> None:
        await send_per_device(
            self._pending, self.collector, self.telemetry.loopback, stop, on_sent=self._count
        )

    def _count(self) -> None:
        self.sent += 1

    async def _run_tcp(self, stop: asyncio.Event) -> None:
        writers: dict[str, asyncio.StreamWriter] = {}
        backoff = 0.2
        try:
            while True:
                while self._pending:
                    dev, msg = self._pending[0]
                    try:
                        w = writers.get(dev)
                        if w is None:
                            _, w = await asyncio.open_connection(
                                *self.collector, local_addr=(self.telemetry.loopback(dev), 0)
                            )
                            writers[dev] = w
                        w.write(self._frame(msg))
                        await w.drain()
                    except OSError:
                        writers.pop(dev, None)
                        if stop.is_set():
                            return  # the collector is gone and we are asked to stop
                        await asyncio.sleep(backoff)
                        backoff = min(backoff * 2, 5.0)
                        continue
                    self._pending.popleft()
                    self.sent += 1
                    backoff = 0.2
                if stop.is_set():
                    return
                await asyncio.sleep(0.05)
        finally:
            for w in writers.values():
                w.close()
                with contextlib.suppress(Exception):
                    await w.wait_closed()
