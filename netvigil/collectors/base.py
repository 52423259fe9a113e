"""The collector interface: a Source with its own counters, and dead letters for bad input.

A collector turns what devices send or answer into the events of :mod:`netvigil.events` and
publishes them with ``emit``. Decoding is a pure function of the raw bytes (see each
protocol's module); a decoder raises :class:`~netvigil.errors.DecodeError` and the collector
publishes a :class:`~netvigil.events.DeadLetter` with the raw bytes and the reason, counts
it, and goes on. A collector never stops on bad input.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from netvigil.events import DeadLetter
from netvigil.streams.base import Emit

__all__ = ["Collector", "CollectorCounters", "dead_letter"]


@dataclass
class CollectorCounters:
    """What a collector saw: inputs received, events decoded, dead letters by reason."""

    received: int = 0
    decoded: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)

    def snapshot(self) -> dict[str, object]:
        return {
            "received": self.received,
            "decoded": self.decoded,
            "dead_letters": dict(self.dead_letters),
        }


class Collector(Protocol):
    """A source of events from devices, with counters."""

    name: str
    counters: CollectorCounters

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        """Collect until ``stop`` is set; bad input becomes dead letters, never an exception."""
        ...


def dead_letter(
    source: str, raw: bytes, reason: str, ts: float, counters: CollectorCounters | None = None
) -> DeadLetter:
    """A dead letter for raw input that could not be decoded (and count it)."""
    if counters is not None:
        counters.dead_letters[reason.split(":", 1)[0]] += 1
    return DeadLetter(ts=ts, source=source, reason=reason, raw=raw)
