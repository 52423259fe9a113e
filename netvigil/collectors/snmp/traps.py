"""The SNMP trap and inform receiver: notifications (v1, v2c, v3) in, device events out.

pysnmp's engine does the protocol work: community check, USM authentication and
decryption (v3), and the response an inform needs. What NetVigil adds is that nothing it
drops is lost silently. The UDP transport hands each datagram to the engine synchronously
(pysnmp processes a message in one call), then looks at what happened: a notification that
reached the callback became events; anything else raised one of the engine's own error
counters (snmpInASNParseErrs, snmpInBadCommunityNames, usmStatsWrongDigests, ...), which
names the reason of a dead letter carrying the raw datagram. USM time/engine discovery
reports (usmStatsUnknownEngineIDs, usmStatsNotInTimeWindows) are protocol handshakes the
sender retries after, so they are counted, not dead-lettered.

The socket asks for a receive buffer of ``rcvbuf`` bytes like every UDP listener, and its
kernel drops are counted and logged (:class:`~netvigil.collectors.udpwatch.UdpWatch`). Events
wait for the pipeline in a queue of at most ``queue_size``: a datagram that arrives while it
is full is dropped before the engine sees it, and counted as a queue drop.

Turning varbinds into events is pure (:func:`notification_events`); what notifications mean
is data (:data:`~netvigil.collectors.snmp.oids.TRAP_KINDS`). A linkDown naming an interface
that is administratively down (ifAdminStatus 2 in its varbinds) is ``admin_down``: an
operator's shutdown is not a fault, as the poller skips such interfaces too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyasn1.codec.ber import decoder as ber_decoder
from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.entity import config, engine
from pysnmp.entity.rfc3413 import ntfrcv
from pysnmp.proto.api import v2c
from pysnmp.proto.mpmod.rfc3412 import SNMPv3Message
from pysnmp.proto.secmod.rfc3414.service import UsmSecurityParameters

from netvigil.collectors.base import CollectorCounters, dead_letter
from netvigil.collectors.snmp.client import AUTH_PROTOCOLS, PRIV_PROTOCOLS
from netvigil.collectors.snmp.mib import Value, display, to_python
from netvigil.collectors.snmp.oids import (
    IF_COLUMNS,
    SNMP_TRAP_OID,
    SYS_UPTIME_VB,
    TRAP_KINDS,
    Oid,
    oid_str,
)
from netvigil.collectors.udpwatch import RCVBUF, UdpWatch
from netvigil.errors import DecodeError
from netvigil.events import DeviceEvent, Event, interface_id
from netvigil.streams.base import Emit
from netvigil.streams.meters import EDGE, EdgeMeters, Reading

__all__ = ["TrapReceiver", "V3User", "notification_events"]

log = logging.getLogger(__name__)

MAX_ENGINE_IDS = 10_000

#: engine counter -> dead-letter reason (None: a handshake, counted but not a dead letter)
_COUNTERS: dict[tuple[str, str], str | None] = {
    ("__SNMPv2-MIB", "snmpInASNParseErrs"): "asn1",
    ("__SNMPv2-MIB", "snmpInBadVersions"): "bad_version",
    ("__SNMPv2-MIB", "snmpInBadCommunityNames"): "bad_community",
    ("__SNMP-MPD-MIB", "snmpUnknownPDUHandlers"): "not_a_notification",
    ("__SNMP-MPD-MIB", "snmpInvalidMsgs"): "invalid_message",
    ("__SNMP-MPD-MIB", "snmpUnknownSecurityModels"): "unknown_security_model",
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsUnknownUserNames"): "unknown_user",
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsWrongDigests"): "wrong_digest",
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsDecryptionErrors"): "decryption_error",
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsUnsupportedSecLevels"): "unsupported_sec_level",
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsUnknownEngineIDs"): None,
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsNotInTimeWindows"): None,
}


@dataclass(frozen=True)
class V3User:
    """A USM user notifications may come from (authPriv, authNoPriv or noAuthNoPriv)."""

    user: str
    auth_key: str = ""
    priv_key: str = ""
    auth_protocol: str = "SHA"
    priv_protocol: str = "AES"


def notification_events(
    varbinds: Sequence[tuple[Oid, Value]],
    device: str,
    ts: float,
    source: str = "snmp-trap",
) -> list[DeviceEvent]:
    """The device events of one notification's varbinds (SNMPv2 layout: sysUpTime.0,
    snmpTrapOID.0, then the objects). Raises DecodeError if it is not a notification."""
    if len(varbinds) < 2 or varbinds[1][0] != SNMP_TRAP_OID:
        raise DecodeError("no_trap_oid", "the second varbind is not snmpTrapOID.0")
    if varbinds[0][0] != SYS_UPTIME_VB:
        raise DecodeError("no_uptime", "the first varbind is not sysUpTime.0")
    trap_oid = varbinds[1][1]
    if not isinstance(trap_oid, tuple):
        raise DecodeError("bad_value", f"snmpTrapOID.0 is {trap_oid!r}, not an OID")
    spec = TRAP_KINDS.get(trap_oid)
    attrs = {"trap_oid": oid_str(trap_oid)}
    uptime = varbinds[0][1]
    if isinstance(uptime, int):
        attrs["uptime_cs"] = str(uptime)
    index: Oid | None = None
    names: dict[Oid, str] = {}
    for name, value in varbinds[2:]:
        attrs[oid_str(name)] = display(value)
        if spec is None:
            continue
        for col in (*spec.entity_columns, *spec.name_columns):
            if name[: len(col)] == col and len(name) > len(col):
                index = index or name[len(col) :]
                if col in spec.name_columns and display(value):
                    names.setdefault(name[len(col) :], display(value))
    entity = ""
    if spec is not None and index is not None:
        if spec.name_columns:
            # an interface: named by ifName/ifDescr in the trap, else by its ifIndex
            entity = interface_id(device, names.get(index) or f"ifIndex{oid_str(index)}")
        else:
            entity = oid_str(index)
    kind = spec.kind if spec is not None else "trap"
    if kind in ("link_down", "link_up") and index is not None:
        admin = attrs.get(oid_str(IF_COLUMNS["ifAdminStatus"] + index))
        if admin == "2":  # an operator's shutdown is not a fault (as the poller has it)
            kind = "admin_down" if kind == "link_down" else kind
    return [DeviceEvent(ts=ts, device=device, kind=kind, entity=entity, source=source, attrs=attrs)]


class _Transport(udp.UdpAsyncioTransport):  # type: ignore[misc]
    """pysnmp's UDP transport, with each datagram handed to :class:`TrapReceiver` first."""

    receiver: TrapReceiver

    def datagram_received(self, datagram: bytes, transportAddress: Any) -> None:
        r = self.receiver
        if r._backlog + r.queued() >= r.queue_size:
            r.dropped += 1  # logged by the watch
            return
        r._backlog += 1
        self.loop.call_soon(r._receive, self, transportAddress, datagram)


