"""The topology generation as a long-running reader keeps it: asked of the store at most once
per ``refresh_s`` seconds (monotonic clock), so a burst of lookups costs one query to a
network store (Neo4j) instead of one each.

What holds: a value returned is one the store had at most ``refresh_s`` seconds ago, so a
topology change is seen by the next lookup after ``refresh_s`` (and caches keyed by the
generation are dropped then); ``refresh_s`` 0 asks the store every time (the in-process
store, whose ``generation()`` is an attribute read, is asked every time by its readers).
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["GenerationWatch"]


class GenerationWatch:
    """The last generation read, and whether it is due to be read again."""

    def __init__(self, refresh_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.refresh_s = refresh_s
        self.clock = clock
        self.value: int | None = None
        self._read_at = float("-inf")

    def due(self) -> bool:
        """True when the store must be asked (never read, or read ``refresh_s`` ago)."""
        return self.value is None or self.clock() - self._read_at >= self.refresh_s

    def set(self, generation: int) -> int:
        """Record a generation just read from the store; returns it."""
        self.value, self._read_at = generation, self.clock()
        return generation
