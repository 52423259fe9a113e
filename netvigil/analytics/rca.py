"""Topology-aware root-cause ranking (pure).

A candidate root cause (a device or a link near the anomalies) *predicts* a set of observable
symptoms: a failed link makes both of its interfaces abnormal; a failed device makes itself
unreachable and the neighbours' interfaces that face it abnormal (its own interfaces can no
longer be observed). Each candidate is scored by how well its predicted set matches the
anomalies seen: the harmonic mean of the share of anomaly weight it explains (recall) and the
share of its predictions that came true (precision). Stronger kinds of evidence weigh more.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from netvigil.events import AnomalyRef, RootCause
from netvigil.graph.base import TopologyStore, entity_devices

__all__ = ["KIND_WEIGHT", "Candidate", "rank", "weight"]

#: how much one anomaly of a kind counts as evidence, times its score
KIND_WEIGHT: dict[str, float] = {
    "down": 1.0,
    "threshold": 0.9,
    "predicted_congestion": 0.4,
    "deviation": 0.3,
}
_FAULT_OF_KIND = {"down": "down", "threshold": "congestion", "deviation": "degraded"}


def weight(a: AnomalyRef) -> float:
    return KIND_WEIGHT.get(a.kind, 0.3) * a.score


@dataclass(frozen=True)
class Candidate:
    kind: str  # "device" | "link"
    entity: str


def _unreachable(anomalies: Iterable[AnomalyRef]) -> set[str]:
    return {a.entity for a in anomalies if a.signal == "reachability" and a.kind == "down"}


def predicted(topo: TopologyStore, c: Candidate, unobservable: set[str]) -> set[str]:
    """The observable entities that would be abnormal if ``c`` failed."""
    if c.kind == "link":
        lk = topo.link(c.entity)
        out = {lk.a_if, lk.b_if}
    else:
        out = {c.entity}
        for lk in topo.links_of(c.entity):
            out.add(lk.a_if)
            out.add(lk.b_if)
    return {e for e in out if entity_devices(e)[0] not in unobservable or e in unobservable}


def _candidates(topo: TopologyStore, entities: Iterable[str]) -> set[Candidate]:
    out: set[Candidate] = set()
    for e in entities:
        if not topo.has(e):
            continue
        if "--" in e:
            out.add(Candidate("link", e))
            out.update(Candidate("device", d) for d in entity_devices(e))
        elif ":" in e:
            iface = topo.interface(e)
            out.add(Candidate("device", iface.device))
            if iface.link:
                out.add(Candidate("link", iface.link))
        else:
            out.add(Candidate("device", e))
            out.update(Candidate("link", lk.id) for lk in topo.links_of(e))
    return out


def rank(topo: TopologyStore, anomalies: Sequence[AnomalyRef], top: int = 5) -> list[RootCause]:
    """Rank root-cause candidates for a group of anomalies; best first, scores in [0, 1]."""
    strength: dict[str, float] = {}
    kinds: dict[str, str] = {}
    for a in anomalies:
        w = weight(a)
        if w > strength.get(a.entity, 0.0):
            strength[a.entity] = w
            kinds[a.entity] = a.kind
    total = sum(strength.values())
    if total <= 0:
        return []
    unobservable = _unreachable(anomalies)
    scored: list[tuple[float, Candidate, set[str]]] = []
    for c in _candidates(topo, strength):
        pred = predicted(topo, c, unobservable)
        if not pred:
            continue
        hit = pred & strength.keys()
        explained = sum(strength[e] for e in hit)
        recall = explained / total
        precision = explained / len(pred)
        if recall <= 0 or precision <= 0:
            continue
        scored.append((2 * recall * precision / (recall + precision), c, hit))
    scored.sort(key=lambda s: (-s[0], s[1].kind != "link", s[1].entity))
    out = []
    for score, c, hit in scored[:top]:
        strongest = max(hit, key=lambda e: (strength[e], e))
        fault = _FAULT_OF_KIND.get(kinds[strongest], "degraded")
        evidence = [f"{e} {kinds[e]} ({strength[e]:.2f})" for e in sorted(hit)]
        out.append(
            RootCause(
                entity=c.entity,
                kind="link" if c.kind == "link" else "device",
                score=round(score, 4),
                fault=fault,
                evidence=evidence,
            )
        )
    return out
