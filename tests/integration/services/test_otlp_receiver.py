"""The OTLP/HTTP receiver over real HTTP: the OpenTelemetry SDK's own exporter (protobuf,
gzip, cumulative and delta), JSON requests, and the specification's answers to bad requests
(400 with a Status and a dead letter, 413 for a gzip bomb, 415, partial success)."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from netvigil.collectors.otlp import JSON, PATH, PROTOBUF, OtlpListen, OtlpReceiver
from netvigil.events import DeadLetter, Event, Metric
from tests.service_apps import otel_app


@asynccontextmanager
async def receiver(**kw: object) -> AsyncIterator[tuple[OtlpReceiver, list[Event], str]]:
    got: list[Event] = []

    async def emit(e: Event) -> None:
        got.append(e)

    r = OtlpReceiver(OtlpListen(port=0, **kw))  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = asyncio.create_task(r.run(emit, stop))
    await asyncio.wait_for(r.ready.wait(), 10)
    try:
        yield r, got, f"http://127.0.0.1:{r.port}{PATH}"
    finally:
        stop.set()
        await task


@pytest.mark.parametrize("delta", [False, True], ids=["cumulative", "delta"])
def test_the_sdk_exporter_pushes_rates_the_same_either_temporality(delta: bool) -> None:
    """50 requests a second for 2 s, one in ten failing: the rates agree with what the
    application did, whatever temporality it exports."""

    async def scenario() -> tuple[list[Event], float]:
        async with receiver() as (r, got, url):
            did = await asyncio.to_thread(
                otel_app, url, "checkout", "vm7", 2.0, delta=delta, gzip=True
            )
            assert r.counters.dead_letters == {}
            return got, did

    got, did = asyncio.run(scenario())
    rates = [e for e in got if isinstance(e, Metric) and e.name == "app.http.server.requests.rate"]
    ok = [e.value for e in rates if e.labels.get("code") == "200"]
    assert len(ok) >= 4
    mid = sorted(ok)[len(ok) // 2]
    assert 0.6 * did < mid < 1.5 * did, (did, ok)
    assert {e.device for e in got} == {"vm7"}
    gauges = {e.value for e in got if isinstance(e, Metric)
              and e.name == "app.http.server.active_requests"}  # fmt: skip
    assert gauges == {3.0}


def test_json_request_gets_a_json_answer_with_partial_success() -> None:
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    kv = rm.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", "orders"
    sm = rm.scope_metrics.add()
    good = sm.metrics.add(name="queue")
    good.gauge.data_points.add(time_unix_nano=1_000_000_000, as_double=4)
    bad = sm.metrics.add(name="broken")
    bad.gauge.data_points.add(time_unix_nano=1_000_000_000, as_double=float("inf"))

    async def scenario() -> tuple[int, str, str, list[Event]]:
        async with receiver() as (_, got, url), aiohttp.ClientSession() as s:
            body = json_format.MessageToJson(req)
            async with s.post(url, data=body, headers={"Content-Type": JSON}) as resp:
                return resp.status, resp.content_type, await resp.text(), got

    status, ctype, text, got = asyncio.run(scenario())
    assert (status, ctype) == (200, JSON)
    answer = json_format.Parse(text, ExportMetricsServiceResponse())
    assert answer.partial_success.rejected_data_points == 1
    assert "not finite" in answer.partial_success.error_message
    assert [(e.name, e.value, e.ts) for e in got if isinstance(e, Metric)] == [
        ("app.queue", 4.0, 1.0)
    ]


def test_bad_requests_get_the_specified_answers_and_dead_letters() -> None:
    async def scenario() -> tuple[list[tuple[int, str, bytes]], list[Event], OtlpReceiver]:
        async with receiver(max_body_bytes=10_000) as (r, got, url), aiohttp.ClientSession() as s:
            out = []
            for data, headers in (
                (b"\x0a\xff\xff\xff\xff", {"Content-Type": PROTOBUF}),  # truncated field
                (b"not gzip", {"Content-Type": PROTOBUF, "Content-Encoding": "gzip"}),
                (gzip.compress(b"\0" * 1_000_000), {"Content-Type": PROTOBUF,
                                                     "Content-Encoding": "gzip"}),
                (b"x=1", {"Content-Type": "application/x-www-form-urlencoded"}),
            ):  # fmt: skip
                async with s.post(url, data=data, headers=headers) as resp:
                    out.append((resp.status, resp.content_type, await resp.read()))
            return out, got, r

    answers, got, r = asyncio.run(scenario())
    assert [a[0] for a in answers] == [400, 400, 413, 415]
    first = status_pb2.Status.FromString(answers[0][2])
    assert first.code == 3 and "not an OTLP metrics request" in first.message
    letters = [e for e in got if isinstance(e, DeadLetter)]
    assert [d.reason.split(":")[0] for d in letters] == ["bad_otlp", "bad_encoding", "too_large"]
    assert letters[0].raw == b"\x0a\xff\xff\xff\xff"
    assert r.counters.dead_letters == {"bad_otlp": 1, "bad_encoding": 1, "too_large": 1}
