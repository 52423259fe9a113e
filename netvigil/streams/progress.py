"""Watermarks across workers: how far in event time each consumer group has got.

A processor that merges many partitions (the correlator) must not act on an anomaly while an
older one may still be on its way. Whether one may is known only upstream: by the workers of
the detector (have they processed every partition up to that time?) and by the workers
re-keying anomalies. So every worker app reports, once a second and only when everything it
has read is handled and its outputs acknowledged, per input partition: the newest event time
handled (older while events wait in its own buffers) and whether it has read the partition to
its end. Reports go to one small compacted topic, ``<prefix>netvigil-progress``, keyed by
``group|topic|partition``, which a merging processor reads (every worker, no group).

The watermark of a set of groups, for an event that arrived at wall time ``since``, is the
oldest event time handled among their partitions, except that a partition holds nothing back
if it was reported caught up *after* ``since`` (everything written before that report had
been handled then, and what is written later is newer) or has never held anything; reports
older than ``stale_s`` are ignored (a worker that died and whose partitions' new owner has not
reported yet). This is what stream processors call a low watermark; it is computed from Kafka
only, so no worker needs to know the others.

What has not reported yet is the hard part. A group that runs but has not reported (its
workers just started), or has reported only some partitions of a topic (each report says how
many the topic has), may still deliver anything: it holds everything back. A group that no
worker runs (a processor of the deployment that is disabled, or not started yet) cannot be
waited for: it holds nothing back, but only when a listing of the broker's consumer groups
*taken after the event arrived* shows it without members. Trusting an older listing is what
let a correlator started beside its detector act on anomalies out of order: the detector
joined and emitted between the listing and its first report.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    ConsumerGroupState,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from netvigil.streams.kafka_admin import admin_config

__all__ = ["PROGRESS_TOPIC", "Progress", "ProgressBoard", "ProgressReader", "progress_record"]

log = logging.getLogger(__name__)

#: the progress topic's name after the topic prefix
PROGRESS_TOPIC = "netvigil-progress"

#: states of a consumer group that has members
_LIVE = frozenset(
    {
        ConsumerGroupState.STABLE,
        ConsumerGroupState.PREPARING_REBALANCING,
        ConsumerGroupState.COMPLETING_REBALANCING,
    }
)


@dataclass(frozen=True)
class Progress:
    """One group's progress on one input partition."""

    ts: float | None
    caught_up: bool
    at: float
    of: int | None = None
    """How many partitions the topic has (None: an older worker that did not say)."""


def progress_record(group: str, topic: str, partition: int, p: Progress) -> tuple[bytes, bytes]:
    """The key and value of a progress report."""
    key = f"{group}|{topic}|{partition}".encode()
    value = {"ts": p.ts, "caught_up": p.caught_up, "at": p.at, "of": p.of}
    return key, json.dumps(value).encode()


