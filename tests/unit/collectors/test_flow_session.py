"""Template cache behaviour: held data sets, withdrawal, sampling, cold start from the topic,
and the fast (struct) path agreeing with the variable-length one."""

from __future__ import annotations

import asyncio
import socket
import struct
from pathlib import Path

import msgspec

from netvigil.collectors.flow.collector import FlowCollector
from netvigil.collectors.flow.decoder import FlowDecoder, flow_events
from netvigil.collectors.flow.netflow import FlowSession
from netvigil.collectors.flow.template import VARIABLE, compile_template
from netvigil.collectors.flow.templates_store import TemplateFile, load_templates
from netvigil.events import DeadLetter, Event, FlowRecord, FlowTemplate, TemplateField

# sourceIPv4Address, destinationIPv4Address, octetDeltaCount, packetDeltaCount, samplerId
FIELDS = [(8, 4), (12, 4), (1, 8), (2, 4), (48, 1)]


def ipfix(sets: list[tuple[int, bytes]], domain: int = 1, export: int = 1_700_000_000) -> bytes:
    body = b"".join(struct.pack(">HH", sid, 4 + len(b)) + b for sid, b in sets)
    return struct.pack(">HHIII", 10, 16 + len(body), export, 7, domain) + body


def template(tid: int = 256, fields: list[tuple[int, int]] = FIELDS) -> tuple[int, bytes]:
    spec = b"".join(struct.pack(">HH", e, n) for e, n in fields)
    return 2, struct.pack(">HH", tid, len(fields)) + spec


def options_template(tid: int = 300) -> tuple[int, bytes]:
    # scope samplerId, then samplingInterval
    return 3, struct.pack(">HHH", tid, 2, 1) + struct.pack(">HHHH", 48, 1, 34, 4)


def records(n: int, sampler: int = 1, tid: int = 256) -> tuple[int, bytes]:
    rows = b"".join(
        socket.inet_aton(f"10.0.0.{i + 1}") + socket.inet_aton("192.0.2.1")
        + struct.pack(">QIB", 1000 + i, 10 + i, sampler)
        for i in range(n)
    )  # fmt: skip
    return tid, rows


def test_data_before_template_is_held_then_decoded() -> None:
    s = FlowSession(hold_s=10)
    first = s.decode(ipfix([records(3)]), "r1", now=0.0)
    assert not first.sets and not first.problems and s.held == 1
    later = s.decode(ipfix([template()]), "r1", now=1.0)
    assert [len(x.records) for x in later.sets] == [3]
    assert later.sets[0].records[2]["sourceIPv4Address"] == "10.0.0.3"
    assert s.held == 0


def test_held_sets_expire_as_problems_not_silently() -> None:
    s = FlowSession(hold_s=5)
    s.decode(ipfix([records(2)]), "r1", now=0.0)
    assert s.expire(4.0) == []
    expired = s.expire(5.0)
    assert [p.reason for p in expired] == ["unknown_template"]
    assert expired[0].raw == records(2)[1]


def test_hold_is_bounded() -> None:
    s = FlowSession(hold_s=60, hold_max=2)
    problems = [p for i in range(4) for p in s.decode(ipfix([records(1)]), "r1", now=i).problems]
    assert s.held == 2 and [p.reason for p in problems] == ["held_overflow"] * 2


def test_template_withdrawal() -> None:
    s = FlowSession()
    s.decode(ipfix([template()]), "r1")
    out = s.decode(ipfix([(2, struct.pack(">HH", 256, 0)), records(1)]), "r1")
    assert [t.withdrawn for t in out.templates] == [True]
    assert [p.reason for p in out.problems] == ["unknown_template"]


def test_templates_are_per_exporter_and_domain() -> None:
    s = FlowSession()
    s.decode(ipfix([template()], domain=1), "r1")
    assert s.decode(ipfix([records(1)], domain=2), "r1").problems
    assert s.decode(ipfix([records(1)], domain=1), "r2").problems
    assert s.decode(ipfix([records(1)], domain=1), "r1").sets


def test_sampling_from_options_scales_counts() -> None:
    d = FlowDecoder()
    opts = (300, b"\x01" + struct.pack(">I", 100) + b"\x02" + struct.pack(">I", 1000))
    d.decode(ipfix([options_template(), template(), opts]), "r1")
    result = d.decode(ipfix([records(1, sampler=1), records(1, sampler=2)]), "r1")
    flows = [e for e in flow_events(result, 0.0) if isinstance(e, FlowRecord)]
    assert [(f.sampling_rate, f.fields["octetDeltaCount"]) for f in flows] == [
        (100, 100_000),
        (1000, 1_000_000),
    ]
    assert flows[0].fields["packetDeltaCount"] == 1000


def test_fast_and_slow_paths_agree() -> None:
    fields = [TemplateField(e, n) for e, n in FIELDS] + [TemplateField(82, 8)]  # interfaceName
    fast = compile_template(fields)
    slow = compile_template([*fields[:-1], TemplateField(82, VARIABLE)])
    body = records(4)[1]
    fixed = b"".join(body[i * 21 : (i + 1) * 21] + b"eth0\0\0\0\0" for i in range(4))
    varlen = b"".join(body[i * 21 : (i + 1) * 21] + b"\x04eth0" for i in range(4))
    assert fast.fixed_length == 29 and slow.fixed_length is None
    assert fast.decode(fixed) == slow.decode(varlen)


