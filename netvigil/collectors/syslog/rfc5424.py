"""RFC 5424 syslog messages: a one-regex fast path, and a scanner that says exactly what is wrong.

Valid messages, the common case, are matched by one compiled regular expression of the RFC
5424 ABNF (header fields, RFC 3339 timestamp, structured data with escapes) and then checked
for what a regex cannot say (day of month, duplicate SD-IDs). Anything the regex rejects goes
to :func:`_scan`, a byte-by-byte walk of the same grammar, which is the reference: it either
returns the message (when the regex was merely conservative) or raises
:class:`~.message.SyslogParseError` with the 0-based byte column where the grammar fails and
the fields parsed before it. Error texts are the ones syslog tooling (go-syslog) prints, so
operators can compare. Hand-written because no maintained Python parser is both strict and
fast enough (150,000 messages/s per core); a test checks the two paths agree.
"""

from __future__ import annotations

import calendar
import re

from netvigil.collectors.syslog.message import (
    SyslogMessage,
    SyslogParseError,
    rfc3339_epoch,
    rfc5424_epoch,
)

__all__ = ["parse_5424"]

PRI_BRACKETS = "expecting a priority value within angle brackets"
PRI_RANGE = "expecting a priority value in the range 1-191 or equal to 0"
VERSION = "expecting a version value in the range 1-999"
TIMESTAMP = "expecting a RFC3339MICRO timestamp or a nil value"
HOSTNAME = "expecting an hostname (from 1 to max 255 US-ASCII characters) or a nil value"
APP_NAME = "expecting an app-name (from 1 to max 48 US-ASCII characters) or a nil value"
PROCID = "expecting a procid (from 1 to max 128 US-ASCII characters) or a nil value"
MSGID = "expecting a msgid (from 1 to max 32 US-ASCII characters) or a nil value"
SD = (
    "expecting a structured data section containing one or more elements "
    '(`[id( key="value")*]+`) or a nil value'
)
SD_ID = (
    "expecting a structured data element id (from 1 to max 32 US-ASCII characters; "
    'except `=`, ` `, `]`, and `"`'
)
SD_PARAM = (
    'expecting a structured data parameter (`key="value"`, both part from 1 to max 32 '
    'US-ASCII characters; key cannot contain `=`, ` `, `]`, and `"`, while value cannot '
    'contain `]`, backslash, and `"` unless escaped)'
)
ESCAPE = 'expecting chars `]`, `"`, and `\\` to be escaped within param value'
DUPLICATE = "duplicate structured data element id"
MSG_UTF8 = (
    "expecting a free-form optional message in UTF-8 (starting with or without BOM) or a "
    "free-form optional message in any encoding (starting without BOM)"
)
PARSING = "parsing error"
BOM = b"\xef\xbb\xbf"

_TS = (
    r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d"
    r"(?:\.\d{1,6})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)"
)
_NAME = r"[!#-<>-\\^-~]{1,32}"
_VALUE = r'(?:[^"\\\]]|\\["\\\]])*'
_SD = rf'(?:\[{_NAME}(?: {_NAME}="{_VALUE}")*\])+'
_FAST = re.compile(
    r"<(0|1[0-8]\d|19[01]|[1-9]\d?)>([1-9]\d{0,2}) "
    rf"(-|{_TS}) ([!-~]{{1,255}}) ([!-~]{{1,48}}) ([!-~]{{1,128}}) ([!-~]{{1,32}}) "
    rf"(-|{_SD})(?: (.*))?",
    re.S,
)
_ELEMENT = re.compile(rf'\[({_NAME})((?: {_NAME}="{_VALUE}")*)\]', re.S)
_PARAM = re.compile(rf' ({_NAME})="({_VALUE})"', re.S)
_UNESCAPE = re.compile(r'\\(["\\\]])')


def _nil(v: str) -> str | None:
    return None if v == "-" else v


