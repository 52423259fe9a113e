"""Flow analytics for one exporter: interface utilisation, top talkers, volumetric anomalies.

Pure (no I/O, no clock): records are folded into tumbling event-time windows of ``window_s``;
when a record from a later window arrives, the open window closes and yields a
:class:`WindowReport`:

- **bits per second per interface and direction**, from ``octetDeltaCount`` (already
  multiplied by the sampling rate by the collector) and ``ingressInterface`` /
  ``egressInterface`` (sFlow's ``input`` / ``output``), plus utilisation when the interface's
  speed is known (``speeds_bps``);
- **top talkers**: the ``top_k`` sources, destinations and conversations by bytes;
- **volumetric anomalies**: the exporter's total bits per second goes through the same
  seasonal, calibrated scorer and hysteresis as every other metric
  (:class:`~netvigil.analytics.detector.SeriesDetector`), so a flood or a sudden drop opens
  one anomaly whose evidence names the top talkers of the window.

Memory per exporter is bounded: at most ``max_keys`` distinct talkers per window are counted
individually, the rest under ``other`` (counted, never dropped). Records too late for the open
window (event time before it) are counted in it, and counted as ``late``: a window is never
reopened. Why hand-written: it is a few dictionaries per window; the heavy part, the anomaly
score, is shared with the metric detector.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from netvigil.analytics.detector import DetectorConfig, SeriesDetector, Transition
from netvigil.events import FieldValue

__all__ = ["ExporterFlows", "FlowConfig", "FlowWindow", "WindowReport", "interfaces_of"]

_SRC = ("sourceIPv4Address", "sourceIPv6Address", "src_ip")
_DST = ("destinationIPv4Address", "destinationIPv6Address", "dst_ip")
OTHER = "other"
_MAX_GAP = 1000
_MAX_COUNT = 2.0**96
"""Larger than any 64-bit counter times any 32-bit sampling rate: beyond, not a count."""


@dataclass(frozen=True)
class FlowConfig:
    window_s: float = 60.0
    top_k: int = 5
    max_keys: int = 50_000
    speeds_bps: Mapping[str, float] = field(default_factory=dict)
    """Interface speed by ``"<exporter>:<ifIndex>"``, for utilisation."""
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    """The metric detector's settings (the service passes its ``detector`` section: one
    configuration for every series, flow volumes included)."""


def _first(fields: Mapping[str, FieldValue], names: tuple[str, ...]) -> str | None:
    for n in names:
        v = fields.get(n)
        if v is not None and v != "":
            return str(v)
    return None


def _counter(value: FieldValue) -> int | None:
    """A byte or packet count, or None for anything that is not a finite count."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value < 0 or value > _MAX_COUNT:
        return None
    return int(value)


def interfaces_of(fields: Mapping[str, FieldValue]) -> tuple[str | None, str | None]:
    """(ingress, egress) interface indexes of a record, as strings; 0 means unknown."""
    ins = fields.get("ingressInterface", fields.get("input"))
    out = fields.get("egressInterface", fields.get("output"))
    return (
        str(ins) if ins not in (None, 0, "0", "") else None,
        str(out) if out not in (None, 0, "0", "") else None,
    )


@dataclass
class FlowWindow:
    """Byte counts of one window."""

    start: float
    octets: int = 0
    packets: int = 0
    records: int = 0
    late: int = 0
    by_if: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    src: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    dst: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    pair: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def _count(self, table: dict[str, int], key: str, n: int, cap: int) -> None:
        if key in table or len(table) < cap:
            table[key] += n
        else:
            table[OTHER] += n


@dataclass(frozen=True)
class WindowReport:
    """What one closed window says about one exporter."""

    start: float
    end: float
    total_bps: float
    records: int
    late: int
    if_bps: dict[tuple[str, str], float]
    """(ifIndex, "in" | "out") -> bits per second."""
    if_util: dict[tuple[str, str], float]
    """Same keys, for interfaces of known speed: utilisation in [0, 1+]."""
    top_src: list[tuple[str, float]]
    top_dst: list[tuple[str, float]]
    top_pairs: list[tuple[str, float]]
    """Each: (address or "src>dst", bits per second), largest first."""
    transition: Transition | None = None
    """A volumetric anomaly opening or clearing at the end of this window."""


@dataclass
class ExporterFlows:
    """The flow analytics state of one exporter."""

    exporter: str
    cfg: FlowConfig = field(default_factory=FlowConfig)
    window: FlowWindow | None = None
    volume: SeriesDetector | None = None
    skipped: int = 0
    """Records without a byte count (options data, malformed exports); counted, not used."""
    last: WindowReport | None = None
    partial: bool = True
    """The first window began mid-window: its volume is not learned as normal."""

    def add(self, ts: float, fields: Mapping[str, FieldValue]) -> list[WindowReport]:
        """Fold one flow record in; return the windows it closed (usually none)."""
        n = _counter(fields.get("octetDeltaCount"))
        if n is None or not math.isfinite(ts):
            self.skipped += 1
            return []
        reports = self.advance(ts)
        w = self.window
        assert w is not None
        cap = self.cfg.max_keys
        if ts < w.start:
            w.late += 1
        w.octets += n
        w.packets += _counter(fields.get("packetDeltaCount")) or 0
        w.records += 1
        ins, out = interfaces_of(fields)
        if ins is not None:
            w.by_if[(ins, "in")] += n
        if out is not None:
            w.by_if[(out, "out")] += n
        src, dst = _first(fields, _SRC), _first(fields, _DST)
        if src is not None:
            w._count(w.src, src, n, cap)
        if dst is not None:
            w._count(w.dst, dst, n, cap)
        if src is not None and dst is not None:
            w._count(w.pair, f"{src}>{dst}", n, cap)
        return reports

    def advance(self, ts: float) -> list[WindowReport]:
        """Close every window that ends at or before ``ts`` (event time)."""
        size = self.cfg.window_s
        if self.window is None:
            self.window = FlowWindow(start=ts - ts % size)
            return []
        reports = []
        while ts >= self.window.start + size:
            nxt = self.window.start + size
            reports.append(self._close(self.window))  # an empty window says traffic stopped
            if ts - nxt > _MAX_GAP * size:  # a long silence: resume at ts, not window by window
                nxt = ts - ts % size
            self.window = FlowWindow(start=nxt)
        return reports

    def _close(self, w: FlowWindow) -> WindowReport:
        size = self.cfg.window_s
        end = w.start + size

        def rate(n: int) -> float:
            return 8.0 * n / size

        def top(table: dict[str, int]) -> list[tuple[str, float]]:
            best = heapq.nlargest(self.cfg.top_k, table.items(), key=lambda kv: kv[1])
            return [(k, rate(v)) for k, v in best]

        if_bps = {k: rate(v) for k, v in w.by_if.items()}
        util = {}
        for (ifindex, direction), bps in if_bps.items():
            speed = self.cfg.speeds_bps.get(f"{self.exporter}:{ifindex}")
            if speed:
                util[(ifindex, direction)] = bps / speed
        if self.volume is None:
            self.volume = SeriesDetector.for_signal("flow.bps", self.cfg.detector)
        total = rate(w.octets)
        tr = None if self.partial else self.volume.observe(end, total, self.cfg.detector)
        self.partial = False
        report = WindowReport(
            start=w.start,
            end=end,
            total_bps=total,
            records=w.records,
            late=w.late,
            if_bps=if_bps,
            if_util=util,
            top_src=top(w.src),
            top_dst=top(w.dst),
            top_pairs=top(w.pair),
            transition=tr,
        )
        self.last = report
        return report
