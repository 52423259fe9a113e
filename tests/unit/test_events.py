"""The event contract: round trips, topics and keys, and clear errors for foreign bytes."""

from __future__ import annotations

import dataclasses

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netvigil import events as ev
from netvigil.events import (
    ALL_TOPICS,
    TOPICS,
    ActionRequest,
    ActionResult,
    Anomaly,
    AnomalyRef,
    AuditRecord,
    DeadLetter,
    DeviceEvent,
    EventDecodeError,
    FlowRecord,
    FlowTemplate,
    Forecast,
    Incident,
    LogRecord,
    Metric,
    RootCause,
    TemplateField,
    decode,
    encode,
    interface_id,
    key_of,
    link_id,
    split_interface_id,
    topic_of,
)

text = st.text(max_size=20)
finite = st.floats(allow_nan=False, allow_infinity=False)
ts = st.floats(min_value=0, max_value=4e9, allow_nan=False)
labels = st.dictionaries(text, text, max_size=3)
field_value = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), finite, text)

EVENTS = st.one_of(
    st.builds(Metric, ts=ts, device=text, name=text, value=finite, unit=text, labels=labels),
    st.builds(
        LogRecord,
        ts=ts,
        device=text,
        facility=st.none() | st.integers(0, 23),
        severity=st.none() | st.integers(0, 7),
        message=text,
        rfc=st.sampled_from([None, "5424", "3164"]),
        structured_data=st.dictionaries(text, labels, max_size=2),
        fields=labels,
    ),
    st.builds(
        FlowRecord,
        ts=ts,
        exporter=text,
        version=st.sampled_from([5, 9, 10]),
        fields=st.dictionaries(text, field_value, max_size=5),
        options=st.booleans(),
        sampling_rate=st.integers(1, 10_000),
    ),
    st.builds(
        FlowTemplate,
        ts=ts,
        exporter=text,
        version=st.sampled_from([9, 10]),
        domain=st.integers(0, 2**32 - 1),
        template_id=st.integers(256, 65535),
        fields=st.lists(
            st.builds(
                TemplateField,
                st.integers(0, 65535),
                st.integers(0, 65535),
                st.integers(0, 2**32 - 1),
            ),
            max_size=5,
        ),
        scope_count=st.integers(0, 3),
        withdrawn=st.booleans(),
    ),
    st.builds(DeviceEvent, ts=ts, device=text, kind=text, entity=text, source=text, attrs=labels),
    st.builds(
        Anomaly,
        ts=ts,
        device=text,
        entity=text,
        signal=text,
        kind=text,
        score=st.floats(0, 1),
        state=st.sampled_from(["active", "cleared"]),
        value=st.none() | finite,
        band=st.none() | st.tuples(finite, finite),
        forecast=st.none()
        | st.builds(Forecast, threshold=finite, predicted_ts=ts, lead_time_s=finite),
    ),
    st.builds(
        Incident,
        ts=ts,
        fingerprint=text,
        status=st.sampled_from(["open", "resolved"]),
        revision=st.integers(1, 100),
        opened_ts=ts,
        title=text,
        root_causes=st.lists(
            st.builds(
                RootCause,
                entity=text,
                kind=st.sampled_from(["device", "link"]),
                score=st.floats(0, 1),
                evidence=st.lists(text),
            ),
            max_size=3,
        ),
        anomalies=st.lists(
            st.builds(
                AnomalyRef, entity=text, signal=text, kind=text, score=st.floats(0, 1), onset_ts=ts
            ),
            max_size=3,
        ),
        impact=st.lists(text, max_size=3),
        suppressed=text,
    ),
    st.builds(
        ev.Risk,
        ts=ts,
        risk_id=text,
        status=st.sampled_from(["open", "materialized", "cleared"]),
        revision=st.integers(1, 100),
        kind=st.sampled_from(["congestion", "slo_budget"]),
        device=text,
        entity=text,
        signal=text,
        opened_ts=ts,
        predicted_ts=ts,
        confidence=st.floats(0, 1),
        level=st.none() | finite,
        entities=st.lists(text, max_size=3),
        services=st.lists(text, max_size=3),
    ),
    st.builds(
        ev.Feedback,
        ts=ts,
        suppression=text,
        verdict=st.sampled_from(["suppress", "lift"]),
        pattern=st.none()
        | st.builds(
            ev.Pattern,
            entity=text,
            signal=text,
            kind=text,
            start_min=st.integers(-1, 1439),
            end_min=st.integers(-1, 1439),
        ),
    ),
    st.builds(
        ActionRequest,
        ts=ts,
        request_id=text,
        incident=text,
        action=text,
        target=text,
        level=st.sampled_from([1, 2, 3]),
        status=st.sampled_from(["proposed", "approved", "rejected", "refused"]),
        params=st.dictionaries(text, field_value, max_size=3),
    ),
    st.builds(
        ActionResult,
        ts=ts,
        request_id=text,
        action=text,
        target=text,
        outcome=st.sampled_from(["succeeded", "failed", "rolled_back", "dry_run"]),
    ),
    st.builds(
        AuditRecord,
        ts=ts,
        seq=st.integers(1, 10**9),
        actor=text,
        action=text,
        subject=text,
        detail=st.dictionaries(text, st.one_of(text, st.integers(0, 9))),
        prev_hash=text,
        hash=text,
    ),
    st.builds(DeadLetter, ts=ts, source=text, reason=text, raw=st.binary(max_size=64), topic=text),
)


@given(EVENTS)
def test_every_event_round_trips(event: ev.Event) -> None:
    data = encode(event)
    back = decode(data)
    assert back == event
    assert type(back) is type(event)
    assert topic_of(back) in TOPICS
    assert isinstance(key_of(back), str)