def parse_5424(data: bytes, *, compliant_msg: bool = False) -> SyslogMessage:
    """Parse one RFC 5424 message; raises SyslogParseError with the column of the fault."""
    try:
        text = data.decode("utf-8")
        clean = True
    except UnicodeDecodeError:
        text = data.decode("utf-8", "surrogateescape")
        clean = False
    m = _FAST.fullmatch(text)
    if m is None:
        return _scan(data, compliant_msg)
    pri, ver, ts, host, app, procid, msgid, sd_text, msg = m.groups()
    ts_epoch = None
    if ts != "-":
        ts_epoch = rfc5424_epoch(ts)
        if ts_epoch is None:
            return _scan(data, compliant_msg)  # e.g. September 31st
    sd: dict[str, dict[str, str]] | None = None
    if sd_text != "-":
        sd = _sd(sd_text) if "\\" in sd_text else _sd_plain(sd_text)
        if sd is None:
            return _scan(data, compliant_msg)  # a duplicate SD-ID
    prival = int(pri)
    out = SyslogMessage(
        "5424", prival >> 3, prival & 7, int(ver), None if ts == "-" else ts,
        None if host == "-" else host, None if app == "-" else app,
        None if procid == "-" else procid, None if msgid == "-" else msgid, sd, msg or None,
        None, ts_epoch,
    )  # fmt: skip
    if not clean:
        if sd is not None and any("\udc80" <= c <= "\udcff" for c in sd_text):
            return _scan(data, compliant_msg)
        raw = (msg or "").encode("utf-8", "surrogateescape")
        if compliant_msg and raw.startswith(BOM):
            return _scan(data, compliant_msg)
        out.message = raw.decode("utf-8", "replace") or None
        out.message_bytes = raw
    return out


def _sd(sd_text: str) -> dict[str, dict[str, str]] | None:
    """Structured data the fast regex accepted, with escapes; None on a duplicate SD-ID."""
    sd: dict[str, dict[str, str]] = {}
    for el in _ELEMENT.finditer(sd_text):
        if el.group(1) in sd:
            return None
        params = el.group(2)
        sd[el.group(1)] = (
            {k: (_UNESCAPE.sub(r"\1", v) if "\\" in v else v) for k, v in _PARAM.findall(params)}
            if params
            else {}
        )
    return sd


def _sd_plain(sd_text: str) -> dict[str, dict[str, str]] | None:
    """Structured data without a backslash, by splitting instead of matching (the common case).

    The fast regex has checked the grammar, and without escapes a value holds no ``"`` and no
    ``]``: ``][`` only separates elements and ``"`` only delimits values."""
    sd: dict[str, dict[str, str]] = {}
    for el in sd_text[1:-1].split("]["):
        parts = el.split('"')
        sdid, _, key = parts[0].partition(" ")
        if sdid in sd:
            return None
        params: dict[str, str] = {}
        if len(parts) > 1:
            params[key[:-1]] = parts[1]
            for i in range(2, len(parts) - 1, 2):
                params[parts[i][1:-1]] = parts[i + 1]
        sd[sdid] = params
    return sd


# --------------------------------------------------------------------------- the reference scanner


def _digit(c: int) -> bool:
    return 48 <= c <= 57