async def test_cold_start_decodes_with_templates_from_the_topic(tmp_path: Path) -> None:
    path = tmp_path / "flow-templates.jsonl"
    store = TemplateFile(path)
    first = FlowCollector()
    learned: list[Event] = []

    async def keep(e: Event) -> None:
        learned.append(e)

    await first.handle(ipfix([template()]), "r1", 0.0, keep)
    for t in learned:
        if isinstance(t, FlowTemplate):
            await store.process(t, None)
    restarted = FlowCollector(templates=load_templates(path))
    got: list[Event] = []

    async def sink(e: Event) -> None:
        got.append(e)

    await restarted.handle(ipfix([records(2)]), "r1", 1.0, sink)
    assert [type(e) for e in got] == [FlowRecord, FlowRecord]
    assert not any(isinstance(e, DeadLetter) for e in got)


def test_load_templates_compacts(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    store = TemplateFile(path)
    a = FlowTemplate(ts=0, exporter="r1", version=10, domain=1, template_id=256, fields=[])
    b = FlowTemplate(ts=0, exporter="r1", version=10, domain=1, template_id=257, fields=[])
    gone = FlowTemplate(ts=1, exporter="r1", version=10, domain=1, template_id=257, withdrawn=True)
    for t in (a, b, gone):
        asyncio.run(store.process(t, None))
    path.write_bytes(path.read_bytes() + b"not json\n")
    assert load_templates(path) == [a]


# ---------------------------------------------------------------- templates between workers


def _learned(tid: int = 256) -> FlowTemplate:
    out = FlowSession().decode(ipfix([template(tid)]), "r1", now=0.0)
    return out.templates[0]


def test_an_adopted_template_decodes_the_sets_held_for_it_and_is_claimed_once() -> None:
    s = FlowSession(hold_s=30)
    assert not s.decode(ipfix([records(2)]), "r1", now=1.0).sets and s.held == 1
    out = s.adopt(_learned(), now=2.0)
    assert [len(x.records) for x in out.sets] == [2] and s.held == 0
    assert [t.template_id for t in out.claimed] == [256]  # used here: this session serves it
    again = s.decode(ipfix([records(1)]), "r1", now=3.0)
    assert len(again.sets) == 1 and not again.claimed


def test_an_adopted_template_expires_only_once_used_here() -> None:
    s = FlowSession(template_ttl_s=10)
    s.adopt(_learned(), now=0.0)
    assert s.expire_templates(1_000.0) == [] and s.template_count == 1  # another's to expire
    used = s.decode(ipfix([records(1)]), "r1", now=1_000.0)
    assert [t.template_id for t in used.claimed] == [256]
    assert s.expire_templates(1_005.0) == []
    assert [t.withdrawn for t in s.expire_templates(1_010.0)] == [True]


def test_an_adopted_template_sent_by_its_exporter_is_reported_as_learned() -> None:
    s = FlowSession()
    s.adopt(_learned(), now=0.0)
    first = s.decode(ipfix([template()]), "r1", now=1.0)  # the exporter moved here
    assert [t.template_id for t in first.templates] == [256]
    assert s.decode(ipfix([template()]), "r1", now=2.0).templates == []  # a plain refresh
    withdrawn = msgspec.structs.replace(_learned(), withdrawn=True)
    assert s.adopt(withdrawn, now=3.0).sets == [] and s.template_count == 0


class _Tells:
    """The collector's pool as far as its template notes go: what it told which worker."""

    def __init__(self) -> None:
        self.told: list[tuple[int, str, bool]] = []

    def tell(self, n: int, notes: list[tuple[str, FlowTemplate]]) -> None:
        self.told += [(n, kind, t.withdrawn) for kind, t in notes]


async def test_the_collector_keeps_workers_templates_in_step() -> None:
    clock = [0.0]
    c = FlowCollector(udp_workers=3, template_ttl_s=100, clock=lambda: clock[0])
    pool = _Tells()
    c._pool = pool  # type: ignore[assignment]
    published: list[Event] = []

    async def emit(e: Event) -> None:
        published.append(e)

    t = _learned()
    gone = msgspec.structs.replace(t, fields=[], withdrawn=True)
    await c._notes(0, [("learned", t)], emit)  # learned on worker 0: published, told to 1, 2
    assert published == [t] and pool.told == [(1, "adopt", False), (2, "adopt", False)]
    await c._notes(1, [("claimed", t)], emit)  # its exporter moved to worker 1
    pool.told.clear()
    await c._notes(0, [("expired", gone)], emit)  # unused on 0: kept, 0 adopts it again
    assert published == [t] and pool.told == [(0, "adopt", False)] and len(c._board) == 1
    pool.told.clear()
    await c._notes(1, [("expired", gone)], emit)  # unused where its exporter sends: gone
    assert published == [t, gone] and pool.told == [(0, "adopt", True), (2, "adopt", True)]
    assert c._board == {} and c._expired == 1
    await c._notes(2, [("learned", t)], emit)
    c._orphan(2)  # worker 2 died: nobody serves it; withdrawn after template_ttl_s
    clock[0] = 99.0
    await c._expire_unserved(clock[0], emit)
    assert len(published) == 3
    clock[0] = 100.0
    await c._expire_unserved(clock[0], emit)
    assert [e.withdrawn for e in published[3:]] == [True] and c._board == {}  # type: ignore[attr-defined]
