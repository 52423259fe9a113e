"""The parsed syslog message, the parse error, and event-time conversion shared by both RFCs.

A :class:`SyslogMessage` holds each header field as written (``timestamp`` is the token from
the wire, for display) and ``ts``, the same instant in Unix seconds when it could be resolved.
A :class:`SyslogParseError` is a :class:`~netvigil.errors.DecodeError` that also carries the
0-based byte column where the grammar failed and the fields parsed before it (``partial``).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, datetime

from netvigil.errors import DecodeError

__all__ = ["SyslogMessage", "SyslogParseError", "bsd_epoch", "rfc3339_epoch", "rfc5424_epoch"]


@dataclass(slots=True)
class SyslogMessage:
    rfc: str
    facility: int
    severity: int
    version: int | None = None
    timestamp: str | None = None
    hostname: str | None = None
    app_name: str | None = None
    procid: str | None = None
    msgid: str | None = None
    structured_data: dict[str, dict[str, str]] | None = None
    message: str | None = None
    message_bytes: bytes | None = None
    """The MSG bytes when they are not valid UTF-8 (``message`` then has replacement chars)."""
    ts: float | None = None
    fields: dict[str, str] = field(default_factory=dict)


class SyslogParseError(DecodeError):
    """Input that is not a syslog message: where the grammar failed, and what parsed before."""

    def __init__(
        self, message: str, column: int | None = None, partial: SyslogMessage | None = None
    ) -> None:
        where = f" at column {column}" if column is not None else ""
        super().__init__("bad_syslog", f"{message}{where}")
        self.detail = message
        self.column = column
        self.partial = partial


_TZ_HOURS = {
    "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "CET": 1, "CEST": 2, "MET": 1, "MEST": 2, "EET": 2,
    "EEST": 3, "MSK": 3, "IST": 5.5, "SGT": 8, "HKT": 8, "JST": 9, "KST": 9, "AEST": 10,
    "AEDT": 11, "NZST": 12, "NZDT": 13, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7,
    "MDT": -6, "PST": -8, "PDT": -7, "AKST": -9, "AKDT": -8, "HST": -10, "BST": 1,
}  # fmt: skip
"""Zone abbreviations devices print (Cisco ``service timestamps ... show-timezone``)."""

_MONTHS = {m: i for i, m in enumerate(calendar.month_abbr) if m}


def _offset(tz: str | None) -> float | None:
    """Seconds east of UTC for ``Z``, ``+02:00``, ``-0700`` or a zone name; None if unknown."""
    if not tz:
        return 0.0
    if tz[0] in "+-":
        digits = tz[1:].replace(":", "")
        if len(digits) != 4 or not digits.isdigit():
            return None
        secs = int(digits[:2]) * 3600 + int(digits[2:]) * 60
        return float(secs if tz[0] == "+" else -secs)
    hours = _TZ_HOURS.get(tz.upper())
    return None if hours is None else hours * 3600.0


def rfc3339_epoch(token: str) -> float | None:
    """Unix seconds of an RFC 3339 timestamp (fraction of any length); None if invalid."""
    return _rfc3339(token)


_SECONDS: dict[str, int | None] = {}


def rfc5424_epoch(token: str) -> float | None:
    """:func:`rfc3339_epoch` of a stamp already matched to RFC 5424's TIMESTAMP (at most six
    fraction digits, ``Z`` or ``+hh:mm``): the whole seconds are cached by their text (messages
    of one second share them) and the fraction added exactly as ``datetime.timestamp`` does."""
    zone = "Z" if token[-1] == "Z" else token[-6:]
    key = token[:19] + zone
    if token.startswith("0000"):
        return _rfc3339(token)  # before datetime's first year: the general parser's arithmetic
    if key not in _SECONDS:
        if len(_SECONDS) > 4096:
            _SECONDS.clear()
        whole = _rfc3339(key)
        _SECONDS[key] = None if whole is None else int(whole)
    base = _SECONDS[key]
    if base is None:
        return None
    frac = token[20 : len(token) - len(zone)]
    if not frac:
        return float(base)
    return (base * 1_000_000 + int(frac.ljust(6, "0"))) / 1_000_000


def _rfc3339(token: str) -> float | None:
    try:  # the C parser first; it takes up to 6 fraction digits and a Z or numeric offset
        stamp = datetime.fromisoformat(token.replace("z", "Z"))
        if stamp.tzinfo is not None:
            return stamp.timestamp()
    except ValueError:
        pass
    try:
        date, _, rest = token.partition("T")
        y, mo, d = (int(p) for p in date.split("-"))
        tz_at = max(rest.rfind("+"), rest.rfind("-"), rest.find("Z"), rest.find("z"))
        clock, tz = (rest[:tz_at], rest[tz_at:]) if tz_at > 0 else (rest, "")
        hms, _, frac = clock.partition(".")
        h, mi, s = (int(p) for p in hms.split(":"))
        off = _offset(tz.upper() if tz in ("z", "Z") else tz)
        if off is None:
            return None
        base = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
        if not (1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1]):
            return None
        return base - off + (float("0." + frac) if frac.isdigit() else 0.0)
    except (ValueError, IndexError):
        return None


def bsd_epoch(
    month: str, day: int, clock: str, year: int | None, tz: str | None, now: float
) -> float | None:
    """Unix seconds of a BSD stamp (``Mar  1 18:48:50.483``); a missing year is the one that
    puts the stamp in the past (within a day of tolerance) relative to ``now``.

    The start of the day in each candidate year is cached (messages of one day share it);
    the time of day is added with the same integer arithmetic as ``calendar.timegm``."""
    key = (month, day, year, tz, int(now // 3600))
    if key in _DAYS:
        days = _DAYS[key]
    else:
        if len(_DAYS) > 4096:
            _DAYS.clear()
        days = _DAYS[key] = _day_starts(month, day, year, tz, now)
    if days is None:
        return None
    off, starts = days
    hms, _, frac = clock.partition(".")
    try:
        h, mi, s = (int(p) for p in hms.split(":"))
    except ValueError:
        return None
    secs = h * 3600 + mi * 60 + s
    for start in starts:
        t = start + secs - off
        t += float("0." + frac) if frac.isdigit() else 0.0
        if year or t <= now + 86400:
            return t
    return None


_DAYS: dict[tuple[object, ...], tuple[float, tuple[int, ...]] | None] = {}


def _day_starts(
    month: str, day: int, year: int | None, tz: str | None, now: float
) -> tuple[float, tuple[int, ...]] | None:
    """The zone offset, and the Unix second starting ``day`` in each candidate year (the
    given one, else this year then the last) where that day exists; None if unreadable."""
    mo = _MONTHS.get(month[:1].upper() + month[1:3].lower())
    off = _offset(tz)
    if mo is None or off is None:
        return None
    try:
        years = [year] if year else [datetime.fromtimestamp(now, UTC).year + d for d in (0, -1)]
        starts = tuple(
            calendar.timegm((y, mo, day, 0, 0, 0, 0, 0, 0))
            for y in years
            if 1 <= day <= calendar.monthrange(y, mo)[1]
        )
    except (ValueError, OverflowError):
        return None
    return off, starts
