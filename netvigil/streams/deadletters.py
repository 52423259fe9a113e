"""Keeps the dead-letter topic of the embedded runtime on disk, one JSON line per letter.

The store is bounded, however much bad input arrives: a letter keeps at most ``max_raw``
raw bytes (the reason says how many there were), the file is rotated when the next letter
would take it past ``max_bytes`` (``dead-letters.jsonl`` becomes ``.1``, ``.1`` becomes ``.2``,
...), and only ``keep`` rotated files are kept. So the store never exceeds about
``(keep + 1) * max_bytes``. Nothing leaves it silently: rotations, the letters deleted with the
oldest file, and the letters cut short are counted and exported as metrics
(:mod:`netvigil.streams.meters`), and a deletion is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

import msgspec

from netvigil.events import DeadLetter, Event, encode
from netvigil.streams.base import Processor
from netvigil.streams.meters import EDGE, EdgeMeters, Reading

__all__ = ["DeadLetterFile"]

log = logging.getLogger(__name__)


class DeadLetterFile(Processor[None]):
    """Appends every dead letter (raw bytes base64-encoded) to a JSONL file, flushed per line."""

    name = "dead-letters"
    inputs = ("netvigil.dlq",)
    outputs = ()

    def __init__(
        self,
        path: str | Path,
        *,
        max_bytes: int = 16 << 20,
        keep: int = 3,
        max_raw: int = 16_384,
        meters: EdgeMeters = EDGE,
    ) -> None:
        self.path = Path(path)
        self.max_bytes, self.keep, self.max_raw = max_bytes, keep, max_raw
        self._fh: IO[bytes] | None = None
        self._size = 0
        self.count = 0
        self.rotations = 0
        self.discarded = 0
        self.truncated = 0
        meters.add(self)

    def new_state(self) -> None:
        return None

    async def process(self, event: Event, state: None) -> Sequence[Event]:
        if isinstance(event, DeadLetter):
            if len(event.raw) > self.max_raw:
                event = msgspec.structs.replace(
                    event,
                    raw=event.raw[: self.max_raw],
                    reason=f"{event.reason} [raw: first {self.max_raw} of {len(event.raw)} bytes]",
                )
                self.truncated += 1
            line = encode(event) + b"\n"
            fh = self._open()
            if self._size and self._size + len(line) > self.max_bytes:
                self._rotate()
                fh = self._open()
            fh.write(line)
            fh.flush()
            self._size += len(line)
            self.count += 1
        return []

    def _open(self) -> IO[bytes]:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("ab")
            self._size = self._fh.tell()
        return self._fh

    def _rotated(self, n: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{n}")

    def _rotate(self) -> None:
        self.close()
        oldest = self._rotated(self.keep)
        if self.keep == 0:
            oldest = self.path
        if oldest.exists():
            with oldest.open("rb") as fh:
                lost = sum(1 for _ in fh)
            oldest.unlink()
            self.discarded += lost
            log.warning(
                "dead-letter store full: %d letters deleted with %s (%d in all)",
                lost, oldest, self.discarded,
            )  # fmt: skip
        for n in range(self.keep - 1, 0, -1):
            if self._rotated(n).exists():
                self._rotated(n).replace(self._rotated(n + 1))
        if self.keep > 0:
            self.path.replace(self._rotated(1))
        self.rotations += 1

    def files(self) -> list[Path]:
        """The store's files, newest first."""
        out = [self.path, *(self._rotated(n) for n in range(1, self.keep + 1))]
        return [p for p in out if p.exists()]

    def readings(self) -> Iterator[Reading]:
        size = 0
        for p in self.files():
            try:
                size += p.stat().st_size
            except OSError:  # rotated away between the listing and the stat
                continue
        yield Reading("netvigil_dead_letter_store_bytes", (), size)
        yield Reading("netvigil_dead_letter_store_rotations", (), self.rotations)
        yield Reading("netvigil_dead_letters_discarded", (), self.discarded)
        yield Reading("netvigil_dead_letters_truncated", ("store",), self.truncated)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
