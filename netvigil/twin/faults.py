"""Faults the twin can inject, with ground-truth labels, and a deterministic schedule."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from netvigil.graph.base import TopologyStore

__all__ = ["FAULT_KINDS", "Fault", "schedule_faults"]

#: fault kind -> kind of entity its root cause is
FAULT_KINDS: dict[str, str] = {
    "link_down": "link",
    "congestion": "link",
    "node_down": "device",
    "growth_ramp": "link",
}


@dataclass(frozen=True)
class Fault:
    """One injected fault: what, where (the true root cause), and when (simulated time)."""

    kind: str
    target: str
    start: float
    end: float
    magnitude: float = 1.0
    """For congestion: extra demand as a multiple of the link's capacity. For a growth ramp:
    the extra demand reached at ``end``, growing linearly from 0 at ``start``."""
    direction: str = ""
    """For congestion: the device the surge leaves from (traffic flows away from it)."""

    def active(self, t: float) -> bool:
        return self.start <= t < self.end


def schedule_faults(
    topo: TopologyStore,
    *,
    kinds: Sequence[str],
    count: int,
    first: float,
    interval: float,
    duration: float,
    seed: int,
) -> list[Fault]:
    """``count`` faults, rotating through ``kinds``, one every ``interval`` from ``first``.

    Targets are drawn with ``seed``; a target is not reused until every candidate was used.
    Node faults avoid devices whose loss would disconnect the rest (the twin keeps routing).
    """
    unknown = set(kinds) - set(FAULT_KINDS)
    if unknown:
        raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {sorted(FAULT_KINDS)}")
    rng = random.Random(seed)
    links = sorted(link.id for link in topo.links())
    devices = sorted(d.name for d in topo.devices() if len(topo.neighbors(d.name)) > 1)
    pools: dict[str, list[str]] = {}
    faults = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        candidates = links if FAULT_KINDS[kind] == "link" else devices
        pool = pools.get(kind)
        if not pool:
            pool = pools[kind] = rng.sample(candidates, len(candidates))
        target = pool.pop()
        start = first + i * interval
        direction = ""
        if kind in ("congestion", "growth_ramp"):
            link = topo.link(target)
            direction = rng.choice((link.a, link.b))
        faults.append(
            Fault(kind, target, start, start + duration, magnitude=1.3, direction=direction)
        )
    return faults
