"""Application metrics: scrape Prometheus text-format endpoints and map them to services.

Parsing is ``prometheus_client``'s own text parser. Counters (``_total`` samples of counter
families) become per-second rates between scrapes, with resets (a counter going down: the
process restarted) treated as a restart from zero rather than a negative rate; gauges pass
through; histogram buckets are kept as cumulative rates so latency percentiles can be
estimated downstream. A body that does not parse is a dead letter with the reason.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from netvigil.collectors.base import CollectorCounters, dead_letter
from netvigil.errors import DecodeError
from netvigil.events import Event, Metric
from netvigil.redaction import redact_urls
from netvigil.streams.base import Emit

__all__ = ["CounterRates", "PrometheusScraper", "ScrapeTarget", "SeriesKey", "parse_exposition"]


@dataclass(frozen=True)
class ScrapeTarget:
    url: str
    service: str
    device: str = ""
    interval_s: float = 15.0
    timeout_s: float = 5.0


def parse_exposition(text: str) -> list[tuple[str, str, dict[str, str], float]]:
    """(family type, sample name, labels, value) of every sample; DecodeError if malformed."""
    try:
        return [
            (fam.type, s.name, dict(s.labels), float(s.value))
            for fam in text_string_to_metric_families(text)
            for s in fam.samples
        ]
    except (ValueError, TypeError, IndexError) as exc:
        raise DecodeError("bad_exposition", f"not Prometheus text format: {exc}") from exc


SeriesKey = tuple[str, tuple[tuple[str, str], ...]]


@dataclass
class CounterRates:
    """Per-second rates of cumulative counters between two samples of the same series.

    Keeps the last sample of at most ``max_series`` series; the one updated longest ago is
    forgotten first (its next sample then starts it again), so a label explosion in an
    application costs rates, never memory.
    """

    max_series: int = 100_000
    last: dict[SeriesKey, tuple[float, float, int]] = field(default_factory=dict)

    def rate(self, key: SeriesKey, value: float, ts: float, start: int = 0) -> float | None:
        """The rate since the last sample (None for the first). A counter that went down, or
        whose ``start`` (its start time, where the protocol has one) changed, restarted and
        counts from zero again."""
        prev = self.last.pop(key, None)  # re-inserted last: the dict is in order of use
        self.last[key] = (ts, value, start)
        if len(self.last) > self.max_series:
            del self.last[next(iter(self.last))]
        if prev is None or ts <= prev[0]:
            return None
        delta = value - prev[1]
        if delta < 0 or start != prev[2]:  # a reset: the process restarted
            delta = value
        return delta / (ts - prev[0])


@dataclass
class PrometheusScraper:
    targets: list[ScrapeTarget]
    name: str = "prometheus"
    clock: Callable[[], float] = time.time
    counters: CollectorCounters = field(default_factory=CollectorCounters)
    _rates: dict[str, CounterRates] = field(default_factory=dict)

    def to_events(self, t: ScrapeTarget, text: str, ts: float) -> list[Event]:
        rates = self._rates.setdefault(t.url, CounterRates())
        out: list[Event] = []
        device = t.device or t.service
        for ftype, name, labels, value in parse_exposition(text):
            lbl = {**labels, "service": t.service}
            if ftype in ("counter", "histogram", "summary") and (
                name.endswith(("_total", "_count", "_sum", "_bucket"))
            ):
                r = rates.rate((name, tuple(sorted(lbl.items()))), value, ts)
                if r is None:
                    continue
                out.append(
                    Metric(
                        ts=ts,
                        device=device,
                        name=f"app.{name}.rate",
                        value=r,
                        unit="1/s",
                        labels=lbl,
                    )
                )
            elif ftype in ("gauge", "untyped", "unknown"):
                out.append(
                    Metric(ts=ts, device=device, name=f"app.{name}", value=value, labels=lbl)
                )
        return out

    async def scrape_once(
        self, t: ScrapeTarget, session: aiohttp.ClientSession, emit: Emit
    ) -> None:
        ts = self.clock()
        shown = redact_urls(t.url)  # a password in the URL never reaches a dead letter
        try:
            async with asyncio.timeout(t.timeout_s), session.get(t.url) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise DecodeError("http_status", f"{shown} answered {resp.status}")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            self.counters.dead_letters["unreachable"] += 1
            await emit(
                Metric(
                    ts=ts,
                    device=t.device or t.service,
                    name="app.up",
                    value=0.0,
                    labels={"service": t.service, "error": type(exc).__name__},
                )
            )
            return
        except DecodeError as exc:
            await emit(dead_letter(f"prometheus:{shown}", b"", str(exc), ts, self.counters))
            return
        self.counters.received += 1
        try:
            events = self.to_events(t, body.decode("utf-8", "replace"), ts)
        except DecodeError as exc:
            await emit(dead_letter(f"prometheus:{shown}", body, str(exc), ts, self.counters))
            return
        events.append(
            Metric(
                ts=ts,
                device=t.device or t.service,
                name="app.up",
                value=1.0,
                labels={"service": t.service},
            )
        )
        for e in events:
            self.counters.decoded += 1
            await emit(e)

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        async with aiohttp.ClientSession() as session:

            async def loop(t: ScrapeTarget) -> None:
                while not stop.is_set():
                    await self.scrape_once(t, session, emit)
                    try:
                        await asyncio.wait_for(stop.wait(), timeout=t.interval_s)
                    except TimeoutError:
                        continue

            await asyncio.gather(*(loop(t) for t in self.targets))
