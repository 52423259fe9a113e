"""Helpers for the Kafka runtime tests: per-test settings on the shared broker, the twin's
telemetry as a fixed list of events, the embedded runtime's results on it as the reference,
and two independent readers of topics (kcat, and a plain confluent-kafka consumer)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from netvigil.config import Settings, load_settings
from netvigil.events import Anomaly, DeviceEvent, Event, Incident
from netvigil.graph.importers import load_topology
from netvigil.service import Service
from netvigil.streams.base import Emit, Processor
from netvigil.streams.kafka.admin import create_topics
from netvigil.streams.kafka.producer import KafkaPublisher
from netvigil.streams.kafka.spool import Spool
from netvigil.streams.kafka.wire import decode_batch
from netvigil.twin.faults import Fault
from netvigil.twin.network import TwinNetwork
from netvigil.twin.source import SIM_EPOCH


@pytest.fixture(autouse=True)
def _kafka_loop_logs(caplog: pytest.LogCaptureFixture) -> None:
    """A failed Kafka test shows its loops' INFO lines (assignments, rewinds, restores, renewed
    producers) beside the warnings: a failure under load is read from them, not rerun."""
    caplog.set_level(logging.INFO, logger="netvigil.streams.kafka")


@pytest.fixture
def settings(kafka: str) -> Settings:
    """Settings for the shared broker with a topic and group prefix of this test's own."""
    return settings_for(kafka)


