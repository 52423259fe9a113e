"""The audit log: newest records first, and the hash chain's verification."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from netvigil.api.guard import ConsoleDep, Viewer, console_router
from netvigil.api.schemas import AuditOut, VerifyOut, audit_out

__all__ = ["router"]

router = console_router()


@router.get("/api/audit", tags=["audit"])
async def audit(
    tok: Viewer,
    console: ConsoleDep,
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
async def audit_verify(tok: Viewer, console: ConsoleDep) -> VerifyOut:
    """Recompute the hash chain."""
    v = console.audit.verify()
    return VerifyOut(ok=v.ok, records=v.records, problems=v.problems)
