"""Suppression of patterns operators judged false (pure: patterns and anomalies in, a verdict
out).

A *pattern* is what an incident judged false was made of: the anomaly that opened it (entity,
signal, kind) and, by default, the time of day it began, widened to a daily window (``±
window_min``). Recurring benign conditions (a nightly backup filling a link, a weekly batch
job) come back at the same time on the same entity with the same symptom, so that is what is
matched; the same symptom on the same entity at another time of day, or any other symptom
there, is not, and still opens an incident. A suppression is held by the correlator
(:mod:`netvigil.streams.correlate`) and made or lifted by :class:`~netvigil.events.Feedback`
events; while it matches, the group of anomalies it opened is emitted as a *suppressed*
incident (nothing opens, nothing is ticketed), and it stops being suppressed as soon as it
holds a strong symptom the pattern does not match (a real fault nearby is never hidden).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from netvigil.events import AnomalyRef, Pattern

__all__ = [
    "DAY_MIN",
    "describe",
    "in_window",
    "matches",
    "minute_of_day",
    "opening_anomaly",
    "pattern_of",
    "suppression_id",
]

DAY_MIN = 24 * 60


def in_window(minute: int, start: int, end: int) -> bool:
    """Whether ``minute`` of the day lies in [start, end), the window wrapping past midnight
    when ``end < start``; ``start < 0`` is any time."""
    if start < 0:
        return True
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end


def minute_of_day(ts: float) -> int:
    return int(ts // 60) % DAY_MIN


def matches(pattern: Pattern, ref: AnomalyRef) -> bool:
    """Whether ``ref`` is an instance of ``pattern``."""
    return (
        ref.entity == pattern.entity
        and ref.signal == pattern.signal
        and ref.kind == pattern.kind
        and in_window(minute_of_day(ref.onset_ts), pattern.start_min, pattern.end_min)
    )


def opening_anomaly(anomalies: Iterable[AnomalyRef], strong: set[str]) -> AnomalyRef | None:
    """The anomaly an incident began with: its earliest strong symptom (kinds in ``strong``),
    else its earliest anomaly."""
    refs = sorted(anomalies, key=lambda a: (a.onset_ts, a.entity, a.signal))
    return next((a for a in refs if a.kind in strong), refs[0] if refs else None)


def pattern_of(ref: AnomalyRef, *, window_min: int | None = 45) -> Pattern:
    """The pattern of one anomaly: its entity, signal and kind, and a daily window of
    ``±window_min`` around its onset (``None``: any time of day)."""
    if window_min is None or window_min * 2 >= DAY_MIN:
        return Pattern(entity=ref.entity, signal=ref.signal, kind=ref.kind)
    m = minute_of_day(ref.onset_ts)
    return Pattern(
        entity=ref.entity,
        signal=ref.signal,
        kind=ref.kind,
        start_min=(m - window_min) % DAY_MIN,
        end_min=(m + window_min) % DAY_MIN,
    )


def suppression_id(pattern: Pattern) -> str:
    """A stable id of a pattern: the same judgement twice makes one suppression."""
    key = f"{pattern.entity}|{pattern.signal}|{pattern.kind}|{pattern.start_min}|{pattern.end_min}"
    return "sup-" + hashlib.sha1(key.encode()).hexdigest()[:12]


def describe(pattern: Pattern) -> str:
    """``threshold on if.out_util of r1:ge-0/0/1, daily 01:15-02:45 UTC``."""
    when = "at any time"
    if pattern.start_min >= 0:
        s, e = pattern.start_min, pattern.end_min
        when = f"daily {s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d} UTC"
    return f"{pattern.kind} on {pattern.signal} of {pattern.entity}, {when}"
