"""The SNMP poller's own health: when its polls fail because *it* cannot keep up.

A poll that times out says "no answer in time", which is the device (down, cut off, its agent
dead) or the poller (its process starved of CPU, its event loop late, its own polls overrunning
their turn). One device failing is about the device. Many devices failing by timeout within
one polling interval, or polls skipped because the previous one of the same target was still
running, is how an overloaded poller looks (on the lab, a shared machine at a load average
near 30 on two cores made nearly every router "unreachable" within a minute while their
neighbours saw every link up): the failures are NetVigil's monitoring health, not the
network's.

:class:`PollHealth` keeps the outcomes of the last ``window_s`` (one polling interval) and
says the poller is *overloaded* while at least ``max(OVERLOAD_MIN_TARGETS,
OVERLOAD_SHARE x targets)`` distinct targets failed by timeout or had a poll skipped in it.
Errors that are answers (an authentication failure, a malformed response) are not counted:
an agent that answers is not a sign of the poller's lateness. The poller marks each
``unreachable`` verdict it gives while overloaded (``attrs["poller_overload"]``); the
correlator does not open an incident on such a symptom alone (it is evidence beside a real
fault's: a router down also takes its neighbours' links down). Overload is reported as the
poller's metrics (:data:`~netvigil.streams.meters.METRICS`: ``netvigil_snmp_poller_overloaded``,
``netvigil_snmp_poller_overload_episodes``, ``netvigil_snmp_polls_failed``,
``netvigil_snmp_polls_skipped``) and a warning in the log when an episode begins.

Thresholds: half of the targets and at least three. A real outage that silences half of the
network at once (the management network cut) is also marked; it is seen through the links
that carry it (their ends on the reachable side go down), which open its incident.
"""

from __future__ import annotations

import logging
import math
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from netvigil.streams.meters import Reading

__all__ = [
    "OVERLOAD_MIN_TARGETS",
    "OVERLOAD_SHARE",
    "TIMEOUT_REASONS",
    "PollHealth",
]

log = logging.getLogger(__name__)

OVERLOAD_MIN_TARGETS = 3
OVERLOAD_SHARE = 0.5
#: failure reasons that mean "no answer in time" (the poller's lateness looks like these)
TIMEOUT_REASONS = frozenset({"deadline", "timeout", "requestTimedOut"})


@dataclass
class PollHealth:
    """Outcomes of the last ``window_s`` seconds of polls (see the module docstring)."""

    targets: int
    window_s: float
    failed: Counter[str] = field(default_factory=Counter)
    """Failures by reason, since the start."""
    skipped: int = 0
    episodes: int = 0
    _late: deque[tuple[float, str]] = field(default_factory=deque)
    _overloaded: bool = False

    @property
    def threshold(self) -> int:
        return max(OVERLOAD_MIN_TARGETS, math.ceil(OVERLOAD_SHARE * self.targets))

    def failure(self, target: str, reason: str, ts: float) -> None:
        self.failed[reason] += 1
        if reason in TIMEOUT_REASONS or "timeout" in reason.lower():
            self._late.append((ts, target))
        self._update(ts)

    def skip(self, target: str, ts: float) -> None:
        """A poll of ``target`` skipped: its previous one was still running at its turn."""
        self.skipped += 1
        self._late.append((ts, target))
        self._update(ts)

    def late_targets(self, ts: float) -> int:
        """Distinct targets that timed out or were skipped in the window ending at ``ts``."""
        while self._late and self._late[0][0] < ts - self.window_s:
            self._late.popleft()
        return len({t for _, t in self._late})

    def overloaded(self, ts: float) -> bool:
        self._update(ts)
        return self._overloaded

    def _update(self, ts: float) -> None:
        late = self.late_targets(ts)
        now = self.targets > 0 and late >= self.threshold
        if now and not self._overloaded:
            self.episodes += 1
            log.warning(
                "snmp poller overloaded: %d of %d targets timed out or were skipped in %.0f s; "
                "their unreachable verdicts are marked as the poller's (monitoring health)",
                late,
                self.targets,
                self.window_s,
            )
        elif self._overloaded and not now:
            log.warning("snmp poller no longer overloaded (%d late targets)", late)
        self._overloaded = now

    def readings(self) -> Iterator[Reading]:
        yield Reading("netvigil_snmp_poller_overloaded", (), 1.0 if self._overloaded else 0.0)
        yield Reading("netvigil_snmp_poller_overload_episodes", (), self.episodes)
        yield Reading("netvigil_snmp_polls_skipped", (), self.skipped)
        for reason, n in sorted(self.failed.items()):
            yield Reading("netvigil_snmp_polls_failed", (reason,), n)
