"""Matches the twin's injected faults (ground truth) with the incidents the pipeline raised."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netvigil.events import Event, Incident
from netvigil.twin.faults import Fault

__all__ = ["Scoreboard"]


@dataclass
class _Seen:
    first_ts: float
    opened_ts: float
    latest: Incident


@dataclass
class Scoreboard:
    """Listens to the incidents topic and the twin's fault callbacks; reports per fault.

    An incident belongs to the fault during which (or within ``grace_s`` after which) it
    opened; the first such incident is the fault's detection, its latest revision names the
    detected root cause. Incidents that belong to no fault are false incidents.
    """

    grace_s: float = 60.0
    injected: list[Fault] = field(default_factory=list)
    incidents: dict[str, _Seen] = field(default_factory=dict)
    false_fingerprints: list[str] = field(default_factory=list)
    suppressed: dict[str, Incident] = field(default_factory=dict)
    """Incidents the correlator held back (an operator judged their pattern false): never
    opened, so neither detections nor false incidents."""

    def on_fault(self, what: str, fault: Fault, t: float) -> None:
        if what == "injected" and not fault.benign:  # benign anomalies are not faults
            self.injected.append(fault)

    def on_incident(self, topic: str, event: Event) -> None:
        if not isinstance(event, Incident):
            return
        if event.suppressed:
            self.suppressed.setdefault(event.fingerprint, event)
            return
        self.suppressed.pop(event.fingerprint, None)  # released: it is an incident now
        seen = self.incidents.get(event.fingerprint)
        if seen is None:
            self.incidents[event.fingerprint] = _Seen(event.ts, event.opened_ts, event)
        elif event.revision > seen.latest.revision:
            seen.latest = event

    def report(self) -> dict[str, Any]:
        claimed: set[str] = set()
        rows = []
        for f in self.injected:
            match = sorted(
                (
                    s
                    for fp, s in self.incidents.items()
                    if fp not in claimed and f.start <= s.opened_ts <= f.end + self.grace_s
                ),
                key=lambda s: s.first_ts,
            )
            row: dict[str, Any] = {
                "kind": f.kind,
                "true_root_cause": f.target,
                "injected_at_s": f.start,
                "detected_root_cause": None,
                "detection_latency_s": None,
                "correct": False,
                "rank": None,
            }
            if match:
                first = match[0]
                claimed.add(first.latest.fingerprint)
                rc = first.latest.root_cause
                row["detected_root_cause"] = rc.entity if rc else None
                row["detection_latency_s"] = round(first.first_ts - f.start, 3)
                row["correct"] = row["detected_root_cause"] == f.target
                ranked = [c.entity for c in first.latest.root_causes]
                row["rank"] = ranked.index(f.target) + 1 if f.target in ranked else None
                row["top3"] = f.target in [c.entity for c in first.latest.root_causes[:3]]
                row["incident"] = first.latest.fingerprint
                row["resolved"] = first.latest.status == "resolved"
                if row["resolved"]:
                    row["resolved_after_s"] = round(first.latest.ts - f.start, 3)
            rows.append(row)
        false = [fp for fp in self.incidents if fp not in claimed]
        self.false_fingerprints = false
        return {
            "faults": rows,
            "detected": sum(1 for r in rows if r["detected_root_cause"] is not None),
            "correct": sum(1 for r in rows if r["correct"]),
            "incidents": len(self.incidents),
            "false_incidents": len(false),
        }
