"""Application metrics pushed over OTLP/HTTP (``POST /v1/metrics``), mapped to services.

The receiver follows the OTLP/HTTP specification: a binary protobuf
(``application/x-protobuf``) or JSON (``application/json``) ``ExportMetricsServiceRequest``,
optionally gzip-compressed; the answer is an ``ExportMetricsServiceResponse`` in the same
encoding, with ``partial_success`` when some data points could not be used, or HTTP 400 with a
``google.rpc.Status`` when the body is not a request (that body becomes a dead letter with the
reason). Bodies are capped (``max_body_bytes``, after decompression, so a gzip bomb stops at
the cap with 413 and a dead letter without the body); other media types get 415. Decoding is
the ``opentelemetry-proto`` generated classes and ``google.protobuf.json_format`` (which
reads the OTLP JSON mapping: lowerCamel or snake names, 64-bit integers as strings, enums as
integers, unknown fields ignored, as the specification asks of receivers).

Mapping, the same shape as :mod:`netvigil.collectors.prometheus` produces, so a service's
metrics look alike whichever way they come:

- the service is the resource's ``service.name``; the device is the one the settings name for
  that service, else the resource's ``host.name``, else the service;
- gauges and non-monotonic sums pass through as ``app.<name>``; monotonic sums become
  per-second rates ``app.<name>.rate`` (cumulative: between exports, with a changed start time
  or a lower value taken as a restart from zero; delta: the value over its interval);
- explicit-bucket histograms become ``app.<name>_count.rate``, ``_sum.rate`` and cumulative
  ``_bucket.rate`` with ``le``; exponential histograms give count and sum only; summaries give
  their quantiles as gauges (label ``quantile``) and count and sum as rates;
- data-point attributes become labels, with ``service`` added (and ``instance``, the
  resource's ``service.instance.id``, when it has one: replicas stay separate series).
  Timestamps are the data points' own (event time).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError
from google.protobuf import json_format
from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb

from netvigil.collectors.base import CollectorCounters, dead_letter
from netvigil.collectors.prometheus import CounterRates
from netvigil.errors import DecodeError
from netvigil.events import Metric
from netvigil.streams.base import Emit

__all__ = ["OtlpListen", "OtlpMapper", "OtlpReceiver", "decode_request"]

log = logging.getLogger(__name__)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
PATH = "/v1/metrics"
_DELTA = pb.AGGREGATION_TEMPORALITY_DELTA
_NO_VALUE = pb.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK


@dataclass(frozen=True)
class OtlpListen:
    host: str = "127.0.0.1"
    port: int = 4318
    max_body_bytes: int = 4 << 20
    devices: Mapping[str, str] = field(default_factory=dict)
    """service name -> device it runs on (else the resource's host.name)."""


def decode_request(body: bytes, content_type: str) -> ExportMetricsServiceRequest:
    """The request in ``body``; DecodeError if it is not one in the media type given."""
    req = ExportMetricsServiceRequest()
    try:
        if content_type == JSON:
            json_format.Parse(body.decode("utf-8"), req, ignore_unknown_fields=True)
        else:
            req.ParseFromString(body)
    except (ProtobufDecodeError, json_format.ParseError, UnicodeDecodeError, ValueError) as exc:
        raise DecodeError(
            "bad_otlp", f"not an OTLP metrics request ({content_type}): {exc}"
        ) from exc
    except RecursionError as exc:  # absurdly nested AnyValue arrays
        raise DecodeError("bad_otlp", "OTLP request nested too deeply") from exc
    return req


def _value(v: AnyValue, depth: int = 0) -> str:
    kind = v.WhichOneof("value")
    if kind is None:
        return ""
    if kind in ("array_value", "kvlist_value"):
        if depth > 4:
            return "..."
        if kind == "array_value":
            return "[" + ",".join(_value(x, depth + 1) for x in v.array_value.values) + "]"
        inner = ",".join(f"{kv.key}={_value(kv.value, depth + 1)}" for kv in v.kvlist_value.values)
        return "{" + inner + "}"
    if kind == "bytes_value":
        return v.bytes_value.hex()
    if kind == "bool_value":
        return "true" if v.bool_value else "false"
    return str(getattr(v, kind))


def _attrs(kvs: Iterable[KeyValue]) -> dict[str, str]:
    return {kv.key: _value(kv.value) for kv in kvs}


#: the data point kinds; they share the fields the mapping reads
Point = (
    pb.NumberDataPoint
    | pb.HistogramDataPoint
    | pb.ExponentialHistogramDataPoint
    | pb.SummaryDataPoint
)


def _ts(p: Point, now: float) -> float:
    """A data point's time in seconds (the receive time if it has none)."""
    return p.time_unix_nano / 1e9 if p.time_unix_nano else now


@dataclass
class OtlpMapper:
    """Turns requests into metrics; keeps the last value of every cumulative series."""

    devices: Mapping[str, str] = field(default_factory=dict)
    rates: CounterRates = field(default_factory=CounterRates)
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)

    def to_events(self, req: ExportMetricsServiceRequest, now: float) -> list[Metric]:
        """Metrics of every usable data point; unusable ones are counted in ``rejected``."""
        self.rejected, self.reasons = 0, []
        out: list[Metric] = []
        for rm in req.resource_metrics:
            res = _attrs(rm.resource.attributes)
            service = res.get("service.name", "") or "unknown_service"
            device = self.devices.get(service) or res.get("host.name") or service
            base = {"service": service}
            if instance := res.get("service.instance.id"):  # replicas are series of their own
                base["instance"] = instance
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    out.extend(self._metric(m, base, device, now))
        return out

    def _reject(self, n: int, why: str) -> None:
        self.rejected += n
        if why not in self.reasons:
            self.reasons.append(why)

    def _metric(
        self, m: pb.Metric, base: dict[str, str], device: str, now: float
    ) -> Iterator[Metric]:
        kind = m.WhichOneof("data")
        if not m.name:
            self._reject(1, "a metric has no name")
            return
        name = f"app.{m.name}"

        def sample(
            suffix: str, value: float, labels: dict[str, str], ts: float, unit: str = m.unit
        ) -> Metric:
            return Metric(
                ts=ts, device=device, name=name + suffix, value=value, unit=unit, labels=labels
            )

        def rate(
            suffix: str, p: Point, value: float, labels: dict[str, str], delta: bool
        ) -> Metric | None:
            ts = _ts(p, now)
            if delta:
                span = (p.time_unix_nano - p.start_time_unix_nano) / 1e9
                if not p.start_time_unix_nano or span <= 0:
                    self._reject(1, f"{m.name}: a delta point has no start time")
                    return None
                return sample(suffix + ".rate", value / span, labels, ts, "1/s")
            key = (f"{device}|{name}{suffix}", tuple(sorted(labels.items())))
            r = self.rates.rate(key, value, ts, start=p.start_time_unix_nano)
            return None if r is None else sample(suffix + ".rate", r, labels, ts, "1/s")

        if kind in ("gauge", "sum"):
            data = m.gauge if kind == "gauge" else m.sum
            monotonic = kind == "sum" and m.sum.is_monotonic
            delta = kind == "sum" and m.sum.aggregation_temporality == _DELTA
            for p in data.data_points:
                if p.flags & _NO_VALUE:
                    continue
                v = float(p.as_double if p.WhichOneof("value") == "as_double" else p.as_int)
                if not math.isfinite(v):
                    self._reject(1, f"{m.name}: value is not finite")
                    continue
                labels = {**_attrs(p.attributes), **base}
                if monotonic:
                    if (e := rate("", p, v, labels, delta)) is not None:
                        yield e
                else:
                    yield sample("", v, labels, _ts(p, now))
        elif kind in ("histogram", "exponential_histogram", "summary"):
            data = getattr(m, kind)
            delta = kind != "summary" and data.aggregation_temporality == _DELTA
            for p in data.data_points:
                if p.flags & _NO_VALUE:
                    continue
                labels = {**_attrs(p.attributes), **base}
                for suffix, v in (("_count", float(p.count)), ("_sum", float(p.sum))):
                    if (e := rate(suffix, p, v, labels, delta)) is not None:
                        yield e
                if kind == "histogram":
                    if len(p.bucket_counts) != len(p.explicit_bounds) + 1 and p.bucket_counts:
                        self._reject(1, f"{m.name}: bucket counts do not match the bounds")
                        continue
                    total = 0
                    for i, c in enumerate(p.bucket_counts):
                        total += c
                        le = str(p.explicit_bounds[i]) if i < len(p.explicit_bounds) else "+Inf"
                        e = rate("_bucket", p, float(total), {**labels, "le": le}, delta)
                        if e is not None:
                            yield e
                elif kind == "summary":
                    for q in p.quantile_values:
                        yield sample(
                            "", q.value, {**labels, "quantile": str(q.quantile)}, _ts(p, now)
                        )
        else:
            self._reject(1, f"{m.name}: no data")


