"""Syslog messages as NetVigil events, with a fast lane from bytes for the common shapes.

:func:`to_events` turns a parsed :class:`~.message.SyslogMessage` into a
:class:`~netvigil.events.LogRecord` and, when the vendor mnemonic means a state change, a
:class:`~netvigil.events.DeviceEvent`. :func:`events_of` is what the collector calls per
message: most messages on a network have one of two shapes, ``<PRI>Mmm dd hh:mm:ss host
tag[pid]: text`` and RFC 5424 with plain structured data, and for those one regular
expression goes straight from the bytes to the events, without the intermediate message
object, the choice between the RFCs or the vendor-deviation alternatives. Anything else, and
anything the lane is unsure of, takes the general path (``parse_syslog`` then
:func:`to_events`), which defines the behaviour; a test checks that both give equal events.

Written by hand, not taken from a library, because the collector's floor is 150,000 messages
per second per core to serialized events and the general parser, strict and tolerant of
vendor quirks, spends most of its time on shapes that are rare.
"""

from __future__ import annotations

import re

from netvigil.collectors.syslog.message import SyslogMessage, bsd_epoch, rfc5424_epoch
from netvigil.collectors.syslog.rfc3164 import _MON, _STAMPS, parse_syslog
from netvigil.collectors.syslog.rfc5424 import _NAME, _TS, _sd_plain
from netvigil.collectors.syslog.vendor import classify
from netvigil.events import DeviceEvent, Event, LogRecord, interface_id

__all__ = ["SOURCE", "events_of", "to_events"]

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
"""The lane's two shapes. Each accepts a subset of what the general path accepts for the same
RFC, and reads it the same way: the BSD header without sequence number, origin host, clock
marker, year, fraction or zone; RFC 5424 structured data without escapes."""


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


def events_of(raw: bytes, peer: str, received: float) -> list[Event]:
    """The events of one message; raises :class:`~netvigil.errors.DecodeError` (a
    ``SyslogParseError``) when it is not syslog."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    m = _BSD.match(text)
    if m is not None:
        return _bsd(m, text, peer, received)
    m = _RFC5424.match(text)
    out = _rfc5424(m, text, peer, received) if m is not None else None
    if out is None:
        return to_events(parse_syslog(raw, now=received), peer, received)
    return out


def _bsd(m: re.Match[str], text: str, peer: str, received: float) -> list[Event]:
    pri, stamp, mon, day, clock, host, app, pid = m.groups()
    key = (stamp, int(received // 3600))
    ts = _STAMPS.get(key, -1.0)
    if ts == -1.0:  # the general path's cache of stamps, filled the same way
        if len(_STAMPS) > 4096:
            _STAMPS.clear()
        ts = _STAMPS[key] = bsd_epoch(mon, int(day), clock, None, None, received)
    rest = text[m.end() :]
    fields: dict[str, str] = {}
    kind = classify(rest, None, fields)
    p = int(pri)
    record = LogRecord(
        ts=received if ts is None else ts,
        device=host,
        facility=p >> 3,
        severity=p & 7,
        app_name=app,
        procid=pid or None,
        message=rest.rstrip("\r\n"),
        rfc="3164",
        source=f"{SOURCE}:{peer}",
        fields=fields,
    )
    return _with_device_event(record, kind)


def _rfc5424(m: re.Match[str], text: str, peer: str, received: float) -> list[Event] | None:
    pri, _, stamp, host, app, procid, msgid, sd_text = m.groups()
    ts = received
    if stamp != "-":
        epoch = rfc5424_epoch(stamp)
        if epoch is None:
            return None  # e.g. September 31st: the general path says why
        ts = epoch
    sd = {}
    if sd_text != "-":
        if "\\" in sd_text:
            return None  # a backslash in an SD-ID: the general path's regex reads those
        parsed = _sd_plain(sd_text)
        if parsed is None:
            return None  # a duplicate SD-ID: an error, from the general path
        sd = parsed
    msgid_ = None if msgid == "-" else msgid
    rest = text[m.end() :]
    fields: dict[str, str] = {}
    kind = classify(rest, msgid_, fields)
    p = int(pri)
    record = LogRecord(
        ts=ts,
        device=peer if host == "-" else host,
        facility=p >> 3,
        severity=p & 7,
        app_name=None if app == "-" else app,
        procid=None if procid == "-" else procid,
        msgid=msgid_,
        message=rest.rstrip("\r\n"),
        rfc="5424",
        source=f"{SOURCE}:{peer}",
        structured_data=sd,
        fields=fields,
    )
    return _with_device_event(record, kind)
