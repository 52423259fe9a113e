"""Prevention and earned autonomy (:mod:`netvigil.api.prevention`): risks with their
deadline and preemptive change, each domain's track record and promotion, judgements of
incidents and risks, suppressions. Reading needs a viewer; judging and lifting an operator;
confirming a promotion an admin. 503 when the console has no prevention stores."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request

from netvigil.api.guard import Admin, Ident, Operator, Viewer, console_of, console_router
from netvigil.api.prevention import (
    JudgementIn,
    LiftIn,
    PreventionDesk,
    PromoteIn,
    RiskOut,
    SuppressionOut,
)
from netvigil.resolvers.feedback import Judgement

__all__ = ["router"]

router = console_router()

_CONFLICT: dict[int | str, dict[str, Any]] = {
    404: {"description": "unknown"},
    409: {"description": "refused: not earned, or already lifted"},
}


def _desk(request: Request) -> PreventionDesk:
    desk = console_of(request).prevention
    if desk is None:
        raise HTTPException(503, "this console was started without the prevention stores")
    return desk


Desk = Annotated[PreventionDesk, Depends(_desk)]


@router.get("/api/risks", tags=["prevention"])
async def list_risks(
    tok: Viewer, desk: Desk, outcome: Annotated[str | None, Query(max_length=32)] = None
) -> list[RiskOut]:
    """Predicted harms, newest first, with their deadline and preemptive change."""
    return desk.list_risks(outcome)


@router.get("/api/risks/{risk_id}", tags=["prevention"])
async def get_risk(risk_id: Ident, tok: Viewer, desk: Desk) -> RiskOut:
    return desk.risk(risk_id)


@router.post("/api/incidents/{subject}/judgement", tags=["prevention"], responses=_CONFLICT)
async def judge_incident(subject: Ident, body: JudgementIn, tok: Operator, desk: Desk) -> Judgement:
    """Mark an incident false, or confirm it (operator). A false one with scope ``pattern``
    suppresses its pattern once the coordinator takes the judgement up."""
    return await desk.judge("incident", subject, body, tok.name)


@router.post("/api/risks/{subject}/judgement", tags=["prevention"], responses=_CONFLICT)
async def judge_risk(subject: Ident, body: JudgementIn, tok: Operator, desk: Desk) -> Judgement:
    """Mark a risk false (its preemptive change is withdrawn) or confirm it (operator)."""
    return await desk.judge("risk", subject, body, tok.name)


@router.get("/api/judgements", tags=["prevention"])
async def judgements(
    tok: Viewer, desk: Desk, subject: Annotated[str | None, Query(max_length=128)] = None
) -> list[Judgement]:
    return desk.judgements(subject)


@router.get("/api/suppressions", tags=["prevention"])
async def suppressions(tok: Viewer, desk: Desk) -> list[SuppressionOut]:
    """Patterns judged false, what each has held back, and whether it is lifted."""
    return desk.suppressions()


@router.post("/api/suppressions/{sid}/lift", tags=["prevention"], responses=_CONFLICT)
async def lift(sid: Ident, body: LiftIn, tok: Operator, desk: Desk) -> SuppressionOut:
    """Lift a suppression (operator): its pattern opens incidents again."""
    return await desk.lift(sid, tok.name, body.reason)


@router.get("/api/record", tags=["prevention"])
async def track_record(tok: Viewer, desk: Desk) -> list[dict[str, Any]]:
    """Each domain's phase, track record, earned phase and what it lacks for the next."""
    return desk.track_record()


@router.post("/api/record/{domain}/promote", tags=["prevention"], responses=_CONFLICT)
async def promote(domain: Ident, body: PromoteIn, tok: Admin, desk: Desk) -> dict[str, Any]:
    """Confirm a domain's promotion (admin); refused unless its record earns it."""
    return await desk.promote(domain, body, tok.name)
