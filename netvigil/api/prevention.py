"""The console's prevention views: risks with their deadlines and preemptive changes, each
domain's track record and whether its promotion is earned, operators' judgements of
incidents and risks, and the suppressions those judgements made.

Reading needs a viewer; judging, and lifting a suppression, an operator; confirming a
promotion an admin. A judgement is written to the shared ``feedback.db`` at once and taken up
by the coordinator on its next poll of the ticket system (the path approvals take); a
promotion the record does not earn is refused (409) with what is missing. The routes are
one router (:mod:`netvigil.api.routes.prevention`); they answer 503 when the console was built
without the prevention stores (the API's own unit tests).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from netvigil.api.base import Conflict, NotFound
from netvigil.resolvers import record as records
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.breaker import AutonomyState
from netvigil.resolvers.feedback import FeedbackError, FeedbackStore, Judgement
from netvigil.resolvers.incidents import IncidentStore
from netvigil.resolvers.policy import Policy
from netvigil.resolvers.record import NotEarned, TrackRecord
from netvigil.resolvers.remediation import ActionStore
from netvigil.resolvers.riskstore import RiskRecord, RiskStore

__all__ = [
    "JudgementIn",
    "LiftIn",
    "PreventionDesk",
    "PromoteIn",
    "RiskOut",
    "SuppressionOut",
]


class ChangeOut(BaseModel):
    request_id: str
    action: str
    level: int
    status: str
    approve_by: float | None
    withdrawn: str | None = Field(description="Why it was rolled back (a false prediction).")
    verdict: dict[str, Any] = Field(description="The twin's verdict on the forecast load.")


class RiskOut(BaseModel):
    risk_id: str
    kind: str
    entity: str
    domain: str
    status: str = Field(description="open, materialized or cleared (the analytics' view).")
    outcome: str = Field(description="pending, came_true, averted, false, judged_*.")
    opened_ts: float
    predicted_ts: float = Field(description="When the harm is expected: the deadline.")
    uncertainty_s: float
    confidence: float
    level: float | None
    trend_per_h: float | None
    threshold: float
    entities: list[str]
    services: list[str]
    ticket: str
    plan: dict[str, Any]
    change: ChangeOut | None


class SuppressionOut(BaseModel):
    id: str
    pattern: str
    entity: str
    signal: str
    kind: str
    subject: str = Field(description="The incident whose judgement made it.")
    made_by: str
    reason: str
    created_ts: float
    active: bool
    lifted_by: str
    lifted_ts: float | None
    hits: int = Field(description="Incidents it has held back.")
    last_hit_ts: float | None


class JudgementIn(BaseModel):
    verdict: Literal["false", "confirmed"]
    reason: str = Field("", max_length=500)
    scope: Literal["pattern", "once"] = Field(
        "pattern", description="pattern: a false incident also suppresses its pattern."
    )


class LiftIn(BaseModel):
    reason: str = Field("", max_length=500)


class PromoteIn(BaseModel):
    phase: Literal["semi-autonomous", "autonomous"]
    reason: str = Field("", max_length=500)


def _change(actions: ActionStore, rr: RiskRecord) -> ChangeOut | None:
    rec = actions.get(rr.request_id) if rr.request_id else None
    if rec is None:
        return None
    p = rec.preemptive
    return ChangeOut(
        request_id=rec.request_id,
        action=rec.action,
        level=rec.level,
        status=rec.status,
        approve_by=p.get("approve_by"),
        withdrawn=p.get("withdrawn"),
        verdict=rec.verdict,
    )


def risk_out(actions: ActionStore, rr: RiskRecord) -> RiskOut:
    r = rr.risk
    return RiskOut(
        risk_id=r.risk_id,
        kind=r.kind,
        entity=r.entity,
        domain=rr.domain,
        status=r.status,
        outcome=rr.outcome,
        opened_ts=r.opened_ts,
        predicted_ts=r.predicted_ts,
        uncertainty_s=r.uncertainty_s,
        confidence=r.confidence,
        level=r.level,
        trend_per_h=None if r.trend_per_s is None else r.trend_per_s * 3600,
        threshold=r.threshold,
        entities=list(r.entities),
        services=list(r.services),
        ticket=rr.ticket,
        plan=rr.plan,
        change=_change(actions, rr),
    )


@dataclass
class PreventionDesk:
    """What the prevention routes read and write: the service's own stores."""

    risks: RiskStore
    record: TrackRecord
    feedback: FeedbackStore
    actions: ActionStore
    policy: Policy
    autonomy: AutonomyState
    audit: AuditLog
    incidents: IncidentStore
    clock: Callable[[], float] = time.time
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def list_risks(self, outcome: str | None) -> list[RiskOut]:
        rows = [rr for rr in reversed(self.risks.all()) if outcome in (None, rr.outcome)]
        return [risk_out(self.actions, rr) for rr in rows]

    def risk(self, risk_id: str) -> RiskOut:
        rr = self.risks.get(risk_id)
        if rr is None:
            raise NotFound(f"no risk {risk_id!r}")
        return risk_out(self.actions, rr)

    async def judge(
        self, kind: Literal["incident", "risk"], subject: str, body: JudgementIn, actor: str
    ) -> Judgement:
        known = self.incidents.get(subject) if kind == "incident" else self.risks.get(subject)
        if known is None:
            raise NotFound(f"no {kind} {subject!r}")
        async with self.lock:
            ts = self.clock()
            j = self.feedback.judge(
                subject,
                kind,
                body.verdict,
                actor=actor,
                ts=ts,
                reason=body.reason,
                scope=body.scope,
            )
            self.audit.append(
                ts=ts,
                actor=actor,
                action="feedback.received",
                subject=subject,
                detail={
                    "kind": kind,
                    "verdict": body.verdict,
                    "scope": body.scope,
                    "reason": body.reason,
                    "via": "console",
                },
            )
        return j

    def judgements(self, subject: str | None) -> list[Judgement]:
        return [j for j in self.feedback.judgements(subject=subject)]

    def suppressions(self) -> list[SuppressionOut]:
        return [
            SuppressionOut(
                id=s.id,
                pattern=s.description,
                entity=s.pattern.entity,
                signal=s.pattern.signal,
                kind=s.pattern.kind,
                subject=s.subject,
                made_by=s.actor,
                reason=s.reason,
                created_ts=s.created_ts,
                active=s.active,
                lifted_by=s.lifted_by,
                lifted_ts=s.lifted_ts,
                hits=s.hits,
                last_hit_ts=s.last_hit_ts,
            )
            for s in reversed(self.feedback.suppressions())
        ]

    async def lift(self, sid: str, actor: str, reason: str) -> SuppressionOut:
        async with self.lock:
            ts = self.clock()
            try:
                s = self.feedback.lift(sid, actor=actor, reason=reason, ts=ts)
            except FeedbackError as exc:
                if self.feedback.suppression(sid) is None:
                    raise NotFound(str(exc)) from None
                raise Conflict(str(exc)) from None
            self.audit.append(
                ts=ts,
                actor=actor,
                action="suppression.lifted",
                subject=sid,
                detail={"pattern": s.description, "hits": s.hits, "reason": reason},
            )
        return next(o for o in self.suppressions() if o.id == sid)

    def track_record(self) -> list[dict[str, Any]]:
        return records.view(self.policy, self.autonomy, self.record)

    async def promote(self, domain: str, body: PromoteIn, actor: str) -> dict[str, Any]:
        if domain not in self.policy.domains:
            raise NotFound(f"no domain {domain!r}; domains: {', '.join(self.policy.domains)}")
        async with self.lock:
            try:
                records.promote(
                    self.policy,
                    self.autonomy,
                    self.record,
                    self.audit,
                    domain,
                    body.phase,
                    actor=actor,
                    ts=self.clock(),
                    reason=body.reason,
                )
            except NotEarned as exc:
                raise Conflict(str(exc)) from None
        return next(r for r in self.track_record() if r["domain"] == domain)
