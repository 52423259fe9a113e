"""RCA ranking speed on a topology store: the correlator's work for one incident update.

One update fetches the neighbourhood of the anomalies (their devices and incident links) from
the store, then ranks it (hypotheses + personalized PageRank, :func:`netvigil.analytics.rca.
rank`). The cases are faults drawn on the store's own topology, with the symptoms the twin
would produce: node down, link down, linecard, congestion, each with three weak deviations
nearby. Used by ``bench/graph_speed.py`` and ``netvigil bench scale``.
"""

from __future__ import annotations

import random
import time

from netvigil.analytics.rca import rank
from netvigil.events import AnomalyRef
from netvigil.graph.base import Link, TopologyStore

__all__ = ["faults", "pct", "rank_case_ms", "rank_once", "ref"]


def ref(
    entity: str, kind: str = "down", signal: str = "if.oper_status", t: float = 0.0
) -> AnomalyRef:
    return AnomalyRef(entity=entity, signal=signal, kind=kind, score=1.0, onset_ts=t)


def faults(topo: TopologyStore, count: int, seed: int = 3) -> list[list[AnomalyRef]]:
    """``count`` fault cases on devices with at least three links, kinds in turn (the links
    read once, not per device: on Neo4j that is a few paged queries, not one per device)."""
    rng = random.Random(seed)
    of: dict[str, list[Link]] = {}
    for lk in sorted(topo.links(), key=lambda x: x.id):
        of.setdefault(lk.a, []).append(lk)
        if lk.b != lk.a:
            of.setdefault(lk.b, []).append(lk)
    devices = sorted(d for d, lks in of.items() if len(lks) >= 3)
    out = []
    for i in range(count):
        dev = rng.choice(devices)
        links = of[dev]
        kind = i % 4
        if kind == 0:  # node down
            refs = [ref(dev, signal="reachability")]
            refs += [ref(lk.end(lk.other(dev))) for lk in links]
        elif kind == 1:  # link down
            lk = rng.choice(links)
            refs = [ref(lk.a_if), ref(lk.b_if)]
        elif kind == 2:  # linecard
            card = rng.sample(links, 2)
            refs = [ref(e) for lk in card for e in (lk.a_if, lk.b_if)]
        else:  # congestion
            lk = rng.choice(links)
            refs = [ref(lk.end(dev), kind="threshold", signal="if.out_util")]
        for nb in rng.sample(topo.neighbors(dev), min(3, len(topo.neighbors(dev)))):
            refs.append(ref(nb, kind="deviation", signal="cpu.util", t=10.0))
        out.append(refs)
    return out


def rank_once(store: TopologyStore, refs: list[AnomalyRef]) -> None:
    sub = store.neighbourhood(sorted({r.entity for r in refs}))
    causes = rank(sub, refs)
    if not causes:
        raise AssertionError("ranking found no candidate")


def rank_case_ms(store: TopologyStore, refs: list[AnomalyRef]) -> tuple[float, float]:
    """Milliseconds of one update: on the wall clock (a store may answer from another
    process), and of this process's CPU (on a loaded machine, what the work itself cost)."""
    t0, c0 = time.perf_counter(), time.process_time()
    rank_once(store, refs)
    return (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000


def pct(xs: list[float], q: float) -> float:
    """The ``q`` quantile of ``xs`` (nearest rank), rounded to microseconds."""
    s = sorted(xs)
    return round(s[min(len(s) - 1, int(q * len(s)))], 3)
