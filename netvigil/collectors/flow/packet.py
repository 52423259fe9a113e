"""The sampled packet header of an sFlow flow sample, decoded to IANA IPFIX element names.

sFlow carries the first bytes (typically 128) of a sampled frame: Ethernet with VLAN or QinQ
tags, or a bare IPv4/IPv6 header. The header is cut wherever the exporter cut it, so every
layer is read only as far as it is present and a short layer ends the decoding quietly (what
was read so far is kept) instead of raising. Hand-written rather than dpkt's: dpkt raises on
truncated layers and builds an object per layer, and only a dozen fixed offsets are needed.
"""

from __future__ import annotations

import socket

from netvigil.events import FieldValue

__all__ = ["PROTO_ETHERNET", "PROTO_IPV4", "PROTO_IPV6", "decode_header"]

PROTO_ETHERNET = 1  # sFlow header_protocol values (sFlow v5, "sampled_header")
PROTO_IPV4 = 11
PROTO_IPV6 = 12

_VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
_V6_EXTENSIONS = (0, 43, 60)  # hop-by-hop, routing, destination options
_V6_FRAGMENT = 44


def decode_header(protocol: int, data: bytes) -> dict[str, FieldValue]:
    """Fields of a sampled header; unknown protocols and cut headers give what could be read."""
    out: dict[str, FieldValue] = {}
    if protocol == PROTO_ETHERNET:
        _ethernet(data, out)
    elif protocol == PROTO_IPV4:
        _ipv4(data, 0, out)
    elif protocol == PROTO_IPV6:
        _ipv6(data, 0, out)
    return out


def _ethernet(d: bytes, out: dict[str, FieldValue]) -> None:
    if len(d) < 14:
        return
    out["destinationMacAddress"] = d[0:6].hex(":")
    out["sourceMacAddress"] = d[6:12].hex(":")
    pos = 12
    etype = int.from_bytes(d[12:14], "big")
    tags = 0
    while etype in _VLAN_TPIDS and len(d) >= pos + 6:
        vid = int.from_bytes(d[pos + 2 : pos + 4], "big") & 0x0FFF
        out["dot1qVlanId" if tags == 0 else "dot1qCustomerVlanId"] = vid
        tags += 1
        pos += 4
        etype = int.from_bytes(d[pos : pos + 2], "big")
    out["ethernetType"] = etype
    if etype == 0x0800:
        _ipv4(d, pos + 2, out)
    elif etype == 0x86DD:
        _ipv6(d, pos + 2, out)


def _ipv4(d: bytes, p: int, out: dict[str, FieldValue]) -> None:
    if len(d) < p + 20 or d[p] >> 4 != 4:
        return
    ihl = (d[p] & 0x0F) * 4
    out["ipClassOfService"] = d[p + 1]
    out["ipTotalLength"] = int.from_bytes(d[p + 2 : p + 4], "big")
    out["fragmentIdentification"] = int.from_bytes(d[p + 4 : p + 6], "big")
    frag_offset = int.from_bytes(d[p + 6 : p + 8], "big") & 0x1FFF
    out["ipTTL"] = d[p + 8]
    proto = d[p + 9]
    out["protocolIdentifier"] = proto
    out["sourceIPv4Address"] = socket.inet_ntoa(d[p + 12 : p + 16])
    out["destinationIPv4Address"] = socket.inet_ntoa(d[p + 16 : p + 20])
    if frag_offset == 0 and ihl >= 20:
        _transport(d, p + ihl, proto, False, out)


def _ipv6(d: bytes, p: int, out: dict[str, FieldValue]) -> None:
    if len(d) < p + 40 or d[p] >> 4 != 6:
        return
    first = int.from_bytes(d[p : p + 4], "big")
    out["ipClassOfService"] = (first >> 20) & 0xFF
    out["flowLabelIPv6"] = first & 0xFFFFF
    out["ipTotalLength"] = int.from_bytes(d[p + 4 : p + 6], "big") + 40
    nxt = d[p + 6]
    out["ipTTL"] = d[p + 7]
    out["sourceIPv6Address"] = socket.inet_ntop(socket.AF_INET6, d[p + 8 : p + 24])
    out["destinationIPv6Address"] = socket.inet_ntop(socket.AF_INET6, d[p + 24 : p + 40])
    pos = p + 40
    first_fragment = True
    for _ in range(8):  # a bounded walk over extension headers
        if nxt in _V6_EXTENSIONS and len(d) >= pos + 2:
            nxt, pos = d[pos], pos + (d[pos + 1] + 1) * 8
        elif nxt == _V6_FRAGMENT and len(d) >= pos + 8:
            out["fragmentIdentification"] = int.from_bytes(d[pos + 4 : pos + 8], "big")
            first_fragment = int.from_bytes(d[pos + 2 : pos + 4], "big") >> 3 == 0
            nxt, pos = d[pos], pos + 8
        else:
            break
    out["protocolIdentifier"] = nxt
    if first_fragment:
        _transport(d, pos, nxt, True, out)


def _transport(d: bytes, p: int, proto: int, v6: bool, out: dict[str, FieldValue]) -> None:
    if proto in (6, 17, 132) and len(d) >= p + 4:
        out["sourceTransportPort"] = int.from_bytes(d[p : p + 2], "big")
        out["destinationTransportPort"] = int.from_bytes(d[p + 2 : p + 4], "big")
        if proto == 6 and len(d) >= p + 14:
            out["tcpControlBits"] = d[p + 13]
    elif proto == 1 and not v6 and len(d) >= p + 2:
        out["icmpTypeIPv4"] = d[p]
        out["icmpCodeIPv4"] = d[p + 1]
    elif proto == 58 and v6 and len(d) >= p + 2:
        out["icmpTypeIPv6"] = d[p]
        out["icmpCodeIPv6"] = d[p + 1]
