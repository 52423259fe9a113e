"""Syslog messages as NetVigil events, with a fast lane from bytes for the common shapes.

:func:`to_events` turns a parsed :class:`~.message.SyslogMessage` into a
:class:`~netvigil.events.LogRecord` and, when the vendor mnemonic means a state change, a
:class:`~netvigil.events.DeviceEvent`. :func:`events_of` is what the collector calls per
message of a TCP or TLS stream (UDP batches take :func:`~.batch.batch_events`, which gives the
same events and is checked against these functions): most messages on a network have one of two
shapes, ``<PRI>Mmm dd hh:mm:ss host tag[pid]: text`` and RFC 5424 with plain structured data,
and for those the lane goes straight from the bytes to the events, without the intermediate
message object, the choice between the RFCs or the vendor-deviation alternatives. The lane
reads the header fields with the C scanner ``_lane.scan`` (``_lane.c``), or, where it declines,
with one regular expression per shape (:func:`python_lane`, the scanner's reference). Anything
else, and anything the lane is unsure of, takes the general path (``parse_syslog`` then
:func:`to_events`), which defines the behaviour; tests check that all three agree.

Written by hand, not taken from a library, because the collector's floor is 150,000 messages
per second per core to serialized events and the general parser, strict and tolerant of
vendor quirks, spends most of its time on shapes that are rare.
"""

from __future__ import annotations

import re
from typing import Literal, cast

from netvigil.collectors.base import CollectorCounters, dead_letter
from netvigil.collectors.syslog import _lane
from netvigil.collectors.syslog.message import SyslogMessage, rfc5424_epoch
from netvigil.collectors.syslog.rfc3164 import _MON, parse_syslog, stamp_epoch
from netvigil.collectors.syslog.rfc5424 import _NAME, _TS, _sd_plain
from netvigil.collectors.syslog.vendor import classify
from netvigil.errors import DecodeError
from netvigil.events import DeviceEvent, Event, LogRecord, interface_id

__all__ = ["SOURCE", "events_of", "message_events", "python_lane", "to_events"]

SD = dict[str, dict[str, str]]

SOURCE = "syslog"

_PRI = r"<(0|1[0-8]\d|19[01]|[1-9]\d?)>"  # 0..191 without leading zeros, as both RFCs say
_BSD = re.compile(
    _PRI + rf"(({_MON}) +(\d{{1,2}}) (\d\d:\d\d:\d\d)) "
    r"(?![A-Z]{1,5}[: ]|[+-]\d\d:?\d\d[: ])"  # a token the BSD header reads as a zone
    r"([^ %\[:][^ \[]*+)(?<!:) "  # the hostname
    r"([^\s:\[\]%]{1,48})(?:\[([^\]\s]{0,128})\])?:(?: |\Z)"  # the tag, app[pid]: or app:
)
_RFC5424 = re.compile(
    _PRI + rf"([1-9]\d{{0,2}}) (-|{_TS}) ([!-~]{{1,255}}) ([!-~]{{1,48}}) ([!-~]{{1,128}}) "
    rf'([!-~]{{1,32}}) (-|(?:\[{_NAME}(?: {_NAME}="[^"\\\]]*")*\])+)(?: |\Z)'
)
_CLOCK = r"\d\d:\d\d:\d\d(?:\.\d{1,9})?"
_VENDOR = re.compile(
    _PRI + r"(?:(\d{1,10}): )?(?:([A-Za-z][\w.-]{0,254}): )?([*.])?"
    rf"(({_MON}) +(\d{{1,2}}) ({_CLOCK})|(\d{{4}}) ({_MON}) +(\d{{1,2}}) ({_CLOCK}))"
    r"(?: ([A-Z]{1,5}))?: (?=%)"
)
"""The lane's shapes. Each accepts a subset of what the general path accepts for the same
RFC, and reads it the same way: the BSD header without sequence number, origin host, clock
marker, year, fraction or zone; RFC 5424 structured data without escapes; and the header of
Cisco IOS and NX-OS, straight followed by the ``%`` mnemonic: sequence number, origin host
and clock marker optional, ``Mmm dd`` or NX-OS ``yyyy Mmm dd``, a zone name optional."""


def to_events(msg: SyslogMessage, peer: str, received: float) -> list[Event]:
    """The LogRecord of a parsed message, and the DeviceEvent its mnemonic means (if any)."""
    rfc: Literal["3164", "5424"] = "5424" if msg.rfc == "5424" else "3164"
    return _events(
        rfc, msg.facility, msg.severity, msg.ts, msg.hostname, msg.app_name, msg.procid,
        msg.msgid, msg.structured_data or {}, msg.message or "", peer, received, msg.fields,
    )  # fmt: skip


