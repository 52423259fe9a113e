"""Benign conditions a scenario injects beside its faults, placed where they stay benign.

A scenario's ``benign:`` list names kinds of :data:`netvigil.twin.faults.BENIGN_KINDS` with a
schedule (``first_s``, ``every_s``, ``duration_s``, ``count``, ``magnitude``). Both kinds
need care to be what they claim:

- a ``stalled_ramp`` must look like a growth ramp to the forecaster and never really saturate
  (it is the ground truth of a *false* prediction): demand grows at a ramp's pace
  (``slope_per_h``, 0.65: a growth ramp's 1.3 over two hours) until the direction carries
  ``plateau`` (0.7), then holds as long as it rose; its link direction is one whose normal
  peak over the day is at most ``max_peak`` (0.25, measured on a fault-free copy of the
  twin), so the daily cycle cannot carry the plateau to the threshold;
- a ``scheduled_burst`` recurs on the same link direction at the same time each day (that is
  what makes it a pattern an operator can judge false once); each of its ``patterns`` gets its
  own link direction and hour (``spacing_s`` apart), and the burst fills the link: the normal
  load at that hour plus the burst reaches ``fill`` (0.95), so it crosses the congestion
  threshold as a real surge would (which saturates the link: 1.0).

- ``stalled_errors`` (a link's error share rising at an error ramp's pace, ``slope_per_h``,
  0.0015: :data:`~netvigil.twin.faults.ERROR_RAMP_SHARE` over two hours, until it reaches
  ``plateau``, 0.0006, below the 0.1 % harm share, then holding as long as it rose): the error
  trend predicts harm that never comes. Any link the faults do not use.

A ``poller_overload`` (the poller's own overload: most devices' polls time out at once,
nothing in the network changes) needs no place; it recurs every ``every_s``. Nor do
``poll_timeouts`` (single devices' polls timing out now and then for ``duration_s``; their
``magnitude`` is the share of polls that do, by default
:data:`~netvigil.twin.faults.POLL_TIMEOUT_SHARE`).

The others avoid the links the scenario's faults use, so a fault is never hidden inside a benign
condition (nor a benign condition counted as a fault). Targets are drawn with the seed.
"""

from __future__ import annotations

import random
from typing import Any

from netvigil.graph.base import TopologyStore
from netvigil.twin.faults import BENIGN_KINDS, POLL_TIMEOUT_SHARE, Fault
from netvigil.twin.network import TwinNetwork
from netvigil.twin.source import SIM_EPOCH

__all__ = ["benign_faults", "peak_loads"]


def peak_loads(topo: TopologyStore, seed: int) -> dict[tuple[str, str], float]:
    """Each link direction's highest noise-free utilization over a fault-free day."""
    net = TwinNetwork(topo, [], seed=seed)
    peak: dict[tuple[str, str], float] = {}
    for hour in range(24):
        util, _ = net.expected_load(SIM_EPOCH + hour * 3600.0)
        for d, u in util.items():
            peak[d] = max(peak.get(d, 0.0), u)
    return peak


def benign_faults(
    topo: TopologyStore, specs: list[dict[str, Any]], faults: list[Fault], seed: int
) -> list[Fault]:
    """The benign conditions of a scenario (see the module doc)."""
    if not specs:
        return []
    rng = random.Random(seed ^ 0xB3A1)
    peak = peak_loads(topo, seed)
    busy = {f.target for f in faults}
    used: set[str] = set()
    out: list[Fault] = []
    for spec in specs:
        kind = str(spec["kind"])
        if kind not in BENIGN_KINDS:
            raise ValueError(f"unknown benign kind {kind!r}; known: {sorted(BENIGN_KINDS)}")
        magnitude = float(spec.get("magnitude", 0.3))
        first, every = float(spec["first_s"]), float(spec.get("every_s", 86400))
        duration, count = float(spec.get("duration_s", 0)), int(spec.get("count", 1))
        if kind == "stalled_ramp":
            plateau = float(spec.get("plateau", 0.7))
            slope = float(spec.get("slope_per_h", 0.65)) / 3600
            ok = [
                d
                for d, u in sorted(peak.items())
                if d[0] not in busy and u <= float(spec.get("max_peak", 0.25))
            ]
            base = TwinNetwork(topo, [], seed=seed)
            for i in range(count):
                free = [d for d in ok if d[0] not in used] or ok
                link, src = rng.choice(free)
                used.add(link)
                start = SIM_EPOCH + first + i * every
                at, _ = base.expected_load(start)
                size = max(plateau - at[(link, src)], 0.05)
                span = 2 * size / slope  # rises for half its window, then holds
                out.append(Fault(kind, link, start, start + span, size, direction=src))
        elif kind == "scheduled_burst":
            fill = float(spec.get("fill", 0.95))
            ok = [d for d in sorted(peak) if d[0] not in busy and d[0] not in used]
            patterns = int(spec.get("patterns", 1))
            chosen = rng.sample(ok, min(patterns, len(ok)))
            base = TwinNetwork(topo, [], seed=seed)
            for p, (link, src) in enumerate(chosen):
                used.add(link)
                offset = first + p * float(spec.get("spacing_s", 3 * 3600))
                at, _ = base.expected_load(SIM_EPOCH + offset + duration / 2)
                size = max(fill - at[(link, src)], magnitude)  # fills the link at its hour
                for day in range(count):
                    start = SIM_EPOCH + offset + day * every
                    out.append(Fault(kind, link, start, start + duration, size, direction=src))
        elif kind == "stalled_errors":
            plateau = float(spec.get("plateau", 0.0006))
            slope = float(spec.get("slope_per_h", 0.0015)) / 3600
            free_links = sorted({d[0] for d in peak if d[0] not in busy})
            for i in range(count):
                link = rng.choice([lk for lk in free_links if lk not in used] or free_links)
                used.add(link)
                start = SIM_EPOCH + first + i * every
                out.append(Fault(kind, link, start, start + 2 * plateau / slope, plateau))
        elif kind in ("poller_overload", "poll_timeouts"):
            # the monitoring's own noise: no place in the network (its target is nominal)
            names = sorted(d.name for d in topo.devices())
            share = (
                float(spec.get("magnitude", POLL_TIMEOUT_SHARE)) if kind == "poll_timeouts" else 1.0
            )
            for i in range(count):
                start = SIM_EPOCH + first + i * every
                out.append(Fault(kind, rng.choice(names), start, start + duration, share))
        else:
            raise ValueError(f"benign kind {kind!r} cannot be scheduled by a scenario yet")
    return sorted(out, key=lambda f: f.start)
