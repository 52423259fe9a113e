"""What a processor ignores, counted by reason and said once.

A processor that decides not to act on an event (a stale incident revision, an anomaly older
than its clock, a symptom a restart could not confirm) must not do so silently: it calls its
:class:`Ignored` with a reason from a short, fixed vocabulary and one line of detail. The
first time a reason occurs the service log says what is ignored and why (once: a storm of late
events is one line, not a million); every occurrence is counted. The counts are read by the
console's ``/metrics`` (``netvigil_events_ignored_total{processor, reason}``, through the
edges' meters) and by the stop summary of ``netvigil run``.

The counter lives in the processor, not in a runtime, so it counts the same on the embedded
bus and on Kafka.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator

from netvigil.streams.meters import EDGE, EdgeMeters, Reading

__all__ = ["REASONS", "Ignored"]

log = logging.getLogger(__name__)

REASONS: dict[str, str] = {
    "stale_revision": "an incident revision older than the one already applied",
    "repeated_revision": "an incident revision already applied (redelivered or replayed)",
    "late_anomaly": "an anomaly older than the correlator's clock by more than its lateness",
    "unconfirmed_symptom": "a symptom an incident had before a restart and that was not seen "
    "again within the correlation window after it (the detector restarted without it)",
    "clear_without_anomaly": "a cleared anomaly that no live group holds",
    "unconfirmed_unreachability": "a device's unreachability that cleared before anything "
    "corroborated it or it lasted correlator.confirm_s (a lone poll timeout)",
    "redelivered": "on Kafka, a record already applied to its key's state, or an event "
    "byte-identical to one taken within the last hour of event time: delivered again after a "
    "crash or rebalance (at least once), or replayed",
}
"""Every reason a processor may give, with what it means (the docs list these)."""


class Ignored:
    """The ignored-event counter of one processor (see the module docstring)."""

    def __init__(self, processor: str, *, meters: EdgeMeters = EDGE) -> None:
        self.processor = processor
        self.counts: Counter[str] = Counter()
        meters.add(self)

    def __call__(self, reason: str, detail: str, n: int = 1) -> None:
        """Count ``n`` events ignored for ``reason``; the first one is logged with ``detail``."""
        if reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}; add it to REASONS")
        if not self.counts[reason]:
            log.warning(
                "%s ignores %s (%s), e.g. %s; counted as netvigil_events_ignored_total"
                '{processor="%s",reason="%s"}, logged once',
                self.processor,
                reason,
                REASONS[reason],
                detail,
                self.processor,
                reason,
            )
        self.counts[reason] += n

    def total(self) -> int:
        return sum(self.counts.values())

    def readings(self) -> Iterator[Reading]:
        for reason, n in sorted(self.counts.items()):
            yield Reading("netvigil_events_ignored", (self.processor, reason), float(n))
