"""The collector interface: a Source with its own counters, and dead letters for bad input.

A collector turns what devices send or answer into the events of :mod:`netvigil.events` and
publishes them with ``emit``. Decoding is a pure function of the raw bytes (see each
protocol's module); a decoder raises :class:`~netvigil.errors.DecodeError` and the collector
publishes a :class:`~netvigil.events.DeadLetter` with the raw bytes and the reason, counts
it, and goes on. A collector never stops on bad input.

A dead letter keeps at most :data:`RAW_LIMIT` bytes of the raw input (the reason says how
long it was): enough for any real datagram or syslog message, so that an attacker's megabytes
cannot become megabytes on the dead-letter topic.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from netvigil.events import DeadLetter
from netvigil.streams.base import Emit
from netvigil.streams.meters import Reading

__all__ = ["RAW_LIMIT", "Collector", "CollectorCounters", "dead_letter"]

RAW_LIMIT = 16_384
"""Raw bytes a collector's dead letter keeps at most (a jumbo frame's datagram fits)."""


@dataclass
class CollectorCounters:
    """What a collector saw: inputs received, events decoded, dead letters by reason (and
    how many of them kept only the first :data:`RAW_LIMIT` raw bytes)."""

    received: int = 0
    decoded: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    truncated: int = 0

    def snapshot(self) -> dict[str, object]:
        return {
            "received": self.received,
            "decoded": self.decoded,
            "dead_letters": dict(self.dead_letters),
        }

    def readings(self, collector: str) -> Iterator[Reading]:
        """These counters as metrics of :mod:`netvigil.streams.meters`."""
        yield Reading("netvigil_collector_received", (collector,), self.received)
        yield Reading("netvigil_collector_decoded", (collector,), self.decoded)
        for reason, n in sorted(self.dead_letters.items()):
            yield Reading("netvigil_collector_dead_letters", (collector, reason), n)
        yield Reading("netvigil_dead_letters_truncated", (collector,), self.truncated)


class Collector(Protocol):
    """A source of events from devices, with counters."""

    name: str
    counters: CollectorCounters

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        """Collect until ``stop`` is set; bad input becomes dead letters, never an exception."""
        ...


def dead_letter(
    source: str,
    raw: bytes,
    reason: str,
    ts: float,
    counters: CollectorCounters | None = None,
    limit: int = RAW_LIMIT,
) -> DeadLetter:
    """A dead letter for raw input that could not be decoded (and count it); raw input
    longer than ``limit`` is cut to its first ``limit`` bytes."""
    if counters is not None:
        counters.dead_letters[reason.split(":", 1)[0]] += 1
    if len(raw) > limit:
        reason = f"{reason} [raw: first {limit} of {len(raw)} bytes]"
        raw = raw[:limit]
        if counters is not None:
            counters.truncated += 1
    return DeadLetter(ts=ts, source=source, reason=reason, raw=raw)
