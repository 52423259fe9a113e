"""The audit log: newest records first, and the hash chain's verification."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from netvigil.api.console import Console
from netvigil.api.guard import ConsoleRoute, Viewer, console_of
from netvigil.api.schemas import AuditOut, VerifyOut, audit_out

__all__ = ["router"]

router = APIRouter(route_class=ConsoleRoute)
Of = Annotated[Console, Depends(console_of)]


@router.get("/api/audit", tags=["audit"])
async def audit(
    tok: Viewer,
    console: Of,
    subject: Annotated[str | None, Query(max_length=256)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditOut]:
    """The newest audit records first, optionally for one subject or action."""
    recs = console.audit.records(subject=subject)
    if action:
        recs = [r for r in recs if r.action == action]
    return [audit_out(r) for r in reversed(recs[-limit:])]


@router.get("/api/audit/verify", tags=["audit"])
async def audit_verify(tok: Viewer, console: Of) -> VerifyOut:
    """Recompute the hash chain."""
    v = console.audit.verify()
    return VerifyOut(ok=v.ok, records=v.records, problems=v.problems)
