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
reported yet). Nothing reported means nothing to wait for. This is what stream processors
call a low watermark; it is
computed from Kafka only, so no worker needs to know the others.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from netvigil.streams.kafka_admin import admin_config

__all__ = ["PROGRESS_TOPIC", "Progress", "ProgressBoard", "ProgressReader", "progress_record"]

log = logging.getLogger(__name__)

#: the progress topic's name after the topic prefix
PROGRESS_TOPIC = "netvigil-progress"


@dataclass(frozen=True)
class Progress:
    """One group's progress on one input partition."""

    ts: float | None
    caught_up: bool
    at: float


def progress_record(group: str, topic: str, partition: int, p: Progress) -> tuple[bytes, bytes]:
    """The key and value of a progress report."""
    key = f"{group}|{topic}|{partition}".encode()
    return key, json.dumps({"ts": p.ts, "caught_up": p.caught_up, "at": p.at}).encode()


class ProgressBoard:
    """The latest report per (group, topic, partition); thread-safe."""

    def __init__(self, stale_s: float = 30.0) -> None:
        self.stale_s = stale_s
        self._lock = threading.Lock()
        self._latest: dict[tuple[str, str, int], Progress] = {}

    def update(self, key: bytes, value: bytes | None) -> None:
        try:
            group, topic, part_text = key.decode().rsplit("|", 2)
            part = int(part_text)
            data: dict[str, Any] = json.loads(value or b"null") or {}
            report = Progress(data.get("ts"), bool(data.get("caught_up")), float(data["at"]))
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed progress report %r", key)
            return
        with self._lock:
            self._latest[(group, topic, part)] = report

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
            for (group, topic, part), p in self._latest.items():
                if group not in groups or now - p.at > self.stale_s:
                    continue
                if p.caught_up and (p.at >= since or p.ts is None):
                    continue
                ts = p.ts if p.ts is not None else float("-inf")
                if ts < low:
                    low, who = ts, f"{group}|{topic}|{part}"
        return low, who


class ProgressReader:
    """Follows the progress topic from its beginning in a thread, into a board."""

    def __init__(self, bootstrap: str, topic: str, board: ProgressBoard) -> None:
        self.topic = topic
        self.board = board
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

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self._consumer.poll(0.5)
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
