"""Flow analytics: byte accounting on a real exporter's capture, top talkers, utilisation,
volumetric anomalies through the processor, bounded memory, and arbitrary records."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netvigil.analytics.flows import OTHER, ExporterFlows, FlowConfig
from netvigil.collectors.flow.decoder import FlowDecoder, flow_events
from netvigil.collectors.flow.pcap import datagrams
from netvigil.events import Anomaly, Event, FlowRecord, Metric
from netvigil.streams.flows import FlowAnalyticsProcessor
from tests.conftest import shared_data


def _mikrotik() -> list[FlowRecord]:
    path = shared_data("vectors", "netflow", "payloads", "logstash", "netflow5_test_microtik.dat")
    decoder = FlowDecoder()
    out: list[FlowRecord] = []
    for data, sender in datagrams(str(path), "192.0.2.1"):
        out += [
            e
            for e in flow_events(decoder.decode(data, sender), 1000.0)
            if isinstance(e, FlowRecord)
        ]
    return out


def test_a_real_exporters_bytes_per_interface_and_top_talkers() -> None:
    records = _mikrotik()
    assert len(records) == 30
    flows = ExporterFlows("192.0.2.1", FlowConfig(window_s=60.0, top_k=3))
    ts = 1_700_000_000.0
    for r in records:
        assert flows.add(ts, r.fields) == []
    (report,) = flows.advance(ts + 60.0)
    octets = [int(r.fields["octetDeltaCount"]) for r in records]  # type: ignore[arg-type]
    assert report.total_bps == pytest.approx(8 * sum(octets) / 60.0)
    by_src: Counter[str] = Counter()
    by_out: Counter[str] = Counter()
    for r, n in zip(records, octets, strict=True):
        by_src[str(r.fields["sourceIPv4Address"])] += n
        if r.fields.get("egressInterface"):
            by_out[str(r.fields["egressInterface"])] += n
    assert report.top_src == [(k, 8 * v / 60.0) for k, v in by_src.most_common(3)]
    assert {k: v for (k, d), v in report.if_bps.items() if d == "out"} == pytest.approx(
        {k: 8 * v / 60.0 for k, v in by_out.items()}
    )
    assert report.records == 30 and report.late == 0


def _record(ts: float, src: str, octets: int, out_if: int = 2) -> FlowRecord:
    return FlowRecord(
        ts=ts,
        exporter="r1",
        version=10,
        fields={
            "sourceIPv4Address": src,
            "destinationIPv4Address": "198.51.100.7",
            "octetDeltaCount": octets,
            "packetDeltaCount": 1,
            "ingressInterface": 1,
            "egressInterface": out_if,
        },
    )


def _run(proc: FlowAnalyticsProcessor, events: list[FlowRecord]) -> list[Event]:
    state = proc.new_state()

    async def go() -> list[Event]:
        out: list[Event] = []
        for e in events:
            out += await proc.process(e, state)
        return out

    return asyncio.run(go())


def test_a_flood_opens_one_volumetric_anomaly_naming_the_talker_and_then_clears() -> None:
    rng = random.Random(5)
    events = []
    for w in range(600):  # ten hours of one-minute windows, ~20 flows each
        flood = 500 <= w < 510
        for k in range(20):
            ts = 1_700_000_000.0 + w * 60 + k * 3
            events.append(
                _record(ts, f"10.0.0.{rng.randrange(1, 40)}", rng.randint(800_000, 1_200_000))
            )
            if flood:
                events.append(_record(ts, "203.0.113.66", 20_000_000))
    proc = FlowAnalyticsProcessor(FlowConfig(speeds_bps={"r1:2": 1e7}))
    out = _run(proc, events)
    anomalies = [e for e in out if isinstance(e, Anomaly)]
    assert [a.state for a in anomalies] == ["active", "cleared"]
    opened = anomalies[0]
    assert opened.kind == "volumetric" and opened.entity == "r1"
    assert 1_700_000_000.0 + 500 * 60 <= opened.onset_ts <= 1_700_000_000.0 + 503 * 60
    assert opened.evidence["top_src"].startswith("203.0.113.66=")
    names = Counter(e.name for e in out if isinstance(e, Metric))
    # windows are aligned to the epoch minute, the data 20 s into one: 601 windows, 600 closed
    assert names["flow.bps"] == 600
    assert names["flow.out_bps"] == names["flow.out_util"] == names["flow.in_bps"] == 600
    util = [e.value for e in out if isinstance(e, Metric) and e.name == "flow.out_util"]
    assert min(util) > 0.1 and max(util) > 2.0  # the flood fills the 10 Mbit/s egress


def test_talkers_beyond_the_bound_are_counted_as_other() -> None:
    flows = ExporterFlows("r1", FlowConfig(max_keys=3))
    for i in range(10):
        flows.add(0.0, _record(0.0, f"10.0.0.{i}", 100).fields)
    flows.add(0.0, {"octetDeltaCount": None})
    (report,) = flows.advance(60.0)
    w_total = sum(v for _, v in report.top_src)
    assert len(report.top_src) == 4 and dict(report.top_src)[OTHER] == pytest.approx(8 * 700 / 60)
    assert w_total == pytest.approx(report.total_bps)
    assert flows.skipped == 1


def test_silence_closes_windows_with_zero_traffic_and_a_long_gap_jumps() -> None:
    flows = ExporterFlows("r1", FlowConfig(window_s=10.0))
    flows.add(5.0, {"octetDeltaCount": 10})
    reports = flows.advance(45.0)
    assert [r.total_bps for r in reports] == [8.0, 0.0, 0.0, 0.0]
    assert len(flows.advance(1e9)) == 1 and flows.window is not None
    assert flows.window.start == 1e9


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=True),
    st.text(max_size=8),
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=1e6),
            st.dictionaries(
                st.sampled_from(
                    [
                        "octetDeltaCount",
                        "packetDeltaCount",
                        "ingressInterface",
                        "egressInterface",
                        "input",
                        "output",
                        "sourceIPv4Address",
                        "destinationIPv6Address",
                    ]
                ),
                _VALUES,
            ),
        ),
        max_size=50,
    )
)
def test_arbitrary_records_never_break_the_accounting(
    records: list[tuple[float, dict[str, object]]],
) -> None:
    flows = ExporterFlows("r1", FlowConfig(window_s=30.0, max_keys=4))
    used = 0
    reports = []
    for ts, fields in records:
        before = flows.skipped
        reports += flows.add(ts, fields)  # type: ignore[arg-type]
        used += flows.skipped == before
    reports += flows.advance(2e6)
    assert sum(r.records for r in reports) == used
    assert flows.skipped == len(records) - used
