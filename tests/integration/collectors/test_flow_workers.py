"""Flows received by more than one process on one port (``flows.udp_workers``, SO_REUSEPORT),
on real exporters' NetFlow v9 captures replayed over loopback UDP: 48 exporters (six real
exporters' captures, each from eight loopback addresses, every one from its own source port),
templates first, then their data datagrams in rounds. Every record comes out once, as one
process with one template cache decodes it, from the exporter that sent it; every template is
published for the exporter that sent it; nothing is a dead letter. When a worker dies, its
exporters move to the others, which already have their templates (the collector announced
them): their data is decoded at once, and the survivors claim the templates."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from bench.udp_send import FLOW_CASES
from netvigil.collectors.flow.collector import FlowCollector
from netvigil.collectors.flow.decoder import FlowDecoder, flow_events
from netvigil.collectors.udpworkers import WorkerPool
from netvigil.events import DeadLetter, Event, FlowRecord, FlowTemplate
from tests.conftest import shared_data
from tests.integration.collectors.test_udp_workers import until

pytestmark = pytest.mark.integration

COPIES = 8  # addresses per capture
ROUNDS = 5  # times each exporter sends its data datagrams


class Exporter:
    """One exporter: a socket on its own loopback address and port, its captured datagrams
    split into templates (no records) and data, and what one session decodes of them."""

    def __init__(self, address: str, packets: list[bytes]) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, 0))
        decoder = FlowDecoder()
        self.templates: list[bytes] = []
        self.data: list[bytes] = []
        self.records: list[str] = []  # one decoding of the data datagrams, as compared
        self.learned: set[str] = set()
        self.topic: list[FlowTemplate] = []  # its templates, as the compacted topic has them
        self.used: set[tuple[str, int, int]] = set()  # templates its data sets need
        for p in packets:
            result = decoder.decode(p, address, 0.0)
            self.used |= {(s.exporter, s.domain, s.template_id) for s in result.sets}
            events = flow_events(result, 0.0)
            self.topic += [t for t in events if isinstance(t, FlowTemplate)]
            self.learned |= {template_key(t) for t in events if isinstance(t, FlowTemplate)}
            recs = [record_key(e) for e in events if isinstance(e, FlowRecord)]
            (self.data if recs else self.templates).append(p)
            self.records += recs

    def send(self, port: int, payloads: list[bytes]) -> int:
        for p in payloads:
            self.sock.sendto(p, ("127.0.0.1", port))
        return len(payloads)


def record_key(r: FlowRecord) -> str:
    return json.dumps([r.exporter, r.version, r.options, r.fields], sort_keys=True)


def template_key(t: FlowTemplate) -> str:
    return json.dumps([t.exporter, t.domain, t.template_id, msgspec.to_builtins(t.fields)])


def exporters() -> list[Exporter]:
    base = shared_data("vectors", "netflow")
    cases = {c["id"]: c for c in json.loads((base / "cases.json").read_text())}
    out = []
    for n, name in enumerate(FLOW_CASES):  # the captures the ingest benchmark replays
        packets = [Path(base, p).read_bytes() for p in cases[name]["packets"]]
        for copy in range(COPIES):
            out.append(Exporter(f"127.0.{10 + copy}.{10 + n}", packets))
    return out


def serving(collector: FlowCollector) -> dict[tuple[str, int, int], int | None]:
    """The worker serving each template the collector knows (None: none yet)."""
    return {
        (b.template.exporter, b.template.domain, b.template.template_id): b.worker
        for b in collector._board.values()
    }


async def send_all(exps: list[Exporter], port: int, part: str, rounds: int = 1) -> int:
    """Each exporter's templates or data datagrams, ``rounds`` times, exporters in turn, a
    few milliseconds apart (a paced burst, not a storm: this test is not about drops)."""
    sent = 0
    for _ in range(rounds):
        for e in exps:
            sent += e.send(port, e.templates if part == "templates" else e.data)
        await asyncio.sleep(0.005)
    return sent


@contextlib.asynccontextmanager
async def workers(
    n: int, topic: list[FlowTemplate] | None = None
) -> AsyncIterator[tuple[FlowCollector, WorkerPool, int, list[Event]]]:
    """A flow collector with ``n`` workers on a free port (templates loaded from ``topic``),
    and what it publishes."""
    got: list[Event] = []

    async def emit(e: Event) -> None:
        got.append(e)

    collector = FlowCollector("127.0.0.1", 0, udp_workers=n, hold_s=30, templates=topic or ())
    stop = asyncio.Event()
    task = asyncio.create_task(collector.run(emit, stop))
    await asyncio.wait_for(collector.ready.wait(), 120)
    pool, port = collector._pool, collector.bound
    assert pool is not None and port is not None
    try:
        yield collector, pool, port, got
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


async def test_workers_decode_every_record_once_with_each_exporters_templates() -> None:
    exps = exporters()
    try:
        async with workers(3) as (collector, pool, port, got):
            sent = await send_all(exps, port, "templates")
            sent += await send_all(exps, port, "data", ROUNDS)
            await until(lambda: collector.counters.received >= sent)
    finally:
        for e in exps:
            e.sock.close()
    want = Counter(r for e in exps for r in e.records * ROUNDS)
    records = Counter(record_key(r) for r in got if isinstance(r, FlowRecord))
    assert records == want  # every record once, from its own exporter, as one session decodes
    templates = [template_key(t) for t in got if isinstance(t, FlowTemplate)]
    assert sorted(templates) == sorted(k for e in exps for k in e.learned)  # each once
    assert not [e for e in got if isinstance(e, DeadLetter)]
    assert collector.counters.received == sent and not collector.counters.dead_letters
    assert pool.watch is not None and pool.watch.kernel() == 0
    assert sum(1 for n in pool.received if n) == 3  # 48 exporters spread over the three
    assert len(collector._board) == len(templates)


async def test_a_dead_workers_exporters_are_decoded_at_once_by_the_others() -> None:
    exps = exporters()
    try:
        async with workers(2) as (collector, pool, port, got):
            sent = await send_all(exps, port, "templates")
            sent += await send_all(exps, port, "data")
            await until(lambda: collector.counters.received >= sent)
            assert {b.worker for b in collector._board.values()} == {0, 1}
            before = list(pool.received)
            os.kill(pool.pids[0], signal.SIGKILL)  # its socket leaves the group
            await until(lambda: not pool.alive[0])
            # the survivor had adopted worker 0's templates: no template is sent again
            sent += await send_all(exps, port, "data", ROUNDS)
            await until(lambda: collector.counters.received >= sent)
            board = serving(collector)
    finally:
        for e in exps:
            e.sock.close()
    assert pool.received[0] == before[0]  # nothing more went to the dead worker
    want = Counter(r for e in exps for r in e.records * (1 + ROUNDS))
    records = Counter(record_key(r) for r in got if isinstance(r, FlowRecord))
    assert records == want
    assert not [e for e in got if isinstance(e, DeadLetter)]
    # the survivor serves every template that data used (it claimed those of worker 0 on
    # first use); worker 0's others (in the captures, never used) are served by nobody now,
    # and the collector withdraws them after template_ttl_s
    used = {k for e in exps for k in e.used}
    assert {k for k, w in board.items() if w == 1} >= used
    assert set(board.values()) <= {1, None}
    assert not used & {k for k, w in board.items() if w is None}


async def test_a_note_told_after_the_workers_were_told_to_finish_is_not_sent() -> None:
    exps = exporters()[::COPIES]  # one of each capture
    want = sorted(k for e in exps for k in e.learned)

    def templates() -> list[str]:
        return sorted(template_key(t) for t in got if isinstance(t, FlowTemplate))

    try:
        async with workers(2) as (collector, pool, port, got):
            await send_all(exps, port, "templates")
            await send_all(exps, port, "data")  # the 1941's template comes with its data
            await until(lambda: templates() == want)
            pool.stop()  # their ends are closed for writing: a write now would raise
            learned = next(t for t in got if isinstance(t, FlowTemplate))
            for n in range(2):
                pool.tell(n, [("adopt", learned)])
    finally:
        for e in exps:
            e.sock.close()
    assert templates() == want and not collector.counters.dead_letters


async def test_workers_start_with_the_templates_of_the_topic() -> None:
    exps = [e for e in exporters() if e.templates]  # the 1941 sends its template with data
    topic = [t for e in exps for t in e.topic]
    try:
        async with workers(2, topic) as (collector, _pool, port, got):
            assert len(collector._board) == len(topic)
            assert {b.worker for b in collector._board.values()} == {None}  # nobody's yet
            sent = await send_all(exps, port, "data", ROUNDS)  # no template on the wire
            await until(lambda: collector.counters.received >= sent)
            await until(lambda: sum(map(len, (e.records for e in exps))) * ROUNDS <= len(got))
            served = serving(collector)
    finally:
        for e in exps:
            e.sock.close()
    want = Counter(r for e in exps for r in e.records * ROUNDS)
    assert Counter(record_key(r) for r in got if isinstance(r, FlowRecord)) == want
    assert not [e for e in got if isinstance(e, DeadLetter)]
    assert not [t for t in got if isinstance(t, FlowTemplate)]  # the topic has them already
    used = {k for e in exps for k in e.used}
    assert all(served[k] in (0, 1) for k in used)  # claimed by the worker its data reached
