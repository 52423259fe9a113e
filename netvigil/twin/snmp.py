"""The twin's SNMP agents: pysnmp command responders over the twin's device state.

Each device answers GET, GETNEXT and GETBULK (v2c community ``public``; v3 user with SHA and
AES, the same credentials as the test snmpd) for SNMPv2-MIB system, IF-MIB ``ifTable`` and
``ifXTable`` (64-bit counters), HOST-RESOURCES ``hrProcessorLoad`` and LLDP-MIB local and
remote tables (a neighbour disappears while its link is down). The OID table is data built
from :class:`~netvigil.twin.telemetry.TwinTelemetry` for each request; pysnmp does the
protocol (BER, USM, the responders), and a small instrumentation object serves the table,
because the twin's values live in Python, not in compiled MIB modules. ``linkDown`` and
``linkUp`` notifications go out as SNMPv2c traps from the device's own loopback address.
"""

from __future__ import annotations

import asyncio
import bisect
from collections import deque
from collections.abc import Sequence
from typing import Any

from pyasn1.codec.ber import encoder
from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.entity import config, engine
from pysnmp.entity.rfc3413 import cmdrsp, context
from pysnmp.proto import rfc1902, rfc1905
from pysnmp.proto.api import v2c

from netvigil.events import DeviceEvent, Event
from netvigil.graph.base import TopologyStore
from netvigil.twin.network import TwinNetwork
from netvigil.twin.telemetry import TwinTelemetry
from netvigil.twin.udp import send_per_device

__all__ = ["V3_USER", "TwinSnmpAgents", "TwinTrapSender", "oid_table"]

V3_USER = {"user": "netvigil", "auth_key": "netvigil-auth-key", "priv_key": "netvigil-priv-key"}
OID = tuple[int, ...]

SYS = (1, 3, 6, 1, 2, 1, 1)
IF_TABLE = (1, 3, 6, 1, 2, 1, 2, 2, 1)
IFX_TABLE = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)
HR_PROC_LOAD = (1, 3, 6, 1, 2, 1, 25, 3, 3, 1, 2)
LLDP = (1, 0, 8802, 1, 1, 2, 1)
LINK_DOWN, LINK_UP = (1, 3, 6, 1, 6, 3, 1, 1, 5, 3), (1, 3, 6, 1, 6, 3, 1, 1, 5, 4)
#: sysObjectID per vendor (the vendors' enterprise numbers)
ENTERPRISE = {"cisco": 9, "juniper": 2636, "arista": 30065, "nokia": 6527}


