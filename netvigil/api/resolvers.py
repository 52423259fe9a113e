"""The console over the resolvers' real action store, ticket backend and autonomy state.

:class:`RemediationQueue` shows the remediator's actions (``actions.db``) and decides a level-1
proposal through the ticket backend, where approvals belong
(:meth:`~netvigil.resolvers.base.TicketBackend.decide_change`: the local store at once, or
ServiceNow's approval records through the outbox). The coordinator picks the decision up at
its next poll of the ticket system, and the remediator executes (or drops) the action,
verifies it and audits every step; the console adds its own audit record of who decided, when.

Race safety: decisions are taken under an ``asyncio.Lock``, and the ticket backend moves a
change only while it is ``requested``: of two operators (or an operator here and an approver
in ServiceNow) the first wins, the second gets :class:`~netvigil.api.base.Conflict`. The same
user repeating the same decision gets the stored decision back (remembered for the life of
the process).

:class:`AutonomyBreaker` is the global breaker of
:class:`~netvigil.resolvers.breaker.AutonomyState`, the one the remediator consults before
every autonomous step (per-domain breakers stay with ``netvigil breaker``).

:class:`AutonomyPolicy` shows the phase of each domain of the remediator's policy as it decides
now (a fallback to passive first, then a phase an operator set, then the policy file's) and
sets a domain's phase in the shared autonomy state, which the remediator reads at every
decision; with the track record, a domain whose policy says what record each phase needs is
raised only to a phase its record earns (409 otherwise).
"""

from __future__ import annotations

import asyncio
import time

from netvigil.api.base import PHASES, BreakerState, Conflict, Decision, NotFound, PendingAction
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.base import ChangeDecided, TicketBackend
from netvigil.resolvers.breaker import GLOBAL, AutonomyState
from netvigil.resolvers.policy import Policy
from netvigil.resolvers.record import NotEarned, TrackRecord, require_earned
from netvigil.resolvers.remediation import ActionRecord, ActionStore

__all__ = ["AutonomyBreaker", "AutonomyPolicy", "RemediationQueue"]


def _pending(rec: ActionRecord, decided: tuple[str, str, float] | None) -> PendingAction:
    status = "proposed" if rec.status == "awaiting_approval" else rec.status
    if decided is not None and rec.status == "awaiting_approval":
        status = decided[0]  # decided here, not yet picked up by the coordinator
    return PendingAction(
        request_id=rec.request_id,
        incident=rec.incident,
        action=rec.action,
        target=rec.target,
        level=rec.level,
        reason="; ".join(rec.reasons),
        proposed_ts=rec.created_ts,
        status=status,
        decided_by=decided[1] if decided else None,
        decided_ts=decided[2] if decided else None,
        outcome=str(rec.verdict.get("outcome")) if rec.verdict.get("outcome") else None,
    )


class RemediationQueue:
    def __init__(self, store: ActionStore, desk: TicketBackend, audit: AuditLog) -> None:
        self._store = store
        self._desk = desk
        self._audit = audit
        self._decided: dict[str, tuple[str, str, float]] = {}
        self._lock = asyncio.Lock()

    def list(self, status: str | None = None) -> list[PendingAction]:
        acts = [_pending(r, self._decided.get(r.request_id)) for r in self._store.all()]
        acts = [a for a in acts if a.action != "none"]  # refusals without an action
        return [a for a in acts if status is None or a.status == status]

    def get(self, request_id: str) -> PendingAction:
        for rec in self._store.all():
            if rec.request_id == request_id:
                return _pending(rec, self._decided.get(request_id))
        raise NotFound(f"no action {request_id!r}")

    async def decide(
        self, request_id: str, decision: Decision, actor: str, reason: str = ""
    ) -> PendingAction:
        async with self._lock:
            pa = self.get(request_id)
            mine = self._decided.get(request_id)
            if mine is not None and mine[0] == decision and mine[1] == actor:
                return pa  # an idempotent retry
            change = self._desk.find_change(request_id)
            if change is None or pa.level != 1:
                raise Conflict(f"action {request_id} needs no human decision (level {pa.level})")
            if change.state != "requested" or mine is not None:
                who = f" by {mine[1]}" if mine else ""
                raise Conflict(
                    f"action {request_id} was already decided{who} (change {change.number} is "
                    f"{change.state}); reload to see the current state"
                )
            now = time.time()
            try:
                self._desk.decide_change(request_id, decision == "approved", actor)
            except ChangeDecided as exc:
                raise Conflict(
                    f"action {request_id}: {exc}; reload to see the current state"
                ) from exc
            self._decided[request_id] = (decision, actor, now)
            self._audit.append(
                ts=now,
                actor=f"user:{actor}",
                action=f"console.{decision}",
                subject=pa.incident,
                detail={
                    "request_id": request_id,
                    "change": change.number,
                    "action": pa.action,
                    "target": pa.target,
                    "reason": reason,
                },
            )
            return self.get(request_id)


