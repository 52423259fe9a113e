"""Counters of the service's edges, read when Prometheus scrapes: what each collector received,
what its sockets and queues dropped, its flow templates and TCP connections, and the
dead-letter store.

The parts that count (listeners, collectors, the dead-letter file) keep plain integers on the
hot path and register themselves with an :class:`EdgeMeters`; at scrape time it asks each
live part for its :class:`Reading` values and turns them into metric families. So counting
costs nothing per datagram, and the numbers cannot drift from the parts they describe.

Every metric an edge part may report is declared once in :data:`METRICS` (name, kind, help,
labels): the table is the reference the docs (docs/collectors.md) point to. Parts take an
``meters=`` argument and default to the process-wide :data:`EDGE`, as prometheus_client's
metrics default to its ``REGISTRY``; the console's registry reads :data:`EDGE`, tests pass a
fresh :class:`EdgeMeters`. Parts are held weakly: a collector that is gone stops reporting.
Two parts reporting the same metric and labels are summed (two syslog collectors in one
process), so a scrape never carries a duplicate series.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["EDGE", "METRICS", "EdgeMeters", "Metered", "MetricSpec", "Reading"]


@dataclass(frozen=True, slots=True)
class MetricSpec:
    kind: Literal["counter", "gauge"]
    help: str
    labels: tuple[str, ...]


_C = ("collector",)
_CL = ("collector", "listener")

METRICS: dict[str, MetricSpec] = {
    "netvigil_collector_received": MetricSpec(
        "counter", "Inputs a collector received (datagrams, stream messages).", _C
    ),
    "netvigil_collector_decoded": MetricSpec(
        "counter", "Inputs a collector decoded into events.", _C
    ),
    "netvigil_collector_dead_letters": MetricSpec(
        "counter", "Dead letters a collector published, by reason.", ("collector", "reason")
    ),
    "netvigil_collector_kernel_drops": MetricSpec(
        "counter",
        "Datagrams the kernel dropped on a UDP listener's socket (drops in /proc/net/udp).",
        _CL,
    ),
    "netvigil_collector_queue_drops": MetricSpec(
        "counter", "Datagrams a UDP listener read but dropped because its queue was full.", _CL
    ),
    "netvigil_collector_receive_buffer_bytes": MetricSpec(
        "gauge", "Receive buffer the kernel granted a UDP listener's socket.", _CL
    ),
    "netvigil_collector_receive_buffer_requested_bytes": MetricSpec(
        "gauge", "Receive buffer a UDP listener asked for (more than granted: capped).", _CL
    ),
    "netvigil_collector_connections": MetricSpec(
        "gauge", "Open stream (TCP/TLS) connections of a listener.", _CL
    ),
    "netvigil_collector_connections_refused": MetricSpec(
        "counter",
        "Stream connections closed at once: per_source or total connection limit reached.",
        ("collector", "listener", "reason"),
    ),
    "netvigil_collector_connections_idle_closed": MetricSpec(
        "counter", "Stream connections closed after sending nothing for the idle timeout.", _CL
    ),
    "netvigil_flow_templates": MetricSpec(
        "gauge", "NetFlow v9 / IPFIX templates in the collector's cache.", _C
    ),
    "netvigil_flow_templates_refused": MetricSpec(
        "counter",
        "Templates refused: bad_length, exporter_limit or total_limit (each a dead letter).",
        ("collector", "reason"),
    ),
    "netvigil_flow_templates_expired": MetricSpec(
        "counter", "Templates dropped from the cache after going unused for the template TTL.", _C
    ),
    "netvigil_dead_letter_store_bytes": MetricSpec(
        "gauge", "Bytes of dead letters on disk (current file and rotated ones).", ()
    ),
    "netvigil_dead_letter_store_rotations": MetricSpec(
        "counter", "Times the dead-letter file reached its size cap and was rotated.", ()
    ),
    "netvigil_dead_letters_discarded": MetricSpec(
        "counter", "Dead letters deleted with the oldest rotated file.", ()
    ),
    "netvigil_dead_letters_truncated": MetricSpec(
        "counter", "Dead letters whose raw bytes were cut to the per-letter cap.", ("where",)
    ),
    "netvigil_snmp_polls_failed": MetricSpec(
        "counter", "SNMP polls that failed, by reason (timeout, deadline, ...).", ("reason",)
    ),
    "netvigil_snmp_polls_skipped": MetricSpec(
        "counter", "SNMP polls skipped: the target's previous poll was still running.", ()
    ),
    "netvigil_snmp_poller_overloaded": MetricSpec(
        "gauge",
        "1 while the SNMP poller is overloaded (many targets late in one interval: "
        "netvigil/collectors/snmp/health.py), else 0.",
        (),
    ),
    "netvigil_snmp_poller_overload_episodes": MetricSpec(
        "counter", "Times the SNMP poller became overloaded.", ()
    ),
    "netvigil_events_ignored": MetricSpec(
        "counter",
        "Events a processor ignored, by reason (stale revisions, late events; "
        "netvigil/streams/ignored.py).",
        ("processor", "reason"),
    ),
}
"""Every metric of the edges: name (counters get ``_total`` on the wire) -> spec."""


@dataclass(frozen=True, slots=True)
class Reading:
    """One value of a metric of :data:`METRICS`, with its label values in the spec's order."""

    name: str
    labels: tuple[str, ...]
    value: float


class Metered(Protocol):
    """A part that reports readings when asked (at scrape time)."""

    def readings(self) -> Iterable[Reading]: ...


class EdgeMeters(Collector):
    """The prometheus_client collector of the edges' readings (see the module docstring)."""

    def __init__(self) -> None:
        self._parts: weakref.WeakSet[Metered] = weakref.WeakSet()

    def add(self, part: Metered) -> None:
        self._parts.add(part)

    def discard(self, part: Metered) -> None:
        self._parts.discard(part)

    def values(self) -> dict[tuple[str, tuple[str, ...]], float]:
        """Every reading of every live part, summed per metric and labels."""
        out: dict[tuple[str, tuple[str, ...]], float] = {}
        for part in list(self._parts):
            for r in part.readings():
                spec = METRICS[r.name]  # KeyError: a metric nobody declared
                if len(r.labels) != len(spec.labels):
                    raise ValueError(f"{r.name} takes labels {spec.labels}, got {r.labels}")
                key = (r.name, r.labels)
                out[key] = out.get(key, 0.0) + r.value
        return out

    def collect(self) -> Iterator[Metric]:
        values = self.values()
        for name in sorted({n for n, _ in values}):
            spec = METRICS[name]
            family: CounterMetricFamily | GaugeMetricFamily
            if spec.kind == "counter":
                family = CounterMetricFamily(name, spec.help, labels=list(spec.labels))
            else:
                family = GaugeMetricFamily(name, spec.help, labels=list(spec.labels))
            for (n, labels), v in sorted(values.items()):
                if n == name:
                    family.add_metric(list(labels), v)
            yield family


EDGE = EdgeMeters()
"""The process-wide default, read by the console's registry (see the module docstring)."""
