"""OTLP metrics mapping: the request's data points as the service's metrics (rates of
cumulative and delta sums, restarts, histogram buckets, summaries), what is rejected, and the
decoding of both encodings; the decoder fuzzed with mutated real requests."""

from __future__ import annotations

import contextlib

import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb

from netvigil.collectors.otlp import JSON, PROTOBUF, OtlpMapper, decode_request
from netvigil.collectors.prometheus import CounterRates
from netvigil.errors import DecodeError
from netvigil.events import Metric

S = 1_000_000_000  # nanoseconds per second
CUMULATIVE, DELTA = pb.AGGREGATION_TEMPORALITY_CUMULATIVE, pb.AGGREGATION_TEMPORALITY_DELTA


def request(
    *metrics: pb.Metric, service: str = "checkout", host: str = ""
) -> ExportMetricsServiceRequest:
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    for k, v in (("service.name", service), ("host.name", host)):
        if v:
            kv = rm.resource.attributes.add()
            kv.key, kv.value.string_value = k, v
    rm.scope_metrics.add().metrics.extend(metrics)
    return req


def counter(value: int, t: int, start: int = 1, temporality: int = CUMULATIVE) -> pb.Metric:
    m = pb.Metric(name="http.requests", unit="1")
    m.sum.is_monotonic = True
    m.sum.aggregation_temporality = temporality
    p = m.sum.data_points.add(start_time_unix_nano=start * S, time_unix_nano=t * S, as_int=value)
    a = p.attributes.add()
    a.key, a.value.int_value = "code", 200
    return m


def values(events: list[Metric]) -> dict[str, float]:
    return {e.name + "".join(f"|{k}={v}" for k, v in sorted(e.labels.items()) if k != "service"):
            e.value for e in events}  # fmt: skip


def test_cumulative_sums_become_rates_with_restarts_by_value_or_start_time() -> None:
    m = OtlpMapper()
    assert m.to_events(request(counter(100, 10)), now=0) == []  # no rate from one point
    (e,) = m.to_events(request(counter(160, 20)), now=0)
    assert (e.name, e.value, e.unit, e.ts) == ("app.http.requests.rate", 6.0, "1/s", 20.0)
    assert e.labels == {"code": "200", "service": "checkout"} and e.device == "checkout"
    (e,) = m.to_events(request(counter(30, 30)), now=0)  # went down: restarted from zero
    assert e.value == 3.0
    (e,) = m.to_events(request(counter(50, 40, start=35)), now=0)  # new start time, value up
    assert e.value == 5.0  # counts from zero since the restart, not 50 - 30


def test_replicas_of_a_service_are_series_of_their_own() -> None:
    def replica(value: int, t: int, instance: str) -> ExportMetricsServiceRequest:
        req = request(counter(value, t))
        kv = req.resource_metrics[0].resource.attributes.add()
        kv.key, kv.value.string_value = "service.instance.id", instance
        return req

    m = OtlpMapper()
    m.to_events(replica(1000, 10, "a"), now=0)
    m.to_events(replica(10, 10, "b"), now=0)
    (a,) = m.to_events(replica(1100, 20, "a"), now=0)
    (b,) = m.to_events(replica(30, 20, "b"), now=0)
    assert (a.labels["instance"], a.value) == ("a", 10.0)  # not read as resets of each other
    assert (b.labels["instance"], b.value) == ("b", 2.0)


def test_counter_state_is_bounded_and_forgets_the_least_recently_used() -> None:
    r = CounterRates(max_series=2)
    r.rate(("x", ()), 1, 0)
    r.rate(("y", ()), 1, 0)
    r.rate(("x", ()), 2, 1)  # x used last: y goes when z arrives
    r.rate(("z", ()), 1, 1)
    assert list(r.last) == [("x", ()), ("z", ())]
    assert r.rate(("y", ()), 5, 2) is None  # forgotten: starts again


def test_delta_sums_are_rates_over_their_own_interval() -> None:
    (e,) = OtlpMapper().to_events(request(counter(30, 20, start=10, temporality=DELTA)), now=0)
    assert e.value == 3.0
    m = OtlpMapper()
    assert m.to_events(request(counter(30, 20, start=0, temporality=DELTA)), now=0) == []
    assert m.rejected == 1 and "no start time" in m.reasons[0]


