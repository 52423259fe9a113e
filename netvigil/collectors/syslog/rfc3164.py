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

__all__ = ["parse_3164", "parse_syslog"]

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


_HOST = r"(?P<host>[^ %\[][^ \[]*+)(?<!:) "
_FAST = re.compile(f"(?>{_HEAD.pattern}){_HOST}(?>{_TAG.pattern})?")
"""The common shape in one match: a header with a timestamp, a hostname, an optional tag.

The atomic groups make the header and the tag match exactly what ``_HEAD`` and ``_TAG`` match
on their own (no backtracking into the zone or the tag to make a hostname fit), and the
hostname token obeys the same rules as the general path's; a test checks that both agree."""


def parse_3164(data: bytes, now: float) -> SyslogMessage | None:
    """Parse a BSD syslog message; None when the input does not look like one."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", "surrogateescape")
    m = _FAST.match(text)
    if m is not None and m["ts"] is not None and m["origin"] is None:
        pri = m["pri"]
        if int(pri) > 191 or (len(pri) > 1 and pri[0] == "0"):
            return None
        msg = _message(m, text[m.end() :], m["host"], now)
        if m["tag"] is not None:
            msg.app_name, msg.procid = m["tag"], m["pid"] or None
        return msg
    return _general(text, now)


def _general(text: str, now: float) -> SyslogMessage | None:
    """Every shape the header allows: sequence numbers, origin hosts, no hostname, no stamp."""
    m = _HEAD.match(text)
    if m is None or int(m["pri"]) > 191 or (len(m["pri"]) > 1 and m["pri"][0] == "0"):
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
    if tag:
        rest = rest[tag.end() :]
    msg = _message(m, rest, host, now)
    if tag:
        msg.app_name, msg.procid = tag["tag"], tag["pid"] or None
    return msg


def _message(m: re.Match[str], rest: str, host: str | None, now: float) -> SyslogMessage:
    """The message from a header match: priority, stamp, Cisco markers, and the text."""
    prival = int(m["pri"])
    msg = SyslogMessage("3164", prival >> 3, prival & 7, hostname=host)
    if m["ts"] is not None:
        msg.timestamp = m["ts"] + (f" {m['tz']}" if m["tz"] else "")
        if m["iso"]:
            msg.ts = rfc3339_epoch(m["iso"])
        else:
            mon, day, clock = (m["mon"], m["day"], m["clock"]) if m["mon"] else (
                m["mon2"], m["day2"], m["clock2"]
            )  # fmt: skip
            year = m["year"] or m["year2"]
            msg.ts = bsd_epoch(mon, int(day), clock, int(year) if year else None, m["tz"], now)
    if m["seq"]:
        msg.fields["sequence"] = m["seq"]
    if m["sync"]:
        msg.fields["clock"] = "unsynchronized" if m["sync"] == "*" else "resynchronized"
    if rest.isascii() or not any("\udc80" <= c <= "\udcff" for c in rest):
        msg.message = rest or None
    else:
        raw = rest.encode("utf-8", "surrogateescape")
        msg.message, msg.message_bytes = raw.decode("utf-8", "replace"), raw
    return msg


_V5424 = re.compile(rb"<\d{1,3}>(?:\d{1,3} |\d{0,3}$| )")


def parse_syslog(data: bytes, *, now: float = 0.0, compliant_msg: bool = False) -> SyslogMessage:
    """Parse one message of either RFC. A version number after ``<PRI>`` means RFC 5424 and
    its strict grammar; otherwise BSD syslog with vendor deviations is tried first."""
    if not _V5424.match(data):
        bsd = parse_3164(data, now)
        if bsd is not None:
            return bsd
    return parse_5424(data, compliant_msg=compliant_msg)
