"""Alert hygiene: turn per-point scores into few, stable, non-duplicated alerts (pure).

Three rules, each small enough to write here rather than pull in an alerting engine:

- **Minimum duration and hysteresis** (:class:`Hysteresis`): an alert opens after
  ``min_points`` consecutive points at or above ``open_at`` and clears after ``clear_points``
  consecutive points below ``clear_at`` (lower than ``open_at``), so a score hovering around
  one threshold cannot flap.
- **De-duplication per entity** (:class:`EntityDedup`): while an entity already has an open
  alert, further *weak* alerts on the same entity (a traffic deviation on an interface that is
  already down) are folded into it instead of being published; they are remembered so their
  clears are folded too. Strong evidence (down, over threshold) is always published.
- **Onset scores** (:class:`OnsetFilter`): for consumers of a score stream (the ``netvigil
  detect`` command, NAB), a score is reported at the onset of an excursion and then held at 0
  for ``refractory`` points: an ongoing anomaly is one event, not hundreds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["EntityDedup", "Hysteresis", "OnsetFilter"]


@dataclass
class Hysteresis:
    """Open/clear state of one series. :meth:`step` returns ``"open"``, ``"clear"`` or None."""

    min_points: int = 2
    clear_points: int = 3
    is_open: bool = False
    streak: int = 0
    normal_streak: int = 0
    onset_ts: float = 0.0

    def step(self, ts: float, abnormal: bool) -> Literal["open", "clear"] | None:
        if abnormal:
            self.normal_streak = 0
            if self.streak == 0:
                self.onset_ts = ts
            self.streak += 1
            if not self.is_open and self.streak >= self.min_points:
                self.is_open = True
                return "open"
            return None
        self.streak = 0
        if self.is_open:
            self.normal_streak += 1
            if self.normal_streak >= self.clear_points:
                self.is_open = False
                self.normal_streak = 0
                return "clear"
        return None


@dataclass
class EntityDedup:
    """Which alerts of each entity were published, and which weaker ones were folded in."""

    published: dict[str, set[str]] = field(default_factory=dict)
    folded: dict[str, set[str]] = field(default_factory=dict)

    def admit_open(self, entity: str, signal: str, *, foldable: bool = True) -> bool:
        """True if this alert should be published; False if folded into one already open.

        Only ``foldable`` alerts (weak evidence, e.g. a deviation) are folded; a stronger
        one (down, threshold) is always published, even when a weak one opened first.
        """
        open_ = self.published.setdefault(entity, set())
        if foldable and open_ and signal not in open_:
            self.folded.setdefault(entity, set()).add(signal)
            return False
        open_.add(signal)
        return True

    def admit_clear(self, entity: str, signal: str) -> bool:
        """True if this clear should be published (it clears an alert that was published)."""
        open_ = self.published.get(entity, set())
        if signal in open_:
            open_.discard(signal)
            if not open_:
                self.published.pop(entity, None)
                self.folded.pop(entity, None)
            return True
        self.folded.get(entity, set()).discard(signal)
        return False

    def also(self, entity: str) -> list[str]:
        """Signals folded into the entity's open alerts."""
        return sorted(self.folded.get(entity, ()))


@dataclass
class OnsetFilter:
    """Keeps a score at the onset of an excursion above ``level``, zero for ``refractory``
    points after it (strictly online: depends on past scores only)."""

    level: float = 0.5
    refractory: int = 100
    cooldown: int = 0

    def __call__(self, score: float) -> float:
        if self.cooldown > 0:
            self.cooldown -= 1
            return 0.0
        if score >= self.level:
            self.cooldown = self.refractory
        return score
