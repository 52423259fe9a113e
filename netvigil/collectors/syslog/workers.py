"""The syslog collector's UDP workers (``syslog.udp_workers``; the processes and frames are
:mod:`netvigil.collectors.udpworkers`): each turns its batches into their events (or dead
letters) exactly as the collector does, with :func:`~.batch.batch_events`."""

from __future__ import annotations

from collections import Counter

from netvigil.collectors.base import CollectorCounters
from netvigil.collectors.syslog.batch import batch_events
from netvigil.collectors.udpworkers import Note
from netvigil.events import Event

__all__ = ["LANE", "SyslogLane"]

LANE = "netvigil.collectors.syslog.workers:SyslogLane"


class SyslogLane:
    """Syslog keeps nothing between datagrams: a batch's events are all there is."""

    def __init__(self) -> None:
        self.notes: list[Note] = []
        self.stats: Counter[str] = Counter()

    def batch(
        self, datagrams: list[tuple[bytes, str]], received: float, counters: CollectorCounters
    ) -> list[Event]:
        return batch_events(datagrams, received, counters)

    def told(self, notes: list[Note], now: float, counters: CollectorCounters) -> list[Event]:
        return []

    def tick(self, now: float, counters: CollectorCounters) -> list[Event]:
        return []

    def close(self, counters: CollectorCounters) -> list[Event]:
        return []