@dataclass
class OtlpReceiver:
    """An OTLP/HTTP metrics receiver: a source of the service."""

    listen: OtlpListen
    name: str = "otlp"
    clock: Callable[[], float] = time.time
    counters: CollectorCounters = field(default_factory=CollectorCounters)
    port: int = 0
    """The bound port once running (``listen.port`` 0 asks the system for one)."""
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.mapper = OtlpMapper(devices=dict(self.listen.devices))
        self._emit: Emit | None = None
        self._lock = asyncio.Lock()

    async def _handle(self, request: web.Request) -> web.Response:
        ctype = request.content_type
        if ctype not in (PROTOBUF, JSON):
            return self._status(415, f"use {PROTOBUF} or {JSON}, not {ctype}", JSON)
        peer = request.remote or "?"
        try:
            body = await request.read()
        except (web.HTTPRequestEntityTooLarge, RequestPayloadError) as exc:
            # the rest of the body is unread (or unreadable): answer, then close the connection
            if isinstance(exc, RequestPayloadError):  # a corrupt gzip stream
                encoding = request.headers.get("Content-Encoding")
                why = f"bad_encoding: the {encoding} body does not decode"
                resp = await self._bad(peer, b"", why, ctype)
            else:
                why = f"too_large: body over {self.listen.max_body_bytes} bytes"
                resp = await self._bad(peer, b"", why, ctype, http=413)
            resp.force_close()
            return resp
        self.counters.received += 1
        try:
            req = decode_request(body, ctype)
        except DecodeError as exc:
            return await self._bad(peer, body, str(exc), ctype)
        assert self._emit is not None
        async with self._lock:  # one request at a time keeps each series' rates in order
            events = self.mapper.to_events(req, self.clock())
            rejected, reasons = self.mapper.rejected, self.mapper.reasons
            for e in events:
                await self._emit(e)
        self.counters.decoded += len(events)
        resp = ExportMetricsServiceResponse()
        if rejected:
            resp.partial_success.rejected_data_points = rejected
            resp.partial_success.error_message = "; ".join(reasons)
        return self._encode(200, resp, ctype)

    async def _bad(
        self, peer: str, raw: bytes, reason: str, ctype: str, http: int = 400
    ) -> web.Response:
        """A dead letter with the reason (and the body, where it was read), and the answer."""
        assert self._emit is not None
        await self._emit(dead_letter(f"otlp:{peer}", raw, reason, self.clock(), self.counters))
        return self._status(http, reason, ctype)

    def _status(self, http: int, message: str, ctype: str) -> web.Response:
        code = code_pb2.INVALID_ARGUMENT if http == 400 else code_pb2.FAILED_PRECONDITION
        return self._encode(http, status_pb2.Status(code=code, message=message), ctype)

    @staticmethod
    def _encode(
        http: int, msg: ExportMetricsServiceResponse | status_pb2.Status, ctype: str
    ) -> web.Response:
        if ctype == JSON:
            return web.Response(status=http, text=json_format.MessageToJson(msg), content_type=JSON)
        return web.Response(status=http, body=msg.SerializeToString(), content_type=PROTOBUF)

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        self._emit = emit
        app = web.Application(client_max_size=self.listen.max_body_bytes)
        app.router.add_post(PATH, self._handle)
        # lingering_time=0: an unread rest of a body (too large, corrupt gzip) is not drained,
        # the connection just closes after the answer
        runner = web.AppRunner(app, access_log=None, lingering_time=0)
        await runner.setup()
        site = web.TCPSite(runner, self.listen.host, self.listen.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.listen.port
        log.info("OTLP/HTTP metrics on http://%s:%d%s", self.listen.host, self.port, PATH)
        self.ready.set()
        try:
            await stop.wait()
        finally:
            await runner.cleanup()
