"""sFlow version 5 datagrams (sflow.org/sflow_version_5.txt, sflow_drops.txt), decoded to samples.

Every sample of a datagram becomes one flat dict, in datagram order: sample-level fields by
their sFlow structure names (``agent_address``, ``sampling_rate``, ``input``, ``output``,
``extended_switch.src_vlan``, ``extended_gateway.dst_as_path``, ``if_counters.ifInOctets``,
...) and the sampled packet by IANA IPFIX names (see :mod:`.packet`). sFlow is XDR: records are
self-delimiting (format, length), so unknown record formats are skipped by length, and a
record that claims more bytes than its sample holds raises ``DecodeError("truncated")``.

Hand-written: no maintained PyPI package decodes sFlow v5 with drop notifications; XDR is a
few fixed-width reads, done here with ``struct`` under explicit bounds checks.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field

from netvigil.collectors.flow.packet import decode_header
from netvigil.errors import DecodeError
from netvigil.events import FieldValue

__all__ = ["SFlowDatagram", "decode_sflow", "is_sflow"]

_LOCAL_IF = 0x3FFFFFFF  # "internal" interface: not a real ifIndex
_MAX_ITEMS = 4096  # more samples/records/AS numbers than fit a datagram: malformed

Sample = dict[str, FieldValue | list[int]]


@dataclass
class SFlowDatagram:
    agent_address: str
    sub_agent_id: int
    sequence: int
    uptime_ms: int
    samples: list[Sample] = field(default_factory=list)


class _Xdr:
    __slots__ = ("d", "end", "p")

    def __init__(self, d: bytes, p: int = 0, end: int | None = None) -> None:
        self.d, self.p, self.end = d, p, len(d) if end is None else end

    def need(self, n: int, what: str) -> None:
        if n < 0 or self.p + n > self.end:
            raise DecodeError(
                "truncated", f"sFlow {what}: needs {n} bytes, {self.end - self.p} left"
            )

    def u32(self, what: str = "field") -> int:
        self.need(4, what)
        v: int = struct.unpack_from(">I", self.d, self.p)[0]
        self.p += 4
        return v

    def u64(self, what: str = "field") -> int:
        self.need(8, what)
        v: int = struct.unpack_from(">Q", self.d, self.p)[0]
        self.p += 8
        return v

    def opaque(self, n: int, what: str) -> bytes:
        """``n`` bytes, then XDR padding to 4 (tolerated when the datagram ends first)."""
        self.need(n, what)
        v = self.d[self.p : self.p + n]
        self.p = min(self.p + (n + 3) // 4 * 4, self.end)
        return v

    def string(self, what: str) -> str:
        n = self.u32(what)
        return self.opaque(n, what).decode("utf-8", "replace")

    def address(self, what: str) -> str:
        kind = self.u32(what)
        if kind == 1:
            return socket.inet_ntoa(self.opaque(4, what))
        if kind == 2:
            return socket.inet_ntop(socket.AF_INET6, self.opaque(16, what))
        if kind == 0:
            return ""
        raise DecodeError("bad_address", f"sFlow {what}: address type {kind}")

    def count(self, what: str) -> int:
        n = self.u32(what)
        if n > _MAX_ITEMS:
            raise DecodeError("bad_count", f"sFlow {what}: {n} items")
        return n

    def sub(self, length: int, what: str) -> _Xdr:
        """A reader over the next ``length`` bytes; this reader skips them (with padding)."""
        self.need(length, what)
        inner = _Xdr(self.d, self.p, self.p + length)
        self.p = min(self.p + (length + 3) // 4 * 4, self.end)
        return inner


def is_sflow(data: bytes) -> bool:
    """sFlow v5 starts with the 32-bit version 5 (NetFlow v5 would have 0 records then)."""
    return data[:4] == b"\x00\x00\x00\x05"


def decode_sflow(data: bytes) -> SFlowDatagram:
    """Decode one sFlow v5 datagram; bytes after the last declared sample are ignored."""
    x = _Xdr(data)
    version = x.u32("version")
    if version != 5:
        raise DecodeError("bad_version", f"sFlow version {version}, only 5 is supported")
    dg = SFlowDatagram(x.address("agent_address"), x.u32(), x.u32(), x.u32())
    for _ in range(x.count("samples")):
        fmt = x.u32("sample format")
        body = x.sub(x.u32("sample length"), "sample")
        enterprise, kind = fmt >> 12, fmt & 0xFFF
        sample: Sample = {"agent_address": dg.agent_address}
        if enterprise == 0 and kind in (1, 3):
            _flow_sample(body, kind == 3, sample)
        elif enterprise == 0 and kind in (2, 4):
            _counter_sample(body, kind == 4, sample)
        elif enterprise == 0 and kind == 5:
            _discard_sample(body, sample)
        else:
            sample["sample_type"] = f"unknown:{enterprise}:{kind}"
        dg.samples.append(sample)
    return dg


def _interface(value: int, fmt: int | None = None) -> int | None:
    if fmt is None:
        fmt, value = value >> 30, value & 0x3FFFFFFF
    return value if fmt == 0 and value != _LOCAL_IF else None


def _source(x: _Xdr, expanded: bool, s: Sample) -> None:
    if expanded:
        s["source_id_type"], s["source_id_index"] = x.u32(), x.u32()
    else:
        v = x.u32()
        s["source_id_type"], s["source_id_index"] = v >> 24, v & 0xFFFFFF


def _flow_sample(x: _Xdr, expanded: bool, s: Sample) -> None:
    s["sample_type"] = "flow_sample"
    s["sequence_number"] = x.u32()
    _source(x, expanded, s)
    s["sampling_rate"], s["sample_pool"], s["drops"] = x.u32(), x.u32(), x.u32()
    if expanded:
        i_fmt, i_val, o_fmt, o_val = x.u32(), x.u32(), x.u32(), x.u32()
        inp, outp = _interface(i_val, i_fmt), _interface(o_val, o_fmt)
    else:
        inp, outp = _interface(x.u32()), _interface(x.u32())
    if inp is not None:
        s["input"] = inp
    if outp is not None:
        s["output"] = outp
    _flow_records(x, s)


def _discard_sample(x: _Xdr, s: Sample) -> None:
    s["sample_type"] = "discarded_packet"
    s["sequence_number"] = x.u32()
    _source(x, True, s)
    s["drops"] = x.u32()
    inp, outp = _interface(x.u32()), _interface(x.u32())
    if inp is not None:
        s["input"] = inp
    if outp is not None:
        s["output"] = outp
    s["reason"] = x.u32()
    _flow_records(x, s)


def _flow_records(x: _Xdr, s: Sample) -> None:
    n = x.count("flow records")
    s["flow_record_count"] = n
    for _ in range(n):
        fmt = x.u32("record format")
        r = x.sub(x.u32("record length"), "flow record")
        if fmt >> 12:
            continue  # enterprise records: skipped by length
        kind = fmt & 0xFFF
        if kind == 1:
            proto, frame_len, stripped, hlen = r.u32(), r.u32(), r.u32(), r.u32()
            s["frame_length"], s["stripped"] = frame_len, stripped
            s.update(decode_header(proto, r.opaque(min(hlen, r.end - r.p), "sampled header")))
        elif kind == 2:
            s["frame_length"] = r.u32()
            s["sourceMacAddress"] = r.opaque(8, "mac")[:6].hex(":")
            s["destinationMacAddress"] = r.opaque(8, "mac")[:6].hex(":")
            s["ethernetType"] = r.u32()
        elif kind in (3, 4):
            v6 = kind == 4
            s["ipTotalLength"], s["protocolIdentifier"] = r.u32(), r.u32()
            size, fam = (16, socket.AF_INET6) if v6 else (4, socket.AF_INET)
            src, dst = r.opaque(size, "ip"), r.opaque(size, "ip")
            s["sourceIPv6Address" if v6 else "sourceIPv4Address"] = socket.inet_ntop(fam, src)
            s["destinationIPv6Address" if v6 else "destinationIPv4Address"] = socket.inet_ntop(
                fam, dst
            )
            s["sourceTransportPort"], s["destinationTransportPort"] = r.u32(), r.u32()
            s["tcpControlBits"], s["ipClassOfService"] = r.u32(), r.u32()
        elif kind == 1001:
            s["extended_switch.src_vlan"], s["extended_switch.src_priority"] = r.u32(), r.u32()
            s["extended_switch.dst_vlan"], s["extended_switch.dst_priority"] = r.u32(), r.u32()
        elif kind == 1002:
            s["extended_router.next_hop"] = r.address("next hop")
            s["extended_router.src_mask_len"] = r.u32()
            s["extended_router.dst_mask_len"] = r.u32()
        elif kind == 1003:
            _gateway(r, s)
        elif kind == 1036:
            s["egress_queue.queue"] = r.u32()
        elif kind == 1037:
            s["extended_acl.number"] = r.u32()
            s["extended_acl.name"] = r.string("acl name")
            s["extended_acl.direction"] = r.u32()
        elif kind == 1038:
            s["extended_function.symbol"] = r.string("function symbol")


def _gateway(r: _Xdr, s: Sample) -> None:
    s["extended_gateway.next_hop"] = r.address("gateway next hop")
    s["extended_gateway.as"] = r.u32()
    s["extended_gateway.src_as"] = r.u32()
    s["extended_gateway.src_peer_as"] = r.u32()
    path: list[int] = []
    for _ in range(r.count("as path segments")):
        _seg_type = r.u32()
        for _ in range(r.count("as path")):
            path.append(r.u32())
    s["extended_gateway.dst_as_path"] = path
    s["extended_gateway.communities"] = [r.u32() for _ in range(r.count("communities"))]
    s["extended_gateway.localpref"] = r.u32()


_IF_COUNTERS = (
    ("ifIndex", 4), ("ifType", 4), ("ifSpeed", 8), ("ifDirection", 4), ("ifStatus", 4),
    ("ifInOctets", 8), ("ifInUcastPkts", 4), ("ifInMulticastPkts", 4),
    ("ifInBroadcastPkts", 4), ("ifInDiscards", 4), ("ifInErrors", 4),
    ("ifInUnknownProtos", 4), ("ifOutOctets", 8), ("ifOutUcastPkts", 4),
    ("ifOutMulticastPkts", 4), ("ifOutBroadcastPkts", 4), ("ifOutDiscards", 4),
    ("ifOutErrors", 4), ("ifPromiscuousMode", 4),
)  # fmt: skip
_PROCESSOR = (
    ("cpu_percentage_5s", 4), ("cpu_percentage_1m", 4), ("cpu_percentage_5m", 4),
    ("total_memory", 8), ("free_memory", 8),
)  # fmt: skip


def _counter_sample(x: _Xdr, expanded: bool, s: Sample) -> None:
    s["sample_type"] = "counter_sample"
    s["sequence_number"] = x.u32()
    _source(x, expanded, s)
    for _ in range(x.count("counter records")):
        fmt = x.u32("record format")
        r = x.sub(x.u32("record length"), "counter record")
        table = {1: ("if_counters", _IF_COUNTERS), 1001: ("processor", _PROCESSOR)}.get(fmt)
        if table is None:
            continue
        prefix, fields = table
        for name, size in fields:
            s[f"{prefix}.{name}"] = r.u64() if size == 8 else r.u32()
