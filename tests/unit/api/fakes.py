"""Test fakes of the console's oversight Protocols: an in-memory action queue, circuit breaker
and autonomy policy, for the API's unit tests (routes, roles, races, headers) without a
pipeline. The service never uses them: its console runs on the resolvers' real objects
(:func:`netvigil.api.server.build_console`). What they do is deliberately small:

- :class:`MemoryActionQueue` proposes one recommended action per new incident from a data table
  (root-cause fault -> action), and on approval "executes" it as a **dry run** (nothing touches
  a device) and records the result. Every decision and execution is written to the audit log
  with the deciding user as actor.
- A decision is taken under an ``asyncio.Lock``: of two operators deciding at once, the first
  wins and the second gets :class:`~netvigil.api.base.Conflict`; the same user repeating the
  same decision gets the stored decision back (idempotent retry).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable

from netvigil.api.base import (
    PHASES,
    BreakerState,
    Conflict,
    Decision,
    NotFound,
    PendingAction,
)
from netvigil.events import ActionResult, Event, Incident
from netvigil.resolvers.audit import AuditLog

__all__ = ["RECOMMENDATIONS", "MemoryActionQueue", "MemoryBreaker", "MemoryPolicy"]

# root-cause fault -> (action, automation level 1..3, why); vendor-neutral names
RECOMMENDATIONS: dict[str, tuple[str, int, str]] = {
    "down": ("bounce-interfaces", 2, "shut/no-shut both ends to clear a stuck link state"),
    "congestion": ("raise-igp-metric", 2, "steer traffic away from the congested link"),
    "degraded": ("collect-diagnostics", 1, "gather show-tech output for the ticket"),
}

Publish = Callable[[Event], Awaitable[None]]


class MemoryActionQueue:
    """Pending actions kept in memory; decisions audited; approved actions run as dry runs."""

    def __init__(self, audit: AuditLog, *, publish: Publish | None = None) -> None:
        self._audit = audit
        self._publish = publish
        self._actions: dict[str, PendingAction] = {}
        self._lock = asyncio.Lock()
        self.breaker: MemoryBreaker | None = None

    # -------------------------------------------------------------- proposals

    def propose(self, incident: Incident) -> PendingAction | None:
        """Propose the table's action for a new incident's root cause (once per incident)."""
        rc = incident.root_cause
        if rc is None or incident.status != "open":
            return None
        action, level, why = RECOMMENDATIONS.get(rc.fault, RECOMMENDATIONS["degraded"])
        rid = hashlib.sha256(f"{incident.fingerprint}|{action}|{rc.entity}".encode()).hexdigest()
        rid = rid[:16]
        if rid in self._actions:
            return None
        pa = PendingAction(
            request_id=rid,
            incident=incident.fingerprint,
            action=action,
            target=rc.entity,
            level=level,
            reason=f"{rc.kind} {rc.entity} {rc.fault}: {why}",
            proposed_ts=incident.ts,
        )
        self._actions[rid] = pa
        return pa

    def on_incident(self, topic: str, event: Event) -> None:
        """Runtime listener on ``netvigil.incidents``."""
        if isinstance(event, Incident):
            self.propose(event)

    # -------------------------------------------------------------- queries

    def list(self, status: str | None = None) -> list[PendingAction]:
        acts = sorted(self._actions.values(), key=lambda a: (a.proposed_ts, a.request_id))
        return [a for a in acts if status is None or a.status == status]

    def get(self, request_id: str) -> PendingAction:
        try:
            return self._actions[request_id]
        except KeyError:
            raise NotFound(f"no action {request_id!r}") from None

    # -------------------------------------------------------------- decisions

    async def decide(
        self, request_id: str, decision: Decision, actor: str, reason: str = ""
    ) -> PendingAction:
        async with self._lock:
            pa = self.get(request_id)
            if pa.decided_by is not None:
                decided = "rejected" if pa.status == "rejected" else "approved"
                if pa.decided_by == actor and decided == decision:
                    return pa  # an idempotent retry
                raise Conflict(
                    f"action {request_id} was already {decided} by {pa.decided_by}; "
                    "reload to see the current state"
                )
            now = time.time()
            pa.status, pa.decided_by, pa.decided_ts = decision, actor, now
            self._audit.append(
                ts=now,
                actor=f"user:{actor}",
                action=f"action.{decision}",
                subject=pa.incident,
                detail={
                    "request_id": pa.request_id,
                    "action": pa.action,
                    "target": pa.target,
                    "reason": reason,
                },
            )
            if decision == "approved":
                await self._execute(pa, now)
            return pa

    async def _execute(self, pa: PendingAction, now: float) -> None:
        """The stand-in executor: a dry run, refused while the breaker is open."""
        if self.breaker is not None and self.breaker.view().open:
            pa.status, pa.outcome = "failed", "refused: circuit breaker open"
        else:
            pa.status, pa.outcome = "executed", "dry_run"
        self._audit.append(
            ts=now,
            actor="netvigil/executor",
            action="action.executed" if pa.status == "executed" else "action.refused",
            subject=pa.incident,
            detail={
                "request_id": pa.request_id,
                "action": pa.action,
                "target": pa.target,
                "outcome": pa.outcome,
            },
        )
        if self._publish is not None and pa.status == "executed":
            await self._publish(
                ActionResult(
                    ts=now,
                    request_id=pa.request_id,
                    action=pa.action,
                    target=pa.target,
                    outcome="dry_run",
                    detail="executed as a dry run by the in-memory executor",
                )
            )


class MemoryBreaker:
    """The circuit breaker, audited on every change."""

    def __init__(self, audit: AuditLog) -> None:
        self._audit = audit
        self._state = BreakerState(open=False)
        self._lock = asyncio.Lock()

    def view(self) -> BreakerState:
        return self._state

    async def _set(self, open_: bool, actor: str, reason: str) -> BreakerState:
        async with self._lock:
            if self._state.open == open_:
                return self._state
            now = time.time()
            self._state = BreakerState(open=open_, reason=reason, changed_by=actor, changed_ts=now)
            self._audit.append(
                ts=now,
                actor=f"user:{actor}",
                action="breaker.tripped" if open_ else "breaker.reset",
                subject="breaker",
                detail={"reason": reason},
            )
            return self._state

    async def trip(self, actor: str, reason: str) -> BreakerState:
        return await self._set(True, actor, reason)

    async def reset(self, actor: str, reason: str) -> BreakerState:
        return await self._set(False, actor, reason)


class MemoryPolicy:
    """The deployment phase per domain, starting from the coordinator's configured phase."""

    DOMAINS = ("interfaces", "routing", "devices")

    def __init__(self, audit: AuditLog, phase: str = "passive") -> None:
        self._audit = audit
        self._phases = dict.fromkeys(self.DOMAINS, phase)

    def phases(self) -> dict[str, str]:
        return dict(self._phases)

    async def set_phase(self, domain: str, phase: str, actor: str) -> dict[str, str]:
        if domain not in self._phases:
            raise NotFound(f"no domain {domain!r}; domains: {', '.join(self._phases)}")
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}; phases: {', '.join(PHASES)}")
        if self._phases[domain] != phase:
            self._audit.append(
                ts=time.time(),
                actor=f"user:{actor}",
                action="policy.changed",
                subject=domain,
                detail={"from": self._phases[domain], "to": phase},
            )
            self._phases[domain] = phase
        return self.phases()