def _scan(b: bytes, compliant_msg: bool) -> SyslogMessage:
    n = len(b)

    def fail(what: str, col: int, partial: SyslogMessage | None) -> SyslogParseError:
        return SyslogParseError(what, col, partial)

    if n == 0 or b[0] != 0x3C:
        raise fail(PRI_BRACKETS, 0, None)
    p = 1
    if p >= n or not _digit(b[p]):
        raise fail(PRI_RANGE, p, None)
    if b[p] == 0x30:
        p += 1
    else:
        first = b[p]
        p += 1
        if p < n and _digit(b[p]):
            second = b[p]
            p += 1
            if p < n and _digit(b[p]):
                ok = first == 0x31 and (second <= 0x38 or b[p] in (0x30, 0x31))
                if not ok:
                    raise fail(PRI_RANGE, p, None)
                p += 1
    if p >= n or b[p] != 0x3E:
        raise fail(PRI_RANGE, p, None)
    prival = int(b[1:p])
    p += 1
    if p >= n or not 0x31 <= b[p] <= 0x39:
        raise fail(VERSION, p, None)
    v0 = p
    p += 1
    while p < n and p - v0 < 3 and _digit(b[p]):
        p += 1
    msg = SyslogMessage("5424", prival >> 3, prival & 7, int(b[v0:p]))
    if p >= n or b[p] != 0x20:
        raise fail(PARSING, p, msg)
    p += 1
    p = _scan_timestamp(b, p, msg)
    for limit, what, attr in (
        (255, HOSTNAME, "hostname"),
        (48, APP_NAME, "app_name"),
        (128, PROCID, "procid"),
        (32, MSGID, "msgid"),
    ):
        start = p
        while p < n and 33 <= b[p] <= 126 and p - start < limit:
            p += 1
        if p == start or (p < n and b[p] != 0x20):
            raise fail(what, p, msg)
        if p >= n:
            raise fail(PARSING, p, msg)
        value = b[start:p].decode("ascii")
        setattr(msg, attr, _nil(value))
        p += 1
    p = _scan_sd(b, p, msg)
    if p == n:
        return msg
    if b[p] != 0x20:
        raise fail(PARSING, p, msg)
    raw = b[p + 1 :]
    if compliant_msg and raw.startswith(BOM):
        bad = _utf8_fault(raw)
        if bad is not None:
            _set_message(msg, raw[:bad])
            raise fail(MSG_UTF8, p + 1 + bad, msg)
    _set_message(msg, raw)
    return msg


def _set_message(msg: SyslogMessage, raw: bytes) -> None:
    try:
        msg.message = raw.decode("utf-8") or None
    except UnicodeDecodeError:
        msg.message = raw.decode("utf-8", "replace")
        msg.message_bytes = raw


def _scan_timestamp(b: bytes, p: int, msg: SyslogMessage) -> int:
    n = len(b)
    if p < n and b[p] == 0x2D and (p + 1 >= n or b[p + 1] == 0x20):
        p += 1
    else:
        start = p

        def expect(ok: bool) -> None:
            if not ok:
                raise SyslogParseError(TIMESTAMP, p, msg)

        def at(chars: bytes) -> bool:
            return p < n and b[p] in chars

        digits, two = b"0123456789", b"012"
        for pattern in (
            (digits, digits, digits, digits, b"-"),
            (b"01",),
        ):
            for chars in pattern:
                expect(at(chars))
                p += 1
        expect(at(b"123456789" if b[p - 1] == 0x30 else two))
        p += 1
        expect(at(b"-"))
        p += 1
        expect(at(b"0123"))
        first = b[p]
        p += 1
        expect(at(b"123456789" if first == 0x30 else b"01" if first == 0x33 else digits))
        p += 1
        expect(at(b"T"))
        p += 1
        for lead in (two, b":", b"012345", b":", b"012345"):
            if lead == b":":
                expect(at(lead))
                p += 1
                continue
            expect(at(lead))
            hi = b[p]
            p += 1
            expect(at(b"0123" if lead == two and hi == 0x32 else digits))
            p += 1
        if at(b"."):
            p += 1
            expect(at(digits))
            f0 = p
            while p < n and _digit(b[p]) and p - f0 < 6:
                p += 1
        expect(at(b"Z+-"))
        if b[p] == 0x5A:
            p += 1
        else:
            p += 1
            expect(at(two))
            hi = b[p]
            p += 1
            expect(at(b"0123" if hi == 0x32 else digits))
            p += 1
            expect(at(b":"))
            p += 1
            expect(at(b"012345"))
            p += 1
            expect(at(digits))
            p += 1
        token = b[start:p].decode("ascii")
        y, mo, d = int(token[0:4]), int(token[5:7]), int(token[8:10])
        if d > calendar.monthrange(y, mo)[1]:
            raise SyslogParseError(f'parsing time "{token}": day out of range', p, msg)
        msg.timestamp = token
        msg.ts = rfc3339_epoch(token)
    if p >= n or b[p] != 0x20:
        raise SyslogParseError(PARSING, p, msg)
    return p + 1


