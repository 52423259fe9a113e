"""Link utilization as the pipeline receives it, kept for the benchmarks that judge by load.

:class:`LoadRecorder` listens to ``netvigil.metrics`` and keeps every ``if.out_util`` sample
(an interface's sending direction: the lab's SNMP counters over a poll, or the twin's model)
so that a benchmark can ask what a link carried in a span of time: whether a fault congested
another link (:meth:`LoadRecorder.peak`), or what it carried on average before and after a
change (:meth:`LoadRecorder.mean`). Memory: one float pair per sample (a 25-router lab polled
every 10 s for an hour is about 40,000 samples).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from netvigil.events import Event, Metric

__all__ = ["LoadRecorder"]

UTIL = "if.out_util"


@dataclass
class LoadRecorder:
    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    """interface entity -> (event time, utilization) in arrival order."""

    def on_metric(self, topic: str, event: Event) -> None:
        if isinstance(event, Metric) and event.name == UTIL:
            self.series.setdefault(event.entity, []).append((event.ts, event.value))

    def _values(self, entity: str, start: float, end: float) -> list[float]:
        return [v for ts, v in self.series.get(entity, ()) if start <= ts <= end]

    def mean(self, entity: str, start: float, end: float) -> float | None:
        """Mean utilization of ``entity`` over samples in ``[start, end]`` (None: no sample)."""
        values = self._values(entity, start, end)
        return statistics.fmean(values) if values else None

    def peak(self, entity: str, start: float, end: float) -> float | None:
        values = self._values(entity, start, end)
        return max(values) if values else None

    def congested_by(
        self,
        start: float,
        end: float,
        *,
        exclude: set[str],
        threshold: float,
        before_s: float = 60.0,
        clear: float | None = None,
    ) -> list[str]:
        """Interfaces (not in ``exclude``) at or over ``threshold`` in ``[start, end]`` that
        were under ``clear`` (default: ``threshold``) in the ``before_s`` before ``start``:
        congestion that began with what happened at ``start``."""
        out = []
        for entity in sorted(self.series):
            if entity in exclude:
                continue
            during = self.peak(entity, start, end)
            before = self.peak(entity, start - before_s, start)
            limit = threshold if clear is None else clear
            if during is not None and during >= threshold and (before or 0.0) < limit:
                out.append(entity)
        return out
