"""A stream scorer whose model needs its first points before it can exist (pure).

NAB hands its detectors each file's range before the first row; a stream has no such
look-ahead. :class:`ReplayStart` gives the online variants (CAD-OSE, ARTime) the same
model without it: the first ``warmup`` values score 0 and are kept; then ``make`` builds
the model from them (e.g. their range), they are replayed into it (their scores dropped),
and every later value goes to the model. Memory: the ``warmup`` values until then, none
after.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

__all__ = ["ReplayStart", "Scorer"]


class Scorer(Protocol):
    def score(self, value: float) -> float: ...


S = TypeVar("S", bound=Scorer)


class ReplayStart(Generic[S]):
    """Scores 0 for the first ``warmup`` values, then the model ``make`` builds from them."""

    def __init__(self, warmup: int, make: Callable[[list[float]], S]) -> None:
        if warmup < 1:
            raise ValueError("warmup must be at least 1")
        self.warmup = warmup
        self.make = make
        self.buffer: list[float] | None = []
        self.detector: S | None = None

    def score(self, value: float) -> float:
        """Score ``value`` (0 while the first values are kept), then learn it; a value that
        is not finite is refused (ValueError) and changes nothing."""
        if not math.isfinite(value):
            raise ValueError(f"not a finite value: {value!r}")
        if self.detector is not None:
            return self.detector.score(value)
        assert self.buffer is not None
        self.buffer.append(value)
        if len(self.buffer) >= self.warmup:
            buf, self.buffer = self.buffer, None
            self.detector = self.make(buf)
            for v in buf:
                self.detector.score(v)
        return 0.0
