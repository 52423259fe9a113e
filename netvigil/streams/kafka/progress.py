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
been handled then, and what is written later is newer); an older report that it had never
held anything says nothing of what was written after it (a copy of the board taken before
the first events, carried in a mark, once released everything by that rule); reports
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

The re-keying hop in front of a merging processor is not covered by reports: its progress
travels in band, as marks in the re-keyed topic (:class:`MarkBoard`), which carry the
upstream reports that everything re-keyed before them covers.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, TypeGuard

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    ConsumerGroupState,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from netvigil.streams.kafka.admin import admin_config

__all__ = [
    "MARK_KEY",
    "PROGRESS_TOPIC",
    "MarkBoard",
    "Progress",
    "ProgressBoard",
    "ProgressReader",
    "is_mark",
    "mark_value",
    "progress_record",
]

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

    def dump(self, groups: set[str]) -> dict[str, Any]:
        """The reports of ``groups`` and the listing of live groups, as JSON-ready data
        (:meth:`load` makes a board of it again)."""
        with self._lock:
            reports = {
                f"{g}|{t}|{p}": {"ts": r.ts, "caught_up": r.caught_up, "at": r.at, "of": r.of}
                for (g, t, p), r in self._latest.items()
                if g in groups
            }
            return {
                "reports": reports,
                "live": sorted(self._live & groups),
                "listed_at": self._listed_at if self._listed_at > float("-inf") else None,
            }

    @classmethod
    def load(cls, data: dict[str, Any], stale_s: float) -> ProgressBoard:
        """A board of what :meth:`dump` wrote (a malformed report is left out)."""
        board = cls(stale_s)
        for key, report in dict(data["reports"]).items():
            board.put(str(key), report)
        if data.get("listed_at") is not None:
            board.set_live(set(data["live"]), float(data["listed_at"]))
        return board

    def set_live(self, groups: set[str], at: float) -> None:
        """The consumer groups that have members, per a listing taken at wall time ``at``."""
        with self._lock:
            self._live, self._listed_at = set(groups), at

    def update(self, key: bytes, value: bytes | None) -> None:
        """Take one record of the progress topic."""
        try:
            data: Any = json.loads(value or b"null")
            text = key.decode()
        except ValueError:
            log.warning("ignoring a malformed progress report %r", key)
            return
        self.put(text, data)

    def put(self, key: str, data: Any) -> None:
        """Take one report: its key (``group|topic|partition``) and its decoded value."""
        try:
            group, topic, part_text = key.rsplit("|", 2)
            part = int(part_text)
            data = data or {}
            of = data.get("of")
            report = Progress(
                data.get("ts"),
                bool(data.get("caught_up")),
                float(data["at"]),
                int(of) if of is not None else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError):
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
                gap = _gap({tp: p.of for tp, p in reports.items()})
                if gap is None and not reports:
                    if self._listed_at >= since and group not in self._live:
                        continue  # no worker runs it: nothing to wait for
                    gap = "no report yet"
                if gap is not None:
                    return float("-inf"), f"{group} ({gap})"
                for (topic, part), p in reports.items():
                    if p.caught_up and p.at >= since:
                        continue
                    ts = p.ts if p.ts is not None else float("-inf")
                    if ts < low:
                        low, who = ts, f"{group}|{topic}|{part}"
        return low, who


def _gap(of: dict[tuple[str, int], int | None], what: str = "reported") -> str | None:
    """Which partitions of the topics have no fresh report (or mark), if any, given each
    fresh one's count of partitions in its topic."""
    seen: dict[str, set[int]] = {}
    count: dict[str, int] = {}
    for (topic, part), n in of.items():
        seen.setdefault(topic, set()).add(part)
        if n is not None:
            count[topic] = max(count.get(topic, 0), n)
    for topic, n in sorted(count.items()):
        missing = sorted(set(range(n)) - seen[topic])
        if missing:
            return f"{topic} partitions {missing} not {what}"
    return None


#: the key of an in-band progress mark in a by-key topic, and how its value starts
MARK_KEY = b"netvigil-mark"
_MARK_HEAD = b'{"netvigil-mark":'


def mark_value(
    covers: list[tuple[str, int]], of: int, at: float, upstream: dict[str, Any] | None
) -> bytes:
    """An in-band progress mark of a re-keying worker: it has re-keyed, and written before
    this mark, every record its input partitions ``covers`` (of ``of`` per topic) held when
    ``upstream`` (a :meth:`ProgressBoard.dump` of the groups upstream) was taken; None: not
    since it was assigned them. See :class:`MarkBoard`."""
    body = {"netvigil-mark": 1, "covers": covers, "of": of, "at": at, "upstream": upstream}
    return json.dumps(body).encode()


def is_mark(value: bytes | None) -> TypeGuard[bytes]:
    """Whether a record of a by-key topic is an in-band progress mark, not events."""
    return value is not None and value.startswith(_MARK_HEAD)


class MarkBoard:
    """What the in-band marks read from one by-key partition say: the watermark of the
    events re-keyed into it.

    A progress report of the re-keying stage cannot give it. The report says which input
    records were re-keyed, not that their re-keyed records reached the processor (both are
    committed in one transaction and the report is often read first); and its event time is
    the newest re-keyed, while the rest of an input partition need not be newer (the
    detector writes its anomalies in the order it handled its keys, not in event time). So
    the re-keying worker copies the progress reports of the groups upstream, then asks for
    its input partitions' end offsets: once it has read a partition up to that offset,
    everything the copy covers in that partition is re-keyed (see
    :meth:`~netvigil.streams.kafka.keyed.KeyedWorker._mark_value`). It writes the oldest copy that
    covers all its partitions into every by-key partition after its re-keyed records (a
    mark), where it cannot be read before them. An event is released by the watermark of the
    newest mark covering each input partition (the oldest of them), computed as
    :meth:`ProgressBoard.blocking` does; until every partition of the input is covered by a
    fresh mark, everything is held."""

    def __init__(self, group: str, stale_s: float) -> None:
        self.group = group
        self.stale_s = stale_s
        self._latest: dict[tuple[str, int], tuple[float, int, ProgressBoard | None]] = {}
        """Per input partition: when the newest mark covering it was written, how many
        partitions its topic has, and the reports the mark carried."""

    def take(self, value: bytes) -> None:
        """Take one mark; ValueError if it is malformed (nothing of it is taken)."""
        try:
            data = json.loads(value)
            at, of = float(data["at"]), int(data["of"])
            raw = data["upstream"]
            board = None if raw is None else ProgressBoard.load(raw, self.stale_s)
            covers = [(str(t), int(p)) for t, p in data["covers"]]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed progress mark ({exc!r})") from exc
        for tp in covers:
            self._latest[tp] = (at, of, board)

    def blocking(self, groups: set[str], now: float, since: float) -> tuple[float, str]:
        """The watermark of an event that arrived at ``since`` and which report sets it."""
        fresh = {tp: m for tp, m in self._latest.items() if now - m[0] <= self.stale_s}
        if not fresh:
            return float("-inf"), f"{self.group} (no in-band mark read yet)"
        gap = _gap({tp: m[1] for tp, m in fresh.items()}, "marked")
        if gap is not None:
            return float("-inf"), f"{self.group} ({gap})"
        low: tuple[float, str] = (float("inf"), "")
        seen: set[int] = set()
        for (topic, part), (_, _, board) in sorted(fresh.items()):
            if board is None:
                return float("-inf"), f"{self.group}|{topic}|{part} (not caught up yet)"
            if id(board) not in seen:
                seen.add(id(board))
                low = min(low, board.blocking(groups, now, since))
        return low


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