def oid_table(
    name: str, telemetry: TwinTelemetry, network: TwinNetwork, topo: TopologyStore
) -> list[tuple[OID, Any]]:
    """The device's MIB view, sorted by OID."""
    dev = telemetry.devices[name]
    uptime = int(max(telemetry.now - dev.boot_ts, 0) * 100)
    ent = ENTERPRISE.get(dev.vendor.lower(), 8072)
    rows: list[tuple[OID, Any]] = [
        (
            (*SYS, 1, 0),
            rfc1902.OctetString(f"NetVigil twin {dev.vendor or 'generic'} {dev.role or 'router'}"),
        ),
        ((*SYS, 2, 0), rfc1902.ObjectIdentifier((1, 3, 6, 1, 4, 1, ent, 1))),
        ((*SYS, 3, 0), rfc1902.TimeTicks(uptime % 2**32)),
        ((*SYS, 5, 0), rfc1902.OctetString(name)),
        ((1, 3, 6, 1, 2, 1, 2, 1, 0), rfc1902.Integer32(len(dev.interfaces))),
        ((*HR_PROC_LOAD, 1), rfc1902.Integer32(round(dev.cpu))),
        ((*LLDP, 3, 3, 0), rfc1902.OctetString(name)),  # lldpLocSysName
    ]
    for idx, iface in enumerate(dev.interfaces.values(), start=1):
        ifid = f"{name}:{iface.name}"
        admin = 2 if ifid in network.admin_down else 1
        oper = 1 if iface.oper_up else 2
        rows += [
            ((*IF_TABLE, 1, idx), rfc1902.Integer32(idx)),
            ((*IF_TABLE, 2, idx), rfc1902.OctetString(iface.name)),
            ((*IF_TABLE, 3, idx), rfc1902.Integer32(6)),  # ethernetCsmacd
            ((*IF_TABLE, 5, idx), rfc1902.Gauge32(min(int(iface.speed_bps), 2**32 - 1))),
            ((*IF_TABLE, 7, idx), rfc1902.Integer32(admin)),
            ((*IF_TABLE, 8, idx), rfc1902.Integer32(oper)),
            ((*IF_TABLE, 10, idx), rfc1902.Counter32(iface.in_octets % 2**32)),
            ((*IF_TABLE, 16, idx), rfc1902.Counter32(iface.out_octets % 2**32)),
            ((*IF_TABLE, 19, idx), rfc1902.Counter32(iface.out_discards % 2**32)),
            ((*IFX_TABLE, 1, idx), rfc1902.OctetString(iface.name)),
            ((*IFX_TABLE, 6, idx), rfc1902.Counter64(iface.in_octets % 2**64)),
            ((*IFX_TABLE, 10, idx), rfc1902.Counter64(iface.out_octets % 2**64)),
            ((*IFX_TABLE, 15, idx), rfc1902.Gauge32(int(iface.speed_bps / 1e6))),
            ((*IFX_TABLE, 18, idx), rfc1902.OctetString(iface.description)),
            ((*LLDP, 3, 7, 1, 3, idx), rfc1902.OctetString(iface.name)),  # lldpLocPortId
        ]
        link = topo.interface(ifid).link
        if link and iface.oper_up:
            lk = topo.link(link)
            peer = lk.other(name)
            peer_if = lk.end(peer).partition(":")[2]
            rem = (0, idx, 1)  # lldpRemTimeMark, lldpRemLocalPortNum, lldpRemIndex
            rows += [
                ((*LLDP, 4, 1, 1, 4, *rem), rfc1902.Integer32(7)),  # chassis id: local
                ((*LLDP, 4, 1, 1, 5, *rem), rfc1902.OctetString(peer)),
                ((*LLDP, 4, 1, 1, 6, *rem), rfc1902.Integer32(5)),  # port id: ifName
                ((*LLDP, 4, 1, 1, 7, *rem), rfc1902.OctetString(peer_if)),
                ((*LLDP, 4, 1, 1, 9, *rem), rfc1902.OctetString(peer)),  # lldpRemSysName
            ]
    rows.sort(key=lambda r: r[0])
    return rows


class _TableInstrumentation:
    """What pysnmp's command responders call to read the MIB: served from a sorted table."""

    def __init__(self, agents: TwinSnmpAgents, device: str) -> None:
        self.agents = agents
        self.device = device

    def _table(self) -> tuple[list[OID], list[Any]]:
        rows = self.agents.table(self.device)
        return [r[0] for r in rows], [r[1] for r in rows]

    def read_variables(self, *var_binds: tuple[Any, Any], **ctx: Any) -> list[tuple[Any, Any]]:
        oids, values = self._table()
        out = []
        for name, _ in var_binds:
            key = tuple(name)
            i = bisect.bisect_left(oids, key)
            if i < len(oids) and oids[i] == key:
                out.append((name, values[i]))
            else:
                out.append((name, rfc1905.noSuchInstance))
        return out

    def read_next_variables(self, *var_binds: tuple[Any, Any], **ctx: Any) -> list[tuple[Any, Any]]:
        oids, values = self._table()
        out = []
        for name, _ in var_binds:
            i = bisect.bisect_right(oids, tuple(name))
            if i < len(oids):
                out.append((rfc1902.ObjectName(oids[i]), values[i]))
            else:
                out.append((name, rfc1905.endOfMibView))
        return out

    def write_variables(self, *var_binds: tuple[Any, Any], **ctx: Any) -> list[Any]:
        from pysnmp.smi.error import NotWritableError

        raise NotWritableError(name=var_binds[0][0] if var_binds else None, idx=0)


