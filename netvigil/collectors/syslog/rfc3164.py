"""BSD syslog (RFC 3164) as devices really send it, and the choice between the two RFCs.

RFC 3164 only describes what it observed, and vendors differ; this parser accepts, after
``<PRI>``:

- a Cisco IOS sequence number (``123: ``), optionally the origin host (``router1: ``), or
  the NX-OS stray colon (``: ``);
- a timestamp, or none: BSD ``Mmm dd hh:mm:ss`` with optional milliseconds, year (Cisco
  ``service timestamps log datetime year``) and zone (``UTC``, ``+02:00``); NX-OS
  ``yyyy Mmm dd hh:mm:ss``; RFC 3339; Cisco's ``*`` (clock not synchronized) and ``.``
  (synchronized once) markers and the colon after the stamp;
- a hostname, or none (Cisco IOS omits it; the next token is then a tag or a ``%`` mnemonic);
- a tag ``app[pid]:`` or ``app:``, or none; the rest is the message.

A missing year is the one that puts the stamp in the past relative to the receive time; a
missing zone means UTC. Input that has neither a timestamp, a sequence number nor a tag is not
taken for BSD syslog: :func:`parse_syslog` then reports it against RFC 5424's grammar.
"""

from __future__ import annotations

import re

from netvigil.collectors.syslog.message import SyslogMessage, bsd_epoch, rfc3339_epoch
from netvigil.collectors.syslog.rfc5424 import parse_5424

__all__ = ["parse_3164", "parse_syslog", "stamp_epoch"]

_MON = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_CLOCK = r"\d\d:\d\d:\d\d(?:\.\d{1,9})?"
_HEAD = re.compile(
    r"<(?P<pri>\d{1,3})>"
    r"(?:(?P<seq>\d{1,10}): )?"
    r"(?::? ?(?P<origin>[A-Za-z][\w.-]{0,254}): (?=[*.]?(?:" + _MON + r"|\d{4})))?"
    r"(?:: )?"
    r"(?:(?P<sync>[*.])?(?P<ts>"
    rf"(?P<mon>{_MON}) +(?P<day>\d{{1,2}})(?: (?P<year>\d{{4}}))? (?P<clock>{_CLOCK})"
    rf"|(?P<year2>\d{{4}}) (?P<mon2>{_MON}) +(?P<day2>\d{{1,2}}) (?P<clock2>{_CLOCK})"
    r"|(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?)"
    r")(?: (?P<tz>[A-Z]{1,5}|[+-]\d\d:?\d\d)(?=[: ]|$))?:?(?: |$))?",
)
_TAG = re.compile(r"(?P<tag>[^\s:\[\]%]{1,48})(?:\[(?P<pid>[^\]\s]{0,128})\])?:(?: |$)")


_HOST = r"(?:(?P<host>[^ %\[][^ \[]*+)(?<!:) |(?=%))"
_FAST = re.compile(f"(?>{_HEAD.pattern}){_HOST}(?>{_TAG.pattern})?")
"""The common shapes in one match: a header with a timestamp, then a hostname and an optional
tag, or straight a ``%`` mnemonic (Cisco without a hostname).

The atomic groups make the header and the tag match exactly what ``_HEAD`` and ``_TAG`` match
on their own (no backtracking into the zone or the tag to make a hostname fit), and the
hostname token obeys the same rules as the general path's; a test checks that both agree."""

_Groups = tuple[str | None, ...]
_STAMPS: dict[tuple[str, int], float | None] = {}


def parse_3164(data: bytes, now: float) -> SyslogMessage | None:
    """Parse a BSD syslog message; None when the input does not look like one."""
    try:
        text = data.decode("utf-8")
        clean = True
    except UnicodeDecodeError:
        text = data.decode("utf-8", "surrogateescape")
        clean = False
    m = _FAST.match(text)
    if m is None or not clean:
        return _general(text, clean, now)
    g = m.groups()
    if g[4] is None or g[2] is not None:  # no timestamp, or an origin host: the general path
        return _general(text, clean, now)
    return _build(g, text[m.end() :], g[15], g[16], g[17], now, clean)


def _general(text: str, clean: bool, now: float) -> SyslogMessage | None:
    """Every shape the header allows: sequence numbers, origin hosts, no hostname, no stamp."""
    m = _HEAD.match(text)
    if m is None:
        return None
    rest = text[m.end() :]
    has_ts = m["ts"] is not None
    host = m["origin"]
    tag = None
    if host is None:
        sp = rest.find(" ")
        first = rest[:sp] if sp > 0 else ""
        if first and first[-1] != ":" and first[0] != "%" and "[" not in first:
            tag = _TAG.match(rest, sp + 1)
            if has_ts or tag:
                host, rest = first, rest[sp + 1 :]
                if tag:
                    tag = _TAG.match(rest)  # the same tag, at the start of what is left
    if tag is None:
        tag = _TAG.match(rest)
    if not (has_ts or m["seq"] or tag or host):
        return None
    if tag is None:
        return _build(m.groups(), rest, host, None, None, now, clean)
    return _build(m.groups(), rest[tag.end() :], host, tag["tag"], tag["pid"], now, clean)


