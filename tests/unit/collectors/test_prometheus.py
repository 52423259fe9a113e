"""Prometheus text-format mapping: counters to rates with resets, gauges, bad bodies."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netvigil.collectors.prometheus import PrometheusScraper, ScrapeTarget, parse_exposition
from netvigil.errors import DecodeError
from netvigil.events import Metric

BODY = """# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{{code="200"}} {ok}
http_requests_total{{code="500"}} {err}
# HELP inflight In-flight requests.
# TYPE inflight gauge
inflight 7
"""

T = ScrapeTarget("http://x/metrics", service="checkout", device="edge1")


def metrics(events: list) -> dict[tuple[str, str], float]:
    return {(e.name, e.labels.get("code", "")): e.value for e in events if isinstance(e, Metric)}


def test_counters_become_rates_and_resets_are_restarts() -> None:
    s = PrometheusScraper([T])
    first = metrics(s.to_events(T, BODY.format(ok=100, err=1), ts=0.0))
    assert first == {("app.inflight", ""): 7.0}  # no rate before the second scrape
    second = metrics(s.to_events(T, BODY.format(ok=160, err=4), ts=10.0))
    assert second[("app.http_requests_total.rate", "200")] == 6.0
    assert second[("app.http_requests_total.rate", "500")] == 0.3
    third = metrics(s.to_events(T, BODY.format(ok=20, err=0), ts=20.0))  # restarted
    assert third[("app.http_requests_total.rate", "200")] == 2.0
    assert all(v >= 0 for v in third.values())


def test_service_label_and_device() -> None:
    s = PrometheusScraper([T])
    e = s.to_events(T, BODY.format(ok=1, err=1), ts=0.0)[0]
    assert isinstance(e, Metric) and e.device == "edge1" and e.labels["service"] == "checkout"


def test_malformed_body_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="bad_exposition"):
        parse_exposition('metric{label="unterminated} 1\n')


@given(st.text(max_size=200))
def test_parser_never_raises_anything_but_decode_error(text: str) -> None:
    try:
        parse_exposition(text)
    except DecodeError as exc:
        assert exc.reason == "bad_exposition"


async def test_a_password_in_the_scrape_url_never_reaches_a_dead_letter() -> None:
    import aiohttp
    from aiohttp import web

    from netvigil.events import DeadLetter

    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=500 if request.path == "/fails" else 200, text="{not metrics")

    app = web.Application()
    app.router.add_get("/{path}", broken)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    out: list = []

    async def emit(e: object) -> None:
        out.append(e)

    try:
        targets = [
            ScrapeTarget(f"http://ops:s3cret@127.0.0.1:{port}/{p}", service="shop")
            for p in ("fails", "garbled")
        ]
        s = PrometheusScraper(targets)
        async with aiohttp.ClientSession() as session:
            for t in targets:
                await s.scrape_once(t, session, emit)
    finally:
        await runner.cleanup()
    dead = [e for e in out if isinstance(e, DeadLetter)]
    assert len(dead) == 2, out  # the 500 and the body that does not parse
    for d in dead:
        assert "s3cret" not in d.source + d.reason and b"s3cret" not in d.raw
        assert "127.0.0.1" in d.source