class ProgressBoard:
    """The latest report per (group, topic, partition); thread-safe."""

    def __init__(self, stale_s: float = 30.0) -> None:
        self.stale_s = stale_s
        self._lock = threading.Lock()
        self._latest: dict[tuple[str, str, int], Progress] = {}
        self._live: set[str] = set()
        self._listed_at = float("-inf")
        self.heard = float("-inf")
        """Wall time of the newest report: the clock of "stuck too long", which stops while
        the broker is away, so an outage does not release held events out of order."""

    def copy(self) -> ProgressBoard:
        """The board as it is now, frozen (what was known at one moment)."""
        other = ProgressBoard(self.stale_s)
        with self._lock:
            other._latest = dict(self._latest)
            other._live = set(self._live)
            other._listed_at = self._listed_at
            other.heard = self.heard
        return other

    def set_live(self, groups: set[str], at: float) -> None:
        """The consumer groups that have members, per a listing taken at wall time ``at``."""
        with self._lock:
            self._live, self._listed_at = set(groups), at

    def update(self, key: bytes, value: bytes | None) -> None:
        try:
            group, topic, part_text = key.decode().rsplit("|", 2)
            part = int(part_text)
            data: dict[str, Any] = json.loads(value or b"null") or {}
            of = data.get("of")
            report = Progress(
                data.get("ts"),
                bool(data.get("caught_up")),
                float(data["at"]),
                int(of) if of is not None else None,
            )
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed progress report %r", key)
            return
        with self._lock:
            self._latest[(group, topic, part)] = report
            self.heard = max(self.heard, report.at)

    def watermark(self, groups: set[str], now: float, since: float | None = None) -> float:
        """The oldest event time the groups may still emit something about, for an event that
        arrived at ``since`` (default ``now``)."""
        return self.blocking(groups, now, since)[0]

    def blocking(
        self, groups: set[str], now: float, since: float | None = None
    ) -> tuple[float, str]:
        """The watermark and which report sets it (``group|topic|partition``), for logs."""
        since = now if since is None else since
        low, who = float("inf"), ""
        with self._lock:
            fresh: dict[str, dict[tuple[str, int], Progress]] = {g: {} for g in groups}
            for (group, topic, part), p in self._latest.items():
                if group in fresh and now - p.at <= self.stale_s:
                    fresh[group][(topic, part)] = p
            for group, reports in sorted(fresh.items()):
                gap = _gap(reports)
                if gap is None and not reports:
                    if self._listed_at >= since and group not in self._live:
                        continue  # no worker runs it: nothing to wait for
                    gap = "no report yet"
                if gap is not None:
                    return float("-inf"), f"{group} ({gap})"
                for (topic, part), p in reports.items():
                    if p.caught_up and (p.at >= since or p.ts is None):
                        continue
                    ts = p.ts if p.ts is not None else float("-inf")
                    if ts < low:
                        low, who = ts, f"{group}|{topic}|{part}"
        return low, who


def _gap(reports: dict[tuple[str, int], Progress]) -> str | None:
    """Which partitions of a group's topics have no fresh report, if any."""
    seen: dict[str, set[int]] = {}
    count: dict[str, int] = {}
    for (topic, part), p in reports.items():
        seen.setdefault(topic, set()).add(part)
        if p.of is not None:
            count[topic] = max(count.get(topic, 0), p.of)
    for topic, n in sorted(count.items()):
        missing = sorted(set(range(n)) - seen[topic])
        if missing:
            return f"{topic} partitions {missing} not reported"
    return None


class ProgressReader:
    """Follows the progress topic from its beginning in a thread, into a board, and lists
    the consumer groups that have members every ``list_s`` seconds."""

    def __init__(
        self, bootstrap: str, topic: str, board: ProgressBoard, list_s: float = 1.0
    ) -> None:
        self.topic = topic
        self.board = board
        self.list_s = list_s
        self._admin = AdminClient(admin_config(bootstrap))
        self._next_list = 0.0
        self._stop = threading.Event()
        conf = {
            **admin_config(bootstrap),
            "group.id": f"netvigil-progress-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
        self._consumer = Consumer(conf)
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)

    def start(self) -> None:
        self._consumer.assign([TopicPartition(self.topic, 0, OFFSET_BEGINNING)])
        self._thread.start()

    def _list_groups(self) -> None:
        at = time.time()  # before asking: a group missing from the answer had no members then
        try:
            listing = self._admin.list_consumer_groups(request_timeout=5).result(timeout=5)
        except Exception as exc:  # the broker is away: the board keeps the older listing
            log.debug("progress reader: listing groups failed: %r", exc)
            return
        live = {g.group_id for g in listing.valid if g.state in _LIVE}
        self.board.set_live(live, at)

    def _run(self) -> None:
        while not self._stop.is_set():
            if time.monotonic() >= self._next_list:
                self._next_list = time.monotonic() + self.list_s
                self._list_groups()
            try:
                msg = self._consumer.poll(min(0.5, self.list_s))
            except KafkaException as exc:  # the broker is away: keep trying
                log.debug("progress reader: %s", exc)
                time.sleep(0.5)
                continue
            if msg is None or msg.error() is not None:
                continue
            key = msg.key()
            if key is not None:
                self.board.update(key, msg.value())

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._consumer.close()