def _build(
    g: _Groups,
    rest: str,
    host: str | None,
    app: str | None,
    pid: str | None,
    now: float,
    clean: bool,
) -> SyslogMessage | None:
    """The message from the header's groups (in ``_HEAD`` order), hostname, tag and text."""
    pri, seq, _, sync, ts = g[:5]
    tz = g[14]
    assert pri is not None  # the header always has one
    prival = int(pri)
    if prival > 191 or (len(pri) > 1 and pri[0] == "0"):
        return None
    stamp = epoch = None
    if ts is not None:
        stamp = ts if tz is None else f"{ts} {tz}"
        _, _, _, _, _, mon, day, year, clock, year2, mon2, day2, clock2, iso, _ = g[:15]
        if mon is None:
            mon, day, clock, year = mon2, day2, clock2, year2
        epoch = stamp_epoch(stamp, now, mon, day, clock, year, tz, iso)
    fields: dict[str, str] = {}
    if seq is not None:
        fields["sequence"] = seq
    if sync is not None:
        fields["clock"] = "unsynchronized" if sync == "*" else "resynchronized"
    raw = None
    if clean or not any("\udc80" <= c <= "\udcff" for c in rest):
        message: str | None = rest or None
    else:
        raw = rest.encode("utf-8", "surrogateescape")
        message = raw.decode("utf-8", "replace")
    if not clean:  # bytes that are not UTF-8 in the header: U+FFFD, as in the message
        host, app, pid = _replaced(host), _replaced(app), _replaced(pid)
    return SyslogMessage(
        "3164", prival >> 3, prival & 7, None, stamp, host, app, pid or None, None, None,
        message, raw, epoch, fields,
    )  # fmt: skip


def _replaced(token: str | None) -> str | None:
    """A header token read with ``surrogateescape``, its undecodable bytes as U+FFFD (an event
    must be valid UTF-8 to be serialized)."""
    if token is None or token.isascii():
        return token
    return token.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def stamp_epoch(
    stamp: str,
    now: float,
    mon: str | None,
    day: str | None,
    clock: str | None,
    year: str | None,
    tz: str | None,
    iso: str | None = None,
) -> float | None:
    """Unix time of a BSD header's timestamp (``stamp``: its text, with the zone), from its
    parts (``iso`` for an RFC 3339 one). Cached by the text and the hour of ``now``, which
    decides a missing year: messages of one second share a stamp, so a small cache suffices."""
    key = (stamp, int(now // 3600))
    if key in _STAMPS:
        return _STAMPS[key]
    if len(_STAMPS) > 4096:
        _STAMPS.clear()
    if iso:
        epoch = rfc3339_epoch(iso)
    else:
        assert mon is not None and day is not None and clock is not None
        epoch = bsd_epoch(mon, int(day), clock, int(year) if year else None, tz, now)
    _STAMPS[key] = epoch
    return epoch


_V5424 = re.compile(rb"<\d{1,3}>(?:\d{1,3} |\d{0,3}$| )")


_PRI = r"<(?P<pri>\d{1,3})>"
_FAST_BSD = re.compile(_FAST.pattern.replace(_PRI, _PRI + r"(?![0-9]{1,3} |[0-9]{0,3}$| )", 1))
"""``_FAST`` that also refuses what ``_V5424`` takes for RFC 5424, so that ``parse_syslog``
can try it first: one match, no second decode, for the most common messages."""


def parse_syslog(data: bytes, *, now: float = 0.0, compliant_msg: bool = False) -> SyslogMessage:
    """Parse one message of either RFC. A version number after ``<PRI>`` means RFC 5424 and
    its strict grammar; otherwise BSD syslog with vendor deviations is tried first."""
    try:
        m = _FAST_BSD.match(data.decode("utf-8"))
    except UnicodeDecodeError:
        m = None
    if m is not None:
        g = m.groups()
        if g[4] is not None and g[2] is None:  # the fast path of parse_3164, inline
            bsd = _build(g, m.string[m.end() :], g[15], g[16], g[17], now, True)
            if bsd is not None:
                return bsd
    if not _V5424.match(data):
        bsd = parse_3164(data, now)
        if bsd is not None:
            return bsd
    return parse_5424(data, compliant_msg=compliant_msg)
