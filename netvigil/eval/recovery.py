"""Ground truth of repair: when each injected fault's effect starts and ends *in the twin*.

MTTR is measured on the twin's own state, never on the pipeline's opinion of it: a step hook
on the twin source looks, after every simulated step, at whether each fault still harms the
network. The *symptom* of a fault is

- for a demand surge (``congestion``, ``growth_ramp``): the surging link direction's
  noise-free utilization (:meth:`TwinNetwork.expected_load`, policers and metric changes
  included) at or above the congestion threshold, so a ramp's impact begins when it saturates
  and a policer or a reroute ends it;
- for a degrading link (``error_ramp``): the link corrupting at least the harm share of its
  frames (``error_harm``, the error trend's default) while it carries traffic (either
  direction above :data:`CARRIES`: any traffic), so draining the link before the share
  gets there means it never harms;
- for every other fault kind (link and node failures, and kinds added later): the fault being
  active in the twin (:meth:`TwinNetwork.active_faults`), which an interface reset ends for a
  hung link.

For a surge the watch also records when the symptom *would* have begun had no change been
made (``natural_onset``: the same load on a copy of the twin that takes no change: no metric,
no policer; for an error ramp, when its share reaches the harm share), so a saturation a
preemptive change prevented still has a time, against which a prediction's lead is measured
(:mod:`netvigil.eval.leadtime`).

The repair time is the start of the symptom-free stretch that lasts to the fault's natural
end, so a change that is rolled back (and lets the symptom return) does not count. A fault
cleared before its scheduled end was cleared by a change made on the twin
(``cleared_by = "change"``); otherwise it ``"expired"``. Written here rather than taken from a
library because it reads the twin's internal state, which only this package knows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netvigil.streams.forecast import ERROR_HARM_SHARE
from netvigil.twin.faults import Fault
from netvigil.twin.foresight import error_share
from netvigil.twin.network import TwinNetwork
from netvigil.twin.whatif import copy_network

__all__ = ["CARRIES", "SURGE_KINDS", "Recovery", "RecoveryWatch"]

#: fault kinds whose symptom is a saturated link direction rather than the fault being active
SURGE_KINDS = frozenset({"congestion", "growth_ramp"})
#: a link direction above this utilization carries traffic (a drained link carries none; a
#: near-idle link still carries some service's transactions, so any traffic counts)
CARRIES = 1e-6


@dataclass
class Recovery:
    """The life of one fault's symptom on the simulated clock."""

    fault: Fault
    onset: float | None = None
    """First step at which the symptom was present (None: it never was)."""
    cleared: float | None = None
    """Start of the current symptom-free stretch after the onset (None while present)."""
    settled: bool = False
    """The fault's window has ended and its symptom is gone: nothing can change any more."""
    natural_onset: float | None = None
    """For a surge: the first step at which it would have saturated with no change made."""

    @property
    def cleared_by(self) -> str | None:
        if self.onset is None:
            return "never_present"
        if self.cleared is None:
            return None
        return "change" if self.cleared < self.fault.end else "expired"

    @property
    def repair_s(self) -> float | None:
        """Symptom onset to its lasting clearance, simulated seconds (None: not cleared)."""
        if self.onset is None or self.cleared is None:
            return None
        return self.cleared - self.onset

    def row(self) -> dict[str, Any]:
        return {
            "impact_start_s": self.onset,
            "cleared_at_s": self.cleared,
            "cleared_by": self.cleared_by,
            "repair_s": None if self.repair_s is None else round(self.repair_s, 3),
        }


class RecoveryWatch:
    """A twin step hook recording :class:`Recovery` per (non-benign) fault; see the module."""

    def __init__(
        self,
        net: TwinNetwork,
        faults: list[Fault],
        *,
        threshold: float = 0.9,
        error_harm: float = ERROR_HARM_SHARE,
    ) -> None:
        self.net = net
        self.threshold = threshold
        self.error_harm = error_harm
        self.recoveries = [Recovery(f) for f in faults if not f.benign]
        self._pending = list(self.recoveries)
        self._untouched = copy_network(net)  # the same faults, no operator's change
        self._untouched.igp_metric, self._untouched.policers = {}, {}

    def _present(self, f: Fault, t: float, util: dict[tuple[str, str], float] | None) -> bool:
        active = f in self.net.active_faults(t)
        if f.kind == "error_ramp" and active:
            assert util is not None
            lk = self.net.topo.link(f.target)
            carries = max(util.get((lk.id, lk.a), 0.0), util.get((lk.id, lk.b), 0.0)) > CARRIES
            return carries and error_share(self.net, lk.id, t) >= self.error_harm
        if f.kind not in SURGE_KINDS or not active:
            return active
        assert util is not None
        lk = self.net.topo.link(f.target)
        return util.get((lk.id, f.direction or lk.a), 0.0) >= self.threshold

    def __call__(self, t: float) -> None:
        live = [r for r in self._pending if r.fault.start <= t]
        if not live:
            return
        util = None
        surges = [r for r in live if r.fault.kind in SURGE_KINDS]
        if surges or any(r.fault.kind == "error_ramp" for r in live):
            util, _ = self.net.expected_load(t)
        for r in live:  # an error ramp harms when its share gets there, drained or not
            f = r.fault
            if (
                f.kind == "error_ramp"
                and r.natural_onset is None
                and f.active(t)
                and error_share(self.net, f.target, t) >= self.error_harm
            ):
                r.natural_onset = t
        if any(r.natural_onset is None and r.fault.active(t) for r in surges):
            natural, _ = self._untouched.expected_load(t)
            for r in surges:
                lk = self.net.topo.link(r.fault.target)
                d = (lk.id, r.fault.direction or lk.a)
                if r.natural_onset is None and natural.get(d, 0.0) >= self.threshold:
                    r.natural_onset = t
        for r in live:
            if self._present(r.fault, t, util):
                if r.onset is None:
                    r.onset = t
                r.cleared = None
            elif r.onset is not None and r.cleared is None:
                r.cleared = t
            if t >= r.fault.end and (r.onset is None or r.cleared is not None):
                r.settled = True
        self._pending = [r for r in self._pending if not r.settled]

    def of(self, fault: Fault) -> Recovery | None:
        return next((r for r in self.recoveries if r.fault == fault), None)
