"""The cross-domain mission: a network fault under a service's path, judged by user impact.

A scenario with a ``services`` section (``scenarios/service-loss.yaml``) runs the twin's
services (``twin/services.py``) beside the network: their SLOs are tracked by the pipeline's
SLO processor, their probes run on the twin's clock, and the fault schedule may be pinned to
the path of one service (``schedule.on_path_of``). :class:`CrossDomainRecorder` then reports,
for the fault, whether ONE incident named the faulty link as root cause with the service and
its SLO as impact, and when, against the moment the SLO's error budget would be exhausted.

The budget is counted in probe results, as the SLO defines it: ``(1 - objective)`` of the
results expected over the SLO window (probes per step x steps per window). Exhaustion is the
first time the failed results since the start reach it; if the run ends first, the time is
projected from the failure rate during the fault (and reported as projected).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netvigil.events import Anomaly, Event, Incident, Metric
from netvigil.twin.faults import Fault
from netvigil.twin.services import ServiceSpec

__all__ = ["CrossDomainRecorder"]


_LEVELS = ["info", "warning", "minor", "major", "critical"]


@dataclass
class _Budget:
    objective: float
    window_s: float
    bad: int = 0
    total: int = 0
    exhausted_ts: float | None = None


@dataclass
class CrossDomainRecorder:
    """Probe results and incidents of a cross-domain run, for the scoreboard's extra columns."""

    specs: list[ServiceSpec]
    step_s: float
    requests_per_step: int
    budgets: dict[str, _Budget] = field(default_factory=dict)
    bad_series: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    incidents: dict[str, list[Incident]] = field(default_factory=dict)
    burns: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    """service -> (time, severity) of each SLO burn alert that opened: what alerting on the
    service alone would have raised (the baseline the incident is compared with)."""

    def __post_init__(self) -> None:
        for spec in self.specs:
            for s in spec.slos:
                if s.kind == "success":
                    self.budgets[spec.name] = _Budget(s.objective, s.window_s)

    def on_metric(self, topic: str, event: Event) -> None:
        if not isinstance(event, Metric) or event.name != "probe.success":
            return
        b = self.budgets.get(event.labels.get("service", ""))
        if b is None:
            return
        b.total += 1
        if event.value < 0.5:
            b.bad += 1
            spec = next(s for s in self.specs if s.name == event.labels["service"])
            self.bad_series.setdefault(spec.name, []).append((event.ts, b.bad))
            if b.exhausted_ts is None and b.bad >= self._allowed(spec.name, b):
                b.exhausted_ts = event.ts

    def on_anomaly(self, topic: str, event: Event) -> None:
        if isinstance(event, Anomaly) and event.kind == "slo_burn" and event.state == "active":
            sev = event.evidence.get("severity", "")
            self.burns.setdefault(event.entity, []).append((event.ts, sev))

    def on_incident(self, topic: str, event: Event) -> None:
        if isinstance(event, Incident):
            self.incidents.setdefault(event.fingerprint, []).append(event)

    def _allowed(self, name: str, b: _Budget) -> float:
        spec = next(s for s in self.specs if s.name == name)
        per_step = self.requests_per_step * len(spec.clients)
        return (1 - b.objective) * per_step * b.window_s / self.step_s

    def report(self, fault: Fault, end_ts: float) -> dict[str, Any]:
        """The cross-domain verdict on one fault: the incident, its impact, and the budget."""
        during = {
            fp: revs
            for fp, revs in self.incidents.items()
            if fault.start <= revs[0].opened_ts <= fault.end
        }
        naming = {
            fp: revs
            for fp, revs in during.items()
            if any(r.root_cause and r.root_cause.entity == fault.target for r in revs)
        }
        out: dict[str, Any] = {
            "fault": fault.kind,
            "link": fault.target,
            "incidents_during_fault": len(during),
            "incidents_naming_link": len(naming),
        }
        if not naming:
            return out
        fp, revs = min(naming.items(), key=lambda kv: kv[1][0].ts)
        last = max(revs, key=lambda r: r.revision)
        with_slo = [r for r in revs if r.slos]
        out |= {
            "incident": fp,
            "root_cause": last.root_cause.entity if last.root_cause else None,
            "root_cause_fault": last.root_cause.fault if last.root_cause else None,
            "services": sorted({s for r in revs for s in r.services}),
            "slos": sorted({s for r in revs for s in r.slos}),
            "severity_first": revs[0].severity,
            "severity_max": max((r.severity for r in revs), key=_LEVELS.index),
            "detected_after_s": round(revs[0].ts - fault.start, 1),
            "slo_impact_after_s": round(with_slo[0].ts - fault.start, 1) if with_slo else None,
        }
        for name, b in self.budgets.items():
            allowed = self._allowed(name, b)
            series = self.bad_series.get(name, [])
            at_detection = _bad_at(series, revs[0].ts)
            at_impact = _bad_at(series, with_slo[0].ts) if with_slo else None
            exhausted = b.exhausted_ts
            projected = False
            if exhausted is None:
                in_fault = [(ts, n) for ts, n in series if fault.start <= ts <= fault.end]
                if len(in_fault) >= 2 and in_fault[-1][0] > in_fault[0][0]:
                    rate = (in_fault[-1][1] - in_fault[0][1]) / (in_fault[-1][0] - in_fault[0][0])
                    base = _bad_at(series, fault.start)
                    exhausted = fault.start + (allowed - base) / rate
                    projected = True
            pages = [
                ts for ts, sev in self.burns.get(name, []) if ts >= fault.start and sev == "page"
            ]
            alerts = [ts for ts, _ in self.burns.get(name, []) if ts >= fault.start]
            out[f"budget:{name}"] = {
                "slo_alert_after_s": round(alerts[0] - fault.start, 1) if alerts else None,
                "slo_page_after_s": round(pages[0] - fault.start, 1) if pages else None,
                "allowed_failures": round(allowed, 1),
                "failures": b.bad,
                "probes": b.total,
                "spent_at_detection": round(at_detection / allowed, 4),
                "spent_at_slo_impact": (
                    round(at_impact / allowed, 4) if at_impact is not None else None
                ),
                "exhausted_after_s": round(exhausted - fault.start, 1) if exhausted else None,
                "exhaustion_projected": projected,
                # None: this SLO's budget was not being spent (nothing to be early for)
                "detected_before_exhaustion": (
                    None if exhausted is None else revs[0].ts < exhausted
                ),
            }
        return out


def _bad_at(series: list[tuple[float, int]], ts: float) -> int:
    n = 0
    for t, bad in series:
        if t > ts:
            break
        n = bad
    return n
