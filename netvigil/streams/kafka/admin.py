"""The contract's topics on Kafka: creating them idempotently, and reading lag per group.

Every topic of :data:`netvigil.events.TOPICS` becomes one Kafka topic named
``<kafka.topic_prefix><name>``. Telemetry, anomalies, actions and dead letters are deleted
after ``kafka.retention_hours``; flow templates and incidents are compacted (the latest value
per key is kept forever, so any worker can rebuild them); the audit chain keeps everything in
one partition, because its hash chain has one order. Creating is idempotent: existing topics
get their configuration brought to these values; partition counts are never changed, because
that would move keys between partitions and break per-key order and the co-partitioning of
worker state (a mismatch is reported instead).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, IsolationLevel, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    OffsetSpec,
    ResourceType,
)

from netvigil.config import KafkaSettings
from netvigil.errors import NetVigilError
from netvigil.events import TOPICS

__all__ = [
    "RDKAFKA_LOG",
    "EndOffsets",
    "GroupLag",
    "KafkaUnreachable",
    "TopicInfo",
    "TopicSpec",
    "admin_config",
    "bootstrap_of",
    "committed_offsets",
    "create_topics",
    "describe_topics",
    "ensure_topic",
    "group_lag",
    "offsets_reader",
    "topic_specs",
]

SINGLE_PARTITION = frozenset({"netvigil.audit"})

#: answers about a partition's leader after which :class:`EndOffsets` asks with a new client
_LEADER_ERRORS = frozenset(
    {
        KafkaError.FENCED_LEADER_EPOCH,
        KafkaError.UNKNOWN_LEADER_EPOCH,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError._NOENT,  # "Failed to query partition leaders: No leaders found"
    }
)

log = logging.getLogger(__name__)


class _RdKafkaLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """librdkafka's log lines, at DEBUG unless critical: while a broker is away it reports
    every failed connection several times a second; the spool and the errors raised to the
    caller already say what matters, once."""

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        level = logging.CRITICAL if level >= logging.CRITICAL else logging.DEBUG
        super().log(level, msg, *args, **kwargs)


#: pass as ``logger`` to confluent-kafka producers and consumers (not admin clients)
RDKAFKA_LOG = _RdKafkaLog(logging.getLogger("netvigil.librdkafka"), {})


def bootstrap_of(url: str) -> str:
    """``kafka://h1:9092,h2:9092`` -> ``h1:9092,h2:9092`` (what Kafka clients take)."""
    if not url.startswith("kafka://") or not url[len("kafka://") :].strip("/"):
        raise NetVigilError(f"bus.url = {url!r} is not kafka://HOST:PORT[,HOST:PORT]")
    return url[len("kafka://") :].strip("/")


@dataclass(frozen=True)
class TopicSpec:
    """What one contract topic should look like on Kafka."""

    name: str
    partitions: int
    config: dict[str, str]


