"""Oversight: remediation actions (approve, reject), the circuit breaker and the autonomy
policy. Reading needs a viewer; deciding and tripping an operator; resetting the breaker and
changing a domain's phase an admin."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from netvigil.api.guard import Admin, ConsoleDep, Ident, Operator, Viewer, console_router
from netvigil.api.schemas import (
    ActionOut,
    BreakerIn,
    BreakerOut,
    DecisionIn,
    PhaseIn,
    PolicyOut,
    action_out,
    breaker_out,
)

__all__ = ["router"]

router = console_router()

_CONFLICT_DOC: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such action"},
    409: {"description": "already decided otherwise or by someone else"},
}

# ------------------------------------------------------------ actions


@router.get("/api/actions", tags=["actions"])
async def list_actions(
    tok: Viewer,
    console: ConsoleDep,
    status: Annotated[str | None, Query(max_length=32)] = None,
    incident: Annotated[str | None, Query(max_length=128)] = None,
) -> list[ActionOut]:
    """Proposed and decided remediation actions."""
    acts = console.actions.list(status)
    return [action_out(a) for a in acts if incident is None or a.incident == incident]


@router.get("/api/actions/{request_id}", tags=["actions"])
async def get_action(request_id: Ident, tok: Viewer, console: ConsoleDep) -> ActionOut:
    return action_out(console.actions.get(request_id))


@router.post("/api/actions/{request_id}/approve", tags=["actions"], responses=_CONFLICT_DOC)
async def approve(
    request_id: Ident, body: DecisionIn, tok: Operator, console: ConsoleDep
) -> ActionOut:
    """Approve once (operator). Repeating your own approval is harmless; 409 otherwise."""
    return action_out(await console.actions.decide(request_id, "approved", tok.name, body.reason))


@router.post("/api/actions/{request_id}/reject", tags=["actions"], responses=_CONFLICT_DOC)
async def reject(
    request_id: Ident, body: DecisionIn, tok: Operator, console: ConsoleDep
) -> ActionOut:
    """Reject once (operator). Repeating your own rejection is harmless; 409 otherwise."""
    return action_out(await console.actions.decide(request_id, "rejected", tok.name, body.reason))


# ------------------------------------------------------------ breaker


@router.get("/api/breaker", tags=["breaker"])
async def get_breaker(tok: Viewer, console: ConsoleDep) -> BreakerOut:
    return breaker_out(console.breaker.view())


@router.post("/api/breaker/trip", tags=["breaker"])
async def trip(body: BreakerIn, tok: Operator, console: ConsoleDep) -> BreakerOut:
    """Open the breaker (operator): no action runs until an admin resets it."""
    return breaker_out(await console.breaker.trip(tok.name, body.reason))


@router.post("/api/breaker/reset", tags=["breaker"])
async def reset(body: BreakerIn, tok: Admin, console: ConsoleDep) -> BreakerOut:
    """Close the breaker again (admin)."""
    return breaker_out(await console.breaker.reset(tok.name, body.reason))


# ------------------------------------------------------------ policy


@router.get("/api/policy", tags=["policy"])
async def get_policy(tok: Viewer, console: ConsoleDep) -> PolicyOut:
    """The deployment phase of each domain."""
    return PolicyOut(phases=console.policy.phases())


@router.put("/api/policy/{domain}", tags=["policy"], responses={404: {"description": "domain"}})
async def set_policy(domain: Ident, body: PhaseIn, tok: Admin, console: ConsoleDep) -> PolicyOut:
    """Change one domain's phase (admin)."""
    return PolicyOut(phases=await console.policy.set_phase(domain, body.phase, tok.name))
