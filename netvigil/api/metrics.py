"""Prometheus metrics of the running service, read at scrape time (prometheus_client).

A custom collector reads the runtime's counters and the stores when Prometheus scrapes, instead
of updating metric objects on every event: the hot path stays free of metrics code, and the
numbers cannot drift from the stores they describe. Each console has its own registry (no
process-global state), so several consoles in one test process do not collide.

On the embedded runtime, "consumer lag" is the depth of each processor's inbox (events
published to it and not yet processed); on Kafka it will be the consumer group's offset lag.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from netvigil.events import Anomaly, DeadLetter, Event
from netvigil.streams.meters import EDGE, EdgeMeters

if TYPE_CHECKING:
    from netvigil.api.app import Console

__all__ = ["Meters", "ServiceCollector", "make_registry"]


_RUNTIME: list[tuple[type[CounterMetricFamily | GaugeMetricFamily], str, str, str, str]] = [
    (
        CounterMetricFamily,
        "netvigil_events_published",
        "Events published, per topic.",
        "topic",
        "published",
    ),
    (
        CounterMetricFamily,
        "netvigil_events_processed",
        "Events processed, per processor.",
        "processor",
        "processed",
    ),
    (
        CounterMetricFamily,
        "netvigil_processor_errors",
        "Events a processor raised on (sent to the dead-letter topic).",
        "processor",
        "failed",
    ),
    (
        GaugeMetricFamily,
        "netvigil_consumer_lag",
        "Events waiting in each processor's inbox (embedded runtime).",
        "processor",
        "queued",
    ),
]
"""(family, metric name, help, label, key of EmbeddedRuntime.stats())"""


class ServiceCollector(Collector):
    def __init__(self, console: Console) -> None:
        self.c = console

    def collect(self) -> Iterator[Metric]:
        c = self.c
        stats = c.stats()
        for family, name, doc, label, key in _RUNTIME:
            m = family(name, doc, labels=[label])
            for value, n in sorted(stats.get(key, {}).items()):
                m.add_metric([value], n)
            yield m
        incidents = GaugeMetricFamily(
            "netvigil_incidents", "Incidents by status.", labels=["status"]
        )
        tickets = GaugeMetricFamily("netvigil_tickets", "Tickets by state.", labels=["state"])
        by_status: dict[str, int] = {"open": 0, "resolved": 0}
        by_state: dict[str, int] = {}
        for inc, ticket in c.incidents.list():
            by_status[inc.status] = by_status.get(inc.status, 0) + 1
            if ticket is not None:
                t = c.tickets.find(inc.fingerprint)
                state = t.state if t is not None else "unknown"
                by_state[state] = by_state.get(state, 0) + 1
        for k, v in sorted(by_status.items()):
            incidents.add_metric([k], v)
        for k, v in sorted(by_state.items()):
            tickets.add_metric([k], v)
        yield incidents
        yield tickets
        dl = CounterMetricFamily("netvigil_dead_letters", "Dead letters written.")
        dl.add_metric([], c.dead_letter_count())
        yield dl
        actions = GaugeMetricFamily(
            "netvigil_actions", "Remediation actions by status/outcome.", labels=["status"]
        )
        by_action: dict[str, int] = {}
        for a in c.actions.list():
            by_action[a.status] = by_action.get(a.status, 0) + 1
        for k, v in sorted(by_action.items()):
            actions.add_metric([k], v)
        yield actions
        br = GaugeMetricFamily("netvigil_breaker_open", "1 while the circuit breaker is open.")
        br.add_metric([], 1.0 if c.breaker.view().open else 0.0)
        yield br


_DELAY_BUCKETS = (0.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, float("inf"))


class Meters:
    """Metrics counted as events pass (runtime listeners), in the console's own registry:
    dead letters by source (decode errors of collectors, processor failures) and the detector's
    delay from a signal's onset to its anomaly, in event-time seconds. The registry also
    reads the edges' meters (collectors' sockets, queues, templates; the dead-letter store)."""

    def __init__(self, edges: EdgeMeters = EDGE) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(edges)
        self.auth_failures = Counter(
            "netvigil_api_auth_failures",
            "Requests refused for a missing or wrong token.",
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "netvigil_dead_letters_by_source",
            "Dead letters by source (collector decode errors, processor failures).",
            ["source"],
            registry=self.registry,
        )
        self.detection_delay = Histogram(
            "netvigil_detection_delay_seconds",
            "Event time from a signal's onset to its anomaly being raised.",
            buckets=_DELAY_BUCKETS,
            registry=self.registry,
        )

    def on_dead_letter(self, topic: str, event: Event) -> None:
        if isinstance(event, DeadLetter):
            # "processor:detector" or "syslog:10.0.0.1" -> bounded label values
            self.dead_letters.labels(event.source.partition(":")[0] or "unknown").inc()

    def on_anomaly(self, topic: str, event: Event) -> None:
        if isinstance(event, Anomaly) and event.state == "active" and event.onset_ts is not None:
            self.detection_delay.observe(max(event.ts - event.onset_ts, 0.0))


def make_registry(console: Console) -> CollectorRegistry:
    """The console's registry: its meters plus the collector reading the service at scrape."""
    reg = console.meters.registry
    reg.register(ServiceCollector(console))
    return reg
