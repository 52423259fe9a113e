"""Real applications for the service-level tests: one instrumented with the OpenTelemetry SDK
that pushes OTLP/HTTP, one exposing Prometheus text with ``prometheus_client``."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import Counter as SdkCounter
from opentelemetry.sdk.metrics import Histogram as SdkHistogram
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client import Counter as PromCounter

from netvigil.config import (
    OtlpSettings,
    ProbeSettings,
    ScrapeSettings,
    ServiceLevelSettings,
    Settings,
    SloSettings,
)
from netvigil.events import Anomaly, Event, Metric
from netvigil.service import Service
from provision.common import free_port, wait_for_port


def otel_app(
    endpoint: str,
    service: str,
    host: str,
    seconds: float,
    *,
    delta: bool = False,
    gzip: bool = False,
    rate_per_s: float = 50.0,
) -> float:
    """An application instrumented with the OTel SDK: ``rate_per_s`` requests a second (one in
    ten fails), their latency histogram and an in-flight gauge, exported every 200 ms over
    OTLP/HTTP protobuf for ``seconds``; flushes and shuts down at the end. Returns the rate
    of successful requests it achieved (a loaded machine sleeps longer than asked)."""
    temporality = AggregationTemporality.DELTA if delta else AggregationTemporality.CUMULATIVE
    exporter = OTLPMetricExporter(
        endpoint=endpoint,
        compression=Compression.Gzip if gzip else Compression.NoCompression,
        preferred_temporality={SdkCounter: temporality, SdkHistogram: temporality},
    )
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=200)
    provider = MeterProvider(
        resource=Resource.create({"service.name": service, "host.name": host}),
        metric_readers=[reader],
    )
    meter = provider.get_meter("netvigil.tests")
    requests = meter.create_counter("http.server.requests", unit="1")
    latency = meter.create_histogram("http.server.duration", unit="ms")
    inflight = meter.create_up_down_counter("http.server.active_requests")
    inflight.add(3)
    begin = time.monotonic()
    end = begin + seconds
    i = 0
    while time.monotonic() < end:
        i += 1
        requests.add(1, {"code": "500" if i % 10 == 0 else "200"})
        latency.record(5.0 + i % 20)
        time.sleep(1 / rate_per_s)
    achieved = (i - i // 10) / (time.monotonic() - begin)
    provider.shutdown()
    return achieved


@asynccontextmanager
async def prometheus_app() -> AsyncIterator[tuple[str, PromCounter]]:
    """An HTTP server exposing a ``prometheus_client`` registry at /metrics; yields its URL and
    its request counter (the test increments it)."""
    registry = CollectorRegistry()
    counter = PromCounter("orders_requests", "Requests.", ["code"], registry=registry)
    Gauge("orders_queue", "Queue depth.", registry=registry).set(4)
    lock = threading.Lock()

    async def metrics(_: web.Request) -> web.Response:
        with lock:
            body = generate_latest(registry)
        return web.Response(body=body, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/metrics", counter
    finally:
        await runner.cleanup()


def service_level_settings(settings: Settings, scrape_url: str, otlp_port: int) -> Settings:
    """``settings`` with a probe of a closed port for ``checkout`` (its 99.9 % SLO burns), a
    scrape of ``orders`` and the OTLP receiver on ``otlp_port``."""
    s = settings.model_copy(deep=True)
    s.services = ServiceLevelSettings(
        probes=[
            ProbeSettings(
                name="co",
                kind="tcp",
                target=f"127.0.0.1:{free_port()}",
                service="checkout",
                device="edge1",
                interval_s=0.2,
                timeout_s=0.5,
            )
        ],
        scrape=[ScrapeSettings(url=scrape_url, service="orders", device="edge2", interval_s=0.3)],
        otlp=OtlpSettings(port=otlp_port, devices={"checkout": "edge1"}),
        slos=[SloSettings(service="checkout", objective=0.999)],
    )
    return s


#: what a service-level run must have published: (topic, event type, name or kind, service)
EXPECTED = {
    ("netvigil.metrics", "Metric", "probe.success", "checkout"),
    ("netvigil.metrics", "Metric", "app.orders_requests_total.rate", "orders"),
    ("netvigil.metrics", "Metric", "app.orders_queue", "orders"),
    ("netvigil.metrics", "Metric", "app.http.server.requests.rate", "checkout"),
    ("netvigil.metrics", "Metric", "app.http.server.duration_bucket.rate", "checkout"),
    ("netvigil.metrics", "Metric", "app.http.server.active_requests", "checkout"),
    ("netvigil.anomalies", "Anomaly", "slo_burn", "checkout"),
    ("netvigil.events", "DeviceEvent", "check_down", ""),
}


def seen_key(topic: str, e: Event) -> tuple[str, str, str, str]:
    name = e.name if isinstance(e, Metric) else getattr(e, "kind", "")
    service = e.labels.get("service", "") if isinstance(e, Metric) else ""
    if isinstance(e, Anomaly):
        service = e.entity
    return (topic, type(e).__name__, name, service)


async def run_service_level(svc: Service, scrape_counter: PromCounter, otlp_port: int) -> set:
    """Runs ``svc`` with the OTel app pushing to it until everything in EXPECTED was published
    (at most 120 s after the receiver listens); returns what was seen."""
    seen: set[tuple[str, str, str, str]] = set()
    for topic in ("netvigil.metrics", "netvigil.anomalies", "netvigil.events"):
        svc.runtime.listen(topic, lambda t, e: seen.add(seen_key(t, e)))
    stop = asyncio.Event()
    task = asyncio.create_task(svc.run(stop))
    endpoint = f"http://127.0.0.1:{otlp_port}/v1/metrics"
    # the Kafka runtime starts its sources once its workers have joined: push from then on
    await asyncio.to_thread(wait_for_port, otlp_port, 120)
    app = asyncio.create_task(
        asyncio.to_thread(otel_app, endpoint, "checkout", "ignored-host", 4.0, gzip=True)
    )
    try:
        for _ in range(1200):
            scrape_counter.labels(code="200").inc(5)
            await asyncio.sleep(0.1)
            if seen >= EXPECTED and app.done():
                break
    finally:
        await app
        stop.set()
        await task
    return seen


def service_level_scenario(
    settings: Settings, data_dir: Path, runtime: type
) -> set[tuple[str, str, str, str]]:
    """Builds the service from ``settings`` with the three service-level sources (the
    Prometheus app served meanwhile), checks it runs on ``runtime``, runs it as
    :func:`run_service_level` does and returns what was seen."""

    async def scenario() -> set[tuple[str, str, str, str]]:
        async with prometheus_app() as (url, counter):
            port = free_port()
            svc = Service.build(service_level_settings(settings, url, port), data_dir=data_dir)
            assert isinstance(svc.runtime, runtime)
            try:
                return await run_service_level(svc, counter, port)
            finally:
                svc.close()

    return asyncio.run(scenario())