class TwinSnmpAgents:
    """One pysnmp agent per device, each on its own UDP port on loopback."""

    def __init__(
        self, telemetry: TwinTelemetry, network: TwinNetwork, community: str = "public"
    ) -> None:
        self.telemetry = telemetry
        self.network = network
        self.community = community
        self.ports: dict[str, int] = {}
        self._engines: list[engine.SnmpEngine] = []
        self._cache: dict[str, tuple[float, list[tuple[OID, Any]]]] = {}

    def table(self, device: str) -> list[tuple[OID, Any]]:
        """The device's table, rebuilt when the twin has moved on (one build per step)."""
        cached = self._cache.get(device)
        if cached is None or cached[0] != self.telemetry.now:
            rows = oid_table(device, self.telemetry, self.network, self.network.topo)
            cached = self._cache[device] = (self.telemetry.now, rows)
        return cached[1]

    async def start(self, devices: Sequence[str], host: str = "127.0.0.1") -> dict[str, int]:
        for name in devices:
            eng = engine.SnmpEngine()
            transport = udp.UdpAsyncioTransport().open_server_mode((host, 0))
            config.add_transport(eng, udp.DOMAIN_NAME, transport)
            await transport._lport  # the socket is bound once this resolves
            self.ports[name] = transport.transport.get_extra_info("sockname")[1]
            config.add_v1_system(eng, "twin-area", self.community)
            config.add_v3_user(
                eng,
                V3_USER["user"],
                config.USM_AUTH_HMAC96_SHA,
                V3_USER["auth_key"],
                config.USM_PRIV_CFB128_AES,
                V3_USER["priv_key"],
            )
            ctx = context.SnmpContext(eng)
            ctx.unregister_context_name(b"")
            ctx.register_context_name(b"", _TableInstrumentation(self, name))
            for responder in (
                cmdrsp.GetCommandResponder,
                cmdrsp.NextCommandResponder,
                cmdrsp.BulkCommandResponder,
            ):
                responder(eng, ctx)
            self._engines.append(eng)
        return dict(self.ports)

    def close(self) -> None:
        for eng in self._engines:
            eng.close_dispatcher()
        self._engines.clear()


class TwinTrapSender:
    """Sends linkDown/linkUp SNMPv2c traps for the twin's interface events."""

    def __init__(
        self, telemetry: TwinTelemetry, receiver: tuple[str, int], community: str = "public"
    ) -> None:
        self.telemetry = telemetry
        self.receiver = receiver
        self.community = community
        self._pending: deque[tuple[str, bytes]] = deque(maxlen=50_000)
        self.sent = 0

    def encode(self, event: DeviceEvent) -> bytes:
        dev = self.telemetry.devices[event.device]
        ifname = event.entity.partition(":")[2]
        idx = self.telemetry.ifindex(event.device, ifname)
        down = event.kind == "link_down"
        pdu = v2c.TrapPDU()
        v2c.apiTrapPDU.set_defaults(pdu)
        uptime = int(max(event.ts - dev.boot_ts, 0) * 100) % 2**32
        v2c.apiTrapPDU.set_varbinds(
            pdu,
            [
                ((1, 3, 6, 1, 2, 1, 1, 3, 0), v2c.TimeTicks(uptime)),
                (
                    (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0),
                    v2c.ObjectIdentifier(LINK_DOWN if down else LINK_UP),
                ),
                ((*IF_TABLE, 1, idx), v2c.Integer(idx)),
                ((*IF_TABLE, 7, idx), v2c.Integer(1)),
                ((*IF_TABLE, 8, idx), v2c.Integer(2 if down else 1)),
                ((*IFX_TABLE, 1, idx), v2c.OctetString(ifname)),
            ],
        )
        msg = v2c.Message()
        v2c.apiMessage.set_defaults(msg)
        v2c.apiMessage.set_community(msg, self.community)
        v2c.apiMessage.set_pdu(msg, pdu)
        return bytes(encoder.encode(msg))

    def observe(self, event: Event) -> None:
        if (
            isinstance(event, DeviceEvent)
            and event.kind in ("link_down", "link_up")
            and event.entity
        ):
            self._pending.append((event.device, self.encode(event)))

    async def run(self, stop: asyncio.Event) -> None:
        await send_per_device(
            self._pending, self.receiver, self.telemetry.loopback, stop, on_sent=self._count
        )

    def _count(self) -> None:
        self.sent += 1
