"""Contextual novelty: has this series ever moved *this way* before? (CAD-style, bounded memory)

The idea of Smirnov's Contextual Anomaly Detector (CAD-OSE, third on NAB's scoreboard): turn
the value into a few discrete levels, look at the short sequences of levels that end at the
newest point (its *contexts*), and call a point anomalous when its contexts are new. It sees
what a predictor's residual misses: a pattern that breaks (a daily cycle that stops, a series
that starts to oscillate) while every single value stays inside its usual range.

Made online and constant-memory here (CAD-OSE reads the file's minimum and maximum up front and
keeps every context it saw):

- levels: ``bins`` equal slices of the running range ``[lo, hi]``; the range widens at once to
  take a new extreme and narrows by ``shrink`` of its width per point, so one old outlier does
  not squash every later value into one level;
- contexts: for every length 1..``max_len``, the last levels, hashed into a table of
  ``2 ** table_bits`` one-byte counters (collisions only make a context look familiar, never
  new, so they can cost a detection but never raise a false alarm);
- forgetting: every ``forget`` points all counters are halved (one C-level ``translate``), so
  a context seen once long ago becomes new again and the table never saturates for good;
- the raw score is the share of the point's contexts never seen (or forgotten), in [0, 1].

Why written here: no maintained package implements CAD (NAB ships it as research code under the
AGPL); this is the idea, not that code.
"""

from __future__ import annotations

__all__ = ["ContextNovelty"]

_HALVE = bytes(c >> 1 for c in range(256))
_MULT = 0x9E3779B1


class ContextNovelty:
    """Novelty of the contexts ending at each new value of one series (see module doc)."""

    __slots__ = ("bins", "forget", "hi", "history", "lo", "mask", "max_len", "n", "seen", "shrink")

    def __init__(
        self,
        *,
        bins: int = 8,
        max_len: int = 4,
        table_bits: int = 11,
        forget: int = 2000,
        shrink: float = 2e-4,
    ) -> None:
        self.bins = bins
        self.max_len = max_len
        self.mask = (1 << table_bits) - 1
        self.forget = forget
        self.shrink = shrink
        self.seen = bytearray(1 << table_bits)
        self.history = 0
        """The last ``max_len`` levels packed base ``bins`` (newest lowest)."""
        self.lo = 0.0
        self.hi = 0.0
        self.n = 0

    def update(self, value: float) -> float:
        """Share of new contexts at ``value`` (scored, then learned); 0 for the first point."""
        if self.n == 0:
            self.lo = self.hi = value
        lo, hi = self.lo, self.hi
        if value < lo:
            lo = value
        elif value > hi:
            hi = value
        width = hi - lo
        b = self.bins
        level = int((value - lo) / width * b) if width > 0.0 else 0
        if level >= b:
            level = b - 1
        packed = (self.history * b + level) % (b**self.max_len)
        self.history = packed
        seen, mask = self.seen, self.mask
        new = 0
        depth = min(self.n + 1, self.max_len)
        span = b
        for length in range(1, depth + 1):
            key = packed % span
            slot = ((key + length * span) * _MULT >> 7) & mask
            c = seen[slot]
            if c == 0:
                new += 1
            if c < 255:
                seen[slot] = c + 1
            span *= b
        self.n += 1
        if self.n % self.forget == 0:
            self.seen = seen.translate(_HALVE)
        shrink = self.shrink * width
        self.lo, self.hi = lo + shrink, hi - shrink
        return new / depth
