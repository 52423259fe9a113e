"""IPFIX Information Elements: names from the IANA registry (a data table), and how values look.

The registry (``ipfix_elements.csv`` beside this module) gives each element id a name and an
abstract data type. NetFlow v9 field types 1-127 are the same numbers (RFC 3954 / RFC 7012),
so one table serves v9 and IPFIX. RFC 5103 reverse elements (enterprise 29305) take the
forward element's name with a ``reverse`` prefix. Elements nobody registered are named
``ie<id>`` (v9 vendor types) or ``e<pen>.ie<id>`` (enterprise elements) and rendered by length.

Rendering follows the conventions that tools agree on: IPv4 dotted quad, IPv6 RFC 5952
(``inet_ntop``), MAC lower-case with colons, dateTimeSeconds/Milliseconds as RFC 3339 UTC with
milliseconds, dateTimeMicro/Nanoseconds (NTP format) with nine fraction digits, strings as UTF-8
without NUL padding, octet arrays as hex. Two forms exist for each type: a scalar one
(:func:`render`, from the field's bytes) for variable-length records and the reference path,
and a ``struct`` one (a format code plus a conversion of the unpacked value,
:func:`field_codec`) for the fast path that decodes a whole fixed-length set at once.
"""

from __future__ import annotations

import csv
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from netvigil.events import FieldValue

__all__ = [
    "INLINE",
    "INLINE_NAMES",
    "IPV4_NAMES",
    "REVERSE_PEN",
    "Element",
    "element",
    "element_id",
    "field_codec",
    "ipv4_name",
    "render",
]

REVERSE_PEN = 29305
"""RFC 5103 biflow: enterprise elements with this PEN are reverse-direction IANA elements."""

_NTP_EPOCH = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01


@dataclass(frozen=True, slots=True)
class Element:
    """A registered element: its name and abstract data type (``unsigned32``, ``ipv4Address``)."""

    name: str
    kind: str


def _load() -> tuple[dict[int, Element], dict[str, int]]:
    by_id: dict[int, Element] = {}
    text = resources.files(__package__).joinpath("ipfix_elements.csv").read_text()
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    for row in rows:
        by_id[int(row["id"])] = Element(row["name"], row["type"])
    return by_id, {e.name: i for i, e in by_id.items()}


_BY_ID, _BY_NAME = _load()


@cache
def element(eid: int, enterprise: int = 0) -> Element:
    """The element of a (v9 field type | IPFIX element id, enterprise number)."""
    if enterprise == 0:
        known = _BY_ID.get(eid)
        return known if known else Element(f"ie{eid}", "")
    if enterprise == REVERSE_PEN:
        fwd = _BY_ID.get(eid)
        if fwd is not None:
            return Element("reverse" + fwd.name[0].upper() + fwd.name[1:], fwd.kind)
    return Element(f"e{enterprise}.ie{eid}", "")


def element_id(name: str) -> int:
    """The IANA id of an element name (for tests and tables); KeyError if not registered."""
    return _BY_NAME[name]


# --------------------------------------------------------------------------- scalars


