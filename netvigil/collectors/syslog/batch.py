"""A batch of syslog datagrams to their events in one call: the UDP receive path.

:func:`batch_events` returns, for a batch read with ``recvmmsg``, exactly what
:func:`~.records.message_events` returns for each datagram in turn, concatenated in order (the
same events, byte for byte once encoded; the same dead letters with the same reasons; the same
counts), so a sender's messages keep their order and every datagram is counted once, as
received and then as decoded or as a dead letter.

Why a second copy of the lane's Python side: the lane (:mod:`.records`) is a chain of small
functions per message (``message_events``, ``events_of``, ``_bsd``/``_rfc5424``/``_vendor``,
``_events``, ``classify``, ``stamp_epoch``), and at line rate the calls, the tuples of
arguments and the cache keys cost more than the work. Here the C lane (``_lane.records``) scans
the whole batch and makes the ``LogRecord`` itself where the vendor table has nothing to say
(a BSD message, or an RFC 5424 one without MSGID, whose text cannot hold a mnemonic), and says
which datagrams it left; one Python loop finishes those (the lane's records between them are
taken a run at a time, not looked at one by one), and what is the same for the whole batch is
looked up once per batch, not once per message:

- the stamp's Unix time, per stamp text, kept from batch to batch within the hour of the
  receive time (:func:`~.rfc3164.stamp_epoch` caches by the text and that hour, so it would
  give the same; the receive time is all it depends on besides the text);
- the ``source`` text, per sender;
- the vendor table is consulted (:func:`~.vendor.classify`) only for the messages the C lane
  leaves: those where a mnemonic can be (a ``%`` in the first 200 characters, an RFC 5424
  MSGID, or text opening with two capitals: ``classify``'s own first test, which the lane
  makes conservatively) and those the lane does not read.

The per-message functions stay what TCP frames and the general path use, and the reference
that ``tests/unit/collectors/test_syslog_batch.py`` checks this against (captures, vectors,
the benchmark corpus and hypothesis-fuzzed input).
"""

from __future__ import annotations

from typing import Literal

from netvigil.collectors.base import CollectorCounters, dead_letter
from netvigil.collectors.syslog import _lane
from netvigil.collectors.syslog.records import SOURCE, python_lane, to_events
from netvigil.collectors.syslog.rfc3164 import parse_syslog, stamp_epoch
from netvigil.collectors.syslog.vendor import classify
from netvigil.errors import DecodeError
from netvigil.events import DeviceEvent, Event, LogRecord

__all__ = ["batch_events"]

_STAMPS: dict[str, float | None] = {}
"""A stamp's text -> its Unix time, for receive times in the hour ``_hour``; cleared when the
hour changes or it grows past 4,096 stamps (as :func:`~.rfc3164.stamp_epoch`'s own cache)."""
_hour = -1


def _stamps(received: float) -> dict[str, float | None]:
    global _hour
    hour = int(received // 3600)
    if hour != _hour or len(_STAMPS) > 4096:
        _STAMPS.clear()
        _hour = hour
    return _STAMPS


def batch_events(
    datagrams: list[tuple[bytes, str]], received: float, counters: CollectorCounters
) -> list[Event]:
    """The events (or dead letters) of each datagram, in order, as
    :func:`~.records.message_events` gives them one by one; counted as it counts them."""
    stamps = _stamps(received)
    heads, left = _lane.records(datagrams, received, LogRecord, stamp_epoch, stamps)
    if not left:  # the C lane made every one: nothing for the vendor table
        counters.received += len(heads)
        counters.decoded += len(heads)
        return heads
    out: list[Event] = []
    append = out.append
    sources: dict[str, str] = {}
    n = decoded = done = 0  # heads[:done] are counted and in out
    try:
        for i in left:  # the lane's LogRecords up to i as they are, then datagram i finished
            out += heads[done:i]
            n += i - done + 1
            decoded += i - done
            done = i + 1
            head = heads[i]
            raw, peer = datagrams[i]
            if head is None:
                try:
                    head = python_lane(raw)
                    if head is None:
                        out += to_events(parse_syslog(raw, now=received), peer, received)
                        decoded += 1
                        continue
                except DecodeError as exc:
                    append(dead_letter(SOURCE, raw, str(exc), received, counters))
                    continue
            shape = head[0]
            fields: dict[str, str] = {}
            sd: dict[str, dict[str, str]] = {}
            msgid = app = procid = None
            rfc: Literal["3164", "5424"] = "3164"
            if shape == 3164:
                _, pri, stamp, mon, day, clock, host, app, procid, text = head
                if stamp in stamps:
                    ts = stamps[stamp]
                else:
                    ts = stamps[stamp] = stamp_epoch(stamp, received, mon, day, clock, None, None)
            elif shape == 5424:
                _, pri, ts, host, app, procid, msgid, sd, text = head
                rfc = "5424"
            else:
                _, pri, seq, host, sync, stamp, mon, day, clock, year, tz, text = head
                if stamp in stamps:
                    ts = stamps[stamp]
                else:
                    ts = stamps[stamp] = stamp_epoch(stamp, received, mon, day, clock, year, tz)
                if seq is not None:
                    fields["sequence"] = seq
                if sync is not None:
                    fields["clock"] = "unsynchronized" if sync == "*" else "resynchronized"
            kind = classify(text, msgid, fields)  # its first test: can a mnemonic be there
            device = host or peer
            if ts is None:
                ts = received
            source = sources.get(peer)
            if source is None:
                source = sources[peer] = f"{SOURCE}:{peer}"
            append(
                LogRecord(
                    ts=ts,
                    device=device,
                    facility=pri >> 3,
                    severity=pri & 7,
                    app_name=app,
                    procid=procid,
                    msgid=msgid,
                    message=text.rstrip("\r\n"),  # rsyslog frames end in LF
                    rfc=rfc,
                    source=source,
                    structured_data=sd,
                    fields=fields,
                )
            )
            decoded += 1
            if kind:
                iface = fields.get("interface")
                append(
                    DeviceEvent(
                        ts=ts,
                        device=device,
                        kind=kind,
                        entity=f"{device}:{iface}" if iface else fields.get("neighbor", ""),
                        source=SOURCE,
                        attrs=fields,
                    )
                )
        out += heads[done:]
        n += len(heads) - done
        decoded += len(heads) - done
    finally:
        counters.received += n
        counters.decoded += decoded
    return out
