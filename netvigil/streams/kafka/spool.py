"""A bounded on-disk spool: Kafka records kept in order while the broker is unreachable.

The producer writes here instead of to Kafka while the broker cannot be reached, and replays
the spool oldest-first once it can; a spool left by a previous run is replayed at start. The
spool is bounded in bytes: when it is full, the *oldest* whole segment is shed (the newest
telemetry is what detection needs when the broker returns), and every shed record is counted
per topic and logged — never silent.

Why hand-written: the closest library, persist-queue, stores pickled items in SQLite (one
transaction per item) or in files without a byte bound, and has no notion of shedding with
accounting. What is needed is small and easy to check: append-only segment files of
length-prefixed, CRC-checked frames, read in order, deleted whole once delivered.

Segment file ``<number>.seg`` (numbers sort in replay order) holds frames
``<u32 length><u32 crc32(payload)><payload>`` with payload
``<u16 topic length><i32 key length, -1 = null>[headers]<topic><key><value>``; the topic
length's top bit says whether ``headers`` are there: ``<u16 count>`` and per header
``<u16 name length><u32 value length><name><value>`` (spools written before headers were
kept have none, and are read as they were). A frame torn by a crash
fails its length or CRC check; reading stops there and the torn bytes are counted as corrupt.
Appends reach the operating system before :meth:`Spool.append` returns (they survive a
crash of the process, not of the machine: no fsync per record).
"""

from __future__ import annotations

import logging
import struct
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = ["Record", "Spool"]

log = logging.getLogger(__name__)