class TrapReceiver:
    """Listens for SNMP notifications on UDP; emits device events; answers informs."""

    name = "snmp-traps"

    def __init__(
        self,
        host: str = "0.0.0.0",
        port: int = 162,
        *,
        communities: Sequence[str] = ("public",),
        v3_users: Sequence[V3User] = (),
        devices: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        rcvbuf: int = RCVBUF,
        queue_size: int = 10_000,
        meters: EdgeMeters = EDGE,
    ) -> None:
        self.host, self.port = host, port
        self.rcvbuf, self.queue_size, self.meters = rcvbuf, queue_size, meters
        self.dropped = 0
        """Datagrams dropped because the queue was full."""
        self.watch: UdpWatch | None = None
        self._backlog = 0
        self.devices = dict(devices or {})
        """Sender address -> device name (default: the address)."""
        self.clock = clock
        self.counters = CollectorCounters()
        self.handshakes = 0
        self._engine = engine.SnmpEngine()
        self._users: dict[bytes, dict[str, Any]] = {}
        self._engine_ids: set[tuple[bytes, bytes]] = set()
        for i, community in enumerate(communities):
            config.add_v1_system(self._engine, f"nv-area-{i}", community)
        for u in v3_users:
            auth = AUTH_PROTOCOLS[u.auth_protocol] if u.auth_key else AUTH_PROTOCOLS["none"]
            priv = PRIV_PROTOCOLS[u.priv_protocol] if u.priv_key else PRIV_PROTOCOLS["none"]
            keys = dict(
                authProtocol=auth,
                authKey=u.auth_key or None,
                privProtocol=priv,
                privKey=u.priv_key or None,
            )
            # informs: this engine is authoritative; traps: the sender's engine is (see
            # _learn_engine)
            config.add_v3_user(self._engine, u.user, **keys)
            self._users.setdefault(u.user.encode(), keys)
        self._transport: _Transport | None = None  # made in start(), inside the loop
        self._pending: list[Event] = []
        self._delivered = False
        self._sender = ""
        self._queue: asyncio.Queue[Event] | None = None
        meters.add(self)

    def queued(self) -> int:
        """Events waiting for the pipeline."""
        return self._queue.qsize() if self._queue is not None else len(self._pending)

    def readings(self) -> Iterator[Reading]:
        return self.counters.readings(self.name)

    # ------------------------------------------------------------------ engine side

    def _stats(self) -> dict[tuple[str, str], int]:
        builder = self._engine.get_mib_builder()
        out = {}
        for mod, sym in _COUNTERS:
            try:
                (node,) = builder.import_symbols(mod, sym)
                out[(mod, sym)] = int(node.syntax)
            except Exception:  # a counter this pysnmp does not keep
                out[(mod, sym)] = 0
        return out

    def _receive(self, transport: Any, address: Any, datagram: bytes) -> None:
        """Run the engine on one datagram, then account for what it did with it."""
        self._backlog -= 1
        self.counters.received += 1
        before = self._stats()
        self._delivered = False
        self._sender = str(address[0])
        try:
            transport._callback_function(transport, address, datagram)
        except Exception as exc:  # pysnmp raised instead of counting: still not lost
            self._reject(datagram, f"engine_error: {exc!r}")
            return
        if self._delivered:
            return
        after = self._stats()
        changed = [k for k in _COUNTERS if after[k] > before[k]]
        auth_failed = any(_COUNTERS[k] in ("unknown_user", "wrong_digest") for k in changed)
        if auth_failed and self._learn_engine(datagram):
            before = self._stats()
            transport._callback_function(transport, address, datagram)
            if self._delivered:
                return
            after = self._stats()
            changed = [k for k in _COUNTERS if after[k] > before[k]]
        if changed and all(_COUNTERS[k] is None for k in changed):
            self.handshakes += 1
            return
        reasons = [r for k in changed if (r := _COUNTERS[k])]
        reason = reasons[0] if reasons else "dropped"
        self._reject(datagram, f"{reason}: from {address[0]}:{address[1]}")

    def _learn_engine(self, datagram: bytes) -> bool:
        """A v3 trap is authenticated with keys localized to the *sender's* engine id, which
        is not known in advance: localize a configured user's keys to it (once) so the
        engine can check the message. Returns whether a user was added."""
        try:
            msg, _ = ber_decoder.decode(datagram, asn1Spec=SNMPv3Message())
            params, _ = ber_decoder.decode(
                msg["msgSecurityParameters"], asn1Spec=UsmSecurityParameters()
            )
            engine_id = bytes(params["msgAuthoritativeEngineId"])
            user = bytes(params["msgUserName"])
        except Exception:  # not a v3 message we can read: the engine's reason stands
            return False
        keys = self._users.get(user)
        if keys is None or not engine_id or (user, engine_id) in self._engine_ids:
            return False
        if len(self._engine_ids) >= MAX_ENGINE_IDS:  # bounded: senders cannot grow it forever
            return False
        self._engine_ids.add((user, engine_id))
        config.add_v3_user(
            self._engine,
            user.decode(errors="replace"),
            securityEngineId=v2c.OctetString(engine_id),
            **keys,
        )
        return True

    def _reject(self, datagram: bytes, reason: str) -> None:
        letter = dead_letter(
            f"snmp-trap:{self._sender}", datagram, reason, self.clock(), self.counters
        )
        self._put(letter)

    def _on_notification(
        self,
        snmp_engine: Any,
        state_reference: Any,
        context_engine_id: Any,
        context_name: Any,
        varbinds: Any,
        cb_ctx: Any,
    ) -> None:
        self._delivered = True
        ts = self.clock()
        device = self.devices.get(self._sender, self._sender)
        try:
            vbs = [(tuple(int(p) for p in n), to_python(v)) for n, v in varbinds]
            events = notification_events(vbs, device, ts)
        except DecodeError as exc:
            raw = repr([(str(n), v.prettyPrint()) for n, v in varbinds]).encode()
            self._put(dead_letter(f"snmp-trap:{self._sender}", raw, str(exc), ts, self.counters))
            return
        self.counters.decoded += len(events)
        for e in events:
            self._put(e)

    def _put(self, event: Event) -> None:
        if self._queue is None:
            self._pending.append(event)
        else:
            self._queue.put_nowait(event)

    # ------------------------------------------------------------------ collector side

    async def start(self) -> int:
        """Bind the socket; returns the port (useful with ``port=0``)."""
        self._queue = asyncio.Queue()
        for e in self._pending:
            self._queue.put_nowait(e)
        self._pending.clear()
        self._transport = _Transport()
        self._transport.receiver = self
        config.add_transport(
            self._engine,
            udp.DOMAIN_NAME,
            self._transport.open_server_mode((self.host, self.port)),
        )
        ntfrcv.NotificationReceiver(self._engine, self._on_notification)
        lport = getattr(self._transport, "_lport", None)
        if lport is not None:
            await lport
        sock = (
            self._transport.transport.get_extra_info("sockname")
            if self._transport.transport
            else None
        )
        if sock:
            self.port = int(sock[1])
        if self._transport.transport is not None:
            self.watch = UdpWatch(
                self.name,
                f"udp {self.host}:{self.port}",
                self._transport.transport.get_extra_info("socket"),
                self.rcvbuf,
                queue_drops=lambda: self.dropped,
                meters=self.meters,
            )
            self.watch.start()
        return self.port

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        """Receive until ``stop`` is set; every notification or dead letter is emitted."""
        if self._queue is None:
            await self.start()
        assert self._queue is not None
        stopper = asyncio.create_task(stop.wait())
        try:
            while True:
                getter = asyncio.create_task(self._queue.get())
                done, _ = await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    await emit(getter.result())
                    continue
                getter.cancel()
                break
            while not self._queue.empty():  # what arrived before stop is not dropped
                await emit(self._queue.get_nowait())
        finally:
            stopper.cancel()
            self.close()

    def close(self) -> None:
        if self.watch is not None:
            self.watch.stop()  # before the socket closes
        self._engine.close_dispatcher()

    def stats(self) -> dict[str, object]:
        return {**self.counters.snapshot(), "handshakes": self.handshakes}