class AutonomyBreaker:
    def __init__(self, autonomy: AutonomyState, audit: AuditLog) -> None:
        self._autonomy = autonomy
        self._audit = audit
        self._lock = asyncio.Lock()

    def view(self) -> BreakerState:
        st = self._autonomy.status(GLOBAL)
        return BreakerState(
            open=st.open,
            reason=st.reason,
            changed_by=st.actor.removeprefix("user:"),
            changed_ts=st.ts or None,
        )

    async def _set(self, open_: bool, actor: str, reason: str) -> BreakerState:
        async with self._lock:
            if self.view().open == open_:
                return self.view()
            now = time.time()
            change = self._autonomy.trip if open_ else self._autonomy.reset
            change(GLOBAL, reason, actor=f"user:{actor}", ts=now)
            self._audit.append(
                ts=now,
                actor=f"user:{actor}",
                action="breaker.tripped" if open_ else "breaker.reset",
                subject=GLOBAL,
                detail={"reason": reason},
            )
            return self.view()

    async def trip(self, actor: str, reason: str) -> BreakerState:
        return await self._set(True, actor, reason)

    async def reset(self, actor: str, reason: str) -> BreakerState:
        return await self._set(False, actor, reason)


class AutonomyPolicy:
    def __init__(
        self,
        policy: Policy,
        autonomy: AutonomyState,
        audit: AuditLog,
        record: TrackRecord | None = None,
    ) -> None:
        self._policy = policy
        self._autonomy = autonomy
        self._audit = audit
        self._record = record
        """With it, raising a domain whose policy has a ``promotion`` section needs its
        track record to earn the phase (:mod:`netvigil.resolvers.record`)."""
        self._lock = asyncio.Lock()

    def phases(self) -> dict[str, str]:
        st = self._autonomy
        return {
            name: st.effective_phase(name, dom.phase) for name, dom in self._policy.domains.items()
        }

    async def set_phase(self, domain: str, phase: str, actor: str) -> dict[str, str]:
        if domain not in self._policy.domains:
            known = ", ".join(self._policy.domains)
            raise NotFound(f"no domain {domain!r}; domains of the policy: {known}")
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}; phases: {', '.join(PHASES)}")
        async with self._lock:
            before = self.phases()[domain]
            if self._record is not None and PHASES.index(phase) > PHASES.index(before):
                try:
                    require_earned(self._policy, self._record, domain, phase)
                except NotEarned as exc:
                    raise Conflict(str(exc)) from None
            was = self._autonomy.phase(domain) or self._policy.domains[domain].phase
            if was != phase:
                now = time.time()
                self._autonomy.set_phase(domain, phase, actor=f"user:{actor}", ts=now)
                fallback = self._autonomy.fallback(domain)
                self._audit.append(
                    ts=now,
                    actor=f"user:{actor}",
                    action="policy.changed",
                    subject=domain,
                    detail={
                        "from": before,
                        "to": phase,
                        **({"fallback": f"still {fallback} until cleared"} if fallback else {}),
                    },
                )
            return self.phases()
