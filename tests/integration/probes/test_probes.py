"""Probes against real local servers: aiohttp HTTP, a TCP listener, and dnsmasq for DNS."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from netvigil.collectors.probes import ProbeCollector, ProbeTarget, run_check
from netvigil.events import DeviceEvent, Event, Metric
from provision.common import Server, free_port

pytestmark = pytest.mark.integration


@pytest.fixture
async def http() -> AsyncIterator[tuple[str, dict[str, float]]]:
    """An HTTP service whose delay and failure are set by the test."""
    knobs = {"delay": 0.0, "status": 200}

    async def handler(request: web.Request) -> web.Response:
        await asyncio.sleep(knobs["delay"])
        return web.Response(status=int(knobs["status"]), text="checkout ok")

    app = web.Application()
    app.router.add_get("/health", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    yield f"http://127.0.0.1:{port}/health", knobs
    await runner.cleanup()


@pytest.fixture(scope="module")
def dnsmasq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if shutil.which("dnsmasq") is None:
        pytest.fail("dnsmasq missing: run scripts/system-deps.sh")
    run_dir: Path = tmp_path_factory.mktemp("dnsmasq")
    port = free_port()
    server = Server("dnsmasq", run_dir)
    server.spawn(
        [
            "dnsmasq",
            "--no-daemon",
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            f"--port={port}",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--address=/checkout.svc.test/127.0.0.42",
            f"--pid-file={run_dir / 'dnsmasq.real.pid'}",
            "--user=root",
        ]
    )
    time.sleep(0.5)
    yield f"127.0.0.1:{port}"
    server.stop()


async def test_http_check_latency_status_and_content(http: tuple[str, dict[str, float]]) -> None:
    url, knobs = http
    ok = await run_check(ProbeTarget("co", "http", url, expect_content="checkout ok"))
    assert ok.ok and ok.latency_ms < 1000
    knobs["delay"] = 0.3
    slow = await run_check(ProbeTarget("co", "http", url))
    assert slow.ok and slow.latency_ms >= 300
    timeout = await run_check(ProbeTarget("co", "http", url, timeout_s=0.1))
    assert not timeout.ok and timeout.detail == "timeout"
    knobs["delay"], knobs["status"] = 0.0, 503
    failed = await run_check(ProbeTarget("co", "http", url))
    assert not failed.ok and failed.detail == "status 503"
    knobs["status"] = 200
    wrong = await run_check(ProbeTarget("co", "http", url, expect_content="^nope$"))
    assert not wrong.ok and "content" in wrong.detail


async def test_tcp_check() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    assert (await run_check(ProbeTarget("db", "tcp", f"127.0.0.1:{port}"))).ok
    server.close()
    await server.wait_closed()
    refused = await run_check(ProbeTarget("db", "tcp", f"127.0.0.1:{port}"))
    assert not refused.ok and "ConnectionRefused" in refused.detail


async def test_dns_check_against_dnsmasq(dnsmasq: str) -> None:
    r = await run_check(ProbeTarget("dns", "dns", "checkout.svc.test", nameserver=dnsmasq))
    assert r.ok and r.detail == "127.0.0.42"
    missing = await run_check(
        ProbeTarget("dns", "dns", "nothing.invalid", nameserver=dnsmasq, timeout_s=2)
    )
    assert not missing.ok


async def test_collector_schedules_emits_metrics_and_down_up_events(
    http: tuple[str, dict[str, float]],
) -> None:
    url, knobs = http
    events: list[Event] = []

    async def emit(e: Event) -> None:
        events.append(e)

    fast = ProbeTarget(
        "co",
        "http",
        url,
        service="checkout",
        device="edge1",
        interval_s=0.2,
        jitter_s=0.05,
        timeout_s=0.5,
    )
    dead = ProbeTarget(
        "gone",
        "tcp",
        f"127.0.0.1:{free_port()}",
        service="legacy",
        interval_s=0.2,
        jitter_s=0.05,
        timeout_s=0.5,
    )
    col = ProbeCollector([fast, dead])
    stop = asyncio.Event()
    task = asyncio.create_task(col.run(emit, stop))
    await asyncio.sleep(0.8)
    knobs["status"] = 500
    await asyncio.sleep(0.8)
    knobs["status"] = 200
    await asyncio.sleep(0.8)
    stop.set()
    await task
    lat = [
        e
        for e in events
        if isinstance(e, Metric) and e.name == "probe.latency_ms" and e.labels["probe"] == "co"
    ]
    assert len(lat) >= 4 and all(e.device == "edge1" for e in lat)
    assert lat[0].labels["service"] == "checkout"
    kinds = [e.kind for e in events if isinstance(e, DeviceEvent) and e.attrs["probe"] == "co"]
    assert kinds == ["check_down", "check_up"]
    legacy = [e for e in events if isinstance(e, DeviceEvent) and e.attrs["probe"] == "gone"]
    assert [e.kind for e in legacy] == ["check_down"]  # down once, not on every check
    assert col.counters.received >= 8
