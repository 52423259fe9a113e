"""Flow templates an attacker cannot abuse: field lengths checked against the IANA types (a bad
template is a dead letter, no number wider than 64 bits is ever decoded), the cache bounded
per exporter and in total (refusals counted and exported), unused templates expired, and the
templates file compacted however much templates churn."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from netvigil.collectors.flow.collector import FlowCollector
from netvigil.collectors.flow.decoder import FlowDecoder, flow_events
from netvigil.collectors.flow.elements import element
from netvigil.collectors.flow.netflow import FlowSession
from netvigil.collectors.flow.templates_store import TemplateFile, load_templates
from netvigil.errors import DecodeError
from netvigil.events import DeadLetter, Event, FlowRecord, FlowTemplate, TemplateField, encode
from netvigil.streams.meters import EdgeMeters
from tests.unit.collectors.test_flow_session import ipfix, records, template


def v9(flowsets: list[tuple[int, bytes]], seq: int = 1) -> bytes:
    body = b"".join(struct.pack(">HH", sid, 4 + len(b)) + b for sid, b in flowsets)
    return struct.pack(">HHIIII", 9, len(flowsets), 1000, 1_700_000_000, seq, 0) + body


def v9_template(tid: int, fields: list[tuple[int, int]]) -> tuple[int, bytes]:
    spec = b"".join(struct.pack(">HH", e, n) for e, n in fields)
    return 0, struct.pack(">HH", tid, len(fields)) + spec


def samples(meters: EdgeMeters) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reg = CollectorRegistry()
    reg.register(meters)
    out = {}
    for fam in text_string_to_metric_families(generate_latest(reg).decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def _handle(c: FlowCollector, data: bytes, now: float = 0.0) -> list[Event]:
    got: list[Event] = []

    async def keep(e: Event) -> None:
        got.append(e)

    await c.handle(data, "192.0.2.9", now, keep)
    return got


def test_a_16_byte_in_bytes_template_is_a_dead_letter_not_a_39_digit_count() -> None:
    # IN_BYTES (octetDeltaCount, unsigned64) declared 16 octets long, then a record of it
    meters = EdgeMeters()
    c = FlowCollector(hold_s=0, meters=meters)
    tpl = v9_template(256, [(1, 16), (2, 4)])
    data = (256, b"\xff" * 16 + struct.pack(">I", 7))
    got = asyncio.run(_handle(c, v9([tpl, data])))
    assert not [e for e in got if isinstance(e, FlowRecord)]
    assert not [e for e in got if isinstance(e, FlowTemplate)]  # never published either
    letters = [e for e in got if isinstance(e, DeadLetter)]
    assert [d.reason.split(":")[0] for d in letters] == ["bad_template", "unknown_template"]
    assert "octetDeltaCount (1) is unsigned64: at most 8 octets, not 16" in letters[0].reason
    assert c.session.template_count == 0
    s = samples(meters)
    key = (("collector", "flows"), ("reason", "bad_length"))
    assert s[("netvigil_flow_templates_refused_total", key)] == 1


def test_redefining_a_template_badly_withdraws_the_old_definition() -> None:
    s = FlowSession()
    assert s.decode(ipfix([template()]), "r1").templates
    out = s.decode(ipfix([template(fields=[(8, 4), (2, 9)])]), "r1")
    assert [t.withdrawn for t in out.templates] == [True]
    assert [p.reason for p in out.problems] == ["bad_template"]
    assert [p.reason for p in s.decode(ipfix([records(1)]), "r1").problems] == ["unknown_template"]


def test_real_exporters_wider_integers_and_reduced_sizes_are_accepted() -> None:
    # forwardingStatus (unsigned8) in 4 octets, samplerId (unsigned8) in 2, octetDeltaCount
    # in 4 (reduced size), ingressInterface in 2, a zero-length field: as real v9 exporters send
    s = FlowSession()
    out = s.decode(v9([v9_template(300, [(89, 4), (48, 2), (1, 4), (10, 2), (14, 0)])]), "r1")
    assert not out.problems and len(out.templates) == 1


# --------------------------------------------------------------------------- fuzz

_NUMBERS = ("unsigned", "signed", "dateTime")
_WIDEST = {"float32": 4, "float64": 8, "boolean": 1, "macAddress": 6, "ipv4Address": 4}


def _fits(eid: int, length: int) -> bool:
    """The rule, stated independently of the code under test."""
    kind = element(eid).kind
    widest = 8 if kind.startswith(_NUMBERS) else _WIDEST.get(kind, 16 if "ipv6" in kind else 0)
    return not widest or length == 0 or (length != 65535 and length <= widest)


_LENGTHS = st.one_of(
    st.sampled_from([0, 1, 2, 3, 4, 6, 8, 9, 16, 17, 32, 65535]), st.integers(0, 300)
)
_FIELDS = st.lists(st.tuples(st.integers(1, 500), _LENGTHS), min_size=1, max_size=8)


@settings(
    max_examples=400, deadline=1000, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(_FIELDS, st.binary(min_size=0, max_size=600), st.booleans())
def test_fuzz_template_field_lengths(
    fields: list[tuple[int, int]], data: bytes, use_v9: bool
) -> None:
    decoder = FlowDecoder(FlowSession(hold_s=0))
    if use_v9:
        dgram = v9([v9_template(256, fields), (256, data)])
    else:
        dgram = ipfix([template(256, fields), (256, data)])
    try:
        result = decoder.decode(dgram, "fuzz", now=0.0)
    except DecodeError:
        return
    ok = all(_fits(e, n) for e, n in fields)
    refused = [p for p in result.problems if p.reason == "bad_template"]
    assert bool(refused) == (not ok), (fields, result.problems)
    for event in flow_events(result, 0.0):
        encode(event)  # every event can go on a topic
        if isinstance(event, FlowRecord):
            for v in event.fields.values():
                if isinstance(v, int):
                    assert -(2**63) <= v < 2**64, (fields, v)


# --------------------------------------------------------------------------- bounds


def test_templates_are_bounded_per_exporter_and_refusals_are_dead_letters() -> None:
    s = FlowSession(max_per_exporter=100, max_templates=1000)
    problems = []
    for tid in range(256, 256 + 5000):  # one sender, 5,000 templates
        problems += s.decode(ipfix([template(tid)]), "attacker").problems
    assert s.template_count == 100
    assert s.refused["exporter_limit"] == 4900
    assert {p.reason for p in problems} == {"template_limit"} and len(problems) == 4900
    # another exporter still gets its templates, and the attacker's kept ones still decode
    assert s.decode(ipfix([template()]), "router").templates
    assert s.decode(ipfix([records(2, tid=300)]), "attacker").sets


def test_templates_are_bounded_in_total() -> None:
    s = FlowSession(max_per_exporter=10, max_templates=25)
    for n in range(5):
        for tid in range(256, 266):
            s.decode(ipfix([template(tid)]), f"r{n}")
    assert s.template_count == 25
    assert s.refused == {"total_limit": 25}


def test_unused_templates_expire_and_used_ones_stay() -> None:
    s = FlowSession(template_ttl_s=100)
    s.decode(ipfix([template(256), template(257)]), "r1", now=0.0)
    s.load(FlowTemplate(ts=0, exporter="r2", version=10, domain=1, template_id=256, fields=[]))
    assert s.expire_templates(50.0) == []  # the loaded one starts its time here
    s.decode(ipfix([records(1, tid=256)]), "r1", now=60.0)  # data keeps 256 in use
    gone = s.expire_templates(120.0)
    assert [(t.exporter, t.template_id, t.withdrawn) for t in gone] == [("r1", 257, True)]
    gone = s.expire_templates(150.0)
    assert [(t.exporter, t.template_id) for t in gone] == [("r2", 256)]
    assert [t.template_id for t in s.templates()] == [256] and s.expired == 2
    # a freed place is free: the per-exporter count went down with the expiry
    assert s._per_exporter == {"r1": 1}


async def test_the_collector_publishes_expired_templates_withdrawn() -> None:
    now = [0.0]
    c = FlowCollector(template_ttl_s=10, clock=lambda: now[0], meters=EdgeMeters())
    await _handle(c, ipfix([template()]))
    got: list[Event] = []

    async def keep(e: Event) -> None:
        got.append(e)

    stop = asyncio.Event()
    task = asyncio.create_task(c.run(keep, stop))
    await asyncio.wait_for(c.ready.wait(), 10)
    now[0] = 100.0
    async with asyncio.timeout(10):
        while not got:
            await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert [(type(e), e.withdrawn) for e in got if isinstance(e, FlowTemplate)] == [
        (FlowTemplate, True)
    ]


def test_templates_refused_when_loaded_from_the_topic_too() -> None:
    bad = FlowTemplate(
        ts=0, exporter="r1", version=9, domain=0, template_id=256, fields=[TemplateField(1, 16)]
    )
    good = [
        FlowTemplate(ts=0, exporter="r1", version=9, domain=0, template_id=t, fields=[])
        for t in range(257, 262)
    ]
    c = FlowCollector(templates=[bad, *good], max_templates_per_exporter=3, meters=EdgeMeters())
    assert c.session.template_count == 3
    assert c.session.refused == {"bad_length": 1, "exporter_limit": 2}


def test_the_templates_file_stays_compact_however_templates_churn(tmp_path: Path) -> None:
    path = tmp_path / "flow-templates.jsonl"
    store = TemplateFile(path, slack=50)
    expected: dict[int, list[TemplateField]] = {}

    async def churn() -> None:
        for i in range(3000):
            tid = 256 + i % 20  # 20 live keys, each changed 150 times, some withdrawn
            fields = [TemplateField(1, 1 + i % 8)]
            expected[tid] = fields
            await store.process(
                FlowTemplate(
                    ts=i, exporter="r1", version=10, domain=0, template_id=tid, fields=fields
                ),
                None,
            )
            if i % 7 == 0:
                del expected[tid]
                await store.process(
                    FlowTemplate(
                        ts=i, exporter="r1", version=10, domain=0, template_id=tid, withdrawn=True
                    ),
                    None,
                )

    asyncio.run(churn())
    lines = path.read_bytes().count(b"\n")
    live = load_templates(path)
    assert lines <= 2 * len(live) + 50 + 1
    assert store.compactions > 10
    # what a restart reads is the last definition of each key not withdrawn since
    assert {t.template_id: t.fields for t in live} == expected