def test_gauges_non_monotonic_sums_and_the_device() -> None:
    g = pb.Metric(name="queue")
    g.gauge.data_points.add(time_unix_nano=5 * S, as_double=2.5)
    ud = pb.Metric(name="inflight")
    ud.sum.is_monotonic = False
    ud.sum.data_points.add(time_unix_nano=5 * S, as_int=-3)
    empty = pb.Metric(name="skipped")
    empty.gauge.data_points.add(
        time_unix_nano=5 * S, flags=pb.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK
    )
    m = OtlpMapper(devices={"orders": "edge2"})
    out = m.to_events(request(g, ud, empty, service="orders", host="vm7"), now=99.0)
    assert values(out) == {"app.queue": 2.5, "app.inflight": -3.0}
    assert {e.device for e in out} == {"edge2"} and m.rejected == 0
    # no mapping: the resource's host; no host either: the service itself
    assert OtlpMapper().to_events(request(g, host="vm7"), now=0)[0].device == "vm7"
    assert OtlpMapper().to_events(request(g), now=0)[0].device == "checkout"


def test_histograms_give_count_sum_and_cumulative_bucket_rates() -> None:
    def hist(t: int, counts: list[int]) -> pb.Metric:
        m = pb.Metric(name="latency", unit="ms")
        m.histogram.aggregation_temporality = CUMULATIVE
        m.histogram.data_points.add(
            start_time_unix_nano=S, time_unix_nano=t * S, count=sum(counts),
            sum=10.0 * sum(counts), bucket_counts=counts, explicit_bounds=[5.0, 50.0],
        )  # fmt: skip
        return m

    m = OtlpMapper()
    m.to_events(request(hist(10, [1, 2, 0])), now=0)
    out = values(m.to_events(request(hist(20, [11, 12, 10])), now=0))
    assert out == {
        "app.latency_count.rate": 3.0,
        "app.latency_sum.rate": 30.0,
        "app.latency_bucket.rate|le=5.0": 1.0,
        "app.latency_bucket.rate|le=50.0": 2.0,
        "app.latency_bucket.rate|le=+Inf": 3.0,
    }
    bad = hist(30, [1, 2])  # two counts for two bounds: one is missing
    m.to_events(request(bad), now=0)
    assert m.rejected == 1 and "bucket counts" in m.reasons[0]


def test_summaries_give_quantiles_and_not_finite_values_are_rejected() -> None:
    s = pb.Metric(name="rt")
    p = s.summary.data_points.add(start_time_unix_nano=S, time_unix_nano=2 * S, count=4, sum=8)
    p.quantile_values.add(quantile=0.99, value=120.0)
    nan = pb.Metric(name="broken")
    nan.gauge.data_points.add(time_unix_nano=S, as_double=float("nan"))
    m = OtlpMapper()
    assert values(m.to_events(request(s, nan), now=0)) == {"app.rt|quantile=0.99": 120.0}
    assert m.rejected == 1 and "not finite" in m.reasons[0]


def test_json_and_protobuf_decode_to_the_same_request() -> None:
    req = request(counter(100, 10), host="vm7")
    assert decode_request(req.SerializeToString(), PROTOBUF) == req
    text = json_format.MessageToJson(req)  # lowerCamel names, int64 as strings
    assert '"timeUnixNano": "10000000000"' in text
    assert decode_request(text.encode(), JSON) == req
    extra = text.replace('"resourceMetrics"', '"someFutureField": 1, "resourceMetrics"', 1)
    assert decode_request(extra.encode(), JSON) == req  # unknown fields are ignored
    with pytest.raises(DecodeError, match="bad_otlp"):
        decode_request(b'{"resourceMetrics": 3}', JSON)
    with pytest.raises(DecodeError, match="bad_otlp"):
        decode_request(b"\xff\xff\xff", PROTOBUF)


REAL = request(counter(100, 10), host="vm7").SerializeToString()


@settings(max_examples=300, deadline=500, suppress_health_check=[HealthCheck.too_slow],
          derandomize=True)  # fmt: skip
@given(
    st.one_of(
        st.binary(max_size=300),
        st.lists(st.tuples(st.integers(0, len(REAL) - 1), st.integers(0, 255)), max_size=8).map(
            lambda flips: bytes(dict(flips).get(i, b) for i, b in enumerate(REAL))
        ),
    ),
    st.sampled_from([PROTOBUF, JSON]),
)
def test_decoding_and_mapping_only_raise_decode_error(data: bytes, ctype: str) -> None:
    with contextlib.suppress(DecodeError):
        req = decode_request(data, ctype)
        for e in OtlpMapper().to_events(req, now=0.0):
            assert isinstance(e, Metric)