_FRAME = struct.Struct("<II")
_HEAD = struct.Struct("<Hi")
_COUNT = struct.Struct("<H")
_HEADER = struct.Struct("<HI")
_HAS_HEADERS = 0x8000
_FIRST = 10**15  # first segment number of an empty spool; leaves room to prepend

Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class Record:
    """One Kafka record: topic, key (None for no key), value bytes and headers."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Headers = ()


def _frame(rec: Record) -> bytes:
    topic = rec.topic.encode()
    key = rec.key if rec.key is not None else b""
    if len(topic) >= _HAS_HEADERS:
        raise ValueError(f"topic name of {len(topic)} bytes")
    flag = _HAS_HEADERS if rec.headers else 0
    parts = [_HEAD.pack(len(topic) | flag, -1 if rec.key is None else len(key))]
    if rec.headers:
        parts.append(_COUNT.pack(len(rec.headers)))
        for name, value in rec.headers:
            raw = name.encode()
            parts += [_HEADER.pack(len(raw), len(value)), raw, value]
    payload = b"".join([*parts, topic, key, rec.value])
    return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def _unframe(payload: bytes) -> Record:
    tlen, klen = _HEAD.unpack_from(payload)
    at = _HEAD.size
    headers: list[tuple[str, bytes]] = []
    if tlen & _HAS_HEADERS:
        tlen &= ~_HAS_HEADERS
        (count,) = _COUNT.unpack_from(payload, at)
        at += _COUNT.size
        for _ in range(count):
            nlen, vlen = _HEADER.unpack_from(payload, at)
            at += _HEADER.size
            name = payload[at : at + nlen].decode()
            headers.append((name, payload[at + nlen : at + nlen + vlen]))
            at += nlen + vlen
    topic = payload[at : at + tlen].decode()
    at += tlen
    key = None if klen < 0 else payload[at : at + klen]
    at += max(klen, 0)
    return Record(topic, key, payload[at:], tuple(headers))


class Spool:
    """A FIFO of records in segment files under ``path``, at most ``max_bytes`` in total."""

    def __init__(self, path: Path, max_bytes: int, *, segment_bytes: int = 8 << 20) -> None:
        if max_bytes <= 0 or segment_bytes <= 0:
            raise ValueError("spool sizes must be positive")
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.segment_bytes = min(segment_bytes, max(max_bytes // 4, 1))
        self._sizes: dict[Path, int] = {
            p: p.stat().st_size for p in sorted(self.path.glob("*.seg")) if p.stat().st_size
        }
        for p in self.path.glob("*.seg"):
            if p not in self._sizes:
                p.unlink()
        self._tail: BinaryIO | None = None
        self._tail_path: Path | None = None
        self._pinned: Path | None = None
        self.appended = 0
        self.shed: Counter[str] = Counter()
        self.shed_bytes = 0
        self.corrupt_bytes = 0

    # ------------------------------------------------------------------ state

    @property
    def bytes(self) -> int:
        """Bytes on disk, all segments."""
        return sum(self._sizes.values())

    def __bool__(self) -> bool:
        return self.bytes > 0

    def segments(self) -> list[Path]:
        """Segment files, oldest first."""
        return sorted(self._sizes)

    # ------------------------------------------------------------------ writing

    def append(self, rec: Record) -> None:
        """Append one record (shedding the oldest segments if the spool is full)."""
        self.append_many((rec,))

    def append_many(self, records: Iterable[Record]) -> None:
        """Append records in order; they reach the OS before this returns."""
        tail = None
        for rec in records:
            frame = _frame(rec)
            if not self._make_room(len(frame)):
                self._count_shed([rec], len(frame), "the spool is full of segments in use")
                continue
            size = self._sizes.get(self._tail_path, 0) if self._tail_path else 0
            if self._tail is None or (size and size + len(frame) > self.segment_bytes):
                self._rotate()
            tail = self._tail
            assert tail is not None and self._tail_path is not None
            tail.write(frame)
            self._sizes[self._tail_path] = self._sizes.get(self._tail_path, 0) + len(frame)
            self.appended += 1
        if tail is not None:
            tail.flush()

    def prepend(self, records: list[Record]) -> None:
        """Write ``records`` as a segment that replays before every other (e.g. what the
        producer still held in memory at shutdown, which is older than anything spooled)."""
        if not records:
            return
        first = min((int(p.stem) for p in self._sizes), default=_FIRST)
        path = self.path / f"{first - 1:020d}.seg"
        data = b"".join(_frame(r) for r in records)
        with path.open("wb") as fh:
            fh.write(data)
        self._sizes[path] = len(data)
        self.appended += len(records)
        while self.bytes > self.max_bytes and self._shed_oldest(keep=path):
            pass

    def _rotate(self) -> None:
        self._close_tail()
        last = max((int(p.stem) for p in self._sizes), default=_FIRST - 1)
        self._tail_path = self.path / f"{last + 1:020d}.seg"
        self._tail = self._tail_path.open("ab")
        self._sizes.setdefault(self._tail_path, 0)

    def _close_tail(self) -> None:
        if self._tail is not None:
            self._tail.close()
            if self._tail_path is not None and not self._sizes.get(self._tail_path):
                self._sizes.pop(self._tail_path, None)
                self._tail_path.unlink(missing_ok=True)
        self._tail = None
        self._tail_path = None

    def _make_room(self, need: int) -> bool:
        while self.bytes + need > self.max_bytes:
            if not self._shed_oldest():
                return False
        return True

    def _shed_oldest(self, keep: Path | None = None) -> bool:
        for seg in self.segments():
            if seg in (self._pinned, keep):
                continue
            if seg == self._tail_path:
                self._close_tail()
                if seg not in self._sizes:
                    continue
            recs = list(self._read_frames(seg, count_corrupt=False))
            self._count_shed(recs, self._sizes.pop(seg), f"oldest segment {seg.name} dropped")
            seg.unlink(missing_ok=True)
            return True
        return False

    def _count_shed(self, recs: list[Record], size: int, why: str) -> None:
        per_topic = Counter(r.topic for r in recs)
        self.shed.update(per_topic)
        self.shed_bytes += size
        log.error(
            "spool %s full (%d bytes max): shed %d records (%s): %s; %d shed in total",
            self.path,
            self.max_bytes,
            len(recs),
            dict(per_topic),
            why,
            sum(self.shed.values()),
        )

    # ------------------------------------------------------------------ reading

    def oldest(self) -> Path | None:
        """The oldest segment, made immutable (closed for appends) and pinned against
        shedding until :meth:`remove` or :meth:`unpin`; None when the spool is empty."""
        segs = self.segments()
        if not segs:
            return None
        if segs[0] == self._tail_path:
            self._close_tail()
            segs = self.segments()
            if not segs:
                return None
        self._pinned = segs[0]
        return segs[0]

    def read(self, seg: Path) -> Iterator[Record]:
        """The records of a segment, in order; stops at a torn or corrupt frame."""
        return self._read_frames(seg, count_corrupt=True)

    def _read_frames(self, seg: Path, *, count_corrupt: bool) -> Iterator[Record]:
        data = seg.read_bytes() if seg.exists() else b""
        at = 0
        while at < len(data):
            if at + _FRAME.size > len(data):
                break
            length, crc = _FRAME.unpack_from(data, at)
            payload = data[at + _FRAME.size : at + _FRAME.size + length]
            if len(payload) != length or zlib.crc32(payload) != crc or length < _HEAD.size:
                break
            try:
                rec = _unframe(payload)
            except (struct.error, UnicodeDecodeError):
                break
            yield rec
            at += _FRAME.size + length
        if at < len(data) and count_corrupt:
            self.corrupt_bytes += len(data) - at
            log.error("spool segment %s: %d torn or corrupt bytes skipped", seg, len(data) - at)

    def remove(self, seg: Path) -> None:
        """Delete a segment whose records were all delivered."""
        self._sizes.pop(seg, None)
        seg.unlink(missing_ok=True)
        if self._pinned == seg:
            self._pinned = None

    def unpin(self) -> None:
        self._pinned = None

    def close(self) -> None:
        self._close_tail()