def _iso_ms(ms: int) -> FieldValue:
    try:
        dt = datetime.fromtimestamp(ms // 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return ms
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def _iso_ntp(raw: int) -> FieldValue:
    secs, frac = raw >> 32, raw & 0xFFFFFFFF
    try:
        dt = datetime.fromtimestamp(secs - _NTP_EPOCH, UTC)
    except (OverflowError, OSError, ValueError):
        return raw
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{frac * 1_000_000_000 >> 32:09d}Z"


def _text(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("utf-8", "replace")


def render(kind: str, raw: bytes) -> FieldValue:
    """The value of one element from its raw bytes (any length, reduced-size included)."""
    n = len(raw)
    if kind.startswith("unsigned") or kind.startswith("dateTime") or (not kind and 0 < n <= 8):
        v = int.from_bytes(raw, "big")
        if kind == "dateTimeSeconds":
            return _iso_ms(v * 1000)
        if kind == "dateTimeMilliseconds":
            return _iso_ms(v)
        if kind in ("dateTimeMicroseconds", "dateTimeNanoseconds"):
            return _iso_ntp(v) if n == 8 else v
        return v
    if kind.startswith("signed"):
        return int.from_bytes(raw, "big", signed=True) if n else 0
    if kind == "ipv4Address" and n == 4:
        return socket.inet_ntoa(raw)
    if kind == "ipv6Address" and n == 16:
        return socket.inet_ntop(socket.AF_INET6, raw)
    if kind == "macAddress" and n == 6:
        return raw.hex(":")
    if kind == "string":
        return _text(raw)
    if kind == "boolean" and n == 1:
        return {1: True, 2: False}.get(raw[0], raw[0])
    if kind in ("float32", "float64") and n in (4, 8):
        return float(np.frombuffer(raw, ">f4" if n == 4 else ">f8")[0])
    return raw.hex()


# --------------------------------------------------------------------------- fixed-length fields

Scalar = Callable[[Any], FieldValue]
"""Turns one value ``struct`` unpacked (an int, float or bytes) into the field's value."""

IPV4_NAMES: dict[int, str] = {}
"""Dotted quads by 32-bit value, bounded; the template builders look them up inline."""


def ipv4_name(v: int) -> FieldValue:
    # flows repeat addresses: a bounded cache makes most conversions one dict lookup
    s = IPV4_NAMES.get(v)
    if s is None:
        if len(IPV4_NAMES) > 1 << 16:
            IPV4_NAMES.clear()
        s = IPV4_NAMES[v] = socket.inet_ntoa(v.to_bytes(4, "big"))
    return s


def _ipv6(raw: bytes) -> FieldValue:
    return socket.inet_ntop(socket.AF_INET6, raw)


def _mac(raw: bytes) -> FieldValue:
    return raw.hex(":")


def _hex(raw: bytes) -> FieldValue:
    return raw.hex()


def _bool(v: int) -> FieldValue:
    return {1: True, 2: False}.get(v, v)


_SECOND_NAMES: dict[int, str] = {}
"""RFC 3339 seconds (without the fraction) by Unix second, bounded: flow timestamps of one
export fall in a few seconds, so formatting the date is a dict lookup, not a ``strftime``."""


def _iso_ms_cached(ms: int) -> FieldValue:
    """:func:`_iso_ms` with the seconds part from :data:`_SECOND_NAMES` (the same text)."""
    secs = ms // 1000
    head = _SECOND_NAMES.get(secs)
    if head is None:
        try:
            head = datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        except (OverflowError, OSError, ValueError):
            return ms
        if len(_SECOND_NAMES) > 1 << 16:
            _SECOND_NAMES.clear()
        _SECOND_NAMES[secs] = head
    return f"{head}.{ms % 1000:03d}Z"


def _seconds(v: int) -> FieldValue:
    return _iso_ms_cached(v * 1000)


INLINE: dict[Scalar, str] = {
    _mac: "{v}.hex(':')",
    _hex: "{v}.hex()",
    _ipv6: "ntop(AF6, {v})",
    ipv4_name: "(ip4.get({v}) or {call})",
    _iso_ms_cached: (
        '(f"{{{h}}}.{{{v} % 1000:03d}}Z" if ({h} := secs.get({v} // 1000)) else {call})'
    ),
    _seconds: '(f"{{{h}}}.000Z" if ({h} := secs.get({v})) else {call})',
}
"""Conversions the generated record builders write inline, with the same result as calling
them: ``{v}`` is the value, ``{h}`` a name to hold a part, ``{call}`` the call itself (a cache
miss); the names they use are :data:`INLINE_NAMES`."""

INLINE_NAMES: dict[str, object] = {
    "ntop": socket.inet_ntop,
    "AF6": socket.AF_INET6,
    "ip4": IPV4_NAMES,
    "secs": _SECOND_NAMES,
}

_NATIVE = {1: "B", 2: "H", 4: "I", 8: "Q"}  # struct codes of unsigned big-endian integers


@cache
def field_codec(kind: str, length: int) -> tuple[str, Scalar | None]:
    """The ``struct`` format code of a fixed-length field (in a ``>`` layout), and the
    conversion of each of its values (None when ``struct`` already gives the value: integers
    and floats)."""
    numeric = kind.startswith(("unsigned", "dateTime")) or (not kind and length in _NATIVE)
    if numeric and length in _NATIVE:
        code = _NATIVE[length]
        if kind == "dateTimeSeconds":
            return code, _seconds
        if kind == "dateTimeMilliseconds":
            return code, _iso_ms_cached
        if kind in ("dateTimeMicroseconds", "dateTimeNanoseconds") and length == 8:
            return code, _iso_ntp
        return code, None
    if kind.startswith("signed") and length in _NATIVE:
        return _NATIVE[length].lower(), None
    if kind == "ipv4Address" and length == 4:
        return "I", ipv4_name
    if kind in ("float32", "float64") and length in (4, 8):
        return ("f" if length == 4 else "d"), None
    if kind == "boolean" and length == 1:
        return "B", _bool
    fn: Scalar
    if kind == "ipv6Address" and length == 16:
        fn = _ipv6
    elif kind == "macAddress" and length == 6:
        fn = _mac
    elif kind.startswith(("unsigned", "signed", "dateTime")) or (not kind and length <= 8):
        fn = _partial_render(kind)
    elif kind == "string":
        fn = _text
    else:
        fn = _hex
    return f"{length}s", fn


def _partial_render(kind: str) -> Scalar:
    def fn(raw: bytes) -> FieldValue:
        return render(kind, raw)

    return fn
