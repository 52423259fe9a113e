"""Keeps the dead-letter topic of the embedded runtime on disk, one JSON line per letter."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import IO

from netvigil.events import DeadLetter, Event, encode
from netvigil.streams.base import Processor

__all__ = ["DeadLetterFile"]


class DeadLetterFile(Processor[None]):
    """Appends every dead letter (raw bytes base64-encoded) to a JSONL file, flushed per line."""

    name = "dead-letters"
    inputs = ("netvigil.dlq",)
    outputs = ()

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fh: IO[bytes] | None = None
        self.count = 0

    def new_state(self) -> None:
        return None

    async def process(self, event: Event, state: None) -> Sequence[Event]:
        if isinstance(event, DeadLetter):
            if self._fh is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = self.path.open("ab")
            self._fh.write(encode(event) + b"\n")
            self._fh.flush()
            self.count += 1
        return []

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