def _name(b: bytes, p: int) -> int:
    start = p
    while p < len(b) and 33 <= b[p] <= 126 and b[p] not in b'="]' and p - start < 32:
        p += 1
    return p


def _scan_sd(b: bytes, p: int, msg: SyslogMessage) -> int:
    n = len(b)
    if p >= n or b[p] not in b"-[":
        raise SyslogParseError(SD, p, msg)
    if b[p] == 0x2D:
        return p + 1
    sd: dict[str, dict[str, str]] = {}
    while p < n and b[p] == 0x5B:
        p += 1
        end = _name(b, p)
        if end == p or (end < n and b[end] not in b" ]"):
            raise SyslogParseError(SD_ID, end, msg)
        sdid = b[p:end].decode("ascii")
        p = end
        if sdid in sd:
            msg.structured_data = sd
            raise SyslogParseError(DUPLICATE, p, msg)
        params: dict[str, str] = {}
        sd[sdid] = {}  # parameters show in a partial result only once the element closes
        msg.structured_data = sd
        while True:
            if p >= n:
                raise SyslogParseError(SD_PARAM, p, msg)
            if b[p] == 0x5D:
                sd[sdid] = params
                p += 1
                break
            if b[p] != 0x20:
                raise SyslogParseError(SD_PARAM, p, msg)
            p += 1
            end = _name(b, p)
            if end == p or end >= n or b[end] != 0x3D or end + 1 >= n or b[end + 1] != 0x22:
                bad = end if end == p or end >= n or b[end] != 0x3D else end + 1
                raise SyslogParseError(SD_PARAM, bad, msg)
            key = b[p:end].decode("ascii")
            p = end + 2
            value = bytearray()
            while True:
                if p >= n:
                    raise SyslogParseError(SD_PARAM, p, msg)
                c = b[p]
                if c == 0x22:
                    p += 1
                    break
                if c == 0x5C:
                    if p + 1 < n and b[p + 1] in b'"\\]':
                        value.append(b[p + 1])
                        p += 2
                        continue
                    raise SyslogParseError(ESCAPE, p + 1, msg)
                if c == 0x5D:
                    raise SyslogParseError(ESCAPE, p, msg)
                value.append(c)
                p += 1
            params[key] = value.decode("utf-8", "replace")
    return p


def _utf8_fault(raw: bytes) -> int | None:
    """The offset of the first byte that makes ``raw`` invalid UTF-8 (Unicode table 3-7)."""
    try:
        raw.decode("utf-8")
        return None
    except UnicodeDecodeError as exc:
        i = exc.start
    lead = raw[i]
    if 0xC2 <= lead <= 0xDF:
        ranges = [(0x80, 0xBF)]
    elif lead == 0xE0:
        ranges = [(0xA0, 0xBF), (0x80, 0xBF)]
    elif 0xE1 <= lead <= 0xEF and lead != 0xED:
        ranges = [(0x80, 0xBF)] * 2
    elif lead == 0xED:
        ranges = [(0x80, 0x9F), (0x80, 0xBF)]
    elif lead == 0xF0:
        ranges = [(0x90, 0xBF), (0x80, 0xBF), (0x80, 0xBF)]
    elif 0xF1 <= lead <= 0xF3:
        ranges = [(0x80, 0xBF)] * 3
    elif lead == 0xF4:
        ranges = [(0x80, 0x8F), (0x80, 0xBF), (0x80, 0xBF)]
    else:
        return i
    for k, (lo, hi) in enumerate(ranges, start=1):
        if i + k >= len(raw) or not lo <= raw[i + k] <= hi:
            return i + k
    return i
