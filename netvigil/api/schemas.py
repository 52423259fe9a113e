"""The console's request and response bodies, as pydantic models (they make the OpenAPI spec).

Events travel as msgspec structs; the API converts them here into documented JSON shapes, so
the wire contract of the bus and the HTTP contract can evolve separately.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field

from netvigil.api.base import BreakerState, PendingAction
from netvigil.events import AuditRecord, Incident

__all__ = [
    "ActionOut",
    "AnomalyOut",
    "AuditOut",
    "BreakerIn",
    "BreakerOut",
    "DecisionIn",
    "Health",
    "IncidentDetail",
    "IncidentSummary",
    "Me",
    "PhaseIn",
    "PolicyOut",
    "RootCauseOut",
    "ServiceOut",
    "SloOut",
    "TopologyOut",
    "VerifyOut",
    "action_out",
    "audit_out",
    "breaker_out",
    "incident_detail",
    "incident_summary",
]

M = TypeVar("M", bound=BaseModel)


class Health(BaseModel):
    status: Literal["ok", "starting", "stopping"]
    detail: str = ""


class Me(BaseModel):
    name: str
    role: str


class RootCauseOut(BaseModel):
    entity: str
    kind: str
    score: float
    fault: str
    evidence: list[str]


class AnomalyOut(BaseModel):
    entity: str
    signal: str
    kind: str
    score: float
    onset_ts: float
    state: str


class IncidentSummary(BaseModel):
    fingerprint: str
    status: str
    severity: str
    title: str
    revision: int
    opened_ts: float
    updated_ts: float
    root_cause: RootCauseOut | None
    ticket: str | None


class IncidentDetail(IncidentSummary):
    summary: str
    root_causes: list[RootCauseOut]
    timeline: list[AnomalyOut] = Field(description="The incident's signals, by onset time.")
    impact: list[str]
    services: list[str] = Field([], description="Services hurt (SLO burning or path crossed).")
    slos: list[str] = Field([], description="SLOs whose error budget burns (service:kind).")


class ActionOut(BaseModel):
    request_id: str
    incident: str
    action: str
    target: str
    level: int
    reason: str
    status: str
    proposed_ts: float
    decided_by: str | None
    decided_ts: float | None
    outcome: str | None


class DecisionIn(BaseModel):
    reason: str = Field("", max_length=500, description="Why; written to the audit log.")


class BreakerIn(BaseModel):
    reason: str = Field("", max_length=500)


class BreakerOut(BaseModel):
    open: bool
    reason: str
    changed_by: str
    changed_ts: float | None


class PhaseIn(BaseModel):
    phase: Literal["passive", "semi-autonomous", "autonomous"]


class PolicyOut(BaseModel):
    phases: dict[str, str]


class SloOut(BaseModel):
    key: str = Field(description="service:kind, as incidents name it.")
    kind: Literal["success", "latency"]
    objective: float
    latency_ms: float | None
    window_s: float
    status: str = Field(
        description="page or ticket while a burn-rate alert fires; ok after one cleared; "
        "'no alert yet' when none fired since the service started."
    )
    burn: float = Field(description="Burn rate of the firing alert's long window (0 if none).")
    budget_remaining: float | None = Field(
        description="Share of the error budget left at the last alert change."
    )
    updated_ts: float | None


class ServiceOut(BaseModel):
    name: str
    kind: str
    in_topology: bool = Field(description="False for a service with an SLO but no graph node.")
    links: list[str] = Field(description="Links the service's traffic traverses.")
    devices: list[str] = Field(description="Devices it runs on or depends on.")
    props: dict[str, str]
    slos: list[SloOut]
    incidents: list[str] = Field(description="Fingerprints of open incidents that hurt it.")


class AuditOut(BaseModel):
    seq: int
    ts: float
    actor: str
    action: str
    subject: str
    detail: dict[str, Any]
    hash: str


class VerifyOut(BaseModel):
    ok: bool
    records: int
    problems: list[str]


class TopoNode(BaseModel):
    id: str
    role: str
    x: float
    y: float
    affected: bool = Field(description="Has an anomaly of the incident (or is the entity).")
    root: bool = Field(False, description="Is (an end of) the root cause.")


class TopoEdge(BaseModel):
    id: str
    a: str
    b: str
    affected: bool
    root: bool = False


class TopologyOut(BaseModel):
    center: str
    hops: int
    nodes: list[TopoNode]
    edges: list[TopoEdge]


def _out(model: type[M], obj: object) -> M:
    """A response model read from an object's attributes (structs, dataclasses)."""
    return model.model_validate(obj, from_attributes=True)


def incident_summary(inc: Incident, ticket: str | None) -> IncidentSummary:
    return IncidentSummary(
        fingerprint=inc.fingerprint,
        status=inc.status,
        severity=inc.severity,
        title=inc.title,
        revision=inc.revision,
        opened_ts=inc.opened_ts,
        updated_ts=inc.ts,
        root_cause=_out(RootCauseOut, inc.root_cause) if inc.root_cause else None,
        ticket=ticket,
    )


def incident_detail(inc: Incident, ticket: str | None) -> IncidentDetail:
    timeline = sorted(inc.anomalies, key=lambda a: (a.onset_ts, a.entity, a.signal))
    return IncidentDetail(
        **incident_summary(inc, ticket).model_dump(),
        summary=inc.summary,
        root_causes=[_out(RootCauseOut, rc) for rc in inc.root_causes],
        timeline=[_out(AnomalyOut, a) for a in timeline],
        impact=list(inc.impact),
        services=list(inc.services),
        slos=list(inc.slos),
    )


def action_out(pa: PendingAction) -> ActionOut:
    return _out(ActionOut, pa)


def breaker_out(b: BreakerState) -> BreakerOut:
    return _out(BreakerOut, b)


def audit_out(r: AuditRecord) -> AuditOut:
    return _out(AuditOut, r)
