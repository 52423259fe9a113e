"""Syslog messages as NetVigil events, with a fast lane from bytes for the common shapes.

:func:`to_events` turns a parsed :class:`~.message.SyslogMessage` into a
:class:`~netvigil.events.LogRecord` and, when the vendor mnemonic means a state change, a
:class:`~netvigil.events.DeviceEvent`. :func:`events_of` is what the collector calls per
message: most messages on a network have one of two shapes, ``<PRI>Mmm dd hh:mm:ss host
tag[pid]: text`` and RFC 5424 with plain structured data, and for those the lane goes
straight from the bytes to the events, without the intermediate message object, the choice
between the RFCs or the vendor-deviation alternatives. The lane reads the header fields
with the C scanner ``_lane.scan`` (``_lane.c``), or, where it declines, with one regular
expression per shape (:func:`python_lane`, the scanner's reference). Anything else, and
anything the lane is unsure of, takes the general path (``parse_syslog`` then
:func:`to_events`), which defines the behaviour; tests check that all three agree.

Written by hand, not taken from a library, because the collector's floor is 150,000 messages
per second per core to serialized events and the general parser, strict and tolerant of
vendor quirks, spends most of its time on shapes that are rare.
"""

from __future__ import annotations

import re
from typing import Literal, cast

from netvigil.collectors.syslog import _lane
from netvigil.collectors.syslog.message import SyslogMessage, bsd_epoch, rfc5424_epoch
from netvigil.collectors.syslog.rfc3164 import _MON, _STAMPS, parse_syslog
from netvigil.collectors.syslog.rfc5424 import _NAME, _TS, _sd_plain
from netvigil.collectors.syslog.vendor import classify
from netvigil.events import DeviceEvent, Event, LogRecord, interface_id

__all__ = ["SOURCE", "events_of", "python_lane", "to_events"]

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
    text = msg.message
    fields = msg.fields
    kind = classify(text or "", msg.msgid, fields)
    record = LogRecord(
        ts=msg.ts if msg.ts is not None else received,
        device=msg.hostname or peer,
        facility=msg.facility,
        severity=msg.severity,
        app_name=msg.app_name,
        procid=msg.procid,
        msgid=msg.msgid,
        message=text.rstrip("\r\n") if text else "",  # rsyslog frames end in LF
        rfc="5424" if msg.rfc == "5424" else "3164",
        source=f"{SOURCE}:{peer}",
        structured_data=msg.structured_data or {},
        fields=fields,
    )
    return _with_device_event(record, kind)


def _with_device_event(record: LogRecord, kind: str | None) -> list[Event]:
    if not kind:
        return [record]
    f = record.fields
    device = record.device
    entity = interface_id(device, f["interface"]) if f.get("interface") else f.get("neighbor", "")
    event = DeviceEvent(
        ts=record.ts,
        device=device,
        kind=kind,
        entity=entity,
        source=SOURCE,
        attrs=f,
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
    fields = _lane.scan(raw)
    if fields is None:
        fields = python_lane(raw)
        if fields is None:
            return to_events(parse_syslog(raw, now=received), peer, received)
    if fields[0] == 3164:
        return _bsd(cast(Bsd, fields), peer, received)
    if fields[0] == 5424:
        return _rfc5424(cast(Rfc5424, fields), peer, received)
    return _vendor(cast(Vendor, fields), peer, received)


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


def _bsd_time(
    stamp: str, mon: str, day: str, clock: str, year: str | None, tz: str | None, received: float
) -> float:
    key = (stamp, int(received // 3600))
    ts = _STAMPS.get(key, -1.0)
    if ts == -1.0:  # the general path's cache of stamps, filled the same way
        if len(_STAMPS) > 4096:
            _STAMPS.clear()
        ts = _STAMPS[key] = bsd_epoch(
            mon, int(day), clock, int(year) if year else None, tz, received
        )
    return received if ts is None else ts


def _bsd(f: Bsd, peer: str, received: float) -> list[Event]:
    _, pri, stamp, mon, day, clock, host, app, procid, rest = f
    ts = _bsd_time(stamp, mon, day, clock, None, None, received)
    return _lane_events("3164", pri, ts, host, app, procid, None, {}, rest, peer, {})


def _vendor(f: Vendor, peer: str, received: float) -> list[Event]:
    _, pri, seq, origin, sync, stamp, mon, day, clock, year, tz, rest = f
    ts = _bsd_time(stamp, mon, day, clock, year, tz, received)
    fields = {}
    if seq is not None:
        fields["sequence"] = seq
    if sync is not None:
        fields["clock"] = "unsynchronized" if sync == "*" else "resynchronized"
    device = origin or peer
    return _lane_events("3164", pri, ts, device, None, None, None, {}, rest, peer, fields)


def _rfc5424(f: Rfc5424, peer: str, received: float) -> list[Event]:
    _, pri, ts, host, app, procid, msgid, sd, rest = f
    ts_ = received if ts is None else ts
    return _lane_events("5424", pri, ts_, host or peer, app, procid, msgid, sd, rest, peer, {})


def _lane_events(
    rfc: Literal["3164", "5424"],
    pri: int,
    ts: float,
    device: str,
    app: str | None,
    procid: str | None,
    msgid: str | None,
    sd: SD,
    rest: str,
    peer: str,
    fields: dict[str, str],
) -> list[Event]:
    kind = classify(rest, msgid, fields)
    record = LogRecord(
        ts=ts,
        device=device,
        facility=pri >> 3,
        severity=pri & 7,
        app_name=app,
        procid=procid,
        msgid=msgid,
        message=rest.rstrip("\r\n"),
        rfc=rfc,
        source=f"{SOURCE}:{peer}",
        structured_data=sd,
        fields=fields,
    )
    return _with_device_event(record, kind)