def _events(
    rfc: Literal["3164", "5424"],
    facility: int,
    severity: int,
    ts: float | None,
    host: str | None,
    app: str | None,
    procid: str | None,
    msgid: str | None,
    sd: SD,
    text: str,
    peer: str,
    received: float,
    fields: dict[str, str],
) -> list[Event]:
    """The LogRecord (the device is the hostname, else the sender; the time is the message's,
    else the receive time), and the DeviceEvent that the vendor mnemonic means, if any."""
    kind = classify(text, msgid, fields)
    device = host or peer
    ts = received if ts is None else ts
    record = LogRecord(
        ts=ts,
        device=device,
        facility=facility,
        severity=severity,
        app_name=app,
        procid=procid,
        msgid=msgid,
        message=text.rstrip("\r\n"),  # rsyslog frames end in LF
        rfc=rfc,
        source=f"{SOURCE}:{peer}",
        structured_data=sd,
        fields=fields,
    )
    if not kind:
        return [record]
    iface = fields.get("interface")
    event = DeviceEvent(
        ts=ts,
        device=device,
        kind=kind,
        entity=interface_id(device, iface) if iface else fields.get("neighbor", ""),
        source=SOURCE,
        attrs=fields,
    )
    return [record, event]


Vendor = tuple[
    int, int, str | None, str | None, str | None, str, str, str, str, str | None, str | None, str
]
"""0, PRI, sequence, origin host, clock marker, stamp (as the general path caches it),
month, day, clock, year, zone (None where absent), rest (from the ``%``)."""
Bsd = tuple[int, int, str, str, str, str, str, str, str | None, str]
"""3164, PRI, stamp, month, day, clock, hostname, app, procid (None if absent or empty), rest."""
Rfc5424 = tuple[int, int, float | None, str | None, str | None, str | None, str | None, SD, str]
"""5424, PRI, Unix time (None for ``-``), hostname, app, procid, msgid (None for ``-``),
structured data, rest."""


def events_of(raw: bytes, peer: str, received: float) -> list[Event]:
    """The events of one message; raises :class:`~netvigil.errors.DecodeError` (a
    ``SyslogParseError``) when it is not syslog."""
    head = _lane.scan(raw)
    if head is None:
        head = python_lane(raw)
        if head is None:
            return to_events(parse_syslog(raw, now=received), peer, received)
    if head[0] == 3164:
        return _bsd(cast(Bsd, head), peer, received)
    if head[0] == 5424:
        return _rfc5424(cast(Rfc5424, head), peer, received)
    return _vendor(cast(Vendor, head), peer, received)


def message_events(
    raw: bytes, peer: str, received: float, counters: CollectorCounters
) -> list[Event]:
    """What the collector publishes for one message: its events, or its dead letter when it
    is not syslog; counted as received, and decoded or dead-lettered."""
    counters.received += 1
    try:
        events = events_of(raw, peer, received)
    except DecodeError as exc:
        return [dead_letter(SOURCE, raw, str(exc), received, counters)]
    counters.decoded += 1
    return events


def python_lane(raw: bytes) -> Bsd | Rfc5424 | Vendor | None:
    """The lane's fields of a message by the regular expressions; what the C scanner
    (``_lane.scan``) returns, and its reference."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    m = _BSD.match(text)
    if m is not None:
        pri, stamp, mon, day, clock, host, app, pid = m.groups()
        return 3164, int(pri), stamp, mon, day, clock, host, app, pid or None, text[m.end() :]
    m = _RFC5424.match(text)
    if m is None:
        v = _VENDOR.match(text)
        if v is None:
            return None
        pri, seq, origin, sync, ts, mon, day, clock, year, mon2, day2, clock2, tz = v.groups()
        stamp = ts if tz is None else f"{ts} {tz}"
        if mon is None:
            mon, day, clock = mon2, day2, clock2
        rest = text[v.end() :]
        return 0, int(pri), seq, origin, sync, stamp, mon, day, clock, year, tz, rest
    pri, _, stamp, host, app, procid, msgid, sd_text = m.groups()
    ts = None
    if stamp != "-":
        ts = rfc5424_epoch(stamp)
        if ts is None:
            return None  # e.g. September 31st: the general path says why
    sd: SD = {}
    if sd_text != "-":
        if "\\" in sd_text:
            return None  # a backslash in an SD-ID: the general path's regex reads those
        plain = _sd_plain(sd_text)
        if plain is None:
            return None  # a duplicate SD-ID: an error, from the general path
        sd = plain
    rest = text[m.end() :]
    return 5424, int(pri), ts, _nil(host), _nil(app), _nil(procid), _nil(msgid), sd, rest


def _nil(v: str) -> str | None:
    return None if v == "-" else v


def _bsd(f: Bsd, peer: str, received: float) -> list[Event]:
    _, pri, stamp, mon, day, clock, host, app, procid, rest = f
    ts = stamp_epoch(stamp, received, mon, day, clock, None, None)
    return _events(
        "3164", pri >> 3, pri & 7, ts, host, app, procid, None, {}, rest, peer, received, {}
    )


def _vendor(f: Vendor, peer: str, received: float) -> list[Event]:
    _, pri, seq, origin, sync, stamp, mon, day, clock, year, tz, rest = f
    ts = stamp_epoch(stamp, received, mon, day, clock, year, tz)
    fields = {}
    if seq is not None:
        fields["sequence"] = seq
    if sync is not None:
        fields["clock"] = "unsynchronized" if sync == "*" else "resynchronized"
    return _events(
        "3164", pri >> 3, pri & 7, ts, origin, None, None, None, {}, rest, peer, received, fields
    )


def _rfc5424(f: Rfc5424, peer: str, received: float) -> list[Event]:
    _, pri, ts, host, app, procid, msgid, sd, rest = f
    return _events(
        "5424", pri >> 3, pri & 7, ts, host, app, procid, msgid, sd, rest, peer, received, {}
    )
