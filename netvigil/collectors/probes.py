"""Synthetic probes: HTTP(S), TCP connect and DNS checks of services, on a schedule.

Each target is checked every ``interval_s`` (APScheduler, with jitter so that many probes do
not fire at once), under its own timeout, so one slow service never delays the others.
Results become metrics (``probe.latency_ms``, ``probe.success``) labelled with the probe and
the service, and ``check_down`` / ``check_up`` device events on transitions. HTTP uses
aiohttp, DNS dnspython's asyncio resolver; TCP is a plain connect.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import aiohttp
import dns.asyncresolver
import dns.exception
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from netvigil.collectors.base import CollectorCounters
from netvigil.events import DeviceEvent, Event, Metric
from netvigil.streams.base import Emit

__all__ = ["ProbeCollector", "ProbeResult", "ProbeTarget", "run_check"]


@dataclass(frozen=True)
class ProbeTarget:
    """One check. ``device`` is where the result is attributed (the service's host)."""

    name: str
    kind: Literal["http", "tcp", "dns"]
    target: str
    """http: a URL; tcp: HOST:PORT; dns: a name to resolve."""
    service: str = ""
    device: str = ""
    interval_s: float = 30.0
    timeout_s: float = 5.0
    jitter_s: float | None = None
    """Random delay added to each run; default a tenth of the interval."""
    expect_status: int | None = None
    """HTTP: the status expected (default: any 2xx or 3xx)."""
    expect_content: str | None = None
    """HTTP: a regular expression the body must match."""
    nameserver: str | None = None
    """DNS: HOST:PORT of the server to ask (default: the system's resolvers)."""


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    latency_ms: float
    detail: str = ""


async def _http(t: ProbeTarget, session: aiohttp.ClientSession) -> ProbeResult:
    start = time.perf_counter()
    async with session.get(t.target, allow_redirects=False) as resp:
        body = await resp.text(errors="replace")
    ms = (time.perf_counter() - start) * 1000
    status_ok = resp.status == t.expect_status if t.expect_status else 200 <= resp.status < 400
    if not status_ok:
        return ProbeResult(False, ms, f"status {resp.status}")
    if t.expect_content and not re.search(t.expect_content, body):
        return ProbeResult(False, ms, "content did not match")
    return ProbeResult(True, ms, f"status {resp.status}")


async def _tcp(t: ProbeTarget) -> ProbeResult:
    host, _, port = t.target.rpartition(":")
    start = time.perf_counter()
    _, writer = await asyncio.open_connection(host, int(port))
    ms = (time.perf_counter() - start) * 1000
    writer.close()
    await writer.wait_closed()
    return ProbeResult(True, ms, "connected")


async def _dns(t: ProbeTarget) -> ProbeResult:
    resolver = dns.asyncresolver.Resolver(configure=t.nameserver is None)
    if t.nameserver:
        host, _, port = t.nameserver.rpartition(":")
        resolver.nameservers = [host]
        resolver.port = int(port)
    resolver.lifetime = t.timeout_s
    start = time.perf_counter()
    answer = await resolver.resolve(t.target, "A")
    ms = (time.perf_counter() - start) * 1000
    return ProbeResult(True, ms, ",".join(r.to_text() for r in answer))


async def run_check(t: ProbeTarget, session: aiohttp.ClientSession | None = None) -> ProbeResult:
    """Run one check under its timeout; every failure is a result, never an exception."""
    start = time.perf_counter()
    try:
        async with asyncio.timeout(t.timeout_s):
            if t.kind == "http":
                if session is None:
                    async with aiohttp.ClientSession() as own:
                        return await _http(t, own)
                return await _http(t, session)
            if t.kind == "tcp":
                return await _tcp(t)
            return await _dns(t)
    except TimeoutError:
        return ProbeResult(False, t.timeout_s * 1000, "timeout")
    except (aiohttp.ClientError, OSError, dns.exception.DNSException, ValueError) as exc:
        ms = (time.perf_counter() - start) * 1000
        return ProbeResult(False, ms, f"{type(exc).__name__}: {exc}")


@dataclass
class ProbeCollector:
    """Runs every target's check on its schedule and publishes the results."""

    targets: list[ProbeTarget]
    name: str = "probes"
    clock: Callable[[], float] = time.time
    counters: CollectorCounters = field(default_factory=CollectorCounters)
    _up: dict[str, bool] = field(default_factory=dict)

    def results_to_events(self, t: ProbeTarget, r: ProbeResult, ts: float) -> list[Event]:
        device = t.device or t.service or t.target
        labels = {"probe": t.name, "kind": t.kind}
        if t.service:
            labels["service"] = t.service
        events: list[Event] = [
            Metric(
                ts=ts,
                device=device,
                name="probe.latency_ms",
                value=round(r.latency_ms, 3),
                unit="ms",
                labels=labels,
            ),
            Metric(
                ts=ts,
                device=device,
                name="probe.success",
                value=1.0 if r.ok else 0.0,
                labels=labels,
            ),
        ]
        was = self._up.get(t.name, True)
        if r.ok != was:
            events.append(
                DeviceEvent(
                    ts=ts,
                    device=device,
                    kind="check_up" if r.ok else "check_down",
                    entity=t.service or t.name,
                    source="probe",
                    attrs={"probe": t.name, "detail": r.detail},
                )
            )
        self._up[t.name] = r.ok
        return events

    async def _check(self, t: ProbeTarget, emit: Emit, session: aiohttp.ClientSession) -> None:
        r = await run_check(t, session)
        self.counters.received += 1
        for e in self.results_to_events(t, r, self.clock()):
            self.counters.decoded += 1
            await emit(e)

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        scheduler = AsyncIOScheduler()
        async with aiohttp.ClientSession() as session:
            for t in self.targets:
                scheduler.add_job(
                    self._check,
                    "interval",
                    args=(t, emit, session),
                    seconds=t.interval_s,
                    jitter=t.interval_s / 10 if t.jitter_s is None else t.jitter_s,
                    max_instances=1,
                    coalesce=True,
                    id=t.name,
                    next_run_time=datetime.now().astimezone(),
                )  # check at once
            scheduler.start()
            try:
                await stop.wait()
            finally:
                scheduler.shutdown(wait=False)