@pytest.fixture(params=["at_least_once", "exactly_once"])
def guaranteed(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """``settings`` with each processing guarantee in turn, and their topics created (for
    tests that start worker processes)."""
    settings.kafka.processing_guarantee = request.param
    create_topics(settings.bus.url.removeprefix("kafka://"), settings.kafka)
    return settings


def settings_for(bootstrap: str) -> Settings:
    """Settings for ``bootstrap`` with a topic and group prefix of their own."""
    s = load_settings()
    s.bus.url = f"kafka://{bootstrap}"
    s.kafka.topic_prefix = f"t{uuid.uuid4().hex[:10]}."
    s.kafka.partitions = 4
    s.kafka.session_timeout_s = 6.0
    return s


@dataclass
class TwinRun:
    events: list[Event]
    faults: list[Fault]


def twin_events(settings: Settings, faults: int = 3) -> TwinRun:
    """What the twin publishes for ``faults`` faults (10 s steps, settle time included)."""
    topo = load_topology(settings.twin.topology)
    plan = Service.plan_twin(settings, topo, fault_count=faults, speed=0.0)
    net = TwinNetwork(topo, plan.faults, seed=settings.twin.seed)
    events: list[Event] = []
    t = SIM_EPOCH
    assert plan.until is not None
    while t <= plan.until:
        events.extend(net.step(t))
        t += settings.twin.step_s
    return TwinRun(events, plan.faults)


class ListSource:
    """A source emitting a fixed list of events, optionally over ``seconds`` of wall time."""

    name = "list"

    def __init__(self, events: Sequence[Event], seconds: float = 0.0) -> None:
        self.events = events
        self.seconds = seconds
        self.emitted = 0

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        pause = self.seconds / max(len(self.events) / 500, 1)
        for i, event in enumerate(self.events):
            if stop.is_set():
                return
            await emit(event)
            self.emitted += 1
            if i % 500 == 499:
                await asyncio.sleep(pause)


@dataclass
class Results:
    anomalies: list[Anomaly]
    incidents: dict[str, Incident]
    """The last revision of each incident, by fingerprint."""

    def anomaly_set(self) -> set[tuple[object, ...]]:
        return {(a.ts, a.entity, a.signal, a.state, a.kind) for a in self.anomalies}

    def root_causes(self) -> set[tuple[str | None, str]]:
        return {
            (i.root_cause.entity if i.root_cause else None, i.status)
            for i in self.incidents.values()
        }


def collect(events: Sequence[Event]) -> Results:
    anomalies = [e for e in events if isinstance(e, Anomaly)]
    incidents: dict[str, Incident] = {}
    for e in events:
        if isinstance(e, Incident):
            prev = incidents.get(e.fingerprint)
            if prev is None or prev.revision < e.revision:
                incidents[e.fingerprint] = e
    return Results(anomalies, incidents)


def embedded_results(
    settings: Settings, events: Sequence[Event], only: Sequence[str] | None = None
) -> Results:
    """The reference: the same events through the embedded runtime (``only`` those
    processors, as :meth:`Service.build` takes them)."""
    local = settings.model_copy(deep=True)
    local.bus.url = "memory://"
    seen: list[Event] = []
    with tempfile.TemporaryDirectory() as tmp:
        svc = Service.build(local, data_dir=Path(tmp), sources=[ListSource(events)], only=only)
        svc.runtime.listen("netvigil.anomalies", lambda t, e: seen.append(e))
        svc.runtime.listen("netvigil.incidents", lambda t, e: seen.append(e))
        asyncio.run(svc.run())
        svc.close()
    return collect(seen)


class Explode(Processor[list[float]]):
    """Raises on device events of kind ``boom``; otherwise reports each event as an anomaly."""

    name = "explode"
    inputs = ("netvigil.events",)
    outputs = ("netvigil.anomalies",)

    def new_state(self) -> list[float]:
        return []

    async def process(self, event: Event, state: list[float]) -> Sequence[Event]:
        assert isinstance(event, DeviceEvent)
        if event.kind == "boom":
            raise RuntimeError("boom")
        state.append(event.ts)
        return [
            Anomaly(
                ts=event.ts,
                device=event.device,
                entity=event.device,
                signal="seen",
                kind="count",
                score=min(1.0, len(state) / 10),
            )
        ]


# ------------------------------------------------------------------ independent readers


@dataclass
class Rec:
    partition: int
    offset: int
    key: bytes | None
    value: bytes


def read_topic(bootstrap: str, topic: str, timeout: float = 60.0) -> list[Rec]:
    """Every committed record of ``topic`` now, with a plain confluent-kafka consumer (no
    group; ``read_committed``, librdkafka's default, said here because the exactly-once tests
    rely on it). A partition is read when the consumer's position reaches its end offset: the
    last offsets of a transactional topic are markers, which hold no record."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
        }
    )
    try:
        parts = consumer.list_topics(topic, timeout=timeout).topics[topic].partitions
        ends = {}
        for p in parts:
            lo, hi = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
            if hi > lo:
                ends[p] = hi
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        out: list[Rec] = []
        deadline = time.monotonic() + timeout
        while ends and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            p = msg.partition() or 0
            if msg.error() is None:
                out.append(Rec(p, msg.offset() or 0, msg.key(), msg.value() or b""))
            if p in ends and consumer.position([TopicPartition(topic, p)])[0].offset >= ends[p]:
                ends.pop(p)
        assert not ends, f"could not read {topic} to its end: {ends}"
        return out
    finally:
        consumer.close()


def kcat_read(bootstrap: str, topic: str) -> list[Rec]:
    """Every record of ``topic`` as kcat (librdkafka's CLI, a Debian package) prints it."""
    kcat = shutil.which("kcat") or shutil.which("kafkacat")
    assert kcat, "kcat is missing: scripts/system-deps.sh installs it (scripts/apt-packages.txt)"
    proc = subprocess.run(
        [kcat, "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-J", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out = []
    for line in proc.stdout.splitlines():
        row = json.loads(line)
        key = row.get("key")
        out.append(
            Rec(
                row["partition"],
                row["offset"],
                key.encode() if key is not None else None,
                row["payload"].encode(),
            )
        )
    return out


def events_in(records: Sequence[Rec]) -> list[Event]:
    """The events of records, in partition/offset order; fails on anything undecodable."""
    out: list[Event] = []
    for rec in sorted(records, key=lambda r: (r.partition, r.offset)):
        decoded = decode_batch(rec.value)
        assert not decoded.failures, decoded.failures
        out.extend(decoded.events)
    return out


# ------------------------------------------------------------------ worker processes


class Worker:
    """A ``netvigil worker`` process running ``processors``, as an operator starts it: on the
    data directory ``data`` (default ``ROOT/NAME``); with ``own`` its worker files there
    (``kafka.worker_dir``: workers sharing a data directory), with ``env`` added."""

    def __init__(
        self,
        name: str,
        settings: Settings,
        root: Path,
        processors: Sequence[str],
        *,
        data: Path | None = None,
        own: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.data = data or root / name
        self.own = own or self.data / "kafka"
        self.log = root / f"{name}.log"
        environ = {k: v for k, v in os.environ.items() if not k.startswith("NETVIGIL_")}
        environ |= {
            "NETVIGIL_BUS__URL": settings.bus.url,
            "NETVIGIL_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
            "NETVIGIL_KAFKA__PARTITIONS": str(settings.kafka.partitions),
            "NETVIGIL_KAFKA__SESSION_TIMEOUT_S": str(settings.kafka.session_timeout_s),
            "NETVIGIL_KAFKA__PROCESSING_GUARANTEE": settings.kafka.processing_guarantee,
            "NETVIGIL_LOG__LEVEL": "INFO",
            **({"NETVIGIL_KAFKA__WORKER_DIR": str(own)} if own is not None else {}),
            **(env or {}),
        }
        argv = [sys.executable, "-m", "netvigil.cli", "worker", "--data-dir", str(self.data)]
        with self.log.open("wb") as fh:
            self.proc = subprocess.Popen(
                [*argv, "--processors", ",".join(processors)],
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=environ,
            )

    def assigned(self, proc: str) -> set[tuple[str, int]]:
        path = self.own / proc / "assignment.json"
        if not path.exists():
            return set()
        return {(t, p) for t, p in json.loads(path.read_text())["assigned"]}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@contextmanager
def stopped_after(started: list[Worker]) -> Iterator[list[Worker]]:
    """The workers, stopped when the block ends (however it ends)."""
    try:
        yield started
    finally:
        for w in started:
            w.stop()


def wait_for(
    what: str,
    check: Callable[[], bool],
    timeout: float,
    logs: list[Path],
    state: Callable[[], object] = lambda: "",
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}: {state()}\n{tails(logs)}")


def tails(logs: list[Path]) -> str:
    """The end of each worker's log, for a failure message."""
    return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in logs)


def publish(bootstrap: str, settings: Settings, events: list[Event], spool: Path) -> None:
    async def go() -> None:
        pub = KafkaPublisher(
            bootstrap, Spool(spool, 1 << 28), topic_prefix=settings.kafka.topic_prefix
        )
        await pub.start()
        for e in events:
            await pub.publish(e)
        await pub.close(timeout=60)
        assert pub.stats()["spool_bytes"] == 0

    asyncio.run(go())
