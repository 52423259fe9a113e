"""The earned-autonomy scenario: a fresh deployment, its operator's feedback, and when each
domain earns its next phase.

One run of the embedded pipeline against the twin, starting in the phases of the scenario's
policy (phase 1, passive, everywhere), with real faults and benign recurring conditions
(:mod:`netvigil.eval.benign`: a scheduled burst that fills a link at the same hour every day).
A modelled operator (:class:`FeedbackOperator`) does what the console lets a person do, with
the response time of :class:`~netvigil.eval.operator.OperatorModel`:

- it judges every incident NetVigil opens: *confirmed* when its root cause is a real fault
  active then (its target, or on the device of a device's fault), *false* otherwise (the
  operator investigates: it knows the truth), through the same store the console writes
  (:class:`~netvigil.resolvers.feedback.FeedbackStore`, scope *pattern*: a false one
  suppresses its pattern);
- it approves the proposals of incidents it will confirm and rejects the others (through the
  ticket backend, as the console does), and approves preemptive proposals;
- when a domain's record earns its next phase (:func:`netvigil.resolvers.record.view`), it
  confirms the promotion (:func:`netvigil.resolvers.record.promote`).

Reported: when each domain earned and was promoted, its record at the end; the false
incidents of each benign pattern before and after the operator's feedback on it; real faults
detected, scored on the faults that harmed (:func:`harm_scores`, as ``bench lab`` does); time
to repair before and after each domain's promotion.

A fault *harmed* when its symptom was present in the twin at some step
(:class:`~netvigil.eval.recovery.RecoveryWatch`: a surge's link direction at the congestion
threshold, any other fault active). A second surge on a link that a verified QoS change
still polices never saturates it: nothing was there to detect, and it is not counted as
missed.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from netvigil.config import Settings
from netvigil.eval.operator import OperatorModel
from netvigil.eval.recovery import RecoveryWatch
from netvigil.eval.scoreboard import Scoreboard
from netvigil.events import ActionRequest, Event, Incident
from netvigil.graph.base import TopologyStore, entity_devices
from netvigil.resolvers import record as records
from netvigil.resolvers.feedback import domain_of_entity
from netvigil.service import Service, TwinPlan
from netvigil.streams.embedded import EmbeddedRuntime
from netvigil.twin.faults import FAULT_KINDS, Fault
from netvigil.twin.source import SIM_EPOCH

__all__ = ["FeedbackOperator", "harm_scores", "run_earned"]

ACTOR = "operator (modelled)"


@dataclass
class FeedbackOperator:
    """Judges incidents, decides proposals and confirms earned promotions (module doc)."""

    model: OperatorModel
    svc: Service
    faults: list[Fault]
    grace_s: float
    due: list[tuple[float, str, str]] = field(default_factory=list)
    """(when, what, subject): ``judge`` an incident, ``decide`` a change, ``promote``."""
    verdicts: dict[str, bool] = field(default_factory=dict)
    """incident -> real (what the operator will say)"""
    earned_at: dict[str, float] = field(default_factory=dict)
    """domain -> when its next phase was seen earned (cleared once promoted)"""
    first_earned: dict[str, float] = field(default_factory=dict)
    """'domain:phase' -> when the record first earned that phase"""
    promoted_at: dict[str, float] = field(default_factory=dict)
    judged_false_at: dict[str, float] = field(default_factory=dict)

    def real(self, inc: Incident) -> bool:
        """Whether the incident is about a real fault active then: its root cause is the
        fault's target, or, for a device's fault, on that device."""
        rc = inc.root_cause
        if rc is None:
            return False
        for f in self.faults:
            if not f.start <= inc.opened_ts <= f.end + self.grace_s:
                continue
            if rc.entity == f.target or (
                FAULT_KINDS[f.kind] == "device" and f.target in entity_devices(rc.entity)
            ):
                return True
        return False

    def on_incident(self, topic: str, event: Event) -> None:
        if (
            not isinstance(event, Incident)
            or event.suppressed
            or event.fingerprint in self.verdicts
        ):
            return
        self.verdicts[event.fingerprint] = self.real(event)
        self.due.append((event.ts + self.model.ack_s, "judge", event.fingerprint))

    def on_action(self, topic: str, event: Event) -> None:
        if isinstance(event, ActionRequest) and event.status == "proposed":
            self.due.append((event.ts + self.model.response_s, "decide", event.request_id))

    def __call__(self, t: float) -> None:
        prev = self.svc.prevention
        assert prev is not None
        for name, row in zip(
            self.svc.policy.domains,
            records.view(self.svc.policy, self.svc.autonomy, prev.record),
            strict=True,
        ):
            if row["promotion_earned"] and name not in self.earned_at:
                self.earned_at[name] = t
                self.first_earned.setdefault(f"{name}:{row['next_phase']}", t)
                self.due.append((t + self.model.ack_s, "promote", name))
        now = [d for d in self.due if d[0] <= t]
        self.due = [d for d in self.due if d[0] > t]
        for _, what, subject in sorted(now):
            if what == "judge":
                real = self.verdicts[subject]
                prev.feedback.judge(
                    subject,
                    "incident",
                    "confirmed" if real else "false",
                    actor=ACTOR,
                    ts=t,
                    reason="" if real else "a known, benign recurring condition",
                )
                if not real:
                    self.judged_false_at.setdefault(subject, t)
            elif what == "decide":
                self._decide(subject)
            else:
                self._promote(subject, t)

    def _decide(self, request_id: str) -> None:
        change = self.svc.tickets.find_change(request_id)
        if change is None or change.state != "requested":
            return
        incident = request_id.rsplit("-", 1)[0]
        approve = self.verdicts.get(incident, True)  # a risk's proposal is approved
        self.svc.tickets.decide_change(request_id, approve, ACTOR)

    def _promote(self, domain: str, t: float) -> None:
        prev = self.svc.prevention
        assert prev is not None
        row = next(
            r
            for r in records.view(self.svc.policy, self.svc.autonomy, prev.record)
            if r["domain"] == domain
        )
        if not row["promotion_earned"] or row["next_phase"] is None:
            self.earned_at.pop(domain, None)  # the record departed meanwhile: look again
            return
        records.promote(
            self.svc.policy,
            self.svc.autonomy,
            prev.record,
            self.svc.audit,
            domain,
            row["next_phase"],
            actor=ACTOR,
            ts=t,
            reason="the record earns it (modelled operator's confirmation)",
        )
        self.promoted_at.setdefault(f"{domain}:{row['next_phase']}", t)
        self.earned_at.pop(domain, None)  # the next phase may be earned later


def _pattern_fall(
    bursts: list[Fault], board: Scoreboard, topo: TopologyStore, feedback_at: dict[str, float]
) -> dict[str, Any]:
    """Per burst pattern (link direction): false incidents before and after feedback on it."""
    opened = [(s.opened_ts, s.latest) for s in board.incidents.values()]
    by_pattern: dict[tuple[str, str], list[Fault]] = {}
    for f in bursts:
        by_pattern.setdefault((f.target, f.direction), []).append(f)
    rows = []
    before_n = before_open = after_n = after_open = 0
    for (link, src), occ in sorted(by_pattern.items()):
        first_fb = min(
            (t for fp, t in feedback_at.items() if _on(board, fp, link)), default=float("inf")
        )
        seen = []
        for f in occ:
            hit = any(
                f.start <= ts <= f.end + board.grace_s
                and inc.root_cause is not None
                and inc.root_cause.entity == link
                for ts, inc in opened
            )
            after = f.start > first_fb
            seen.append({"start_s": f.start - SIM_EPOCH, "incident": hit, "after_feedback": after})
            if after:
                after_n, after_open = after_n + 1, after_open + int(hit)
            else:
                before_n, before_open = before_n + 1, before_open + int(hit)
        rows.append(
            {
                "link": link,
                "from": src,
                "first_feedback_s": None if first_fb == float("inf") else first_fb - SIM_EPOCH,
                "occurrences": seen,
            }
        )
    rate_b = before_open / before_n if before_n else None
    rate_a = after_open / after_n if after_n else None
    fall = None
    if rate_b and rate_a is not None:
        fall = round(1 - rate_a / rate_b, 4)
    return {
        "patterns": rows,
        "occurrences_before_feedback": before_n,
        "false_incidents_before_feedback": before_open,
        "occurrences_after_feedback": after_n,
        "false_incidents_after_feedback": after_open,
        "false_incident_fall": fall,
    }


def _since_start(times: dict[str, float], domain: str) -> dict[str, float]:
    """phase -> simulated seconds from the start of the run, for one domain."""
    return {
        key.split(":", 1)[1]: round(t - SIM_EPOCH, 1)
        for key, t in times.items()
        if key.split(":", 1)[0] == domain
    }


def _on(board: Scoreboard, fingerprint: str, link: str) -> bool:
    seen = board.incidents.get(fingerprint)
    rc = seen.latest.root_cause if seen else None
    return rc is not None and rc.entity == link


def harm_scores(
    rows: list[dict[str, Any]], injected: list[Fault], watch: RecoveryWatch
) -> dict[str, Any]:
    """Detection over the faults that harmed: each row of the scoreboard (in the order of
    ``injected``) gets ``harmful``; returns the counts and whether every harmful fault was
    detected (see the module doc)."""
    for row, f in zip(rows, injected, strict=True):
        rec = watch.of(f)
        row["harmful"] = rec is not None and rec.onset is not None
    harm = [r for r in rows if r["harmful"]]
    detected = sum(1 for r in harm if r["detected_root_cause"] is not None)
    return {
        "harmful": len(harm),
        "harmful_detected": detected,
        "all_real_faults_detected": detected == len(harm),
    }


def run_earned(
    scenario: Any,
    settings: Settings,
    topo: TopologyStore,
    faults: list[Fault],
    benign: list[Fault],
    model: OperatorModel,
) -> dict[str, Any]:
    """Run the earned-autonomy scenario once; see the module doc."""
    settings = settings.model_copy(deep=True)
    injected = sorted([*faults, *benign], key=lambda f: f.start)
    until = SIM_EPOCH + scenario.duration_s
    board = Scoreboard(grace_s=3 * scenario.step_s)
    with tempfile.TemporaryDirectory(prefix="netvigil-earned-") as tmp:
        if scenario.policy is not None:
            path = Path(tmp) / "policy.yaml"
            path.write_text(yaml.safe_dump(scenario.policy))
            settings.coordinator.policy = path
        plan = TwinPlan(speed=0.0, faults=injected, until=until)
        svc = Service.build(
            settings, twin=plan, data_dir=Path(tmp) / "data", on_fault=board.on_fault
        )
        assert svc.twin is not None and svc.prevention is not None
        watch = RecoveryWatch(svc.twin.network, faults, threshold=settings.detector.util_threshold)
        svc.twin.step_hooks.append(watch)
        if isinstance(svc.runtime, EmbeddedRuntime):
            svc.twin.pace = svc.runtime.drain
        human = FeedbackOperator(model, svc, faults, board.grace_s)
        svc.runtime.listen("netvigil.incidents", board.on_incident)
        svc.runtime.listen("netvigil.incidents", human.on_incident)
        svc.runtime.listen("netvigil.actions", human.on_action)
        svc.twin.step_hooks.append(human)
        wall0 = time.monotonic()
        asyncio.run(svc.run())
        wall = time.monotonic() - wall0
        report = board.report()
        rec = svc.prevention.record
        domains = {
            row["domain"]: {
                "phase_end": row["phase"],
                "earned_end": row["earned"],
                "record": row["outcomes"],
                "days": row["days"],
                "earned_at_s": _since_start(human.first_earned, row["domain"]),
                "promoted_at_s": _since_start(human.promoted_at, row["domain"]),
            }
            for row in records.view(svc.policy, svc.autonomy, rec)
        }
        fell_back = [
            {"domain": r.subject, "at_s": r.ts - SIM_EPOCH, "reason": r.detail.get("reason")}
            for r in svc.audit.records()
            if r.action == "autonomy.fell_back"
        ]
        suppressions = [
            {
                "id": s.id,
                "pattern": s.description,
                "hits": s.hits,
                "made_s": round(s.created_ts - SIM_EPOCH, 1),
            }
            for s in svc.prevention.feedback.suppressions()
        ]
        domain_of = {
            f: domain_of_entity(svc.policy, topo, f.target) for f in faults if not f.benign
        }
        svc.close()
    bursts = [f for f in benign if f.kind == "scheduled_burst" and f.start < until]
    fall = _pattern_fall(bursts, board, topo, human.judged_false_at)
    repairs: dict[str, dict[str, list[float]]] = {}
    for r in watch.recoveries:
        if r.onset is None:
            continue
        dom = domain_of[r.fault]
        promoted = min(
            (v for k, v in human.promoted_at.items() if k.startswith(f"{dom}:")),
            default=float("inf"),
        )
        when = "after_promotion" if r.fault.start >= promoted else "before_promotion"
        value = r.repair_s if r.repair_s is not None else until - r.onset
        repairs.setdefault(dom, {}).setdefault(when, []).append(value)
    for name, d in domains.items():
        d["mttr_p50_s"] = {
            k: round(statistics.median(v), 1) for k, v in repairs.get(name, {}).items()
        }
    real = list(report["faults"])
    harm = harm_scores(real, board.injected, watch)
    return {
        "scenario": scenario.name,
        "topology": str(settings.twin.topology or "builtin:demo-backbone"),
        "devices": len(topo.devices()),
        "links": len(topo.links()),
        "seed": settings.twin.seed,
        "simulated_days": round(scenario.duration_s / 86400, 3),
        "operator": model.describe(),
        "faults": len(real),
        "detected": report["detected"],
        **harm,
        "incidents": report["incidents"],
        "false_incidents": report["false_incidents"],
        "suppressed_incidents": len(board.suppressed),
        **fall,
        "domains": domains,
        "fell_back": fell_back,
        "suppressions": suppressions,
        "wall_s": round(wall, 2),
        "per_fault": real,
    }
