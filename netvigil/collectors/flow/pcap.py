"""Flow datagrams from files: one raw UDP payload per file, or every UDP payload of a pcap/pcapng.

Captures are read with dpkt (pcap and pcapng, Ethernet, Linux cooked, raw IP and loopback link
types); each UDP payload is yielded with the sender's address, which is the exporter.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import dpkt

from netvigil.errors import DecodeError

__all__ = ["datagrams"]

_PCAP_MAGICS = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"


def datagrams(path: str | Path, exporter: str) -> Iterator[tuple[bytes, str]]:
    """(payload, exporter) pairs: the file itself, or the UDP payloads of a capture."""
    data = Path(path).read_bytes()
    if data[:4] in _PCAP_MAGICS or data[:4] == _PCAPNG_MAGIC:
        yield from _capture(path)
    else:
        yield data, exporter


def _capture(path: str | Path) -> Iterator[tuple[bytes, str]]:
    with open(path, "rb") as fh:
        try:
            head = fh.read(4)
            fh.seek(0)
            reader = dpkt.pcapng.Reader(fh) if head == _PCAPNG_MAGIC else dpkt.pcap.Reader(fh)
            linktype = reader.datalink()
            for _ts, frame in reader:
                found = _udp(frame, linktype)
                if found is not None:
                    yield found
        except (ValueError, dpkt.dpkt.Error) as exc:
            raise DecodeError("bad_capture", f"{path}: {exc}") from exc


def _udp(frame: bytes, linktype: int) -> tuple[bytes, str] | None:
    try:
        if linktype == dpkt.pcap.DLT_EN10MB:
            ip = dpkt.ethernet.Ethernet(frame).data
        elif linktype == dpkt.pcap.DLT_LINUX_SLL:
            ip = dpkt.sll.SLL(frame).data
        elif linktype in (dpkt.pcap.DLT_NULL, dpkt.pcap.DLT_LOOP):
            ip = dpkt.loopback.Loopback(frame).data
        else:  # raw IP
            ip = dpkt.ip.IP(frame) if frame[:1] and frame[0] >> 4 == 4 else dpkt.ip6.IP6(frame)
    except (dpkt.dpkt.Error, IndexError, ValueError):
        return None
    udp = getattr(ip, "data", None)
    if not isinstance(udp, dpkt.udp.UDP):
        return None
    if isinstance(ip, dpkt.ip.IP):
        src = socket.inet_ntoa(ip.src)
    else:
        src = socket.inet_ntop(socket.AF_INET6, ip.src)
    return bytes(udp.data), src