def topic_specs(cfg: KafkaSettings) -> list[TopicSpec]:
    """The Kafka topics of the contract, with partitions and configuration, per settings."""
    retention = str(int(cfg.retention_hours * 3600 * 1000))
    specs = []
    for topic in TOPICS.values():
        if topic.compacted:
            conf = {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1"}
        elif topic.name == "netvigil.audit":
            conf = {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}
        else:
            conf = {"cleanup.policy": "delete", "retention.ms": retention}
        parts = 1 if topic.name in SINGLE_PARTITION else cfg.partitions
        specs.append(TopicSpec(cfg.topic_prefix + topic.name, parts, conf))
    return specs


def _admin(bootstrap: str) -> AdminClient:
    return AdminClient(admin_config(bootstrap))


def admin_config(bootstrap: str) -> dict[str, Any]:
    """librdkafka settings of NetVigil's admin clients. No Python ``logger`` here: the admin
    client calls it from librdkafka's own threads, which crashed the interpreter while a
    broker was away (confluent-kafka-python #1734); only critical lines are logged."""
    return {
        "bootstrap.servers": bootstrap,
        "socket.connection.setup.timeout.ms": 5000,
        "log_level": 2,
    }


class KafkaUnreachable(NetVigilError):
    """No broker of ``bus.url`` answered: nothing NetVigil does on Kafka can work."""


def _check_reachable(admin: AdminClient, bootstrap: str, timeout: float) -> None:
    try:
        admin.list_topics(timeout=min(timeout, 10.0))
    except KafkaException as exc:
        raise KafkaUnreachable(
            f"Kafka at {bootstrap} is not reachable ({exc.args[0]}); check bus.url and that "
            "the broker runs (`python -m provision start kafka` starts a local one)"
        ) from None


def create_topics(
    bootstrap: str, cfg: KafkaSettings, *, timeout: float = 30.0
) -> list[tuple[str, str]]:
    """Create the missing topics and align the configuration of existing ones.

    Returns ``(topic, what happened)`` per topic: ``created``, ``exists``, ``exists,
    configuration updated`` or a partition-count mismatch.
    """
    admin = _admin(bootstrap)
    _check_reachable(admin, bootstrap, timeout)
    specs = topic_specs(cfg)
    futures = admin.create_topics(
        [NewTopic(s.name, s.partitions, cfg.replication, config=s.config) for s in specs],
        request_timeout=timeout,
    )
    outcome: dict[str, str] = {}
    for name, fut in futures.items():
        try:
            fut.result(timeout=timeout)
            outcome[name] = "created"
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise NetVigilError(f"creating topic {name} failed: {exc.args[0]}") from None
            outcome[name] = "exists"
    existing = [s for s in specs if outcome[s.name] == "exists"]
    if existing:
        meta = admin.list_topics(timeout=timeout).topics
        alter = [
            ConfigResource(
                ResourceType.TOPIC,
                s.name,
                incremental_configs=[
                    ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
                    for k, v in s.config.items()
                ],
            )
            for s in existing
        ]
        for res, fut in admin.incremental_alter_configs(alter).items():
            fut.result(timeout=timeout)
            outcome[res.name] = "exists, configuration aligned"
        for s in existing:
            have = len(meta[s.name].partitions) if s.name in meta else s.partitions
            if have != s.partitions:
                outcome[s.name] += (
                    f"; has {have} partitions, settings say {s.partitions} (left as is: "
                    "changing it would move keys between partitions)"
                )
    return [(s.name, outcome[s.name]) for s in specs]


def ensure_topic(
    bootstrap: str,
    name: str,
    partitions: int,
    replication: int,
    *,
    config: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> None:
    """Create one topic unless it exists (workers' own topics, before their group joins)."""
    admin = _admin(bootstrap)
    topic = NewTopic(name, partitions, replication, config=config or {})
    fut = admin.create_topics([topic])[name]
    try:
        fut.result(timeout=timeout)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise NetVigilError(f"creating topic {name} failed: {exc.args[0]}") from None


@dataclass
class GroupLag:
    """How far one consumer group is behind on one topic."""

    group: str
    topic: str
    lag: int
    committed_partitions: int


@dataclass
class TopicInfo:
    """One topic as the broker sees it."""

    name: str
    partitions: int
    messages: int
    cleanup_policy: str
    retention_ms: str
    groups: list[GroupLag] = field(default_factory=list)


class EndOffsets:
    """The broker's end offsets of partitions, asked in one ``ListOffsets`` request for all
    of them (a consumer asks partition by partition, each request queued behind its pending
    fetch).

    librdkafka's admin client keeps the leader epochs it learnt and sends them with the
    request; after the broker restarts, every answer is ``FENCED_LEADER_EPOCH`` and it does
    not refresh them (librdkafka 2.16, seen when the broker restarted under a worker; its
    issue 4620 is the consumer's form of it). So on an error about the leader or its epoch
    (``UNKNOWN_LEADER_EPOCH`` too, which the broker answers while it loads after a restart)
    the client is replaced. So it is when the client found no leader at all (``_NOENT``): one
    asked while the broker was down keeps answering so after it is back (seen in CI: a
    worker's marks stopped for good and its stage held every re-keyed event)."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._admin = AdminClient(admin_config(bootstrap))

    def __call__(
        self,
        tps: list[tuple[str, int]],
        committed_only: bool = False,
        answered: dict[tuple[str, int], int | None] | None = None,
    ) -> dict[tuple[str, int], int | None]:
        """End offsets of ``tps`` now; ``committed_only``: the last stable offsets, which
        exclude open transactions. None for a partition the broker has no offset for.
        Blocks; raises ``KafkaException`` when the broker does not answer within seconds
        for one of them; ``answered`` then still gets the ends of those it answered for (a
        partition without a leader fails alone)."""
        if not tps:
            return {}
        latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
        level = IsolationLevel.READ_COMMITTED if committed_only else IsolationLevel.READ_UNCOMMITTED
        asked = self._admin.list_offsets(
            {TopicPartition(t, p): latest for t, p in tps}, isolation_level=level, request_timeout=5
        )
        ends: dict[tuple[str, int], int | None] = {} if answered is None else answered
        failed: KafkaException | None = None
        for tp, future in asked.items():
            try:
                end = future.result(timeout=10).offset
            except KafkaException as exc:
                failed = failed or exc
                continue
            ends[(tp.topic, tp.partition)] = end if end >= 0 else None
        if failed is not None:
            if failed.args[0].code() in _LEADER_ERRORS:
                log.info("end offsets: %s; asking with a new client", failed.args[0])
                self._admin = AdminClient(admin_config(self.bootstrap))
            raise failed
        return ends


def _watermarks(
    admin: AdminClient, tps: list[TopicPartition], timeout: float
) -> dict[tuple[str, int], tuple[int, int]]:
    """(low, high) offsets per partition; retried while leaders are being elected."""
    out: dict[tuple[str, int], tuple[int, int]] = {}
    deadline = time.monotonic() + timeout
    while True:
        try:
            specs = ((OffsetSpec.earliest(), 0), (OffsetSpec.latest(), 1))  # type: ignore[no-untyped-call]
            for spec, slot in specs:
                futs = admin.list_offsets({tp: spec for tp in tps}, request_timeout=timeout)
                for tp, fut in futs.items():
                    got = out.get((tp.topic, tp.partition), (0, 0))
                    off = fut.result(timeout=timeout).offset
                    out[(tp.topic, tp.partition)] = (off, got[1]) if slot == 0 else (got[0], off)
            return out
        except KafkaException as exc:
            if not exc.args[0].retriable() or time.monotonic() > deadline:
                raise NetVigilError(f"reading offsets failed: {exc.args[0]}") from None
            time.sleep(0.2)


def group_lag(
    bootstrap: str,
    groups: list[str] | None = None,
    topics: list[str] | None = None,
    *,
    timeout: float = 30.0,
) -> list[GroupLag]:
    """Lag per (group, topic): sum over partitions of high watermark - committed offset.

    With ``topics`` given, each group is reported on each of them, a partition it never
    committed counting all its retained records; without, on the topics it committed on.
    Committed offsets are read by a consumer of the group that never joins it, not by the
    admin API, whose offset fetch crashed librdkafka 2.x when the answer came from a broker
    just restarted (a null group handle in ``rd_kafka_cgrp_op``).
    """
    admin = _admin(bootstrap)
    _check_reachable(admin, bootstrap, timeout)
    if groups is None:
        listing = admin.list_consumer_groups(request_timeout=timeout).result(timeout=timeout)
        groups = sorted(g.group_id for g in listing.valid)
    meta = admin.list_topics(timeout=timeout).topics
    names = topics if topics is not None else [t for t in meta if not t.startswith("__")]
    tps = [TopicPartition(t, p) for t in sorted(names) if t in meta for p in meta[t].partitions]
    if not tps or not groups:
        return []
    marks = _watermarks(admin, tps, timeout)
    out: list[GroupLag] = []
    for group in groups:
        committed = committed_offsets(bootstrap, group, tps, timeout)
        per_topic: dict[str, int] = defaultdict(int)
        counted: dict[str, int] = defaultdict(int)
        for tp in tps:
            low, high = marks[(tp.topic, tp.partition)]
            off = committed.get((tp.topic, tp.partition), -1)
            if off >= 0:
                counted[tp.topic] += 1
            per_topic[tp.topic] += max(high - max(off, low), 0)
        out.extend(
            GroupLag(group, t, lag, counted[t])
            for t, lag in sorted(per_topic.items())
            if topics is not None or counted[t]
        )
    return out


def offsets_reader(bootstrap: str, group: str) -> Consumer:
    """A consumer of ``group`` that only reads its committed offsets (it never subscribes,
    so it never joins): ``read_committed``, so a fetch waits for offsets an open
    transaction holds (KIP-447's stable offsets) instead of returning older ones."""
    return Consumer(
        {
            **admin_config(bootstrap),
            "group.id": group,
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
        }
    )


def committed_offsets(
    bootstrap: str, group: str, tps: list[TopicPartition], timeout: float = 30.0
) -> dict[tuple[str, int], int]:
    """The group's committed offset per partition (-1: none), read without joining it."""
    consumer = offsets_reader(bootstrap, group)
    try:
        got = consumer.committed(tps, timeout=timeout)
    except KafkaException as exc:
        raise NetVigilError(f"reading offsets of group {group} failed: {exc.args[0]}") from None
    finally:
        consumer.close()
    return {(tp.topic, tp.partition): tp.offset for tp in got}


def describe_topics(
    bootstrap: str, prefix: str = "", *, internal: bool = False, timeout: float = 30.0
) -> list[TopicInfo]:
    """The topics under ``prefix`` (the contract's; with ``internal`` also worker changelog
    and repartition topics), with message counts and lag per consumer group."""
    admin = _admin(bootstrap)
    _check_reachable(admin, bootstrap, timeout)
    meta = admin.list_topics(timeout=timeout).topics
    contract = {prefix + t for t in TOPICS}
    names = sorted(
        n
        for n in meta
        if n in contract or (internal and n.startswith(prefix) and not n.startswith("__"))
    )
    if not names:
        return []
    resources = [ConfigResource(ResourceType.TOPIC, n) for n in names]
    configs = {
        res.name: fut.result(timeout=timeout)
        for res, fut in admin.describe_configs(resources, request_timeout=timeout).items()
    }
    tps = [TopicPartition(n, p) for n in names for p in meta[n].partitions]
    marks = _watermarks(admin, tps, timeout)
    lags = group_lag(bootstrap, topics=None, timeout=timeout)
    lags = [g for g in lags if g.topic in names]
    out = []
    for n in names:
        conf = configs[n]
        info = TopicInfo(
            name=n,
            partitions=len(meta[n].partitions),
            messages=sum(marks[(n, p)][1] - marks[(n, p)][0] for p in meta[n].partitions),
            cleanup_policy=str(conf["cleanup.policy"].value),
            retention_ms=str(conf["retention.ms"].value),
            groups=[g for g in lags if g.topic == n],
        )
        out.append(info)
    return out
