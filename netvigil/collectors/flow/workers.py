"""The flow collector's UDP workers (``flows.udp_workers``; the processes and frames are
:mod:`netvigil.collectors.udpworkers`), and what a datagram becomes in either mode.

Each worker decodes with a :class:`~.netflow.FlowSession` of its own. The kernel hands all the
datagrams of one exporter (its address and port) to one worker while the group of sockets is
unchanged, so that worker has the exporter's templates. The group changes when a worker dies
(its exporters move to the others): for the worker that takes an exporter over, the
collector announces every template, so each worker knows all of them:

- a template a worker learns, changes or withdraws on the wire goes to the collector as a note
  (``learned``): the collector publishes it (the compacted templates topic) and tells every
  other worker (``adopt``: :meth:`~.netflow.FlowSession.adopt`, which also decodes the data
  sets held for it); at start each worker adopts the templates the collector loaded from the
  topic, before it reads a datagram;
- an adopted template does not expire in a worker that has not used it; the first use is
  said (``claimed``), so the collector knows which worker serves the exporter now. A worker's
  template that expires (unused there for ``template_ttl_s``) is said (``expired``): the
  collector withdraws it everywhere if that worker served it last, and otherwise gives it back
  to the worker as adopted (the exporter moved; another worker uses it). Templates that no
  worker serves (loaded from the topic and never used, or served by a worker that died) are
  withdrawn by the collector after ``template_ttl_s``.

Data that comes before its template (a worker that took an exporter over before the template
was announced to it) is held, as in one process, for ``hold_s``, and decoded the moment the
template arrives from the wire or from the collector; what is never decoded is a dead letter.
sFlow counter samples become rates per worker (an agent that moves starts a new series, one
polling interval without a rate).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from netvigil.collectors.base import CollectorCounters, dead_letter
from netvigil.collectors.flow.counters import CounterRates
from netvigil.collectors.flow.decoder import FlowDecoder, FlowResult, flow_events
from netvigil.collectors.flow.netflow import FlowSession, Problem
from netvigil.collectors.udpworkers import Note
from netvigil.errors import DecodeError
from netvigil.events import Event, FlowTemplate

__all__ = ["LANE", "SOURCE", "FlowLane", "datagram_events", "result_events"]

SOURCE = "flows"
LANE = "netvigil.collectors.flow.workers:FlowLane"


def problem_letter(p: Problem, now: float, counters: CollectorCounters) -> Event:
    return dead_letter(SOURCE, p.raw, f"{p.reason}: {p.message}", now, counters)


def result_events(
    result: FlowResult,
    received: float,
    rates: CounterRates,
    counters: CollectorCounters,
    clock: Callable[[], float],
) -> list[Event]:
    """What a decoded datagram publishes: records and templates (counted as decoded), sFlow
    counters as metrics, and a dead letter per problem (stamped with ``clock``)."""
    events = flow_events(result, received)
    counters.decoded += len(events)
    if result.sflow is not None:
        dg = result.sflow
        for sample in dg.samples:
            if sample.get("sample_type") == "counter_sample":
                events += rates.metrics(result.exporter, dg.uptime_ms, sample, received)
    if result.problems:
        now = clock()
        events += [problem_letter(p, now, counters) for p in result.problems]
    return events


def datagram_events(
    decoder: FlowDecoder,
    rates: CounterRates,
    data: bytes,
    exporter: str,
    received: float,
    counters: CollectorCounters,
    clock: Callable[[], float],
) -> tuple[list[Event], FlowResult | None]:
    """One datagram, counted as received, and what it publishes (with its decoding, if any)."""
    counters.received += 1
    try:
        result = decoder.decode(data, exporter, received)
    except DecodeError as exc:
        return [dead_letter(SOURCE, data, str(exc), received, counters)], None
    return result_events(result, received, rates, counters, clock), result


class FlowLane:
    """A worker's decoding: its own session, templates said to the collector as notes."""

    def __init__(self, *, clock: Callable[[], float] | None = None, **session: Any) -> None:
        """``session``: the :class:`~.netflow.FlowSession`'s settings, as the collector's."""
        self.clock = clock or time.time
        self.session = FlowSession(**session)
        self.decoder = FlowDecoder(self.session)
        self.rates = CounterRates()
        self.notes: list[Note] = []
        self.stats: Counter[str] = Counter()
        self._refused: Counter[str] = Counter()

    def _say(self, result: FlowResult, events: list[Event]) -> list[Event]:
        if result.templates:  # to the collector, which publishes them and tells the others
            self.notes += [("learned", t) for t in result.templates]
            events = [e for e in events if not isinstance(e, FlowTemplate)]
        if result.claimed:
            self.notes += [("claimed", t) for t in result.claimed]
        return events

    def batch(
        self, datagrams: list[tuple[bytes, str]], received: float, counters: CollectorCounters
    ) -> list[Event]:
        out: list[Event] = []
        decoder, rates, clock = self.decoder, self.rates, self.clock
        for data, peer in datagrams:
            events, result = datagram_events(decoder, rates, data, peer, received, counters, clock)
            if result is not None and (result.templates or result.claimed):
                events = self._say(result, events)
            out += events
        return out

    def told(self, notes: list[Note], now: float, counters: CollectorCounters) -> list[Event]:
        out: list[Event] = []
        for _, template in notes:  # "adopt": a template another worker learned or withdrew
            r = self.session.adopt(template, now)
            if r.sets or r.problems:
                result = FlowResult(template.version, template.exporter, r.sets, None, [],
                                    r.problems, r.claimed)  # fmt: skip
                out += self._say(result, result_events(result, now, self.rates, counters,
                                                       self.clock))  # fmt: skip
        self._count_refused()
        return out

    def tick(self, now: float, counters: CollectorCounters) -> list[Event]:
        out = [problem_letter(p, now, counters) for p in self.session.expire(now)]
        self.notes += [("expired", t) for t in self.session.expire_templates(now)]
        self._count_refused()
        return out

    def close(self, counters: CollectorCounters) -> list[Event]:
        now = self.clock()
        return [problem_letter(p, now, counters) for p in self.session.flush()]

    def _count_refused(self) -> None:
        new = self.session.refused - self._refused
        if new:
            self.stats.update({f"refused:{k}": v for k, v in new.items()})
            self._refused.update(new)