@given(st.binary(max_size=200))
@settings(max_examples=300)
def test_garbage_raises_only_event_decode_error(data: bytes) -> None:
    try:
        event = decode(data)
    except EventDecodeError as exc:  # any other exception type fails the test
        assert "not a NetVigil event" in str(exc) or "schema version" in str(exc)
    else:
        assert isinstance(event, ev.Event)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
    )
)
def test_arbitrary_json_is_rejected_cleanly(value: object) -> None:
    with pytest.raises(EventDecodeError):
        decode(msgspec.json.encode(value))


def test_unknown_version_names_versions_and_fix() -> None:
    raw = b'{"type":"metric","v":2,"ts":1,"device":"r1","name":"n","value":1}'
    with pytest.raises(EventDecodeError, match=r"schema version 2.*reads versions \[1\].*Upgrade"):
        decode(raw)


def test_unknown_type_and_wrong_field_type() -> None:
    with pytest.raises(EventDecodeError, match="not a NetVigil event"):
        decode(b'{"type":"bogus","v":1,"ts":1}')
    with pytest.raises(EventDecodeError, match="not a NetVigil event"):
        decode(b'{"type":"metric","v":1,"ts":1,"device":"r1","name":"n","value":"high"}')


def test_decode_as_checks_type() -> None:
    m = Metric(ts=1, device="r1", name="cpu.util", value=3.0)
    assert ev.decode_as(encode(m), Metric) == m
    with pytest.raises(EventDecodeError, match="expected Incident, got Metric"):
        ev.decode_as(encode(m), Incident)


def test_events_are_immutable() -> None:
    m = Metric(ts=1, device="r1", name="cpu.util", value=3.0)
    with pytest.raises(AttributeError):
        m.value = 4.0  # type: ignore[misc]


def test_wire_format_has_type_and_version() -> None:
    raw = msgspec.json.decode(encode(Metric(ts=1, device="r1", name="x", value=1.0)))
    assert raw["type"] == "metric"
    assert raw["v"] == ev.SCHEMA_VERSION


def test_every_topic_of_the_design_exists_with_its_key() -> None:
    assert set(ALL_TOPICS) == {
        "netvigil.metrics",
        "netvigil.logs",
        "netvigil.flows",
        "netvigil.events",
        "netvigil.flow-templates",
        "netvigil.anomalies",
        "netvigil.incidents",
        "netvigil.risks",
        "netvigil.feedback",
        "netvigil.actions",
        "netvigil.watches",
        "netvigil.samples",
        "netvigil.audit",
        "netvigil.dlq",
    }
    assert TOPICS["netvigil.flow-templates"].compacted
    assert TOPICS["netvigil.incidents"].compacted
    assert TOPICS["netvigil.risks"].compacted
    risk = ev.Risk(
        ts=0,
        risk_id="risk-1",
        status="open",
        revision=1,
        kind="congestion",
        device="r1",
        entity="r1:eth0",
        signal="if.out_util",
        opened_ts=0,
        predicted_ts=600,
        confidence=0.8,
    )
    assert (topic_of(risk), key_of(risk)) == ("netvigil.risks", "risk-1")
    assert risk.time_to_impact_s == 600
    fb = ev.Feedback(ts=0, suppression="sup-1", verdict="lift")
    assert (topic_of(fb), key_of(fb)) == ("netvigil.feedback", "sup-1")
    tmpl = FlowTemplate(ts=0, exporter="10.0.0.1", version=10, domain=5, template_id=300)
    assert key_of(tmpl) == "10.0.0.1/5/300"
    inc = Incident(ts=0, fingerprint="abc", status="open", revision=1, opened_ts=0, title="t")
    assert (topic_of(inc), key_of(inc)) == ("netvigil.incidents", "abc")
    watch = ev.Watch(ts=0, device="r1", kpi="if.out_util", interface="1", until=60)
    sample = ev.Sample(ts=0, device="r1")
    assert key_of(watch) == key_of(sample) == "r1"  # co-partitioned with the metrics
    assert sample.tick and not ev.Sample(ts=0, device="r1", kpi="cpu").tick
    req = ActionRequest(
        ts=0,
        request_id="r",
        incident="abc",
        action="reset",
        target="r1:eth0",
        level=2,
        status="proposed",
    )
    assert (topic_of(req), key_of(req)) == ("netvigil.actions", "r1:eth0")
    m = Metric(ts=0, device="r9", name="x", value=0.0)
    assert (topic_of(m), key_of(m)) == ("netvigil.metrics", "r9")


def test_each_event_type_belongs_to_exactly_one_topic() -> None:
    seen: dict[type, str] = {}
    for topic in TOPICS.values():
        for cls in topic.events:
            assert cls not in seen, f"{cls.__name__} on {seen.get(cls)} and {topic.name}"
            seen[cls] = topic.name
    assert dataclasses.is_dataclass(next(iter(TOPICS.values())))


def test_entity_ids() -> None:
    assert link_id("b", "a") == link_id("a", "b") == "a--b"
    assert interface_id("r1", "ge-0/0/1") == "r1:ge-0/0/1"
    assert split_interface_id("r1:Ethernet1/1:2") == ("r1", "Ethernet1/1:2")
    with pytest.raises(ValueError):
        split_interface_id("r1")
    m = Metric(ts=0, device="r1", name="if.out_bps", value=1.0, labels={"interface": "eth0"})
    assert m.entity == "r1:eth0"
    assert m.series == "r1|if.out_bps|interface=eth0"


def test_public_api_is_exported() -> None:
    for name in ev.__all__:
        assert hasattr(ev, name), name
